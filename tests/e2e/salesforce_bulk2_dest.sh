#!/bin/sh
# salesforce-bulk2 as a destination against the Salesforce emulator:
# upsert with mixed success and failure (the reject file), nulls set/keep,
# duplicate keys held back, dry_run sending nothing, UNABLE_TO_LOCK_ROW
# retried once, uploads split by max_upload_bytes, and a kill -9 during an
# upsert followed by a rerun that creates no record twice.
. "$TOP_SRCDIR/tests/e2e/lib.sh"

SFEMU_ACCOUNTS=300
. "$TOP_SRCDIR/tests/e2e/sfemu.sh"
"$SLUICE" plugins 2>/dev/null | grep -q '^salesforce-bulk2 ' ||
  { echo "SKIP: the salesforce-bulk2 plugin is not built"; exit 77; }
CONN='{ "type": "salesforce", "login_url": "https://localhost:'$PORT'",
  "api_version": "'$V'", "auth_flow": "client_credentials",
  "client_id": { "env": "SF_CLIENT_ID" }, "client_secret": { "env": "SF_CLIENT_SECRET" },
  "ca_file": "'$WORK'/pki/ca.crt" }'
TYPES='{ "Score__c": "decimal(18,2)", "Scored_On__c": "date", "Active__c": "bool" }'
MAP='"mapping": { "key": "Ext_Id__c" }'
# to_sf FILE NAME CSV DEST_EXTRA [PIPELINE_EXTRA]
to_sf() {
  cat >"$1" <<JSON
{ "version": 1, "state_dir": "state",
  "connections": { "sf": $CONN },
  "pipelines": [ { "name": "$2",
    "source": { "plugin": "csv-file", "path": "$3", "types": $TYPES },
    "destination": { "plugin": "salesforce-bulk2", "connection": "sf",
                     "object": "Sluice_Score__c", "operation": "upsert",
                     "external_id": "Ext_Id__c", "poll_max": "500ms" $4 }
    ${5:+, $5} } ] }
JSON
}
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
scores() {
  from_sf "$1.json" "$1" ', "object": "Sluice_Score__c", "fields": ["Id", "Ext_Id__c",
    "Score__c", "Grade__c", "Contact_Email__c", "Scored_On__c", "Active__c"],
    "filter": "'"$2"'"'
  expect_exit 0 "$SLUICE" run "$1.json" --once
}
# ingest_jobs: the number of ingest jobs the emulator has
ingest_jobs() { ctl GET /bulk/jobs | python3 -c 'import json,sys
d=json.load(sys.stdin); j=d["jobs"] if isinstance(d,dict) else d
print(sum(1 for x in j if x.get("operation") not in ("query","queryAll")))'; }
ctl POST /bulk '{"complete_after_seconds": 0.2, "complete_after_polls": 2}' >/dev/null
mkdir -p rejects

# --- 1. upsert: mixed success and failure, the reject file, exit 3 --------
cat >bad.csv <<'CSV'
key,Score__c,Grade__c,Contact_Email__c,Scored_On__c,Active__c
T-101,1.00,A,ok1@example.com,2026-02-01,true
T-102,2.00,B,"not an email, ""really""",2026-02-02,false
T-103,3.00,Z,ok3@example.com,2026-02-03,true
T-104,4.00,C,,2026-02-04,true
CSV
to_sf bad.json bad bad.csv ', "reject_file": "rejects/sf.csv"' "$MAP"
expect_exit 3 "$SLUICE" run bad.json --once
expect_not_in err.txt "$ORG15!"
check_eq "$(run_field bad rows_rejected)" 2 "rows_rejected"
expect_mode 600 rejects/sf.csv
python3 - rejects/sf.csv <<'PY' || { cat rejects/sf.csv >&2; fail "the reject file"; }
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
by = {r["Ext_Id__c"]: r for r in rows}
assert set(by) == {"T-102", "T-103"}, rows
r = by["T-102"]
assert r["Contact_Email__c"] == 'not an email, "really"', r
assert r["Score__c"] == "2.00" and r["Scored_On__c"] == "2026-02-02", r
assert r["sf__StatusCode"] == "INVALID_EMAIL_ADDRESS", r
assert r["sf__Error"].startswith("INVALID_EMAIL_ADDRESS:"), r
assert r["sf__Operation"] == "upsert", r
assert by["T-103"]["sf__StatusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", by["T-103"]
PY
NCHECK=$((NCHECK + 1))
scores q1 "Ext_Id__c LIKE 'T-1%'"
check_eq "$(nrows out/q1.csv)" 2 "records written beside the rejects"
# the uploaded CSV: the header, values as Bulk wants them, null as #N/A
JOB=$(ctl GET /bulk/jobs | python3 -c 'import json,sys
d=json.load(sys.stdin); j=d["jobs"] if isinstance(d,dict) else d
print([x["id"] for x in j if x.get("operation")=="upsert"][-1])')
ctl GET "/bulk/jobs/$JOB" >job1.json
python3 - job1.json <<'PY' || { cat job1.json >&2; fail "the uploaded CSV"; }
import json, sys
j = json.load(open(sys.argv[1]))
puts = j["uploads"] if "uploads" in j else j["puts"]
assert len(puts) == 1, puts
csv = puts[0]["csv"]
lines = csv.splitlines()
assert lines[0] == "Ext_Id__c,Score__c,Grade__c,Contact_Email__c,Scored_On__c,Active__c", lines[0]
assert "T-104,4.00,C,#N/A,2026-02-04,true" in lines, lines
PY
NCHECK=$((NCHECK + 1))

# --- 2. nulls keep: an empty cell leaves the field as it is ---------------
printf 'key,Score__c,Grade__c,Contact_Email__c,Scored_On__c,Active__c\nT-104,5.00,C,,,true\n' >keep.csv
to_sf keep.json keep keep.csv ', "nulls": "keep"' "$MAP"
expect_exit 0 "$SLUICE" run keep.json --once
printf 'key,Score__c,Grade__c,Contact_Email__c,Scored_On__c,Active__c\nT-101,6.00,A,,,false\n' >set.csv
to_sf set.json set set.csv '' "$MAP"
expect_exit 0 "$SLUICE" run set.json --once
scores q2 "Ext_Id__c LIKE 'T-10%'"
python3 - out/q2.csv <<'PY' || { cat out/q2.csv >&2; fail "nulls set/keep"; }
import csv, sys
by = {r["Ext_Id__c"]: r for r in csv.DictReader(open(sys.argv[1], newline=""))}
assert by["T-104"]["Scored_On__c"] == "2026-02-04", by["T-104"]  # keep
assert by["T-104"]["Score__c"] == "5.00", by["T-104"]
assert by["T-101"]["Scored_On__c"] == "" and by["T-101"]["Contact_Email__c"] == "", by["T-101"]  # set
PY
NCHECK=$((NCHECK + 1))

# --- 3. duplicates held back; dry_run sends nothing -----------------------
cat >dup.csv <<'CSV'
key,Score__c,Grade__c,Contact_Email__c,Scored_On__c,Active__c
D-1,1.00,A,d1@example.com,2026-03-01,true
D-2,2.00,B,d2@example.com,2026-03-02,true
D-1,3.00,C,d3@example.com,2026-03-03,true
D-3,4.00,D,d4@example.com,2026-03-04,true
CSV
to_sf dry.json dry dup.csv ', "dry_run": true, "reject_file": "rejects/dry.csv"' "$MAP"
BEFORE=$(ingest_jobs)
expect_exit 0 "$SLUICE" run dry.json --once
check_eq "$(ingest_jobs)" "$BEFORE" "dry_run: no ingest job"
expect_in err.txt "dry_run: would upload 2 rows (upsert) in one job"
expect_in err.txt "header: Ext_Id__c,Score__c,Grade__c,Contact_Email__c,Scored_On__c,Active__c"
expect_in err.txt "dry_run: Sluice_Score__c upsert: 4 rows; delete: 0 rows; 1 uploads; 2 rows share a key"
[ ! -e rejects/dry.csv ] || fail "dry_run wrote rejects"
scores q3 "Ext_Id__c LIKE 'D-%'"
check_eq "$(if [ -f out/q3.csv ]; then nrows out/q3.csv; else echo 0; fi)" 0 "dry_run: no record"
to_sf dup.json dup dup.csv ', "reject_file": "rejects/dup.csv"' "$MAP"
expect_exit 3 "$SLUICE" run dup.json --once
check_eq "$(run_field dup rows_rejected)" 2 "duplicates rejected"
python3 - rejects/dup.csv <<'PY' || { cat rejects/dup.csv >&2; fail "duplicate rejects"; }
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
assert sorted(r["Score__c"] for r in rows) == ["1.00", "3.00"], rows
assert all(r["Ext_Id__c"] == "D-1" and r["sf__StatusCode"] == "DUPLICATE_VALUE" for r in rows), rows
PY
NCHECK=$((NCHECK + 1))
scores q4 "Ext_Id__c LIKE 'D-%'"
check_eq "$(nrows out/q4.csv)" 2 "only the unique keys were sent"
expect_not_in out/q4.csv "D-1"

# --- 4. UNABLE_TO_LOCK_ROW: retried once in a job of its own --------------
cat >lock.csv <<'CSV'
key,Score__c,Grade__c,Contact_Email__c,Scored_On__c,Active__c
L-1,1.00,A,l1@example.com,2026-04-01,true
L-2,2.00,B,l2@example.com,2026-04-02,true
L-3,3.00,C,l3@example.com,2026-04-03,true
CSV
ctl POST /bulk/lock-rows '{"keys": ["L-2"], "times": 1}' >/dev/null
BEFORE=$(ingest_jobs)
to_sf lock.json lock lock.csv ', "reject_file": "rejects/lock.csv"' "$MAP"
expect_exit 0 "$SLUICE" run lock.json --once
expect_in err.txt "1 rows failed UNABLE_TO_LOCK_ROW: sent again"
check_eq "$(ingest_jobs)" "$((BEFORE + 2))" "the retry is a second job"
scores q5 "Ext_Id__c LIKE 'L-%'"
check_eq "$(nrows out/q5.csv)" 3 "every locked row written in the end"
# locked twice: retried once, then rejected
ctl POST /bulk/lock-rows '{"keys": ["L-3"], "times": 2}' >/dev/null
rm -f state/lock.checkpoint.json
expect_exit 3 "$SLUICE" run lock.json --once
expect_in rejects/lock.csv "UNABLE_TO_LOCK_ROW"

# --- 5. uploads split by max_upload_bytes; kill -9 then a rerun -----------
python3 - >many.csv <<'PY'
print("key,Score__c,Grade__c,Contact_Email__c,Scored_On__c,Active__c")
for i in range(3000):
    print("K-%05d,%d.25,A,k%d@example.com,2026-05-01,true" % (i, i, i))
PY
ctl POST /bulk '{"complete_after_seconds": 3, "complete_after_polls": null}' >/dev/null
to_sf many.json many many.csv ', "max_upload_bytes": "40k"' "$MAP"
"$SLUICE" run many.json --once >kill.out 2>kill.err &
pid=$!
i=0
until [ "$(ingest_jobs)" -gt "$BEFORE" ] || [ $i -gt 300 ]; do sleep 0.05; i=$((i + 1)); done
kill -9 "$pid"
wait "$pid" 2>/dev/null
ctl POST /bulk '{"complete_after_seconds": 0.2, "complete_after_polls": 2}' >/dev/null
expect_exit 0 "$SLUICE" run many.json --once
expect_not_in err.txt "$ORG15!"
NUP=$(grep -c "ingest job .* (upsert): " err.txt)
[ "$NUP" -ge 4 ] || fail "expected the 3000 rows split over several 40k uploads, got $NUP jobs"
scores q6 "Ext_Id__c LIKE 'K-%'"
check_eq "$(nrows out/q6.csv)" 3000 "every key once after a kill -9 and a rerun"
python3 - out/q6.csv <<'PY' || fail "a key exists twice"
import csv, sys, collections
c = collections.Counter(r["Ext_Id__c"] for r in csv.DictReader(open(sys.argv[1], newline="")))
assert len(c) == 3000 and max(c.values()) == 1, c.most_common(3)
PY
NCHECK=$((NCHECK + 1))

done_ok
