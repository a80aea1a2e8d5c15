import { describe, it, expect } from "vitest";
import { createPlacementLedger, type Placement, type PlacementError } from "../../../src/providers/proxmox/placement/ledger.js";
import type { LiveNode } from "../../../src/providers/proxmox/types.js";

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const small = { cores: 1, memoryBytes: 1 * GiB };

function node(name: string, fields: Partial<LiveNode> = {}): LiveNode {
  return { node: name, online: true, maxcpu: 8, cpu: 0, maxmem: 32 * GiB, mem: 0, ...fields };
}

function placed(r: Placement | PlacementError): Placement {
  if ("error" in r) throw new Error(`expected a placement, got: ${r.error}`);
  return r;
}

function expectScores(p: Placement, expected: Record<string, number>): void {
  expect(Object.keys(p.scores).sort()).toEqual(Object.keys(expected).sort());
  for (const [name, score] of Object.entries(expected)) expect(p.scores[name]).toBeCloseTo(score, 6);
}

describe("nstance scheduler (free CPU 0.4, free memory 0.6)", () => {
  it("skips an offline node and picks the one with more free CPU (Nstance's test vector A)", () => {
    const p = placed(createPlacementLedger([
      node("pve1", { cpu: 0.1, maxcpu: 16, mem: 8 * GiB, maxmem: 64 * GiB }),
      node("pve2", { cpu: 0.5, maxcpu: 32, mem: 16 * GiB, maxmem: 128 * GiB }),
      node("pve3", { online: false }),
    ]).place(small));
    expect(p.node).toBe("pve1");
    expectScores(p, { pve1: 1, pve2: 0 });
  });

  it("weighs free memory above free CPU (Nstance's test vector B with the documented weights)", () => {
    const p = placed(createPlacementLedger([
      node("pve1", { cpu: 0.05, mem: 30 * GiB }),
      node("pve2", { cpu: 0.6, mem: 8 * GiB }),
    ]).place(small));
    expect(p.node).toBe("pve2");
    expectScores(p, { pve1: 0.280266, pve2: 0.719734 });
  });

  it("reproduces vector E", () => {
    const p = placed(createPlacementLedger([
      node("x", { cpu: 0.3, maxcpu: 4, mem: 6 * GiB, maxmem: 8 * GiB }),
      node("y", { cpu: 0.7, maxcpu: 4, mem: 2 * GiB, maxmem: 8 * GiB }),
      node("z", { cpu: 0.5, maxcpu: 4, mem: 4 * GiB, maxmem: 8 * GiB }),
    ]).place({ cores: 1, memoryBytes: 512 * MiB }));
    expect(p.node).toBe("y");
    expect(p.ranking).toEqual(["y", "z", "x"]);
    expectScores(p, { x: 0.353838, y: 0.646162, z: 0.5 });
  });

  it("chooses the memory-rich node where Nstance's 1/1 weights chose the CPU-rich one (vector F′)", () => {
    const p = placed(createPlacementLedger([
      node("cpuheavy", { cpu: 0.05, mem: 18 * GiB, maxmem: 40 * GiB }),
      node("memheavy", { cpu: 0.45, mem: 4 * GiB, maxmem: 40 * GiB }),
      node("mid", { cpu: 0.3, mem: 12 * GiB, maxmem: 40 * GiB }),
    ]).place(small));
    expect(p.node).toBe("memheavy");
    expectScores(p, { cpuheavy: 0.425559, memheavy: 0.574441, mid: 0.409833 });
  });

  it("breaks a tie by node name, not by listing order (vector C)", () => {
    const same = { cpu: 0.2, maxcpu: 4, mem: 4 * GiB, maxmem: 16 * GiB };
    const p = placed(createPlacementLedger([node("b", same), node("a", same)]).place(small));
    expect(p.node).toBe("a");
    expectScores(p, { a: 0, b: 0 });
  });

  it("places on the only usable node without ranking (vector D)", () => {
    const p = placed(createPlacementLedger([
      node("a", { cpu: 0.25, maxcpu: 4, mem: 2 * GiB, maxmem: 8 * GiB }),
      node("b", { maxcpu: 0 }),
      node("c", { online: false }),
    ]).place(small));
    expect(p).toEqual({ node: "a", ranking: ["a"], scores: { a: 1 } });
  });

  it("reports an empty cluster (vector G) and one with no usable node (vector H)", () => {
    expect(createPlacementLedger([]).place(small)).toEqual({ error: "no nodes available in cluster" });
    expect(createPlacementLedger([node("a", { online: false }), node("b", { maxmem: 0 })]).place(small))
      .toEqual({ error: "no online nodes available" });
  });

  it("does not offer a node that cannot hold the VM's memory", () => {
    const ledger = createPlacementLedger([
      node("roomy", { cpu: 0.9, mem: 16 * GiB }),
      node("full", { cpu: 0, mem: 31 * GiB }),
    ]);
    const p = placed(ledger.place({ cores: 1, memoryBytes: 2 * GiB }));
    expect(p.node).toBe("roomy");
    expect(Object.keys(p.scores)).toEqual(["roomy"]);
    expect(ledger.place({ cores: 1, memoryBytes: 20 * GiB })).toEqual({ error: "no online node has 20480 MiB of memory free" });
  });
});

