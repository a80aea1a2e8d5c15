/**
 * `pvefleet plan` and `pvefleet apply` with a token missing a privilege the plan needs: one grouped
 * error on stderr listing every missing thing with its fix, exit 1, no plan shown, nothing created —
 * the spawned CLI (bin/pvefleet.js → dist), as a user runs it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rm } from "node:fs/promises";
import { startSimulator } from "../../src/sim/index.js";
import { defaultTopology } from "../../src/sim/topology.js";
import { cli, workspace, type Sim, type Workspace } from "../cli/helpers.js";

let sim: Awaited<ReturnType<typeof startSimulator>>;
let ws: Workspace;

beforeAll(async () => {
  sim = await startSimulator({
    port: 0, latency: "instant",
    topology: {
      ...defaultTopology(2),
      roles: { VMNoCdrom: ["VM.Allocate", "VM.Audit", "VM.Clone", "VM.Config.CPU", "VM.Config.Memory", "VM.Config.Network", "VM.Config.Options", "VM.Config.Disk", "VM.PowerMgmt"] },
      acl: [
        { path: "/vms", roles: ["VMNoCdrom"], propagate: true },
        { path: "/storage", roles: ["PVEDatastoreAdmin"], propagate: true },
      ],
    },
  });
  ws = await workspace(sim as Sim);
});

afterAll(async () => {
  await sim?.stop();
  if (ws) await rm(ws.dir, { recursive: true, force: true });
});

async function vmsAndIsos(): Promise<number> {
  const auth = { authorization: `PVEAPIToken=${sim.tokenId}=${sim.tokenSecret}` };
  const { Agent, fetch } = await import("undici");
  const dispatcher = new Agent({ connect: { ca: sim.caCertificate } });
  try {
    const vms = (await (await fetch(`${sim.url}/cluster/resources?type=vm`, { headers: auth, dispatcher })).json()) as { data: { template?: number }[] };
    const isos = (await (await fetch(`${sim.url}/nodes/pve1/storage/local/content`, { headers: auth, dispatcher })).json()) as { data: unknown[] };
    return vms.data.filter((v) => !v.template).length + isos.data.length;
  } finally {
    await dispatcher.close();
  }
}

describe("the preflight's grouped error at the command line", () => {
  for (const args of [["plan"], ["apply", "--auto-approve"]]) {
    it(`${args[0]}: exit 1, every missing privilege with its pveum fix on stderr, no plan shown, nothing created`, async () => {
      const r = await cli(ws, args);
      expect(r.code).toBe(1);
      expect(r.stdout).not.toMatch(/Plan:|to add/);
      expect(r.stderr).toMatch(/preflight: the plan needs \d+ things? the cluster or the API token lacks; nothing was created:/);
      expect(r.stderr).toMatch(/lacks VM\.Config\.CDROM on \/vms\/\d+/);
      expect(r.stderr).toContain("lacks SDN.Use on /sdn/zones/localnetwork/vmbr0");
      expect(r.stderr).toContain(`fix: pveum acl modify /vms --tokens '${sim.tokenId}' --roles PVEVMAdmin`);
      expect(r.stderr).toContain(`fix: pveum acl modify /sdn/zones/localnetwork/vmbr0 --tokens '${sim.tokenId}' --roles PVESDNUser`);
      expect(r.stderr).not.toMatch(/^\s+at /m); // no stack trace
      expect(r.stderr).not.toContain(sim.tokenSecret);
      expect(await vmsAndIsos()).toBe(0);
    });
  }
});
