/**
 * Nstance's args merge: for each key of the higher layer, two objects merge
 * recursively, anything else (scalars, arrays, object-vs-scalar) replaces. Unlike Nstance's Go code,
 * nothing is aliased: the result shares no object or array with either input.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function deepCopy<T>(v: T): T {
  if (Array.isArray(v)) return v.map(deepCopy) as T;
  if (isPlainObject(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = deepCopy(x);
    return out as T;
  }
  return v;
}

/** `higher` merged over `lower`; neither input is modified. */
export function deepMerge(lower: Record<string, unknown>, higher: Record<string, unknown>): Record<string, unknown> {
  const out = deepCopy(lower);
  for (const [k, v] of Object.entries(higher)) {
    const below = out[k];
    out[k] = isPlainObject(below) && isPlainObject(v) ? deepMerge(below, v) : deepCopy(v);
  }
  return out;
}

/** Merges layers lowest first. */
export function mergeLayers(...layers: (Record<string, unknown> | undefined)[]): Record<string, unknown> {
  return layers.reduce<Record<string, unknown>>((acc, l) => (l ? deepMerge(acc, l) : acc), {});
}

/** A copy with object keys in sorted order at every depth (so JSONC and HCL give identical output). */
export function sortKeysDeep<T>(v: T): T {
  if (Array.isArray(v)) return v.map(sortKeysDeep) as T;
  if (isPlainObject(v)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = sortKeysDeep(v[k]);
    return out as T;
  }
  return v;
}
