/**
 * A storyteller model as a Hugging Face transformers directory: `LlamaForCausalLM` (or `MixtralForCausalLM` for
 * MoE) config.json, model.safetensors under transformers' tensor names (rotate-half RoPE as-is: transformers uses
 * the same convention), tokenizer files, generation_config.json and a README model card. Builds the files in memory;
 * export.ts writes them.
 */
import { tokenizerToJson } from "../data/mod.ts";
import { modelDims } from "../model/layout.ts";
import { encodeSafetensors, fromF32, type TensorInput } from "../model/safetensors.ts";
import { VERSION } from "../version.ts";
import type { ExportModel } from "./gguf.ts";
import { modelTensors, type Role } from "./tensors.ts";
import type { Run } from "../tracking/mod.ts";

/** The transformers version the config fields follow (the keys exist in 4.36 and later). */
const TRANSFORMERS_VERSION = "4.46.0";

const LLAMA_NAMES: Partial<Record<Role, string>> = {
  attn_norm: "input_layernorm",
  q: "self_attn.q_proj",
  k: "self_attn.k_proj",
  v: "self_attn.v_proj",
  o: "self_attn.o_proj",
  ffn_norm: "post_attention_layernorm",
  gate: "mlp.gate_proj",
  up: "mlp.up_proj",
  down: "mlp.down_proj",
  router: "block_sparse_moe.gate",
};

/** Mixtral's expert weights: w1 gate, w2 down, w3 up. */
const EXPERT_NAMES: Partial<Record<Role, string>> = { gate_exps: "w1", down_exps: "w2", up_exps: "w3" };

/** transformers' name → (shape, f32 data), in file order. */
export function hfTensors(src: ExportModel): { name: string; shape: number[]; data: Float32Array }[] {
  const out: { name: string; shape: number[]; data: Float32Array }[] = [];
  for (const t of modelTensors(src.model, src.params)) {
    if (t.role === "embed") out.push({ name: "model.embed_tokens.weight", shape: t.shape, data: t.data });
    else if (t.role === "norm") out.push({ name: "model.norm.weight", shape: t.shape, data: t.data });
    else if (t.role === "head") out.push({ name: "lm_head.weight", shape: t.shape, data: t.data });
    else if (EXPERT_NAMES[t.role]) {
      const [E, rows, cols] = t.shape;
      for (let e = 0; e < E; e++) {
        out.push({
          name: `model.layers.${t.layer}.block_sparse_moe.experts.${e}.${EXPERT_NAMES[t.role]}.weight`,
          shape: [rows, cols],
          data: t.data.subarray(e * rows * cols, (e + 1) * rows * cols),
        });
      }
    } else {out.push({
        name: `model.layers.${t.layer}.${LLAMA_NAMES[t.role]}.weight`,
        shape: t.shape,
        data: t.data,
      });}
  }
  return out;
}

/** config.json for transformers. */
export function hfConfig(src: ExportModel, dtype: "f32" | "f16"): Record<string, unknown> {
  const m = src.model;
  const d = modelDims(m);
  const eot = src.tokenizer.eotId;
  const eos = src.generation.eos_token_id >= 0 ? src.generation.eos_token_id : eot;
  const moe = d.E > 0;
  const config: Record<string, unknown> = {
    architectures: [moe ? "MixtralForCausalLM" : "LlamaForCausalLM"],
    model_type: moe ? "mixtral" : "llama",
    vocab_size: d.V,
    hidden_size: d.C,
    intermediate_size: d.I,
    num_hidden_layers: d.L,
    num_attention_heads: d.NH,
    num_key_value_heads: d.KVH,
    head_dim: d.HS,
    hidden_act: "silu",
    max_position_embeddings: d.T,
    rms_norm_eps: m.norm_eps,
    rope_theta: m.rope_theta,
    rope_scaling: null,
    attention_bias: false,
    attention_dropout: 0,
    initializer_range: 0.02,
    tie_word_embeddings: m.tie_embeddings,
    bos_token_id: eot,
    eos_token_id: eos,
    torch_dtype: dtype === "f16" ? "float16" : "float32",
    use_cache: true,
    transformers_version: TRANSFORMERS_VERSION,
  };
  if (moe) {
    Object.assign(config, {
      num_local_experts: d.E,
      num_experts_per_tok: d.K,
      router_aux_loss_coef: m.moe.aux_loss_coef,
      router_jitter_noise: 0,
      output_router_logits: false,
      sliding_window: null,
    });
  } else Object.assign(config, { mlp_bias: false, pretraining_tp: 1 });
  return config;
}

