# tests/e2e/sfemu.sh - starts the Salesforce emulator for a test (sourced
# after lib.sh, with SFEMU_ACCOUNTS set).  Skips (77) without python3, curl
# or the salesforce-rest plugin.  Defines V, PORT, ORG15, SF_CLIENT_ID and
# SF_CLIENT_SECRET (exported), jget KEY and ctl METHOD PATH [JSON]; the
# emulator is stopped when the test exits.
command -v python3 >/dev/null 2>&1 || { echo "SKIP: no python3"; exit 77; }
command -v curl >/dev/null 2>&1 || { echo "SKIP: no curl"; exit 77; }
"$SLUICE" plugins 2>/dev/null | grep -q '^salesforce-rest ' ||
  { echo "SKIP: the salesforce-rest plugin is not built"; exit 77; }
EMU="$TOP_SRCDIR/tests/emulators"
V=62.0

[ -f "$WORK/pki/ca.crt" ] || "$EMU/make-test-pki.sh" "$WORK/pki" >pki.log 2>&1 || { cat pki.log >&2; fail "make-test-pki.sh"; }
python3 "$EMU/salesforce/sfemu.py" --pki "$WORK/pki" --port 0 \
  --state-file "$WORK/sf.json" --control-token ctl --accounts "${SFEMU_ACCOUNTS:-300}" ${EMU_ARGS:-} \
  >emu.out 2>emu.err &
EMU_PID=$!
# Stops both emulators when both run (sfkemu.sh does the same).
trap 'kill $EMU_PID ${SFK_PID:-} 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
i=0
until grep -q listening emu.out 2>/dev/null; do
  kill -0 "$EMU_PID" 2>/dev/null || { cat emu.err >&2; fail "the emulator did not start"; }
  i=$((i + 1)); [ $i -lt 600 ] || fail "the emulator did not start in 60 s"
  sleep 0.1
done

# jget KEY: a value from the emulator's state file.
jget() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$WORK/sf.json" "$1"; }
PORT=$(jget port)
SF_CLIENT_ID=$(jget client_id)
SF_CLIENT_SECRET=$(jget client_secret)
ORG15=$(jget org_id | cut -c1-15) # access tokens start with it
export SF_CLIENT_ID SF_CLIENT_SECRET
CTL="https://localhost:$PORT/__control"

# ctl METHOD PATH [JSON]: the emulator's control API; the answer on stdout.
ctl() {
  curl -sS --fail --cacert "$WORK/pki/ca.crt" -H "X-Sfemu-Control-Token: ctl" \
    -H "Content-Type: application/json" -X "$1" ${3:+-d "$3"} "$CTL$2"
}
