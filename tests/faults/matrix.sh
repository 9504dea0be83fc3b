#!/bin/bash
# tests/faults/matrix.sh - `make check-faults`: every example pipeline
# (examples/*.json) under every fault class, against the emulators.
#
# For each pipeline P and fault class F:
#   1. the emulators are reset to their seed, P gets a fresh directory (its
#      input data, no state);
#   2. F is armed so that it lands mid-run: a clean run of P first counts
#      the requests it makes to each service, and the fault lets half of
#      them through ("after") or a watcher acts once half have been seen;
#   3. P runs once with F (a hang is caught by a 300 s timeout);
#   4. the run record it left (state/runs.jsonl) must say what happened:
#      status "failed" with an error naming the fault's kind, or
#      "succeeded"/"rejected" with http_retries > 0 where the host had to
#      resend (429, 5xx, resets);
#   5. faults are cleared and P runs again, clean: it must succeed, and the
#      destination must then be exactly what one clean run leaves.
# kill9 is 20 runs per pipeline killed (SIGKILL) after a random delay in
# [0, the clean run's duration], each followed by a clean rerun and the same
# comparison; the delays come from a seed printed with the results
# (FAULTS_SEED=S reproduces them).
#
# What "the destination" is and what is ignored:
#   csv-file (quickstart)      the output file byte for byte
#   reject files               their distinct rows, the cell's directory
#                              name replaced: each run appends, so a row a
#                              failed run rejected is rejected again by the
#                              rerun
#   csv-file per run files     (salesforce-to-csv: out/accounts-{run_id}.csv)
#                              the set of distinct rows over every file: an
#                              incremental run with "lookback" legitimately
#                              reads the last minutes again into the next
#                              run's file
#   snowflake-sql/-stage       the target table, every column, sorted; the
#                              SLUICE_AUDIT table is not compared (run ids,
#                              times: volatile by nature)
#   salesforce-rest/-bulk2     every Sluice_Score__c record through the
#                              emulator's control API, sorted, without Id,
#                              CreatedDate, LastModifiedDate, SystemModstamp
#                              and the *ById fields (helpers.py SF_VOLATILE)
#
# Disk full: the state directory becomes a full tmpfs (unshare -rm, or a
# plain mount as root); where neither works (a container without
# CAP_SYS_ADMIN), `ulimit -f 0` with SIGXFSZ ignored, so every write
# fails with EFBIG, state and output alike.  The table says which was used.
#
# Usage: matrix.sh [-p PIPELINE,...] [-f FAULT,...] [-k KILLS]
# Prints the table pipeline x fault -> pass / FAIL / n.a. and exits 1 on
# any FAIL; the logs of failed cells are kept in $FAULTS_OUT (default
# ./faults-out).
set -u
: "${SLUICE:?run through make check-faults}" "${TOP_SRCDIR:?}"
ONLY_P=
ONLY_F=
KILLS=20
while getopts p:f:k: o; do
  case $o in
  p) ONLY_P=$OPTARG ;;
  f) ONLY_F=$OPTARG ;;
  k) KILLS=$OPTARG ;;
  *) exit 2 ;;
  esac
done
OUTDIR=$(realpath -m "${FAULTS_OUT:-faults-out}")
rm -rf "$OUTDIR"
mkdir -p "$OUTDIR"
H="python3 $TOP_SRCDIR/tests/faults/helpers.py"
T0=$(date +%s)
SEED=${FAULTS_SEED:-$(date +%s)}

# The emulators, once for the whole matrix (reset before every cell).
. "$TOP_SRCDIR/tests/e2e/lib.sh"
SFEMU_ACCOUNTS=6000
SFKEMU_ARGS="--s3 --stage SLUICE_DB.PUBLIC.SFSYNC_STAGE=s3://sluice-stage/sfsync/"
EMU_ARGS="--bulk-complete-seconds 0.3 --bulk-complete-polls 1"
. "$TOP_SRCDIR/tests/e2e/sfemu.sh"
. "$TOP_SRCDIR/tests/e2e/sfkemu.sh"
ROOT=$WORK
export SF_LOGIN_URL="https://localhost:$PORT" SF_CA_FILE="$WORK/pki/ca.crt"
export SNOWFLAKE_ACCOUNT=$SFK_ACCOUNT SNOWFLAKE_URL="https://localhost:$SFK_PORT"
export SNOWFLAKE_USER=$SFK_USER SNOWFLAKE_KEY_FILE="$WORK/pki/client.key"
export SNOWFLAKE_CA_FILE="$WORK/pki/ca.crt" S3_ENDPOINT="https://localhost:$S3_PORT"
export AWS_ACCESS_KEY_ID=$S3_AK AWS_SECRET_ACCESS_KEY=$S3_SK
SFP=/services/data/v$V/ # Salesforce API paths (tokens are not faulted)

