/**
 * The column chooser: a searchable checklist of every param, metric and tag key seen in the loaded runs, metrics
 * grouped by family (train/, val/, moe/…).
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { FamilyChecklist } from "./FamilyChecklist.tsx";

interface Props {
  available: { params: string[]; metrics: string[]; tags: string[] };
  chosen: string[];
  onChange: (columns: string[]) => void;
}

/** The chooser component (a `<details>` dropdown). */
export function ColumnChooser({ available, chosen, onChange }: Props) {
  const [q, setQ] = useState("");
  const box = useRef<HTMLDetailsElement>(null);
  // A dropdown: a click elsewhere (a tab, a chart) closes it.
  useEffect(() => {
    const close = (e: MouseEvent) => {
      if (box.current?.open && !box.current.contains(e.target as Node)) box.current.open = false;
    };
    document.addEventListener("click", close);
    return () => document.removeEventListener("click", close);
  }, []);
  const toggle = (id: string) =>
    onChange(chosen.includes(id) ? chosen.filter((c) => c !== id) : [...chosen, id]);
  const group = (title: string, kind: string, keys: string[]) => {
    const shown = keys.filter((k) => k.toLowerCase().includes(q.toLowerCase()));
    if (!shown.length) return null;
    return (
      <fieldset>
        <legend>{title}</legend>
        {shown.slice(0, 300).map((k) => {
          const id = `${kind}:${k}`;
          return (
            <label key={id}>
              <input type="checkbox" checked={chosen.includes(id)} onChange={() => toggle(id)} /> {k}
            </label>
          );
        })}
      </fieldset>
    );
  };
  /** Metrics by family (train/ and val/ unfolded), params by section (all folded until searched). */
  const grouped = (title: string, kind: string, keys: string[], sep: string) => {
    if (!keys.some((k) => k.toLowerCase().includes(q.toLowerCase()))) return null;
    const id = (k: string) => `${kind}:${k}`;
    return (
      <fieldset data-kind={kind}>
        <legend>{title}</legend>
        <FamilyChecklist
          keys={keys}
          query={q}
          separator={sep}
          open={sep === "/" ? undefined : () => false}
          isChosen={(k) => chosen.includes(id(k))}
          onToggle={(k) => toggle(id(k))}
          onSet={(ks, on) => {
            const ids = ks.map(id);
            onChange(on ? [...new Set([...chosen, ...ids])] : chosen.filter((c) => !ids.includes(c)));
          }}
        />
      </fieldset>
    );
  };
  return (
    <details class="column-chooser" ref={box}>
      <summary>Columns ({chosen.length})</summary>
      <div class="dropdown">
        <input
          type="search"
          placeholder="find a column"
          value={q}
          onInput={(e) => setQ((e.target as HTMLInputElement).value)}
        />
        {grouped("Metrics", "metric", available.metrics, "/")}
        {grouped("Params", "param", available.params, ".")}
        {group("Tags", "tag", available.tags)}
        {chosen.length > 0 && <button type="button" onClick={() => onChange([])}>Clear</button>}
      </div>
    </details>
  );
}
