/**
 * A run's metrics grouped by family (train/, val/, moe/…): one collapsible group each with the latest values,
 * a checkbox per metric and that family's charts. train/ and val/ are charted (and open) by default, the rest
 * on demand; the choice lives in the URL (`m=`, `m=-` for none).
 */
import { metricVersion, type Run } from "../lib/runs.ts";
import type { ChartSettings } from "../lib/url_state.ts";
import { chartedByDefault, defaultChartKeys, familyLabel, groupMetrics } from "../lib/families.ts";
import { formatNumber } from "../lib/format.ts";
import { LineChart } from "./LineChart.tsx";
import { ChartControls } from "./ChartsPanel.tsx";

/** The `m` list meaning "no charts" (an empty list means the defaults). */
const NONE = "-";

interface Props {
  run: Run;
  settings: ChartSettings;
  onSettings: (s: ChartSettings) => void;
}

/** The metrics section of the run page. */
export function RunMetrics({ run, settings, onSettings }: Props) {
  const i = run.info;
  const keys = Object.keys(run.data.metrics);
  const families = groupMetrics(keys);
  const shown = settings.metrics.length ? settings.metrics : defaultChartKeys(keys);
  const setShown = (next: string[]) => onSettings({ ...settings, metrics: next.length ? next : [NONE] });
  const chartRun = [{ id: i.runId, label: i.runName || i.runId, color: "#4e79a7", startTime: i.startTime }];
  const button = (label: string, next: string[]) => (
    <button
      type="button"
      class="small"
      onClick={(e) => {
        e.preventDefault(); // inside <summary>: do not fold the group
        setShown(next);
      }}
    >
      {label}
    </button>
  );
  return (
    <section class="run-metrics">
      <h3>Metrics ({keys.length})</h3>
      {keys.length === 0 && <p class="dim">No metrics logged yet.</p>}
      {keys.length > 0 && <ChartControls settings={settings} onSettings={onSettings} />}
      {families.map((f) => {
        const charted = f.keys.filter((k) => shown.includes(k));
        return (
          <details
            key={f.name}
            class="family"
            data-family={f.name}
            open={chartedByDefault(f.name) || charted.length > 0}
          >
            <summary>
              <b>{familyLabel(f.name)}</b>{" "}
              <span class="dim">{f.keys.length} metrics, {charted.length} charted</span>{" "}
              {button("chart all", [...new Set([...shown.filter((k) => k !== NONE), ...f.keys])])}
              {button("no charts", shown.filter((k) => !f.keys.includes(k) && k !== NONE))}
            </summary>
            <table class="kv metrics">
              <tbody>
                {f.keys.map((k) => {
                  const m = run.data.metrics[k];
                  return (
                    <tr key={k}>
                      <td>
                        <label>
                          <input
                            type="checkbox"
                            checked={shown.includes(k)}
                            onChange={() =>
                              setShown(
                                shown.includes(k)
                                  ? shown.filter((x) => x !== k)
                                  : [...shown.filter((x) => x !== NONE), k],
                              )}
                          />{" "}
                          {k}
                        </label>
                      </td>
                      <td>{formatNumber(m.value)}</td>
                      <td class="dim">step {m.step}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
            {charted.length > 0 && (
              <div class="chart-grid">
                {charted.map((k) => (
                  <LineChart
                    key={k}
                    metric={k}
                    runs={chartRun}
                    settings={settings}
                    version={metricVersion([run], [k])}
                  />
                ))}
              </div>
            )}
          </details>
        );
      })}
    </section>
  );
}
