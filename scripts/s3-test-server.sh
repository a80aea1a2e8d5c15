#!/usr/bin/env bash
# A real S3 server for the state-store tests: single-host Ceph (1 mon, 1 memstore OSD, no mgr)
# plus RADOS Gateway (beast) on 127.0.0.1:PORT, from Debian's radosgw/ceph-mon/ceph-osd.
# Recipe and quirks: docs/reference/s3-server.md (tested on RGW 16.2.15).
#
#   scripts/s3-test-server.sh start DIR PORT   # returns when the endpoint answers; non-zero + reason otherwise
#   scripts/s3-test-server.sh stop DIR         # kills what start started (by pid file), removes nothing outside DIR
#
# Test-only credentials (the AWS documentation example keys; never real secrets):
#   access key AKIAIOSFODNN7EXAMPLE, secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
# The mon listens on a free port picked at start (not the fixed 3300/6789), so two test servers
# can run on one host; the OSD picks free ports in Ceph's default range.
set -euo pipefail

cmd=${1:-}
DIR=${2:-}
PORT=${3:-}
S3_ACCESS_KEY=AKIAIOSFODNN7EXAMPLE
S3_SECRET_KEY='wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'

usage() { echo "usage: $0 start DIR PORT | stop DIR" >&2; exit 2; }

stop() {
  # Ordered rgw → osd → mon: an OSD outliving its mon waits 5 s for it on shutdown.
  # The data is thrown away, so a short TERM grace then KILL is enough.
  for name in client.rgw.r osd.0 mon.a; do
    local f="$DIR/run/$name.pid"
    [ -f "$f" ] || continue
    local pid
    pid=$(cat "$f")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
  done
}

fail() {
  echo "s3-test-server: $*" >&2
  tail -n 20 "$DIR"/log/*.log >&2 2>/dev/null || true
  stop
  echo "s3-test-server: $*" # last line: test.sh quotes it in PVEFLEET_TEST_S3_START_ERROR
  exit 1
}

free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

start() {
  [[ "$PORT" =~ ^[0-9]+$ ]] || usage
  for bin in ceph-mon ceph-osd radosgw radosgw-admin ceph curl; do
    command -v "$bin" >/dev/null || fail "$bin not found (install as root: apt-get install radosgw ceph-mon ceph-osd curl)"
  done
  mkdir -p "$DIR"
  stop
  # Readiness is judged by HTTP on PORT: a server already there would be mistaken for ours.
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then fail "port $PORT on 127.0.0.1 is already in use"; fi
  # Only DIR's own Ceph subfolders are reset; DIR itself may hold the caller's logs.
  rm -rf "${DIR:?}"/{log,run,mon,osd,rgw} "$DIR/ceph.conf"
  mkdir -p "$DIR"/{log,run,mon,osd,rgw}
  export CEPH_CONF="$DIR/ceph.conf"
  local fsid mon_port
  fsid=$(cat /proc/sys/kernel/random/uuid)
  mon_port=$(free_port)
  cat > "$CEPH_CONF" <<CONF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon_port
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
ms bind msgr1 = false
auth cluster required = none
auth service required = none
auth client required = none
keyring = /dev/null
run dir = $DIR/run
pid file = $DIR/run/\$name.pid
admin socket = $DIR/run/\$name.asok
log file = $DIR/log/\$name.log
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon max pg per osd = 1000
mon allow pool size one = true
mon warn on pool no redundancy = false
mon allow pool delete = true
# commit monitor map changes fast: RGW creates pools at start and on first bucket/object (~14 s → ~3 s)
paxos propose interval = 0.05
paxos min wait = 0.01

[mon.a]
mon data = $DIR/mon
mon data avail crit = 0
mon data avail warn = 0
public addr = v2:127.0.0.1:$mon_port

[osd.0]
osd data = $DIR/osd
osd objectstore = memstore
osd class load list = *
osd class default list = *

[client.rgw.r]
rgw frontends = beast endpoint=127.0.0.1:$PORT
rgw dns name = 127.0.0.1
rgw data = $DIR/rgw
# radosgw defaults to ms_mon_client_mode=secure, which cannot work with auth=none
ms mon client mode = crc
CONF

  ceph-mon --id a --mkfs >>"$DIR/log/setup.log" 2>&1 || fail "ceph-mon --mkfs failed"
  ceph-mon --id a >>"$DIR/log/setup.log" 2>&1 || fail "ceph-mon did not start"
  local ok=0
  for _ in $(seq 60); do ceph --connect-timeout 3 mon stat >/dev/null 2>&1 && { ok=1; break; }; sleep 0.5; done
  [ $ok = 1 ] || fail "mon did not come up within 30 s"
  local osd_id
  osd_id=$(ceph osd create 2>>"$DIR/log/setup.log") || fail "ceph osd create failed"
  ceph osd crush add "osd.$osd_id" 1 root=default >>"$DIR/log/setup.log" 2>&1 || fail "ceph osd crush add failed"
  ceph-osd --id "$osd_id" --mkfs >>"$DIR/log/setup.log" 2>&1 || fail "ceph-osd --mkfs failed"
  ceph-osd --id "$osd_id" >>"$DIR/log/setup.log" 2>&1 || fail "ceph-osd did not start"
  ok=0
  for _ in $(seq 120); do ceph osd stat 2>/dev/null | grep -q ' 1 up' && { ok=1; break; }; sleep 0.5; done
  [ $ok = 1 ] || fail "osd did not come up within 60 s"
  radosgw -n client.rgw.r >>"$DIR/log/setup.log" 2>&1 || fail "radosgw did not start"
  ok=0
  for _ in $(seq 120); do curl -fsS -o /dev/null "http://127.0.0.1:$PORT/" 2>/dev/null && { ok=1; break; }; sleep 0.5; done
  [ $ok = 1 ] || fail "radosgw did not answer on http://127.0.0.1:$PORT/ within 60 s"
  radosgw-admin user create --uid=tester --display-name="Test User" \
    --access-key="$S3_ACCESS_KEY" --secret-key="$S3_SECRET_KEY" >>"$DIR/log/setup.log" 2>&1 || fail "radosgw-admin user create failed"
  echo "ready: http://127.0.0.1:$PORT"
}

case "$cmd" in
  start) [ -n "$DIR" ] || usage; start ;;
  stop) [ -n "$DIR" ] || usage; stop ;;
  *) usage ;;
esac
