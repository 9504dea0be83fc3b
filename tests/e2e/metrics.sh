#!/bin/sh
# tests/e2e/metrics.sh - `sluice run --metrics ADDR:PORT`: Prometheus text
# with runs by status, rows, last success, running and in-flight gauges;
# 404 elsewhere; a bad address refused; SIGTERM stops it cleanly.
. "$TOP_SRCDIR/tests/e2e/lib.sh"
command -v python3 >/dev/null 2>&1 || { echo "SKIP: no python3"; exit 77; }
command -v curl >/dev/null 2>&1 || { echo "SKIP: no curl"; exit 77; }

mkdir -p in out
printf 'id,n\n1,a\n2,b\n3,c\n' >in/a.csv
printf 'id,n\n4,"bad\n' >in/b.csv
cat >p.json <<'JSON'
{ "version": 1, "state_dir": "state",
  "pipelines": [
    { "name": "good", "schedule": { "every": "1h" },
      "source": { "plugin": "csv-file", "path": "in/a.csv" },
      "destination": { "plugin": "csv-file", "path": "out/a.csv" } },
    { "name": "bad", "schedule": { "every": "1h" },
      "source": { "plugin": "csv-file", "path": "in/b.csv" },
      "destination": { "plugin": "csv-file", "path": "out/b.csv" } } ] }
JSON
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

expect_exit 2 "$SLUICE" run p.json --metrics nowhere
expect_in err.txt "--metrics nowhere: expected ADDRESS:PORT"

"$SLUICE" run p.json --metrics "127.0.0.1:$PORT" >run.out 2>run.err &
PID=$!
i=0
until grep -q "run .* failed" run.err 2>/dev/null && grep -q "run .* succeeded" run.err 2>/dev/null; do
  i=$((i + 1)); [ $i -lt 200 ] || { cat run.err >&2; fail "the runs did not end"; }
  sleep 0.1
done
curl -sS "http://127.0.0.1:$PORT/metrics" >m.txt || fail "no metrics"
expect_in m.txt '# TYPE sluice_runs_total counter'
expect_in m.txt 'sluice_runs_total{pipeline="good",status="succeeded"} 1'
expect_in m.txt 'sluice_runs_total{pipeline="bad",status="failed"} 1'
expect_in m.txt 'sluice_rows_total{pipeline="good",kind="read"} 3'
expect_in m.txt 'sluice_rows_total{pipeline="good",kind="written"} 3'
expect_in m.txt 'sluice_running{pipeline="good"} 0'
expect_in m.txt 'sluice_batches_in_flight{pipeline="good"} 0'
expect_in m.txt 'sluice_last_success_timestamp_seconds{pipeline="bad"} 0'
expect_in m.txt 'sluice_http_retries_total 0'
grep -q 'sluice_last_success_timestamp_seconds{pipeline="good"} 1[0-9]\{9\}' m.txt ||
  fail "no last success time for good"
NCHECK=$((NCHECK + 1))
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/")
[ "$code" = 404 ] || fail "GET / answered $code"
NCHECK=$((NCHECK + 1))
kill -TERM $PID
wait $PID
rc=$?
[ $rc = 1 ] || fail "exit $rc after SIGTERM (a run failed: 1)"
NCHECK=$((NCHECK + 1))
done_ok
