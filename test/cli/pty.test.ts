/**
 * `apply` in a real pseudo-terminal: tmux on a private socket (so our environment, not some other
 * tmux server's, reaches the CLI), then read the screen — and the scrollback — with capture-pane.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startSimulator } from "../../src/sim/index.js";
import { BIN, SHARD_JSONC, workspace, type Sim, type Workspace } from "./helpers.js";

let sim: Sim;
let ws: Workspace;
let big: Workspace;
const socket = `pvefleet-test-${process.pid}`;
const tmux = (...args: string[]) => execFileSync("tmux", ["-L", socket, ...args], { encoding: "utf8" });

beforeAll(async () => {
  sim = (await startSimulator({ port: 0, latency: "instant" })) as Sim;
  ws = await workspace(sim);
  big = await workspace(sim, SHARD_JSONC.replace('"size": 2', '"size": 20').replace('"id": "dev"', '"id": "big"'));
});

afterAll(async () => {
  try { tmux("kill-server"); } catch { /* already gone */ }
  await sim?.stop();
  if (ws) await rm(ws.dir, { recursive: true, force: true });
  if (big) await rm(big.dir, { recursive: true, force: true });
});

/**
 * Runs `pvefleet ARGS` in a new tmux session (120×40 unless told), answers the prompt if asked,
 * returns the final screen; with `history`, the whole scrollback above it too.
 */
async function inTmux(name: string, args: string, answer?: string, o: { w?: Workspace; rows?: number; history?: boolean } = {}): Promise<string> {
  const w = o.w ?? ws;
  const script = join(w.dir, `${name}.sh`);
  const exports = Object.entries({ ...w.env, NO_COLOR: "", CI: "", TERM: "xterm-256color" })
    .map(([k, v]) => `export ${k}='${String(v ?? "").replace(/'/g, "'\\''")}'`).join("\n");
  await writeFile(script, `${exports}\nunset CI NO_COLOR\ncd '${w.dir}'\n'${process.execPath}' '${BIN}' ${args}\necho "EXIT=$?"\nsleep 120\n`);
  tmux("new-session", "-d", "-x", "120", "-y", String(o.rows ?? 40), "-s", name, `bash ${script}`);
  let screen = "";
  let answered = answer === undefined;
  for (let i = 0; i < 300 && !/EXIT=\d+/.test(screen); i++) {
    await new Promise((r) => setTimeout(r, 100));
    screen = tmux("capture-pane", "-p", "-t", name);
    if (!answered && screen.includes("Enter a value:")) {
      tmux("send-keys", "-t", name, answer!, "Enter");
      answered = true;
    }
  }
  return o.history ? tmux("capture-pane", "-p", "-S", "-", "-E", "-", "-t", name) : screen;
}

describe("apply in a pseudo-terminal", () => {
  it("draws the ink screen and ends with Apply complete!", async () => {
    const screen = await inTmux("apply", "apply --auto-approve");
    expect(screen).toContain("EXIT=0");
    expect(screen).toContain("Apply complete! Resources: 2 added, 0 changed, 0 destroyed.");
    expect(screen).toMatch(/✔ create\s+acme\.web\/tst\w+\s+created\s+pve\d+\s+\d+/);
    expect(screen).toMatch(/2\/2 ready · 0 in flight · 0 failed/);
    // The ink path, not the plain one: no time-stamped step lines on a TTY.
    expect(screen).not.toMatch(/^\d{4}-\d\d-\d\dT.*Creating\.\.\./m);
  });

  it("keeps the approved plan in the scrollback of a 24-row terminal while 20 VMs are created", async () => {
    const all = await inTmux("apply-24", "apply", "yes", { w: big, rows: 24, history: true });
    expect(all).toContain("EXIT=0");
    // Every line of the plan the operator said yes to is still there, above the progress screen.
    expect(all.match(/# acme\.web\/tst\w+ will be created/g)).toHaveLength(20);
    expect(all).toContain("Do you want to perform these actions?");
    expect(all).toMatch(/20\/20 ready · 0 in flight · 0 failed/);
    // The final sentence ends its line: the shell's next output starts on a line of its own.
    expect(all).toMatch(/^Apply complete! Resources: 20 added, 0 changed, 0 destroyed\.$/m);
    expect(all).toMatch(/^EXIT=0$/m);
  });

  it("asks before destroying and stops with exit 1 on any answer but yes", async () => {
    const screen = await inTmux("destroy-no", "destroy", "no");
    expect(screen).toContain("Do you really want to destroy all VMs of this shard?");
    expect(screen).toContain("Error: Destroy cancelled.");
    expect(screen).toContain("EXIT=1");
  });

  it("destroys after the answer yes and shows the ink screen", async () => {
    const screen = await inTmux("destroy-yes", "destroy", "yes");
    expect(screen).toContain("Destroy complete! Resources: 2 destroyed.");
    expect(screen).toMatch(/✔ delete\s+acme\.web\/tst\w+/);
    expect(screen).toContain("EXIT=0");
  });
});
