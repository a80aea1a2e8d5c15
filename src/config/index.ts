/**
 * src/config — the shard file: reading JSONC and HCL into one model, validation with positions,
 * the defaults → template → group merge, Go-template rendering, instance IDs. No network I/O
 * (S3 reads come in through `LoadOptions.readRemote`). See README.md in this folder.
 */
export { loadShardFile, loadShardFileDetailed, loadShardBytes, listShardIds, defaultConfigLocation, parseShardSource, type LoadOptions } from "./load.js";
export { resolveShard, hashes, type ResolveResult } from "./resolve.js";
export { renderUserdata, templateDataFor, decodeUserdata, withShebang, renderUserdataText } from "./userdata.js";
export { renderGoTemplate, parseTemplate, GoTemplateError } from "./go-template.js";
export { parseSize, formatSize, parseInstanceType, type InstanceType } from "./size.js";
export { newInstanceId, encodeInstanceId, decodeInstanceId, INSTANCE_ID_RE, KIND_RE } from "./instance-id.js";
export { deepMerge, mergeLayers } from "./merge.js";
export { canonicalJson, hashOf } from "./hash.js";
export { identifierProblem, IDENTIFIER_RE } from "./identifiers.js";
export { DEFAULT_OPTIONS, parseDurationSec } from "./options.js";
export { ProxmoxArgs } from "./schema.js";
