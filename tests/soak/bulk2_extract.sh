#!/bin/sh
# make soak-bulk2: a 1,000,000-record Bulk 2.0 extract (Sluice_Score__c)
# from the emulator to a CSV file (queryAll: the ~2% soft-deleted too); prints the rows, the time and the peak
# RSS of the sluice process (GNU time).  Not part of make check.
. "$TOP_SRCDIR/tests/e2e/lib.sh"
SOAK_RECORDS=${SOAK_RECORDS:-1000000}
SFEMU_ACCOUNTS=10
command -v /usr/bin/time >/dev/null || { echo "SKIP: no /usr/bin/time"; exit 77; }
EMU_ARGS="--scores $SOAK_RECORDS"
. "$TOP_SRCDIR/tests/e2e/sfemu.sh"
CONN='{ "type": "salesforce", "login_url": "https://localhost:'$PORT'",
  "api_version": "'$V'", "auth_flow": "client_credentials",
  "client_id": { "env": "SF_CLIENT_ID" }, "client_secret": { "env": "SF_CLIENT_SECRET" },
  "ca_file": "'$WORK'/pki/ca.crt", "max_api_usage_percent": 0 }'
cat >soak.json <<JSON
{ "version": 1, "state_dir": "state", "connections": { "sf": $CONN },
  "pipelines": [ { "name": "soak",
    "source": { "plugin": "salesforce-bulk2", "connection": "sf", "object": "Sluice_Score__c",
                "max_records": 50000, "poll_max": "1s", "include_deleted": true },
    "destination": { "plugin": "csv-file", "path": "out/soak.csv" } } ] }
JSON
mkdir -p out
start=$(date +%s)
/usr/bin/time -v "$SLUICE" run soak.json --once >soak.out 2>soak.err || { tail -20 soak.err; fail "the soak run failed"; }
end=$(date +%s)
rows=$(python3 -c 'import csv,sys; print(sum(1 for _ in csv.DictReader(open(sys.argv[1], newline=""))))' out/soak.csv)
rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' soak.err)
[ "$rows" = "$SOAK_RECORDS" ] || fail "$rows rows, expected $SOAK_RECORDS"
echo "soak-bulk2: $rows rows in $((end - start)) s, peak RSS $rss KiB ($((rss / 1024)) MiB)"
[ "$rss" -lt $((64 * 1024)) ] || fail "peak RSS $rss KiB is over 64 MiB"
done_ok
