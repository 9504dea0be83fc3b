#!/bin/sh
# examples/demo/run-demo.sh - `make demo`: the three case studies of the
# CRM Analytics sync as pipelines, against the two emulators (nothing
# leaves this machine).
#   SyncIn    a Snowflake query of account scores upserted into
#             Sluice_Score__c by Ext_Id__c (Bulk API 2.0)
#   SyncOut   Account into Snowflake with Change Data Capture, deletes
#             (hard ones too) flagged
#   six objects incremental into Snowflake, with the audit table
# It runs every pipeline once, changes a few records in Salesforce, runs
# again, then prints the run records (sluice status) and sluice reconcile,
# and stops the emulators.  Needs SLUICE, SLUICE_PLUGIN_PATH and TOP_SRCDIR.
set -u
: "${SLUICE:?}" "${TOP_SRCDIR:?}"
EMU="$TOP_SRCDIR/tests/emulators"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sluice-demo.XXXXXX")
SF_PID=
SFK_PID=
cleanup() {
  kill $SF_PID $SFK_PID 2>/dev/null
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
step() { printf '\n== %s\n' "$*"; }

step "starting the Salesforce and Snowflake emulators"
"$EMU/make-test-pki.sh" "$WORK/pki" >/dev/null 2>&1 || exit 1
python3 "$EMU/salesforce/sfemu.py" --pki "$WORK/pki" --port 0 \
  --state-file "$WORK/sf.json" --control-token demo --accounts 500 \
  >"$WORK/sf.out" 2>"$WORK/sf.err" &
SF_PID=$!
python3 "$EMU/snowflake/sfkemu.py" --pki "$WORK/pki" --port 0 \
  --state-file "$WORK/sfk.json" --control-token demo \
  >"$WORK/sfk.out" 2>"$WORK/sfk.err" &
SFK_PID=$!
for f in sf sfk; do
  i=0
  until grep -q listening "$WORK/$f.out" 2>/dev/null; do
    i=$((i + 1))
    [ $i -lt 600 ] || { cat "$WORK/$f.err" >&2; echo "demo: an emulator did not start" >&2; exit 1; }
    sleep 0.1
  done
  cat "$WORK/$f.out"
done
get() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
SF_PORT=$(get "$WORK/sf.json" port)
SFK_PORT=$(get "$WORK/sfk.json" port)
SF_LOGIN_URL="https://localhost:$SF_PORT"
SF_CLIENT_ID=$(get "$WORK/sf.json" client_id)
SF_CLIENT_SECRET=$(get "$WORK/sf.json" client_secret)
SF_CA_FILE="$WORK/pki/ca.crt"
SNOWFLAKE_URL="https://localhost:$SFK_PORT"
SNOWFLAKE_ACCOUNT=$(get "$WORK/sfk.json" account)
SNOWFLAKE_USER=$(get "$WORK/sfk.json" user)
SNOWFLAKE_KEY_FILE="$WORK/pki/client.key"
SNOWFLAKE_CA_FILE="$WORK/pki/ca.crt"
export SF_LOGIN_URL SF_CLIENT_ID SF_CLIENT_SECRET SF_CA_FILE SNOWFLAKE_URL \
  SNOWFLAKE_ACCOUNT SNOWFLAKE_USER SNOWFLAKE_KEY_FILE SNOWFLAKE_CA_FILE

ctl() { # ctl PORT HEADER METHOD PATH [JSON]
  curl -sS --fail --cacert "$WORK/pki/ca.crt" -H "$2: demo" \
    -H "Content-Type: application/json" -X "$3" ${5:+-d "$5"} "https://localhost:$1/__control$4"
}
sql() {
  ctl "$SFK_PORT" X-Sfkemu-Control-Token POST /sql \
    "$(python3 -c 'import json,sys; print(json.dumps({"sql": sys.argv[1]}))' "$1")" >/dev/null
}

step "the scores a model wrote in Snowflake (SyncIn's source)"
sql "CREATE TABLE SLUICE_DB.PUBLIC.ACCOUNT_SCORES (EXT_ID VARCHAR, SCORE NUMBER(5,2), GRADE VARCHAR, SCORED_ON DATE)"
sql "INSERT INTO SLUICE_DB.PUBLIC.ACCOUNT_SCORES VALUES ('DEMO-001', 91.5, 'A', '2026-11-01'), ('DEMO-002', 72.25, 'C', '2026-11-01'), ('DEMO-003', 55, 'F', '2026-11-02'), ('DEMO-004', 88, 'B', '2026-11-02')"
echo "4 rows in SLUICE_DB.PUBLIC.ACCOUNT_SCORES"

cp "$TOP_SRCDIR/examples/demo/demo.json" "$WORK/demo.json"
mkdir -p "$WORK/out"
cd "$WORK" || exit 1

step "sluice check demo.json"
"$SLUICE" check demo.json || exit 1

step "first run: every pipeline once"
"$SLUICE" run demo.json --once
rc=$?
[ $rc = 0 ] || [ $rc = 3 ] || { echo "demo: the first run failed ($rc)" >&2; exit 1; }

step "changes in Salesforce: an Account renamed, one deleted, one hard-deleted"
ctl "$SF_PORT" X-Sfemu-Control-Token POST /clock '{"advance_seconds": 120}' >/dev/null
IDS=$(ctl "$SFK_PORT" X-Sfkemu-Control-Token POST /sql \
  '{"sql": "SELECT ID FROM SLUICE_DB.PUBLIC.ACCOUNT WHERE DEL_FLAG = '"'N'"' ORDER BY ID LIMIT 3"}' |
  python3 -c 'import json,sys; print(" ".join(r[0] for r in json.load(sys.stdin)["rows"]))')
set -- $IDS
if [ $# -ge 3 ]; then
  ctl "$SF_PORT" X-Sfemu-Control-Token POST /records '{"ops": [
    {"op": "update", "id": "'"$1"'", "fields": {"Name": "Renamed by the demo"}},
    {"op": "delete", "id": "'"$2"'"},
    {"op": "hard_delete", "id": "'"$3"'"}]}' >/dev/null && echo "changed $1, deleted $2 and $3"
fi
ctl "$SF_PORT" X-Sfemu-Control-Token POST /clock '{"advance_seconds": 120}' >/dev/null

step "second run: only what changed"
"$SLUICE" run demo.json --once
rc=$?
[ $rc = 0 ] || [ $rc = 3 ] || { echo "demo: the second run failed ($rc)" >&2; exit 1; }

step "sluice status demo.json"
"$SLUICE" status demo.json

step "sluice reconcile demo.json"
"$SLUICE" reconcile demo.json
step "done: the emulators stop now"
exit 0