PIPELINES="quickstart csv-to-snowflake csv-to-salesforce-rest csv-to-salesforce
salesforce-to-csv syncout-account syncout-account-stage"
FAULTS="429 5xx reset stall token budget warehouse diskfull kill9"

# services P: what P talks to (sf sfk s3).
services() {
  case $1 in
  quickstart) echo "" ;;
  csv-to-snowflake) echo "sfk" ;;
  csv-to-salesforce-rest | csv-to-salesforce | salesforce-to-csv) echo "sf" ;;
  syncout-account) echo "sf sfk" ;;
  syncout-account-stage) echo "sf sfk s3" ;;
  esac
}
has() { case " $(services "$1") " in *" $2 "*) return 0 ;; esac; return 1; }
# applies P F: whether fault class F can happen to P at all.
applies() {
  case $2 in
  diskfull | kill9) return 0 ;;
  budget) has "$1" sf ;;
  warehouse) has "$1" sfk ;;
  *) [ -n "$(services "$1")" ] ;;
  esac
}

# prepare P DIR: the example and its input in a fresh directory.
prepare() {
  rm -rf "$2"
  mkdir -p "$2"
  cp "$TOP_SRCDIR/examples/$1.json" "$2/p.json"
  case $1 in
  quickstart | csv-to-snowflake)
    mkdir -p "$2/data" "$2/out"
    cp "$TOP_SRCDIR"/examples/data/accounts-*.csv "$2/data/"
    cp "$ROOT/accounts-gen.csv" "$2/data/accounts-gen.csv" ;;
  csv-to-salesforce*)
    mkdir -p "$2/in" "$2/rejects"
    cp "$ROOT"/scores-*.csv "$2/in/" ;;
  salesforce-to-csv) mkdir -p "$2/out" ;;
  esac
}
$H gen-accounts "$ROOT/accounts-gen.csv" 30000
$H gen-scores "$ROOT/scores-1.csv" 1 1500
$H gen-scores "$ROOT/scores-2.csv" 1501 1500

# rejects DIR FILE: a reject file's distinct rows, DIR written as "DIR".  A
# reject file is a log each run appends to: a row a failed run rejected is
# rejected again by the rerun that reads the same input.
rejects() {
  [ -f "$2" ] && sed "s|$1/|DIR/|g" "$2" | sort -u
}
# dump P DIR: the destination's content, to compare (see the top).
dump() {
  case $1 in
  quickstart)
    cat "$2/out/accounts.csv"
    echo "--- rejects"
    rejects "$2" "$2/out/accounts.rejects.csv" ;;
  csv-to-snowflake)
    sfkctl POST /sql '{"sql": "SELECT * FROM SLUICE_DB.PUBLIC.ACCOUNTS"}' >"$2/q.json" &&
      $H sql-rows "$2/q.json"
    echo "--- rejects"
    rejects "$2" "$2/out/accounts.rejects.csv" ;;
  syncout-account | syncout-account-stage)
    sfkctl POST /sql '{"sql": "SELECT * FROM SLUICE_DB.PUBLIC.ACCOUNT"}' >"$2/q.json" &&
      $H sql-rows "$2/q.json" ;;
  csv-to-salesforce*)
    ctl GET "/records?object=Sluice_Score__c" >"$2/q.json" && $H sf-records "$2/q.json"
    echo "--- rejects"
    rejects "$2" "$2/rejects/scores.csv" ;;
  salesforce-to-csv)
    # shellcheck disable=SC2046
    $H csv-rows $(ls "$2"/out/accounts-*.csv 2>/dev/null | grep -v sluice-tmp) ;;
  esac
}

