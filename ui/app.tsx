/**
 * The tracking UI's entry: a hash router over the pages (experiments, runs, compare, models), the experiments
 * sidebar and an error banner. Bundled by tools/build_ui.ts into ui/dist/app.js and served by src/server/ui.ts.
 */
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import * as api from "./lib/api.ts";
import { formatHash, type Location, parseHash, readExperimentView } from "./lib/url_state.ts";
import { recallView } from "./lib/view_memory.ts";
import { useTitle } from "./lib/title.ts";
import { Sidebar } from "./components/Sidebar.tsx";
import { ExperimentPage } from "./pages/ExperimentPage.tsx";
import { RunPage } from "./pages/RunPage.tsx";
import { ComparePage } from "./pages/ComparePage.tsx";
import { ModelsPage } from "./pages/ModelsPage.tsx";

/**
 * An experiment's bare URL (`#/experiments/1`, from the sidebar or a breadcrumb) with its remembered view
 * (filter, sort, columns…) filled in; any other hash as it is.
 */
function withRememberedView(hash: string): string {
  const m = /^#\/experiments\/([^/?]+)$/.exec(hash);
  if (!m) return hash;
  const saved = recallView(decodeURIComponent(m[1]));
  return saved ? `${hash}?${saved}` : hash;
}

/** A route the app does not know. */
function NotFound({ hash }: { hash: string }) {
  useTitle("Not found");
  return (
    <div class="not-found" data-testid="not-found">
      <h2>Page not found</h2>
      <p>
        Nothing lives at <code>{hash || "#/"}</code>. Go to the <a href="#/">experiments</a> or the{" "}
        <a href="#/models">model registry</a>.
      </p>
    </div>
  );
}

/** The empty store: how to log a first run. */
function Onboarding() {
  useTitle("");
  return (
    <div class="onboarding" data-testid="onboarding">
      <h2>No experiments yet</h2>
      <p>This tracking store is empty. Log a first run, and it shows up here without a reload:</p>
      <pre>deno task train --config tiny</pre>
      <p>
        or from any MLflow client: <code>mlflow.set_tracking_uri("{location.origin}")</code>, then{" "}
        <code>mlflow.start_run()</code>.
      </p>
    </div>
  );
}

function App() {
  const initial = withRememberedView(location.hash);
  if (initial !== location.hash) history.replaceState(null, "", initial);
  const [loc, setLoc] = useState<Location>(parseHash(initial));
  const [experiments, setExperiments] = useState<api.ExperimentInfo[]>([]);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState("");

  const loadExperiments = () =>
    api.searchExperiments("ALL").then((e) => {
      setExperiments(e);
      setLoaded(true);
    }, (e) => setError(e.message));
  useEffect(() => {
    const onHash = () => {
      const h = withRememberedView(location.hash);
      if (h !== location.hash) history.replaceState(null, "", h);
      setLoc(parseHash(h));
    };
    addEventListener("hashchange", onHash);
    loadExperiments();
    const t = setInterval(() => document.visibilityState !== "hidden" && loadExperiments(), 15_000);
    return () => {
      removeEventListener("hashchange", onHash);
      clearInterval(t);
    };
  }, []);

  /** Updates the URL (replace: no new history entry, for typing and toggles) and re-renders. */
  const navigate = (to: string, replace = false) => {
    const hash = withRememberedView(to);
    if (hash === location.hash) return;
    if (replace) history.replaceState(null, "", hash);
    else history.pushState(null, "", hash);
    setLoc(parseHash(hash));
  };

  const [page, ...rest] = loc.path;
  // An error belongs to the page it happened on: leaving the page dismisses it.
  const pathKey = loc.path.join("/");
  useEffect(() => setError(""), [pathKey]);
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
        experimentsLoaded={loaded}
        navigate={navigate}
        onError={setError}
        onExperimentsChanged={loadExperiments}
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
  } else if (page === "compare" && !rest.length) {
    body = <ComparePage params={loc.params} experiments={experiments} navigate={navigate} />;
  } else if (page === "models" && rest.length <= 1) {
    body = <ModelsPage name={rest[0]} onError={setError} />;
  } else if (!page) {
    body = loaded && !experiments.length ? <Onboarding /> : <div class="dim">loading…</div>;
  } else body = <NotFound hash={location.hash} />;

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
