/**
 * The tracking UI's entry: a hash router over the pages (experiments, runs, compare, models), the experiments
 * sidebar and an error banner. Bundled by tools/build_ui.ts into ui/dist/app.js and served by src/server/ui.ts.
 */
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import * as api from "./lib/api.ts";
import { formatHash, type Location, parseHash, readExperimentView } from "./lib/url_state.ts";
import { Sidebar } from "./components/Sidebar.tsx";
import { ExperimentPage } from "./pages/ExperimentPage.tsx";
import { RunPage } from "./pages/RunPage.tsx";
import { ComparePage } from "./pages/ComparePage.tsx";
import { ModelsPage } from "./pages/ModelsPage.tsx";

function App() {
  const [loc, setLoc] = useState<Location>(parseHash(location.hash));
  const [experiments, setExperiments] = useState<api.ExperimentInfo[]>([]);
  const [error, setError] = useState("");

  const loadExperiments = () => api.searchExperiments("ALL").then(setExperiments, (e) => setError(e.message));
  useEffect(() => {
    const onHash = () => setLoc(parseHash(location.hash));
    addEventListener("hashchange", onHash);
    loadExperiments();
    const t = setInterval(() => document.visibilityState !== "hidden" && loadExperiments(), 15_000);
    return () => {
      removeEventListener("hashchange", onHash);
      clearInterval(t);
    };
  }, []);

  /** Updates the URL (replace: no new history entry, for typing and toggles) and re-renders. */
  const navigate = (hash: string, replace = false) => {
    if (hash === location.hash) return;
    if (replace) history.replaceState(null, "", hash);
    else history.pushState(null, "", hash);
    setLoc(parseHash(hash));
  };

  const [page, ...rest] = loc.path;
  // No route yet: open the first active experiment (MLflow's "Default" is id 0).
  useEffect(() => {
    if (!page && experiments.length) {
      const first = experiments.find((e) => e.lifecycleStage === "active") ?? experiments[0];
      navigate(formatHash(["experiments", first.id]), true);
    }
  }, [page, experiments.length]);

  let body;
  if (page === "experiments" && rest[0]) {
    body = (
      <ExperimentPage
        view={readExperimentView(loc)}
        experiments={experiments}
        navigate={navigate}
        onError={setError}
      />
    );
  } else if (page === "runs" && rest[0]) {
    body = (
      <RunPage
        runId={rest[0]}
        experiments={experiments}
        params={loc.params}
        navigate={navigate}
        onError={setError}
      />
    );
  } else if (page === "compare") {
    body = <ComparePage params={loc.params} navigate={navigate} />;
  } else if (page === "models") {
    body = <ModelsPage name={rest[0]} onError={setError} />;
  } else {body = (
      <div class="dim">{experiments.length ? "" : "No experiments yet: train something first."}</div>
    );}

  const current = page === "experiments" ? readExperimentView(loc).experimentIds : [];
  return (
    <div class="layout">
      <header>
        <a href="#/" class="brand">storyteller</a>
        <a href="#/" class={page === "experiments" || page === "runs" || page === "compare" ? "active" : ""}>
          Experiments
        </a>
        <a href="#/models" class={page === "models" ? "active" : ""}>Models</a>
      </header>
      {error && (
        <div class="banner error" role="alert">
          {error} <button type="button" onClick={() => setError("")}>dismiss</button>
        </div>
      )}
      <div class="main">
        {page !== "models" && (
          <Sidebar
            experiments={experiments}
            current={current}
            onOpen={(ids) => navigate(formatHash(["experiments", ids.join(",")]))}
            onChanged={loadExperiments}
            onError={setError}
          />
        )}
        <main>{body}</main>
      </div>
    </div>
  );
}

render(<App />, document.getElementById("app")!);
