// What every matmul core (kernels/matmul_tile.wgsl for GPUs, matmul_reg.wgsl and matmul_reg4.wgsl for CPU
// adapters) shares with its prelude and launcher: the block one workgroup computes — WX×WY threads, each TM×TN
// outputs — and the `Tile` that describes its job. Composed before the core (src/kernels/matmul.ts, moe.ts).

override WX: u32 = 16; // threads along N
override WY: u32 = 16; // threads along M
const TM: u32 = 8u; // rows per thread
const TN: u32 = 8u; // columns per thread
const BK: u32 = 8u; // K slice per iteration; split-K chunks are multiples of it
override BM: u32 = WY * TM;
override BN: u32 = WX * TN;

// One workgroup's job; every field must be workgroup-uniform (the tile core's K loop holds barriers).
struct Tile {
  row0: u32, // first output row of the block
  col0: u32, // first output column
  k_begin: u32, // the K range summed (a split's share, or an expert's rows)
  k_end: u32,
  m_end: u32, // rows at or past it are outside (M, or the end of an expert's rows)
  a0: u32, // element offsets for the prelude's loads and stores (batch item, packed tensor, partial)
  b0: u32,
  c0: u32,
  scale: f32, // the factor the prelude's store applies (alpha, alpha/S, 1 for split partials)
}
