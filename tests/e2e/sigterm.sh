#!/bin/sh
# SIGTERM during a run: the batches in flight are written and committed,
# the checkpoint saved, exit 0; the next run continues from the checkpoint,
# and the two outputs together hold every row exactly once.
. "$TOP_SRCDIR/tests/e2e/lib.sh"

mkdir in out
awk 'BEGIN { print "id,v"; for (i = 1; i <= 3000000; i++) printf "%d,value-%d\n", i, i }' >in/big.csv
csv_pipeline p.json '{ "plugin": "csv-file", "path": "in/big.csv", "types": { "id": "int64" } }' \
  '{ "plugin": "csv-file", "path": "out/{run_id}.csv" }' '"batch": { "rows": 1000 }'

"$SLUICE" run p.json --once 2>err1 &
pid=$!
wait_for_bytes "out/*.sluice-tmp-*" 2000000 "$pid" || fail "the run ended before it could be stopped"
kill -TERM "$pid"
wait "$pid"
rc=$?
[ "$rc" = 0 ] || { cat err1 >&2; fail "SIGTERM: exit $rc, expected 0"; }
expect_in err1 "SIGTERM: finishing the batches in flight"
expect_in state/runs.jsonl '"status":"interrupted"'
expect_in state/p.checkpoint.json 'offset'
expect_exit 0 "$SLUICE" run p.json --once
[ "$(ls out | wc -l)" = 2 ] || fail "expected two output files"
# Both files have a header; the rows together are exactly the input's.
for f in out/*.csv; do tail -n +2 "$f"; done | sort -t, -k1,1n >got.csv
tail -n +2 in/big.csv >want.csv
expect_same want.csv got.csv

# With --once, a pipeline that fails as it starts does not take the
# signal handling away from the others.
rm -rf state out && mkdir out state
printf 'garbage' >state/a.checkpoint.json
cat >two.json <<'JSON'
{ "version": 1, "state_dir": "state",
  "pipelines": [
    { "name": "a", "source": { "plugin": "csv-file", "path": "in/big.csv" },
      "destination": { "plugin": "csv-file", "path": "out/a.csv" } },
    { "name": "p", "source": { "plugin": "csv-file", "path": "in/big.csv", "types": { "id": "int64" } },
      "destination": { "plugin": "csv-file", "path": "out/{run_id}.csv" },
      "batch": { "rows": 1000 } } ] }
JSON
"$SLUICE" run two.json --once 2>err2 &
pid=$!
wait_for_bytes "out/*.sluice-tmp-*" 2000000 "$pid" || fail "the run ended before it could be stopped"
kill -TERM "$pid"
wait "$pid"
rc=$?
[ "$rc" = 1 ] || { cat err2 >&2; fail "expected exit 1 (pipeline a failed), got $rc"; }
expect_in err2 "a.checkpoint.json: not a checkpoint file"
expect_in state/runs.jsonl '"pipeline":"p","status":"interrupted"'
done_ok
