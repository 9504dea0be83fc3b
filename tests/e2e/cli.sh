#!/bin/sh
# The command line: version, help, plugins, describe, status.
. "$TOP_SRCDIR/tests/e2e/lib.sh"

expect_exit 0 "$SLUICE" --version
expect_in out.txt "(plugin ABI 1.2)"
expect_exit 0 "$SLUICE" --help
expect_in out.txt "validate FILE"
expect_exit 0 "$SLUICE" plugins
expect_in out.txt "csv-file"
expect_in out.txt "source,destination"
expect_exit 0 "$SLUICE" plugins --json
expect_in out.txt '"name": "csv-file"'
expect_exit 0 "$SLUICE" describe csv-file
expect_in out.txt "delimiter"
expect_in out.txt "reject_file"
expect_exit 0 "$SLUICE" describe csv-file --json
expect_in out.txt '"key": "compression"'
expect_in out.txt '"choices": "auto|none|gzip"'
expect_exit 2 "$SLUICE" describe no-such-plugin
expect_in err.txt "no plugin 'no-such-plugin'"
cp -r "$TOP_SRCDIR/examples/quickstart.json" "$TOP_SRCDIR/examples/data" .
chmod -R u+w .
expect_exit 0 "$SLUICE" check quickstart.json
expect_in out.txt "accounts-csv/source      csv-file         OK"
[ ! -e state/runs.jsonl ] || fail "check wrote a run record"
expect_exit 0 "$SLUICE" status --state-dir nowhere
expect_in out.txt "no runs recorded"
done_ok
