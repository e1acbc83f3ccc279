/**
 * Metric (or param) keys as a checklist grouped by family (train/, val/, moe/…; model., training.…), one
 * collapsible group each with "all" / "none" buttons. Used by the column chooser and the charts' metric
 * chooser; not the run page's table.
 */
import { chartedByDefault, familyLabel, groupMetrics } from "../lib/families.ts";

interface Props {
  keys: string[];
  isChosen: (key: string) => boolean;
  onToggle: (key: string) => void;
  /** Chooses (on) or drops (off) several keys at once. */
  onSet: (keys: string[], on: boolean) => void;
  /** Only keys containing this text (case-insensitive); groups open while it is set. */
  query?: string;
  /** At most this many keys per family are listed. */
  limit?: number;
  /** What ends a family prefix: "/" for metrics (train/loss), "." for params (model.hidden_size). */
  separator?: string;
  /** Families unfolded without a search (default: train/, val/ and plain keys, and any with a choice). */
  open?: (family: string) => boolean;
}

/** The grouped checklist. */
export function FamilyChecklist(
  { keys, isChosen, onToggle, onSet, query = "", limit = 300, separator = "/", open = chartedByDefault }:
    Props,
) {
  const q = query.toLowerCase();
  const families = groupMetrics(keys.filter((k) => k.toLowerCase().includes(q)), separator);
  return (
    <div class="family-checklist">
      {families.map((f) => {
        const chosen = f.keys.filter(isChosen).length;
        return (
          <details
            key={f.name}
            class="family"
            data-family={f.name}
            open={q !== "" || open(f.name) || chosen > 0}
          >
            <summary>
              <b>{familyLabel(f.name, separator)}</b>{" "}
              <span class="dim">
                {chosen} of {f.keys.length}
              </span>{" "}
              {/* preventDefault: a click in <summary> would also fold the group */}
              <button
                type="button"
                class="small"
                onClick={(e) => {
                  e.preventDefault();
                  onSet(f.keys, true);
                }}
              >
                all
              </button>
              <button
                type="button"
                class="small"
                onClick={(e) => {
                  e.preventDefault();
                  onSet(f.keys, false);
                }}
              >
                none
              </button>
            </summary>
            {f.keys.slice(0, limit).map((k) => (
              <label key={k}>
                <input type="checkbox" checked={isChosen(k)} onChange={() => onToggle(k)} /> {k}
              </label>
            ))}
            {f.keys.length > limit && <div class="dim">… {f.keys.length - limit} more: search to narrow</div>}
          </details>
        );
      })}
    </div>
  );
}
