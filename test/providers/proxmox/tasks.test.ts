/**
 * Task waiting against a tiny stand-in HTTP server that answers task status the way PVE does;
 * the simulator never ends a task with WARNINGS, so this is where that path is checked.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type Server } from "node:http";
import { ProxmoxClient } from "../../../src/providers/proxmox/api/client.js";
import { TaskWaiter } from "../../../src/providers/proxmox/api/tasks.js";
import { ProxmoxError } from "../../../src/providers/proxmox/api/errors.js";

const UPID_WARN = "UPID:pve2:00001234:00005678:6382D261:qmstart:100:root@pam!t:";
const UPID_SLOW = "UPID:pve2:00001234:00005678:6382D262:qmstart:101:root@pam!t:";
const UPID_FAIL = "UPID:pve2:00001234:00005678:6382D263:qmclone:9000:root@pam!t:";

describe("TaskWaiter", () => {
  let server: Server;
  let url = "";
  const polls: Record<string, number> = {};
  const seenPaths: string[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      const path = decodeURIComponent(req.url ?? "");
      seenPaths.push(path);
      const upid = /\/tasks\/(.+)\/status$/.exec(path)?.[1] ?? "";
      polls[upid] = (polls[upid] ?? 0) + 1;
      let data: Record<string, unknown> = { status: "running" };
      if (upid === UPID_WARN && polls[upid]! >= 3) data = { status: "stopped", exitstatus: "WARNINGS: 2" };
      if (upid === UPID_FAIL) data = { status: "stopped", exitstatus: "can't lock file '/var/lock/pve-manager/pve-storage-local-lvm' - got timeout" };
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ data }));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/api2/json`;
  });

  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const client = () => new ProxmoxClient({ env: { PROXMOX_API_URL: url, PROXMOX_TOKEN_ID: "a@pve!t", PROXMOX_TOKEN_SECRET: "s" }, allowInsecureHttp: true });

  it("succeeds on WARNINGS: n and reports the warning, polling the UPID's node", async () => {
    const c = client();
    const warnings: string[] = [];
    try {
      const exit = await new TaskWaiter(c, { pollIntervalMs: 2, onWarning: (w) => warnings.push(w.exitstatus) }).wait(UPID_WARN);
      expect(exit).toBe("WARNINGS: 2");
      expect(warnings).toEqual(["WARNINGS: 2"]);
      expect(seenPaths).toContain(`/api2/json/nodes/pve2/tasks/${UPID_WARN}/status`);
      expect(c.stats().taskPolls).toBe(3);
    } finally {
      await c.close();
    }
  });

  it("gives up with TASK_TIMEOUT when the task outlives its wait", async () => {
    const c = client();
    try {
      const err = await new TaskWaiter(c, { pollIntervalMs: 2, timing: { qmstart: { timeoutMs: 30 } } }).wait(UPID_SLOW).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProxmoxError);
      expect((err as ProxmoxError).code).toBe("TASK_TIMEOUT");
    } finally {
      await c.close();
    }
  });

  it("classifies a task failed on a storage lock as LOCK_TIMEOUT with the exitstatus", async () => {
    const c = client();
    try {
      const err = (await new TaskWaiter(c, { pollIntervalMs: 2 }).wait(UPID_FAIL).catch((e: unknown) => e)) as ProxmoxError;
      expect(err.code).toBe("LOCK_TIMEOUT");
      expect(err.exitstatus).toMatch(/got timeout$/);
      expect(err.upid).toBe(UPID_FAIL);
    } finally {
      await c.close();
    }
  });
});
