/**
 * Smoke test of `apply` in a real pseudo-terminal: tmux on a private socket (so our environment,
 * not some other tmux server's, reaches the CLI), 120×40, then read the screen with capture-pane.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startSimulator } from "../../src/sim/index.js";
import { BIN, workspace, type Sim, type Workspace } from "./helpers.js";

let sim: Sim;
let ws: Workspace;
const socket = `pvefleet-test-${process.pid}`;
const tmux = (...args: string[]) => execFileSync("tmux", ["-L", socket, ...args], { encoding: "utf8" });

beforeAll(async () => {
  sim = (await startSimulator({ port: 0, latency: "instant" })) as Sim;
  ws = await workspace(sim);
});

afterAll(async () => {
  try { tmux("kill-server"); } catch { /* already gone */ }
  await sim?.stop();
  if (ws) await rm(ws.dir, { recursive: true, force: true });
});

/** Runs `pvefleet ARGS` in a new tmux session, answers the prompt if asked, returns the final screen. */
async function inTmux(name: string, args: string, answer?: string): Promise<string> {
  const script = join(ws.dir, `${name}.sh`);
  const exports = Object.entries({ ...ws.env, NO_COLOR: "", CI: "", TERM: "xterm-256color" })
    .map(([k, v]) => `export ${k}='${String(v ?? "").replace(/'/g, "'\\''")}'`).join("\n");
  await writeFile(script, `${exports}\nunset CI NO_COLOR\ncd '${ws.dir}'\n'${process.execPath}' '${BIN}' ${args}\necho "EXIT=$?"\nsleep 120\n`);
  tmux("new-session", "-d", "-x", "120", "-y", "40", "-s", name, `bash ${script}`);
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
  return screen;
}

describe("apply in a pseudo-terminal", () => {
  it("draws the ink screen and ends with Apply complete!", async () => {
    const screen = await inTmux("apply", "apply --auto-approve");
    expect(screen).toContain("EXIT=0");
    expect(screen).toContain("Apply complete! Resources: 2 added, 0 changed, 0 destroyed.");
    expect(screen).toMatch(/✔ create\s+acme\.web\/tst\w+\s+start/);
    expect(screen).toMatch(/\d+\/\d+ steps 100%/);
    // The ink path, not the plain one: no time-stamped step lines on a TTY.
    expect(screen).not.toMatch(/^\d{4}-\d\d-\d\dT.*clone started/m);
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
