#!/bin/sh
# A glob source remembers the files it has read: a second run reads only
# the new file; the checkpoint says which files are done.
. "$TOP_SRCDIR/tests/e2e/lib.sh"

mkdir in
printf 'id,v\n1,a\n2,b\n' >in/2026-01-01.csv
printf 'id,v\n3,c\n' >in/2026-01-02.csv
csv_pipeline p.json '{ "plugin": "csv-file", "path": "in/*.csv" }' \
  '{ "plugin": "csv-file", "path": "out/{run_id}.csv" }'
mkdir out
expect_exit 0 "$SLUICE" run p.json --once
[ "$(ls out | wc -l)" = 1 ] || fail "expected one output file"
cat out/*.csv >first.csv
printf 'id,v\n1,a\n2,b\n3,c\n' >want.csv
expect_same want.csv first.csv
expect_in state/p.checkpoint.json "2026-01-02.csv"
expect_mode 600 state/p.checkpoint.json

printf 'id,v\n4,d\n' >in/2026-01-03.csv
expect_exit 0 "$SLUICE" run p.json --once
[ "$(ls out | wc -l)" = 2 ] || fail "expected a second output file"
new=$(ls -t out | head -1)
printf 'id,v\n4,d\n' >want2.csv
expect_same want2.csv "out/$new"
expect_in state/runs.jsonl '"rows_read":1'

# Nothing new: no output file at all (the destination is never opened).
expect_exit 0 "$SLUICE" run p.json --once
[ "$(ls out | wc -l)" = 2 ] || fail "a run with nothing to read wrote a file"

# A file that went away is forgotten: the checkpoint does not grow forever.
rm in/2026-01-01.csv
printf 'id,v\n5,e\n' >in/2026-01-04.csv
expect_exit 0 "$SLUICE" run p.json --once
expect_not_in state/p.checkpoint.json "2026-01-01.csv"
expect_in state/p.checkpoint.json "2026-01-04.csv"
expect_in state/p.checkpoint.json "2026-01-02.csv"
done_ok
