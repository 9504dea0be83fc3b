#!/bin/sh
# salesforce-rest as a destination (sObject Collections) and its source's
# hard deletes, against the Salesforce emulator (tests/emulators):
# csv-file -> salesforce-rest upserts by external id (twice: idempotent),
# per-record failures into the reject file (exit 3), 450 inserts in 3
# requests, deletes by Id, and getDeleted turning hard deletes into DELETE
# rows (and a window the delete log no longer reaches failing clearly).
. "$TOP_SRCDIR/tests/e2e/lib.sh"

SFEMU_ACCOUNTS=300
. "$TOP_SRCDIR/tests/e2e/sfemu.sh"
CONN='{ "type": "salesforce", "login_url": "https://localhost:'$PORT'",
  "api_version": "'$V'", "auth_flow": "client_credentials",
  "client_id": { "env": "SF_CLIENT_ID" }, "client_secret": { "env": "SF_CLIENT_SECRET" },
  "ca_file": "'$WORK'/pki/ca.crt" }'

# to_sf FILE NAME INPUT DEST_EXTRA [PIPELINE_EXTRA]: csv-file -> salesforce-rest,
# the CSV's column types in $TYPES.
TYPES='{ "Score__c": "decimal(18,2)", "Scored_On__c": "date", "Active__c": "bool" }'
to_sf() {
  cat >"$1" <<JSON
{ "version": 1, "state_dir": "state",
  "connections": { "sf": $CONN },
  "pipelines": [ { "name": "$2",
    "source": { "plugin": "csv-file", "path": "$3",
                "types": $TYPES },
    "destination": { "plugin": "salesforce-rest", "connection": "sf",
                     "object": "Sluice_Score__c" $4 }
    ${5:+, $5} } ] }
JSON
}
# from_sf FILE NAME SOURCE_EXTRA: salesforce-rest -> csv-file (out/NAME.csv).
from_sf() {
  cat >"$1" <<JSON
{ "version": 1, "state_dir": "state",
  "connections": { "sf": $CONN },
  "pipelines": [ { "name": "$2",
    "source": { "plugin": "salesforce-rest", "connection": "sf" $3 },
    "destination": { "plugin": "csv-file", "path": "out/$2.csv" } } ] }
JSON
}
run_field() {
  python3 -c 'import json,sys
last=[json.loads(l) for l in open("state/runs.jsonl") if json.loads(l)["pipeline"]==sys.argv[1]][-1]
print(last[sys.argv[2]])' "$1" "$2"
}
nrows() { python3 -c 'import csv,sys; print(sum(1 for _ in csv.DictReader(open(sys.argv[1], newline=""))))' "$1"; }
check_eq() {
  NCHECK=$((NCHECK + 1))
  [ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"
}
no_token() { expect_not_in err.txt "$ORG15!"; expect_not_in out.txt "$ORG15!"; }
# scores NAME FILTER: the Sluice_Score__c rows matching FILTER, into out/NAME.csv
scores() {
  from_sf "$1.json" "$1" ', "object": "Sluice_Score__c", "fields": ["Id", "Ext_Id__c",
    "Score__c", "Grade__c", "Contact_Email__c", "Scored_On__c", "Active__c", "Phone__c"],
    "filter": "'"$2"'"'
  expect_exit 0 "$SLUICE" run "$1.json" --once
  no_token
}

