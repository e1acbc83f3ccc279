#!/usr/bin/python3
"""The PyTorch side of tools/convergence.ts: trains ../shared/bench/torch_reference.py's model on storyteller's token
files and prints `step N val_loss X`, evaluating on the SAME fixed validation windows as storyteller's EvalSampler
(batch k, row b reads tokens [w·T, w·T + T + 1) with w = (k·B + b) mod floor((len − 1)/T)) instead of the reference's
random windows. Model, schedule (lr_at), AdamW groups and clipping are the reference's own, imported from it.
Optionally it starts from storyteller's initial parameters (--init-params: flat f32 + a JSON layout of name, shape,
offset) and trains on storyteller's exact batches (--batches: (steps·accum, B, T+1) token ids), so the two runs
differ only in arithmetic, not in random draws.

  /usr/bin/python3 tools/torch_convergence.py config.json --train-tokens train.bin --val-tokens val.bin \
      [--token-dtype uint16] [--init-params init.f32 --init-layout layout.json] [--batches batches.bin]
      [--reference ../shared/bench/torch_reference.py] [--eval fixed|random]

`--eval random` runs the reference's converge() unchanged. Works with torch 1.13 (Debian's python3-torch).
"""
import argparse, importlib.util, json, os, sys

import numpy as np
import torch
import yaml

DEFAULT_REF = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "bench", "torch_reference.py")


def load_reference(path):
    spec = importlib.util.spec_from_file_location("torch_reference", path)
    if spec is None or not os.path.exists(path):
        sys.exit(f"Cannot load the PyTorch reference: no file {path} (pass --reference)")
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    return ref


def fixed_windows(val, B, T, steps):
    """EvalSampler's windows: batch k row b starts at ((k·B + b) mod windows)·T."""
    windows = (len(val) - 1) // T
    for k in range(steps):
        starts = [((k * B + b) % windows) * T for b in range(B)]
        x = torch.stack([val[s:s + T] for s in starts])
        y = torch.stack([val[s + 1:s + T + 1] for s in starts])
        yield x, y


def load_init(m, params_path, layout_path):
    """Copies storyteller's initial parameters into the model (names as torch's named_parameters)."""
    flat = torch.from_numpy(np.fromfile(params_path, dtype=np.float32))
    with open(layout_path) as f:
        entries = {e["name"]: e for e in json.load(f)}
    params = dict(m.named_parameters())
    missing = sorted(set(params) ^ set(entries))
    if missing:
        sys.exit(f"Cannot load the initial parameters: names differ between the model and {layout_path}: {missing}")
    with torch.no_grad():
        for name, p in params.items():
            e = entries[name]
            if list(p.shape) != e["shape"]:
                sys.exit(f"Cannot load {name}: shape {e['shape']} in {layout_path}, {list(p.shape)} in the model")
            p.copy_(flat[e["offset"]:e["offset"] + p.numel()].view(p.shape))


def converge_fixed(ref, c, t, a, dev):
    """The reference's converge() loop with the evaluation on fixed windows (same data order, init and optimizer)."""
    dt = np.uint16 if a.token_dtype == "uint16" else np.uint32
    train = torch.from_numpy(np.fromfile(a.train_tokens, dtype=dt).astype(np.int64))
    val = torch.from_numpy(np.fromfile(a.val_tokens, dtype=dt).astype(np.int64))
    B, T = t.get("batch_size", 32), c["max_seq_len"]
    torch.manual_seed(t.get("seed", 1337))
    m = ref.Storyteller(c).to(dev)
    if a.init_params:
        load_init(m, a.init_params, a.init_layout)
    decay = [p for n, p in m.named_parameters() if p.dim() >= 2 and "embed" not in n]
    other = [p for n, p in m.named_parameters() if not (p.dim() >= 2 and "embed" not in n)]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": t.get("weight_decay", 0.1)}, {"params": other, "weight_decay": 0.0}],
        lr=t.get("learning_rate", 5e-4), betas=(t.get("beta1", 0.9), t.get("beta2", 0.95)), eps=t.get("adam_eps", 1e-8))
    g = torch.Generator().manual_seed(t.get("seed", 1337))

    given = None
    if a.batches:
        given = torch.from_numpy(np.fromfile(a.batches, dtype=dt).astype(np.int64)).view(-1, B, T + 1)
        need = t.get("max_steps", 1000) * t.get("grad_accum_steps", 1)
        if given.shape[0] < need:
            sys.exit(f"Cannot train on {a.batches}: {given.shape[0]} batches, fewer than the {need} needed")
    drawn = [0]

    def batch(data):
        if given is not None:
            rows = given[drawn[0]]
            drawn[0] += 1
            return rows[:, :T].to(dev), rows[:, 1:].to(dev)
        ix = torch.randint(len(data) - T - 1, (B,), generator=g)
        x = torch.stack([data[i:i + T] for i in ix])
        y = torch.stack([data[i + 1:i + T + 1] for i in ix])
        return x.to(dev), y.to(dev)

    def evaluate():
        m.eval()
        n, tot = t.get("eval_steps", 20), 0.0
        with torch.no_grad():
            for x, y in fixed_windows(val, B, T, n):
                tot += m(x.to(dev), y.to(dev)).item()
        m.train()
        return tot / n

    steps, every, accum = t.get("max_steps", 1000), t.get("eval_interval", 100), t.get("grad_accum_steps", 1)
    print(f"converge (fixed eval windows): {len(train):,} train / {len(val):,} val tokens, batch {B}x{T}, {steps} steps")
    for step in range(steps):
        if step % every == 0:
            print(f"step {step} val_loss {evaluate():.4f}", flush=True)
        for pg in opt.param_groups:
            pg["lr"] = ref.lr_at(step, t)
        for _ in range(accum):
            (m(*batch(train)) / accum).backward()
        if t.get("grad_clip", 1.0):
            torch.nn.utils.clip_grad_norm_(m.parameters(), t.get("grad_clip", 1.0))
        opt.step()
        opt.zero_grad(set_to_none=True)
    print(f"step {steps} val_loss {evaluate():.4f}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config", help="resolved config (YAML or JSON) with model.* and training.*")
    ap.add_argument("--train-tokens", required=True)
    ap.add_argument("--val-tokens", required=True)
    ap.add_argument("--token-dtype", default="uint16", choices=["uint16", "uint32"])
    ap.add_argument("--init-params", help="flat little-endian f32 initial parameters (storyteller's layout)")
    ap.add_argument("--init-layout", help="JSON list of {name, shape, offset} for --init-params")
    ap.add_argument("--batches", help="training batches (steps·accum, B, T+1) in --token-dtype")
    ap.add_argument("--reference", default=DEFAULT_REF)
    ap.add_argument("--eval", default="fixed", choices=["fixed", "random"])
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    if bool(a.init_params) != bool(a.init_layout):
        sys.exit("Cannot load initial parameters: pass both --init-params and --init-layout")
    ref = load_reference(a.reference)
    with open(a.config) as f:
        text = f.read()
    # JSON first: YAML 1.1 reads JSON's 1e-8 as a string
    cfg = json.loads(text) if a.config.endswith(".json") else yaml.safe_load(text)
    c, t = cfg["model"], cfg.get("training", {})
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"torch {torch.__version__} on {dev}", flush=True)
    if a.eval == "random":
        if a.init_params or a.batches:
            sys.exit("Cannot share init or batches with --eval random: that runs the reference's converge() as is")
        a.batch_size = None
        return ref.converge(c, t, a, dev)
    return converge_fixed(ref, c, t, a, dev)


if __name__ == "__main__":
    main()
