/** The resolved config's TypeScript shape; schema.ts holds the defaults and constraints of each key. */

export interface MoeConfig {
  /** Experts per MoE layer E; 0 means a dense model. */
  num_experts: number;
  top_k: number;
  layers: "all" | "every_other" | number[];
  aux_loss_coef: number;
  z_loss_coef: number;
}

export interface ModelConfig {
  vocab_size: number;
  hidden_size: number;
  num_layers: number;
  num_heads: number;
  num_kv_heads: number | null;
  intermediate_size: number | null;
  max_seq_len: number;
  rope_theta: number;
  norm_eps: number;
  tie_embeddings: boolean;
  moe: MoeConfig;
}

export interface DataConfig {
  train: string[];
  val: string[];
  val_fraction: number;
  format: "auto" | "text" | "paragraphs" | "jsonl";
  text_field: string;
  tokenizer: string | null;
  tokenizer_train_chars: number;
  cache_dir: string;
  builtin_stories: number;
  builtin_seed: number;
}

export interface TrainingConfig {
  batch_size: number;
  grad_accum_steps: number;
  max_steps: number;
  learning_rate: number;
  min_lr: number;
  warmup_steps: number;
  lr_schedule: "cosine" | "linear" | "constant";
  weight_decay: number;
  decay_embeddings: boolean;
  decay_norms: boolean;
  beta1: number;
  beta2: number;
  adam_eps: number;
  grad_clip: number;
  eval_interval: number;
  eval_steps: number;
  log_interval: number;
  sample_prompt: string;
  sample_tokens: number;
  checkpoint_dir: string;
  checkpoint_interval: number;
  checkpoint_keep: number;
  seed: number;
  use_mlflow: boolean;
  mlflow_experiment_name: string;
  mlflow_run_name: string | null;
  mlflow_tracking_uri: string | null;
  tags: Record<string, string>;
  notes: string | null;
  device: "auto" | "gpu" | "cpu";
  use_amp: boolean;
  amp_dtype: "float16" | "bfloat16";
}

export interface Config {
  model: ModelConfig;
  data: DataConfig;
  training: TrainingConfig;
}