describe("placement ledger", () => {
  it("spreads ten VMs over identical nodes instead of piling them onto one", () => {
    const ledger = createPlacementLedger([node("pve1"), node("pve2"), node("pve3")]);
    const nodes = Array.from({ length: 10 }, () => placed(ledger.place({ cores: 2, memoryBytes: 2 * GiB })).node);
    expect(nodes.slice(0, 3)).toEqual(["pve1", "pve2", "pve3"]);
    const counts = nodes.reduce<Record<string, number>>((c, n) => ({ ...c, [n]: (c[n] ?? 0) + 1 }), {});
    expect(counts).toEqual({ pve1: 4, pve2: 3, pve3: 3 });
  });

  it("books each placed VM's cores and memory on its node", () => {
    const ledger = createPlacementLedger([node("a", { cpu: 0.5, maxcpu: 8, mem: 4 * GiB })]);
    placed(ledger.place({ cores: 2, memoryBytes: 3 * GiB }));
    expect(ledger.usage()).toEqual([{ node: "a", maxcpu: 8, maxmem: 32 * GiB, usedCores: 6, usedMemoryBytes: 7 * GiB }]);
  });

  it("runs out of memory after the nodes are full", () => {
    const ledger = createPlacementLedger([node("a", { maxmem: 4 * GiB }), node("b", { maxmem: 4 * GiB })]);
    const got = Array.from({ length: 5 }, () => ledger.place({ cores: 1, memoryBytes: 2 * GiB }));
    expect(got.slice(0, 4).map((r) => placed(r).node).sort()).toEqual(["a", "a", "b", "b"]);
    expect(got[4]).toEqual({ error: "no online node has 2048 MiB of memory free" });
  });

  it("refuses a VM size that is not a number", () => {
    expect(createPlacementLedger([node("a")]).place({ cores: Number.NaN, memoryBytes: 1 })).toHaveProperty("error");
  });
});

describe("pve-static scheduler (Proxmox HA static CRS)", () => {
  const usage = [[1.7, 12334], [15.184, 529], [5.2, 9381]];
  const homogeneous = usage.map(([cores, mib], i) =>
    node(`node${i + 1}`, { maxcpu: 16, cpu: cores / 16, maxmem: 64 * GiB, mem: mib * MiB }));
  const caps = [[16, 128], [32, 96], [24, 64]];
  const heterogeneous = usage.map(([cores, mib], i) =>
    node(`node${i + 1}`, { maxcpu: caps[i][0], cpu: cores / caps[i][0], maxmem: caps[i][1] * GiB, mem: mib * MiB }));
  const resources = {
    "heavy memory": { cores: 1, memoryBytes: 12 * GiB },
    "heavy CPU": { cores: 12, memoryBytes: 0 },
    "unlimited CPU": { cores: 0, memoryBytes: 0 },
    combined: { cores: 12, memoryBytes: 12 * GiB },
  };
  const upstream: Record<string, [string[], string[]]> = {
    "heavy memory": [["node2", "node3", "node1"], ["node2", "node1", "node3"]],
    "heavy CPU": [["node1", "node3", "node2"], ["node3", "node2", "node1"]],
    "unlimited CPU": [["node1", "node3", "node2"], ["node1", "node3", "node2"]],
    combined: [["node2", "node3", "node1"], ["node2", "node1", "node3"]],
  };

  for (const [name, vm] of Object.entries(resources)) {
    it(`orders nodes as upstream for ${name} on homogeneous and heterogeneous clusters`, () => {
      expect(placed(createPlacementLedger(homogeneous, "pve-static").place(vm)).ranking).toEqual(upstream[name][0]);
      expect(placed(createPlacementLedger(heterogeneous, "pve-static").place(vm)).ranking).toEqual(upstream[name][1]);
    });
  }

  it("gives the homogeneous heavy-memory scores of pve-api.md §4.5", () => {
    const p = placed(createPlacementLedger(homogeneous, "pve-static").place(resources["heavy memory"]));
    expect(p.scores.node2).toBeCloseTo(0.955, 3);
    expect(p.scores.node3).toBeCloseTo(0.253, 3);
    expect(p.scores.node1).toBeCloseTo(0.045, 3);
  });

  it("picks the node with more memory headroom (test-crs-static1)", () => {
    const p = placed(createPlacementLedger([
      node("node2", { maxcpu: 32, maxmem: 200e9 }),
      node("node3", { maxcpu: 32, maxmem: 300e9 }),
    ], "pve-static").place({ cores: 2, memoryBytes: 4e9 }));
    expect(p.node).toBe("node3");
    expectScores(p, { node3: 1, node2: 0 });
  });

  it("places nine VMs one after another as upstream does (test-crs-static3)", () => {
    const ledger = createPlacementLedger([
      node("node2", { maxcpu: 64, maxmem: 200e9 }),
      node("node3", { maxcpu: 32, maxmem: 100e9 }),
    ], "pve-static");
    const sequence = Array.from({ length: 9 }, () => placed(ledger.place({ cores: 2, memoryBytes: 4e9 })).node);
    expect(sequence).toEqual(["node2", "node2", "node3", "node2", "node2", "node3", "node2", "node2", "node3"]);
  });

  it("breaks ties by node name", () => {
    const p = placed(createPlacementLedger([node("zeta"), node("alpha"), node("mid")], "pve-static").place(small));
    expect(p.node).toBe("alpha");
    expect(p.ranking).toEqual(["alpha", "mid", "zeta"]);
  });
});
