#!/bin/sh
# tests/e2e/salesforce_cdc.sh - SyncOut with Change Data Capture:
# salesforce-cdc into snowflake-sql with hard_deletes flag, from
# examples/syncout-account-cdc.json against both emulators.  After every
# step the whole table is compared with the emulator's own records (every
# Account, deleted ones too, by queryAll; hard-deleted ones expected
# flagged): the initial load (REST, and a Bulk 2.0 job), creates, updates
# (a field set to null), merged events, soft and
# hard deletes, undelete, a gap event, an overflow, an expired replay id,
# a stream whose long poll is dropped, whose client is forgotten and whose
# token is refused, and a stream killed with -9 then run again.
. "$TOP_SRCDIR/tests/e2e/lib.sh"
SFEMU_ACCOUNTS=120
. "$TOP_SRCDIR/tests/e2e/sfemu.sh"
"$SLUICE" plugins 2>/dev/null | grep -q '^salesforce-cdc ' ||
  { echo "SKIP: the salesforce-cdc plugin is not built"; exit 77; }
. "$TOP_SRCDIR/tests/e2e/sfkemu.sh"

check_eq() {
  NCHECK=$((NCHECK + 1))
  [ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"
}

cp "$TOP_SRCDIR/examples/syncout-account-cdc.json" sync.json
SF_LOGIN_URL="https://localhost:$PORT"
SF_CA_FILE="$WORK/pki/ca.crt"
SNOWFLAKE_ACCOUNT=$SFK_ACCOUNT
SNOWFLAKE_URL="https://localhost:$SFK_PORT"
SNOWFLAKE_USER=$SFK_USER
SNOWFLAKE_KEY_FILE="$WORK/pki/client.key"
SNOWFLAKE_CA_FILE="$WORK/pki/ca.crt"
export SF_LOGIN_URL SF_CA_FILE SNOWFLAKE_ACCOUNT SNOWFLAKE_URL SNOWFLAKE_USER \
  SNOWFLAKE_KEY_FILE SNOWFLAKE_CA_FILE
# The same pipeline (same name, state and table), streaming until stopped.
python3 - sync.json >stream.json <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["pipelines"][0]["source"]["mode"] = "stream"
print(json.dumps(d))
PY
ctl POST /cometd '{"hold_ms": 500}' >/dev/null

HARD="" # ids hard-deleted: gone from queryAll, expected flagged 'Y'

# truth: every Account as the emulator holds it, "ID|NAME|PHONE|FLAG"
# sorted (queryAll: deleted ones flagged Y; hard-deleted ones from $HARD).
truth() {
  python3 - "$PORT" "$WORK/pki/ca.crt" "$HARD" <<'PY'
import json, os, ssl, sys, urllib.parse, urllib.request
port, ca, hard = sys.argv[1], sys.argv[2], sys.argv[3].split()
ctx = ssl.create_default_context(cafile=ca)
base = "https://localhost:%s" % port
form = urllib.parse.urlencode({"grant_type": "client_credentials",
    "client_id": os.environ["SF_CLIENT_ID"],
    "client_secret": os.environ["SF_CLIENT_SECRET"]}).encode()
tok = json.load(urllib.request.urlopen(
    urllib.request.Request(base + "/services/oauth2/token", data=form), context=ctx))
def get(path):
    r = urllib.request.Request(tok["instance_url"] + path,
                               headers={"Authorization": "Bearer " + tok["access_token"]})
    return json.load(urllib.request.urlopen(r, context=ctx))
q = urllib.parse.quote("SELECT Id, Name, Phone, IsDeleted FROM Account")
page = get("/services/data/v62.0/queryAll?q=" + q)
rows = {}
while True:
    for r in page["records"]:
        rows[r["Id"]] = "%s|%s|%s|%s" % (r["Id"], r["Name"], r["Phone"],
                                         "Y" if r["IsDeleted"] else "N")
    if page.get("done", True):
        break
    page = get(page["nextRecordsUrl"])
for h in hard:
    assert h not in rows, h
for line in sorted(rows.values()):
    print(line)
PY
}
# table: the destination's rows in the same form (hard-deleted ones keep
# their last values; truth() cannot see those, so they are compared by
# id and flag only).
table() {
  sq "SELECT ID, NAME, PHONE, DEL_FLAG FROM SLUICE_DB.PUBLIC.${TABLE:-ACCOUNT_CDC} ORDER BY ID" |
    python3 -c '
import json, sys
hard = set(sys.argv[1].split())
for line in sys.stdin:
    i, n, p, f = json.loads(line)
    if i in hard:
        print("%s|(hard)|%s" % (i, f), file=sys.stderr)
        continue
    print("%s|%s|%s|%s" % (i, n, p, f))' "$HARD" 2>hard.txt
}
# compare WHAT: the table equals the emulator's records, each id once, and
# every hard-deleted id is there flagged.
compare() {
  truth >truth.txt || fail "$1: cannot read the emulator's records"
  table >table.txt
  expect_same truth.txt table.txt
  for h in $HARD; do
    grep -q "^$h|(hard)|Y\$" hard.txt || fail "$1: hard-deleted $h is not flagged"
  done
  D=$(sq "SELECT COUNT(*) - COUNT(DISTINCT ID) FROM SLUICE_DB.PUBLIC.${TABLE:-ACCOUNT_CDC}" | tr -d '[]"')
  check_eq "$D" 0 "$1: rows doubled"
}
acct() { sed -n "${1}p" ids.txt; }

# --- check: CDC enabled or not --------------------------------------------
expect_exit 0 "$SLUICE" check sync.json
expect_in err.txt "Change Data Capture is enabled for Account"
ctl POST /cdc '{"disable": ["Account"]}' >/dev/null
expect_exit 1 "$SLUICE" check sync.json
expect_in out.txt "account-cdc/source       salesforce-cdc   FAILED: "
expect_in out.txt "Change Data Capture is not enabled for this object"
expect_in out.txt "Setup > Integrations > Change Data Capture"
expect_exit 1 "$SLUICE" run sync.json --once
expect_in err.txt "Change Data Capture is not enabled"
ctl POST /cdc '{"enable": ["Account"]}' >/dev/null
rm -rf state

# --- 1. the initial load: changes made before it are in it, not lost ------
ctl POST /records '{"op": "create", "object": "Account", "fields": {"Name": "Before the load", "Phone": "555-0100"}}' >/dev/null
expect_exit 0 "$SLUICE" run sync.json --once
expect_in err.txt "initial load through the REST API"
compare "after the initial load"
sq "SELECT ID FROM SLUICE_DB.PUBLIC.ACCOUNT_CDC WHERE DEL_FLAG = 'N' ORDER BY ID" | tr -d '[]"' >ids.txt
# The same with a Bulk API 2.0 query job for the load (another table).
python3 - sync.json >bulk.json <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
p = d["pipelines"][0]
p["name"] = "account-cdc-bulk"
p["source"]["initial_load"] = "bulk2"
p["destination"]["table"] = "ACCOUNT_CDC_BULK"
print(json.dumps(d))
PY
expect_exit 0 "$SLUICE" run bulk.json --once
expect_in err.txt "initial load through a Bulk API 2.0 query job"
TABLE=ACCOUNT_CDC_BULK compare "after an initial load by a Bulk 2.0 job"
expect_exit 0 "$SLUICE" status sync.json --json
python3 - out.txt <<'PY' || fail "the checkpoint after the load"
import json, sys
cp = json.load(open(sys.argv[1]))[0]["checkpoint"]
cp = json.loads(cp) if isinstance(cp, str) else cp
assert "phase" not in cp and isinstance(cp["replay"], int), cp
assert cp["channel"] == "/data/AccountChangeEvent", cp
PY
NCHECK=$((NCHECK + 1))

# --- 2. every kind of change, then a drain run ----------------------------
A1=$(acct 1) A2=$(acct 2) A3=$(acct 3) A4=$(acct 4) A5=$(acct 5) A6=$(acct 6) A7=$(acct 7)
ctl POST /records '{"ops": [
  {"op": "create", "object": "Account", "fields": {"Name": "New one", "Phone": "555-0101"}},
  {"op": "create", "object": "Account", "fields": {"Name": "New two"}},
  {"op": "update", "id": "'"$A1"'", "fields": {"Name": "Renamed"}},
  {"op": "update", "id": "'"$A2"'", "fields": {"Phone": null}},
  {"op": "delete", "id": "'"$A3"'"},
  {"op": "hard_delete", "id": "'"$A4"'"}]}' >/dev/null
