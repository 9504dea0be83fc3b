#!/bin/sh
# bench/stage/run.sh - snowflake-stage's compress-and-upload path: rows of a
# generated CSV written as gzip CSV files and PUT to the S3 emulator
# (sfkemu.py --s3), with MB/s of CSV produced, compressed and uploaded, the
# CPU s of the CSV+gzip work (per core: one worker thread does it), and
# sluice's peak RSS.
#
# Not a test: it prints a report and exits 0 whether or not the targets
# are met; it fails only when something cannot run.
#
# The COPY is skipped by default: the Python emulator's COPY parses every
# row in Python (hours for 5 GB), which would measure the emulator.  The
# emulator answers the COPY statement with an injected 422 (a fault of its
# control API), so the run ends there, after every file is uploaded; the
# figures come from the plugin's "uploaded N files" line.  BENCH_COPY=1
# lets the COPY and the MERGE run (use a small BENCH_SIZE).
#
# Environment:
#   SLUICE, SLUICE_PLUGIN_PATH   (make bench-stage sets them)
#   BENCH_SIZE     CSV input, bytes or 500M, 5G (powers of 10); default 5G
#   BENCH_DIR      work directory (default /tmp/sluice-bench-stage)
#   BENCH_FILE_SIZE  the plugin's file_size (default 128M)
#   BENCH_UPLOADS  the plugin's max_uploads (default 4)
#   BENCH_COPY=1   run the COPY and MERGE too
#   BENCH_KEEP=1   keep the generated input
#
# Targets (from the issue): at least 150 MB/s of uncompressed CSV per core
# for compress-and-upload; peak RSS under 128 MiB.
set -eu

SLUICE=${SLUICE:-sluice}
BENCH_SIZE=${BENCH_SIZE:-5G}
BENCH_DIR=${BENCH_DIR:-/tmp/sluice-bench-stage}
BENCH_FILE_SIZE=${BENCH_FILE_SIZE:-128M}
BENCH_UPLOADS=${BENCH_UPLOADS:-4}
BENCH_COPY=${BENCH_COPY:-0}
BENCH_KEEP=${BENCH_KEEP:-0}
TARGET_MBS=150
TARGET_RSS_MIB=128

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
die() {
  echo "bench-stage: $*" >&2
  exit 1
}
command -v python3 >/dev/null 2>&1 || die "needs python3 (the emulator)"
command -v "$SLUICE" >/dev/null 2>&1 || die "no sluice program: $SLUICE"
[ -x /usr/bin/time ] && /usr/bin/time -f '%M' -o /dev/null true 2>/dev/null ||
  die "needs GNU time (/usr/bin/time) for the peak RSS"
