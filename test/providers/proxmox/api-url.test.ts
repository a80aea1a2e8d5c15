/**
 * PROXMOX_API_URL as users write it: the host alone (as the web UI's address bar shows it), the
 * API base, either with a trailing slash. Without the `/api2/json` prefix every call reaches
 * pveproxy's page handler and comes back as a misleading 501 `Method '…' not implemented`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator } from "../../../src/sim/index.js";
import { ProxmoxClient, checkApiUrl } from "../../../src/providers/proxmox/api/client.js";
import { ProxmoxError } from "../../../src/providers/proxmox/api/errors.js";

type Sim = Awaited<ReturnType<typeof startSimulator>>;

describe("checkApiUrl", () => {
  it.each([
    ["https://pve1:8006", "https://pve1:8006/api2/json"],
    ["https://pve1:8006/", "https://pve1:8006/api2/json"],
    ["https://pve1:8006/api2/json", "https://pve1:8006/api2/json"],
    ["https://pve1:8006/api2/json/", "https://pve1:8006/api2/json"],
    ["https://pve1:8006/api2/json//", "https://pve1:8006/api2/json"],
    ["https://pve1:8006/api2", "https://pve1:8006/api2/json"],
    ["https://pve1:8006/#v1:0:18:4:::::::", "https://pve1:8006/api2/json"],
    ["https://proxy.example/pve", "https://proxy.example/pve/api2/json"],
    ["https://proxy.example/pve/api2/json/", "https://proxy.example/pve/api2/json"],
    ["https://[::1]:8006", "https://[::1]:8006/api2/json"],
  ])("reads %s as the API base %s", (raw, base) => {
    expect(checkApiUrl(raw, false)).toBe(base);
  });

  it("refuses another API format than json, naming the right URL", () => {
    expect(() => checkApiUrl("https://pve1:8006/api2/extjs", false)).toThrow(/https:\/\/pve1:8006\/api2\/json/);
  });

  it("refuses a query string", () => {
    expect(() => checkApiUrl("https://pve1:8006/api2/json?x=1", false)).toThrow(ProxmoxError);
  });

  it("still refuses plain http and credentials in the URL", () => {
    expect(() => checkApiUrl("http://pve1:8006", false)).toThrow(/cleartext/);
    expect(checkApiUrl("http://pve1:8006", true)).toBe("http://pve1:8006/api2/json");
    expect(() => checkApiUrl("https://root:hunter2@pve1:8006", false)).toThrow(/must not carry credentials/);
    try {
      checkApiUrl("https://root:hunter2@pve1:8006", false);
    } catch (e) {
      expect((e as Error).message).not.toContain("hunter2");
    }
  });
});

describe("the client against the simulator", () => {
  let sim: Sim;
  beforeAll(async () => {
    sim = await startSimulator({ latency: "instant" });
  });
  afterAll(async () => {
    await sim.stop();
  });

  const origin = () => sim.url.replace(/\/api2\/json$/, "");

  it.each(["", "/", "/api2/json", "/api2/json/"])("answers the same with PROXMOX_API_URL=<host:port>%s", async (suffix) => {
    const client = new ProxmoxClient({
      env: { PROXMOX_API_URL: `${origin()}${suffix}`, PROXMOX_TOKEN_ID: sim.tokenId, PROXMOX_TOKEN_SECRET: sim.tokenSecret },
      ca: sim.caCertificate,
      retry: { attempts: 1 },
    });
    try {
      const version = await client.get<{ version: string }>("/version");
      expect(version.version).toMatch(/^\d+\.\d+/);
    } finally {
      await client.close();
    }
  });
});
