/**
 * TOPSIS, the multi-criteria ranking Proxmox's HA static scheduler uses (proxmox-resource-scheduling
 * `topsis.rs`, reference/pve-api.md §4.1). Generic: rows are alternatives, columns are criteria.
 */

export interface TopsisRanking {
  /** Row indices, best first; equal scores keep their input order (stable). */
  order: number[];
  /** Closeness to the ideal per row, in input order, in [0, 1]. */
  scores: number[];
}

/**
 * Ranks the rows of `matrix` by closeness to the ideal solution.
 *
 * `weights` has one entry per column; a negative weight means "smaller is better". Weights are
 * divided by Σ|w|. Each column is divided by its Euclidean (L2) norm; a column of zeros stays as
 * it is. Score = d⁻ / (d⁺ + d⁻) with weighted Euclidean distances to the ideal and anti-ideal
 * rows; 0 when both are 0 (every alternative alike).
 */
export function rankByTopsis(matrix: number[][], weights: number[]): TopsisRanking {
  const columns = weights.length;
  if (columns === 0) throw new Error("TOPSIS needs at least one criterion");
  matrix.forEach((row, i) => {
    if (row.length !== columns) throw new Error(`TOPSIS row ${i} has ${row.length} values, expected ${columns}`);
    if (!row.every(Number.isFinite)) throw new Error(`TOPSIS row ${i} holds a value that is not a finite number`);
  });
  if (!weights.every(Number.isFinite)) throw new Error("TOPSIS weights must be finite numbers");
  const weightSum = weights.reduce((s, w) => s + Math.abs(w), 0);
  if (weightSum === 0) throw new Error("no criterion has a non-zero weight");
  if (matrix.length === 0) return { order: [], scores: [] };

  const w = weights.map((x) => Math.abs(x) / weightSum);
  const maximise = weights.map((x) => x >= 0);

  const norms = w.map((_, j) => Math.sqrt(matrix.reduce((s, row) => s + row[j] * row[j], 0)));
  const normalised = matrix.map((row) => row.map((x, j) => (norms[j] === 0 ? x : x / norms[j])));

  const best: number[] = [];
  const worst: number[] = [];
  for (let j = 0; j < columns; j++) {
    let min = Infinity;
    let max = -Infinity;
    for (const row of normalised) {
      min = Math.min(min, row[j]);
      max = Math.max(max, row[j]);
    }
    best.push(maximise[j] ? max : min);
    worst.push(maximise[j] ? min : max);
  }

  const distance = (row: number[], to: number[]) =>
    Math.sqrt(row.reduce((s, x, j) => s + (w[j] * (x - to[j])) ** 2, 0));
  const scores = normalised.map((row) => {
    const toBest = distance(row, best);
    const toWorst = distance(row, worst);
    return toBest + toWorst === 0 ? 0 : toWorst / (toBest + toWorst);
  });

  // Array.prototype.sort is stable, so equal scores keep their input order.
  const order = scores.map((_, i) => i).sort((a, b) => scores[b] - scores[a]);
  return { order, scores };
}
