#!/usr/bin/env bash
# `npm run mutation`: StrykerJS over the safety-critical modules (stryker.config.mjs), with the S3
# test server up. Not part of `npm test` or CI: a full pass takes hours on two shared cores
# (measured figures in the issue 18 note); run it on one module while working on it, e.g.
#   npm run mutation -- --mutate src/state/lease-lock.ts
# Reports: reports/mutation/index.html (and mutation.json); incremental, so re-runs only redo
# mutants whose code or tests changed.
set -uo pipefail
cd "$(dirname "$0")/.."
exec scripts/with-s3.sh npx stryker run "$@"