HARD="$A4"
ctl POST /records '{"ops": [
  {"op": "update", "id": "'"$A5"'", "fields": {"Description": "One change to three"}},
  {"op": "update", "id": "'"$A6"'", "fields": {"Description": "One change to three"}},
  {"op": "update", "id": "'"$A7"'", "fields": {"Description": "One change to three"}}],
  "cdc_merge": true}' >/dev/null
ctl GET /cdc/events >events.json
python3 - events.json <<'PY' || fail "the emulator made no merged event"
import json, sys
evs = json.load(open(sys.argv[1]))
evs = evs.get("events", evs) if isinstance(evs, dict) else evs
n = [len(e["data"]["payload"]["ChangeEventHeader"]["recordIds"]) for e in evs]
assert max(n) >= 2, n
PY
expect_exit 0 "$SLUICE" run sync.json --once
expect_in err.txt "streaming /data/AccountChangeEvent after replay id"
compare "after creates, updates, deletes and a merged event"
sq "SELECT PHONE FROM SLUICE_DB.PUBLIC.ACCOUNT_CDC WHERE ID = '$A2'" >p.txt
expect_in p.txt '[null]'
# undelete: the same key flips back to 'N'
ctl POST /records '{"op": "undelete", "id": "'"$A3"'"}' >/dev/null
expect_exit 0 "$SLUICE" run sync.json --once
compare "after an undelete"
sq "SELECT DEL_FLAG FROM SLUICE_DB.PUBLIC.ACCOUNT_CDC WHERE ID = '$A3'" >u.txt
expect_in u.txt '["N"]'