reset_all() {
  ctl POST /reset >/dev/null || fail "the Salesforce emulator's reset"
  ctl POST /bulk '{"complete_after_seconds": 0.3, "complete_after_polls": 1}' >/dev/null
  sfkctl POST /reset >/dev/null || fail "the Snowflake emulator's reset"
}
disarm() {
  ctl DELETE /faults >/dev/null
  ctl POST /budget '{"used": 0, "max": 100000}' >/dev/null
  sfkctl DELETE /faults >/dev/null
  sfkctl POST /warehouse '{"state": "STARTED", "auto_resume": true}' >/dev/null
  s3ctl DELETE /faults >/dev/null
}
# nreq SVC: requests the service has logged since the last reset.
nreq() {
  case $1 in
  sf) ctl GET "/requests?path_prefix=$SFP" ;;
  sfk) sfkctl GET "/requests?path_prefix=/api/" ;;
  s3) s3ctl GET /requests ;;
  esac >"$ROOT/nreq.$1.json" 2>/dev/null
  $H count "$ROOT/nreq.$1.json"
}
# pending: faults armed and not fired, over every service.
pending() {
  n=0
  ctl GET /faults >"$ROOT/pf.json" && n=$((n + $($H pending "$ROOT/pf.json")))
  sfkctl GET /faults >"$ROOT/pf.json" && n=$((n + $($H pending "$ROOT/pf.json")))
  s3ctl GET /faults >"$ROOT/pf.json" && n=$((n + $($H pending "$ROOT/pf.json")))
  echo "$n"
}
now_ms() { date +%s%3N; }

# run_once DIR OUT: one run of DIR/p.json (300 s at most); the exit code.
run_once() {
  (cd "$1" && exec timeout -s KILL 300 "$SLUICE" run p.json --once >"$2.out" 2>"$2.err")
}

# --- the reference: one clean run of each pipeline ---------------------------
declare -A REQS DUR REF_RC
reference() {
  reset_all
  prepare "$1" "$ROOT/ref-$1"
  t=$(now_ms)
  run_once "$ROOT/ref-$1" "$ROOT/ref-$1/run"
  REF_RC[$1]=$?
  DUR[$1]=$(($(now_ms) - t))
  case ${REF_RC[$1]} in 0 | 3) ;; *)
    cat "$ROOT/ref-$1/run.err" >&2
    fail "the clean run of $1 failed (exit ${REF_RC[$1]})" ;;
  esac
  for s in sf sfk s3; do REQS[$1.$s]=0; done
  for s in $(services "$1"); do REQS[$1.$s]=$(nreq "$s"); done
  dump "$1" "$ROOT/ref-$1" >"$ROOT/ref-$1.dump"
  [ -s "$ROOT/ref-$1.dump" ] || fail "empty dump of $1"
  echo "reference $1: exit ${REF_RC[$1]}, ${DUR[$1]} ms, requests sf=${REQS[$1.sf]} sfk=${REQS[$1.sfk]} s3=${REQS[$1.s3]}, dump $(wc -l <"$ROOT/ref-$1.dump") lines"
}

# half P SVC: the "after" that puts a fault mid-run (at least 1).
half() {
  h=$((REQS[$1.$2] / 2))
  [ "$h" -ge 1 ] || h=1
  echo "$h"
}
WATCHERS=
# watch P SVC CMD...: runs CMD once SVC has seen half of P's requests.
watch() {
  p=$1 s=$2
  shift 2
  th=$(half "$p" "$s")
  (
    i=0
    while [ $i -lt 6000 ]; do
      [ "$(nreq "$s")" -ge "$th" ] && { "$@" >/dev/null; echo fired >"$ROOT/watch.$s"; exit 0; }
      sleep 0.05
      i=$((i + 1))
    done
  ) &
  WATCHERS="$WATCHERS $!"
}
stop_watchers() {
  # shellcheck disable=SC2086
  [ -n "$WATCHERS" ] && kill $WATCHERS 2>/dev/null
  # shellcheck disable=SC2086
  [ -n "$WATCHERS" ] && wait $WATCHERS 2>/dev/null
  WATCHERS=
}

