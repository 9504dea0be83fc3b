#!/bin/sh
# salesforce-bulk2 as a source against the Salesforce emulator: a full
# extract typed as salesforce-rest types it, paging by Sforce-Locator,
# incremental runs with ties at the cursor across a page boundary, queryAll
# deletes, a job that fails, and api auto choosing REST below the threshold
# and Bulk above it.  An aborted job, expired locators, purged results, a
# SIGTERM mid-extract and a short count: salesforce_bulk2_faults.sh.
. "$TOP_SRCDIR/tests/e2e/lib.sh"

SFEMU_ACCOUNTS=3000
. "$TOP_SRCDIR/tests/e2e/sfemu.sh"
"$SLUICE" plugins 2>/dev/null | grep -q '^salesforce-bulk2 ' ||
  { echo "SKIP: the salesforce-bulk2 plugin is not built"; exit 77; }

CONN='{ "type": "salesforce", "login_url": "https://localhost:'$PORT'",
  "api_version": "'$V'", "auth_flow": "client_credentials",
  "client_id": { "env": "SF_CLIENT_ID" }, "client_secret": { "env": "SF_CLIENT_SECRET" },
  "ca_file": "'$WORK'/pki/ca.crt" }'
# pipe FILE NAME PLUGIN SOURCE_EXTRA: a Salesforce source -> csv-file.
pipe() {
  cat >"$1" <<JSON
{ "version": 1, "state_dir": "state",
  "connections": { "sf": $CONN },
  "pipelines": [ { "name": "$2",
    "source": { "plugin": "$3", "connection": "sf" $4 },
    "destination": { "plugin": "csv-file", "path": "out/$2/{run_id}.csv" } } ] }
JSON
  mkdir -p "out/$2"
}
newest() { ls -t out/"$1"/*.csv | head -1; }
nrows() { python3 -c 'import csv,sys; print(sum(1 for _ in csv.DictReader(open(sys.argv[1], newline=""))))' "$1"; }
check_eq() {
  NCHECK=$((NCHECK + 1))
  [ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"
}
# sorted CSV rows (the header first), for comparing two extracts
sorted() { python3 -c 'import csv,sys
r=list(csv.reader(open(sys.argv[1], newline="")))
print(r[0]); [print(x) for x in sorted(r[1:])]' "$1"; }
jobs_created() { ctl GET /bulk/jobs | python3 -c 'import json,sys
d=json.load(sys.stdin); j=d["jobs"] if isinstance(d,dict) else d
print(sum(1 for x in j if x.get("jobType","V2Query")=="V2Query" or x.get("operation") in ("query","queryAll")))'; }
ctl POST /bulk '{"complete_after_seconds": 0.2, "complete_after_polls": 2}' >/dev/null

# --- 1. full extract: the same rows, typed the same, as salesforce-rest ---
pipe rest.json rest salesforce-rest ', "object": "Account"'
expect_exit 0 "$SLUICE" run rest.json --once
pipe full.json full salesforce-bulk2 ', "object": "Account", "max_records": 700'
ctl DELETE /requests >/dev/null
expect_exit 0 "$SLUICE" run full.json --once
expect_in err.txt "query job"
sorted "$(newest rest)" >rest.sorted
sorted "$(newest full)" >full.sorted
expect_same rest.sorted full.sorted
N=$(nrows "$(newest full)")
# pages: ceil(N/700) results GETs, the first without a locator
NPAGES=$(ctl GET "/requests?path_prefix=/services/data/v$V/jobs/query/" |
  python3 -c 'import json,sys; d=json.load(sys.stdin); r=d["requests"] if isinstance(d,dict) else d
print(sum(1 for x in r if "/results" in x.get("path","")))')
check_eq "$NPAGES" "$(((N + 699) / 700))" "results pages"
echo "full: $N rows in $NPAGES pages"

# --- 2. a job that fails: its errorMessage, exit 1 -------------------------
ctl POST /bulk '{"fail_next_query_jobs": 1, "fail_message": "InternalServerError : retried more than 15 times"}' >/dev/null
expect_exit 1 "$SLUICE" run full.json --once
expect_in err.txt "failed: InternalServerError : retried more than 15 times"

# --- 3. incremental: a record stamped at the cursor later (a tie) comes ----
T=2027-01-01T00:00:00Z
python3 - >ties.json <<'PY'
import json
ops = []
for i in range(250):
    st = "2026-12-31T23:59:59Z" if i < 199 else "2027-01-01T00:00:00Z"
    ops.append({"op": "create", "object": "Account", "fields": {"Name": "Tie %03d" % i}, "system_modstamp": st})
print(json.dumps({"ops": ops}))
PY
ctl POST /records "$(cat ties.json)" >/dev/null
TIE=', "object": "Account", "fields": ["Id", "Name", "SystemModstamp"], "filter": "Name LIKE '"'"'Tie %'"'"'", "mode": "incremental", "lookback": "0s", "max_records": 200'
pipe tie.json tie salesforce-bulk2 "$TIE"
expect_exit 0 "$SLUICE" run tie.json --once
check_eq "$(nrows "$(newest tie)")" 250 "first incremental run"
expect_in state/tie.checkpoint.json "2027-01-01T00:00:00Z"
ctl POST /records '{"ops": [{"op": "create", "object": "Account", "fields": {"Name": "Tie 250"}, "system_modstamp": "2027-01-01T00:00:00Z"}]}' >/dev/null
expect_exit 0 "$SLUICE" run tie.json --once
python3 - "$(newest tie)" <<'PY' || fail "the ties at the cursor"
import csv, sys
names = sorted(r["Name"] for r in csv.DictReader(open(sys.argv[1], newline="")))
assert names == ["Tie %03d" % i for i in range(199, 251)], names
PY
NCHECK=$((NCHECK + 1))

# --- 4. queryAll: a soft delete becomes a DELETE row ----------------------
DEL_ID=$(python3 -c 'import csv,sys; print(next(r["Id"] for r in csv.DictReader(open(sys.argv[1], newline="")) if r["Name"]=="Tie 250"))' "$(newest tie)")
ctl POST /records '{"op": "delete", "id": "'"$DEL_ID"'"}' >/dev/null
pipe del.json del salesforce-bulk2 ', "object": "Account", "fields": ["Id", "Name"], "filter": "Name LIKE '"'"'Tie %'"'"'", "include_deleted": true'
expect_exit 0 "$SLUICE" run del.json --once
check_eq "$(nrows "$(newest del)")" 251 "queryAll rows"
expect_in state/runs.jsonl '"rows_deleted":1'

# --- 5. api auto: REST at or below the threshold, Bulk above --------------
ctl DELETE /requests >/dev/null
pipe auto1.json auto1 salesforce-bulk2 ', "object": "Account", "api": "auto", "auto_threshold": 100000'
expect_exit 0 "$SLUICE" run auto1.json --once
expect_in err.txt "records to read, threshold 100000: REST"
check_eq "$(nrows "$(newest auto1)")" "$((N + 250))" "auto (REST) rows"
pipe auto2.json auto2 salesforce-bulk2 ', "object": "Account", "api": "auto", "auto_threshold": 10'
expect_exit 0 "$SLUICE" run auto2.json --once
expect_in err.txt "threshold 10: Bulk 2.0"
expect_in err.txt "query job"
check_eq "$(nrows "$(newest auto2)")" "$((N + 250))" "auto (Bulk) rows"
# what Bulk cannot query (a compound field): auto reads it with REST
pipe auto3.json auto3 salesforce-bulk2 ', "object": "Account", "fields": ["Id", "BillingAddress"], "api": "auto", "auto_threshold": 10'
expect_exit 0 "$SLUICE" run auto3.json --once
expect_in err.txt "Bulk 2.0 refused the query"
pipe nob.json nob salesforce-bulk2 ', "object": "Account", "fields": ["Id", "BillingAddress"]'
expect_exit 1 "$SLUICE" run nob.json --once
expect_in err.txt "Selecting compound data not supported in Bulk Query"

done_ok
