#!/bin/sh
# tests/e2e/salesforce_wide.sh - salesforce-rest against the emulator: an
# object too wide for one query (split under the URI limit, joined on Id,
# every value where it belongs), compound fields by option, and the API
# budget shared by two pipelines on one connection in one process.
. "$TOP_SRCDIR/tests/e2e/lib.sh"

SFEMU_ACCOUNTS=300
. "$TOP_SRCDIR/tests/e2e/sfemu.sh"

CONN='{ "type": "salesforce", "login_url": "https://localhost:'$PORT'",
  "api_version": "'$V'", "auth_flow": "client_credentials",
  "client_id": { "env": "SF_CLIENT_ID" }, "client_secret": { "env": "SF_CLIENT_SECRET" },
  "ca_file": "'$WORK'/pki/ca.crt" }'

sf_pipeline() {
  cat >"$1" <<JSON
{ "version": 1, "state_dir": "state",
  "connections": { "sf": $CONN },
  "pipelines": [ { "name": "$2",
    "source": { "plugin": "salesforce-rest", "connection": "sf" $3 },
    "destination": { "plugin": "csv-file", "path": "out/$2.csv" } } ] }
JSON
}
nrows() { python3 -c 'import csv,sys; print(sum(1 for _ in csv.DictReader(open(sys.argv[1], newline=""))))' "$1"; }
check_eq() {
  NCHECK=$((NCHECK + 1))
  [ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"
}

# --- 1. a wide object: every field of every record, from several queries --
ctl DELETE /requests >/dev/null
sf_pipeline wide.json wide ', "object": "Sluice_Wide__c", "batch_size": 200'
expect_exit 0 "$SLUICE" run wide.json --once
expect_in err.txt "queries joined on Id"
# The emulator's own copy of each record, field by field, against the CSV.
ctl GET "/requests?path_prefix=/services/data/v$V/query" >q.json
expect_not_in err.txt "left out"
TOTAL=$(sed -n 's/.*Sluice_Wide__c: \([0-9]*\) records to read.*/\1/p' err.txt)
python3 - "$WORK/sf.json" out/wide.csv q.json "$TOTAL" <<'PY' || fail "wide rows differ"
import csv, json, ssl, sys, urllib.request
st = json.load(open(sys.argv[1]))
rows = list(csv.DictReader(open(sys.argv[2], newline="")))
reqs = json.load(open(sys.argv[3]))
reqs = reqs.get("requests", reqs) if isinstance(reqs, dict) else reqs
ctx = ssl.create_default_context(cafile=st["ca_file"])
def get(path):
    r = urllib.request.Request("https://localhost:%d/__control%s" % (st["port"], path),
                               headers={"X-Sfemu-Control-Token": "ctl"})
    return json.load(urllib.request.urlopen(r, context=ctx))
assert len(rows) == int(sys.argv[4]) and len(rows) >= 40, (len(rows), sys.argv[4])
cols = rows[0].keys()
custom = [c for c in cols if c.startswith("Measurement_Value_")]
assert len(custom) == 700, len(custom)
for row in rows[::7]:
    rec = get("/records/" + row["Id"])
    assert rec.get("IsDeleted") is False, rec.get("IsDeleted")
    for c in custom:
        want = rec.get(c)
        got = row[c]
        if want is None:
            assert got == "", (row["Id"], c, got)
        elif isinstance(want, bool):
            assert got == ("true" if want else "false"), (c, got, want)
        elif isinstance(want, (int, float)):
            assert abs(float(got) - float(want)) < 1e-6, (c, got, want)
        elif c and "T" in str(want) and str(want).endswith("+0000"):
            assert got[:19] == str(want)[:19], (c, got, want)
        else:
            assert got == str(want), (row["Id"], c, got, want)
qs = [r for r in reqs if "/query" in r["path"]]
assert len(qs) >= 2, len(qs)  # the first query and the other group
for r in qs:
    assert len(r["path"]) <= 16384, len(r["path"])
    assert r["status"] == 200, r
PY
NCHECK=$((NCHECK + 1))

# --- 2. compound fields: components, one JSON column, or neither --------
for mode in flatten json skip; do
  sf_pipeline comp-$mode.json comp-$mode \
    ', "object": "Account", "compound_fields": "'$mode'"'
  expect_exit 0 "$SLUICE" run comp-$mode.json --once
  head -1 out/comp-$mode.csv | tr ',' '\n' >cols-$mode.txt
done
expect_in cols-flatten.txt BillingCity
expect_not_in cols-flatten.txt BillingAddress
expect_in cols-json.txt BillingAddress
expect_not_in cols-json.txt BillingCity
expect_not_in cols-skip.txt BillingAddress
expect_not_in cols-skip.txt BillingCity
expect_in cols-skip.txt Name
python3 - out/comp-json.csv <<'PY' || fail "BillingAddress is not JSON"
import csv, json, sys
vals = [r["BillingAddress"] for r in csv.DictReader(open(sys.argv[1], newline="")) if r["BillingAddress"]]
assert vals, "no addresses"
a = json.loads(vals[0])
assert "city" in a and "postalCode" in a, a
PY
NCHECK=$((NCHECK + 1))

# --- 3. one budget for every pipeline on the connection ----------------
# Two pipelines run side by side on one connection; the second starts
# while the first is paging.  Once any answer shows 80% used, neither
# sends another request: the emulator sees at most one request past the
# line per pipeline (the one whose answer crossed it, or in flight).
cat >two.json <<JSON
{ "version": 1, "state_dir": "state",
  "connections": { "sf": $CONN },
  "pipelines": [
    { "name": "a", "source": { "plugin": "salesforce-rest", "connection": "sf",
        "object": "Account", "batch_size": 200 },
      "destination": { "plugin": "csv-file", "path": "out/a.csv" } },
    { "name": "b", "source": { "plugin": "salesforce-rest", "connection": "sf",
        "object": "Contact", "batch_size": 200 },
      "destination": { "plugin": "csv-file", "path": "out/b.csv" } } ] }
JSON
ctl POST /budget '{"used": 79998, "max": 100000}' >/dev/null
ctl DELETE /requests >/dev/null
expect_exit 1 "$SLUICE" run two.json --once
expect_in err.txt "API budget:"
expect_in err.txt "max_api_usage_percent is 80"
USED=$(ctl GET /budget | python3 -c 'import json,sys; print(json.load(sys.stdin)["used"])')
[ "$USED" -le 80002 ] || fail "the pipelines spent past the budget: used $USED"
NCHECK=$((NCHECK + 1))
ctl POST /budget '{"used": 0, "max": 100000}' >/dev/null
done_ok
