/**
 * `importHf`: a Hugging Face transformers directory of storyteller's architecture (`LlamaForCausalLM` or
 * `MixtralForCausalLM`: RMSNorm, rotate-half RoPE, SwiGLU, no biases, byte-level BPE tokenizer.json) → a storyteller
 * model directory that `serve`, `generate` and `export` load, with its MLmodel. The inverse of hf.ts: an export
 * imported again gives the same safetensors bytes and config.json. Not the HF writer (hf.ts).
 */
import { dirname, join } from "node:path";
import { type Config, defaultConfig, type ModelConfig } from "../config/mod.ts";
import { parseTokenizerJson } from "../data/mod.ts";
import { describeError, UsageError } from "../errors.ts";
import { type GenerationConfig, saveModelDir } from "../model/checkpoint.ts";
import { buildLayout, type Layout } from "../model/layout.ts";
import { writeMLmodel } from "../model/mlmodel.ts";
import { readSafetensors, type TensorEntry, toF32 } from "../model/safetensors.ts";

export interface ImportOptions {
  /** The HF directory: config.json, model.safetensors (or its index and shards), tokenizer.json. */
  hfDir: string;
  /** The storyteller model directory to write. */
  out: string;
  /** Replace an existing output. */
  force?: boolean;
}

export interface ImportResult {
  path: string;
  architecture: string;
  model: ModelConfig;
  /** Parameters without padding. */
  parameters: number;
}

type Json = Record<string, unknown>;

const HINT = "storyteller imports Llama/Mixtral directories as `storyteller export --format hf` writes them";

function refuse(dir: string, what: string, hint = HINT): never {
  throw new UsageError(`Cannot import ${dir}: ${what}`, { hint });
}

async function readJson(dir: string, name: string, optional = false): Promise<Json | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(join(dir, name));
  } catch (err) {
    if (optional && err instanceof Deno.errors.NotFound) return null;
    return refuse(dir, `${name} is missing (${describeError(err)})`);
  }
  try {
    const v = JSON.parse(text);
    if (v && typeof v === "object" && !Array.isArray(v)) return v;
  } catch { /* reported below */ }
  return refuse(dir, `${name} is not a JSON object`);
}

/** storyteller's model config from transformers' config.json; anything storyteller would compute differently is refused. */
export function modelConfigFromHf(c: Json, dir = "the HF directory"): ModelConfig {
  const arch = (c.architectures as string[] | undefined)?.[0] ?? String(c.model_type);
  const moe = arch === "MixtralForCausalLM" || c.model_type === "mixtral";
  if (!moe && arch !== "LlamaForCausalLM" && c.model_type !== "llama") {
    refuse(dir, `config.json describes ${arch}, not LlamaForCausalLM or MixtralForCausalLM`);
  }
  const int = (key: string, fallback?: number): number => {
    const v = c[key] ?? fallback;
    if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) {
      return refuse(dir, `config.json '${key}' is ${JSON.stringify(v)}, expected a positive integer`);
    }
    return v;
  };
  const C = int("hidden_size");
  const NH = int("num_attention_heads");
  const KVH = int("num_key_value_heads", NH);
  if (C % NH !== 0 || (C / NH) % 2 !== 0 || NH % KVH !== 0) {
    refuse(dir, `hidden_size ${C}, ${NH} heads and ${KVH} key/value heads do not split into even head sizes`);
  }
  if (c.head_dim != null && c.head_dim !== C / NH) {
    refuse(dir, `head_dim ${c.head_dim} differs from hidden_size / num_attention_heads (${C / NH})`);
  }
  if ((c.hidden_act ?? "silu") !== "silu") refuse(dir, `hidden_act ${c.hidden_act} is not silu (SwiGLU)`);
  if (c.rope_scaling != null) refuse(dir, `rope_scaling ${JSON.stringify(c.rope_scaling)} is not supported`);
  if (c.attention_bias || c.mlp_bias) refuse(dir, "attention or MLP biases are not supported");
  const T = int("max_position_embeddings");
  if (typeof c.sliding_window === "number" && c.sliding_window < T) {
    refuse(dir, `sliding_window ${c.sliding_window} is shorter than the context ${T}`);
  }
  const base = defaultConfig().model;
  const model: ModelConfig = {
    ...base,
    vocab_size: int("vocab_size"),
    hidden_size: C,
    num_layers: int("num_hidden_layers"),
    num_heads: NH,
    num_kv_heads: KVH,
    intermediate_size: int("intermediate_size"),
    max_seq_len: T,
    rope_theta: typeof c.rope_theta === "number" ? c.rope_theta : 10000,
    norm_eps: typeof c.rms_norm_eps === "number" ? c.rms_norm_eps : 1e-6,
    tie_embeddings: c.tie_word_embeddings === true,
    moe: { ...base.moe },
  };
  if (moe) {
    const E = int("num_local_experts");
    const K = int("num_experts_per_tok");
    if (K > 2 || K > E) {
      refuse(dir, `num_experts_per_tok ${K}: storyteller routes each token to 1 or 2 experts`);
    }
    model.moe = { ...model.moe, num_experts: E, top_k: K, layers: "all" };
    if (typeof c.router_aux_loss_coef === "number") model.moe.aux_loss_coef = c.router_aux_loss_coef;
  }
  return model;
}

