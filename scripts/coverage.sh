#!/usr/bin/env bash
# `npm run coverage`: the suite with v8 coverage of src/, in-process (vitest's provider) plus the
# child processes the tests spawn (the built CLI, the crash and race workers) through
# NODE_V8_COVERAGE, remapped to src/ by source maps and merged. Takes a few minutes.
#   coverage/html/index.html (in-process), coverage/children/ (spawned), a per-folder table on stdout.
# Extra arguments go to vitest (e.g. a test path to measure one suite).
set -uo pipefail
cd "$(dirname "$0")/.."
npx tsc -p . || exit 1
rm -rf coverage
mkdir -p coverage/v8-raw
# Every Node process started from here writes its raw coverage here when it exits (a SIGKILLed
# crash child writes nothing). vitest's own processes are told apart and dropped when merging.
export NODE_V8_COVERAGE="$PWD/coverage/v8-raw"
scripts/with-s3.sh npx vitest run --coverage.enabled "$@"
rc=$?
unset NODE_V8_COVERAGE
node scripts/coverage-merge.mjs || rc=1
exit $rc
