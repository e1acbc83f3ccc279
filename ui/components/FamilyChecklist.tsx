/**
 * Metric keys as a checklist grouped by family (train/, val/, moe/…), one collapsible group each with
 * "all" / "none" buttons. Used by the column chooser and the charts' metric chooser; not the run page's table.
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
}

/** The grouped checklist. */
export function FamilyChecklist({ keys, isChosen, onToggle, onSet, query = "", limit = 300 }: Props) {
  const q = query.toLowerCase();
  const families = groupMetrics(keys.filter((k) => k.toLowerCase().includes(q)));
  return (
    <div class="family-checklist">
      {families.map((f) => {
        const chosen = f.keys.filter(isChosen).length;
        return (
          <details
            key={f.name}
            class="family"
            data-family={f.name}
            open={q !== "" || chartedByDefault(f.name) || chosen > 0}
          >
            <summary>
              <b>{familyLabel(f.name)}</b>{" "}
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