# arm P F: sets fault class F up for P's services; the reason regex an
# error must match goes to REASON.
arm() {
  p=$1
  rm -f "$ROOT"/watch.*
  case $2 in
  429) REASON='429|[Tt]oo many|REQUEST_LIMIT|throttl'
    has "$p" sf && ctl POST /faults '{"kind": "status", "status": 429, "count": 3, "retry_after": 1, "after": '"$(half "$p" sf)"', "path_prefix": "'$SFP'"}' >/dev/null
    has "$p" sfk && sfkctl POST /faults '{"kind": "status", "status": 429, "count": 3, "retry_after": 1, "after": '"$(half "$p" sfk)"', "path_prefix": "/api/"}' >/dev/null ;;
  5xx) REASON='50[0-9]|SERVER_UNAVAILABLE|[Uu]navailable|InternalError|SlowDown'
    has "$p" sf && ctl POST /faults '[{"kind": "status", "status": 503, "count": 2, "after": '"$(half "$p" sf)"', "path_prefix": "'$SFP'"},
      {"kind": "status", "status": 500, "count": 1, "after": '"$(half "$p" sf)"', "path_prefix": "'$SFP'"}]' >/dev/null
    has "$p" sfk && sfkctl POST /faults '[{"kind": "status", "status": 503, "count": 2, "after": '"$(half "$p" sfk)"', "path_prefix": "/api/"},
      {"kind": "status", "status": 500, "count": 1, "after": '"$(half "$p" sfk)"', "path_prefix": "/api/"}]' >/dev/null
    has "$p" s3 && s3ctl POST /faults '{"kind": "status", "status": 503, "count": 2, "after": '"$(half "$p" s3)"'}' >/dev/null ;;
  reset) REASON='[Rr]eset|Recv failure|closed|[Pp]artial|receiving|[Cc]onnection|EOF'
    has "$p" sf && ctl POST /faults '{"kind": "reset_mid_body", "count": 1, "after": '"$(half "$p" sf)"', "path_prefix": "'$SFP'"}' >/dev/null
    has "$p" sfk && sfkctl POST /faults '{"kind": "reset_mid_body", "count": 1, "after": '"$(half "$p" sfk)"', "path_prefix": "/api/"}' >/dev/null
    has "$p" s3 && s3ctl POST /faults '{"kind": "reset", "count": 1, "after": '"$(half "$p" s3)"'}' >/dev/null ;;
  stall) REASON='[Tt]imed out|[Tt]imeout|stall'
    has "$p" sf && ctl POST /faults '{"kind": "stall_mid_body", "seconds": 4, "count": 1, "after": '"$(half "$p" sf)"', "path_prefix": "'$SFP'"}' >/dev/null
    has "$p" sfk && sfkctl POST /faults '{"kind": "stall", "seconds": 4, "count": 1, "after": '"$(half "$p" sfk)"', "path_prefix": "/api/"}' >/dev/null
    has "$p" s3 && s3ctl POST /faults '{"kind": "stall", "seconds": 4, "count": 1, "after": '"$(half "$p" s3)"'}' >/dev/null ;;
  token) REASON='INVALID_SESSION|[Ee]xpired|390|401|[Tt]oken|[Aa]uthenticat'
    has "$p" sf && watch "$p" sf ctl POST /tokens/expire
    has "$p" sfk && watch "$p" sfk sfkctl POST /tokens/expire '{}' ;;
  budget) REASON='budget|API usage|REQUEST_LIMIT|[Ll]imit'
    # max_api_usage_percent is 80 in the examples (the default too): the
    # share is crossed once half the run's Salesforce calls are made.
    ctl POST /budget '{"used": '$((80000 - $(half "$p" sf)))', "max": 100000}' >/dev/null ;;
  warehouse) REASON='000606|[Ww]arehouse'
    watch "$p" sfk sfkctl POST /warehouse '{"state": "SUSPENDED", "auto_resume": false}' ;;
  diskfull) REASON='No space left|File too large|ENOSPC|EFBIG' ;;
  esac
  return 0
}

# DISK: how diskfull fills the state directory (the first that works).
# FAULTS_DISK=ulimit|mount|unshare forces one (to test the fallbacks).
DISK=ulimit
mkdir -p "$ROOT/tmpfs-probe"
if [ -n "${FAULTS_DISK:-}" ]; then
  DISK=$FAULTS_DISK
elif unshare -rm sh -c 'mount -t tmpfs -o size=16k tmpfs "$1"' sh "$ROOT/tmpfs-probe" 2>/dev/null; then
  DISK=unshare
