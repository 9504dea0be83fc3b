#!/bin/sh
# tests/e2e/syncout.sh - SyncOut: Salesforce Accounts into a Snowflake
# table, incremental by SystemModstamp, soft and hard deletes kept and
# flagged DEL_FLAG = 'Y', an undeleted record flipped back to 'N', the run
# recorded in SLUICE_AUDIT; examples/syncout-account.json against both
# emulators.
. "$TOP_SRCDIR/tests/e2e/lib.sh"
SFEMU_ACCOUNTS=300
. "$TOP_SRCDIR/tests/e2e/sfemu.sh"
. "$TOP_SRCDIR/tests/e2e/sfkemu.sh"

check_eq() {
  NCHECK=$((NCHECK + 1))
  [ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"
}

# The example, with the emulators' addresses in its environment.
cp "$TOP_SRCDIR/examples/syncout-account.json" sync.json
SF_LOGIN_URL="https://localhost:$PORT"
SF_CA_FILE="$WORK/pki/ca.crt"
SNOWFLAKE_ACCOUNT=$SFK_ACCOUNT
SNOWFLAKE_URL="https://localhost:$SFK_PORT"
SNOWFLAKE_USER=$SFK_USER
SNOWFLAKE_KEY_FILE="$WORK/pki/client.key"
SNOWFLAKE_CA_FILE="$WORK/pki/ca.crt"
export SF_LOGIN_URL SF_CA_FILE SNOWFLAKE_ACCOUNT SNOWFLAKE_URL SNOWFLAKE_USER \
  SNOWFLAKE_KEY_FILE SNOWFLAKE_CA_FILE
expect_exit 0 "$SLUICE" validate sync.json
expect_exit 0 "$SLUICE" check sync.json

# --- 1. the first run: every live Account ---------------------------------
expect_exit 0 "$SLUICE" run sync.json --once
LIVE=$(sed -n 's/.*Account: \([0-9]*\) records to read.*/\1/p' err.txt | head -1)
[ "${LIVE:-0}" -gt 250 ] || fail "too few Accounts read: $LIVE"
N=$(sq "SELECT COUNT(*) FROM SLUICE_DB.PUBLIC.ACCOUNT" | tr -d '[]"')
check_eq "$N" "$LIVE" "rows in ACCOUNT after the first run"
# The soft-deleted seed records came as DELETE rows: flagged, not lost.
sq "SELECT COUNT(*) FROM SLUICE_DB.PUBLIC.ACCOUNT WHERE DEL_FLAG = 'Y'" >y0.txt
Y0=$(tr -d '[]"' <y0.txt)
sq "SELECT COUNT(*) FROM SLUICE_DB.PUBLIC.ACCOUNT WHERE DEL_FLAG = 'N'" >n0.txt
# Types from describe: Id is VARCHAR(18), SystemModstamp TIMESTAMP_TZ.
sq "SELECT COLUMN_NAME, DATA_TYPE FROM SLUICE_DB.INFORMATION_SCHEMA.COLUMNS WHERE TABLE_NAME = 'ACCOUNT' AND COLUMN_NAME IN ('ID', 'SYSTEMMODSTAMP', 'ANNUALREVENUE')" >types.txt
expect_in types.txt '"SYSTEMMODSTAMP", "TIMESTAMP_TZ"'
expect_in types.txt '"ANNUALREVENUE", "NUMBER"'

# --- 2. changes: an update, a soft delete, a hard delete -------------------
sq "SELECT ID FROM SLUICE_DB.PUBLIC.ACCOUNT WHERE DEL_FLAG = 'N' ORDER BY ID" >ids.txt
IDS=$(head -3 ids.txt | tr -d '[]"')
ID1=$(echo "$IDS" | sed -n 1p)
ID2=$(echo "$IDS" | sed -n 2p)
ID3=$(echo "$IDS" | sed -n 3p)
ctl POST /clock '{"advance_seconds": 60}' >/dev/null
ctl POST /records '{"ops": [
  {"op": "update", "id": "'"$ID1"'", "fields": {"Name": "Renamed in Salesforce"}},
  {"op": "delete", "id": "'"$ID2"'"},
  {"op": "hard_delete", "id": "'"$ID3"'"}]}' >/dev/null
