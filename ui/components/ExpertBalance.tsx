/**
 * MoE expert balance of one run (issue 7): per MoE layer, a bar of the latest per-expert token fractions, the
 * busiest expert against the even share, the balance metric, and a chart overlaying every expert's fraction
 * over time with the even share dashed, so an expert that takes most tokens stands out at a glance.
 */
import { metricVersion, type Run } from "../lib/runs.ts";
import type { ChartSettings } from "../lib/url_state.ts";
import { expertShare, type MoeLayerKeys, moeLayers } from "../lib/families.ts";
import { colorAt } from "../lib/colors.ts";
import { formatNumber } from "../lib/format.ts";
import { LineChart } from "./LineChart.tsx";

interface Props {
  run: Run;
  settings: ChartSettings;
}

/** The run's router top-k (param `model.moe.top_k`; 1 when not logged). */
const topKOf = (run: Run) => Number(run.data.params["model.moe.top_k"]) || 1;

const pct = (f: number) => `${(f * 100).toFixed(f < 0.1 ? 1 : 0)}%`;

function Layer({ run, layer, settings }: Props & { layer: MoeLayerKeys }) {
  const m = run.data.metrics;
  const fractions = layer.experts.map((k) => m[k]?.value);
  const share = expertShare(fractions, topKOf(run));
  const balance = layer.balance ? m[layer.balance] : undefined;
  const step = m[layer.experts[0]]?.step;
  const lines = layer.experts.map((key, i) => ({
    id: run.info.runId,
    key,
    label: `expert ${layer.ids[i]}`,
    color: colorAt(layer.ids[i]),
    startTime: run.info.startTime,
  }));
  return (
    <div class={`moe-layer${share?.imbalanced ? " imbalanced" : ""}`} data-layer={layer.layer}>
      <div class="moe-head">
        <b>layer {layer.layer}</b>
        {balance && (
          <span title="moe/layer_X_balance: 1.0 when the router spreads tokens evenly">
            balance <b class="balance">{formatNumber(balance.value)}</b>
          </span>
        )}
        {share && (
          <span class={share.imbalanced ? "warn" : "dim"}>
            {share.imbalanced ? "⚠ " : ""}busiest: expert {layer.ids[share.top]} with{" "}
            <b class="top-share">{pct(share.share)}</b> of routed tokens (even share {pct(share.uniform)})
          </span>
        )}
        {step !== undefined && <span class="dim">at step {step}</span>}
      </div>
      <div class="expert-bar" role="img" aria-label={`expert token fractions of layer ${layer.layer}`}>
        {fractions.map((f, i) => (
          <span
            key={i}
            class="expert-seg"
            data-expert={layer.ids[i]}
            style={{ width: `${Math.max(0, (f ?? 0) * 100)}%`, background: colorAt(layer.ids[i]) }}
            title={`expert ${layer.ids[i]}: ${f === undefined ? "–" : pct(f)}`}
          >
            {(f ?? 0) >= 0.08 ? `${layer.ids[i]}: ${pct(f!)}` : ""}
          </span>
        ))}
      </div>
      <LineChart
        metric={`moe/layer_${layer.layer}_expert_*_fraction`}
        runs={[]}
        lines={lines}
        reference={share ? { value: share.uniform, label: "even share" } : undefined}
        fromZero
        settings={settings}
        version={metricVersion([run], layer.experts)}
      />
    </div>
  );
}

/** The expert-balance section; nothing for a dense run. */
export function ExpertBalance({ run, settings }: Props) {
  const layers = moeLayers(Object.keys(run.data.metrics));
  if (!layers.length) return null;
  const lopsided = layers.filter((l) =>
    expertShare(l.experts.map((k) => run.data.metrics[k]?.value), topKOf(run))?.imbalanced
  );
  return (
    <section class="expert-balance">
      <h3>
        Expert balance <span class="dim">({layers.length} MoE layers)</span>
      </h3>
      <p class={lopsided.length ? "warn" : "dim"}>
        {lopsided.length
          ? `⚠ ${lopsided.length} of ${layers.length} layers send one expert over halfway from its even share ` +
            `to all the tokens it can take: layer ${lopsided.map((l) => l.layer).join(", ")}.`
          : "Fraction of routed tokens per expert (latest step in the bar, history in the chart)."}
      </p>
      <div class="chart-grid">
        {layers.map((l) => <Layer key={l.layer} run={run} layer={l} settings={settings} />)}
      </div>
    </section>
  );
}
