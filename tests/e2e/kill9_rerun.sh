#!/bin/sh
# kill -9 at several moments of a large csv run (before any output, and
# with 1, 8 and 30 MB written), then a rerun: the output is byte-identical
# to one clean run, and no temporary file is left behind.
. "$TOP_SRCDIR/tests/e2e/lib.sh"

mkdir in
awk 'BEGIN { print "id,name,amount,when,flag";
  for (i = 1; i <= 1500000; i++)
    printf "%d,\"name %d, \"\"q\"\"\",%d.%02d,2025-01-%02dT10:00:00Z,%s\n",
      i, i, i * 7, i % 100, i % 28 + 1, (i % 2 ? "true" : "false") }' >in/big.csv
TYPES='{ "id": "int64", "amount": "decimal(12,2)", "when": "timestamp", "flag": "bool" }'
csv_pipeline p.json "{ \"plugin\": \"csv-file\", \"path\": \"in/big.csv\", \"types\": $TYPES }" \
  '{ "plugin": "csv-file", "path": "out.csv" }' '"batch": { "rows": 2000 }'

expect_exit 0 "$SLUICE" run p.json --once
mv out.csv clean.csv
rm -rf state
killed=0
for at in 0 1000000 8000000 30000000; do
  "$SLUICE" -q run p.json --once &
  pid=$!
  if [ "$at" = 0 ] || wait_for_bytes "out.csv.sluice-tmp-*" "$at" "$pid"; then
    kill -9 "$pid" 2>/dev/null && killed=$((killed + 1))
  fi
  wait "$pid" 2>/dev/null
  # Whatever the moment, the rerun completes the job exactly once.
  expect_exit 0 "$SLUICE" run p.json --once
  expect_same clean.csv out.csv
  ls | grep -q sluice-tmp && fail "a temporary file was left (at $at bytes)"
  rm -rf state out.csv
done
# The kills must have landed mid-run, or this test proved nothing.
[ "$killed" -ge 3 ] || fail "only $killed of 4 kills happened during a run"

# With {run_id} in the path, the next run's name differs from the killed
# one's: its temporary file must be found and removed all the same.
mkdir runs
csv_pipeline p.json "{ \"plugin\": \"csv-file\", \"path\": \"in/big.csv\", \"types\": $TYPES }" \
  '{ "plugin": "csv-file", "path": "runs/{run_id}.csv" }' '"batch": { "rows": 2000 }'
"$SLUICE" -q run p.json --once &
pid=$!
wait_for_bytes "runs/*.sluice-tmp-*" 1000000 "$pid" && kill -9 "$pid"
wait "$pid" 2>/dev/null
expect_exit 0 "$SLUICE" run p.json --once
[ "$(ls runs | wc -l)" = 1 ] || { ls -la runs >&2; fail "a stale temporary file is left in runs/"; }
expect_same clean.csv runs/*.csv
done_ok
