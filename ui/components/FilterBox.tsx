/**
 * The MLflow filter box: the same grammar as `storyteller runs search`. Typing edits a draft; Enter applies it
 * (as in MLflow), so the table never flickers through half-typed expressions. A draft that does not parse is
 * not applied: the table keeps its last good rows and the problem is shown with a caret under its column.
 */
import type { RefObject } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { FilterProblem } from "../lib/runs.ts";

interface Props {
  /** The applied filter (the URL's). */
  value: string;
  /** The applied filter's problem, if it came in broken (a hand-edited URL). */
  problem?: FilterProblem;
  /** Parses a draft: its problem, or undefined when it is fine to apply. */
  check: (filter: string) => FilterProblem | undefined;
  onApply: (filter: string) => void;
  /** Reaches the input so `/` can focus it. */
  inputRef?: RefObject<HTMLInputElement | null>;
}

/** The input plus its error line. */
export function FilterBox({ value, problem, check, onApply, inputRef }: Props) {
  const [draft, setDraft] = useState(value);
  const [draftProblem, setDraftProblem] = useState<FilterProblem | undefined>(undefined);
  // Another view (back button, a link) brings its own filter.
  useEffect(() => {
    setDraft(value);
    setDraftProblem(undefined);
  }, [value]);

  const apply = () => {
    const p = check(draft);
    setDraftProblem(p);
    if (!p && draft !== value) onApply(draft);
  };
  const shown = draftProblem ?? (draft === value ? problem : undefined);
  const pending = draft !== value && !draftProblem;
  return (
    <div class={`filter-box${shown ? " has-error" : ""}`}>
      <div class="filter-row">
        <input
          ref={inputRef}
          id="filter"
          type="text"
          spellcheck={false}
          autocomplete="off"
          placeholder="metrics.`val/loss` < 4.5 AND params.`training.learning_rate` = '0.003'   (press / to focus, Enter to apply)"
          value={draft}
          onInput={(e) => {
            setDraft((e.target as HTMLInputElement).value);
            setDraftProblem(undefined);
          }}
          onKeyDown={(e) => {
            if (e.key === "Enter") {
              e.preventDefault();
              apply();
            } else if (e.key === "Escape") {
              setDraft(value);
              setDraftProblem(undefined);
              (e.target as HTMLInputElement).blur();
            }
          }}
          aria-invalid={!!shown}
          aria-describedby="filter-error"
        />
        {pending && <span class="filter-pending dim" data-testid="filter-pending">Enter ↵ to apply</span>}
        {value && (
          <button
            type="button"
            class="filter-clear"
            title="clear the filter"
            onClick={() => {
              setDraft("");
              setDraftProblem(undefined);
              onApply("");
            }}
          >
            clear
          </button>
        )}
      </div>
      {shown && (
        <>
          <div class="filter-caret" aria-hidden="true">
            {"\u00a0".repeat(Math.max(0, shown.column - 1))}^
          </div>
          <div class="filter-error" id="filter-error" role="alert">
            {shown.message} <span class="dim">(column {shown.column})</span>
            {draftProblem && value && (
              <span class="dim">; still showing the runs matching the last filter</span>
            )}
          </div>
        </>
      )}
    </div>
  );
}
