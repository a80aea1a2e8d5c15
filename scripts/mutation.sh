#!/usr/bin/env bash
# `npm run mutation [-- AREA [stryker options]]`: StrykerJS over the safety-critical modules, one area
# at a time, with the S3 test server up. Not part of `npm test` or CI: it takes tens of minutes per
# area on two shared cores (figures in the issue 18 note). Areas are the stryker/*.config.mjs files:
#   state     src/state/{lease-lock,file-backend,s3-backend,store}.ts
#   provider  src/providers/proxmox/{api/client,permissions,operations}.ts
#   engine    src/applier/index.ts, src/planner/{reconcile,saved-plan}.ts
#   applier   src/applier/{state-writer,walk,retry}.ts
#   markdown  src/cli/render/{markdown,markdown-ci,markdown-warnings}.ts
#   all       every area in turn (hours)
# Narrow further with Stryker's own option, e.g. `npm run mutation -- state --mutate src/state/lease-lock.ts`.
# The area configs run without Stryker's TypeScript checker (on two shared cores it costs more than
# the tests it saves); `npm run mutation -- state --checkers typescript` turns it on, so mutants that
# do not type-check are dropped instead of run.
# Reports: reports/mutation/<area>/mutation.json; `node scripts/mutation-score.mjs [--survivors]`
# prints the scores (and each survivor).
set -uo pipefail
cd "$(dirname "$0")/.."
area="${1:-}"
if [ -z "$area" ]; then
  echo "usage: npm run mutation -- <area> [stryker options]   (areas: $(ls stryker/*.config.mjs | xargs -n1 basename | sed 's/\.config\.mjs//' | tr '\n' ' ')all)" >&2
  exit 1
fi
shift
if [ "$area" = all ]; then
  areas=$(ls stryker/*.config.mjs | xargs -n1 basename | sed 's/\.config\.mjs//')
else
  [ -f "stryker/$area.config.mjs" ] || { echo "no such area: $area (stryker/$area.config.mjs)" >&2; exit 1; }
  areas="$area"
fi
status=0
for a in $areas; do
  scripts/with-s3.sh npx stryker run "stryker/$a.config.mjs" "$@" || status=1
done
node scripts/mutation-score.mjs
exit $status
