import assert from "node:assert/strict";
import {
  compareKeys,
  defaultChartKeys,
  expertShare,
  familyOf,
  groupMetrics,
  headlineKeys,
  moeLayers,
  orderMetrics,
  PLAIN_FAMILY,
} from "./families.ts";

/** The keys a 2-layer, 4-expert MoE run with float16 AMP logs (docs/tracking.md). */
function storytellerKeys(layers = 2, experts = 4): string[] {
  const keys = [
    "train/tokens_per_sec",
    "train/grad_norm",
    "val/perplexity",
    "train/loss",
    "train/learning_rate",
    "val/loss",
    "train/loss_scale",
    "train/skipped_steps",
  ];
  for (let l = layers - 1; l >= 0; l--) {
    for (const s of ["balance", "entropy", "z_loss", "aux_loss"]) keys.push(`moe/layer_${l}_${s}`);
    for (let e = experts - 1; e >= 0; e--) keys.push(`moe/layer_${l}_expert_${e}_fraction`);
  }
  return keys;
}

Deno.test("families: train and val first with loss leading, moe next, plain keys last", () => {
  const g = groupMetrics([...storytellerKeys(), "loss", "accuracy"]);
  assert.deepEqual(g.map((f) => f.name), ["train", "val", "moe", PLAIN_FAMILY]);
  assert.deepEqual(g[0].keys, [
    "train/loss",
    "train/grad_norm",
    "train/learning_rate",
    "train/loss_scale",
    "train/skipped_steps",
    "train/tokens_per_sec",
  ]);
  assert.deepEqual(g[1].keys, ["val/loss", "val/perplexity"]);
  assert.equal(g[2].keys.length, 16);
  assert.deepEqual(g[3].keys, ["loss", "accuracy"]);
  assert.equal(familyOf("/odd"), PLAIN_FAMILY);
  assert.equal(familyOf("eval/x/y"), "eval");
});

Deno.test("families: numbers in names sort numerically", () => {
  const keys = orderMetrics(storytellerKeys(12, 2)).filter((k) => k.endsWith("_balance"));
  assert.deepEqual(keys.slice(0, 3), ["moe/layer_0_balance", "moe/layer_1_balance", "moe/layer_2_balance"]);
  assert.equal(keys[11], "moe/layer_11_balance");
  assert.ok(compareKeys("moe/layer_2_x", "moe/layer_10_x") < 0);
});

Deno.test("families: default charts are train/ and val/ (and plain keys); headline columns start with the losses", () => {
  const keys = storytellerKeys();
  assert.deepEqual(defaultChartKeys(keys), orderMetrics(keys).filter((k) => !k.startsWith("moe/")));
  assert.deepEqual(headlineKeys(keys, 3), ["train/loss", "val/loss", "train/grad_norm"]);
  assert.deepEqual(headlineKeys(["moe/a", "moe/b"], 5), ["moe/a", "moe/b"], "no train/val: the first keys");
  assert.deepEqual(defaultChartKeys(["loss", "moe/x"]), ["loss"]);
});

Deno.test("families: MoE layers with their experts in order and balance keys", () => {
  const layers = moeLayers(storytellerKeys(3, 4));
  assert.deepEqual(layers.map((l) => l.layer), [0, 1, 2]);
  assert.deepEqual(layers[1].experts, [0, 1, 2, 3].map((e) => `moe/layer_1_expert_${e}_fraction`));
  assert.deepEqual(layers[1].ids, [0, 1, 2, 3]);
  assert.equal(layers[2].balance, "moe/layer_2_balance");
  assert.equal(layers[0].entropy, "moe/layer_0_entropy");
  assert.deepEqual(moeLayers(["train/loss", "moe/layer_0_balance"]), [], "no fractions: no chart");
  const wide = moeLayers(["moe/layer_0_expert_10_fraction", "moe/layer_0_expert_9_fraction"]);
  assert.deepEqual(wide[0].ids, [9, 10]);
});

Deno.test("families: expert share flags one expert taking most of the tokens it can", () => {
  assert.deepEqual(expertShare([0.25, 0.26, 0.24, 0.25], 2), {
    top: 1,
    share: 0.26,
    uniform: 0.25,
    imbalanced: false,
  });
  // top-2 of 4: an expert takes at most half the assignments; flagged from 0.375 (halfway from 0.25)
  assert.equal(expertShare([0.2, 0.36, 0.24, 0.2], 2)?.imbalanced, false);
  const s = expertShare([0.05, 0.45, 0.4, 0.1], 2)!;
  assert.equal(s.top, 1);
  assert.equal(s.imbalanced, true);
  // top-1 of 4: flagged from 0.625
  assert.equal(expertShare([0.1, 0.5, 0.2, 0.2], 1)?.imbalanced, false);
  assert.equal(expertShare([0.05, 0.7, 0.15, 0.1], 1)?.imbalanced, true);
  assert.equal(expertShare([NaN, undefined, 0.2])?.top, 2);
  assert.equal(expertShare([]), undefined);
  assert.equal(expertShare([NaN]), undefined);
  assert.equal(expertShare([1])?.imbalanced, false, "one expert is not an imbalance");
  assert.equal(expertShare([0.5, 0.5], 2)?.imbalanced, false, "top-2 of 2 always routes evenly");
});
