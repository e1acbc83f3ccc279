/**
 * Where a run selection lives in the URL: a short one as its ids (`sel=a,b`), every run matching the filter as
 * `sel=*`, and a long one (hundreds of hand-picked runs) as `sel=@<key>` with the ids kept in localStorage —
 * 10,000 ids would make a 350 KB URL. Not the selection logic itself (that is the experiment page's).
 */
import { formatList, listParam } from "./url_state.ts";

/** Selections longer than this leave the URL. */
export const URL_MAX = 100;
/** `sel=*`: every run matching the view's filter. */
export const ALL = "*";
const KEY = "storyteller.selections";
/** Stored selections kept (newest first). */
const KEEP = 20;

function fnv(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(36);
}

function stored(): [string, string[]][] {
  try {
    const j = JSON.parse(globalThis.localStorage?.getItem(KEY) ?? "[]");
    return Array.isArray(j) ? j : [];
  } catch {
    return [];
  }
}

/** The URL value of a selection (undefined when empty); a long one is stored and referenced by key. */
export function formatSelection(ids: readonly string[]): string | undefined {
  if (ids.length <= URL_MAX) return formatList(ids);
  const key = `@${fnv(ids.join(","))}${ids.length.toString(36)}`;
  const rest = stored().filter(([k]) => k !== key).slice(0, KEEP - 1);
  try {
    globalThis.localStorage?.setItem(KEY, JSON.stringify([[key, ids], ...rest]));
  } catch {
    /* storage full or unavailable: the ids go into the URL after all */
    return formatList(ids);
  }
  return key;
}

/** The ids of a selection's URL value (a stored one that is gone reads as empty); `ALL` is the caller's. */
export function readSelection(v: string | undefined): string[] {
  if (!v || v === ALL) return [];
  if (v.startsWith("@")) return stored().find(([k]) => k === v)?.[1] ?? [];
  return listParam(v);
}
