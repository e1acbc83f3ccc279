/**
 * The MLflow filter box: the same grammar as `storyteller runs search`, checked on every keystroke in the
 * browser; a problem is shown with a caret under the offending column and the table keeps its last rows.
 */
import type { RefObject } from "preact";
import type { FilterProblem } from "../lib/runs.ts";

interface Props {
  value: string;
  problem?: FilterProblem;
  onInput: (v: string) => void;
  /** Reaches the input so `/` can focus it. */
  inputRef?: RefObject<HTMLInputElement | null>;
}

/** The input plus its error line. */
export function FilterBox({ value, problem, onInput, inputRef }: Props) {
  return (
    <div class={`filter-box${problem ? " has-error" : ""}`}>
      <input
        ref={inputRef}
        id="filter"
        type="text"
        spellcheck={false}
        autocomplete="off"
        placeholder="metrics.`val/loss` < 4.5 AND params.`training.learning_rate` = '0.003'   (press / to focus)"
        value={value}
        onInput={(e) => onInput((e.target as HTMLInputElement).value)}
        onKeyDown={(e) => {
          if (e.key === "Escape") (e.target as HTMLInputElement).blur();
        }}
        aria-invalid={!!problem}
        aria-describedby="filter-error"
      />
      {problem && (
        <>
          <div class="filter-caret" aria-hidden="true">
            {"\u00a0".repeat(Math.max(0, problem.column - 1))}^
          </div>
          <div class="filter-error" id="filter-error" role="alert">
            {problem.message} <span class="dim">(column {problem.column})</span>
          </div>
        </>
      )}
    </div>
  );
}
