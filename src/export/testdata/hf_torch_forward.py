"""An exported Hugging Face directory run by PyTorch alone, written from transformers' modeling_llama.py and
modeling_mixtral.py (eager attention): reads config.json and model.safetensors itself, shares no code with the
exporter, and prints the logits of every position of the given token ids as JSON.

Usage: python3 hf_torch_forward.py <hf dir> <id,id,...>
"""
import json
import struct
import sys

import torch
import torch.nn.functional as F

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def load_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    header.pop("__metadata__", None)
    data = raw[8 + n :]
    out = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[begin:end]), dtype=DTYPES[info["dtype"]])
        out[name] = t.reshape(info["shape"]).to(torch.float32)
    return out


def rms_norm(x, weight, eps):
    variance = x.pow(2).mean(-1, keepdim=True)
    return weight * (x * torch.rsqrt(variance + eps))


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


def rope(T, dim, base):
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    freqs = torch.outer(torch.arange(T).float(), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def attention(x, w, p, cfg, cos, sin):
    T = x.shape[0]
    nh, kvh = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim") or cfg["hidden_size"] // nh
    q = (x @ w[p + "self_attn.q_proj.weight"].T).view(T, nh, hd).transpose(0, 1)
    k = (x @ w[p + "self_attn.k_proj.weight"].T).view(T, kvh, hd).transpose(0, 1)
    v = (x @ w[p + "self_attn.v_proj.weight"].T).view(T, kvh, hd).transpose(0, 1)
    q = q * cos + rotate_half(q) * sin
    k = k * cos + rotate_half(k) * sin
    k = k.repeat_interleave(nh // kvh, dim=0)  # repeat_kv
    v = v.repeat_interleave(nh // kvh, dim=0)
    scores = q @ k.transpose(1, 2) * hd**-0.5
    mask = torch.full((T, T), float("-inf")).triu(1)
    probs = F.softmax(scores + mask, dim=-1, dtype=torch.float32)
    out = (probs @ v).transpose(0, 1).reshape(T, nh * hd)
    return out @ w[p + "self_attn.o_proj.weight"].T


def mlp(x, w, p):
    gate = x @ w[p + "mlp.gate_proj.weight"].T
    up = x @ w[p + "mlp.up_proj.weight"].T
    return (F.silu(gate) * up) @ w[p + "mlp.down_proj.weight"].T


def sparse_moe(x, w, p, cfg):
    router_logits = x @ w[p + "block_sparse_moe.gate.weight"].T
    routing = F.softmax(router_logits, dim=1, dtype=torch.float)
    routing, selected = torch.topk(routing, cfg["num_experts_per_tok"], dim=-1)
    routing /= routing.sum(dim=-1, keepdim=True)
    out = torch.zeros_like(x)
    for t in range(x.shape[0]):
        for k in range(selected.shape[1]):
            e = p + f"block_sparse_moe.experts.{int(selected[t, k])}."
            h = F.silu(x[t] @ w[e + "w1.weight"].T) * (x[t] @ w[e + "w3.weight"].T)
            out[t] += routing[t, k] * (h @ w[e + "w2.weight"].T)
    return out


def forward(d, ids):
    cfg = json.load(open(f"{d}/config.json"))
    w = load_safetensors(f"{d}/model.safetensors")
    eps = cfg["rms_norm_eps"]
    hd = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    cos, sin = rope(len(ids), hd, cfg["rope_theta"])
    x = w["model.embed_tokens.weight"][torch.tensor(ids)]
    for layer in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        x = x + attention(rms_norm(x, w[p + "input_layernorm.weight"], eps), w, p, cfg, cos, sin)
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        x = x + (sparse_moe(h, w, p, cfg) if cfg["model_type"] == "mixtral" else mlp(h, w, p))
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else w["lm_head.weight"]
    return x @ head.T


if __name__ == "__main__":
    with torch.no_grad():
        logits = forward(sys.argv[1], [int(i) for i in sys.argv[2].split(",")])
    print(json.dumps(logits.tolist()))
