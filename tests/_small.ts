/**
 * `--set` overrides that shrink an embedded config to a model that trains in seconds on lavapipe (32 wide, one
 * layer, 32 positions, 300 ids, 300 built-in stories cached under `<dir>/cache`, batch 4, 2 warmup steps); `more`
 * comes after them, so it can change any of them (sets apply in order).
 */
export function smallSets(dir: string, more: string[] = []): string[] {
  return [
    "model.hidden_size=32",
    "model.num_layers=1",
    "model.num_heads=2",
    "model.num_kv_heads=2",
    "model.intermediate_size=64",
    "model.max_seq_len=32",
    "model.vocab_size=300",
    "data.builtin_stories=300",
    `data.cache_dir=${dir}/cache`,
    "training.batch_size=4",
    "training.warmup_steps=2",
    ...more,
  ];
}
