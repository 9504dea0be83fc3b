#!/bin/sh
# bench/csv/run.sh - sluice csv -> csv throughput and peak RSS, beside Miller.
#
# Not a test: it prints a report and exits 0 whether or not the targets are
# met; it fails only when something could not be run or an output is wrong.
# `make bench-csv` runs it with SLUICE and SLUICE_PLUGIN_PATH set.
#
# Environment:
#   SLUICE              the sluice program (default: sluice on PATH)
#   SLUICE_PLUGIN_PATH  where the csv-file plugin is
#   BENCH_SIZE          the large input, bytes or 500M, 1G, 1Gi (default 1G)
#   BENCH_DIR           work directory (default /tmp/sluice-bench); the
#                       inputs and outputs all go here, on one disk
#   BENCH_RUNS          runs of each tool per size, the fastest reported
#                       (default 1; more steadies a shared machine's noise)
#   BENCH_KEEP=1        keep the generated CSV files and outputs
#   BENCH_TIMER=poll    measure by polling /proc even if GNU time is there
#   CC                  compiler for the generator (default cc)
#
# Targets (from the issue): sluice at least 3x Miller's throughput on the
# large input; sluice peak RSS at most 32 MiB on the large and the 1 MB input.
set -eu

SLUICE=${SLUICE:-sluice}
BENCH_SIZE=${BENCH_SIZE:-1G}
BENCH_DIR=${BENCH_DIR:-/tmp/sluice-bench}
BENCH_KEEP=${BENCH_KEEP:-0}
BENCH_RUNS=${BENCH_RUNS:-1}
SMALL_SIZE=1M

TARGET_RATIO=3
TARGET_RSS_MIB=32

here=$(cd "$(dirname "$0")" && pwd)

die() {
  echo "bench-csv: $*" >&2
  exit 1
}

mkdir -p "$BENCH_DIR" || die "cannot create $BENCH_DIR"
work=$(cd "$BENCH_DIR" && pwd)
case $BENCH_RUNS in
'' | *[!0-9]* | 0) die "BENCH_RUNS must be a positive number" ;;
esac
case $work in
*\"* | *\\*) die "BENCH_DIR must not contain quotes or backslashes (it goes into JSON)" ;;
esac

# The big files go away on any exit, unless asked to keep them.
# shellcheck disable=SC2317 # called by the trap
cleanup() {
  if [ "$BENCH_KEEP" != 1 ]; then
    rm -f "$work"/in-*.csv "$work"/out-*.csv "$work"/out-*.csv.sluice-tmp-*
    rm -rf "$work/state"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- tools ---------------------------------------------------------------

command -v "$SLUICE" >/dev/null 2>&1 || die "no sluice program: $SLUICE (set SLUICE)"
have_mlr=0
command -v mlr >/dev/null 2>&1 && have_mlr=1

# GNU time reports the peak RSS exactly (wait4's ru_maxrss, which also
# covers the libtool wrapper's exec of the real binary: same PID).  Without
# it, /proc/PID/status VmHWM is polled, which can miss growth in the last
# poll interval, so those figures are marked approximate.
# BENCH_TIMER=poll forces the fallback (to try it).
timer=${BENCH_TIMER:-}
if [ -z "$timer" ]; then
  timer=poll
  if [ -x /usr/bin/time ] && /usr/bin/time -f '%M' -o /dev/null true 2>/dev/null; then
    timer=gnu
  fi
fi
[ "$timer" = gnu ] || [ -r /proc/self/status ] ||
  die "need GNU time (/usr/bin/time) or /proc to measure peak RSS"

# Wall time in nanoseconds; GNU date has %N, others get whole seconds.
now_ns() {
  t=$(date +%s%N 2>/dev/null) || t=
  case $t in
  '' | *[!0-9]*) t=$(($(date +%s) * 1000000000)) ;;
  esac
  echo "$t"
}
case $(date +%N 2>/dev/null) in
'' | *[!0-9]*) clock="date +%s (1 s resolution)" ;;
*) clock="date +%s%N" ;;
esac

# --- measuring -------------------------------------------------------------

