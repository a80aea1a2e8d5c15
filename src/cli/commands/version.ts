/**
 * `pvefleet version [--json]`: the version, the platform and the Node.js running it, as
 * `terraform version [-json]` prints them (platform in Go's os_arch spelling: linux_amd64).
 */
import type { Opts } from "../main.js";
import { VERSION } from "../../version.js";
import { outputFormat } from "../flags.js";

/** Node's architecture names in Go's spelling, which Terraform's `platform` uses. */
const GO_ARCH: Record<string, string> = { x64: "amd64", ia32: "386", arm64: "arm64", arm: "arm" };

export function platform(): string {
  return `${process.platform}_${GO_ARCH[process.arch] ?? process.arch}`;
}

export async function run(opts: Opts): Promise<number> {
  if (outputFormat<"text" | "json">(opts) === "json") {
    process.stdout.write(`${JSON.stringify({ format_version: "1.0", pvefleet_version: VERSION, platform: platform(), node_version: process.version }, null, 2)}\n`);
  } else {
    process.stdout.write(`pvefleet v${VERSION}\non ${platform()} (Node.js ${process.version})\n`);
  }
  return 0;
}
