#!/bin/sh
# salesforce-rest against the Salesforce emulator (tests/emulators): the
# three OAuth flows, a full extract of 25,000 Accounts over 13 pages,
# incremental runs, ties at the cursor across a page boundary and a SIGTERM,
# queryAll deletes, a session that expires mid-run, the API budget guard,
# 503s, and REST errors surfaced by errorCode.
. "$TOP_SRCDIR/tests/e2e/lib.sh"

NACC=25000
SFEMU_ACCOUNTS=$NACC
. "$TOP_SRCDIR/tests/e2e/sfemu.sh"
SF_REFRESH_TOKEN=$(jget refresh_token)
SF_USERNAME=$(jget username)
export SF_REFRESH_TOKEN

# Connections: client credentials on My Domain (localhost), JWT bearer and
# refresh token on the login host (127.0.0.1).
CONN_CC='{ "type": "salesforce", "login_url": "https://localhost:'$PORT'",
  "api_version": "'$V'", "auth_flow": "client_credentials",
  "client_id": { "env": "SF_CLIENT_ID" }, "client_secret": { "env": "SF_CLIENT_SECRET" },
  "ca_file": "'$WORK'/pki/ca.crt" }'
conn_jwt() {
  echo '{ "type": "salesforce", "login_url": "https://127.0.0.1:'$PORT'",
  "api_version": "'$V'", "auth_flow": "jwt_bearer",
  "client_id": { "env": "SF_CLIENT_ID" }, "username": "'$SF_USERNAME'",
  "private_key_file": "'$1'", "ca_file": "'$WORK'/pki/ca.crt" }'
}
CONN_RT='{ "type": "salesforce", "login_url": "https://127.0.0.1:'$PORT'",
  "api_version": "'$V'", "auth_flow": "refresh_token",
  "client_id": { "env": "SF_CLIENT_ID" }, "client_secret": { "env": "SF_CLIENT_SECRET" },
  "refresh_token": { "env": "SF_REFRESH_TOKEN" }, "ca_file": "'$WORK'/pki/ca.crt" }'

# sf_pipeline FILE NAME CONN SOURCE_EXTRA: salesforce-rest -> csv-file.
sf_pipeline() {
  cat >"$1" <<JSON
{ "version": 1, "state_dir": "state",
  "connections": { "sf": $3 },
  "pipelines": [ { "name": "$2",
    "source": { "plugin": "salesforce-rest", "connection": "sf" $4 },
    "destination": { "plugin": "csv-file", "path": "out/$2/{run_id}.csv" } } ] }
JSON
  mkdir -p "out/$2"
}

