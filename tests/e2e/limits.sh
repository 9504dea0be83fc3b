#!/bin/sh
# tests/e2e/limits.sh - oversized input is refused with an error that says
# where, in bounded memory: a 100 MB CSV field (csv-file source: the file,
# the line; max_record_bytes) and a 10 MB JSON string in a Salesforce
# query page (salesforce-rest: the record, the field; max_value_bytes).
# Peak RSS (VmHWM) is checked where /usr/bin/time or /proc can tell it.
. "$TOP_SRCDIR/tests/e2e/lib.sh"
command -v python3 >/dev/null 2>&1 || { echo "SKIP: no python3"; exit 77; }

# peak_kib CMD...: runs CMD (stdout/stderr to out.txt/err.txt), sets RC
# and PEAK (KiB; empty when it cannot be measured).
peak_kib() {
  PEAK=
  if [ -x /usr/bin/time ] && /usr/bin/time -f %M true >/dev/null 2>&1; then
    /usr/bin/time -o peak.txt -f %M "$@" >out.txt 2>err.txt
    RC=$?
    PEAK=$(tail -1 peak.txt)
  elif [ -r /proc/self/status ]; then
    "$@" >out.txt 2>err.txt &
    pid=$!
    while kill -0 $pid 2>/dev/null; do
      h=$(sed -n 's/^VmHWM: *\([0-9]*\) kB/\1/p' /proc/$pid/status 2>/dev/null)
      [ -n "$h" ] && PEAK=$h
      sleep 0.05
    done
    wait $pid
    RC=$?
  else
    "$@" >out.txt 2>err.txt
    RC=$?
  fi
}
check_peak() { # LIMIT_MIB WHAT
  NCHECK=$((NCHECK + 1))
  if [ -z "$PEAK" ]; then
    echo "note: peak RSS not measurable here ($2)"
  else
    # ASan's shadow memory and quarantine cost about as much again.
    LIMIT=$1
    [ -z "${SLUICE_SANITIZERS:-}" ] || LIMIT=$(($1 * 2))
    echo "$2: peak RSS $((PEAK / 1024)) MiB"
    [ "$PEAK" -lt $((LIMIT * 1024)) ] || fail "$2: peak RSS $PEAK KiB, over $LIMIT MiB"
  fi
}

# --- 1. a 100 MB field in a CSV file ----------------------------------------
mkdir in
python3 - in/big.csv <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("id,big,after\n1,small,x\n2,\"")
    chunk = "0123456789abcdef" * 65536  # 1 MiB
    for _ in range(100):
        f.write(chunk)
    f.write("\",y\n3,small again,z\n")
PY
csv_pipeline p.json '{ "plugin": "csv-file", "path": "in/big.csv" }' \
  '{ "plugin": "csv-file", "path": "out.csv" }'
peak_kib "$SLUICE" run p.json --once
[ "$RC" = 1 ] || { cat err.txt >&2; fail "a 100 MB field: exit $RC, expected 1"; }
expect_in err.txt "in/big.csv"
expect_in err.txt "line 3, field 2: record exceeds 16777216 bytes"
check_peak 64 "a 100 MB CSV field (refused at 16 MiB)"
# The limit is a setting; with a reject file the record is set aside.
csv_pipeline p2.json '{ "plugin": "csv-file", "path": "in/big.csv",
    "max_record_bytes": "1M", "reject_file": "rejects.csv" }' \
  '{ "plugin": "csv-file", "path": "out2.csv" }'
peak_kib "$SLUICE" run p2.json --once
[ "$RC" = 3 ] || { cat err.txt >&2; fail "a 100 MB field with a reject file: exit $RC, expected 3"; }
expect_in rejects.csv "line 3, field 2: record exceeds 1048576 bytes"
expect_in out2.csv "small again"
check_peak 48 "a 100 MB CSV field (rejected at 1 MiB)"

# --- 2. a 10 MB string in a Salesforce query page ---------------------------
SFEMU_ACCOUNTS=30
. "$TOP_SRCDIR/tests/e2e/sfemu.sh"
ID=$(ctl GET "/records?object=Account" | python3 -c 'import json,sys; print(json.load(sys.stdin)["records"][3]["Id"])')
python3 -c 'import json; print(json.dumps({"op": "update", "id": "'"$ID"'", "fields": {"Description": "d" * (10 * 1024 * 1024)}}))' >upd.json
curl -sS --fail --cacert "$WORK/pki/ca.crt" -H "X-Sfemu-Control-Token: ctl" \
  -H "Content-Type: application/json" -d @upd.json "$CTL/records" >/dev/null || fail "the 10 MB update"
sf_pipe() { # FILE SOURCE_EXTRA
  cat >"$1" <<JSON
{ "version": 1, "state_dir": "state",
  "connections": { "sf": { "type": "salesforce", "login_url": "https://localhost:$PORT",
    "api_version": "$V", "auth_flow": "client_credentials",
    "client_id": { "env": "SF_CLIENT_ID" }, "client_secret": { "env": "SF_CLIENT_SECRET" },
    "ca_file": "$WORK/pki/ca.crt" } },
  "pipelines": [ { "name": "big",
    "source": { "plugin": "salesforce-rest", "connection": "sf", "object": "Account",
                "fields": ["Id", "Name", "Description"] $2 },
    "destination": { "plugin": "csv-file", "path": "sf.csv" } } ] }
JSON
}
sf_pipe s.json ''
peak_kib "$SLUICE" run s.json --once
[ "$RC" = 1 ] || { cat err.txt >&2; fail "a 10 MB string: exit $RC, expected 1"; }
expect_in err.txt "record $ID: field Description (textarea): a value of 10485760 bytes, over max_value_bytes (1048576)"
check_peak 96 "a 10 MB JSON string (refused)"
# Raised, it goes through, in memory bounded by the page.
sf_pipe s2.json ', "max_value_bytes": "16M"'
rm -rf state
peak_kib "$SLUICE" run s2.json --once
[ "$RC" = 0 ] || { cat err.txt >&2; fail "a 10 MB string under max_value_bytes 16M: exit $RC"; }
[ "$(stat -c %s sf.csv)" -gt 10485760 ] || fail "the 10 MB value is not in sf.csv"
NCHECK=$((NCHECK + 1))
check_peak 160 "a 10 MB JSON string (read)"
done_ok
