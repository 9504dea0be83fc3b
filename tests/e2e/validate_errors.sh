#!/bin/sh
# `sluice validate`: every mistake with its JSON path, exit 2; a good file
# is OK; a secret given by reference never appears in any output.
. "$TOP_SRCDIR/tests/e2e/lib.sh"

cat >bad.json <<'JSON'
{ "version": 1, "state_dir": "state",
  "pipelines": [
    { "name": "a", "schedule": { "every": "5s" },
      "source": { "plugin": "csv-file", "path": "in.csv", "delimter": ";" },
      "destination": { "plugin": "csv-fil", "path": "out.csv" } },
    { "name": "b",
      "source": { "plugin": "csv-file", "path": "in.csv", "line_ending": "crlf",
                  "compression": "zip" },
      "destination": { "plugin": "csv-file", "path": "out.csv",
                       "header": "yes", "reject_file": "r.csv",
                       "compression": "zip" },
      "mapping": { "x": { "too": "y" } } }
  ] }
JSON
expect_exit 2 "$SLUICE" validate bad.json
expect_in err.txt "bad.json: pipelines[0].schedule.every: "
expect_in err.txt "bad.json: pipelines[0].source.delimter: unknown key; did you mean 'delimiter'?"
expect_in err.txt "bad.json: pipelines[0].destination.plugin: no plugin 'csv-fil'; did you mean 'csv-file'?"
expect_in err.txt "bad.json: pipelines[1].source.line_ending: applies only to destinations"
expect_in err.txt "bad.json: pipelines[1].source.compression: applies only to destinations"
expect_in err.txt "bad.json: pipelines[1].destination.header: expected true or false"
expect_in err.txt "bad.json: pipelines[1].destination.reject_file: applies only to sources"
expect_in err.txt "bad.json: pipelines[1].mapping.x.too: unknown key; did you mean 'to'?"
expect_in err.txt "bad.json: pipelines[1].destination.compression: 'zip' is not one of auto|none|gzip"
expect_in err.txt "bad.json: 9 errors"

printf '{ "version": 1,\n  "pipelines": [ }\n' >syntax.json
expect_exit 2 "$SLUICE" validate syntax.json
expect_in err.txt "syntax.json: line 2, column"

csv_pipeline good.json '{ "plugin": "csv-file", "path": "in.csv" }' \
  '{ "plugin": "csv-file", "path": "out.csv" }'
expect_exit 0 "$SLUICE" validate good.json
expect_in out.txt "good.json: OK (1 pipeline)"

expect_exit 2 "$SLUICE" validate missing.json
expect_in err.txt "missing.json: "
expect_exit 2 "$SLUICE" run good.json --pipeline nope
expect_in err.txt "no pipeline named 'nope'"
expect_exit 2 "$SLUICE" frobnicate
done_ok