# --- 3. an idle run changes nothing ----------------------------------------
sq "SELECT * FROM SLUICE_DB.PUBLIC.ACCOUNT_CDC ORDER BY ID" >before.txt
expect_exit 0 "$SLUICE" run sync.json --once
sq "SELECT * FROM SLUICE_DB.PUBLIC.ACCOUNT_CDC ORDER BY ID" >after.txt
expect_same before.txt after.txt
# A drained run says goodbye: the server holds no client of it.
ctl GET /cometd | python3 -c 'import json,sys; c=[x for x in json.load(sys.stdin)["clients"] if x["subscriptions"]]; assert c == [], c' ||
  fail "a drain run left its CometD client behind"
NCHECK=$((NCHECK + 1))

# --- 4. a gap event: the record is read again -------------------------------
sq "UPDATE SLUICE_DB.PUBLIC.ACCOUNT_CDC SET NAME = 'stale' WHERE ID = '$A1'" >/dev/null
ctl POST /cdc/gap '{"change_type": "GAP_UPDATE", "ids": ["'"$A1"'"]}' >/dev/null
expect_exit 0 "$SLUICE" run sync.json --once
expect_in err.txt "GAP_UPDATE for 1 records"
compare "after a gap event"

# --- 5. an overflow: the object is loaded again, with a warning -------------
sq "DELETE FROM SLUICE_DB.PUBLIC.ACCOUNT_CDC WHERE ID = '$A5'" >/dev/null
sq "UPDATE SLUICE_DB.PUBLIC.ACCOUNT_CDC SET NAME = 'stale' WHERE ID = '$A6'" >/dev/null
ctl POST /cdc/overflow '{"object": "Account"}' >/dev/null
ctl POST /records '{"op": "update", "id": "'"$A7"'", "fields": {"Name": "After the overflow"}}' >/dev/null
expect_exit 0 "$SLUICE" run sync.json --once
expect_in err.txt "GAP_OVERFLOW"
expect_in err.txt "loading again through the REST API"
compare "after an overflow"
expect_exit 0 "$SLUICE" status sync.json
expect_in out.txt "warning     Account: GAP_OVERFLOW at replay id"