# --- 1. upsert by Ext_Id__c, with a mapping (key -> Ext_Id__c) -------------
cat >scores.csv <<'CSV'
key,Score__c,Grade__c,Contact_Email__c,Scored_On__c,Active__c
T-001,12.50,A,one@example.com,2026-01-02,true
T-002,0.10,B,two@example.com,2026-01-03,false
T-003,-7.25,C,,2026-01-04,true
T-004,1000000.99,D,four@example.com,,false
T-005,3,F,five@example.com,2026-01-06,true
CSV
MAP='"mapping": { "key": "Ext_Id__c" }'
to_sf up.json up scores.csv ', "operation": "upsert", "external_id": "Ext_Id__c"' "$MAP"
# check: the object, the rights and the External ID field, before a run.
expect_exit 0 "$SLUICE" check up.json
expect_in err.txt "Sluice_Score__c: "
to_sf badext.json up scores.csv ', "operation": "upsert", "external_id": "Name"' "$MAP"
expect_exit 1 "$SLUICE" check badext.json
expect_in out.txt "Sluice_Score__c.Name is not an External ID field"
to_sf noext.json up scores.csv ', "operation": "upsert", "external_id": "Nope__c"' "$MAP"
expect_exit 1 "$SLUICE" check noext.json
expect_in out.txt "Sluice_Score__c.Nope__c does not exist"
sed 's/"object": "Sluice_Score__c"/"object": "Nope__c"/' up.json >noobj.json
expect_exit 1 "$SLUICE" check noobj.json
expect_in out.txt "object Nope__c does not exist or is not visible"
ctl DELETE /requests >/dev/null
expect_exit 0 "$SLUICE" run up.json --once
no_token
check_eq "$(run_field up rows_written)" 5 "upsert rows_written"
ctl GET "/requests?path_prefix=/services/data/v$V/composite/sobjects/Sluice_Score__c/Ext_Id__c&method=PATCH" >req1.json
check_eq "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); r=d["requests"] if isinstance(d,dict) else d; print(len(r))' req1.json)" 1 "upsert requests"
scores q1 "Ext_Id__c LIKE 'T-%'"
check_eq "$(nrows out/q1.csv)" 5 "records after the first upsert"
python3 - out/q1.csv <<'PY' || fail "upserted values"
import csv, sys
from decimal import Decimal
rows = {r["Ext_Id__c"]: r for r in csv.DictReader(open(sys.argv[1], newline=""))}
assert Decimal(rows["T-001"]["Score__c"]) == Decimal("12.50"), rows["T-001"]
assert Decimal(rows["T-004"]["Score__c"]) == Decimal("1000000.99"), rows["T-004"]
assert rows["T-003"]["Contact_Email__c"] == "", rows["T-003"]
assert rows["T-002"]["Scored_On__c"] == "2026-01-03", rows["T-002"]
assert rows["T-001"]["Active__c"] == "true" and rows["T-002"]["Active__c"] == "false"
assert rows["T-005"]["Grade__c"] == "F"
PY
NCHECK=$((NCHECK + 1))
# The same file again (csv-file remembers the files it read: forget it):
# the same 5 records, updated in place.
rm -f state/up.checkpoint.json
expect_exit 0 "$SLUICE" run up.json --once
no_token
check_eq "$(run_field up rows_written)" 5 "second upsert rows_written"
scores q2 "Ext_Id__c LIKE 'T-%'"
check_eq "$(nrows out/q2.csv)" 5 "records after the second upsert"
python3 - out/q1.csv out/q2.csv <<'PY' || fail "the second upsert changed Ids"
import csv, sys
a = sorted((r["Ext_Id__c"], r["Id"]) for r in csv.DictReader(open(sys.argv[1], newline="")))
b = sorted((r["Ext_Id__c"], r["Id"]) for r in csv.DictReader(open(sys.argv[2], newline="")))
assert a == b, (a, b)
PY
NCHECK=$((NCHECK + 1))

# --- 2. per-record failures: the reject file, exit 3 ----------------------
cat >bad.csv <<'CSV'
key,Score__c,Grade__c,Contact_Email__c,Scored_On__c,Active__c
T-101,1.00,A,ok1@example.com,2026-02-01,true
T-102,2.00,B,"not an email, ""really""",2026-02-02,false
T-103,3.00,Z,ok3@example.com,2026-02-03,true
T-104,4.00,C,ok4@example.com,2026-02-04,true
CSV
to_sf bad.json bad bad.csv ', "operation": "upsert", "external_id": "Ext_Id__c",
  "reject_file": "rejects/sf.csv"' "$MAP"
