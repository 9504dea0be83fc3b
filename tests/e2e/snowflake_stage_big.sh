#!/bin/sh
# tests/e2e/snowflake_stage_big.sh - 1,000,000 rows through snowflake-stage
# into the emulators (several files, parallel uploads): the table holds
# exactly the source's rows, value for value.  Slow (the Python emulator's
# COPY and MERGE): not in `make check`; run it with `make check-stage-big`.
. "$TOP_SRCDIR/tests/e2e/lib.sh"
SFKEMU_ARGS="--s3 --stage SLUICE_DB.PUBLIC.SFSYNC_STAGE=s3://sluice-stage/sfsync/"
. "$TOP_SRCDIR/tests/e2e/sfkemu.sh"
"$SLUICE" plugins 2>/dev/null | grep -q '^snowflake-stage ' ||
  { echo "SKIP: the snowflake-stage plugin is not built"; exit 77; }
ROWS=${BIG_ROWS:-1000000}
export S3_SK
mkdir -p in spool
python3 - in/big.csv "$ROWS" <<'PY'
import random, sys
r = random.Random(42)
words = ['alpha', 'Globex, Inc.', 'say "hi"', 'two\nlines', 'back\\slash', '\\N', ' pad ', 'Zürich ☃', '']
with open(sys.argv[1], 'w', newline='') as f:
    f.write('Id,Name,Note,N\n')
    for i in range(int(sys.argv[2])):
        name, note = r.choice(words) + str(i % 97), r.choice(words)
        q = lambda s: '"' + s.replace('"', '""') + '"' if s else ''
        f.write('R%07d,%s,%s,%d\n' % (i, q(name), q(note), r.randrange(-10**12, 10**12)))
PY
cat >big.json <<JSON
{ "version": 1, "state_dir": "state",
  "connections": { "snow": $SFK_CONN },
  "pipelines": [ { "name": "big",
    "source": { "plugin": "csv-file", "path": "in/big.csv", "types": { "N": "int64" } },
    "destination": { "plugin": "snowflake-stage", "connection": "snow",
      "table": "BIG", "key": ["Id"], "stage": "SLUICE_DB.PUBLIC.SFSYNC_STAGE",
      "bucket_url": "s3://sluice-stage/sfsync/",
      "endpoint": "https://localhost:$S3_PORT", "access_key_id": "$S3_AK",
      "secret_access_key": { "env": "S3_SK" }, "spool_dir": "spool",
      "file_size": "8M", "max_uploads": 3 } } ] }
JSON
START=$(date +%s)
expect_exit 0 "$SLUICE" run big.json --once -v
echo "the run took $(($(date +%s) - START)) s"
grep -E 'uploaded [0-9]+ files|staged [0-9]+ rows' err.txt | sed 's/.*\] //'
expect_in err.txt "staged $ROWS rows in"
# Every row, value for value (the source's empty fields are NULL).
sfkctl POST /sql '{"sql": "SELECT ID, NAME, NOTE, N, DEL_FLAG FROM SLUICE_DB.PUBLIC.BIG ORDER BY ID"}' >table.json
python3 - in/big.csv table.json <<'PY' || fail "the table differs from the source"
import csv, json, sys
src = list(csv.reader(open(sys.argv[1], newline='', encoding='utf-8')))[1:]
rows = json.load(open(sys.argv[2]))["rows"]
assert len(rows) == len(src), (len(rows), len(src))
for s, t in zip(src, rows):
    want = [v if v != '' else None for v in s] + ['N']
    assert t == want, (t, want)
print("rows compared:", len(rows))
PY
NCHECK=$((NCHECK + 1))
done_ok
