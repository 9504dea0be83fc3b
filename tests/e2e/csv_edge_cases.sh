#!/bin/sh
# CSV edge cases through the whole program: BOM, CRLF, quotes, embedded
# newlines, other delimiters, gzip in and out, null versus empty, and
# malformed rows (an error with file, line and column; or the reject file).
. "$TOP_SRCDIR/tests/e2e/lib.sh"

mkdir in
# BOM + CRLF + embedded CRLF in quotes + doubled quotes + empty vs null.
printf '\357\273\277id,name,note\r\n1,"a ""quoted"" name","line1\r\nline2"\r\n2,,""\r\n' >in/a.csv
csv_pipeline p.json '{ "plugin": "csv-file", "path": "in/a.csv" }' \
  '{ "plugin": "csv-file", "path": "out.csv" }'
expect_exit 0 "$SLUICE" run p.json --once
printf 'id,name,note\n1,"a ""quoted"" name","line1\r\nline2"\n2,,""\n' >want.csv
expect_same want.csv out.csv

# Semicolons in, tabs out, gzip both ways, crlf line ends.
rm -rf state
printf 'a;b\n1;x,y\n2;"p;q"\n' | gzip >in/semi.csv.gz
csv_pipeline p.json '{ "plugin": "csv-file", "path": "in/semi.csv.gz", "delimiter": ";" }' \
  '{ "plugin": "csv-file", "path": "out.tsv.gz", "delimiter": "\\t", "line_ending": "crlf" }'
expect_exit 0 "$SLUICE" run p.json --once
gzip -dc out.tsv.gz >got.tsv
printf 'a\tb\r\n1\tx,y\r\n2\tp;q\r\n' >want.tsv
expect_same want.tsv got.tsv

# A malformed row without a reject file fails the run, saying where.
rm -rf state
printf 'a,b\n1,2\n3,"x"y\n5,6\n' >in/bad.csv
csv_pipeline p.json '{ "plugin": "csv-file", "path": "in/bad.csv" }' \
  '{ "plugin": "csv-file", "path": "bad-out.csv" }'
expect_exit 1 "$SLUICE" run p.json --once
expect_in err.txt "in/bad.csv: line 3, column 6: "
[ ! -e bad-out.csv ] || fail "a failed run must not leave its output"
ls | grep -q sluice-tmp && fail "a failed run left a temporary file"
expect_in state/runs.jsonl '"status":"failed"'
[ ! -e state/p.checkpoint.json ] || fail "a failed run saved a checkpoint"

# With a reject file: the good rows go through, the bad ones are kept whole.
rm -rf state
printf 'a,b\n1,2\n3,"x"y\n5\n7,8\n' >in/bad.csv
csv_pipeline p.json '{ "plugin": "csv-file", "path": "in/bad.csv", "reject_file": "rej.csv", "types": {"b": "int64"} }' \
  '{ "plugin": "csv-file", "path": "bad-out.csv" }'
expect_exit 3 "$SLUICE" run p.json --once
printf 'a,b\n1,2\n7,8\n' >want.csv
expect_same want.csv bad-out.csv
expect_in rej.csv "line 3, column 6: "
expect_in rej.csv '"3,""x""y"'
expect_in rej.csv "line 4: expected 2 fields, found 1"
expect_in state/runs.jsonl '"rows_rejected":2'

# A typed column with a bad value names the file, line and field.
rm -rf state
printf 'a,b\n1,2\n3,oops\n' >in/typed.csv
csv_pipeline p.json '{ "plugin": "csv-file", "path": "in/typed.csv", "types": {"b": "int64"} }' \
  '{ "plugin": "csv-file", "path": "typed-out.csv" }'
expect_exit 1 "$SLUICE" run p.json --once
expect_in err.txt "in/typed.csv: line 3, field 2 (b): "

# Files of one glob must share a header.
rm -rf state
printf 'a,b\n1,2\n' >in/h1.csv
printf 'a,c\n3,4\n' >in/h2.csv
csv_pipeline p.json '{ "plugin": "csv-file", "path": "in/h*.csv" }' \
  '{ "plugin": "csv-file", "path": "h-out.csv" }'
expect_exit 1 "$SLUICE" run p.json --once
expect_in err.txt "in/h2.csv: line 1: column 2 is 'c'"

# A header-less file with declared columns; an unclosed quote at the end.
rm -rf state
printf '1,2\n3,"4\n' >in/nohdr.csv
csv_pipeline p.json '{ "plugin": "csv-file", "path": "in/nohdr.csv", "header": false, "columns": ["x","y"] }' \
  '{ "plugin": "csv-file", "path": "n-out.csv" }'
expect_exit 1 "$SLUICE" run p.json --once
expect_in err.txt "in/nohdr.csv: line 2, column 3: "

# A truncated gzip file is an error, not a short file.
rm -rf state
awk 'BEGIN { print "id,v"; for (i = 1; i <= 200000; i++) printf "%d,value-%d\n", i, i }' |
  gzip >full.csv.gz
head -c 300000 full.csv.gz >in/cut.csv.gz
csv_pipeline p.json '{ "plugin": "csv-file", "path": "in/cut.csv.gz" }' \
  '{ "plugin": "csv-file", "path": "cut-out.csv" }'
expect_exit 1 "$SLUICE" run p.json --once
expect_in err.txt "in/cut.csv.gz: gzip: the file is truncated"
[ ! -e cut-out.csv ] || fail "a truncated input must not produce output"

# A run that fails after some batches were written reports nothing written:
# only committed rows count, and the output is left as it was.
rm -rf state
awk 'BEGIN { print "n"; for (i = 1; i <= 5000; i++) print (i == 4500 ? "x" : i) }' >in/late.csv
csv_pipeline p.json '{ "plugin": "csv-file", "path": "in/late.csv" }' \
  '{ "plugin": "csv-file", "path": "late-out.csv" }' \
  '"batch": { "rows": 1000 }, "mapping": { "n": { "type": "int64" } }'
expect_exit 1 "$SLUICE" run p.json --once
expect_in err.txt "record 4500, column n: "
expect_in state/runs.jsonl '"rows_written":0'
[ ! -e late-out.csv ] || fail "a failed run left its output"

# Replacing an output keeps its mode; a value given by reference is masked
# in the run log as in the log.
rm -rf state
printf 'a\n1\n' >in/ok.csv
printf 'old\n' >mode-out.csv
chmod 600 mode-out.csv
csv_pipeline p.json '{ "plugin": "csv-file", "path": "in/ok.csv" }' \
  '{ "plugin": "csv-file", "path": "mode-out.csv" }'
expect_exit 0 "$SLUICE" run p.json --once
expect_mode 600 mode-out.csv
rm -rf state
mkdir -p in/s3cr3t-d1r-name
printf 'a,b\n1,"x"y\n' >in/s3cr3t-d1r-name/bad.csv
SECRET_PATH=in/s3cr3t-d1r-name/bad.csv
export SECRET_PATH
csv_pipeline p.json '{ "plugin": "csv-file", "path": { "env": "SECRET_PATH" } }' \
  '{ "plugin": "csv-file", "path": "s-out.csv" }'
expect_exit 1 "$SLUICE" run p.json --once
expect_not_in err.txt "s3cr3t-d1r-name"
expect_not_in state/runs.jsonl "s3cr3t-d1r-name"
expect_in state/runs.jsonl '***'
done_ok
