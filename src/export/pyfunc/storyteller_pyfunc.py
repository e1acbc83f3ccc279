"""MLflow's python_function flavor for storyteller models: a NumPy copy of storyteller's forward and tokenizer.

`mlflow.pyfunc.load_model` imports this module from the model's `code/` directory and calls `_load_pyfunc(path)`;
the returned object's `predict(prompts, params)` writes one story per prompt, as storyteller's `/invocations` does.
Everything is read from the model directory storyteller wrote: config.json (storyteller's model config),
model.safetensors (F32 tensors in storyteller's layout names), tokenizer.json (byte-level BPE) and
generation_config.json. Only NumPy is needed. Greedy output (temperature 0) equals storyteller's token for token;
sampling uses the same filters (temperature, top-k, top-p) with NumPy's random stream, not storyteller's GPU one.

Not an engine: one sequence at a time with a KV cache, for tiny story models on a CPU.
"""

import json
import os
import re
import struct
import unicodedata

import numpy as np

# --- safetensors --------------------------------------------------------------------------------------------------

_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16}


def read_safetensors(path):
    """name -> float32 array of every tensor in a .safetensors file (F32, F16 or BF16)."""
    with open(path, "rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_len))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = info["dtype"]
        if dtype not in _DTYPES:
            raise ValueError(f"Cannot read {path}: tensor {name} is {dtype}, expected F32, F16 or BF16")
        start, end = info["data_offsets"]
        raw = np.frombuffer(data[start:end], dtype=np.dtype(_DTYPES[dtype]).newbyteorder("<"))
        if dtype == "BF16":
            raw = (raw.astype(np.uint32) << 16).view(np.float32)
        out[name] = raw.astype(np.float32).reshape(info["shape"])
    return out


# --- byte-level BPE (src/data/byte_level.ts, src/data/tokenizer.ts) -----------------------------------------------


def _bytes_to_unicode():
    """GPT-2's byte -> stand-in character: printable Latin-1 maps to itself, the rest to U+0100 onwards."""
    out, nxt = {}, 256
    for b in range(256):
        printable = 0x21 <= b <= 0x7E or 0xA1 <= b <= 0xAC or 0xAE <= b <= 0xFF
        out[b] = chr(b if printable else nxt)
        if not printable:
            nxt += 1
    return out


BYTE_TO_CHAR = _bytes_to_unicode()
CHAR_TO_BYTE = {c: b for b, c in BYTE_TO_CHAR.items()}

# Unicode White_Space, as Oniguruma (Hugging Face tokenizers) reads \s.
_WS = set("\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | {chr(c) for c in range(0x2000, 0x200B)}
_CONTRACTIONS = ("s", "t", "re", "ve", "m", "ll", "d")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _kind(ch):
    """'w' whitespace, 'L' letter, 'N' number, 'o' anything else: the classes of the GPT-2 pattern."""
    if ch in _WS:
        return "w"
    cat = unicodedata.category(ch)[0]
    return cat if cat in "LN" else "o"


def gpt2_pretokens(text):
    """The matches of GPT-2's pattern, in order (no third-party `regex`): alternatives tried left to right,
    `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+`."""
    out, i, n = [], 0, len(text)
    kinds = [_kind(c) for c in text]
    while i < n:
        if text[i] == "'":
            c = next((c for c in _CONTRACTIONS if text.startswith(c, i + 1)), None)
            if c is not None:
                out.append(text[i : i + 1 + len(c)])
                i += 1 + len(c)
                continue
        # ` ?X+` for X in letters, numbers, others: an optional leading space, then a run of one class.
        start = i + 1 if text[i] == " " and i + 1 < n and kinds[i + 1] != "w" else i
        k = kinds[start]
        if k != "w":
            j = start + 1
            while j < n and kinds[j] == k:
                j += 1
            out.append(text[i:j])
            i = j
            continue
        j = i + 1
        while j < n and kinds[j] == "w":
            j += 1
        # `\s+(?!\S)` keeps the last space for the next word; alone before a word, `\s+` takes it.
        if j < n and j - 1 > i:
            j -= 1
        out.append(text[i:j])
        i = j
    return out


class Tokenizer:
    """Byte-level BPE from a Hugging Face tokenizer.json, encoding exactly as storyteller's Tokenizer."""

    def __init__(self, spec):
        model = spec.get("model") or {}
        if model.get("type", "BPE") != "BPE" or spec.get("normalizer") is not None:
            raise ValueError("Cannot load tokenizer.json: only byte-level BPE without a normalizer is supported")
        self.vocab = dict(model["vocab"])
        size = max(self.vocab.values()) + 1
        added = spec.get("added_tokens") or []
        for a in added:
            size = max(size, a["id"] + 1)
        self.token_bytes = [b""] * size
        for tok, i in self.vocab.items():
            self.token_bytes[i] = bytes(CHAR_TO_BYTE[c] for c in tok)
        self.byte_ids = [self.vocab[BYTE_TO_CHAR[b]] for b in range(256)]
        self.ranks, self.merged = {}, []
        for rank, m in enumerate(model.get("merges") or []):
            left, right = m.split(" ", 1) if isinstance(m, str) else m
            self.ranks.setdefault((self.vocab[left], self.vocab[right]), rank)
            self.merged.append(self.vocab[left + right])
        self.ignore_merges = model.get("ignore_merges") is True
        self.added = {a["content"]: a["id"] for a in added}
        self.special = {a["id"] for a in added if a.get("special", True) is not False}
        for a in added:
            if not self.token_bytes[a["id"]]:
                self.token_bytes[a["id"]] = a["content"].encode("utf-8")
        contents = sorted(self.added, key=len, reverse=True)
        self.split = re.compile("(" + "|".join(map(re.escape, contents)) + ")") if contents else None
        self.eot_id = self.added.get("<|endoftext|>", self.vocab.get("<|endoftext|>"))
        self.add_prefix_space, self.pretokens = self._pre_tokenizer(spec.get("pre_tokenizer"))
        self.cache = {}

    @staticmethod
    def _pre_tokenizer(pt):
        if pt and pt.get("type") == "ByteLevel":
            split = gpt2_pretokens if pt.get("use_regex", True) else (lambda s: [s])
            return pt.get("add_prefix_space") is True, split
        seq = (pt or {}).get("pretokenizers") or []
        if len(seq) == 2 and seq[0].get("type") == "Split" and seq[1].get("type") == "ByteLevel":
            try:
                import regex  # JavaScript-style \p{..} classes need the third-party module
            except ImportError as err:
                raise ValueError(
                    "Cannot load tokenizer.json: its Split pre-tokenizer regex needs the `regex` package "
                    "(pip install regex)"
                ) from err
            pattern = regex.compile(seq[0]["pattern"]["Regex"])
            return seq[1].get("add_prefix_space") is True, pattern.findall
        raise ValueError(f"Cannot load tokenizer.json: pre_tokenizer {pt and pt.get('type')} is not supported")

    def encode(self, text):
        """Token ids of `text`; added tokens written in the text become their ids."""
        text = _LONE_SURROGATE.sub("\ufffd", text)  # as JavaScript's TextEncoder does
        parts = self.split.split(text) if self.split else [text]
        out = []
        for i, part in enumerate(parts):
            if i % 2 == 1:
                out.append(self.added[part])
            elif part:
                if self.add_prefix_space and not part.startswith(" "):
                    part = " " + part
                for piece in self.pretokens(part):
                    ids = self.cache.get(piece)
                    if ids is None:
                        ids = self.cache[piece] = self._bpe(piece)
                    out.extend(ids)
        return out

    def _bpe(self, piece):
        """Merge the lowest-ranked adjacent pair, leftmost first, until none is left (as Hugging Face does)."""
        raw = piece.encode("utf-8")
        if self.ignore_merges:
            whole = self.vocab.get("".join(BYTE_TO_CHAR[b] for b in raw))
            if whole is not None:
                return [whole]
        syms = [self.byte_ids[b] for b in raw]
        while len(syms) > 1:
            best, at = None, -1
            for i in range(len(syms) - 1):
                r = self.ranks.get((syms[i], syms[i + 1]))
                if r is not None and (best is None or r < best):
                    best, at = r, i
            if at < 0:
                break
            syms[at : at + 2] = [self.merged[best]]
        return syms

    def decode(self, ids, skip_special=True):
        """Text of `ids`; bytes that are not valid UTF-8 become U+FFFD."""
        raw = b"".join(self.token_bytes[i] for i in ids if not (skip_special and i in self.special))
        return raw.decode("utf-8", errors="replace")


# --- the model (src/reference: rmsnorm, rope, attention, swiglu, moe) ---------------------------------------------


def rmsnorm(x, w, eps):
    """x (N,C) -> x / sqrt(mean(x^2) + eps) * w."""
    x64 = x.astype(np.float64)
    r = 1.0 / np.sqrt((x64 * x64).mean(axis=-1, keepdims=True) + eps)
    return (x64 * r * w).astype(np.float32)


def silu(g):
    return g / (1.0 + np.exp(-g))


class Model:
    """storyteller's decoder: RMSNorm, rotate-half RoPE, grouped-query attention, SwiGLU or MoE MLP."""

    def __init__(self, cfg, weights):
        self.cfg, self.w = cfg, weights
        self.V, self.C, self.L = cfg["vocab_size"], cfg["hidden_size"], cfg["num_layers"]
        self.NH = cfg["num_heads"]
        self.KVH = cfg.get("num_kv_heads") or self.NH
        self.HS = self.C // self.NH
        self.T = cfg["max_seq_len"]
        self.eps = cfg["norm_eps"]
        moe = cfg.get("moe") or {}
        self.E, self.K = moe.get("num_experts", 0), moe.get("top_k", 2)
        layers = moe.get("layers", "all")
        if self.E <= 0:
            self.moe_layers = set()
        elif layers == "all":
            self.moe_layers = set(range(self.L))
        elif layers == "every_other":
            self.moe_layers = set(range(1, self.L, 2))
        else:
            self.moe_layers = set(layers)
        self.head = weights["embed.weight" if cfg["tie_embeddings"] else "head.weight"]
        # RoPE table in f32 steps, as the reference and torch compute it: inv[i] = 1 / theta^(2i/HS).
        half = self.HS // 2
        expo = (2 * np.arange(half, dtype=np.float32) / np.float32(self.HS)).astype(np.float32)
        inv = (np.float32(1) / np.power(np.float32(cfg["rope_theta"]), expo, dtype=np.float32)).astype(np.float32)
        angle = (np.arange(self.T, dtype=np.float32)[:, None] * inv[None, :]).astype(np.float32)  # (T, HS/2)
        self.cos, self.sin = np.cos(angle.astype(np.float64)), np.sin(angle.astype(np.float64))

    def new_cache(self):
        """Per layer, keys and values (T, KVH, HS)."""
        shape = (self.L, self.T, self.KVH, self.HS)
        return {"k": np.zeros(shape, np.float32), "v": np.zeros(shape, np.float32)}

    def rope(self, x, pos0):
        """x (N, H, HS) at positions pos0.. -> rotated: (x1, x2) -> (x1 cos - x2 sin, x2 cos + x1 sin)."""
        n, half = x.shape[0], self.HS // 2
        c = self.cos[pos0 : pos0 + n, None, :]
        s = self.sin[pos0 : pos0 + n, None, :]
        x1, x2 = x[..., :half].astype(np.float64), x[..., half:].astype(np.float64)
        return np.concatenate([x1 * c - x2 * s, x2 * c + x1 * s], axis=-1).astype(np.float32)

    def attention(self, q, k, v, pos0):
        """q (N,NH,HS) for positions pos0.., k and v (pos0+N, KVH, HS) -> (N, NH*HS), causal."""
        n, group = q.shape[0], self.NH // self.KVH
        kh = np.repeat(k, group, axis=1)  # (S, NH, HS): head h reads kv head h // group
        vh = np.repeat(v, group, axis=1)
        s = np.einsum("nhd,shd->hns", q.astype(np.float64), kh.astype(np.float64)) / np.sqrt(self.HS)
        mask = np.arange(k.shape[0])[None, :] > (pos0 + np.arange(n))[:, None]  # (N, S)
        s[:, mask] = -np.inf
        p = np.exp(s - s.max(axis=-1, keepdims=True))
        p /= p.sum(axis=-1, keepdims=True)
        return np.einsum("hns,shd->nhd", p, vh.astype(np.float64)).astype(np.float32).reshape(n, -1)

    def mlp(self, l, x):
        p = f"blocks.{l}.mlp"
        if l not in self.moe_layers:
            h = silu(x @ self.w[f"{p}.gate.weight"].T) * (x @ self.w[f"{p}.up.weight"].T)
            return h @ self.w[f"{p}.down.weight"].T
        # Router softmax, top-k by probability (ties: lower index), weights renormalised over the chosen.
        logits = (x @ self.w[f"{p}.router.weight"].T).astype(np.float64)
        probs = np.exp(logits - logits.max(axis=-1, keepdims=True))
        probs /= probs.sum(axis=-1, keepdims=True)
        y = np.zeros_like(x)
        for t in range(x.shape[0]):
            chosen = np.argsort(-probs[t], kind="stable")[: self.K]
            weights = probs[t, chosen] / probs[t, chosen].sum()
            for e, wgt in zip(chosen, weights):
                g = self.w[f"{p}.experts.gate.weight"][e] @ x[t]
                u = self.w[f"{p}.experts.up.weight"][e] @ x[t]
                y[t] += np.float32(wgt) * (self.w[f"{p}.experts.down.weight"][e] @ (silu(g) * u))
        return y

    def forward(self, ids, pos0, cache):
        """Logits (N, V) of tokens `ids` at positions pos0.., reading and extending the KV cache."""
        n, w = len(ids), self.w
        x = w["embed.weight"][np.asarray(ids)]  # (N, C)
        for l in range(self.L):
            p = f"blocks.{l}"
            h = rmsnorm(x, w[f"{p}.n1.weight"], self.eps)
            q = self.rope((h @ w[f"{p}.attn.q.weight"].T).reshape(n, self.NH, self.HS), pos0)
            k = self.rope((h @ w[f"{p}.attn.k.weight"].T).reshape(n, self.KVH, self.HS), pos0)
            v = (h @ w[f"{p}.attn.v.weight"].T).reshape(n, self.KVH, self.HS)
            cache["k"][l, pos0 : pos0 + n] = k
            cache["v"][l, pos0 : pos0 + n] = v
            att = self.attention(q, cache["k"][l, : pos0 + n], cache["v"][l, : pos0 + n], pos0)
            x = x + att @ w[f"{p}.attn.o.weight"].T
            x = x + self.mlp(l, rmsnorm(x, w[f"{p}.n2.weight"], self.eps))
        return rmsnorm(x, w["norm.weight"], self.eps) @ self.head.T


# --- generation and MLflow's entry points -------------------------------------------------------------------------


def pick(logits, temperature, top_k, top_p, rng):
    """Greedy argmax (first on ties) at temperature <= 0, else a sample after the top-k and top-p filters."""
    if temperature <= 0:
        return int(np.argmax(logits))
    z = logits.astype(np.float64) / temperature
    order = np.argsort(-z, kind="stable")
    if 0 < top_k < len(z):
        order = order[:top_k]
    p = np.exp(z[order] - z[order[0]])
    p /= p.sum()
    if top_p < 1:
        keep = int(np.searchsorted(np.cumsum(p), top_p)) + 1  # the smallest prefix holding top_p of the mass
        order, p = order[:keep], p[:keep] / p[:keep].sum()
    return int(order[rng.choice(len(order), p=p)])


def _number(params, name, default, ok, expect, kind=float):
    v = params.get(name)
    if v is None:
        return default
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not ok(v) or (kind is int and v != int(v)):
        raise ValueError(f"Invalid value for 'params.{name}': {v!r} (expected {expect})")
    return kind(v)


PARAMS = ("max_tokens", "max_new_tokens", "temperature", "top_k", "top_p", "seed")


class StorytellerModel:
    """What `_load_pyfunc` returns: `predict` writes one story per prompt."""

    def __init__(self, path):
        path = path if os.path.isdir(path) else os.path.dirname(path)

        def read_json(name):
            with open(os.path.join(path, name), encoding="utf-8") as f:
                return json.load(f)

        self.model = Model(read_json("config.json"), read_safetensors(os.path.join(path, "model.safetensors")))
        self.tokenizer = Tokenizer(read_json("tokenizer.json"))
        self.generation = read_json("generation_config.json")

    def options(self, params):
        """Generation options from MLflow `params`, checked as storyteller's /invocations checks them."""
        params = dict(params or {})
        unknown = sorted(set(params) - set(PARAMS))
        if unknown:
            raise ValueError(f"Unknown field(s) {unknown} in 'params' (accepted: {', '.join(PARAMS)})")
        g = self.generation
        max_tokens = g.get("max_new_tokens", min(256, self.model.T))
        for name in ("max_tokens", "max_new_tokens"):
            max_tokens = _number(params, name, max_tokens, lambda x: 0 <= x <= 1 << 20, "an integer from 0", int)
        seed = _number(params, "seed", -1, lambda x: abs(x) < 2**53, "an integer; -1 draws a fresh one", int)
        return {
            "max_tokens": max_tokens,
            "temperature": _number(params, "temperature", g.get("temperature", 0.8), lambda x: 0 <= x <= 100,
                                   "a number from 0 to 100"),
            "top_k": _number(params, "top_k", g.get("top_k", 50), lambda x: x >= 0, "an integer >= 0 (0 = off)", int),
            "top_p": _number(params, "top_p", g.get("top_p", 0.95), lambda x: 0 < x <= 1, "a number in (0, 1]"),
            "seed": None if seed == -1 else seed % 2**32,
        }

    def generate_ids(self, ids, max_tokens=20, temperature=0.0, top_k=0, top_p=1.0, seed=None):
        """Up to `max_tokens` new ids after `ids`, stopping after an end-of-text id (which is not returned).
        Past the context the window slides: the last 3/4 of it is prefilled again, as storyteller does."""
        m = self.model
        if not 0 < len(ids) <= m.T:
            raise ValueError(f"Cannot generate: the prompt has {len(ids)} tokens, the model's context {m.T}")
        stop = {i for i in (self.tokenizer.eot_id, self.generation.get("eos_token_id", -1)) if i is not None and i >= 0}
        rng = np.random.default_rng(seed)
        seq, out = list(ids), []
        cache, filled = m.new_cache(), 0
        while len(out) < max_tokens:
            if filled == m.T:  # full: keep the last 3/4 and prefill it again
                keep = max(1, m.T - max(1, m.T // 4))
                seq, cache, filled = seq[-keep:], m.new_cache(), 0
            logits = m.forward(seq[filled:], filled, cache)[-1]
            filled = len(seq)
            nxt = pick(logits, temperature, top_k, top_p, rng)
            if nxt in stop:
                break
            out.append(nxt)
            seq.append(nxt)
        return out

    def predict(self, model_input, params=None):
        """Stories for a list of prompts, a prompt, {"prompt": [...]} or a one-column (or `prompt`) DataFrame."""
        opts = self.options(params)
        stories = []
        for prompt in prompts_of(model_input):
            ids = self.tokenizer.encode(prompt)
            if opts["max_tokens"] == 0:
                stories.append("")
                continue
            stories.append(self.tokenizer.decode(self.generate_ids(ids, **opts)))
        return stories


def prompts_of(data):
    """The prompt strings of MLflow's input shapes; pandas is used only if the caller passed a DataFrame."""
    if hasattr(data, "columns") and hasattr(data, "iloc"):  # a pandas DataFrame
        cols = list(data.columns)
        if "prompt" not in cols and len(cols) != 1:
            raise ValueError(f"Invalid input: no 'prompt' column in {cols}")
        data = list(data["prompt" if "prompt" in cols else cols[0]])
    elif isinstance(data, dict):
        data = data.get("prompt", next(iter(data.values())) if len(data) == 1 else None)
    if isinstance(data, str):
        data = [data]
    if isinstance(data, np.ndarray):
        data = data.reshape(-1).tolist()
    prompts = []
    for row in data if isinstance(data, (list, tuple)) else [None]:
        if isinstance(row, (list, tuple)) and len(row) == 1:
            row = row[0]
        if isinstance(row, dict):
            row = row.get("prompt", next(iter(row.values())) if len(row) == 1 else None)
        if not isinstance(row, str):
            raise ValueError(f"Invalid input: each row needs a string prompt, got {row!r:.80}")
        prompts.append(row)
    return prompts


def _load_pyfunc(path):
    """MLflow's entry point: `path` is the flavor's `data`, the model directory."""
    return StorytellerModel(path)
