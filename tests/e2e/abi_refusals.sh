#!/bin/sh
# Plugins built wrong are refused, each in one line that names the file and
# both versions; the good one still loads.
. "$TOP_SRCDIR/tests/e2e/lib.sh"

expect_exit 0 "$SLUICE" plugins --plugin-dir "$ABI_FIXTURES"
expect_in out.txt "abi-good"
# Built for ABI 1.0: loads (its descriptor is shorter; the rest reads as
# zero).
expect_in out.txt "abi-old-minor"
expect_in out.txt "csv-file"
for bad in major2 lies-major newer-minor bad-magic no-entry short-size \
  no-callbacks; do
  n=$(grep -c "abi-$bad" err.txt)
  [ "$n" = 1 ] || fail "abi-$bad: expected one line, got $n"
  expect_not_in out.txt "abi-$bad"
done
expect_in err.txt "abi-major2.la: refused: built for plugin ABI 2.x (it exports sluice_plugin_v2), this sluice has ABI 1.2"
expect_in err.txt "abi-lies-major.la: refused: built for plugin ABI 2.2, this sluice has ABI 1.2"
expect_in err.txt "abi-newer-minor.la: refused: built for plugin ABI 1.3, newer than this sluice's 1.2: upgrade sluice"
expect_in err.txt "abi-bad-magic.la: refused: not a sluice plugin (bad magic 0x12345678)"
expect_in err.txt "abi-no-entry.la: refused: not a sluice plugin (no sluice_plugin_v1 symbol)"
expect_in err.txt "abi-short-size.la: refused: truncated descriptor (24 bytes"
expect_in err.txt "abi-no-callbacks.la: refused: a destination needs dest_open, dest_write and dest_commit"

# The 1.0 plugin's descriptor ends before count: reconcile must not read
# past it (the fixture's count aborts), and says it cannot count.
mkdir -p in && printf 'a\n1\n' >in/a.csv
cat >old.json <<JSON
{ "version": 1, "state_dir": "state",
  "pipelines": [ { "name": "old",
    "source": { "plugin": "csv-file", "path": "in/*.csv" },
    "destination": { "plugin": "abi-old-minor", "path": "x" } } ] }
JSON
expect_exit 1 "$SLUICE" reconcile old.json --plugin-dir "$ABI_FIXTURES"
expect_in out.txt "abi-old-minor    cannot count: the plugin has no count"
# Nor past it for a key sweep (ABI 1.2): a clear refusal, nothing called.
expect_exit 1 "$SLUICE" reconcile old.json --ids 3 --plugin-dir "$ABI_FIXTURES"
expect_in out.txt "FAILED: plugin abi-old-minor cannot compare keys (needs ABI 1.2 key sweeps; it has ABI 1.0)"
cat >oldsweep.json <<JSON
{ "version": 1, "state_dir": "state",
  "pipelines": [ { "name": "old", "reconcile_deletes": "weekly",
    "source": { "plugin": "csv-file", "path": "in/*.csv" },
    "destination": { "plugin": "abi-old-minor", "path": "x" } } ] }
JSON
expect_exit 2 "$SLUICE" validate oldsweep.json --plugin-dir "$ABI_FIXTURES"
expect_in err.txt "oldsweep.json: pipelines[0].reconcile_deletes: plugin abi-old-minor cannot compare keys (needs ABI 1.2 key sweeps; it has ABI 1.0)"
# csv-file reads keys but keeps no table to compare them with.
cat >csvsweep.json <<JSON
{ "version": 1, "state_dir": "state",
  "pipelines": [ { "name": "csv", "reconcile_deletes": "weekly",
    "source": { "plugin": "csv-file", "path": "in/*.csv" },
    "destination": { "plugin": "csv-file", "path": "out.csv" } } ] }
JSON
expect_exit 2 "$SLUICE" validate csvsweep.json
expect_in err.txt "csvsweep.json: pipelines[0].reconcile_deletes: plugin csv-file cannot compare keys (needs ABI 1.2 key sweeps; it has ABI 1.2)"

# Relative plugin directories are never searched (no loading from the cwd).
mkdir -p rel && cp "$ABI_FIXTURES"/.libs/abi-good.so rel/
SLUICE_PLUGIN_PATH=rel expect_exit 0 "$SLUICE" plugins
expect_not_in out.txt "abi-good"
expect_in err.txt "plugin directory 'rel' ignored: it must be an absolute path"
done_ok
