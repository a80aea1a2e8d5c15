/**
 * A tiny ANSI colour helper. Colour is a property of the output stream, decided once per command:
 * only on a TTY, never with NO_COLOR (https://no-color.org: any non-empty value) or TERM=dumb.
 */

export interface Palette {
  readonly enabled: boolean;
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
}

const wrap = (open: number, close: number) => (s: string) => `\u001b[${open}m${s}\u001b[${close}m`;

const ON: Palette = {
  enabled: true,
  bold: wrap(1, 22),
  dim: wrap(2, 22),
  red: wrap(31, 39),
  green: wrap(32, 39),
  yellow: wrap(33, 39),
  cyan: wrap(36, 39),
};

const same = (s: string) => s;
const OFF: Palette = { enabled: false, bold: same, dim: same, red: same, green: same, yellow: same, cyan: same };

export function palette(enabled: boolean): Palette {
  return enabled ? ON : OFF;
}

/** Whether to colour output written to `stream`. */
export function colorWanted(stream: { isTTY?: boolean } = process.stdout, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.TERM === "dumb") return false;
  return stream.isTTY === true;
}

/** Removes ANSI escape sequences (for width calculations and tests). */
export function stripAnsi(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, "");
}
