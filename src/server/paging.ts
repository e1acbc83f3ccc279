/** Offset paging over an in-memory list with MLflow's opaque tokens (base64 of `{"offset": N}`). */
import { decodePageToken, encodePageToken, TrackingError } from "../tracking/mod.ts";

/** One page of `all`; `maxResults` undefined means "the rest"; over `limit` or under 1 is refused. */
export function pageOf<T>(
  all: T[],
  maxResults: number | undefined,
  pageToken: string | undefined,
  limit: number,
): { items: T[]; nextPageToken?: string } {
  if (maxResults !== undefined && (maxResults < 1 || maxResults > limit)) {
    throw new TrackingError(
      "INVALID_PARAMETER_VALUE",
      `Invalid value ${maxResults} for parameter 'max_results' supplied. It must be at most ${limit}, and at least 1`,
    );
  }
  const offset = decodePageToken(pageToken);
  const items = all.slice(offset, maxResults === undefined ? undefined : offset + maxResults);
  const end = offset + items.length;
  return end < all.length ? { items, nextPageToken: encodePageToken(end) } : { items };
}