mkdir -p "$BENCH_DIR" || die "cannot create $BENCH_DIR"
work=$(cd "$BENCH_DIR" && pwd)
emu_pid=
cleanup() {
  [ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null
  rm -rf "$work/state" "$work/spool"
  [ "$BENCH_KEEP" = 1 ] || rm -f "$work"/in-*.csv
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "bench-stage: building the generator (bench/csv/gen.c)"
${CC:-cc} -O2 -o "$work/gen" "$top/bench/csv/gen.c" || die "cannot build gen.c"
in="$work/in-$BENCH_SIZE.csv"
if [ ! -s "$in" ]; then
  echo "bench-stage: generating $BENCH_SIZE of CSV"
  rows=$("$work/gen" "$BENCH_SIZE" "$in") || die "gen failed"
  rows="$rows rows"
else
  rows="a kept input" # BENCH_KEEP=1 from an earlier run
fi
in_mb=$(awk -v b="$(stat -c %s "$in")" 'BEGIN { printf "%.1f", b / 1e6 }')

[ -f "$work/pki/ca.crt" ] || "$top/tests/emulators/make-test-pki.sh" "$work/pki" >/dev/null 2>&1 ||
  die "make-test-pki.sh failed"
rm -f "$work/sfk.json" "$work/emu.out"
python3 "$top/tests/emulators/snowflake/sfkemu.py" --pki "$work/pki" --port 0 \
  --state-file "$work/sfk.json" --control-token ctl --s3 \
  --stage SLUICE_DB.PUBLIC.SFSYNC_STAGE=s3://sluice-stage/sfsync/ \
  >"$work/emu.out" 2>"$work/emu.err" &
emu_pid=$!
i=0
until grep -q listening "$work/emu.out" 2>/dev/null; do
  kill -0 "$emu_pid" 2>/dev/null || die "the emulator did not start: $(cat "$work/emu.err")"
  i=$((i + 1))
  [ $i -lt 600 ] || die "the emulator did not start in 60 s"
  sleep 0.1
done
get() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
for k in sys.argv[2:]: d=d[k]
print(d)' "$work/sfk.json" "$@"; }
port=$(get port)
s3port=$(get s3 port)
S3_SECRET=$(get s3 secret_access_key)
export S3_SECRET
if [ "$BENCH_COPY" != 1 ]; then
  curl -sS --fail --cacert "$work/pki/ca.crt" -H "X-Sfkemu-Control-Token: ctl" \
    -H "Content-Type: application/json" -d '{"kind": "status", "status": 422,
      "statement_regex": "^COPY INTO", "count": 1000,
      "body": {"code": "000001", "sqlState": "00000",
               "message": "COPY skipped by bench/stage", "statementHandle": "bench"}}' \
    "https://localhost:$port/__control/faults" >/dev/null || die "cannot set the COPY fault"
fi
cat >"$work/pipe.json" <<JSON
{ "version": 1, "state_dir": "$work/state",
  "connections": { "snow": { "type": "snowflake", "account": "$(get account)",
    "url": "https://localhost:$port", "user": "$(get user)",
    "private_key_file": "$work/pki/client.key", "warehouse": "SLUICE_WH",
    "database": "SLUICE_DB", "schema": "PUBLIC", "ca_file": "$work/pki/ca.crt" } },
  "pipelines": [ { "name": "bench-stage",
    "source": { "plugin": "csv-file", "path": "$in",
      "types": { "id": "int64", "amount": "decimal(12,2)", "score": "double",
                 "active": "bool", "signup_date": "date", "last_seen": "timestamp" } },
    "destination": { "plugin": "snowflake-stage", "connection": "snow",
      "table": "BENCH", "write": "append", "audit_table": "",
      "stage": "SLUICE_DB.PUBLIC.SFSYNC_STAGE", "bucket_url": "s3://sluice-stage/sfsync/",
      "endpoint": "https://localhost:$s3port", "access_key_id": "$(get s3 access_key_id)",
      "secret_access_key": { "env": "S3_SECRET" }, "spool_dir": "$work/spool",
      "file_size": "$BENCH_FILE_SIZE", "max_uploads": $BENCH_UPLOADS } } ] }
JSON
rm -rf "$work/state" "$work/spool"
mkdir -p "$work/spool"
echo "bench-stage: $in_mb MB ($rows) through snowflake-stage (file_size $BENCH_FILE_SIZE, max_uploads $BENCH_UPLOADS, COPY $([ "$BENCH_COPY" = 1 ] && echo run || echo skipped))"
set +e
/usr/bin/time -f '%M %e %U %S' -o "$work/time.txt" "$SLUICE" run "$work/pipe.json" --once \
  >"$work/run.out" 2>"$work/run.err"
rc=$?
set -e
line=$(grep 'uploaded [0-9]* files' "$work/run.err" | tail -1)
[ -n "$line" ] || { tail -20 "$work/run.err" >&2; die "the run uploaded nothing (exit $rc)"; }
if [ "$BENCH_COPY" = 1 ] && [ $rc -ne 0 ]; then
  tail -5 "$work/run.err" >&2
  die "the run failed (exit $rc)"
fi
read -r rss_kb wall user sys <<EOT
$(tail -1 "$work/time.txt")
EOT
echo "$line" | sed 's/.*\] //'
# "uploaded N files: C MB of CSV, G MB gzip, in W s (R MB/s); CSV and gzip
# took P CPU s (Q MB/s per core)"
set -- $(echo "$line" | sed 's/.*uploaded \([0-9]*\) files: \([0-9.]*\) MB of CSV, \([0-9.]*\) MB gzip, in \([0-9.]*\) s (\([0-9.]*\) MB\/s); CSV and gzip took \([0-9.]*\) CPU s.*/\1 \2 \3 \4 \5 \6/')
[ $# -eq 6 ] || die "cannot read: $line"
awk -v files="$1" -v csv="$2" -v gz="$3" -v upwall="$4" -v upmbs="$5" -v cpu="$6" \
  -v rss="$rss_kb" -v wall="$wall" -v user="$user" -v sys="$sys" \
  -v tmbs=$TARGET_MBS -v trss=$TARGET_RSS_MIB 'BEGIN {
  percore = cpu > 0 ? csv / cpu : 0
  printf "  CSV produced        %10.1f MB in %d files\n", csv, files
  printf "  gzip uploaded       %10.1f MB (%.2fx smaller)\n", gz, (gz > 0 ? csv / gz : 0)
  printf "  CSV+gzip CPU        %10.2f s  -> %.1f MB/s of CSV per core\n", cpu, percore
  printf "  produce+upload      %10.2f s  -> %.1f MB/s of CSV, %.1f MB/s uploaded (wall)\n", upwall, upmbs, (upwall > 0 ? gz / upwall : 0)
  printf "  sluice process      %10.2f s wall, %.2f s user, %.2f s sys\n", wall, user, sys
  printf "  peak RSS            %10.1f MiB\n", rss / 1024
  printf "per-core CSV+gzip throughput: %.1f MB/s (target >= %d)  %s\n", percore, tmbs, (percore >= tmbs ? "PASS" : "MISS")
  printf "peak RSS: %.1f MiB (target < %d MiB)  %s\n", rss / 1024, trss, (rss / 1024 < trss ? "PASS" : "MISS")
}'
