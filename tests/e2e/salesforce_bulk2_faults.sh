#!/bin/sh
# salesforce-bulk2 when Bulk jobs go wrong, against the Salesforce emulator:
# a query job aborted while the source polls, an expired locator mid-extract
# (read again from the first page, every record once; a second expiry
# fails), purged results (a new job), a SIGTERM mid-extract resumed at the
# committed page of the same job, a total that falls short of the job's
# numberRecordsProcessed, an ingest job left Open by a failed run,
# aborted by the next, and the answer to UploadComplete lost on the way.
. "$TOP_SRCDIR/tests/e2e/lib.sh"

SFEMU_ACCOUNTS=3000
. "$TOP_SRCDIR/tests/e2e/sfemu.sh"
"$SLUICE" plugins 2>/dev/null | grep -q '^salesforce-bulk2 ' ||
  { echo "SKIP: the salesforce-bulk2 plugin is not built"; exit 77; }

CONN='{ "type": "salesforce", "login_url": "https://localhost:'$PORT'",
  "api_version": "'$V'", "auth_flow": "client_credentials",
  "client_id": { "env": "SF_CLIENT_ID" }, "client_secret": { "env": "SF_CLIENT_SECRET" },
  "ca_file": "'$WORK'/pki/ca.crt" }'
# pipe FILE NAME SOURCE_EXTRA: salesforce-bulk2 -> csv-file.
pipe() {
  cat >"$1" <<JSON
{ "version": 1, "state_dir": "state",
  "connections": { "sf": $CONN },
  "pipelines": [ { "name": "$2",
    "source": { "plugin": "salesforce-bulk2", "connection": "sf",
                "object": "Account", "max_records": 700, "poll_max": "${POLL:-500ms}" $3 },
    "destination": { "plugin": "csv-file", "path": "out/$2/{run_id}.csv" } } ] }
JSON
  mkdir -p "out/$2"
}
newest() { ls -t out/"$1"/*.csv | head -1; }
check_eq() {
  NCHECK=$((NCHECK + 1))
  [ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"
}
# sorted FILE...: the rows of CSV files (the header once), sorted, for
# comparing extracts; duplicates stay
sorted() { python3 -c 'import csv,sys
rows=[]; head=None
for f in sys.argv[1:]:
    r=list(csv.reader(open(f, newline="")))
    if not r: continue
    head=r[0]; rows+=r[1:]
print(head); [print(x) for x in sorted(rows)]' "$@"; }
pace() { ctl POST /bulk "{\"complete_after_seconds\": $1, \"complete_after_polls\": $2}" >/dev/null; }
# query job ids, oldest first
query_jobs() { ctl GET /bulk/jobs | python3 -c 'import json,sys
for x in json.load(sys.stdin)["jobs"]:
    if x["kind"] == "query": print(x["id"])'; }
nquery_jobs() { query_jobs | wc -l | tr -d ' '; }
# wait_new_job N PID ERR: waits until there are more than N query jobs;
# prints the newest (ERR: the run's stderr, shown if it ends first)
wait_new_job() {
  i=0
  while [ "$(nquery_jobs)" -le "$1" ]; do
    kill -0 "$2" 2>/dev/null || { cat "$3" >&2; fail "the run ended before creating its query job"; }
    i=$((i + 1)); [ $i -lt 300 ] || fail "no new query job in 30 s"
    sleep 0.1
  done
  query_jobs | tail -1
}
# fault_at JOB AFTER SECONDS: stalls the results page after AFTER others
fault_at() {
  ctl POST /faults '{"kind": "stall", "seconds": '"$3"', "after": '"$2"',
    "path_prefix": "/services/data/v'$V'/jobs/query/'"$1"'/results"}' >/dev/null
}
# wait_fired PID: waits until no fault is pending (the stall has begun)
wait_fired() {
  i=0
  until [ "$(ctl GET /faults | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d["pending"]))')" = 0 ]; do
    kill -0 "$1" 2>/dev/null || fail "the run ended before the fault fired"
    i=$((i + 1)); [ $i -lt 300 ] || fail "the fault did not fire in 30 s"
    sleep 0.1
  done
}
# cp_field PIPELINE KEY: a key of the pipeline's committed checkpoint
cp_field() { python3 -c 'import json,sys
print(json.loads(json.load(open(sys.argv[1]))["checkpoint"]).get(sys.argv[2]))' "state/$1.checkpoint.json" "$2"; }
job_field() { ctl GET "/bulk/jobs/$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"; }
pace 0.2 2

# --- 0. a clean full extract, to compare the others with ------------------
pipe clean.json clean ''
expect_exit 0 "$SLUICE" run clean.json --once
sorted "$(newest clean)" >clean.sorted
N=$(python3 -c 'import csv,sys; print(sum(1 for _ in csv.DictReader(open(sys.argv[1], newline=""))))' "$(newest clean)")
[ "$N" -gt 2100 ] || fail "the clean extract has $N rows"

# --- 1. a job aborted while the source polls: a clear error, no cursor ----
pipe ab.json ab ', "fields": ["Id", "Name", "SystemModstamp"], "mode": "incremental"'
expect_exit 0 "$SLUICE" run ab.json --once
cp state/ab.checkpoint.json ab.before
pace 30 null
NJ=$(nquery_jobs)
"$SLUICE" run ab.json --once >ab.out 2>ab.err &
pid=$!
JOB=$(wait_new_job "$NJ" "$pid" ab.err) || exit 1
TOKEN=$(curl -sS --fail --cacert "$WORK/pki/ca.crt" -d grant_type=client_credentials \
  --data-urlencode "client_id=$SF_CLIENT_ID" --data-urlencode "client_secret=$SF_CLIENT_SECRET" \
  "https://localhost:$PORT/services/oauth2/token" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])') || fail "no token"
curl -sS --fail --cacert "$WORK/pki/ca.crt" -X PATCH -H "Authorization: Bearer $TOKEN" \
  -H "Content-Type: application/json" -d '{"state": "Aborted"}' \
  "https://localhost:$PORT/services/data/v$V/jobs/query/$JOB" >abort.json || fail "the abort"
wait "$pid"
check_eq "$?" 1 "an aborted job's run"
expect_in ab.err "query job $JOB is Aborted"
expect_same ab.before state/ab.checkpoint.json
check_eq "$(job_field "$JOB" state)" Aborted "the job's state"

# --- 2. an expired locator: the job read again, every record once ---------
pace 4 null # time to set the faults before the results
pipe exp.json exp ''
NJ=$(nquery_jobs)
"$SLUICE" run exp.json --once >exp.out 2>exp.err &
pid=$!
JOB=$(wait_new_job "$NJ" "$pid" exp.err) || exit 1
fault_at "$JOB" 1 5
wait_fired "$pid"
ctl POST "/bulk/jobs/$JOB/expire-locators" >/dev/null
wait "$pid"
rc=$?
[ "$rc" = 0 ] || { cat exp.err >&2; fail "expired locator: exit $rc"; }
expect_in exp.err "INVALID_QUERY_LOCATOR"
expect_in exp.err "reading the job again from its first page, past the"
check_eq "$(nquery_jobs)" "$((NJ + 1))" "query jobs after an expired locator"
sorted "$(newest exp)" >exp.sorted
expect_same clean.sorted exp.sorted

# a second expiry in the same run fails, naming the job
rm -rf state/exp.* out/exp/*
NJ=$(nquery_jobs)
"$SLUICE" run exp.json --once >exp2.out 2>exp2.err &
pid=$!
JOB=$(wait_new_job "$NJ" "$pid" exp2.err) || exit 1
fault_at "$JOB" 1 5
wait_fired "$pid"
ctl POST "/bulk/jobs/$JOB/expire-locators" >/dev/null
fault_at "$JOB" 1 5 # the first page again passes, the second stalls
wait_fired "$pid"
ctl POST "/bulk/jobs/$JOB/expire-locators" >/dev/null
wait "$pid"
rc=$?
[ "$rc" = 1 ] || { cat exp2.err >&2; fail "a second expired locator: exit $rc, expected 1"; }
expect_in exp2.err "query job $JOB results: the locator expired again"
expect_in exp2.err "INVALID_QUERY_LOCATOR"

# --- 3. purged results (404): one new job; rows read before come again ----
pipe pur.json pur ''
NJ=$(nquery_jobs)
"$SLUICE" run pur.json --once >pur.out 2>pur.err &
pid=$!
JOB=$(wait_new_job "$NJ" "$pid" pur.err) || exit 1
fault_at "$JOB" 1 5
wait_fired "$pid"
ctl POST "/bulk/jobs/$JOB/purge-results" >/dev/null
wait "$pid"
rc=$?
[ "$rc" = 0 ] || { cat pur.err >&2; fail "purged results: exit $rc"; }
expect_in pur.err "query job $JOB: GET /services/data/v$V/jobs/query/$JOB/results: HTTP 404 NOT_FOUND"
expect_in pur.err "starting again with a new job"
check_eq "$(nquery_jobs)" "$((NJ + 2))" "query jobs after purged results"
python3 - "$(newest pur)" clean.sorted <<'PY' || fail "purged results: the records"
import ast, collections, csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
clean = {ast.literal_eval(l)[0] for l in open(sys.argv[2]).readlines()[1:]}
ids = [r["Id"] for r in rows]
assert set(ids) == clean, (len(set(ids)), len(clean))
extra = len(ids) - len(clean)  # the pages read before the 404, twice
assert extra > 0 and extra % 700 == 0 and max(collections.Counter(ids).values()) <= 2, extra
PY
NCHECK=$((NCHECK + 1))

# --- 4. SIGTERM mid-extract; the next run goes on in the same job ---------
pipe term.json term ''
NJ=$(nquery_jobs)
"$SLUICE" run term.json --once >term1.out 2>term1.err &
pid=$!
JOB=$(wait_new_job "$NJ" "$pid" term1.err) || exit 1
fault_at "$JOB" 2 20 # the third page hangs
wait_fired "$pid"
kill -TERM "$pid"
wait "$pid"
rc=$?
[ "$rc" = 0 ] || { cat term1.err >&2; fail "SIGTERM: exit $rc"; }
check_eq "$(cp_field term job)" "$JOB" "the committed position's job"
check_eq "$(cp_field term rows)" "$(python3 -c 'import csv,sys; print(sum(1 for _ in csv.DictReader(open(sys.argv[1], newline=""))))' "$(newest term)")" "the committed position's rows"
check_eq "$(cp_field term skip)" 0 "the committed position's skip"
pace 0.2 2
expect_exit 0 "$SLUICE" run term.json --once
expect_in err.txt "resuming query job $JOB at page"
expect_in err.txt "after 0 committed rows"
check_eq "$(nquery_jobs)" "$((NJ + 1))" "query jobs after a resumed run"
ls out/term/*.csv >term.files
check_eq "$(wc -l <term.files | tr -d ' ')" 2 "output files of the two runs"
# shellcheck disable=SC2046
sorted $(cat term.files) >term.sorted
expect_same clean.sorted term.sorted

# --- 5. fewer rows than numberRecordsProcessed: the run fails -------------
pace 60 null
POLL=4s pipe cnt.json cnt ', "fields": ["Id", "Name", "SystemModstamp"]'
NJ=$(nquery_jobs)
"$SLUICE" run cnt.json --once >cnt.out 2>cnt.err &
pid=$!
JOB=$(wait_new_job "$NJ" "$pid" cnt.err) || exit 1
i=0
until [ "$(job_field "$JOB" polls)" -ge 4 ]; do # the next poll is 4 s away
  i=$((i + 1)); [ $i -lt 300 ] || fail "the job was not polled 4 times"
  sleep 0.05
done
ctl POST "/bulk/jobs/$JOB/complete" >/dev/null
R=$(job_field "$JOB" result_rows)
# the next poll's answer says 5 records more than the results hold
ctl POST /faults '{"kind": "status", "status": 200, "method": "GET",
  "path_prefix": "/services/data/v'$V'/jobs/query/'"$JOB"'",
  "body": {"id": "'"$JOB"'", "operation": "query", "object": "Account",
           "state": "JobComplete", "jobType": "V2Query", "contentType": "CSV",
           "apiVersion": '$V', "numberRecordsProcessed": '$((R + 5))'}}' >/dev/null
wait "$pid"
check_eq "$?" 1 "a short extract"
expect_in cnt.err "query job $JOB: $R rows in its results, but its numberRecordsProcessed says $((R + 5))"
# no cursor moved: at most a position in the job was committed
[ ! -f state/cnt.checkpoint.json ] || check_eq "$(cp_field cnt job)" "$JOB" "a short extract's checkpoint"
pace 0.2 2
expect_exit 0 "$SLUICE" run cnt.json --once
check_eq "$(nquery_jobs)" "$((NJ + 2))" "a new job after a short extract"

# --- 6. an ingest job left Open by a failed run, aborted by the next ------
printf 'key,Score__c\nF-1,1.00\nF-2,2.00\n' >open.csv
cat >open.json <<JSON
{ "version": 1, "state_dir": "state",
  "connections": { "sf": $CONN },
  "pipelines": [ { "name": "open",
    "source": { "plugin": "csv-file", "path": "open.csv", "types": { "Score__c": "decimal(18,2)" } },
    "destination": { "plugin": "salesforce-bulk2", "connection": "sf",
                     "object": "Sluice_Score__c", "operation": "upsert",
                     "external_id": "Ext_Id__c", "poll_max": "500ms" },
    "mapping": { "key": "Ext_Id__c" } } ] }
JSON
ctl POST /bulk '{"upload_limit_bytes": 16}' >/dev/null
expect_exit 1 "$SLUICE" run open.json --once
expect_in err.txt "exceeds the limit of 16 bytes"
OJOB=$(ctl GET /bulk/jobs | python3 -c 'import json,sys
print([x["id"] for x in json.load(sys.stdin)["jobs"] if x["kind"] == "ingest"][-1])')
check_eq "$(job_field "$OJOB" state)" Open "the job of the failed upload"
expect_in state/open.destination.state.json "$OJOB"
ctl POST /bulk '{"upload_limit_bytes": 104857600}' >/dev/null
expect_exit 0 "$SLUICE" run open.json --once
expect_in err.txt "ingest job $OJOB, left Open by an earlier run: aborted"
check_eq "$(job_field "$OJOB" state)" Aborted "the job left Open"
expect_not_in state/open.destination.state.json "$OJOB"

# --- 7. the answer to UploadComplete lost (reset mid-body): the PATCH was
# applied, so the resend finds the job no longer Open; the run goes on ----
printf 'key,Score__c\nR-1,1.00\nR-2,2.00\n' >open.csv
rm -rf state
ctl POST /faults '{"kind": "reset_mid_body", "count": 1, "method": "PATCH",
  "path_prefix": "/services/data/v'$V'/jobs/ingest/"}' >/dev/null
expect_exit 0 "$SLUICE" run open.json --once
expect_in err.txt "no longer Open"
check_eq "$(ctl GET /faults | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["pending"]))')" 0 "the reset fired"
RJOB=$(ctl GET /bulk/jobs | python3 -c 'import json,sys
print([x["id"] for x in json.load(sys.stdin)["jobs"] if x["kind"] == "ingest"][-1])')
check_eq "$(job_field "$RJOB" state)" JobComplete "the job whose UploadComplete answer was lost"

done_ok
