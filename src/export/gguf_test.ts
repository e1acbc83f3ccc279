import assert from "node:assert/strict";
import { BYTE_TO_CHAR } from "../data/byte_level.ts";
import { Tokenizer } from "../data/mod.ts";
import { defaultConfig } from "../config/mod.ts";
import { buildLayout } from "../model/layout.ts";
import { initParams } from "../model/init.ts";
import { ggufContent, ggufVocab, TOKEN_TYPE } from "./gguf.ts";
import { decodeGguf, encodeGguf, GGML_TYPE } from "./gguf_format.ts";
import { permuteRopeRows } from "./tensors.ts";

function byteTokenizer(
  extra: (string | undefined)[] = [],
  added = [{ id: 256, content: "<|endoftext|>", special: true }],
) {
  return new Tokenizer({ vocab: [...BYTE_TO_CHAR, ...extra], merges: [], added });
}

Deno.test("q/k rows are permuted per head as convert_hf_to_gguf.py's permute (reshape(h, 2, HS/2, C).swapaxes(1, 2))", () => {
  // 2 heads of size 4, 1 column: rotate-half rows (x0 x1 | x2 x3) become interleaved pairs (x0 x2 x1 x3).
  const w = Float32Array.from([0, 1, 2, 3, 10, 11, 12, 13]);
  assert.deepEqual([...permuteRopeRows(w, 2, 8, 1)], [0, 2, 1, 3, 10, 12, 11, 13]);
  // Columns travel with their row.
  const w2 = Float32Array.from([0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5]);
  assert.deepEqual([...permuteRopeRows(w2, 1, 4, 2)], [0, 0.5, 2, 2.5, 1, 1.5, 3, 3.5]);
});

Deno.test("the GGUF vocabulary has one unique string per embedding row, byte tokens in their GPT-2 spelling", () => {
  // id 256 is only an added token; "<|endoftext|>" is also vocab id 258; "[PAD260]" is the real token 261.
  const tok = byteTokenizer([undefined, "Ġthe", "<|endoftext|>", undefined, undefined, "[PAD260]"]);
  const { tokens, types } = ggufVocab(tok, 263);
  assert.equal(tokens.length, 263);
  assert.equal(new Set(tokens).size, 263, "no duplicate strings (llama.cpp aborts on them)");
  assert.equal(tokens[0x20], "Ġ");
  assert.equal(tokens[0x0a], "Ċ");
  assert.equal(tokens[0xff], "ÿ");
  assert.deepEqual(tokens.slice(256), [
    "<|endoftext|>",
    "Ġthe",
    "[DUP258]",
    "[PAD259]",
    "[[PAD260]]",
    "[PAD260]",
    "[PAD262]",
  ]);
  assert.deepEqual(types.slice(255), [
    TOKEN_TYPE.NORMAL,
    TOKEN_TYPE.CONTROL,
    TOKEN_TYPE.NORMAL,
    TOKEN_TYPE.UNUSED,
    TOKEN_TYPE.UNUSED,
    TOKEN_TYPE.UNUSED,
    TOKEN_TYPE.NORMAL,
    TOKEN_TYPE.UNUSED,
  ]);
  assert.throws(() => ggufVocab(tok, 200), /262 ids, the embedding 200 rows/);
});

Deno.test("GGUF content: llama keys, llama.cpp tensor names, dims innermost first, f16 except norms and router", () => {
  const config = defaultConfig();
  Object.assign(config.model, {
    vocab_size: 300,
    hidden_size: 16,
    num_layers: 2,
    num_heads: 4,
    num_kv_heads: 2,
    intermediate_size: 24,
    max_seq_len: 32,
    tie_embeddings: false,
    moe: { num_experts: 3, top_k: 2, layers: [1], aux_loss_coef: 0, z_loss_coef: 0 },
  });
  const m = config.model;
  const params = initParams(buildLayout(m), 3);
  const src = {
    name: "tiny",
    model: m,
    params,
    tokenizer: byteTokenizer(),
    generation: { max_new_tokens: 8, temperature: 0.8, top_k: 50, top_p: 0.95, eos_token_id: 256 },
  };
  const { metadata, tensors } = ggufContent(src, "f16");
  const file = decodeGguf(encodeGguf(metadata, tensors));
  const meta = (k: string) => file.metadata.get(k)?.value;
  assert.equal(meta("general.architecture"), "llama");
  assert.equal(meta("tokenizer.ggml.model"), "gpt2");
  assert.equal(meta("tokenizer.ggml.pre"), "gpt-2");
  assert.equal(meta("llama.block_count"), 2);
  assert.equal(meta("llama.attention.head_count_kv"), 2);
  assert.equal(meta("llama.rope.dimension_count"), 4);
  assert.equal(meta("llama.expert_count"), 3);
  assert.equal(meta("llama.expert_used_count"), 2);
  assert.equal(meta("tokenizer.ggml.eos_token_id"), 256);
  assert.equal(meta("tokenizer.ggml.add_bos_token"), false);
  assert.equal((meta("tokenizer.ggml.tokens") as string[]).length, 300);
  const dims = (n: string) => file.tensors.get(n)?.dims;
  const type = (n: string) => file.tensors.get(n)?.type;
  assert.deepEqual(dims("token_embd.weight"), [16, 300]);
  assert.deepEqual(dims("output.weight"), [16, 300]);
  assert.deepEqual(dims("blk.0.attn_k.weight"), [16, 8]);
  // Layer 0 is dense in the model but every llama.cpp MoE layer needs experts: 3 copies behind a zero router.
  assert.deepEqual(dims("blk.0.ffn_gate_inp.weight"), [16, 3]);
  assert.deepEqual(dims("blk.1.ffn_gate_exps.weight"), [16, 24, 3]);
  assert.deepEqual(dims("blk.1.ffn_down_exps.weight"), [24, 16, 3]);
  assert.equal(file.tensors.has("blk.0.ffn_gate.weight"), false);
  assert.equal(type("blk.1.ffn_up_exps.weight"), GGML_TYPE.F16);
  assert.equal(type("blk.1.ffn_gate_inp.weight"), GGML_TYPE.F32);
  assert.equal(type("blk.0.attn_norm.weight"), GGML_TYPE.F32);
  assert.equal(type("output_norm.weight"), GGML_TYPE.F32);
  assert.equal(file.tensors.size, 1 + 2 * 10 + 2);
});

Deno.test("GGUF export refuses a tokenizer llama.cpp's gpt-2 pre-tokenizer cannot reproduce", () => {
  const m = { ...defaultConfig().model, vocab_size: 257, hidden_size: 8, num_heads: 2, num_layers: 1 };
  const tokenizer = new Tokenizer({ vocab: [...BYTE_TO_CHAR], merges: [], added: [], addPrefixSpace: true });
  const src = {
    name: "x",
    model: m,
    params: new Float32Array(buildLayout(m).total),
    tokenizer,
    generation: { max_new_tokens: 8, temperature: 0.8, top_k: 50, top_p: 0.95, eos_token_id: -1 },
  };
  assert.throws(() => ggufContent(src), /adds a prefix space/);
});
