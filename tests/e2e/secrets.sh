#!/bin/sh
# tests/e2e/secrets.sh - recognisable secrets (a Salesforce client secret,
# a private key passphrase, a webhook header, the access tokens the
# services hand out) never appear in any output: stdout, stderr at
# --verbose, runs.jsonl, state files, reject files, the Snowflake audit
# table, sluice status --json; with runs that succeed and runs forced to
# fail.  State and reject files are 0600; a key file readable by others
# gets a warning.
. "$TOP_SRCDIR/tests/e2e/lib.sh"
SFEMU_ACCOUNTS=200
. "$TOP_SRCDIR/tests/e2e/sfemu.sh"
. "$TOP_SRCDIR/tests/e2e/sfkemu.sh"

SNOW_PASS=$(cat "$WORK/pki/client.passphrase")
HOOK_TOKEN=hook-secret-55aa77
export SNOW_PASS HOOK_TOKEN
# The Salesforce access tokens start with the org id (sfemu.sh: ORG15).

cat >s.json <<JSON
{ "version": 1, "state_dir": "state",
  "notify": { "webhook": "http://127.0.0.1:9/hook", "on": ["failure"],
              "headers": { "Authorization": { "env": "HOOK_TOKEN" } } },
  "connections": {
    "sf": { "type": "salesforce", "login_url": "https://localhost:$PORT",
            "api_version": "$V", "auth_flow": "client_credentials",
            "client_id": { "env": "SF_CLIENT_ID" },
            "client_secret": { "env": "SF_CLIENT_SECRET" },
            "ca_file": "$WORK/pki/ca.crt" },
    "snow": $(sfk_conn "$WORK/pki/client.p8" ', "private_key_passphrase": { "env": "SNOW_PASS" }') },
  "pipelines": [
    { "name": "out",
      "source": { "plugin": "salesforce-rest", "connection": "sf",
                  "object": "Account", "mode": "incremental", "include_deleted": true },
      "destination": { "plugin": "snowflake-sql", "connection": "snow",
                       "table": "ACCOUNT", "key": ["Id"] } },
    { "name": "cdc",
      "source": { "plugin": "salesforce-cdc", "connection": "sf",
                  "object": "Account", "drain_wait": "1s" },
      "destination": { "plugin": "snowflake-sql", "connection": "snow",
                       "table": "ACCOUNT_CDC", "key": ["Id"], "hard_deletes": "flag" } },
    { "name": "bulk",
      "source": { "plugin": "csv-file", "path": "in.csv" },
      "destination": { "plugin": "salesforce-bulk2", "connection": "sf",
                       "object": "Sluice_Score__c", "operation": "upsert",
                       "external_id": "Ext_Id__c", "reject_file": "bulk-rejects.csv" } },
    { "name": "in",
      "source": { "plugin": "csv-file", "path": "in.csv" },
      "destination": { "plugin": "salesforce-rest", "connection": "sf",
                       "object": "Sluice_Score__c", "operation": "upsert",
                       "external_id": "Ext_Id__c", "reject_file": "rejects.csv" } } ] }
JSON
printf 'Ext_Id__c,Contact_Email__c\nS-1,not an email\nS-2,ok@example.com\n' >in.csv
ctl POST /cometd '{"hold_ms": 500}' >/dev/null

scan() { # every place output may land
  for f in out.txt err.txt state/* rejects.csv bulk-rejects.csv; do
    [ -f "$f" ] || continue
    for s in "$SF_CLIENT_SECRET" "$SNOW_PASS" "$HOOK_TOKEN" "$ORG15!"; do
      if grep -qF -- "$s" "$f"; then
        fail "a secret is in $f"
      fi
    done
  done
  NCHECK=$((NCHECK + 1))
}

# Runs that succeed (with a rejected row), at --verbose.
expect_exit 3 "$SLUICE" run s.json --once -v
scan
expect_mode 600 state/runs.jsonl
expect_mode 600 state/out.checkpoint.json
expect_mode 600 rejects.csv
expect_exit 0 "$SLUICE" status s.json --json
scan
expect_exit 0 "$SLUICE" check s.json -v
scan
sq "SELECT * FROM SLUICE_DB.PUBLIC.SLUICE_AUDIT" >audit.txt
for s in "$SF_CLIENT_SECRET" "$SNOW_PASS" "$HOOK_TOKEN"; do
  expect_not_in audit.txt "$s"
done

# Runs forced to fail: a wrong client secret (the server answers with the
# request in its error), an expired session, a wrong passphrase.
SF_CLIENT_SECRET_REAL=$SF_CLIENT_SECRET
SF_CLIENT_SECRET="wrong-$SF_CLIENT_SECRET_REAL"
export SF_CLIENT_SECRET
expect_exit 1 "$SLUICE" run s.json --once -v
expect_in err.txt "invalid_client"
scan
SF_CLIENT_SECRET=$SF_CLIENT_SECRET_REAL
export SF_CLIENT_SECRET
ctl POST /tokens/expire >/dev/null
SNOW_PASS="wrong-pass-$SNOW_PASS"
export SNOW_PASS
expect_exit 1 "$SLUICE" run s.json --once -v
expect_in err.txt "wrong passphrase"
scan

# A private key readable by others gets a warning (ssh's rule).
cp "$WORK/pki/client.key" open.key
chmod 644 open.key
sed "s|$WORK/pki/client.p8|$WORK/open.key|" s.json >open.json
SNOW_PASS=$(cat "$WORK/pki/client.passphrase")
export SNOW_PASS
expect_exit 0 "$SLUICE" check open.json --pipeline out
expect_in err.txt "is readable by other users: chmod 600 it"
done_ok
