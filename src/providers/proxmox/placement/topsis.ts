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
  const values = new Float64Array(matrix.length * columns);
  matrix.forEach((row, i) => {
    if (row.length !== columns) throw new Error(`TOPSIS row ${i} has ${row.length} values, expected ${columns}`);
    for (let j = 0; j < columns; j++) values[i * columns + j] = row[j];
  });
  return rankFlat(values, matrix.length, weights);
}

/**
 * {@link rankByTopsis} over a row-major matrix of `rows` × `weights.length` values: the placement
 * ledger ranks 64 nodes per new VM, 10,000 times in a fleet-sized plan, so nothing here allocates
 * per value. Same arithmetic, in the same order, as the definition above (scores are bit-identical).
 */
export function rankFlat(values: Float64Array, rows: number, weights: number[]): TopsisRanking {
  const columns = weights.length;
  if (columns === 0) throw new Error("TOPSIS needs at least one criterion");
  for (let i = 0; i < rows * columns; i++) {
    if (!Number.isFinite(values[i])) throw new Error(`TOPSIS row ${Math.floor(i / columns)} holds a value that is not a finite number`);
  }
  if (!weights.every(Number.isFinite)) throw new Error("TOPSIS weights must be finite numbers");
  const weightSum = weights.reduce((s, w) => s + Math.abs(w), 0);
  if (weightSum === 0) throw new Error("no criterion has a non-zero weight");
  if (rows === 0) return { order: [], scores: [] };

  const w = weights.map((x) => Math.abs(x) / weightSum);
  const best = new Float64Array(columns);
  const worst = new Float64Array(columns);
  const normalised = new Float64Array(rows * columns);
  for (let j = 0; j < columns; j++) {
    let sum = 0;
    for (let i = 0; i < rows; i++) sum += values[i * columns + j] * values[i * columns + j];
    const norm = Math.sqrt(sum);
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < rows; i++) {
      const x = norm === 0 ? values[i * columns + j] : values[i * columns + j] / norm;
      normalised[i * columns + j] = x;
      min = Math.min(min, x);
      max = Math.max(max, x);
    }
    best[j] = weights[j] >= 0 ? max : min;
    worst[j] = weights[j] >= 0 ? min : max;
  }

  const scores = new Array<number>(rows);
  for (let i = 0; i < rows; i++) {
    let toBest = 0;
    let toWorst = 0;
    for (let j = 0; j < columns; j++) {
      const x = normalised[i * columns + j];
      toBest += (w[j] * (x - best[j])) ** 2;
      toWorst += (w[j] * (x - worst[j])) ** 2;
    }
    toBest = Math.sqrt(toBest);
    toWorst = Math.sqrt(toWorst);
    scores[i] = toBest + toWorst === 0 ? 0 : toWorst / (toBest + toWorst);
  }

  // Array.prototype.sort is stable, so equal scores keep their input order.
  const order = new Array<number>(rows);
  for (let i = 0; i < rows; i++) order[i] = i;
  order.sort((a, b) => scores[b] - scores[a]);
  return { order, scores };
}
