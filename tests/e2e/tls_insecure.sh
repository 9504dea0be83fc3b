#!/bin/sh
# tests/e2e/tls_insecure.sh - TLS is verified unless a connection says
# "insecure_skip_tls_verify": true, and then for that connection only:
# against emulators whose certificate the given ca_file does not trust, a
# run fails with a clear TLS error; with the option on the Salesforce
# connection it reads (a WARN naming the connection on every run) while the
# Snowflake connection in the same file still refuses the certificate.
. "$TOP_SRCDIR/tests/e2e/lib.sh"
SFEMU_ACCOUNTS=50
. "$TOP_SRCDIR/tests/e2e/sfemu.sh"
. "$TOP_SRCDIR/tests/e2e/sfkemu.sh"

# A CA that signed neither emulator's certificate.
"$EMU/make-test-pki.sh" "$WORK/other" >other.log 2>&1 || { cat other.log >&2; fail "the other PKI"; }
OTHER="$WORK/other/ca.crt"
# sf_conn EXTRA: the Salesforce connection, trusting only the other CA.
sf_conn() {
  echo '{ "type": "salesforce", "login_url": "https://localhost:'$PORT'",
    "api_version": "'$V'", "auth_flow": "client_credentials",
    "client_id": { "env": "SF_CLIENT_ID" }, "client_secret": { "env": "SF_CLIENT_SECRET" },
    "ca_file": "'"$OTHER"'" '"${1:-}"' }'
}
# pipe FILE SF_EXTRA DEST: Accounts into DEST.
pipe() {
  cat >"$1" <<JSON
{ "version": 1, "state_dir": "state",
  "connections": { "sf": $(sf_conn "$2"), "snow": $(sfk_conn "$WORK/pki/client.key" ", \"ca_file\": \"$OTHER\"" | sed 's/"ca_file": "[^"]*pki\/ca.crt" ,//') },
  "pipelines": [ { "name": "tls",
    "source": { "plugin": "salesforce-rest", "connection": "sf", "object": "Account",
                "fields": ["Id", "Name"] },
    "destination": $3 } ] }
JSON
}
CSV='{ "plugin": "csv-file", "path": "out.csv" }'
SNOW='{ "plugin": "snowflake-sql", "connection": "snow", "table": "TLS_ACCOUNT", "key": ["Id"] }'

# 1. verified (the default): a clear TLS error, nothing written
pipe off.json '' "$CSV"
expect_exit 0 "$SLUICE" validate off.json
expect_exit 1 "$SLUICE" run off.json --once
expect_in err.txt "TLS: SSL peer certificate or SSH remote key was not OK"
expect_in err.txt "did not verify against $OTHER"
expect_not_in err.txt "insecure_skip_tls_verify"
[ ! -f out.csv ] || fail "a run over an untrusted certificate wrote rows"
NCHECK=$((NCHECK + 1))

# 2. on for sf: the run reads, and says on every run that TLS is unchecked
pipe on.json ', "insecure_skip_tls_verify": true' "$CSV"
expect_exit 0 "$SLUICE" validate on.json
expect_exit 0 "$SLUICE" run on.json --once
expect_in err.txt "warn"
expect_in err.txt "connections.sf.insecure_skip_tls_verify is true: TLS certificates and host names are NOT verified"
[ "$(wc -l <out.csv)" -gt 40 ] || fail "too few rows: $(wc -l <out.csv)"
NCHECK=$((NCHECK + 1))
expect_exit 0 "$SLUICE" run on.json --once
expect_in err.txt "connections.sf.insecure_skip_tls_verify is true"

# 3. only that connection: Snowflake, in the same file, still verifies
rm -rf state
pipe both.json ', "insecure_skip_tls_verify": true' "$SNOW"
expect_exit 1 "$SLUICE" run both.json --once
expect_in err.txt "connections.sf.insecure_skip_tls_verify is true"
expect_not_in err.txt "connections.snow.insecure_skip_tls_verify"
grep "localhost:$SFK_PORT" err.txt | grep -q 'TLS: SSL peer certificate' || { cat err.txt >&2; fail "Snowflake's TLS error"; }
expect_in err.txt "(1 attempt)" # a certificate is not retried
NCHECK=$((NCHECK + 1))

# 4. a boolean, nothing else
pipe bad.json ', "insecure_skip_tls_verify": "yes"' "$CSV"
expect_exit 2 "$SLUICE" validate bad.json
expect_in err.txt "connections.sf.insecure_skip_tls_verify: expected true or false"
done_ok