# measure NAME OUT CMD...: runs CMD, stdout to OUT, stderr to NAME.err.
# Sets m_secs (wall seconds), m_kib (peak RSS, KiB) and, with GNU time,
# m_cpu (user + system seconds, which other load on the machine disturbs
# less than wall time; "-" otherwise).  The dirty pages of
# the previous run are flushed first so one run's writeback does not land
# in the next one's time.
measure() {
  m_name=$1 m_out=$2
  shift 2
  m_err="$work/$m_name.err"
  sync
  t0=$(now_ns)
  if [ "$timer" = gnu ]; then
    if ! /usr/bin/time -o "$work/$m_name.time" -f '%M %U %S' "$@" >"$m_out" 2>"$m_err"; then
      cat "$m_err" >&2
      die "$m_name failed: $*"
    fi
    t1=$(now_ns)
    read -r m_kib m_cpu <<EOF
$(tail -n 1 "$work/$m_name.time" | awk '{ printf "%s %.2f", $1, $2 + $3 }')
EOF
  else
    "$@" >"$m_out" 2>"$m_err" &
    pid=$!
    m_kib=0 m_cpu=-
    # A background simple command is exec'd in the forked shell, and the
    # sluice libtool wrapper execs the real binary, so $pid is the process
    # to watch all along.  Stop at the zombie: it has no VmHWM and some
    # shells reap it only at wait.
    while [ -r "/proc/$pid/status" ]; do
      state='' hwm=''
      while read -r key val _; do
        case $key in
        State:) state=$val ;;
        VmHWM:) hwm=$val ;;
        esac
      done <"/proc/$pid/status" 2>/dev/null || :
      [ "$state" = Z ] && break
      [ -n "$hwm" ] && [ "$hwm" -gt "$m_kib" ] && m_kib=$hwm
      sleep 0.01 2>/dev/null || sleep 1
    done
    if ! wait "$pid"; then
      cat "$m_err" >&2
      die "$m_name failed: $*"
    fi
    t1=$(now_ns)
  fi
  m_secs=$(awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.3f", ns / 1e9 }')
}

# Records in a CSV file, header included: a line ends a record when the
# quotes seen so far are balanced (a quoted field may hold line breaks).
count_records() {
  awk -F'"' '{ q += NF - 1 } q % 2 == 0 { n++ } END { print n + 0 }' "$1"
}

# check TOOL OUT IN ROWS MB: the output has the input's rows, else it is an
# error (a fast wrong answer is no result).  Notes whether it is also
# byte-identical to the input, which the generator's canonical values allow.
check() {
  c_n=$(count_records "$2")
  [ "$c_n" -eq $(($4 + 1)) ] ||
    die "$1: $2 has $c_n records, expected $4 rows + header"
  if cmp -s "$3" "$2"; then c_same=yes; else c_same=no; fi
  [ "$run" = 1 ] || return 0
  checks="$checks
$(printf '  %-6s %8s MB: %s rows + header; byte-identical to the input: %s' \
    "$1" "$5" "$4" "$c_same")"
}

# --- the run ---------------------------------------------------------------

echo "bench-csv: building the generator"
${CC:-cc} -O2 -o "$work/gen" "$here/gen.c" || die "cannot build gen.c"

# The pipeline declares every non-string column's type, so sluice parses
# each value into its type and formats it back: real work, not a byte copy.
# Each run gets a fresh state_dir: the checkpoint would otherwise mark the
# input as read and the next run would skip it.
write_pipeline() { # write_pipeline IN OUT
  cat >"$work/pipe.json" <<EOF
{
  "version": 1,
  "state_dir": "$work/state",
  "pipelines": [
    {
      "name": "bench-csv",
      "source": {
        "plugin": "csv-file",
        "path": "$1",
        "types": {
          "id": "int64",
          "amount": "decimal(12,2)",
          "score": "double",
          "active": "bool",
          "signup_date": "date",
          "last_seen": "timestamp"
        }
      },
      "destination": { "plugin": "csv-file", "path": "$2" }
    }
  ]
}
EOF
}

rows_out=
checks=
# bench TAG SIZE: generates the input, runs both tools BENCH_RUNS times
# (alternating), appends a table row for each tool: the fastest run's
# seconds and CPU, the largest peak RSS of all runs.  Leaves mb,
# sluice_secs, sluice_kib and mlr_secs for the verdicts.
bench() {
  tag=$1
  in="$work/in-$tag.csv"
  echo "bench-csv: generating $2 of CSV ($tag)"
  rows=$("$work/gen" "$2" "$in") || die "gen failed"
  bytes=$(wc -c <"$in" | tr -d ' ')
  mb=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 }')
  write_pipeline "$in" "$work/out-sluice-$tag.csv"

  run=1
  while [ "$run" -le "$BENCH_RUNS" ]; do
    out="$work/out-sluice-$tag.csv"
    rm -rf "$work/state" "$out"
    echo "bench-csv: sluice, $mb MB (run $run of $BENCH_RUNS)"
    measure "sluice-$tag" "$work/sluice-$tag.log" "$SLUICE" -q run "$work/pipe.json" --once
    check sluice "$out" "$in" "$rows" "$mb"
    fold "${sluice_secs-}" "${sluice_kib-}" "${sluice_cpu-}"
    sluice_secs=$f_secs sluice_kib=$f_kib sluice_cpu=$f_cpu

    if [ "$have_mlr" = 1 ]; then
      out="$work/out-mlr-$tag.csv"
      echo "bench-csv: mlr --csv cat, $mb MB (run $run of $BENCH_RUNS)"
      measure "mlr-$tag" "$out" mlr --csv cat "$in"
      check mlr "$out" "$in" "$rows" "$mb"
      fold "${mlr_secs-}" "${mlr_kib-}" "${mlr_cpu-}"
      mlr_secs=$f_secs mlr_kib=$f_kib mlr_cpu=$f_cpu
    fi
    run=$((run + 1))
  done
  row sluice "$sluice_secs" "$sluice_kib" "$sluice_cpu"
  [ "$have_mlr" = 0 ] || row mlr "$mlr_secs" "$mlr_kib" "$mlr_cpu"
  # Done with this size: free the disk before the next one.
  [ "$BENCH_KEEP" = 1 ] || rm -f "$in" "$work"/out-*-"$tag".csv
}