# newest NAME: the newest output file of pipeline NAME.
newest() { ls -t out/"$1"/*.csv | head -1; }
# run_field NAME KEY: KEY of NAME's last run record.
run_field() {
  python3 -c 'import json,sys
last=[json.loads(l) for l in open("state/runs.jsonl") if json.loads(l)["pipeline"]==sys.argv[1]][-1]
print(last[sys.argv[2]])' "$1" "$2"
}
# csv_col FILE COLUMN: the column's values, one a line (python's csv: the
# files hold newlines inside quoted fields).
csv_col() {
  python3 -c 'import csv,sys
for r in csv.DictReader(open(sys.argv[1], newline="")): print(r[sys.argv[2]])' "$1" "$2"
}
nrows() { python3 -c 'import csv,sys; print(sum(1 for _ in csv.DictReader(open(sys.argv[1], newline=""))))' "$1"; }
check_eq() {
  NCHECK=$((NCHECK + 1))
  [ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"
}

SMALL=', "object": "Sluice_Score__c"'

# --- 1. the three flows, each on a small object --------------------------
sf_pipeline cc.json cc "$CONN_CC" "$SMALL"
expect_exit 0 "$SLUICE" run cc.json --once
NSCORE=$(nrows "$(newest cc)")
[ "$NSCORE" -gt 0 ] || fail "client_credentials: no rows"
expect_not_in err.txt "$ORG15!" # the access token is never logged

sf_pipeline jwt.json jwt "$(conn_jwt "$WORK/pki/client.key")" "$SMALL"
expect_exit 0 "$SLUICE" run jwt.json --once
check_eq "$(nrows "$(newest jwt)")" "$NSCORE" "jwt_bearer rows"

sf_pipeline rt.json rt "$CONN_RT" "$SMALL"
expect_exit 0 "$SLUICE" run rt.json --once
check_eq "$(nrows "$(newest rt)")" "$NSCORE" "refresh_token rows"

# A key the connected app does not know: the flow and the reason.
sf_pipeline badkey.json badkey "$(conn_jwt "$WORK/pki/wrong.key")" "$SMALL"
expect_exit 1 "$SLUICE" run badkey.json --once
expect_in err.txt "jwt_bearer: invalid_grant"
# A key file that is not there: named, with the flow.
sf_pipeline nokey.json nokey "$(conn_jwt "$WORK/pki/missing.key")" "$SMALL"
expect_exit 1 "$SLUICE" run nokey.json --once
expect_in err.txt "jwt_bearer: private_key_file"
# client_credentials on the login host is refused by the service.
CONN_CC_LOGIN=$(echo "$CONN_CC" | sed "s#https://localhost:#https://127.0.0.1:#")
sf_pipeline cclogin.json cclogin "$CONN_CC_LOGIN" "$SMALL"
expect_exit 1 "$SLUICE" run cclogin.json --once
expect_in err.txt "client_credentials: invalid_grant: request not supported on this domain"

# `sluice check` ("Save & Test"): logs in and makes one cheap call; a bad
# key says which flow failed and why, and nothing is written.
expect_exit 0 "$SLUICE" check cc.json
expect_in out.txt "cc/source                salesforce-rest  OK"
expect_in out.txt "cc/destination           csv-file         OK"
expect_exit 1 "$SLUICE" check badkey.json
expect_in out.txt "badkey/source            salesforce-rest  FAILED: "
expect_in out.txt "jwt_bearer: invalid_grant"
expect_not_in out.txt "$ORG15!"
[ ! -e state/badkey.checkpoint.json ] || fail "check wrote a checkpoint"

# --- 2. REST errors by errorCode; unknown fields named --------------------
sf_pipeline badq.json badq "$CONN_CC" "$SMALL"', "filter": "Name = "'
expect_exit 1 "$SLUICE" run badq.json --once
expect_in err.txt "MALFORMED_QUERY"
sf_pipeline badf.json badf "$CONN_CC" ', "object": "Account", "fields": ["Id", "Nmae", "Bogus__c"]'
expect_exit 1 "$SLUICE" run badf.json --once
expect_in err.txt "Account: no such fields: Nmae (did you mean Name?), Bogus__c"

# --- 3. a full extract: 25,000 Accounts, 13 pages --------------------------
ctl DELETE /requests >/dev/null
sf_pipeline full.json full "$CONN_CC" ', "object": "Account"'
expect_exit 0 "$SLUICE" run full.json --once
F=$(newest full)
NLIVE=$(nrows "$F")
# The seed soft-deletes about 2%: query (not queryAll) leaves them out.
NPAGES=$(ctl GET "/requests?path_prefix=/services/data/v$V/query" |
  python3 -c 'import json,sys; d=json.load(sys.stdin); r=d["requests"] if isinstance(d,dict) else d; print(len(r))')
check_eq "$NPAGES" "$(((NLIVE + 1999) / 2000))" "query pages"
[ "$NLIVE" -gt $((NACC * 95 / 100)) ] && [ "$NLIVE" -lt "$NACC" ] ||
  fail "expected about 98% of $NACC accounts, got $NLIVE"
check_eq "$(run_field full rows_read)" "$NLIVE" "rows_read"
# Every Id once; values as the service has them (a datetime, a decimal).
check_eq "$(csv_col "$F" Id | sort -u | wc -l)" "$NLIVE" "distinct Ids"
ID1=$(csv_col "$F" Id | sed -n 1p)
ctl GET "/records/$ID1" >rec1.json
python3 - "$F" rec1.json <<'PY' || fail "record values differ"
import csv, json, sys, datetime
rec = json.load(open(sys.argv[2]))
row = next(r for r in csv.DictReader(open(sys.argv[1], newline="")) if r["Id"] == rec["Id"])
def ts(s):  # "2024-05-01T12:00:00.000+0000" -> aware datetime
    return datetime.datetime.strptime(s.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z") if "." in s \
        else datetime.datetime.strptime(s.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S%z")
assert ts(row["SystemModstamp"]) == ts(rec["SystemModstamp"]), (row["SystemModstamp"], rec["SystemModstamp"])
assert ts(row["CreatedDate"]) == ts(rec["CreatedDate"])
from decimal import Decimal
for f in ("Revenue_Per_Employee__c", "AnnualRevenue", "BillingLatitude"):
    if rec.get(f) is None:
        assert row[f] == "", (f, row[f])
    else:
        assert Decimal(row[f]) == Decimal(repr(rec[f])), (f, row[f], rec[f])
assert row["Name"] == rec["Name"]
print("ok", rec["Id"])
PY
NCHECK=$((NCHECK + 1))
# Scale kept: a currency(18,2) value has two decimals, a double(18,15) 15.
python3 - "$F" <<'PY' || fail "decimal scales"
import csv, re, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
lat = [r["BillingLatitude"] for r in rows if r["BillingLatitude"]]
rpe = [r["Revenue_Per_Employee__c"] for r in rows if r["Revenue_Per_Employee__c"]]
assert lat and all(re.fullmatch(r"-?\d+\.\d{15}", v) for v in lat), lat[:3]
assert rpe and all(re.fullmatch(r"-?\d+\.\d{2}", v) for v in rpe), rpe[:3]
PY
NCHECK=$((NCHECK + 1))

# --- 4. incremental ------------------------------------------------------
sf_pipeline inc.json inc "$CONN_CC" ', "object": "Account", "mode": "incremental"'
expect_exit 0 "$SLUICE" run inc.json --once
check_eq "$(nrows "$(newest inc)")" "$NLIVE" "first incremental run: everything"
expect_in state/inc.checkpoint.json '\"cursor\"'
CURSOR=$(python3 -c 'import json; print(json.loads(json.load(open("state/inc.checkpoint.json"))["checkpoint"])["cursor"])')
# Three records change (stamped with the emulator clock: now).
IDS=$(csv_col "$F" Id | sed -n '10p;5000p;20000p')
OPS=$(for id in $IDS; do printf '{"op":"update","id":"%s","fields":{"Description":"changed"}},' "$id"; done)
ctl POST /records "{\"ops\": [${OPS%,}]}" >/dev/null
sleep 1
expect_exit 0 "$SLUICE" run inc.json --once
G=$(newest inc)
# Exactly the three, plus only rows inside the 5 minute lookback before the
# old cursor (rows the first run already had: harmless repeats).
python3 - "$G" "$CURSOR" $IDS <<'PY' || fail "second incremental run"
import csv, sys, datetime
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
cursor = datetime.datetime.fromisoformat(sys.argv[2].replace("Z", "+00:00"))
want = set(sys.argv[3:])
got = {r["Id"] for r in rows if r["Description"] == "changed"}
assert got == want, (got, want)
for r in rows:
    if r["Id"] in want:
        continue
    t = datetime.datetime.fromisoformat(r["SystemModstamp"].replace("Z", "+00:00"))
    assert cursor - datetime.timedelta(minutes=5) <= t <= cursor, (r["Id"], t)
print(len(rows), "rows:", len(want), "changed +", len(rows) - len(want), "lookback overlap")
PY
NCHECK=$((NCHECK + 1))

# --- 5. ties at the cursor across a page boundary, and a SIGTERM ---------
# 199 records at T-1s, two at T (page 1 ends between them with
# batch_size 200), 49 at T+1s.  The second page stalls; SIGTERM after the
# first is written commits it with the checkpoint (T, first tie).  The
# next run (lookback 0) must bring the second tie.
T=2027-01-01T00:00:00Z
python3 - >ties.json <<'PY'
import json
ops = []
for i in range(250):
    st = "2026-12-31T23:59:59Z" if i < 199 else ("2027-01-01T00:00:00Z" if i < 201 else "2027-01-01T00:00:01Z")
    ops.append({"op": "create", "object": "Account", "fields": {"Name": "Tie %03d" % i}, "system_modstamp": st})
print(json.dumps({"ops": ops}))
PY
ctl POST /records "$(cat ties.json)" >ties.out
TIE_FILTER=', "object": "Account", "fields": ["Id", "Name", "SystemModstamp"], "filter": "Name LIKE '"'"'Tie %'"'"'", "mode": "incremental", "lookback": "0s", "batch_size": 200'
sf_pipeline tie.json tie "$CONN_CC" "$TIE_FILTER"
ctl POST /faults '{"kind": "stall", "seconds": 8, "path_prefix": "/services/data/v'$V'/query/"}' >/dev/null
"$SLUICE" run tie.json --once 2>tie1.err &
pid=$!
wait_for_bytes "out/tie/*.sluice-tmp-*" 5000 "$pid" || { cat tie1.err >&2; fail "the tie run ended before it could be stopped"; }
kill -TERM "$pid"
wait "$pid"
rc=$?
[ "$rc" = 0 ] || { cat tie1.err >&2; fail "SIGTERM: exit $rc, expected 0"; }
ctl DELETE /faults >/dev/null
check_eq "$(nrows "$(newest tie)")" 200 "rows before the SIGTERM"
TIE1=$(csv_col "$(newest tie)" Name | tail -1)
check_eq "$TIE1" "Tie 199" "the last row of page 1 is the first tie"
expect_in state/tie.checkpoint.json "2027-01-01T00:00:00Z"
expect_exit 0 "$SLUICE" run tie.json --once
csv_col "$(newest tie)" Name >tie2.txt
expect_in tie2.txt "Tie 200" # the second tie, across the boundary
expect_in tie2.txt "Tie 249"
all=$(cat out/tie/*.csv | grep -c '^001.*,Tie ')
[ "$all" -ge 250 ] || fail "ties: only $all rows in all"
python3 - out/tie <<'PY' || fail "a tie record was lost"
import csv, glob, sys
names = set()
for f in glob.glob(sys.argv[1] + "/*.csv"):
    names |= {r["Name"] for r in csv.DictReader(open(f, newline=""))}
missing = {"Tie %03d" % i for i in range(250)} - names
assert not missing, sorted(missing)
PY
NCHECK=$((NCHECK + 1))

# --- 6. include_deleted: a soft delete becomes a DELETE row -------------
DEL_ID=$(csv_col "$(newest tie)" Id | tail -1)
ctl POST /records '{"op": "delete", "id": "'"$DEL_ID"'"}' >/dev/null
sf_pipeline del.json del "$CONN_CC" ', "object": "Account", "fields": ["Id", "Name"], "filter": "Name LIKE '"'"'Tie %'"'"'", "include_deleted": true'
expect_exit 0 "$SLUICE" run del.json --once
check_eq "$(run_field del rows_deleted)" 1 "rows_deleted"
check_eq "$(nrows "$(newest del)")" 250 "queryAll rows"
python3 - "$(newest del)" "$DEL_ID" <<'PY' || fail "the deleted row"
import csv, sys
rows = {r["Id"]: r for r in csv.DictReader(open(sys.argv[1], newline=""))}
assert rows[sys.argv[2]]["IsDeleted"] == "true", rows[sys.argv[2]]
assert sum(r["IsDeleted"] == "true" for r in rows.values()) == 1
PY
NCHECK=$((NCHECK + 1))
ctl GET "/requests?path_prefix=/services/data/v$V/queryAll" >qa.json
expect_in qa.json "queryAll"

# --- 7. the session expires mid-run: one re-login, the run completes ------
ctl DELETE /requests >/dev/null
ctl POST /faults '{"kind": "status", "status": 401, "after": 2, "count": 1,
  "path_prefix": "/services/data/v'$V'/query/",
  "body": [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]}' >/dev/null
expect_exit 0 "$SLUICE" run full.json --once
expect_in err.txt "session expired (INVALID_SESSION_ID): logging in again"
check_eq "$(nrows "$(newest full)")" "$((NLIVE + 249))" "rows after a re-login (+ the live ties)"
ctl GET "/requests?path_prefix=/services/oauth2/token" >tok.json
check_eq "$(grep -o '"path"' tok.json | wc -l)" 2 "token requests"
# Refused again after the fresh login: fail, clearly, once.
ctl POST /faults '{"kind": "status", "status": 401, "count": 2,
  "path_prefix": "/services/data/v'$V'/sobjects/",
  "body": [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]}' >/dev/null
expect_exit 1 "$SLUICE" run cc.json --once
expect_in err.txt "the session was refused again after a fresh login"
expect_in err.txt "INVALID_SESSION_ID"
ctl DELETE /faults >/dev/null

# --- 8. the API budget guard ----------------------------------------------
CP_BEFORE=$(cat state/inc.checkpoint.json)
ctl POST /records '{"op": "update", "id": "'"$ID1"'", "fields": {"Description": "after budget"}}' >/dev/null
ctl POST /budget '{"used": 80000, "max": 100000}' >/dev/null
expect_exit 1 "$SLUICE" run inc.json --once
expect_in err.txt "API budget: 80001 of 100000 daily requests used (80%), max_api_usage_percent is 80"
check_eq "$(cat state/inc.checkpoint.json)" "$CP_BEFORE" "checkpoint after the budget stop"
ctl POST /budget '{"used": 0, "max": 100000}' >/dev/null

# --- 9. 503s are retried -----------------------------------------------------
ctl DELETE /requests >/dev/null
ctl POST /faults '{"kind": "status", "status": 503, "count": 2, "retry_after": 1,
  "path_prefix": "/services/data/v'$V'/query"}' >/dev/null
expect_exit 0 "$SLUICE" run inc.json --once
G=$(newest inc)
csv_col "$G" Description >d.txt
expect_in d.txt "after budget"
ctl GET "/requests?path_prefix=/services/data/v$V/query" >r503.json
expect_in r503.json '"status":503'

# --- 10. other faults: each run still extracts every row exactly once ------
# A 429 burst (Retry-After), a reset before any answer, a page cut off in
# the middle (the page is buffered, so the GET is simply sent again), and a
# slow answer.
QP="/services/data/v$V/query"
for fault in \
  '{"kind": "status", "status": 429, "count": 3, "retry_after": 1, "path_prefix": "'$QP'"}' \
  '{"kind": "reset", "count": 1, "path_prefix": "'$QP'"}' \
  '{"kind": "reset_mid_body", "count": 1, "path_prefix": "'$QP'"}' \
  '{"kind": "stall", "seconds": 2, "count": 1, "path_prefix": "'$QP'"}'; do
  ctl DELETE /faults >/dev/null
  ctl POST /faults "$fault" >/dev/null
  expect_exit 0 "$SLUICE" run cc.json --once
  check_eq "$(nrows "$(newest cc)")" "$NSCORE" "rows after $fault"
  ctl GET /faults | grep -q '"pending": *\[\]' || fail "the fault was not used: $fault"
done
done_ok
