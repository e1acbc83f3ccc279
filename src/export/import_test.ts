import assert from "node:assert/strict";
import { modelConfigFromHf } from "./import.ts";

const LLAMA = {
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  vocab_size: 300,
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 64,
  rms_norm_eps: 1e-5,
  rope_theta: 500000,
  tie_word_embeddings: false,
};

Deno.test("modelConfigFromHf maps transformers' Llama and Mixtral keys to storyteller's model config", () => {
  const m = modelConfigFromHf(LLAMA);
  assert.equal(m.hidden_size, 32);
  assert.equal(m.num_kv_heads, 2);
  assert.equal(m.max_seq_len, 64);
  assert.equal(m.norm_eps, 1e-5);
  assert.equal(m.rope_theta, 500000);
  assert.equal(m.tie_embeddings, false);
  assert.equal(m.moe.num_experts, 0);
  const x = modelConfigFromHf({
    ...LLAMA,
    architectures: ["MixtralForCausalLM"],
    model_type: "mixtral",
    num_local_experts: 4,
    num_experts_per_tok: 2,
    router_aux_loss_coef: 0.02,
    sliding_window: null,
  });
  assert.deepEqual([x.moe.num_experts, x.moe.top_k, x.moe.layers, x.moe.aux_loss_coef], [4, 2, "all", 0.02]);
  assert.equal(modelConfigFromHf({ ...LLAMA, num_key_value_heads: undefined }).num_kv_heads, 4);
});

Deno.test("modelConfigFromHf refuses what storyteller would compute differently, saying what it saw", () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ architectures: ["GPT2LMHeadModel"], model_type: "gpt2" }, /describes GPT2LMHeadModel, not Llama/],
    [{ rope_scaling: { type: "linear", factor: 2 } }, /rope_scaling .* is not supported/],
    [{ attention_bias: true }, /biases are not supported/],
    [{ hidden_act: "gelu" }, /hidden_act gelu is not silu/],
    [{ head_dim: 16 }, /head_dim 16 differs from hidden_size \/ num_attention_heads \(8\)/],
    [{ num_key_value_heads: 3 }, /do not split into even head sizes/],
    [{ hidden_size: "32" }, /'hidden_size' is "32", expected a positive integer/],
  ];
  for (const [patch, message] of cases) {
    assert.throws(() => modelConfigFromHf({ ...LLAMA, ...patch }, "hf"), (err: Error) => {
      assert.match(err.message, /^Cannot import hf: /);
      assert.match(err.message, message);
      return true;
    });
  }
  assert.throws(
    () =>
      modelConfigFromHf({ ...LLAMA, model_type: "mixtral", num_local_experts: 8, num_experts_per_tok: 4 }),
    /num_experts_per_tok 4: storyteller routes each token to 1 or 2 experts/,
  );
});
