# tests/e2e/sfkemu.sh - starts the Snowflake emulator for a test (sourced
# after lib.sh; SFKEMU_ARGS adds options).  Skips (77) without python3,
# curl or the snowflake-sql plugin.  Defines SFK_PORT, SFK_CONN (a
# connection object on key-pair auth), sq SQL (rows of a statement run on
# the emulator's store, as JSON), sfkctl METHOD PATH [JSON]; the emulator
# is stopped when the test exits.
command -v python3 >/dev/null 2>&1 || { echo "SKIP: no python3"; exit 77; }
command -v curl >/dev/null 2>&1 || { echo "SKIP: no curl"; exit 77; }
"$SLUICE" plugins 2>/dev/null | grep -q '^snowflake-sql ' ||
  { echo "SKIP: the snowflake-sql plugin is not built"; exit 77; }
SFK_EMU="$TOP_SRCDIR/tests/emulators"

[ -f "$WORK/pki/ca.crt" ] || "$SFK_EMU/make-test-pki.sh" "$WORK/pki" >sfkpki.log 2>&1 ||
  { cat sfkpki.log >&2; fail "make-test-pki.sh"; }
# shellcheck disable=SC2086
python3 "$SFK_EMU/snowflake/sfkemu.py" --pki "$WORK/pki" --port 0 \
  --state-file "$WORK/sfk.json" --control-token ctl ${SFKEMU_ARGS:-} \
  >sfkemu.out 2>sfkemu.err &
SFK_PID=$!
# Stops both emulators when both run (sfemu.sh does the same).
trap 'kill $SFK_PID ${EMU_PID:-} 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
i=0
until grep -q listening sfkemu.out 2>/dev/null; do
  kill -0 "$SFK_PID" 2>/dev/null || { cat sfkemu.err >&2; fail "the Snowflake emulator did not start"; }
  i=$((i + 1)); [ $i -lt 600 ] || fail "the Snowflake emulator did not start in 60 s"
  sleep 0.1
done
sfkget() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$WORK/sfk.json" "$1"; }
SFK_PORT=$(sfkget port)
SFK_ACCOUNT=$(sfkget account)
SFK_USER=$(sfkget user)
# sfk_conn KEYFILE [EXTRA]: a connection on key-pair auth.
sfk_conn() {
  echo '{ "type": "snowflake", "account": "'"$SFK_ACCOUNT"'",
    "url": "https://localhost:'"$SFK_PORT"'", "user": "'"$SFK_USER"'",
    "private_key_file": "'"$1"'", "warehouse": "SLUICE_WH",
    "database": "SLUICE_DB", "schema": "PUBLIC",
    "ca_file": "'"$WORK"'/pki/ca.crt" '"${2:-}"' }'
}
SFK_CONN=$(sfk_conn "$WORK/pki/client.key")

# sfkctl METHOD PATH [JSON]: the emulator's control API.
sfkctl() {
  curl -sS --fail --cacert "$WORK/pki/ca.crt" -H "X-Sfkemu-Control-Token: ctl" \
    -H "Content-Type: application/json" -X "$1" ${3:+-d "$3"} \
    "https://localhost:$SFK_PORT/__control$2"
}
# sq SQL: the rows of SQL on the emulator's store, one JSON array a line.
sq() {
  sfkctl POST /sql "$(python3 -c 'import json,sys; print(json.dumps({"sql": sys.argv[1]}))' "$1")" |
    python3 -c 'import json,sys
for r in json.load(sys.stdin)["rows"]: print(json.dumps(r))'
}

# The in-process S3 store (sfkemu.py --s3): its port, key and control API.
if python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1])).get("s3") else 1)' "$WORK/sfk.json"; then
  s3get() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["s3"][sys.argv[2]])' "$WORK/sfk.json" "$1"; }
  S3_PORT=$(s3get port)
  S3_AK=$(s3get access_key_id)
  S3_SK=$(s3get secret_access_key)
  s3ctl() {
    curl -sS --fail --cacert "$WORK/pki/ca.crt" -H "X-S3emu-Control-Token: ctl" \
      -H "Content-Type: application/json" -X "$1" ${3:+-d "$3"} \
      "https://127.0.0.1:$S3_PORT/__control$2"
  }
fi
