#!/usr/bin/env bash
# Runs a command with a throw-away Ceph RGW S3 server on loopback (as scripts/test.sh does), unless
# PVEFLEET_TEST_S3_ENDPOINT already names one; the state suites need it. Stops it afterwards.
#   scripts/with-s3.sh CMD [ARGS…]
set -uo pipefail
cd "$(dirname "$0")/.."

s3dir=""
if [ -z "${PVEFLEET_TEST_S3_ENDPOINT:-}" ]; then
  s3dir=$(mktemp -d /tmp/pvefleet-s3.XXXXXX)
  port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  if scripts/s3-test-server.sh start "$s3dir" "$port" >"$s3dir/start.log" 2>&1; then
    export PVEFLEET_TEST_S3_ENDPOINT="http://127.0.0.1:$port"
  else
    echo "S3 test server did not start; the S3 suites will fail and say why" >&2
    tail -20 "$s3dir/start.log" >&2
    export PVEFLEET_TEST_S3_START_ERROR="scripts/s3-test-server.sh start failed: $(tail -1 "$s3dir/start.log")"
  fi
fi
cleanup() { [ -n "$s3dir" ] && scripts/s3-test-server.sh stop "$s3dir" >/dev/null 2>&1; rm -rf "$s3dir"; }
trap cleanup EXIT
"$@"
