#!/bin/sh
# tests/e2e/delete_sweep.sh - key sweeps, Salesforce emulator -> Snowflake
# emulator: records deleted where no incremental read sees it (plain /query,
# no queryAll, no getDeleted) are listed by `reconcile --ids`, flagged
# DEL_FLAG = 'Y' by a delete sweep (`reconcile --flag-deletes`, and by the
# daemon on "reconcile_deletes"), recorded in runs.jsonl and the audit
# table; a second sweep flags nothing; the refusals are clear.
. "$TOP_SRCDIR/tests/e2e/lib.sh"
SFEMU_ACCOUNTS=40
. "$TOP_SRCDIR/tests/e2e/sfemu.sh"
. "$TOP_SRCDIR/tests/e2e/sfkemu.sh"

check_eq() {
  NCHECK=$((NCHECK + 1))
  [ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"
}

# pipeline_file FILE DEST_EXTRA PIPELINE_EXTRA
pipeline_file() {
  cat >"$1" <<JSON
{ "version": 1, "state_dir": "state",
  "connections": {
    "sf": { "type": "salesforce", "login_url": "https://localhost:$PORT",
            "api_version": "$V", "auth_flow": "client_credentials",
            "client_id": { "env": "SF_CLIENT_ID" },
            "client_secret": { "env": "SF_CLIENT_SECRET" },
            "ca_file": "$WORK/pki/ca.crt" },
    "snow": $SFK_CONN },
  "pipelines": [ { "name": "acct",
    "source": { "plugin": "salesforce-rest", "connection": "sf",
                "object": "Account", "fields": ["Id", "Name"],
                "mode": "incremental" },
    "destination": { "plugin": "snowflake-sql", "connection": "snow",
                     "table": "ACCT", "key": ["Id"] $2 }
    $3 } ] }
JSON
}
pipeline_file sync.json ', "hard_deletes": "flag"' ', "reconcile_deletes": "weekly"'
expect_exit 0 "$SLUICE" validate sync.json
T=SLUICE_DB.PUBLIC.ACCT

# --- 1. a first run; the sides match, key for key ------------------------
expect_exit 0 "$SLUICE" run sync.json --once
LIVE=$(sq "SELECT COUNT(*) FROM $T WHERE DEL_FLAG = 'N'" | tr -d '[]"')
[ "${LIVE:-0}" -gt 30 ] || fail "too few live rows: $LIVE"
NCHECK=$((NCHECK + 1))
expect_exit 0 "$SLUICE" reconcile sync.json --ids 5
expect_in out.txt "acct                     source $LIVE, destination $LIVE: they match"
expect_in out.txt "acct                     0 keys only in the source"
expect_in out.txt "acct                     0 keys only in the destination"

# --- 2. deletes no incremental read sees, and a record not synced yet ----
sq "SELECT ID FROM $T WHERE DEL_FLAG = 'N' ORDER BY ID" | tr -d '[]"' >ids.txt
GONE=$(sed -n '2p;5p;9p;14p;20p;27p' ids.txt)
OPS=""
i=0
for id in $GONE; do
  i=$((i + 1))
  if [ $((i % 2)) = 0 ]; then op=hard_delete; else op=delete; fi
  OPS="$OPS${OPS:+,}{\"op\": \"$op\", \"id\": \"$id\"}"
done
ctl POST /records "{\"ops\": [$OPS]}" >/dev/null
NEW=$(ctl POST /records '{"op": "create", "object": "Account", "fields": {"Name": "Not synced yet"}}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["results"][0]["id"])')
# An incremental run sees none of the deletes (the new record it would
# bring: that is what the next steps must not have).
echo "$GONE" | sort >gone.txt

# --- 3. reconcile --ids lists each side's own keys, exit 1 ---------------
expect_exit 1 "$SLUICE" reconcile sync.json --ids 5
expect_in out.txt "acct                     source $((LIVE - 6 + 1)), destination $LIVE: 5 more in the destination"
expect_in out.txt "acct                     1 key only in the source (missing from the destination)"
expect_in out.txt "  $NEW"
expect_in out.txt "acct                     6 keys only in the destination (live rows deleted or filtered out at the source)"
expect_in out.txt "  ... and 1 more"
# The five listed are the first five deleted Ids, in key order.
sed -n '/only in the destination/,$p' out.txt | sed -n 's/^  \([0-9A-Za-z]\{18\}\)$/\1/p' >listed.txt
head -5 gone.txt >want.txt
expect_same want.txt listed.txt

# --- 4. the delete sweep: exactly those six rows flagged -----------------
sq "SELECT * FROM $T ORDER BY ID" >before.txt
expect_exit 0 "$SLUICE" reconcile sync.json --pipeline acct --flag-deletes
expect_in out.txt "acct                     $((LIVE - 6 + 1)) keys read from the source: 6 live rows flagged deleted"
sq "SELECT * FROM $T ORDER BY ID" >after.txt
# The expected table: before, with DEL_FLAG 'Y' on the six, nothing else.
python3 - before.txt gone.txt >expected.txt <<'PY'
import json, sys
gone = set(open(sys.argv[2]).read().split())
for line in open(sys.argv[1]):
    row = json.loads(line)
    if row[0] in gone:
        assert row[-1] == "N", row
        row[-1] = "Y"
    print(json.dumps(row))
PY
expect_same expected.txt after.txt
sq "SELECT ID FROM $T WHERE DEL_FLAG = 'Y' ORDER BY ID" | tr -d '[]"' >flagged.txt
expect_same gone.txt flagged.txt
# The run record: a delete sweep, 6 flagged; and the audit row.
tail -1 state/runs.jsonl >rec.json
python3 - rec.json "$((LIVE - 6 + 1))" <<'PY' || fail "the sweep's run record"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["kind"] == "delete_sweep", r
assert r["status"] == "succeeded", r
assert r["rows_flagged"] == 6 and r["rows_deleted"] == 6, r
assert r["rows_read"] == int(sys.argv[2]) and r["rows_written"] == 0, r
assert r["pipeline"] == "acct" and r["destination"] == "snowflake-sql", r
PY
NCHECK=$((NCHECK + 1))
sq "SELECT WRITE_MODE, ROWS_STAGED, ROWS_DELETED FROM SLUICE_DB.PUBLIC.SLUICE_AUDIT WHERE WRITE_MODE = 'delete_sweep'" >audit.txt
expect_in audit.txt "[\"delete_sweep\", \"$((LIVE - 6 + 1))\", \"6\"]"
# No key table is left behind.
sq "SELECT COUNT(*) FROM SLUICE_DB.INFORMATION_SCHEMA.TABLES WHERE TABLE_NAME LIKE '%SLUICE_KEYS%'" >left.txt
expect_in left.txt '["0"]'

# --- 5. a second sweep flags nothing new ---------------------------------
expect_exit 0 "$SLUICE" reconcile sync.json --flag-deletes
expect_in out.txt ": 0 live rows flagged deleted"
sq "SELECT * FROM $T ORDER BY ID" >after2.txt
expect_same after.txt after2.txt
tail -1 state/runs.jsonl | grep -q '"rows_flagged":0' || fail "second sweep's record"
NCHECK=$((NCHECK + 1))

# status: the last run and the last sweep apart, the next sweep's time.
expect_exit 0 "$SLUICE" status sync.json
expect_in out.txt "last run    succeeded"
expect_in out.txt "last sweep  succeeded"
expect_in out.txt "0 flagged deleted"
expect_in out.txt "next sweep  20"
expect_exit 0 "$SLUICE" status sync.json --json
python3 - out.txt <<'PY' || fail "status --json"
import json, sys
p = json.load(open(sys.argv[1]))[0]
assert p["last_run"].get("kind") is None, p
assert p["delete_sweep"]["last_run"]["kind"] == "delete_sweep", p
assert p["delete_sweep"]["next_run"].endswith("Z"), p
PY
NCHECK=$((NCHECK + 1))

# --- 6. the only difference left is the record not synced yet; a run ----
expect_exit 1 "$SLUICE" reconcile sync.json --ids 5
expect_in out.txt "acct                     1 key only in the source"
expect_in out.txt "acct                     0 keys only in the destination"
expect_exit 0 "$SLUICE" run sync.json --once
expect_exit 0 "$SLUICE" reconcile sync.json --ids 5
expect_in out.txt ": they match"
expect_in out.txt "acct                     0 keys only in the source"

# --- 7. the daemon runs a due sweep on its own schedule ------------------
pipeline_file daemon.json ', "hard_deletes": "flag"' ', "schedule": {"every": "4w"}, "reconcile_deletes": {"every": "1w"}'
LAST=$(sq "SELECT ID FROM $T WHERE DEL_FLAG = 'N' ORDER BY ID" | tail -1 | tr -d '[]"')
ctl POST /records '{"op": "hard_delete", "id": "'"$LAST"'"}' >/dev/null
# The last sweep, as the run log has it, was long ago: one is due at once
# (and the run, just done, is not).
printf '%s\n' '{"run_id":"20200101T000000Z-0000","pipeline":"acct","status":"succeeded","start":"2020-01-01T00:00:00.000Z","end":"2020-01-01T00:00:01.000Z","duration_ms":1000,"rows_read":1,"rows_written":0,"rows_rejected":0,"rows_deleted":0,"bytes_in":0,"bytes_out":0,"api_calls":0,"source":"salesforce-rest","destination":"snowflake-sql","error":null,"checkpoint":null,"kind":"delete_sweep","rows_flagged":0}' >>state/runs.jsonl
N0=$(grep -c . state/runs.jsonl)
"$SLUICE" run daemon.json >daemon.out 2>daemon.err &
DPID=$!
i=0
while [ "$(grep -c . state/runs.jsonl)" -le "$N0" ] && [ $i -lt 300 ]; do
  sleep 0.1
  i=$((i + 1))
done
kill -TERM $DPID
wait $DPID
check_eq "$?" 0 "the daemon's exit after SIGTERM"
check_eq "$(grep -c . state/runs.jsonl)" "$((N0 + 1))" "records the daemon added"
tail -1 state/runs.jsonl | grep -q '"kind":"delete_sweep".*"rows_flagged":1' ||
  { cat daemon.err >&2; tail -1 state/runs.jsonl >&2; fail "the daemon's sweep"; }
NCHECK=$((NCHECK + 1))
sq "SELECT DEL_FLAG FROM $T WHERE ID = '$LAST'" >last.txt
expect_in last.txt '["Y"]'
expect_in daemon.err "delete sweep"

# --- 8. other sources: bulk2 (keys by REST), csv-file through a mapping,
# snowflake-sql ------------------------------------------------------------
sed 's/"plugin": "salesforce-rest"/"plugin": "salesforce-bulk2"/' sync.json >bulk.json
expect_exit 0 "$SLUICE" reconcile bulk.json --ids 5
expect_in out.txt "acct                     0 keys only in the source"
expect_in out.txt "acct                     0 keys only in the destination"

mkdir -p in
printf 'ext,name\ne1,A\ne2,B\ne3,C\n' >in/a.csv
cat >csv.json <<JSON
{ "version": 1, "state_dir": "state",
  "connections": { "snow": $SFK_CONN },
  "pipelines": [ { "name": "csvp", "reconcile_deletes": "daily",
    "source": { "plugin": "csv-file", "path": "in/*.csv" },
    "destination": { "plugin": "snowflake-sql", "connection": "snow",
                     "table": "CSVT", "key": ["EXT_ID"] },
    "mapping": { "ext": "EXT_ID", "name": { "to": "NAME", "type": "string" } } } ] }
JSON
expect_exit 0 "$SLUICE" run csv.json --once
printf 'ext,name\ne1,A\ne3,C\ne4,D\n' >in/a.csv
expect_exit 1 "$SLUICE" reconcile csv.json --ids 2
expect_in out.txt "csvp                     1 key only in the source"
expect_in out.txt "  e4"
expect_in out.txt "csvp                     1 key only in the destination"
expect_in out.txt "  e2"
expect_exit 0 "$SLUICE" reconcile csv.json --flag-deletes
expect_in out.txt "csvp                     3 keys read from the source: 1 live row flagged deleted"
sq "SELECT * FROM SLUICE_DB.PUBLIC.CSVT ORDER BY EXT_ID" >csvt.txt
printf '%s\n' '["e1", "A", "N"]' '["e2", "B", "Y"]' '["e3", "C", "N"]' >csvt.want
expect_same csvt.want csvt.txt

cat >sfk.json <<JSON
{ "version": 1, "state_dir": "state",
  "connections": { "snow": $SFK_CONN },
  "pipelines": [ { "name": "copy",
    "source": { "plugin": "snowflake-sql", "connection": "snow",
                "query": "SELECT ID, NAME FROM SLUICE_DB.PUBLIC.ACCT WHERE DEL_FLAG = 'N';" },
    "destination": { "plugin": "snowflake-sql", "connection": "snow",
                     "table": "COPYT", "key": ["ID"] } } ] }
JSON
expect_exit 0 "$SLUICE" run sfk.json --once
expect_exit 0 "$SLUICE" reconcile sfk.json --ids 3
expect_in out.txt "copy                     0 keys only in the destination"
ONE=$(sed -n 1p ids.txt)
sq "UPDATE $T SET DEL_FLAG = 'Y' WHERE ID = '$ONE'" >/dev/null
expect_exit 1 "$SLUICE" reconcile sfk.json --ids 3
expect_in out.txt "copy                     1 key only in the destination (live rows deleted or filtered out at the source)"
expect_in out.txt "  $ONE"

# --- 9. refusals ----------------------------------------------------------
pipeline_file del.json ', "hard_deletes": "delete", "write": "merge"' ', "reconcile_deletes": "weekly"'
expect_exit 2 "$SLUICE" validate del.json
expect_in err.txt "del.json: pipelines[0].reconcile_deletes: a delete sweep needs the destination's \"hard_deletes\": \"flag\" (it is \"delete\""
pipeline_file bad.json ', "hard_deletes": "flag"' ', "reconcile_deletes": "fortnightly"'
expect_exit 2 "$SLUICE" validate bad.json
expect_in err.txt "bad.json: pipelines[0].reconcile_deletes: "
expect_in err.txt "a schedule: \"weekly\""
pipeline_file ign.json ', "hard_deletes": "ignore"' ''
expect_exit 1 "$SLUICE" reconcile ign.json --pipeline acct --flag-deletes
expect_in out.txt "FAILED: a delete sweep needs the destination's \"hard_deletes\": \"flag\" (it is \"ignore\""
expect_exit 2 "$SLUICE" reconcile ign.json --flag-deletes
expect_in err.txt "no pipeline has \"reconcile_deletes\""
expect_exit 2 "$SLUICE" reconcile sync.json --ids 0
expect_in err.txt "--ids takes a number from 1 to 10000"
done_ok