mkdir -p rejects
expect_exit 3 "$SLUICE" run bad.json --once
no_token
check_eq "$(run_field bad rows_rejected)" 2 "rows_rejected"
check_eq "$(run_field bad rows_written)" 2 "rows_written beside the rejects"
expect_mode 600 rejects/sf.csv
python3 - rejects/sf.csv <<'PY' || { cat rejects/sf.csv >&2; fail "the reject file"; }
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
assert len(rows) == 2, rows
by = {r["Ext_Id__c"]: r for r in rows}
r = by["T-102"]
assert r["Contact_Email__c"] == 'not an email, "really"', r   # the original value
assert r["Score__c"] == "2.00" and r["Scored_On__c"] == "2026-02-02", r
assert r["sf__StatusCode"] == "INVALID_EMAIL_ADDRESS", r
assert r["sf__Error"].startswith("INVALID_EMAIL_ADDRESS: ") and r["sf__Error"].endswith("[Contact_Email__c]"), r
assert r["sf__Operation"] == "upsert", r
assert by["T-103"]["sf__StatusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", by["T-103"]
assert by["T-103"]["Grade__c"] == "Z"
PY
NCHECK=$((NCHECK + 1))
scores q3 "Ext_Id__c LIKE 'T-1%'"
check_eq "$(csv_ids=$(python3 -c 'import csv,sys; print(" ".join(sorted(r["Ext_Id__c"] for r in csv.DictReader(open(sys.argv[1], newline="")))))' out/q3.csv); echo "$csv_ids")" "T-101 T-104" "the good rows were written"
# A second failing run appends, without a second header.
rm -f state/bad.checkpoint.json
expect_exit 3 "$SLUICE" run bad.json --once
check_eq "$(grep -c '^Ext_Id__c\|^key\|sf__Error' rejects/sf.csv)" 1 "one header line"
check_eq "$(nrows rejects/sf.csv)" 4 "rejects appended"

# --- 3. insert 450 rows: 3 requests of at most 200 -----------------------
python3 - >many.csv <<'PY'
print("Score__c,Phone__c")
for i in range(450):
    print("%d.%02d,bulk" % (i, i % 100))
PY
TYPES='{ "Score__c": "decimal(18,2)" }'
to_sf ins.json ins many.csv ', "operation": "insert"' '"batch": { "rows": 1000 }'
ctl DELETE /requests >/dev/null
expect_exit 0 "$SLUICE" run ins.json --once
no_token
check_eq "$(run_field ins rows_written)" 450 "inserted rows"
ctl GET "/requests?path_prefix=/services/data/v$V/composite/sobjects&method=POST" >req3.json
python3 - req3.json <<'PY' || fail "insert requests"
import json, sys
d = json.load(open(sys.argv[1])); r = d["requests"] if isinstance(d, dict) else d
assert len(r) == 3, len(r)
PY
NCHECK=$((NCHECK + 1))
scores q4 "Phone__c = 'bulk'"
check_eq "$(nrows out/q4.csv)" 450 "inserted records"

# --- 4. delete by Id -------------------------------------------------------
python3 - out/q4.csv >del.csv <<'PY'
import csv, sys
print("Id")
for r in csv.DictReader(open(sys.argv[1], newline="")):
    print(r["Id"])
PY
TYPES='{}'
to_sf del.json del del.csv ', "operation": "delete"' '"batch": { "rows": 1000 }'
ctl DELETE /requests >/dev/null
expect_exit 0 "$SLUICE" run del.json --once
no_token
ctl GET "/requests?path_prefix=/services/data/v$V/composite/sobjects&method=DELETE" >req4.json
check_eq "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); r=d["requests"] if isinstance(d,dict) else d; print(len(r))' req4.json)" 3 "delete requests"
scores q5 "Phone__c = 'bulk'"
check_eq "$(run_field q5 rows_read)" 0 "records left after the delete"
# Deleting them again: each one is refused (ENTITY_IS_DELETED), exit 3.
rm -f state/del.checkpoint.json
expect_exit 3 "$SLUICE" run del.json --once
check_eq "$(run_field del rows_rejected)" 450 "deletes of deleted records"
expect_in err.txt "ENTITY_IS_DELETED"

# --- 5. whole-request failures, retries, an expired session --------------
# A value the platform's JSON reader refuses fails the request whole: the
# run fails naming the errorCode (nothing is rejected row by row).
printf 'key,Score__c\nT-201,not-a-number\n' >nan.csv
TYPES='{}'
to_sf nan.json nan nan.csv ', "operation": "upsert", "external_id": "Ext_Id__c"' "$MAP"
expect_exit 1 "$SLUICE" run nan.json --once
expect_in err.txt "JSON_PARSER_ERROR"
no_token
# An upsert is retry-safe: a 503 is retried and the run succeeds.
TYPES='{ "Score__c": "decimal(18,2)", "Scored_On__c": "date", "Active__c": "bool" }'
rm -f state/up.checkpoint.json
ctl POST /faults '{"kind": "status", "status": 503, "retry_after": 1, "count": 1,
  "path_prefix": "/services/data/v'$V'/composite/sobjects"}' >/dev/null
