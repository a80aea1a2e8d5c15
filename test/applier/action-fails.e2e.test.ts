/**
 * One action that fails for good: the apply carries on with what does not depend on it, reports
 * `partial` with the failure and every dependent `skipped` (DEPENDENCY_FAILED), leaves the create
 * as a resumable `creating` record with exactly the steps that ran, and the next apply finishes it
 * without cloning again. And a config write refused by PVE's digest check (someone edited the VM
 * after the plan was made) is reported as VM_CHANGED, "the VM changed", not retried.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apply, type ApplyEvent } from "../../src/applier/index.js";
import type { CreateStep } from "../../src/state/types.js";
import { clusterView, makePlan, planAndApply, startEnv, type Env } from "./harness.js";

const ALL_STEPS: CreateStep[] = ["clone", "configure", "resize", "upload-iso", "attach-iso", "tag", "start"];

describe("an action that fails for good", () => {
  let env: Env;
  beforeAll(async () => {
    env = await startEnv({ latency: "fast", seed: 21 });
  });
  afterAll(async () => env?.close());

  it("fails a create's configure: resize and start are skipped, the record keeps what ran, the next apply resumes it", async () => {
    env.writeShard({ webSize: 1 });
    // Every config write task now fails (the simulator's taskfail); configure retries, then gives up.
    env.sim.setFaults("rate=1,kinds=taskfail,methods=POST,paths=/qemu/\\d+/config$");
    const { plan, result, events } = await planAndApply(env);
    env.sim.setFaults(undefined);

    const configure = plan.actions.find((a) => a.type === "configure")!;
    const id = configure.instanceId;
    const dependents = plan.actions.filter((a) => a.type === "resize" || a.type === "start");
    expect(dependents).toHaveLength(2);
    expect(result.status).toBe("partial");
    expect(result.done.sort()).toEqual(plan.actions.filter((a) => a.type === "clone" || a.type === "upload-iso").map((a) => a.id).sort());
    expect(result.failed).toEqual([{ actionId: configure.id, instanceId: id, type: "configure", error: { code: "TASK_FAILED", message: expect.stringContaining("injected fault") } }]);
    expect(result.skipped.sort((a, b) => a.actionId.localeCompare(b.actionId))).toEqual(dependents.map((a) => ({ actionId: a.id, because: configure.id })).sort((a, b) => a.actionId.localeCompare(b.actionId)));

    expect(events.filter((e) => e.type === "failed").map((e) => [e.actionId, e.error?.code])).toEqual([[configure.id, "TASK_FAILED"]]);
    const skipped = events.filter((e) => e.type === "skipped");
    expect(skipped.map((e) => e.actionId).sort()).toEqual(dependents.map((a) => a.id).sort());
    for (const e of skipped) expect(e.error).toEqual({ code: "DEPENDENCY_FAILED", message: `skipped: ${configure.id} failed` });
    expect(events.at(-1)).toMatchObject({ type: "complete", level: "warn", message: "Apply complete! 2 actions done, 1 failed, 2 skipped." });

    const rec = (await (await env.store()).read())!.doc.instances[id]!;
    expect(rec.phase).toBe("creating");
    expect([...rec.stepsDone].sort()).toEqual(["clone", "upload-iso"]);
    expect((await clusterView(env)).vms.map((v) => [v.name, v.vmid, v.status])).toEqual([[id, rec.vmid, "stopped"]]);

    const next = await planAndApply(env);
    expect(next.result.status).toBe("applied");
    expect(next.plan.actions.map((a) => [a.instanceId, a.type])).toEqual([[id, "configure"], [id, "resize"], [id, "start"]]);
    expect((await clusterView(env)).vms.map((v) => [v.name, v.vmid, v.status])).toEqual([[id, rec.vmid, "running"]]);
    expect((await (await env.store()).read())!.doc.instances[id]).toMatchObject({ phase: "ready", stepsDone: ALL_STEPS });
  });

  it("fails a replacement's start: the old VM's removal is skipped and it keeps running; the next apply converges", async () => {
    const [old] = (await clusterView(env)).vms;
    expect(old?.status).toBe("running");

    // Every VM start task now fails; the replacement's start retries, then gives up.
    env.sim.setFaults("rate=1,kinds=taskfail,methods=POST,paths=/status/start$");
    const { plan, result, events } = await planAndApply(env, { replace: [old!.name] });
    env.sim.setFaults(undefined);

    const start = plan.actions.find((a) => a.type === "start" && a.instanceId !== old!.name)!;
    const successor = start.instanceId;
    const removal = plan.actions.filter((a) => a.instanceId === old!.name);
    expect(removal.map((a) => a.type)).toContain("delete-vm");

    expect(result.status).toBe("partial");
    expect(result.failed).toEqual([{ actionId: start.id, instanceId: successor, type: "start", error: { code: "TASK_FAILED", message: expect.stringContaining("qmstart failed") } }]);
    expect(result.skipped.map((s) => s.actionId).sort()).toEqual(removal.map((a) => a.id).sort());
    expect(result.skipped.every((s) => s.because === start.id)).toBe(true);
    expect(result.notStarted).toEqual([]);
    const skipped = events.filter((e) => e.type === "skipped");
    expect(skipped.map((e) => e.actionId).sort()).toEqual(removal.map((a) => a.id).sort());
    for (const e of skipped) expect(e.error).toEqual({ code: "DEPENDENCY_FAILED", message: `skipped: ${start.id} failed` });

    // The old VM is untouched and still recorded; the successor is recorded with every step but start.
    const doc = (await (await env.store()).read())!.doc;
    expect(doc.instances[old!.name]).toMatchObject({ phase: "ready", vmid: old!.vmid });
    expect(doc.instances[successor]!.phase).toBe("creating");
    expect([...doc.instances[successor]!.stepsDone].sort()).toEqual(ALL_STEPS.filter((s) => s !== "start").sort());
    const view = await clusterView(env);
    expect(view.vms.map((v) => [v.name, v.status]).sort()).toEqual([[old!.name, "running"], [successor, "stopped"]].sort());

    // The next plain apply ends with one running VM, recorded, and no leftover VM or ISO.
    const next = await planAndApply(env);
    expect(next.result.status).toBe("applied");
    const after = await clusterView(env);
    expect(after.vms).toHaveLength(1);
    expect(after.vms[0]!.status).toBe("running");
    expect(after.isos.map((i) => i.replace(/^.*iso\//, "").replace("-cidata.iso", ""))).toEqual([after.vms[0]!.name]);
    expect(Object.keys((await (await env.store()).read())!.doc.instances)).toEqual([after.vms[0]!.name]);
  });

  it("reports a config write refused for a stale digest as VM_CHANGED and skips what follows it", async () => {
    env.writeShard({ webSize: 1, webCores: 1 });
    await planAndApply(env);
    env.writeShard({ webSize: 1, webCores: 2 });
    const desired = await env.desired();
    const store = await env.store();
    const ops = env.provider();
    const plan = await makePlan(ops, desired, (await store.read())?.doc);
    const configure = plan.actions.find((a) => a.type === "configure")!;
    expect(typeof configure.params.digest).toBe("string");

    // An operator edits the VM after the plan read it: PVE's digest no longer matches.
    await env.api("PUT", `/nodes/${configure.node}/qemu/${configure.vmid}/config`, { description: "edited by hand" });

    const events: ApplyEvent[] = [];
    // checkFreshness off: the race between the plan's read and the write is what is under test.
    const result = await apply(plan, { ops, store, desired, checkFreshness: false, retry: { baseDelayMs: 20, maxDelayMs: 200 }, onEvent: (e) => events.push(e) });
    await ops.close();
    expect(result.status).toBe("partial");
    expect(result.failed).toHaveLength(1);
    expect(result.failed[0]).toMatchObject({ actionId: configure.id, type: "configure", error: { code: "VM_CHANGED" } });
    expect(result.failed[0]!.error.message).toContain(`VM ${configure.vmid} (${configure.instanceId}) changed since the plan was made`);
    expect(events.filter((e) => e.type === "retry")).toEqual([]);
    const dependents = plan.actions.filter((a) => a.dependsOn.includes(configure.id)).map((a) => a.id);
    for (const id of dependents) expect(result.skipped).toContainEqual({ actionId: id, because: configure.id });
    // Nothing was written to the VM: the cores are still the old ones, the operator's edit stays.
    const config = (await env.api("GET", `/nodes/${configure.node}/qemu/${configure.vmid}/config`)) as { cores?: number; description?: string };
    expect(config.cores).toBe(1);
    expect(config.description).toContain("edited by hand");
  });
});