elif [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=16k tmpfs "$ROOT/tmpfs-probe" 2>/dev/null; then
  umount "$ROOT/tmpfs-probe"
  DISK=mount
fi
# run_diskfull DIR OUT: one run with the state directory full.
run_diskfull() {
  mkdir -p "$1/state" "$1/state.after"
  case $DISK in
  unshare)
    unshare -rm sh -c '
      mount -t tmpfs -o size=64k tmpfs "$1/state" || exit 99
      dd if=/dev/zero of="$1/state/.fill" bs=4k 2>/dev/null
      cd "$1" && timeout -s KILL 300 "$SLUICE" run p.json --once >"$2.out" 2>"$2.err"
      rc=$?
      rm -f "$1/state/.fill"; cp -a "$1/state/." "$1/state.after/"; exit $rc' sh "$1" "$2" ;;
  mount)
    mount -t tmpfs -o size=64k tmpfs "$1/state" || return 99
    dd if=/dev/zero of="$1/state/.fill" bs=4k 2>/dev/null
    run_once "$1" "$2"
    rc=$?
    rm -f "$1/state/.fill"
    cp -a "$1/state/." "$1/state.after/"
    umount "$1/state"
    (exit $rc) ;;
  ulimit)
    # The limit is the process's: its log goes through a pipe to a file
    # written outside it.
    (cd "$1" && trap '' XFSZ && ulimit -f 0 &&
      exec timeout -s KILL 300 "$SLUICE" run p.json --once 2>&1 >/dev/null) |
      cat >"$2.err"
    rc=${PIPESTATUS[0]}
    cp -a "$1/state/." "$1/state.after/"
    (exit $rc) ;;
  esac
  rc=$?
  rm -rf "$1/state"
  mv "$1/state.after" "$1/state"
  return $rc
}

RESULTS=$ROOT/results.tsv
: >"$RESULTS"
# result P F RES WHY: one cell; a FAIL keeps the cell's files.
result() {
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RESULTS"
  printf '%-24s %-10s %-5s %s\n' "$1" "$2" "$3" "$4"
  if [ "$3" = FAIL ]; then
    mkdir -p "$OUTDIR/$1.$2"
    cp -r "$ROOT/cell/." "$OUTDIR/$1.$2/" 2>/dev/null
    cp "$ROOT/ref-$1.dump" "$OUTDIR/$1.$2/ref.dump"
  fi
}

# rerun_and_compare P DIR: the clean rerun and the comparison; prints
# why it fails, nothing when it passes.
rerun_and_compare() {
  run_once "$2" "$2/rerun"
  rc=$?
  # After a faulted run that succeeded there may be nothing left to do (0).
  if [ "$rc" != "${REF_RC[$1]}" ] && [ "$rc" != 0 ]; then
    echo "the clean rerun exited $rc (a clean run: ${REF_RC[$1]}): $(grep -m1 -E 'ERROR|error' "$2/rerun.err" | cut -c1-200)"
    return
  fi
  rec=$($H record "$2/state/runs.jsonl")
  case ${rec%%	*} in succeeded | rejected) ;; *)
    echo "the rerun's record: $rec"
    return ;;
  esac
  dump "$1" "$2" >"$2/dump"
  if ! cmp -s "$ROOT/ref-$1.dump" "$2/dump"; then
    diff "$ROOT/ref-$1.dump" "$2/dump" >"$2/dump.diff"
    echo "the destination differs from one clean run: $(grep -c '^<' "$2/dump.diff") lines missing, $(grep -c '^>' "$2/dump.diff") extra"
  fi
}

