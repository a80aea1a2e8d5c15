import { describe, it, expect } from "vitest";
import { rankByTopsis } from "../../../src/providers/proxmox/placement/topsis.js";

const close = (actual: number[], expected: number[], digits = 6) => {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((a, i) => expect(a).toBeCloseTo(expected[i], digits));
};

describe("rankByTopsis", () => {
  it("ranks a single maximised criterion by value (pve-api.md §4.5)", () => {
    const r = rankByTopsis([[1], [2], [5], [3], [4]], [1]);
    expect(r.order).toEqual([2, 4, 3, 1, 0]);
    close(r.scores, [0, 0.25, 1, 0.5, 0.75]);
  });

  it("ranks a single minimised criterion in reverse", () => {
    expect(rankByTopsis([[1], [2], [5], [3], [4]], [-1]).order).toEqual([0, 1, 3, 4, 2]);
  });

  it("mixes a maximised and a minimised criterion, with negative values (upstream decision-radar case)", () => {
    const r = rankByTopsis([[7, 4], [1, 0.5], [-1, -1], [-8.5, 11.5], [4, 7]], [1, -1]);
    expect(r.order).toEqual([0, 1, 4, 2, 3]);
  });

  it("leaves an all-zero column as it is", () => {
    expect(rankByTopsis([[0, 0, 0], [0, 1, 0], [0, 0, 1]], [10, 0.2, 0.1]).order).toEqual([1, 2, 0]);
  });

  it("reproduces Nstance's simple cpu/memory vector", () => {
    const r = rankByTopsis([[80, 60], [40, 20], [60, 80]], [1, 1]);
    close(r.scores, [0.733639, 0, 0.768648]);
    expect(r.order).toEqual([2, 0, 1]);
  });

  it("reproduces Nstance's cost-minimisation vector", () => {
    close(rankByTopsis([[90, 80], [10, 20], [50, 50]], [-1, -1]).scores, [0, 1, 0.5]);
  });

  it("reproduces Nstance's weighted vector and does not depend on the weights' scale", () => {
    close(rankByTopsis([[100, 20], [50, 100]], [3, 1]).scores, [0.631032, 0.368968]);
    close(rankByTopsis([[100, 20], [50, 100]], [0.75, 0.25]).scores, [0.631032, 0.368968]);
  });

  it("scores every alternative 0 when they are all alike, keeping input order", () => {
    const r = rankByTopsis([[3, 4], [3, 4], [3, 4]], [1, 1]);
    expect(r.scores).toEqual([0, 0, 0]);
    expect(r.order).toEqual([0, 1, 2]);
  });

  it("keeps input order between equal scores (stable ranking)", () => {
    expect(rankByTopsis([[1], [5], [1], [5]], [1]).order).toEqual([1, 3, 0, 2]);
  });

  it("returns an empty ranking for no alternatives", () => {
    expect(rankByTopsis([], [1])).toEqual({ order: [], scores: [] });
  });

  it("refuses weights that are all zero", () => {
    expect(() => rankByTopsis([[1, 2]], [0, 0])).toThrow("no criterion has a non-zero weight");
  });

  it("refuses a NaN in the matrix", () => {
    expect(() => rankByTopsis([[1, Number.NaN]], [1, 1])).toThrow(/not a finite number/);
  });

  it("refuses a row of the wrong length", () => {
    expect(() => rankByTopsis([[1, 2], [1]], [1, 1])).toThrow(/row 1 has 1 values, expected 2/);
  });
});
