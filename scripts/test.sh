#!/usr/bin/env bash
# The README's test command. Builds, makes sure the external tools the tests read results back
# with are present (installing them from Debian when run as root), starts a real S3 server
# (Ceph RGW on loopback) for the state-store suite, runs every test, and ends with the plain
# line "N passed, N failed". Exit status is vitest's: non-zero when any test fails.
set -uo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
command -v isoinfo >/dev/null || need_pkgs+=(genisoimage)
command -v xorriso >/dev/null || need_pkgs+=(xorriso)
command -v radosgw >/dev/null || need_pkgs+=(radosgw)
command -v ceph-mon >/dev/null || need_pkgs+=(ceph-mon)
command -v ceph-osd >/dev/null || need_pkgs+=(ceph-osd)
command -v tmux >/dev/null || need_pkgs+=(tmux)
command -v go >/dev/null || need_pkgs+=(golang-go)
command -v shellcheck >/dev/null || need_pkgs+=(shellcheck)
command -v systemd-analyze >/dev/null || need_pkgs+=(systemd)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing Debian packages: ${need_pkgs[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
  else
    echo "missing tools (install as root: apt-get install ${need_pkgs[*]}); the suites that need them will fail and say so" >&2
  fi
fi

npx tsc -p . || { echo "0 passed, 1 failed"; exit 1; }
# Tests and benchmarks are type-checked too (vitest itself only strips types).
npx tsc -p tsconfig.test.json || { echo "0 passed, 1 failed"; exit 1; }

s3dir=""
if [ -z "${PVEFLEET_TEST_S3_ENDPOINT:-}" ] && [ -x scripts/s3-test-server.sh ]; then
  s3dir=$(mktemp -d /tmp/pvefleet-s3.XXXXXX)
  port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  if scripts/s3-test-server.sh start "$s3dir" "$port" >"$s3dir/start.log" 2>&1; then
    export PVEFLEET_TEST_S3_ENDPOINT="http://127.0.0.1:$port"
  else
    echo "S3 test server did not start (see below); the S3 suite will fail and say why" >&2
    tail -20 "$s3dir/start.log" >&2
    export PVEFLEET_TEST_S3_START_ERROR="scripts/s3-test-server.sh start failed: $(tail -1 "$s3dir/start.log")"
  fi
fi
cleanup() { [ -n "$s3dir" ] && scripts/s3-test-server.sh stop "$s3dir" >/dev/null 2>&1; rm -rf "$s3dir"; }
trap cleanup EXIT

report=$(mktemp /tmp/vitest-report.XXXXXX.json)
NO_COLOR=1 npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@"
rc=$?
node -e '
const fs = require("fs");
let r; try { r = JSON.parse(fs.readFileSync(process.argv[1], "utf8")); } catch { console.log("0 passed, 1 failed"); process.exit(0); }
const skipped = r.numPendingTests + r.numTodoTests;
console.log(`${r.numPassedTests} passed, ${r.numFailedTests + (r.numFailedTestSuites && !r.numFailedTests ? 1 : 0)} failed` + (skipped ? `, ${skipped} skipped` : ""));
' "$report"
rm -f "$report"
exit $rc