# fold SECS KIB CPU: the best so far (empty on a size's first run) with
# this run's m_* folded in, into f_secs f_kib f_cpu: the fastest run's
# seconds and CPU, the largest peak RSS.
fold() {
  f_secs=$m_secs f_kib=$m_kib f_cpu=$m_cpu
  [ "$run" != 1 ] || return 0
  if awk -v a="$1" -v b="$m_secs" 'BEGIN { exit !(a <= b) }'; then
    f_secs=$1 f_cpu=$3
  fi
  [ "$2" -le "$m_kib" ] || f_kib=$2
}

row() { # row TOOL SECS KIB CPU
  rows_out="$rows_out$(awk -v t="$1" -v mb="$mb" -v b="$bytes" -v s="$2" \
    -v k="$3" -v c="$4" 'BEGIN {
    printf "%-8s %10s %9.3f %9s %13.1f %8s\n", t, mb, s,
           (s > 0 ? sprintf("%.1f", b / 1e6 / s) : "-"), k / 1024, c }')
"
}

bench big "$BENCH_SIZE"
big_mb=$mb big_ratio=$(awk -v m="${mlr_secs:-0}" -v s="$sluice_secs" \
  'BEGIN { printf "%.2f", (s > 0 ? m / s : 0) }')
big_kib=$sluice_kib
bench small "$SMALL_SIZE"
small_mb=$mb small_kib=$sluice_kib

# --- the report ------------------------------------------------------------

if [ "$timer" = gnu ]; then
  rss_by="GNU time (ru_maxrss)"
else
  rss_by="polling /proc/PID/status VmHWM (approximate)"
fi
echo
echo "sluice csv -> csv (typed) beside mlr --csv cat, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "  sluice: $("$SLUICE" --version 2>&1 | head -n 1)"
if [ "$have_mlr" = 1 ]; then
  echo "  mlr:    $(mlr --version 2>&1 | head -n 1)"
else
  echo "  mlr:    not installed (apt-get install miller); no comparison"
fi
echo "  cpus: $(nproc 2>/dev/null || echo '?'); peak RSS: $rss_by; wall time: $clock"
echo "  MB = 10^6 bytes, MiB = 2^20 bytes"
echo
printf '%-8s %10s %9s %9s %13s %8s\n' tool "input MB" seconds "MB/s" "peak RSS MiB" "CPU s"
printf '%s' "$rows_out"
echo
echo "checks:$checks"
echo

verdict() { if [ "$1" = 1 ]; then echo PASS; else echo MISS; fi; }
# A polled peak can only be too low (short runs most of all).
rss_note=
[ "$timer" = gnu ] || rss_note=" (polled: may be low)"
if [ "$have_mlr" = 1 ]; then
  ok=$(awk -v r="$big_ratio" -v t="$TARGET_RATIO" 'BEGIN { print (r >= t) }')
  printf 'throughput sluice/mlr at %s MB: %sx (target >= %sx)  %s\n' \
    "$big_mb" "$big_ratio" "$TARGET_RATIO" "$(verdict "$ok")"
else
  echo "throughput sluice/mlr: n/a (no mlr)"
fi
rss_verdict() { # rss_verdict MB KIB
  mib=$(awk -v k="$2" 'BEGIN { printf "%.1f", k / 1024 }')
  ok=$(awk -v k="$2" -v t="$TARGET_RSS_MIB" 'BEGIN { print (k <= t * 1024) }')
  printf 'sluice peak RSS at %s MB: %s MiB (target <= %s MiB)  %s%s\n' \
    "$1" "$mib" "$TARGET_RSS_MIB" "$(verdict "$ok")" "$rss_note"
}
rss_verdict "$big_mb" "$big_kib"
rss_verdict "$small_mb" "$small_kib"
exit 0
