/**
 * Reading the simulated cluster back through its plain API, for the ownership suites: what is
 * listed, which ISOs a storage holds, waiting for a task, and catching the provider's refusal.
 */
import { ProxmoxError } from "../../src/providers/proxmox/api/errors.js";
import type { Env } from "./harness.js";

/** The simulator's request counters (`env.sim.stats().requests`) for the calls tests count. */
export const CLONE = "POST /nodes/{node}/qemu/{vmid}/clone";
export const UPLOAD = "POST /nodes/{node}/storage/{storage}/upload";
export const DELETE_VM = "DELETE /nodes/{node}/qemu/{vmid}";
export const RESOURCES = "GET /cluster/resources";

export interface Listed { vmid: number; node: string; name?: string; tags?: string; status: string; template?: number }

/** Every VM `/cluster/resources` lists, templates included. */
export async function listVms(env: Env): Promise<Listed[]> {
  return (await env.api("GET", "/cluster/resources?type=vm")) as Listed[];
}

export async function isos(env: Env, node: string): Promise<string[]> {
  return ((await env.api("GET", `/nodes/${node}/storage/local/content?content=iso`)) as { volid: string }[]).map((c) => c.volid);
}

/** Waits for a task to stop and returns its exit status (undefined for a call that made none). */
export async function settle(env: Env, upid: string | null): Promise<string | undefined> {
  if (!upid) return undefined;
  const node = upid.split(":")[1]!;
  for (;;) {
    const st = (await env.api("GET", `/nodes/${node}/tasks/${encodeURIComponent(upid)}/status`)) as { status: string; exitstatus?: string };
    if (st.status === "stopped") return st.exitstatus;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The ProxmoxError a call fails with; anything else (or success) fails the test. */
export async function caught(p: Promise<unknown>): Promise<ProxmoxError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ProxmoxError) return e;
    throw e;
  }
  throw new Error("expected a ProxmoxError");
}

/** How many requests the simulator received for an endpoint, e.g. `POST /nodes/{node}/qemu/{vmid}/config`. */
export function requestsTo(env: Env, endpoint: string): number {
  return env.sim.stats().requests[endpoint] ?? 0;
}

/** How many writes (any method but GET) the simulator received. */
export function writesSent(env: Env): number {
  return Object.entries(env.sim.stats().requests).filter(([k]) => !k.startsWith("GET")).reduce((n, [, c]) => n + c, 0);
}
