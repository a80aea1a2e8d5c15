/**
 * The client asks for gzip on reads and decodes it: pveproxy compresses for clients that ask, and a
 * 10,000-VM listing is ~2.8 MiB as JSON but ~0.2 MiB gzipped. A loopback HTTP server stands in for
 * pveproxy here so the request headers can be checked; the simulator suites cover the rest.
 */
import { createServer, type IncomingHttpHeaders } from "node:http";
import { gzipSync } from "node:zlib";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProxmoxClient } from "../../../src/providers/proxmox/api/client.js";

describe("compressed reads", () => {
  const seen: IncomingHttpHeaders[] = [];
  const listing = { data: Array.from({ length: 2000 }, (_, i) => ({ id: `qemu/${10000 + i}`, vmid: 10000 + i, type: "qemu", node: "pve1", status: "running" })) };
  const server = createServer((req, res) => {
    seen.push(req.headers);
    const json = Buffer.from(JSON.stringify(listing));
    if (/\bgzip\b/.test(String(req.headers["accept-encoding"]))) {
      res.writeHead(200, { "content-type": "application/json;charset=UTF-8", "content-encoding": "gzip" });
      res.end(gzipSync(json));
    } else {
      res.writeHead(200, { "content-type": "application/json;charset=UTF-8" });
      res.end(json);
    }
  });
  let url = "";
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api2/json`;
  });
  afterAll(async () => new Promise<void>((resolve) => server.close(() => resolve())));

  it("asks for gzip on a read and decodes the compressed answer", async () => {
    const client = new ProxmoxClient({ env: { PROXMOX_API_URL: url, PROXMOX_TOKEN_ID: "root@pam!t", PROXMOX_TOKEN_SECRET: "s" }, allowInsecureHttp: true, retry: { attempts: 1 } });
    try {
      const vms = await client.get<{ vmid: number }[]>("/cluster/resources", { type: "vm" });
      expect(seen.at(-1)!["accept-encoding"]).toContain("gzip");
      expect(vms).toEqual(listing.data);
    } finally {
      await client.close();
    }
  });
});