# cell P F: one fault class on one pipeline.
cell() {
  p=$1 f=$2 D=$ROOT/cell
  reset_all
  disarm
  prepare "$p" "$D"
  arm "$p" "$f"
  t=$(now_ms)
  if [ "$f" = diskfull ]; then
    run_diskfull "$D" "$D/run1"
  else
    run_once "$D" "$D/run1"
  fi
  rc=$?
  ms=$(($(now_ms) - t))
  stop_watchers
  left=$(pending)
  fired=yes
  case $f in token | warehouse) for s in $(services "$p"); do
    case "$s.$f" in sf.token | sfk.token | sfk.warehouse) [ -f "$ROOT/watch.$s" ] || fired=no ;; esac
  done ;; esac
  disarm
  rec=$($H record "$D/state/runs.jsonl")
  st=${rec%%	*}
  rest=${rec#*	}
  retries=${rest%%	*}
  error=${rest#*	}
  why=
  if [ "$rc" = 137 ] || [ "$rc" = 124 ]; then
    why="the faulted run hung (killed after 300 s)"
  elif [ "$rc" -gt 128 ]; then
    why="the faulted run crashed (signal $((rc - 128)))"
  elif [ "$left" != 0 ] || [ "$fired" = no ]; then
    why="the fault did not fire ($left pending)"
  elif [ "$rc" = 0 ] || [ "$rc" = 3 ]; then
    case $st in
    succeeded | rejected)
      case $f in 429 | 5xx | reset)
        [ "$retries" -gt 0 ] || why="succeeded, but its record shows http_retries 0" ;;
      diskfull)
        why="succeeded with a full state directory" ;;
      esac ;;
    *) why="exit $rc, but its record says '$st'" ;;
    esac
    outcome="succeeded, $retries retries"
  elif [ "$rc" = 1 ]; then
    if [ "$st" = none ] && [ "$f" = diskfull ]; then
      # No room for the record either: stderr must say so.
      grep -qE "$REASON" "$D/run1.err" || why="failed without a record or a reason on stderr"
      grep -q "run record not written" "$D/run1.err" || why="no record and no word of it"
    elif [ "$st" != failed ]; then
      why="exit 1, but its record says '$st'"
    elif [ -z "$error" ]; then
      why="failed, but its record has no error"
    elif ! printf '%s' "$error" | grep -qE "$REASON"; then
      why="failed for another reason: $(printf '%s' "$error" | cut -c1-160)"
    fi
    outcome="failed: $(printf '%s' "${error:-$(grep -m1 -E "$REASON" "$D/run1.err")}" | cut -c1-120)"
  else
    why="the faulted run exited $rc"
  fi
  [ -z "$why" ] && why=$(rerun_and_compare "$p" "$D")
  if [ -z "$why" ]; then
    result "$p" "$f" pass "$ms ms; $outcome"
  else
    result "$p" "$f" FAIL "$why"
  fi
}

# kill9 P: KILLS seeded kills, each followed by a clean rerun.
kill9() {
  p=$1 D=$ROOT/cell
  pseed=$((SEED + $(printf '%s' "$p" | cksum | cut -d' ' -f1) % 100000))
  delays=$($H delays "$pseed" "$KILLS" "${DUR[$p]}")
  bad= landed=0 k=0
  for d in $delays; do
    k=$((k + 1))
    reset_all
    disarm
    prepare "$p" "$D"
    (cd "$D" && exec "$SLUICE" run p.json --once >"$D/run1.out" 2>"$D/run1.err") &
    pid=$!
    sleep "$(printf '%d.%03d' $((d / 1000)) $((d % 1000)))"
    kill -9 "$pid" 2>/dev/null && landed=$((landed + 1))
    wait "$pid" 2>/dev/null
    why=$(rerun_and_compare "$p" "$D")
    if [ -n "$why" ]; then
      bad="kill $k at $d ms: $why"
      break
    fi
  done
  if [ -z "$bad" ]; then
    result "$p" kill9 pass "$KILLS kills ($landed mid-run), seed $pseed, delays (ms): $delays"
  else
    result "$p" kill9 FAIL "seed $pseed (delays $delays): $bad"
  fi
}

echo "fault matrix: seed $SEED, disk full by $DISK, $KILLS kills per pipeline"
for p in $PIPELINES; do
  [ -n "$ONLY_P" ] && case ",$ONLY_P," in *",$p,"*) ;; *) continue ;; esac
  reference "$p"
  for f in $FAULTS; do
    [ -n "$ONLY_F" ] && case ",$ONLY_F," in *",$f,"*) ;; *) continue ;; esac
    if ! applies "$p" "$f"; then
      result "$p" "$f" n.a. ""
    elif [ "$f" = kill9 ]; then
      kill9 "$p"
    else
      cell "$p" "$f"
    fi
  done
done

echo
echo "== the fault matrix (seed $SEED; disk full by $DISK; $(($(date +%s) - T0)) s)"
$H table "$RESULTS" | tee "$OUTDIR/table.txt"
cp "$RESULTS" "$OUTDIR/results.tsv"
if grep -q '	FAIL	' "$RESULTS"; then
  echo "FAIL: $(grep -c '	FAIL	' "$RESULTS") cells (their files: $OUTDIR)"
  exit 1
fi
exit 0
