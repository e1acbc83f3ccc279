/** Opaque page tokens as MLflow's file store makes them: base64 of `{"offset": N}`. */
import { invalid } from "../errors.ts";

export function encodePageToken(offset: number): string {
  return btoa(JSON.stringify({ offset }));
}

export function decodePageToken(token: string | undefined): number {
  if (!token) return 0;
  let parsed: unknown;
  try {
    parsed = JSON.parse(atob(token));
  } catch {
    throw invalid(
      "Invalid page token, could not base64-decode",
      "pass the next_page_token of a previous search",
    );
  }
  const offset = (parsed as { offset?: unknown })?.offset;
  if (typeof offset !== "number" || !Number.isInteger(offset) || offset < 0) {
    throw invalid("Invalid page token, offset is not a non-negative integer");
  }
  return offset;
}

/**
 * One page of `all` and the token of the next one (absent on the last page); `maxResults` undefined means
 * "the rest", over `limit` or under 1 is refused.
 */
export function paginate<T>(
  all: T[],
  maxResults: number | undefined,
  pageToken: string | undefined,
  limit: number,
): { items: T[]; nextPageToken?: string } {
  if (maxResults !== undefined && (!Number.isInteger(maxResults) || maxResults < 1 || maxResults > limit)) {
    throw invalid(
      `Invalid value ${maxResults} for parameter 'max_results' supplied. It must be at most ${limit}, and at least 1`,
    );
  }
  const offset = decodePageToken(pageToken);
  const items = all.slice(offset, maxResults === undefined ? undefined : offset + maxResults);
  const end = offset + items.length;
  return end < all.length ? { items, nextPageToken: encodePageToken(end) } : { items };
}
