/**
 * How a saved plan's templates are filled back (issue 18, found by mutation testing): what no row
 * holds is shared by every row that uses the template, each placeholder is filled only where the
 * writer puts it (a node at `node`, a VMID at `vmid`, scores at `scores`, the instance ID in any
 * string or key), and a file that puts one anywhere else — or a row that cannot fill it — is
 * refused even with the hash recomputed. Pure: hand-built facts, no network.
 */
import { describe, expect, it } from "vitest";
import { parseSavedPlan, serializePlan } from "../../src/planner/saved-plan.js";
import type { Plan } from "../../src/planner/types.js";
import { iid } from "./fixtures.js";
import { type Body, edited, refusal, updateAndCreate } from "./saved-plan-files.js";

const T_ID = "\u0000i";
const T_VMID = "\u0000v";
const T_SCORES = "\u0000s";

/** One update and two creates of one group: the creates share one change template and one per step. */
const p = updateAndCreate(3);
const creates = (q: Plan) => q.changes.filter((c) => c.kind === "create");

describe("filling a template back", () => {
  it("shares what no row holds between the rows of one template, and gives each row its own placement", () => {
    const back = parseSavedPlan(serializePlan(p));
    expect(back).toEqual(p);
    const [one, two] = creates(back);
    expect(one!.instanceId).not.toBe(two!.instanceId);
    expect(one!.after).toBe(two!.after);
    expect(one!.reasons).toBe(two!.reasons);
    expect(one!.group).toBe(two!.group);
    expect(one!.placement).not.toBe(two!.placement);
    const params = (id: string) => back.actions.find((a) => a.instanceId === id && a.type === "clone")!.params;
    expect(params(one!.instanceId)).toBe(params(two!.instanceId));
  });

  it("restores an instance ID held in a key, in the key's place", () => {
    const q = structuredClone(p);
    for (const c of creates(q)) c.after = { ...c.after!, vars: { a: "1", [c.instanceId]: `host ${c.instanceId}`, z: "2" } };
    const file = JSON.parse(serializePlan(q)) as Body;
    expect(JSON.stringify(file.plan.templates.changes)).toContain(JSON.stringify({ a: "1", [T_ID]: `host ${T_ID}`, z: "2" }));
    const back = parseSavedPlan(serializePlan(q));
    expect(back).toEqual(q);
    for (const c of creates(back)) expect(Object.keys(c.after!.vars as object)).toEqual(["a", c.instanceId, "z"]);
  });

  it("restores a VMID that is the last member of its object", () => {
    const q = structuredClone(p);
    for (const a of q.actions) if (a.type === "start") a.journal = { ...a.journal, record: { phase: "ready", node: a.node, vmid: a.vmid } };
    const text = serializePlan(q);
    expect(text).toContain(`"record":{"phase":"ready","node":"\\u0000n","vmid":"\\u0000v"}`);
    expect(parseSavedPlan(text)).toEqual(q);
  });

  it("reads back a new VM's step that carries no journal", () => {
    const q = structuredClone(p);
    for (const a of q.actions) if (a.instanceId === creates(q)[0]!.instanceId && a.type === "start") delete a.journal;
    expect(parseSavedPlan(serializePlan(q))).toEqual(q);
  });

  it("keeps placement scores of a node named __proto__ as the scores' own data", () => {
    const q = structuredClone(p);
    const c = creates(q)[0]!;
    c.placement = { ...c.placement!, scores: JSON.parse('{"pve1":1,"__proto__":2}') as Record<string, number> };
    const scores = creates(parseSavedPlan(serializePlan(q)))[0]!.placement!.scores;
    expect(Object.keys(scores)).toEqual(["pve1", "__proto__"]);
    expect(Object.getOwnPropertyDescriptor(scores, "__proto__")).toEqual({ value: 2, writable: true, enumerable: true, configurable: true });
    expect(Object.getPrototypeOf(scores)).toBe(Object.prototype);
  });
});

describe("a template or row edited, even with the hash recomputed", () => {
  const created = p.changes.findIndex((c) => c.kind === "create");
  const template = (b: Body) => b.templates.changes[b.changes.rows[created][1]];
  const tuple = (b: Body) => b.tuples[b.changes.rows[created][0]];
  const bad = (edit: (b: Body) => void) => refusal(edited(p, (f) => edit(f.plan)));
  const unfilled = { code: "E_PLAN_TAMPERED", message: `p.json was edited: changes.${created} has a placeholder its row does not fill; run plan --out again` };
  const schema = (where: string) => ({ code: "E_PLAN_FILE", message: expect.stringMatching(new RegExp(`^p\\.json is not a valid pvefleet plan: changes\\.${created}\\.${where}: `)) });

  it("refuses a VMID or scores placeholder anywhere but at `vmid` or `scores`", () => {
    expect(bad((b) => { template(b).after.note = T_VMID; })).toEqual(unfilled);
    expect(bad((b) => { template(b).after.note = T_SCORES; })).toEqual(unfilled);
  });

  it("fills only the placeholder itself at `node`, `vmid` and `scores`: an instance ID there is filled as the ID, which the schema or the placement check refuses", () => {
    expect(bad((b) => { template(b).placement.vmid = T_ID; })).toEqual(schema("placement\\.vmid"));
    expect(bad((b) => { template(b).placement.scores = T_ID; })).toEqual(schema("placement\\.scores"));
    // At `node` (free-form) the ID is filled as such, and the plan then places the VM on no node its steps go to.
    const c = p.changes[created]!;
    expect(bad((b) => { template(b).placement.node = T_ID; })?.message).toBe(`p.json was edited: action ${c.instanceId}:clone targets ${c.placement!.node}/${c.placement!.vmid}, but the VM is placed at ${c.instanceId}/${c.placement!.vmid}; run plan --out again`);
  });

  it("refuses a row whose tuple or scores cannot fill its template's node, VMID or scores", () => {
    expect(bad((b) => { tuple(b)[0] = null; })).toEqual(unfilled);
    expect(bad((b) => { tuple(b)[1] = null; })).toEqual(unfilled);
    expect(bad((b) => { tuple(b)[2] = null; })).toEqual(unfilled);
    expect(bad((b) => { b.changes.rows[created] = b.changes.rows[created].slice(0, 2); })).toEqual(unfilled);
  });

  it("refuses an instance ID that is not a string, even one that reads as an ID", () => {
    expect(bad((b) => { tuple(b)[0] = [iid(5)]; })?.message).toMatch(/^p\.json is not a valid pvefleet plan: tuples\.\d+: not \[instance ID \| null, node \| null, VMID \| null\]$/);
  });

  it("validates an entry stored as it is even when its template was already validated for another row", () => {
    const second = p.changes.findIndex((c, i) => c.kind === "create" && i !== created);
    expect(second).toBeGreaterThan(created);
    const refused = bad((b) => { b.changes.rows[second] = [-1, b.changes.rows[created][1]]; });
    expect(refused).toEqual({ code: "E_PLAN_FILE", message: expect.stringMatching(new RegExp(`^p\\.json is not a valid pvefleet plan: changes\\.${second}\\.placement\\.`)) });
  });
});
