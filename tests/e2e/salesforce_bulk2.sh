#!/bin/sh
# salesforce-bulk2 as a source against the Salesforce emulator: a full
# extract typed as salesforce-rest types it, paging by Sforce-Locator,
# incremental runs with ties at the cursor across a page boundary, queryAll
# deletes, a job that fails, one that is aborted, an expired locator, a
# SIGTERM mid-extract resumed at the next locator, and api auto choosing
# REST below the threshold and Bulk above it.
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
