#!/bin/sh
# `sluice run` without --once: a scheduled pipeline that never ran starts
# at once; a restarted daemon keeps the rhythm (no run until the next
# slot); SIGTERM exits 0 with no run cut short.
. "$TOP_SRCDIR/tests/e2e/lib.sh"

mkdir in
printf 'id\n1\n2\n' >in/a.csv
csv_pipeline p.json '{ "plugin": "csv-file", "path": "in/*.csv" }' \
  '{ "plugin": "csv-file", "path": "out/{run_id}.csv" }' \
  '"schedule": { "every": "1h" }'

runs() { [ -f state/runs.jsonl ] && wc -l <state/runs.jsonl || echo 0; }

"$SLUICE" run p.json 2>daemon1.err &
pid=$!
i=0
while [ "$(runs)" -lt 1 ] && [ $i -lt 500 ]; do sleep 0.02; i=$((i + 1)); done
[ "$(runs)" = 1 ] || fail "the first scheduled run did not happen"
kill -0 "$pid" 2>/dev/null || fail "the daemon exited after one run"
kill -TERM "$pid"
wait "$pid" || fail "SIGTERM: non-zero exit"
expect_in daemon1.err "SIGTERM"
expect_in state/runs.jsonl '"status":"succeeded"'

# Restarted within the hour: no run now.
"$SLUICE" -v run p.json 2>daemon2.err &
pid=$!
sleep 1
kill -TERM "$pid"
wait "$pid" || fail "SIGTERM: non-zero exit"
[ "$(runs)" = 1 ] || fail "a restarted daemon ran before the next slot"
expect_in daemon2.err "next run in 3"

# Validation still guards the daemon: a bad cron is exit 2 before any run.
csv_pipeline bad.json '{ "plugin": "csv-file", "path": "in/*.csv" }' \
  '{ "plugin": "csv-file", "path": "o.csv" }' '"schedule": { "cron": "61 * * * *" }'
expect_exit 2 "$SLUICE" run bad.json
expect_in err.txt "pipelines[0].schedule.cron: "
done_ok
