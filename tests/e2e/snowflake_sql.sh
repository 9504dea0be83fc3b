#!/bin/sh
# tests/e2e/snowflake_sql.sh - snowflake-sql against the Snowflake
# emulator: key-pair auth (wrong key, wrong account, a refused token signed
# again), csv-to-snowflake run twice (the same table), schema drift both
# ways, a source query over several partitions, a statement that goes
# async, a suspended warehouse, faults, and kill -9 before the MERGE.
. "$TOP_SRCDIR/tests/e2e/lib.sh"
SFKEMU_ARGS="--partition-rows 1000 --sync-wait 1"
. "$TOP_SRCDIR/tests/e2e/sfkemu.sh"

check_eq() {
  NCHECK=$((NCHECK + 1))
  [ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"
}
TABLE='SLUICE_DB.PUBLIC'

# csv_to_snow FILE NAME SRC_EXTRA DST_EXTRA [CONN] [PIPELINE_EXTRA]
csv_to_snow() {
  cat >"$1" <<JSON
{ "version": 1, "state_dir": "state",
  "connections": { "snow": ${5:-$SFK_CONN} },
  "pipelines": [ { "name": "$2",
    "source": { "plugin": "csv-file", "path": "in/$2/*.csv" $3 },
    "destination": { "plugin": "snowflake-sql", "connection": "snow" $4 } ${6:-} } ] }
JSON
  mkdir -p "in/$2"
}

mkdir -p in/acc
cat >in/acc/a.csv <<'CSV'
Id,Name,Revenue,Employees,Since,Active
A1,Acme,1250000.50,120,2024-03-01T09:30:00Z,true
A2,"Globex, Inc.",98000,15,2024-04-15T17:05:12+02:00,false
A3,Initech,,7,2025-01-02T00:00:00Z,true
A2,"Globex, Inc. (renamed)",99000,16,2024-04-15T17:05:12+02:00,false
CSV
TYPES=', "types": { "Revenue": "decimal(18,2)", "Employees": "int64", "Since": "timestamp", "Active": "bool" }'
MERGE=', "table": "ACC", "key": ["Id"]'

# --- 1. auth ---------------------------------------------------------------
csv_to_snow wrongkey.json acc "$TYPES" "$MERGE" "$(sfk_conn "$WORK/pki/wrong.key")"
expect_exit 1 "$SLUICE" run wrongkey.json --once
expect_in err.txt "refused the key-pair JWT (390144)"
expect_in err.txt "RSA_PUBLIC_KEY_FP"
csv_to_snow badacct.json acc "$TYPES" "$MERGE" \
  "$(sfk_conn "$WORK/pki/client.key" | sed 's|"account": "[^"]*"|"account": "https://x.snowflakecomputing.com"|')"
expect_exit 1 "$SLUICE" run badacct.json --once
expect_in err.txt "is not a Snowflake account identifier"
# The encrypted PKCS#8 key, its passphrase a secret from the environment.
SNOW_PASS=$(cat "$WORK/pki/client.passphrase")
export SNOW_PASS
csv_to_snow p8.json acc "$TYPES" "$MERGE" \
  "$(sfk_conn "$WORK/pki/client.p8" ', "private_key_passphrase": { "env": "SNOW_PASS" }')"
expect_exit 0 "$SLUICE" check p8.json
expect_not_in err.txt "$SNOW_PASS"
expect_in err.txt "table ACC does not exist yet: the first run creates it"
# A token the service refuses once (expired): signed again, the run goes on.
sfkctl POST /tokens/expire '{"count": 1}' >/dev/null
csv_to_snow acc.json acc "$TYPES" "$MERGE"
expect_exit 0 "$SLUICE" run acc.json --once
expect_in err.txt "JWT refused (390144): signing a new one"

# --- 2. merge: the last row of a key wins; a second run changes nothing ----
sq "SELECT ID, NAME, REVENUE, EMPLOYEES, ACTIVE, DEL_FLAG FROM $TABLE.ACC ORDER BY ID" >t1.txt
check_eq "$(wc -l <t1.txt)" 3 "rows after the first run"
expect_in t1.txt '["A2", "Globex, Inc. (renamed)", "99000.00", "16", "false", "N"]'
expect_in t1.txt '["A3", "Initech", null, "7", "true", "N"]'
sq "SELECT SINCE FROM $TABLE.ACC WHERE ID = 'A2'" >since.txt
expect_in since.txt '1713193512.000000000 1440' # 17:05:12+02:00 is 15:05:12Z
rm -f state/acc.checkpoint.json
expect_exit 0 "$SLUICE" run acc.json --once
sq "SELECT ID, NAME, REVENUE, EMPLOYEES, ACTIVE, DEL_FLAG FROM $TABLE.ACC ORDER BY ID" >t2.txt
expect_same t1.txt t2.txt
sq "SELECT PIPELINE, WRITE_MODE, ROWS_STAGED, STATUS FROM $TABLE.SLUICE_AUDIT ORDER BY COMMITTED_AT" >audit.txt
expect_in audit.txt '["acc", "merge", "4", "COMMITTED"]'
sq "SELECT COUNT(*) FROM $TABLE.SLUICE_AUDIT WHERE PIPELINE = 'acc'" >n.txt
expect_in n.txt '["2"]'
# No staging table is left behind.
sq "SELECT COUNT(*) FROM SLUICE_DB.INFORMATION_SCHEMA.COLUMNS WHERE TABLE_NAME LIKE 'ACC__SLUICE_STG%'" >stg.txt
expect_in stg.txt '["0"]'

# --- 3. schema drift ------------------------------------------------------
# A new field becomes a new column, and the audit row says so.
cat >in/acc/b.csv <<'CSV'
Id,Name,Revenue,Employees,Since,Active,Tier
A4,Hooli,5,1,2025-02-02T00:00:00Z,true,gold
CSV
cat >in/acc/a.csv <<'CSV'
Id,Name,Revenue,Employees,Since,Active,Tier
A1,Acme,1250000.50,120,2024-03-01T09:30:00Z,true,silver
CSV
rm -f state/acc.checkpoint.json
expect_exit 0 "$SLUICE" run acc.json --once
expect_in err.txt "schema drift: added column TIER VARCHAR"
sq "SELECT ID, TIER FROM $TABLE.ACC ORDER BY ID" >tier.txt
expect_in tier.txt '["A1", "silver"]'
expect_in tier.txt '["A2", null]'
sq "SELECT DRIFT FROM $TABLE.SLUICE_AUDIT WHERE DRIFT LIKE '%TIER%'" >drift.txt
expect_in drift.txt 'added column TIER VARCHAR'
# A field that changed type fails the run naming the column.
csv_to_snow acc.json acc ', "types": { "Revenue": "decimal(18,2)", "Employees": "string", "Since": "timestamp", "Active": "bool" }' "$MERGE"
rm -f state/acc.checkpoint.json
expect_exit 1 "$SLUICE" run acc.json --once
expect_in err.txt "column EMPLOYEES"
expect_in err.txt "its type changed"
# A field earlier runs wrote that the source no longer has fails too.
rm in/acc/b.csv
cat >in/acc/a.csv <<'CSV'
Id,Name,Revenue,Employees,Since,Active
A1,Acme,1250000.50,120,2024-03-01T09:30:00Z,true
CSV
csv_to_snow acc.json acc "$TYPES" "$MERGE"
rm -f state/acc.checkpoint.json
expect_exit 1 "$SLUICE" run acc.json --once
expect_in err.txt "column TIER"
expect_in err.txt "has no field in the source any more"
sq "SELECT NAME FROM $TABLE.ACC WHERE ID = 'A1'" >a1.txt
expect_in a1.txt '["Acme"]'

# --- 4. a source query over several partitions ----------------------------
mkdir -p in/big
python3 - >in/big/big.csv <<'PY'
print("K,V,D")
for i in range(3500):
    print("k%05d,%d.%02d,2024-01-%02d" % (i, i, i % 100, i % 28 + 1))
PY
csv_to_snow big.json big ', "types": { "V": "decimal(12,2)", "D": "date" }' \
  ', "table": "BIG", "key": ["K"]'
expect_exit 0 "$SLUICE" run big.json --once
cat >read.json <<JSON
{ "version": 1, "state_dir": "state",
  "connections": { "snow": $SFK_CONN },
  "pipelines": [ { "name": "read",
    "source": { "plugin": "snowflake-sql", "connection": "snow",
                "query": "SELECT K, V, D FROM SLUICE_DB.PUBLIC.BIG ORDER BY K" },
    "destination": { "plugin": "csv-file", "path": "out/read.csv" } } ] }
JSON
expect_exit 0 "$SLUICE" run read.json --once
expect_in err.txt "3500 rows to read in 4 partitions"
python3 - in/big/big.csv out/read.csv <<'PY' || fail "the query's rows differ from the loaded ones"
import csv, sys
a = list(csv.DictReader(open(sys.argv[1])))
b = list(csv.DictReader(open(sys.argv[2])))
assert len(a) == len(b) == 3500, (len(a), len(b))
for x, y in zip(a, b):
    assert x["K"] == y["K"] and x["D"] == y["D"], (x, y)
    assert "%.2f" % float(x["V"]) == y["V"], (x, y)
PY
NCHECK=$((NCHECK + 1))
sfkctl GET "/requests" >req.json
expect_in req.json 'partition=3'

# --- 5. a statement that outlives the synchronous wait: polled -------------
sfkctl POST /slow '{"seconds": 3, "pattern": "^SELECT K, V, D", "count": 1}' >/dev/null
expect_exit 0 "$SLUICE" run read.json --once -v
expect_in err.txt "running as"
check_eq "$(python3 -c 'import csv; print(sum(1 for _ in csv.DictReader(open("out/read.csv"))))')" 3500 "rows after an async statement"

# --- 5b. progress: a line a running pipeline on a terminal, none else ----
if command -v script >/dev/null 2>&1; then
  rm -f state/big.checkpoint.json
  sfkctl POST /slow '{"seconds": 3, "pattern": "MERGE", "count": 1}' >/dev/null
  script -qec "'$SLUICE' run big.json --once" /dev/null >tty.txt 2>&1 </dev/null
  expect_in tty.txt "rows/s"
  expect_in tty.txt "3500 read"
  expect_in tty.txt "$(printf '\033[2K')"
  rm -f state/big.checkpoint.json
  sfkctl POST /slow '{"seconds": 3, "pattern": "MERGE", "count": 1}' >/dev/null
  expect_exit 0 "$SLUICE" run big.json --once
  expect_not_in err.txt "rows/s"
  sfkctl DELETE /slow >/dev/null
fi

# --- 6. a suspended warehouse, in plain words ------------------------------
sfkctl POST /warehouse '{"state": "SUSPENDED", "auto_resume": false}' >/dev/null
expect_exit 1 "$SLUICE" run read.json --once
expect_in err.txt 'no usable warehouse: "SLUICE_WH" is suspended'
# check runs a statement that needs the warehouse, so it sees it too.
expect_exit 1 "$SLUICE" check read.json
expect_in out.txt 'no usable warehouse'
sfkctl POST /warehouse '{"state": "STARTED", "auto_resume": true}' >/dev/null

# --- 7. faults: every run completes with the same table -------------------
# reset_after runs the statement, then drops the connection: the resend
# carries the same requestId, and the service must not run it twice.
sq "SELECT * FROM $TABLE.BIG ORDER BY K" >big1.txt
for fault in \
  '{"kind": "status", "status": 429, "count": 2, "retry_after": 1}' \
  '{"kind": "status", "status": 503, "count": 2}' \
  '{"kind": "reset", "count": 1}' \
  '{"kind": "reset_after", "count": 2}' \
  '{"kind": "reset_mid_body", "count": 1}' \
  '{"kind": "stall", "seconds": 2, "count": 1}'; do
  sfkctl DELETE /faults >/dev/null
  sfkctl POST /faults "$fault" >/dev/null || fail "the emulator refused $fault"
  rm -f state/big.checkpoint.json
  expect_exit 0 "$SLUICE" run big.json --once
  sq "SELECT * FROM $TABLE.BIG ORDER BY K" >big2.txt
  expect_same big1.txt big2.txt
  sfkctl GET /faults | python3 -c 'import json,sys; sys.exit(1 if json.load(sys.stdin)["pending"] else 0)' ||
    fail "the fault never fired: $fault"
  NCHECK=$((NCHECK + 1))
done
sfkctl DELETE /faults >/dev/null

# --- 8. kill -9 while the MERGE is under way, then a rerun -----------------
cat >in/big/more.csv <<'CSV'
K,V,D
k99999,1.50,2024-02-01
k00001,7.00,2024-02-02
CSV
sfkctl POST /slow '{"seconds": 4, "pattern": "MERGE", "count": 1}' >/dev/null
"$SLUICE" run big.json --once -v >kill.out 2>kill.err &
PID=$!
i=0
until grep -q "merge: BEGIN; MERGE" kill.err 2>/dev/null; do
  i=$((i + 1)); [ $i -lt 300 ] || break
  sleep 0.1
done
sleep 1
kill -9 $PID 2>/dev/null
wait $PID 2>/dev/null
expect_exit 0 "$SLUICE" run big.json --once
sq "SELECT * FROM $TABLE.BIG ORDER BY K" >big3.txt
grep -q "merge: BEGIN; MERGE" kill.err || fail "the run was not killed during its MERGE"
NCHECK=$((NCHECK + 1))
# One clean run of the same files, into a table of its own.
csv_to_snow clean.json bigclean ', "types": { "V": "decimal(12,2)", "D": "date" }' \
  ', "table": "BIG_CLEAN", "key": ["K"]'
cp in/big/*.csv in/bigclean/
expect_exit 0 "$SLUICE" run clean.json --once
sq "SELECT * FROM $TABLE.BIG_CLEAN ORDER BY K" >clean.txt
expect_same clean.txt big3.txt
check_eq "$(wc -l <big3.txt)" 3501 "rows after the kill and the rerun"
done_ok