expect_exit 0 "$SLUICE" run sync.json --once
sq "SELECT ID, NAME, DEL_FLAG FROM SLUICE_DB.PUBLIC.ACCOUNT WHERE ID IN ('$ID1', '$ID2', '$ID3') ORDER BY ID" >t2.txt
expect_in t2.txt '["'"$ID1"'", "Renamed in Salesforce", "N"]'
expect_in t2.txt "\"$ID2\""
grep "\"$ID2\"" t2.txt | grep -q '"Y"\]' || fail "the soft-deleted $ID2 is not flagged"
NCHECK=$((NCHECK + 1))
# Flagged rows keep their last values.
grep "\"$ID2\"" t2.txt | grep -qv 'null, "Y"' || fail "$ID2 lost its values"
N2=$(sq "SELECT COUNT(*) FROM SLUICE_DB.PUBLIC.ACCOUNT" | tr -d '[]"')
check_eq "$N2" "$N" "rows after the deletes (kept, flagged)"

# --- 3. undelete: the same key flips back to 'N' --------------------------
ctl POST /clock '{"advance_seconds": 60}' >/dev/null
ctl POST /records '{"op": "undelete", "id": "'"$ID2"'"}' >/dev/null
expect_exit 0 "$SLUICE" run sync.json --once
sq "SELECT DEL_FLAG FROM SLUICE_DB.PUBLIC.ACCOUNT WHERE ID = '$ID2'" >u.txt
expect_in u.txt '["N"]'
# The hard delete: getDeleted covers up to the service's latestDateCovered
# (the minute before its clock), so it shows by this run at the latest.
sq "SELECT ID, DEL_FLAG FROM SLUICE_DB.PUBLIC.ACCOUNT WHERE ID = '$ID3'" >h.txt
expect_in h.txt '["'"$ID3"'", "Y"]'

# --- 4. an idle run changes nothing; every run is audited -----------------
sq "SELECT * FROM SLUICE_DB.PUBLIC.ACCOUNT ORDER BY ID" >before.txt
expect_exit 0 "$SLUICE" run sync.json --once
sq "SELECT * FROM SLUICE_DB.PUBLIC.ACCOUNT ORDER BY ID" >after.txt
expect_same before.txt after.txt
A=$(sq "SELECT COUNT(*) FROM SLUICE_DB.PUBLIC.SLUICE_AUDIT WHERE PIPELINE = 'account-out'" | tr -d '[]"')
[ "$A" -ge 3 ] || fail "audit rows: $A"
NCHECK=$((NCHECK + 1))
# --- 5. reconcile: source records against live (unflagged) rows ---------
expect_exit 0 "$SLUICE" reconcile sync.json
expect_in out.txt "account-out"
expect_in out.txt ": they match"
GONE=$(sq "SELECT ID FROM SLUICE_DB.PUBLIC.ACCOUNT WHERE DEL_FLAG = 'N' ORDER BY ID DESC" | head -1 | tr -d '[]"')
sq "DELETE FROM SLUICE_DB.PUBLIC.ACCOUNT WHERE ID = '$GONE'" >/dev/null
expect_exit 1 "$SLUICE" reconcile sync.json
expect_in out.txt ": 1 missing from the destination"

expect_exit 0 "$SLUICE" status sync.json
expect_in out.txt account-out
expect_in out.txt "last run    succeeded"
expect_in out.txt 'checkpoint  {"cursor":'
expect_in out.txt "next run    20"
expect_exit 0 "$SLUICE" status sync.json --json
python3 - out.txt <<'PY' || fail "status --json"
import json, sys
p = json.load(open(sys.argv[1]))[0]
assert p["pipeline"] == "account-out", p
assert p["last_run"]["status"] == "succeeded", p
assert "cursor" in p["checkpoint"] and "deleted_until" in p["checkpoint"], p
assert p["next_run"].endswith("Z"), p
PY
NCHECK=$((NCHECK + 1))
done_ok