/** Every tensor of the directory: model.safetensors, or the shards model.safetensors.index.json names. */
async function readHfTensors(dir: string): Promise<Map<string, TensorEntry>> {
  const index = await readJson(dir, "model.safetensors.index.json", true);
  const files = index
    ? [...new Set(Object.values((index.weight_map ?? {}) as Record<string, string>))]
    : ["model.safetensors"];
  const out = new Map<string, TensorEntry>();
  for (const file of files) {
    try {
      for (const [name, t] of (await readSafetensors(join(dir, file))).tensors) out.set(name, t);
    } catch (err) {
      refuse(dir, describeError(err));
    }
  }
  return out;
}

/**
 * A Mixtral layer that hf.ts wrote for a dense layer: a zero router in front of E identical experts. Those become
 * dense layers again, so a mixed dense/MoE model comes back with its own `moe.layers`.
 */
function isExpandedDense(tensors: Map<string, TensorEntry>, l: number, E: number): boolean {
  const p = `model.layers.${l}.block_sparse_moe`;
  const router = tensors.get(`${p}.gate.weight`);
  if (!router || toF32(router).some((v) => v !== 0)) return false;
  for (const w of ["w1", "w2", "w3"]) {
    const first = tensors.get(`${p}.experts.0.${w}.weight`)?.data;
    for (let e = 1; e < E; e++) {
      const other = tensors.get(`${p}.experts.${e}.${w}.weight`)?.data;
      if (!first || !other || other.length !== first.length || other.some((b, i) => b !== first[i])) {
        return false;
      }
    }
  }
  return true;
}

/** The MoE layer set as the config spells it: all, every_other or a list. */
function moeLayersOf(moeLayers: number[], L: number): ModelConfig["moe"]["layers"] {
  if (moeLayers.length === L) return "all";
  const odd = Array.from({ length: L }, (_, i) => i).filter((i) => i % 2 === 1);
  return moeLayers.join() === odd.join() ? "every_other" : moeLayers;
}

/** The flat parameter buffer of `layout` from transformers' tensors (names as hf.ts writes them). */
function paramsFromHf(
  dir: string,
  model: ModelConfig,
  layout: Layout,
  tensors: Map<string, TensorEntry>,
  denseExperts: Set<number>,
): Float32Array {
  const params = new Float32Array(layout.total);
  const used = new Set<string>();
  const take = (name: string, shape: number[]): Float32Array => {
    const t = tensors.get(name);
    if (!t) return refuse(dir, `tensor ${name} is missing`);
    if (t.shape.join("x") !== shape.join("x")) {
      refuse(dir, `tensor ${name} has shape [${t.shape}], config.json implies [${shape}]`);
    }
    if (t.dtype !== "F32" && t.dtype !== "F16" && t.dtype !== "BF16") {
      refuse(dir, `tensor ${name} is ${t.dtype}`);
    }
    used.add(name);
    return toF32(t, name);
  };
  const NAMES: Record<string, string> = {
    "n1": "input_layernorm",
    "attn.q": "self_attn.q_proj",
    "attn.k": "self_attn.k_proj",
    "attn.v": "self_attn.v_proj",
    "attn.o": "self_attn.o_proj",
    "n2": "post_attention_layernorm",
    "mlp.router": "block_sparse_moe.gate",
  };
  const EXPERT: Record<string, string> = { gate: "w1", down: "w2", up: "w3" };
  for (const e of layout.entries) {
    const at = params.subarray(e.offset, e.offset + e.size);
    const m = /^blocks\.(\d+)\.(.+)\.weight$/.exec(e.name);
    if (!m) {
      const hf = { "embed.weight": "model.embed_tokens.weight", "norm.weight": "model.norm.weight" }[e.name];
      at.set(take(hf ?? "lm_head.weight", e.shape));
      continue;
    }
    const [, l, part] = m;
    const prefix = `model.layers.${l}`;
    const dense = /^mlp\.(gate|up|down)$/.exec(part);
    const experts = /^mlp\.experts\.(gate|up|down)$/.exec(part);
    if (NAMES[part]) at.set(take(`${prefix}.${NAMES[part]}.weight`, e.shape));
    else if (dense && denseExperts.has(Number(l))) {
      at.set(take(`${prefix}.block_sparse_moe.experts.0.${EXPERT[dense[1]]}.weight`, e.shape));
      for (let x = 0; x < model.moe.num_experts; x++) {
        for (const w of ["w1", "w2", "w3"]) used.add(`${prefix}.block_sparse_moe.experts.${x}.${w}.weight`);
      }
      used.add(`${prefix}.block_sparse_moe.gate.weight`);
    } else if (dense) at.set(take(`${prefix}.mlp.${dense[1]}_proj.weight`, e.shape));
    else if (experts) {
      const [E, rows, cols] = e.shape;
      for (let x = 0; x < E; x++) {
        const w = take(`${prefix}.block_sparse_moe.experts.${x}.${EXPERT[experts[1]]}.weight`, [rows, cols]);
        at.set(w, x * rows * cols);
      }
    } else refuse(dir, `storyteller has no HF name for ${e.name}`);
  }
  if (model.tie_embeddings) used.add("lm_head.weight"); // transformers ties it to the embedding
  const extra = [...tensors.keys()].filter((n) => !used.has(n) && !n.endsWith("rotary_emb.inv_freq"));
  if (extra.length > 0) {
    refuse(
      dir,
      `tensors storyteller's architecture has no place for: ${extra.slice(0, 4).join(", ")}` +
        (extra.length > 4 ? ` and ${extra.length - 4} more` : ""),
    );
  }
  return params;
}

