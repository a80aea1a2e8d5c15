/**
 * The lifecycle of one shard against one simulator, test after test: scale, update in place,
 * replace, out-of-band repairs, orphans, stale saved plans. Each test leaves the cluster converged.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apply } from "../../src/applier/index.js";
import type { ApplyEvent } from "../../src/applier/events.js";
import { clusterView, makePlan, planAndApply, planNow, startEnv, type Env } from "./harness.js";

async function converged(env: Env) {
  const again = await planNow(env);
  expect(again.actions).toEqual([]);
  const view = await clusterView(env);
  const doc = (await (await env.store()).read())!.doc;
  expect(Object.keys(doc.instances).sort()).toEqual(view.vms.map((v) => v.name).sort());
  for (const v of view.vms) {
    expect(doc.instances[v.name]!.vmid).toBe(v.vmid);
    expect(doc.instances[v.name]!.phase).toBe("ready");
  }
  // one ISO per VM, none left behind
  expect(view.isos.map((i) => i.replace(/^.*iso\//, "").replace("-cidata.iso", "")).sort()).toEqual(view.vms.map((v) => v.name).sort());
  return view;
}

const USERDATA_V2 = "#cloud-config\nhostname: {{ .Instance.ID }}\nruncmd: [echo v2]\n";

async function waitFor(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error("timed out waiting for the simulator");
    await new Promise((r) => setTimeout(r, 20));
  }
}

const webOf = <V extends { name: string }>(view: { vms: V[] }): V[] => view.vms.filter((v) => v.name.startsWith("web"));

describe("the applier through a shard's lifecycle", () => {
  let env: Env;
  beforeAll(async () => {
    env = await startEnv({ latency: "instant", seed: 7 });
    env.writeShard({ webSize: 2, dbSize: 1 });
    const { result } = await planAndApply(env);
    expect(result.status).toBe("applied");
  });
  afterAll(async () => env?.close());

  it("scales a group up, then down newest first, deleting VMs and their ISOs", async () => {
    const before = webOf(await clusterView(env)).map((v) => v.name);
    env.writeShard({ webSize: 4, dbSize: 1 });
    expect((await planAndApply(env)).result.status).toBe("applied");
    expect(webOf(await converged(env))).toHaveLength(4);
    env.writeShard({ webSize: 1, dbSize: 1 });
    expect((await planAndApply(env)).result.status).toBe("applied");
    const after = webOf(await converged(env)).map((v) => v.name);
    expect(after).toHaveLength(1);
    expect(before).toContain(after[0]);
  });

  it("changes cores in place: same VMs, same VMIDs, the new size after the next restart", async () => {
    env.writeShard({ webSize: 2, dbSize: 1 });
    await planAndApply(env);
    const before = webOf(await converged(env));
    env.writeShard({ webSize: 2, dbSize: 1, webCores: 2 });
    const { plan, result } = await planAndApply(env);
    expect(result.status).toBe("applied");
    expect(plan.actions.map((a) => a.type).sort()).toEqual(["configure", "configure", "record-state", "record-state"]);
    // cores is a cold option: on a running VM PVE keeps it pending until the next restart.
    for (const v of before) {
      const pending = (await env.api("GET", `/nodes/${v.node}/qemu/${v.vmid}/pending`)) as { key: string; value?: unknown; pending?: unknown }[];
      expect(pending.find((p) => p.key === "cores")).toMatchObject({ pending: 2 });
      await env.api("POST", `/nodes/${v.node}/qemu/${v.vmid}/status/stop`, {});
      await waitFor(async () => (await clusterView(env)).vms.find((x) => x.vmid === v.vmid)?.status === "stopped");
      await env.api("POST", `/nodes/${v.node}/qemu/${v.vmid}/status/start`, {});
      await waitFor(async () => (await clusterView(env)).vms.find((x) => x.vmid === v.vmid)?.status === "running");
    }
    const after = webOf(await converged(env));
    expect(after.map((v) => [v.name, v.vmid]).sort()).toEqual(before.map((v) => [v.name, v.vmid]).sort());
    expect(after.every((v) => v.maxcpu === 2)).toBe(true);
  });

  it("replaces a group's instances one at a time (max_surge 1) within one apply when the userdata changes", async () => {
    const before = webOf(await clusterView(env)).map((v) => v.name);
    env.writeShard({ webSize: 2, dbSize: 1, webCores: 2, webUserdata: USERDATA_V2 });
    // The planner rolls the whole group in one plan, max_surge (1) replacement at a time.
    const { plan, result } = await planAndApply(env);
    expect(result.status).toBe("applied");
    const replaces = plan.changes.filter((c) => c.kind === "replace");
    expect(replaces).toHaveLength(2);
    for (const c of replaces) {
      const stop = plan.actions.find((a) => a.type === "stop" && a.instanceId === c.instanceId)!;
      expect(stop.dependsOn).toContain(`${c.replaces}:start`);
    }
    const second = plan.actions.find((a) => a.type === "clone" && a.instanceId === replaces[1]!.replaces)!;
    expect(second.dependsOn).toEqual([`${replaces[0]!.instanceId}:forget-state`]);
    const after = webOf(await converged(env)).map((v) => v.name);
    expect(after).toHaveLength(2);
    expect(after.some((n) => before.includes(n))).toBe(false);
  });

  it("repairs out-of-band stop, delete, cores and notes edits, leaves a VM that lost a tag alone, then plans nothing", async () => {
    env.writeShard({ webSize: 4, dbSize: 1, webCores: 2, webUserdata: USERDATA_V2 });
    await planAndApply(env);
    const view = await converged(env);
    const [stopped, deleted, resized, retagged] = webOf(view);
    const noted = view.vms.find((v) => v.name.startsWith("dbs"))!;
    await env.api("POST", `/nodes/${stopped!.node}/qemu/${stopped!.vmid}/status/stop`, {});
    await env.api("POST", `/nodes/${deleted!.node}/qemu/${deleted!.vmid}/status/stop`, {});
    await env.api("DELETE", `/nodes/${deleted!.node}/qemu/${deleted!.vmid}`);
    // cores is cold on a running VM: edit a stopped one so the change is live at once.
    await env.api("POST", `/nodes/${resized!.node}/qemu/${resized!.vmid}/status/stop`, {});
    await waitFor(async () => (await clusterView(env)).vms.find((x) => x.vmid === resized!.vmid)?.status === "stopped");
    await env.api("POST", `/nodes/${resized!.node}/qemu/${resized!.vmid}/config`, { cores: 4 });
    await env.api("PUT", `/nodes/${retagged!.node}/qemu/${retagged!.vmid}/config`, { tags: "nstance;apptest;operator-kept" });
    await env.api("PUT", `/nodes/${noted.node}/qemu/${noted.vmid}/config`, { description: "operator text only" });
    await waitFor(async () => {
      const v = await clusterView(env);
      return !v.vms.some((x) => x.name === deleted!.name) && v.vms.find((x) => x.name === stopped!.name)?.status === "stopped";
    });

    // Notes live in the VM config, not in the listing: a plan sees their edits with per-VM reads of every VM.
    const plan = await planNow(env, { detailPolicy: "ours" });
    const byInstance = new Map(plan.changes.map((c) => [c.instanceId, c.kind]));
    expect(byInstance.get(stopped!.name)).toBe("start");
    expect(["update", "start"]).toContain(byInstance.get(resized!.name));
    expect(plan.changes.find((c) => c.instanceId === resized!.name)!.reasons.join()).toMatch(/cores 4 → 2/);
    // An ownership tag removed by hand: no longer recognisably ours, so neither repaired nor replaced.
    expect(byInstance.get(retagged!.name)).toBeUndefined();
    expect(plan.warnings.join("\n")).toContain(`${retagged!.name}: VM ${retagged!.vmid} on ${retagged!.node} carries this instance's name but lacks the ownership tag e2e`);
    expect(byInstance.get(noted.name)).toBe("update");
    expect(plan.changes.filter((c) => c.kind === "create")).toHaveLength(1);
    expect(plan.summary).toMatchObject({ add: 1 });

    const { result } = await planAndApply(env, { detailPolicy: "ours" });
    expect(result.failed).toEqual([]);
    expect((await planNow(env, { detailPolicy: "ours" })).actions).toEqual([]);
    const fixed = await converged(env);
    const retaggedNow = fixed.vms.find((v) => v.name === retagged!.name)!;
    expect(retaggedNow.tags.split(/[;, ]/).sort()).toEqual(["apptest", "nstance", "operator-kept"]);
    expect(fixed.vms.filter((v) => v.name.startsWith("web"))).toHaveLength(4);
    expect(fixed.vms.find((v) => v.name === resized!.name)!.maxcpu).toBe(2);
    const config = await env.api("GET", `/nodes/${noted.node}/qemu/${noted.vmid}/config`);
    expect(config.description).toContain("operator text only");
    expect(config.description).toContain("managed by nstance");
  });

  it("adopts an orphan into its group with --adopt, and deletes one with --gc", async () => {
    env.writeShard({ webSize: 2, dbSize: 1, webCores: 2, webUserdata: USERDATA_V2 });
    await planAndApply(env);
    const view = await converged(env);
    const store = await env.store();
    const forget = async (name: string) => {
      const cur = (await store.read())!;
      delete cur.doc.instances[name];
      await store.write(cur.doc, cur.etag);
    };
    const orphan = webOf(view)[0]!.name;
    await forget(orphan);
    const { plan: adoptPlan } = await planAndApply(env, { adopt: true });
    expect(adoptPlan.actions.some((a) => a.type === "clone")).toBe(false);
    expect(webOf(await converged(env)).map((v) => v.name)).toContain(orphan);

    await forget(orphan);
    const { result } = await planAndApply(env, { gc: true });
    expect(result.status).toBe("applied");
    const after = await converged(env);
    expect(after.vms.map((v) => v.name)).not.toContain(orphan);
    expect(webOf(after)).toHaveLength(2);
  });

  it("refuses a saved plan after the state serial moved", async () => {
    env.writeShard({ webSize: 3, dbSize: 1, webCores: 2, webUserdata: USERDATA_V2 });
    const desired = await env.desired();
    const store = await env.store();
    const ops = env.provider();
    const saved = await makePlan(ops, desired, (await store.read())?.doc);
    const cur = (await store.read())!;
    await store.write(cur.doc, cur.etag); // another operation wrote the state
    await expect(apply(saved, { ops, store, desired })).rejects.toThrow(/Saved plan is stale/);
    expect((await clusterView(env)).vms.filter((v) => v.name.startsWith("web"))).toHaveLength(2);
  });

  it("refuses a saved plan when a VM it modifies changed since the plan", async () => {
    env.writeShard({ webSize: 2, dbSize: 1, webCores: 3, webUserdata: USERDATA_V2 });
    const desired = await env.desired();
    const store = await env.store();
    const ops = env.provider();
    const saved = await makePlan(ops, desired, (await store.read())?.doc);
    const target = saved.actions.find((a) => a.type === "configure")!;
    expect(target).toBeDefined();
    await env.api("PUT", `/nodes/${target.node}/qemu/${target.vmid}/config`, { description: "edited after the plan" });
    await expect(apply(saved, { ops, store, desired })).rejects.toThrow(/Saved plan is stale: VM \d+ config changed/);
    const config = await env.api("GET", `/nodes/${target.node}/qemu/${target.vmid}/config`);
    expect(config.cores).not.toBe(3);
  });
});
