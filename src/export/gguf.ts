/**
 * A storyteller model as one GGUF file llama.cpp runs with its `llama` architecture: the hyper-parameters under
 * `llama.*`, the byte-level BPE as a `gpt2` tokenizer with the `gpt-2` pre-tokenizer, and the tensors under
 * llama.cpp's names with q/k rows permuted for its interleaved RoPE. The container itself is gguf_format.ts.
 */
import type { ModelConfig } from "../config/mod.ts";
import type { Tokenizer } from "../data/mod.ts";
import { GPT2_PATTERN } from "../data/byte_level.ts";
import { UsageError } from "../errors.ts";
import type { GenerationConfig } from "../model/checkpoint.ts";
import { modelDims } from "../model/layout.ts";
import { fromF32 } from "../model/safetensors.ts";
import { GGML_TYPE, type GgufTensor, type GgufValue } from "./gguf_format.ts";
import { modelTensors, permuteRopeRows, type Role } from "./tensors.ts";

/** What an export reads: the model as `loadModel` returns it. */
export interface ExportModel {
  name: string;
  model: ModelConfig;
  /** Flat parameters in layout order. */
  params: Float32Array;
  tokenizer: Tokenizer;
  generation: GenerationConfig;
}

/** llama.cpp token types (llama_token_type). */
export const TOKEN_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

const NAMES: Record<Role, string> = {
  embed: "token_embd",
  attn_norm: "attn_norm",
  q: "attn_q",
  k: "attn_k",
  v: "attn_v",
  o: "attn_output",
  ffn_norm: "ffn_norm",
  gate: "ffn_gate",
  up: "ffn_up",
  down: "ffn_down",
  router: "ffn_gate_inp",
  gate_exps: "ffn_gate_exps",
  up_exps: "ffn_up_exps",
  down_exps: "ffn_down_exps",
  norm: "output_norm",
  head: "output",
};

/** Roles kept in f32 under `--dtype f16`, as llama.cpp's converter keeps norms and the router. */
const ALWAYS_F32 = new Set<Role>(["attn_norm", "ffn_norm", "norm", "router"]);

/**
 * The vocabulary as llama.cpp reads it: one unique string per embedding row. Byte-level tokens stay in their
 * GPT-2 stand-in spelling (the `gpt2` model maps them back to bytes); added tokens are CONTROL when special,
 * USER_DEFINED otherwise; ids no token uses become `[PAD<id>]` (UNUSED). A vocab string that an added token or a
 * lower id already has becomes `[DUP<id>]` (UNUSED): llama.cpp aborts on duplicate strings.
 */
export function ggufVocab(tok: Tokenizer, rows: number): { tokens: string[]; types: number[] } {
  const p = tok.parts;
  if (tok.vocabSize > rows) {
    throw new UsageError(
      `Cannot export the tokenizer: it has ${tok.vocabSize} ids, the embedding ${rows} rows`,
    );
  }
  const tokens: (string | undefined)[] = new Array(rows);
  const types: number[] = new Array(rows).fill(TOKEN_TYPE.UNUSED);
  p.vocab.forEach((t, id) => {
    if (t === undefined) return;
    tokens[id] = t;
    types[id] = TOKEN_TYPE.NORMAL;
  });
  for (const a of p.added) {
    tokens[a.id] = a.content;
    types[a.id] = a.special ? TOKEN_TYPE.CONTROL : TOKEN_TYPE.USER_DEFINED;
  }
  // Real tokens claim their strings before placeholders do, added tokens first: text containing them encodes to
  // their ids.
  const taken = new Set<string>(p.added.map((a) => a.content));
  const addedIds = new Set<number>(p.added.map((a) => a.id));
  const dup = new Set<number>();
  for (let id = 0; id < rows; id++) {
    const t = tokens[id];
    if (addedIds.has(id) || t === undefined) continue;
    if (taken.has(t)) dup.add(id);
    else taken.add(t);
  }
  for (let id = 0; id < rows; id++) {
    if (tokens[id] !== undefined && !dup.has(id)) continue;
    let s = `[${dup.has(id) ? "DUP" : "PAD"}${id}]`;
    while (taken.has(s)) s = `[${s}]`;
    tokens[id] = s;
    types[id] = TOKEN_TYPE.UNUSED;
    taken.add(s);
  }
  return { tokens: tokens as string[], types };
}