function tokenizerConfig(src: ExportModel): Record<string, unknown> {
  const p = src.tokenizer.parts;
  const eot = src.tokenizer.eotId;
  const eotText = eot === null ? null : p.added.find((a) => a.id === eot)?.content ?? p.vocab[eot] ?? null;
  const decoder: Record<string, unknown> = {};
  for (const a of p.added) {
    decoder[String(a.id)] = {
      content: a.content,
      lstrip: false,
      normalized: false,
      rstrip: false,
      single_word: false,
      special: a.special,
    };
  }
  return {
    tokenizer_class: "PreTrainedTokenizerFast",
    added_tokens_decoder: decoder,
    bos_token: eotText,
    eos_token: eotText,
    unk_token: null,
    pad_token: null,
    add_bos_token: false,
    add_eos_token: false,
    clean_up_tokenization_spaces: false,
    model_max_length: src.model.max_seq_len,
  };
}

function generationConfig(src: ExportModel): Record<string, unknown> {
  const g = src.generation;
  const eot = src.tokenizer.eotId;
  return {
    bos_token_id: eot,
    eos_token_id: g.eos_token_id >= 0 ? g.eos_token_id : eot,
    do_sample: g.temperature > 0,
    temperature: g.temperature,
    top_k: g.top_k,
    top_p: g.top_p,
    max_new_tokens: g.max_new_tokens,
    repetition_penalty: g.repetition_penalty ?? 1,
    transformers_version: TRANSFORMERS_VERSION,
  };
}

function table(rows: [string, string][]): string {
  const cell = (s: string) => s.replaceAll("|", "\\|").replaceAll("\n", " ");
  return ["| key | value |", "|---|---|", ...rows.map(([k, v]) => `| ${cell(k)} | ${cell(v)} |`)].join("\n");
}

/** README.md: a model card with the architecture, the run's data params and metrics, and the run id. */
export function modelCard(src: ExportModel & { runId?: string; run?: Run; source?: string }): string {
  const m = src.model;
  const d = modelDims(m);
  const arch = d.E > 0 ? `Mixtral-style MoE (${d.E} experts, top ${d.K})` : "Llama";
  const lines = [
    "---",
    "library_name: transformers",
    "pipeline_tag: text-generation",
    "tags:",
    "  - storyteller",
    "  - text-generation",
    "---",
    "",
    `# ${src.name}`,
    "",
    `A small story-writing language model trained with storyteller ${VERSION}: ${arch}, ${d.L} layers, ` +
    `${d.C} wide, ${d.NH} heads (${d.KVH} key/value), ${d.T} positions, ${d.V} tokens (byte-level BPE).`,
    "",
    "```python",
    "from transformers import AutoModelForCausalLM, AutoTokenizer",
    'tok = AutoTokenizer.from_pretrained(".")',
    'model = AutoModelForCausalLM.from_pretrained(".")',
    'ids = tok("Once upon a time", return_tensors="pt").input_ids',
    "print(tok.decode(model.generate(ids, max_new_tokens=100)[0]))",
    "```",
    "",
    "## Model config",
    "",
    table(Object.entries(m).map(([k, v]) => [k, typeof v === "object" ? JSON.stringify(v) : String(v)])),
  ];
  if (src.runId || src.source) {
    lines.push("", "## Provenance", "");
    if (src.source) lines.push(`- exported from \`${src.source}\``);
    if (src.runId) lines.push(`- MLflow run id: \`${src.runId}\``);
    if (src.run) {
      lines.push(`- run name: ${src.run.info.runName}`, `- experiment id: ${src.run.info.experimentId}`);
    }
  }
  if (src.run) {
    const params = Object.entries(src.run.data.params).filter(([k]) =>
      k.startsWith("data.") || k.startsWith("training.")
    )
      .sort(([a], [b]) => a.localeCompare(b));
    if (params.length > 0) lines.push("", "## Data and training", "", table(params));
    const metrics = Object.values(src.run.data.metrics).sort((a, b) => a.key.localeCompare(b.key));
    if (metrics.length > 0) {
      lines.push(
        "",
        "## Metrics (last logged value)",
        "",
        table(metrics.map((x) => [x.key, `${x.value} (step ${x.step})`])),
      );
    }
  }
  return lines.join("\n") + "\n";
}

/** Every file of the HF directory: name → bytes or text. */
export function hfFiles(
  src: ExportModel & { runId?: string; run?: Run; source?: string },
  dtype: "f32" | "f16" = "f32",
): Map<string, Uint8Array | string> {
  const tensors: TensorInput[] = hfTensors(src).map((t) =>
    dtype === "f16"
      ? { name: t.name, dtype: "F16", shape: t.shape, data: fromF32(t.data, "F16") }
      : { name: t.name, dtype: "F32", shape: t.shape, data: t.data }
  );
  const json = (v: unknown) => JSON.stringify(v, null, 2) + "\n";
  return new Map<string, Uint8Array | string>([
    ["config.json", json(hfConfig(src, dtype))],
    ["model.safetensors", encodeSafetensors(tensors, { format: "pt" })],
    ["tokenizer.json", tokenizerToJson(src.tokenizer)],
    ["tokenizer_config.json", json(tokenizerConfig(src))],
    ["generation_config.json", json(generationConfig(src))],
    ["README.md", modelCard(src)],
  ]);
}