expect_exit 0 "$SLUICE" run up.json --once
check_eq "$(run_field up rows_written)" 5 "upsert after a 503"
# An insert is not: the same 503 fails the run (no duplicate records).
printf 'Score__c,Phone__c\n1.00,once\n' >once.csv
TYPES='{ "Score__c": "decimal(18,2)" }'
to_sf once.json once once.csv ', "operation": "insert"'
ctl POST /faults '{"kind": "status", "status": 503, "retry_after": 1, "count": 1,
  "path_prefix": "/services/data/v'$V'/composite/sobjects"}' >/dev/null
expect_exit 1 "$SLUICE" run once.json --once
expect_in err.txt "503"
ctl DELETE /faults >/dev/null
# The session dies mid-run: one re-login, the request is sent again.
rm -f state/up.checkpoint.json
ctl POST /faults '{"kind": "status", "status": 401, "count": 1,
  "path_prefix": "/services/data/v'$V'/composite/sobjects",
  "body": [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]}' >/dev/null
TYPES='{ "Score__c": "decimal(18,2)", "Scored_On__c": "date", "Active__c": "bool" }'
expect_exit 0 "$SLUICE" run up.json --once
expect_in err.txt "session expired (INVALID_SESSION_ID): logging in again"
check_eq "$(run_field up rows_written)" 5 "upsert after a re-login"
no_token
ctl DELETE /faults >/dev/null
scores q6 "Ext_Id__c LIKE 'T-0%'"
check_eq "$(nrows out/q6.csv)" 5 "still 5 records after the retries"

# --- 6. hard deletes through getDeleted ------------------------------------
ACC=', "object": "Account", "fields": ["Id", "Name"], "mode": "incremental", "hard_deletes": true'
from_sf hd.json hd "$ACC"
# A first, full run knows every deletion before its start: a second run
# asks the delete log only from there, although the newest record is from
# 2024-2025.
expect_exit 0 "$SLUICE" run hd.json --once
expect_in state/hd.checkpoint.json "deleted_until"
cp out/hd.csv hd-full.csv
expect_exit 0 "$SLUICE" run hd.json --once
# A checkpoint whose delete window is older than the delete log (15 days:
# here the seeded 2024 cursor, without its deleted_until) must say a
# resync is needed.
python3 - state/hd.checkpoint.json <<'PY'
import json, sys
w = json.load(open(sys.argv[1]))
cp = json.loads(w["checkpoint"]); del cp["deleted_until"]
w["checkpoint"] = json.dumps(cp)
open(sys.argv[1], "w").write(json.dumps(w))
PY
expect_exit 1 "$SLUICE" run hd.json --once
expect_in err.txt "a full resync is needed"
no_token
# Resync: no checkpoint, one record changed now (the cursor becomes now).
rm -f state/hd.checkpoint.json
IDS=$(python3 -c 'import csv,sys; rows=list(csv.DictReader(open(sys.argv[1], newline=""))); print(" ".join(r["Id"] for r in rows[:3]))' hd-full.csv)
set -- $IDS
ctl POST /records '{"op": "update", "id": "'"$1"'", "fields": {"Description": "now"}}' >/dev/null
expect_exit 0 "$SLUICE" run hd.json --once
check_eq "$(run_field hd rows_deleted)" 0 "a first run reads no deletes"
ctl POST /records '{"ops": [{"op": "hard_delete", "id": "'"$2"'"}, {"op": "hard_delete", "id": "'"$3"'"}]}' >/dev/null
# getDeleted covers whole minutes up to the service's clock
ctl POST /clock '{"advance_seconds": 120}' >/dev/null
ctl DELETE /requests >/dev/null
expect_exit 0 "$SLUICE" run hd.json --once
no_token
check_eq "$(run_field hd rows_deleted)" 2 "hard deletes as DELETE rows"
ctl GET "/requests?path_prefix=/services/data/v$V/sobjects/Account/deleted/" >req5.json
expect_in req5.json "start="
python3 - out/hd.csv "$2" "$3" <<'PY' || fail "the DELETE rows"
import csv, sys
ids = {r["Id"] for r in csv.DictReader(open(sys.argv[1], newline=""))}
assert {sys.argv[2], sys.argv[3]} <= ids, ids
PY
NCHECK=$((NCHECK + 1))
expect_in state/hd.checkpoint.json "deleted_until"

done_ok
