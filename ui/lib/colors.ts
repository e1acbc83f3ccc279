/** The run colour palette (Tableau 10), stable per position in a selection. */
export const PALETTE = [
  "#4e79a7",
  "#f28e2b",
  "#e15759",
  "#76b7b2",
  "#59a14f",
  "#edc948",
  "#b07aa1",
  "#ff9da7",
  "#9c755f",
  "#bab0ac",
];

/** Colour of the i-th run. */
export const colorAt = (i: number): string => PALETTE[i % PALETTE.length];