# --- 6. a replay id out of retention: a full resync, with a warning ---------
ctl POST /records '{"op": "update", "id": "'"$A6"'", "fields": {"Name": "Lost event"}}' >/dev/null
sq "UPDATE SLUICE_DB.PUBLIC.ACCOUNT_CDC SET NAME = 'stale' WHERE ID = '$A6'" >/dev/null
ctl POST /clock '{"advance_seconds": 262800}' >/dev/null # 73 hours
expect_exit 0 "$SLUICE" run sync.json --once
expect_in err.txt "is no longer retained"
compare "after a resync for an expired replay id"
expect_exit 0 "$SLUICE" status sync.json --json
expect_in out.txt "is no longer retained"

# --- 7. a stream: a dropped long poll, a forgotten client, a 401 -------------
"$SLUICE" run stream.json --once >stream.out 2>stream.err &
SP=$!
# wait_for ID: until the table has the row (20 s at most).
wait_for() {
  i=0
  until sq "SELECT COUNT(*) FROM SLUICE_DB.PUBLIC.ACCOUNT_CDC WHERE ID = '$1'" | tr -d '[]"' | grep -qx 1; do
    i=$((i + 1)); [ $i -lt 100 ] || { tail -20 stream.err >&2; sq "SELECT ID, NAME, DEL_FLAG FROM SLUICE_DB.PUBLIC.ACCOUNT_CDC WHERE NAME LIKE '%Stream%'" >&2; fail "$2: $1 never reached the table"; }
    kill -0 $SP 2>/dev/null || { cat stream.err >&2; fail "$2: the stream ended"; }
    sleep 0.2
  done
  NCHECK=$((NCHECK + 1))
}
new_account() {
  ctl POST /records '{"op": "create", "object": "Account", "fields": {"Name": "'"$1"'"}}' |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("id") or d["results"][0]["id"])'
}
S1=$(new_account "Streamed one")
wait_for "$S1" "a streamed create"
ctl POST /cometd/fail '{"kind": "drop", "after_ms": 300}' >/dev/null
S2=$(new_account "After a drop")
wait_for "$S2" "after a dropped long poll"
ctl POST /cometd/fail '{"kind": "unknown_client"}' >/dev/null
S3=$(new_account "After 403 unknown client")
wait_for "$S3" "after 403::Unknown client"
ctl POST /cometd/fail '{"kind": "auth"}' >/dev/null
S4=$(new_account "After 401")
wait_for "$S4" "after 401"
kill -TERM $SP
wait $SP
RC=$?
check_eq "$RC" 0 "the stream's exit status after SIGTERM"
grep -q "403::Unknown client" stream.err || fail "no re-handshake logged"
NCHECK=$((NCHECK + 1))
compare "after the stream"

# --- 8. kill -9 in the middle of a stream, then a rerun ----------------------
"$SLUICE" run stream.json --once >stream2.out 2>stream2.err &
SP=$!
i=0
while [ $i -lt 40 ]; do
  new_account "Burst $i" >/dev/null
  [ $i -eq 25 ] && kill -9 $SP
  i=$((i + 1))
done
wait $SP 2>/dev/null
expect_exit 0 "$SLUICE" run sync.json --once
compare "after kill -9 during a stream and a rerun"

done_ok
