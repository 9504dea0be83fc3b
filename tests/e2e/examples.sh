#!/bin/sh
# tests/e2e/examples.sh - every pipeline file in examples/ passes the JSON
# Schema in doc/ (checked by tests/tools/jsonschema_check.py, which fails
# on any keyword it does not verify) and `sluice validate`; a broken copy
# fails both, each naming the place.
. "$TOP_SRCDIR/tests/e2e/lib.sh"
command -v python3 >/dev/null 2>&1 || { echo "SKIP: no python3"; exit 77; }
SCHEMA="$TOP_SRCDIR/doc/sluice.schema.json"
CHECK="$TOP_SRCDIR/tests/tools/jsonschema_check.py"
EX="$TOP_SRCDIR/examples"

expect_exit 0 python3 "$CHECK" "$SCHEMA" "$EX"/*.json "$EX"/plugin-template/*.json

# The examples read their endpoints from the environment.
for v in SF_LOGIN_URL SNOWFLAKE_URL S3_ENDPOINT; do eval "$v=https://localhost:1"; export "$v"; done
for v in SF_CLIENT_ID SF_CLIENT_SECRET SF_CA_FILE SNOWFLAKE_ACCOUNT \
  SNOWFLAKE_USER SNOWFLAKE_KEY_FILE SNOWFLAKE_CA_FILE AWS_ACCESS_KEY_ID \
  AWS_SECRET_ACCESS_KEY; do
  eval "$v=x"; export "$v"
done
for f in "$EX"/*.json; do
  case $f in */csv-to-salesforce.json | */salesforce-to-csv.json | */syncout-account.json)
    "$SLUICE" plugins | grep -q '^salesforce-rest ' || continue ;;
  esac
  case $f in */*snowflake*.json | */syncout-account.json)
    "$SLUICE" plugins | grep -q '^snowflake-sql ' || continue ;;
  esac
  case $f in */syncout-account-cdc.json)
    "$SLUICE" plugins | grep -q '^salesforce-cdc ' || continue
    "$SLUICE" plugins | grep -q '^snowflake-sql ' || continue ;;
  esac
  case $f in */syncout-account-stage.json)
    "$SLUICE" plugins | grep -q '^snowflake-stage ' || continue
    "$SLUICE" plugins | grep -q '^salesforce-bulk2 ' || continue ;;
  esac
  expect_exit 0 "$SLUICE" validate "$f"
  expect_in out.txt "OK"
done

# A broken copy: the schema and validate both say where.
python3 - "$EX/quickstart.json" >broken.json <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["pipelines"][0]["batch"] = {"rows": 0, "commit_evry": 2}
print(json.dumps(d))
PY
expect_exit 1 python3 "$CHECK" "$SCHEMA" broken.json
expect_in out.txt "pipelines[0].batch.commit_evry: not allowed"
expect_in out.txt "pipelines[0].batch.rows: below 1"
cp -r "$EX/data" data
expect_exit 2 "$SLUICE" validate broken.json
expect_in err.txt "pipelines[0].batch"
done_ok