/** Refuses tokenizers whose pre-tokenization llama.cpp's `gpt-2` pre-tokenizer would not reproduce. */
function checkTokenizer(tok: Tokenizer): void {
  const p = tok.parts;
  const why = p.pattern === null
    ? "splits without the GPT-2 regex"
    : p.pattern !== undefined && p.pattern.source !== GPT2_PATTERN.source
    ? "uses its own split pattern"
    : p.addPrefixSpace
    ? "adds a prefix space"
    : p.ignoreMerges
    ? "ignores merges for whole-word tokens"
    : null;
  if (why) {
    throw new UsageError(
      `Cannot export the tokenizer to GGUF: it ${why}, which llama.cpp's gpt-2 pre-tokenizer does not`,
      {
        hint:
          "export --format hf instead, or train the model with a tokenizer from `storyteller tokenizer train`",
      },
    );
  }
}

/** The GGUF metadata and tensors of a model; `dtype` f16 stores matrices as F16 (norms and router stay F32). */
export function ggufContent(
  src: ExportModel,
  dtype: "f32" | "f16" = "f32",
): { metadata: [string, GgufValue][]; tensors: GgufTensor[] } {
  const m = src.model;
  const d = modelDims(m);
  if (d.HS % 2 !== 0) throw new UsageError(`Cannot export the model to GGUF: head size ${d.HS} is odd`);
  checkTokenizer(src.tokenizer);
  const u32 = (value: number): GgufValue => ({ type: "UINT32", value });
  const f32 = (value: number): GgufValue => ({ type: "FLOAT32", value });
  const { tokens, types } = ggufVocab(src.tokenizer, d.V);
  const eot = src.tokenizer.eotId;
  const eos = src.generation.eos_token_id >= 0 ? src.generation.eos_token_id : eot;
  const metadata: [string, GgufValue][] = [
    ["general.architecture", { type: "STRING", value: "llama" }],
    ["general.name", { type: "STRING", value: src.name }],
    ["general.file_type", u32(dtype === "f16" ? 1 : 0)],
    ["llama.context_length", u32(d.T)],
    ["llama.embedding_length", u32(d.C)],
    ["llama.block_count", u32(d.L)],
    ["llama.feed_forward_length", u32(d.I)],
    ["llama.attention.head_count", u32(d.NH)],
    ["llama.attention.head_count_kv", u32(d.KVH)],
    ["llama.rope.freq_base", f32(m.rope_theta)],
    ["llama.rope.dimension_count", u32(d.HS)],
    ["llama.attention.layer_norm_rms_epsilon", f32(m.norm_eps)],
    ["llama.vocab_size", u32(d.V)],
  ];
  if (d.E > 0) metadata.push(["llama.expert_count", u32(d.E)], ["llama.expert_used_count", u32(d.K)]);
  metadata.push(
    ["tokenizer.ggml.model", { type: "STRING", value: "gpt2" }],
    ["tokenizer.ggml.pre", { type: "STRING", value: "gpt-2" }],
    ["tokenizer.ggml.tokens", { type: "ARRAY", itemType: "STRING", value: tokens }],
    ["tokenizer.ggml.token_type", { type: "ARRAY", itemType: "INT32", value: types }],
    [
      "tokenizer.ggml.merges",
      { type: "ARRAY", itemType: "STRING", value: src.tokenizer.parts.merges.map(([l, r]) => `${l} ${r}`) },
    ],
  );
  if (eot !== null) metadata.push(["tokenizer.ggml.bos_token_id", u32(eot)]);
  if (eos !== null) metadata.push(["tokenizer.ggml.eos_token_id", u32(eos)]);
  // storyteller never prepends a token to a prompt, so llama.cpp must not either.
  metadata.push(
    ["tokenizer.ggml.add_bos_token", { type: "BOOL", value: false }],
    ["tokenizer.ggml.add_eos_token", { type: "BOOL", value: false }],
  );
  const tensors: GgufTensor[] = modelTensors(m, src.params).map((t) => {
    let data = t.data;
    if (t.role === "q") data = permuteRopeRows(data, d.NH, t.shape[0], t.shape[1]);
    if (t.role === "k") data = permuteRopeRows(data, d.KVH, t.shape[0], t.shape[1]);
    const name = t.layer === undefined ? `${NAMES[t.role]}.weight` : `blk.${t.layer}.${NAMES[t.role]}.weight`;
    const dims = [...t.shape].reverse();
    if (dtype === "f16" && !ALWAYS_F32.has(t.role)) {
      const half = fromF32(data, "F16");
      return { name, type: GGML_TYPE.F16, dims, data: new Uint8Array(half.buffer) };
    }
    return {
      name,
      type: GGML_TYPE.F32,
      dims,
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    };
  });
  return { metadata, tensors };
}
