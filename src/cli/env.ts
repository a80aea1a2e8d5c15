/**
 * The bpg Proxmox provider's environment variables as aliases of pvefleet's, so a Terraform user's
 * shell works unchanged: `PROXMOX_VE_ENDPOINT` (e.g. `https://pve:8006/`; the client adds
 * `/api2/json`), `PROXMOX_VE_API_TOKEN` (`user@realm!tokenid=secret`) and `PROXMOX_VE_INSECURE`.
 * pvefleet's own variable wins when both are set. The token's secret is never shown, not even in
 * the error for a malformed token.
 */
import { UserError } from "../errors.js";

const set = (v: string | undefined): v is string => v !== undefined && v !== "";

/** Go's strconv.ParseBool, which the provider uses: 1, t, true (any case) and 0, f, false. */
function parseBool(v: string): boolean | undefined {
  if (/^(1|t|true|yes|on)$/i.test(v.trim())) return true;
  if (/^(0|f|false|no|off)$/i.test(v.trim())) return false;
  return undefined;
}

/**
 * Fills pvefleet's variables from the provider's in `env` (in place). Returns the problems found
 * (a malformed alias), each one line without the secret; the commands that talk to the cluster
 * report them (main.ts), the others (validate, init, version) do not need them.
 */
export function applyEnvAliases(env: NodeJS.ProcessEnv): string[] {
  const problems: string[] = [];
  if (!set(env.PROXMOX_API_URL) && set(env.PROXMOX_VE_ENDPOINT)) env.PROXMOX_API_URL = env.PROXMOX_VE_ENDPOINT;
  if (!set(env.PROXMOX_TOKEN_ID) && !set(env.PROXMOX_TOKEN_SECRET) && set(env.PROXMOX_VE_API_TOKEN)) {
    const token = env.PROXMOX_VE_API_TOKEN.trim();
    const eq = token.indexOf("=");
    const id = eq < 0 ? token : token.slice(0, eq);
    if (eq < 0 || eq === token.length - 1 || !/^[^@!\s]+@[^@!\s]+![^@!\s]+$/.test(id)) {
      problems.push("PROXMOX_VE_API_TOKEN must look like user@realm!tokenid=secret (the value is not shown)");
    } else {
      env.PROXMOX_TOKEN_ID = id;
      env.PROXMOX_TOKEN_SECRET = token.slice(eq + 1);
    }
  }
  if (!set(env.PVEFLEET_INSECURE_TLS) && set(env.PROXMOX_VE_INSECURE)) {
    const v = parseBool(env.PROXMOX_VE_INSECURE);
    if (v === undefined) problems.push(`PROXMOX_VE_INSECURE must be true or false, not ${JSON.stringify(env.PROXMOX_VE_INSECURE.slice(0, 20))}`);
    else env.PVEFLEET_INSECURE_TLS = v ? "1" : "0";
  }
  return problems;
}

/** Throws the first alias problem as a one-line UserError. */
export function checkEnvAliases(problems: string[]): void {
  if (problems.length > 0) throw new UserError("E_CONFIG", problems.join("; "));
}
