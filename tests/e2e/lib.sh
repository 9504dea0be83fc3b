# tests/e2e/lib.sh - helpers for the program-level tests (sourced).
# Each test runs in its own temporary directory, removed on exit.
set -u
: "${SLUICE:?run through make check}"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sluice-e2e.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 99
NCHECK=0

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# expect_exit CODE CMD...: runs CMD, keeps stdout/stderr in out/err.
expect_exit() {
  want=$1
  shift
  "$@" >out.txt 2>err.txt
  got=$?
  NCHECK=$((NCHECK + 1))
  if [ "$got" != "$want" ]; then
    echo "--- stdout" >&2; cat out.txt >&2
    echo "--- stderr" >&2; cat err.txt >&2
    fail "expected exit $want, got $got: $*"
  fi
}

# expect_in FILE TEXT: FILE contains TEXT (a fixed string).
expect_in() {
  NCHECK=$((NCHECK + 1))
  grep -qF -- "$2" "$1" || { echo "--- $1" >&2; cat "$1" >&2; fail "'$2' not in $1"; }
}

expect_not_in() {
  NCHECK=$((NCHECK + 1))
  ! grep -qF -- "$2" "$1" || { echo "--- $1" >&2; cat "$1" >&2; fail "'$2' in $1"; }
}

expect_same() {
  NCHECK=$((NCHECK + 1))
  cmp -s "$1" "$2" || { diff -u "$1" "$2" | head -40 >&2; fail "$1 and $2 differ"; }
}

expect_mode() {
  NCHECK=$((NCHECK + 1))
  m=$(stat -c %a "$2")
  [ "$m" = "$1" ] || fail "$2 has mode $m, expected $1"
}

done_ok() {
  echo "ok: $NCHECK checks"
  exit 0
}

# A pipeline file: csv_pipeline NAME SRC_JSON DST_JSON [EXTRA_PIPELINE_JSON]
csv_pipeline() {
  cat >"$1" <<JSON
{ "version": 1, "state_dir": "state",
  "pipelines": [ { "name": "p", "source": $2, "destination": $3 ${4:+, $4} } ] }
JSON
}

# wait_for_bytes GLOB N PID: waits until a file matching GLOB has at least
# N bytes (the run is visibly part way), or the process PID has ended.
wait_for_bytes() {
  i=0
  while kill -0 "$3" 2>/dev/null && [ $i -lt 3000 ]; do
    for f in $1; do
      [ -f "$f" ] && [ "$(stat -c %s "$f" 2>/dev/null || echo 0)" -ge "$2" ] && return 0
    done
    sleep 0.01
    i=$((i + 1))
  done
  return 1
}