/** generation_config.json's sampling defaults; do_sample false (transformers' greedy) is temperature 0. */
function generationFromHf(g: Json | null, model: ModelConfig, eot: number | null): GenerationConfig {
  const num = (k: string, d: number) => (typeof g?.[k] === "number" ? g[k] as number : d);
  const eos = Array.isArray(g?.eos_token_id)
    ? (g.eos_token_id as number[])[0]
    : num("eos_token_id", eot ?? -1);
  const out: GenerationConfig = {
    max_new_tokens: num("max_new_tokens", Math.min(256, model.max_seq_len)),
    temperature: g?.do_sample === false ? 0 : num("temperature", 0.8),
    top_k: num("top_k", 50),
    top_p: num("top_p", 0.95),
    eos_token_id: eos,
  };
  const penalty = num("repetition_penalty", 1);
  if (penalty !== 1) out.repetition_penalty = penalty;
  return out;
}

async function checkOut(out: string, force: boolean): Promise<void> {
  const info = await Deno.stat(out).catch(() => null);
  if (info && !info.isDirectory) refuse(out, "it is a file", "name a new directory with -o");
  if (info && !force) {
    throw new UsageError(`Cannot import to ${out}: it already exists`, {
      hint: "pass --force to replace it, or choose another -o",
    });
  }
  if (!(await Deno.stat(dirname(out) || ".").catch(() => null))?.isDirectory) {
    throw new UsageError(`Cannot import to ${out}: the directory ${dirname(out)} does not exist`);
  }
}

/** Reads `options.hfDir`, converts it and writes the storyteller model directory `options.out` with its MLmodel. */
export async function importHf(options: ImportOptions): Promise<ImportResult> {
  const { hfDir: dir, out } = options;
  if (!(await Deno.stat(dir).catch(() => null))?.isDirectory) refuse(dir, "no such directory");
  await checkOut(out, options.force ?? false);
  const hfConfig = (await readJson(dir, "config.json"))!;
  const model = modelConfigFromHf(hfConfig, dir);
  const tokenizerText = await Deno.readTextFile(join(dir, "tokenizer.json"))
    .catch((err) => refuse(dir, `tokenizer.json is missing (${describeError(err)})`));
  const tokenizer = parseTokenizerJson(tokenizerText, join(dir, "tokenizer.json"));
  if (tokenizer.vocabSize > model.vocab_size) {
    refuse(dir, `the tokenizer has ${tokenizer.vocabSize} ids, the embedding ${model.vocab_size} rows`);
  }
  const tensors = await readHfTensors(dir);
  const denseExperts = new Set<number>();
  if (model.moe.num_experts > 0) {
    const moeLayers: number[] = [];
    for (let l = 0; l < model.num_layers; l++) {
      if (isExpandedDense(tensors, l, model.moe.num_experts)) denseExperts.add(l);
      else moeLayers.push(l);
    }
    model.moe.layers = moeLayersOf(moeLayers, model.num_layers);
  }
  const layout = buildLayout(model);
  const params = paramsFromHf(dir, model, layout, tensors, denseExperts);
  const generation = generationFromHf(
    await readJson(dir, "generation_config.json", true),
    model,
    tokenizer.eotId,
  );
  const config: Config = { ...defaultConfig(), model };
  await saveModelDir(out, layout, params, config, tokenizerText, generation);
  const tokConfig = await readJson(dir, "tokenizer_config.json", true);
  if (tokConfig?.chat_template != null) {
    await Deno.copyFile(join(dir, "tokenizer_config.json"), join(out, "tokenizer_config.json"));
  }
  await writeMLmodel(out);
  const architecture = model.moe.num_experts > 0 ? "MixtralForCausalLM" : "LlamaForCausalLM";
  return { path: out, architecture, model, parameters: layout.count };
}
