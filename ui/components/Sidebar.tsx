/** The experiments sidebar: search, pick (Ctrl/⌘-click for several), create, rename, delete and restore. */
import { useState } from "preact/hooks";
import * as api from "../lib/api.ts";
import { actions } from "../lib/action.ts";

interface Props {
  experiments: api.ExperimentInfo[];
  current: string[];
  onOpen: (ids: string[]) => void;
  onChanged: () => void;
  onError: (message: string) => void;
}

/** The sidebar component. */
export function Sidebar({ experiments, current, onOpen, onChanged, onError }: Props) {
  const [q, setQ] = useState("");
  const [showDeleted, setShowDeleted] = useState(false);
  const act = actions(onChanged, onError);
  const shown = experiments.filter((e) =>
    (showDeleted || e.lifecycleStage !== "deleted") && e.name.toLowerCase().includes(q.toLowerCase())
  );
  return (
    <nav class="sidebar" aria-label="experiments">
      <div class="sidebar-head">
        <b>Experiments</b>
        <button
          type="button"
          title="new experiment"
          onClick={() => {
            const name = prompt("New experiment name");
            if (name) act(async () => onOpen([await api.createExperiment(name)]));
          }}
        >
          +
        </button>
      </div>
      <input
        type="search"
        placeholder="search experiments"
        value={q}
        onInput={(e) => setQ((e.target as HTMLInputElement).value)}
      />
      <ul>
        {shown.map((e) => (
          <li
            key={e.id}
            class={`${current.includes(e.id) ? "active" : ""}${
              e.lifecycleStage === "deleted" ? " deleted" : ""
            }`}
          >
            <a
              href={`#/experiments/${e.id}`}
              data-experiment={e.name}
              onClick={(ev) => {
                if (ev.ctrlKey || ev.metaKey) {
                  ev.preventDefault();
                  const next = current.includes(e.id)
                    ? current.filter((x) => x !== e.id)
                    : [...current, e.id];
                  if (next.length) onOpen(next);
                }
              }}
            >
              {e.name}
            </a>
            <span class="actions">
              <button
                type="button"
                title="rename"
                onClick={() => {
                  const name = prompt("Rename experiment", e.name);
                  if (name && name !== e.name) act(() => api.renameExperiment(e.id, name));
                }}
              >
                ✎
              </button>
              {e.lifecycleStage === "deleted"
                ? (
                  <button
                    type="button"
                    title="restore"
                    onClick={() => act(() => api.restoreExperiment(e.id))}
                  >
                    ↺
                  </button>
                )
                : (
                  <button
                    type="button"
                    title="delete"
                    onClick={() =>
                      confirm(`Delete experiment '${e.name}'?`) && act(() => api.deleteExperiment(e.id))}
                  >
                    🗑
                  </button>
                )}
            </span>
          </li>
        ))}
      </ul>
      <label class="dim">
        <input type="checkbox" checked={showDeleted} onChange={() => setShowDeleted(!showDeleted)} />{" "}
        show deleted
      </label>
    </nav>
  );
}
