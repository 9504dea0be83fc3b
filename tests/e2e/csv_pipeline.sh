#!/bin/sh
# The quickstart end to end: typed CSV in, mapping, CSV out; the bad row is
# rejected (exit 3) with its file and line, and the run is recorded.
. "$TOP_SRCDIR/tests/e2e/lib.sh"

cp -r "$TOP_SRCDIR/examples/quickstart.json" "$TOP_SRCDIR/examples/data" .
chmod -R u+w .
expect_exit 3 "$SLUICE" run quickstart.json --once
expect_in err.txt "run "
cat >expected.csv <<'CSV'
ACCOUNT_ID,ACCOUNT_NAME,REVENUE,EMPLOYEES,CREATED_DAY,IS_ACTIVE,SOURCE_SYSTEM
001A000001,Acme Corporation,1250000.50,120,2024-03-01,true,quickstart
001A000002,"Globex, Inc.",98000.00,15,2024-04-15,false,quickstart
001A000003,"Initech ""Software""",,7,2025-01-02,true,quickstart
001A000004,Umbrella Holdings,3500000.00,,2025-06-30,true,quickstart
001A000005,Stark Industries,99999999.99,5000,2025-09-09,true,quickstart
CSV
expect_same expected.csv out/accounts.csv
expect_in out/accounts.rejects.csv "accounts-2.csv,3,"
expect_in out/accounts.rejects.csv "not-a-number"
expect_mode 600 out/accounts.rejects.csv
expect_mode 600 state/runs.jsonl
expect_mode 600 state/accounts-csv.checkpoint.json
expect_in state/runs.jsonl '"status":"rejected"'
expect_in state/runs.jsonl '"rows_read":6'
expect_in state/runs.jsonl '"rows_rejected":1'
expect_exit 0 "$SLUICE" status quickstart.json
expect_in out.txt "accounts-csv"
expect_in out.txt "rejected"
expect_exit 0 "$SLUICE" status quickstart.json --json
expect_in out.txt '"pipeline": "accounts-csv"'

# Nothing new: a second run reads nothing and leaves the output alone.
expect_exit 0 "$SLUICE" run quickstart.json --once
expect_same expected.csv out/accounts.csv
expect_in err.txt "0 read, 0 written"
# The rejects of the first run are still there for the operator.
expect_in out/accounts.rejects.csv "not-a-number"
done_ok
