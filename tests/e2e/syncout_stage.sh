#!/bin/sh
# tests/e2e/syncout_stage.sh - examples/syncout-account-stage.json
# (salesforce-bulk2 into snowflake-stage) against the Salesforce emulator
# and the Snowflake emulator with its S3 store: the first run gives every
# Account (soft-deleted ones flagged), an update and a soft delete come
# through the next run, an idle run changes nothing, and the staged files
# are gone after each run.
. "$TOP_SRCDIR/tests/e2e/lib.sh"
SFEMU_ACCOUNTS=300
SFKEMU_ARGS="--s3 --stage SLUICE_DB.PUBLIC.SFSYNC_STAGE=s3://sluice-stage/sfsync/"
. "$TOP_SRCDIR/tests/e2e/sfemu.sh"
. "$TOP_SRCDIR/tests/e2e/sfkemu.sh"
for p in salesforce-bulk2 snowflake-stage; do
  "$SLUICE" plugins 2>/dev/null | grep -q "^$p " ||
    { echo "SKIP: the $p plugin is not built"; exit 77; }
done

check_eq() {
  NCHECK=$((NCHECK + 1))
  [ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"
}
objects() { s3ctl GET "/objects/sluice-stage?prefix=sfsync/" | python3 -c 'import json,sys
d=json.load(sys.stdin); d=d.get("objects", d) if isinstance(d, dict) else d
print(len(d))'; }

cp "$TOP_SRCDIR/examples/syncout-account-stage.json" sync.json
SF_LOGIN_URL="https://localhost:$PORT"
SF_CA_FILE="$WORK/pki/ca.crt"
SNOWFLAKE_ACCOUNT=$SFK_ACCOUNT
SNOWFLAKE_URL="https://localhost:$SFK_PORT"
SNOWFLAKE_USER=$SFK_USER
SNOWFLAKE_KEY_FILE="$WORK/pki/client.key"
SNOWFLAKE_CA_FILE="$WORK/pki/ca.crt"
S3_ENDPOINT="https://localhost:$S3_PORT"
AWS_ACCESS_KEY_ID=$S3_AK
AWS_SECRET_ACCESS_KEY=$S3_SK
export SF_LOGIN_URL SF_CA_FILE SNOWFLAKE_ACCOUNT SNOWFLAKE_URL SNOWFLAKE_USER \
  SNOWFLAKE_KEY_FILE SNOWFLAKE_CA_FILE S3_ENDPOINT AWS_ACCESS_KEY_ID \
  AWS_SECRET_ACCESS_KEY
expect_exit 0 "$SLUICE" validate sync.json
expect_exit 0 "$SLUICE" check sync.json

# --- 1. the first run: every Account, soft-deleted ones flagged ------------
expect_exit 0 "$SLUICE" run sync.json --once -v
expect_in err.txt "COPY INTO"
expect_not_in err.txt "$S3_SK"
READ=$(sed -n 's/.*succeeded: \([0-9]*\) read.*/\1/p' err.txt | tail -1)
[ "${READ:-0}" -gt 250 ] || fail "too few Accounts read: $READ"
NCHECK=$((NCHECK + 1))
N=$(sq "SELECT COUNT(*) FROM SLUICE_DB.PUBLIC.ACCOUNT" | tr -d '[]"')
check_eq "$N" "$READ" "rows in ACCOUNT after the first run"
Y0=$(sq "SELECT COUNT(*) FROM SLUICE_DB.PUBLIC.ACCOUNT WHERE DEL_FLAG = 'Y'" | tr -d '[]"')
[ "$Y0" -gt 0 ] || fail "no soft-deleted Account flagged"
NCHECK=$((NCHECK + 1))
check_eq "$(objects)" 0 "staged objects after the first run"

# --- 2. an update and a soft delete ---------------------------------------
IDS=$(sq "SELECT ID FROM SLUICE_DB.PUBLIC.ACCOUNT WHERE DEL_FLAG = 'N' ORDER BY ID" | head -2 | tr -d '[]"')
ID1=$(echo "$IDS" | sed -n 1p)
ID2=$(echo "$IDS" | sed -n 2p)
ctl POST /clock '{"advance_seconds": 600}' >/dev/null
ctl POST /records '{"ops": [
  {"op": "update", "id": "'"$ID1"'", "fields": {"Name": "Renamed through the stage"}},
  {"op": "delete", "id": "'"$ID2"'"}]}' >/dev/null
expect_exit 0 "$SLUICE" run sync.json --once
sq "SELECT ID, NAME, DEL_FLAG FROM SLUICE_DB.PUBLIC.ACCOUNT WHERE ID IN ('$ID1', '$ID2') ORDER BY ID" >t2.txt
expect_in t2.txt '["'"$ID1"'", "Renamed through the stage", "N"]'
grep "\"$ID2\"" t2.txt | grep -q '"Y"\]' || fail "the soft-deleted $ID2 is not flagged"
NCHECK=$((NCHECK + 1))
check_eq "$(sq "SELECT COUNT(*) FROM SLUICE_DB.PUBLIC.ACCOUNT" | tr -d '[]"')" "$N" "rows after the changes"

# --- 3. an idle run changes nothing; runs are audited ----------------------
sq "SELECT * FROM SLUICE_DB.PUBLIC.ACCOUNT ORDER BY ID" >before.txt
expect_exit 0 "$SLUICE" run sync.json --once
sq "SELECT * FROM SLUICE_DB.PUBLIC.ACCOUNT ORDER BY ID" >after.txt
expect_same before.txt after.txt
A=$(sq "SELECT COUNT(*) FROM SLUICE_DB.PUBLIC.SLUICE_AUDIT WHERE PIPELINE = 'account-out-stage'" | tr -d '[]"')
[ "$A" -ge 3 ] || fail "audit rows: $A"
NCHECK=$((NCHECK + 1))
check_eq "$(objects)" 0 "staged objects at the end"
expect_exit 0 "$SLUICE" reconcile sync.json
expect_in out.txt ": they match"
done_ok
