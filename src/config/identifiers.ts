/** Identifier rules for cluster, shard, tenant, group and subnet-pool IDs, as Nstance defines them. */

export const IDENTIFIER_RE = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
export const IDENTIFIER_MAX = 32;

/** Nstance's message for a bad identifier, or undefined when it is valid. `what` is e.g. "shard ID". */
export function identifierProblem(what: string, value: string): string | undefined {
  if (value === "") return `${what} cannot be empty`;
  if (value.length > IDENTIFIER_MAX) return `${what} ${JSON.stringify(value)} exceeds maximum length of ${IDENTIFIER_MAX} characters`;
  if (!IDENTIFIER_RE.test(value)) {
    return `${what} ${JSON.stringify(value)} must contain only lowercase alphanumeric characters and hyphens, with no leading/trailing/consecutive hyphens`;
  }
  return undefined;
}
