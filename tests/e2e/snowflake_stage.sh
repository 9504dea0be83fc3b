#!/bin/sh
# tests/e2e/snowflake_stage.sh - snowflake-stage against the Snowflake
# emulator and its in-process S3 store: the same rows give the same table
# as snowflake-sql (several files, uploads in parallel, objects and spool
# files cleaned up); a wrong bucket secret; temporary credentials (session
# token); a COPY with a bad row (file, line and column; nothing merged);
# kill -9 during an upload and during the COPY, then a rerun: the table of
# one clean run, no staged file loaded twice, the killed run's files swept.
. "$TOP_SRCDIR/tests/e2e/lib.sh"
SFKEMU_ARGS="--s3 --stage SLUICE_DB.PUBLIC.SFSYNC_STAGE=s3://sluice-stage/sfsync/ --s3-credential TEMPKEY0000000001:temp-secret-0001:temp-session-token-0001"
. "$TOP_SRCDIR/tests/e2e/sfkemu.sh"
"$SLUICE" plugins 2>/dev/null | grep -q '^snowflake-stage ' ||
  { echo "SKIP: the snowflake-stage plugin is not built"; exit 77; }

check_eq() {
  NCHECK=$((NCHECK + 1))
  [ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"
}
T='SLUICE_DB.PUBLIC'
TYPES='"types": { "Revenue": "decimal(18,2)", "Employees": "int64", "Since": "timestamp", "Active": "bool", "Born": "date" }'
export S3_SK

# pipe FILE NAME PLUGIN TABLE [DEST_EXTRA]: csv in/NAME/*.csv into TABLE.
pipe() {
  if [ "$3" = snowflake-stage ]; then
    STAGE=', "stage": "SLUICE_DB.PUBLIC.SFSYNC_STAGE",
      "bucket_url": "s3://sluice-stage/sfsync/",
      "endpoint": "https://localhost:'"$S3_PORT"'",
      "access_key_id": "'"$S3_AK"'", "secret_access_key": { "env": "S3_SK" },
      "spool_dir": "spool", "file_size": "16k", "max_uploads": 2'
  else
    STAGE=''
  fi
  cat >"$1" <<JSON
{ "version": 1, "state_dir": "state",
  "connections": { "snow": $SFK_CONN },
  "pipelines": [ { "name": "$2",
    "source": { "plugin": "csv-file", "path": "in/$2/*.csv", $TYPES },
    "destination": { "plugin": "$3", "connection": "snow", "table": "$4",
      "key": ["Id"] $STAGE ${5:-} } } ] }
JSON
}
# gen FILE N SEED: N rows (every 7th a second version of an earlier Id),
# with quotes, commas, newlines, backslashes, "\N", empty and null values.
gen() {
  python3 - "$1" "$2" "$3" <<'PY'
import random, sys
path, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
r = random.Random(seed)
names = ['Acme', 'Globex, Inc.', 'say "hi"', 'two\nlines', 'back\\slash', '\\N', ' padded ', 'Zürich ☃']
with open(path, 'w', newline='') as f:
    f.write('Id,Name,Revenue,Employees,Since,Active,Born\n')
    for i in range(n):
        k = r.randrange(max(i, 1)) if i % 7 == 6 else i
        name = r.choice(names) + str(r.randrange(1000)) if i % 17 else r.choice(['\\N', '\\\\N', 'N'])
        q = '"' + name.replace('"', '""') + '"'
        rev = '' if i % 11 == 0 else '%d.%02d' % (r.randrange(10**9), r.randrange(100))
        since = '2024-%02d-%02dT%02d:%02d:%02dZ' % (r.randrange(1, 13), r.randrange(1, 29), r.randrange(24), r.randrange(60), r.randrange(60))
        born = '' if i % 5 == 0 else '19%02d-%02d-%02d' % (r.randrange(100), r.randrange(1, 13), r.randrange(1, 29))
        f.write('A%06d,%s,%s,%d,%s,%s,%s\n' % (k, q if i % 13 else '', rev, r.randrange(-5, 10**6), since, 'true' if i % 2 else 'false', born))
PY
}
dump() { sq "SELECT * FROM $T.$1 ORDER BY ID"; }
objects() { s3ctl GET "/objects/sluice-stage?prefix=sfsync/$1" | python3 -c 'import json,sys
d=json.load(sys.stdin); d=d.get("objects", d) if isinstance(d, dict) else d
print(len(d))'; }

# --- 1. the same rows as snowflake-sql give the same table ----------------
mkdir -p in/acc spool
gen in/acc/a.csv 3000 1
pipe ref.json acc snowflake-sql REF
expect_exit 0 "$SLUICE" run ref.json --once
dump REF >ref.txt
check_eq "$(wc -l <ref.txt)" "$(sq "SELECT COUNT(DISTINCT ID) FROM $T.REF" | tr -d '[]"')" "REF rows"
pipe stg.json acc snowflake-stage STG
rm -rf state # the csv source's checkpoint: read the file again
expect_exit 0 "$SLUICE" run stg.json --once -v
expect_in err.txt "part-000002.csv.gz" # several files
expect_in err.txt "staged 3000 rows in"
expect_not_in err.txt "$S3_SK"
dump STG >stg.txt
expect_same ref.txt stg.txt
sq "SELECT PIPELINE, WRITE_MODE, ROWS_STAGED, STATUS FROM $T.SLUICE_AUDIT WHERE TARGET_TABLE LIKE '%STG%'" >audit.txt
expect_in audit.txt '["acc", "merge", "3000", "COMMITTED"]'
check_eq "$(objects acc/)" 0 "staged objects left after cleanup"
check_eq "$(ls spool | wc -l)" 0 "spool files left"
# The uploads: SigV4 over S3, UNSIGNED-PAYLOAD, virtual-host style.
s3ctl GET "/requests?method=PUT" >puts.json
expect_in puts.json '"style": "virtual'
expect_in puts.json 'UNSIGNED-PAYLOAD'
# Changed rows, run again: still the same as snowflake-sql.
gen in/acc/a.csv 2500 2
rm -rf state
expect_exit 0 "$SLUICE" run ref.json --once
rm -rf state
expect_exit 0 "$SLUICE" run stg.json --once
dump REF >ref2.txt
dump STG >stg2.txt
expect_same ref2.txt stg2.txt

# --- 2. a wrong bucket secret: the bucket and S3's code, never the secret --
S3_SK_GOOD=$S3_SK
S3_SK='wrong-secret-value-123'
rm -rf state
expect_exit 1 "$SLUICE" run stg.json --once
expect_in err.txt "s3://sluice-stage/sfsync/acc/"
expect_in err.txt "SignatureDoesNotMatch"
expect_in err.txt "bucket sluice-stage"
expect_not_in err.txt "$S3_SK"
expect_not_in out.txt "$S3_SK"
S3_SK=$S3_SK_GOOD

# --- 3. temporary credentials: a session token ------------------------------
mkdir -p in/tok
gen in/tok/a.csv 200 3
pipe tok.json tok snowflake-stage TOK \
  ', "session_token": { "env": "S3_TOKEN" }'
sed -e "s/\"$S3_AK\"/\"TEMPKEY0000000001\"/" tok.json >tok2.json
export S3_TOKEN=temp-session-token-0001
S3_SK=temp-secret-0001
expect_exit 0 "$SLUICE" run tok2.json --once
expect_not_in err.txt "temp-session-token-0001"
check_eq "$(sq "SELECT COUNT(*) FROM $T.TOK" | tr -d '[]"')" \
  "$(python3 -c 'import csv,sys; print(len({r[0] for r in list(csv.reader(open(sys.argv[1], newline="")))[1:]}))' in/tok/a.csv)" \
  "rows loaded with a token"
s3ctl GET "/requests?method=PUT" >tokputs.json
expect_in tokputs.json 'x-amz-security-token'
# The same key without its token: refused, and said so.
rm -rf state
S3_TOKEN=
expect_exit 1 "$SLUICE" run tok2.json --once
expect_in err.txt "InvalidAccessKeyId"
S3_SK=$S3_SK_GOOD

# --- 4. a COPY with a bad row: file, line, column; nothing merged ----------
# Text that is not UTF-8 passes the CSV source as bytes and reaches the
# staged file; the COPY refuses it (ON_ERROR = ABORT_STATEMENT), and no row
# of the batch is merged, not even the good ones.
mkdir -p in/bad
printf 'Id,Name\nB1,short\nB2,ok\nB3,bad \377 name\nB4,ok\n' >in/bad/a.csv
cat >bad.json <<JSON
{ "version": 1, "state_dir": "state",
  "connections": { "snow": $SFK_CONN },
  "pipelines": [ { "name": "bad",
    "source": { "plugin": "csv-file", "path": "in/bad/*.csv" },
    "destination": { "plugin": "snowflake-stage", "connection": "snow",
      "table": "BADT", "key": ["Id"], "stage": "SLUICE_DB.PUBLIC.SFSYNC_STAGE",
      "bucket_url": "s3://sluice-stage/sfsync/", "path_style": true,
      "endpoint": "https://localhost:$S3_PORT", "access_key_id": "$S3_AK",
      "secret_access_key": { "env": "S3_SK" }, "spool_dir": "spool" } } ] }
JSON
expect_exit 1 "$SLUICE" run bad.json --once
expect_in err.txt "COPY INTO"
expect_in err.txt "Invalid UTF8"
expect_in err.txt "File 'bad/"
expect_in err.txt "line 4"
expect_in err.txt "column"
check_eq "$(sq "SELECT COUNT(*) FROM $T.BADT" | tr -d '[]"')" 0 "rows merged after a failed COPY"
s3ctl GET "/requests?method=PUT" >pathputs.json
expect_in pathputs.json '"style": "path"'

# --- 5. kill -9 during an upload, then a rerun ------------------------------
# ks NAME: waits for the run's stalled request, checks the spool files'
# mode, kills the run with SIGKILL.
rm -rf state
s3ctl DELETE /requests >/dev/null
kill_when_fired() { # $1: fault listing command, $2: pid
  i=0
  until $1 | grep -q '"fired": [1-9]'; do
    kill -0 "$2" 2>/dev/null || { cat run.err >&2; fail "the run ended before the fault"; }
    i=$((i + 1)); [ $i -lt 300 ] || fail "the fault never fired"
    sleep 0.1
  done
  kill -9 "$2"
  wait "$2" 2>/dev/null
}
s3faults() { s3ctl GET /faults; }
sfkfaults() { sfkctl GET /faults; }
s3ctl POST /faults '{"kind": "stall", "seconds": 60, "count": 5, "method": "PUT", "after": 2, "path_prefix": "/sluice-stage/sfsync/acc/"}' >/dev/null
"$SLUICE" run stg.json --once >run.out 2>run.err &
RUN=$!
i=0
until s3faults | grep -q '"fired": [1-9]'; do
  kill -0 "$RUN" 2>/dev/null || { cat run.err >&2; fail "the run ended before the stalled upload"; }
  i=$((i + 1)); [ $i -lt 300 ] || { cat run.err >&2; s3faults >&2; fail "the upload never stalled"; }
  sleep 0.1
done
for f in spool/*; do [ -f "$f" ] && expect_mode 600 "$f"; done
kill -9 "$RUN"
wait "$RUN" 2>/dev/null
s3ctl DELETE /faults >/dev/null
KILLED=$(objects acc/)
[ "$KILLED" -ge 2 ] || fail "the killed run staged $KILLED files"
expect_exit 0 "$SLUICE" run stg.json --once -v
expect_in err.txt "deleting the staged files an earlier run left behind"
dump STG >stg3.txt
expect_same ref2.txt stg3.txt
sleep 1 # the sweep's DELETEs are not waited for
check_eq "$(objects acc/)" 0 "objects left after the rerun"

# --- 6. kill -9 during the COPY, then a rerun -------------------------------
rm -rf state
sfkctl POST /faults '{"kind": "stall", "seconds": 60, "count": 5, "statement_regex": "^COPY INTO"}' >/dev/null
"$SLUICE" run stg.json --once >run.out 2>run.err &
RUN=$!
kill_when_fired sfkfaults "$RUN"
sfkctl DELETE /faults >/dev/null
expect_exit 0 "$SLUICE" run stg.json --once
dump STG >stg4.txt
expect_same ref2.txt stg4.txt
# No staged file was read by two COPYs.
s3ctl GET /requests >reqs.json
python3 - reqs.json <<'PY' || fail "a staged file was loaded twice"
import collections, json, sys
d = json.load(open(sys.argv[1]))
d = d.get("requests", d) if isinstance(d, dict) else d
gets = collections.Counter(r["path"] for r in d if r.get("via") == "sfkemu-copy:get")
twice = [p for p, n in gets.items() if n > 1]
print("COPY reads:", len(gets), "twice:", twice)
sys.exit(1 if twice or not gets else 0)
PY
NCHECK=$((NCHECK + 1))
done_ok
