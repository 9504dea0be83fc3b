#!/bin/sh
# tests/faults/backpressure.sh - (make check-faults) a source far faster
# than its destination keeps memory flat: csv-file reading 20,000 and then
# 80,000 wide rows (about 6 and 24 MB of CSV) into snowflake-sql against
# the Snowflake emulator with every INSERT slowed down.  The host holds at
# most 4 batches in flight and pauses the source, so peak RSS (VmHWM) must
# not depend on the row count: the two runs' peaks may differ by less than
# 6 MiB, and both stay under 64 MiB.  Skips when RSS cannot be measured.
. "$TOP_SRCDIR/tests/e2e/lib.sh"
. "$TOP_SRCDIR/tests/e2e/sfkemu.sh"
[ -x /usr/bin/time ] && /usr/bin/time -f %M true >/dev/null 2>&1 ||
  { echo "SKIP: no GNU /usr/bin/time to read the peak RSS"; exit 77; }

gen() { # FILE ROWS
  python3 - "$1" "$2" <<'PY'
import sys
pad = "p" * 250
with open(sys.argv[1], "w") as f:
    f.write("Id,Name,Amount,Pad\n")
    for i in range(int(sys.argv[2])):
        f.write('K%07d,"name %d, ""quoted""",%d.%02d,%s\n' % (i, i, i * 3, i % 100, pad))
PY
}
# A slow destination: every INSERT into the staging table takes 0.15 s more.
sfkctl POST /slow '{"seconds": 0.15, "pattern": "INSERT"}' >/dev/null || fail "slow rule"
for n in 20000 80000; do
  mkdir -p "in$n"
  gen "in$n/rows.csv" "$n"
  cat >"p$n.json" <<JSON
{ "version": 1, "state_dir": "state$n",
  "connections": { "snow": $SFK_CONN },
  "pipelines": [ { "name": "bp$n", "batch": { "rows": 1000 },
    "source": { "plugin": "csv-file", "path": "in$n/rows.csv",
                "types": { "Amount": "decimal(18,2)" } },
    "destination": { "plugin": "snowflake-sql", "connection": "snow",
                     "table": "BP$n", "key": ["Id"] } } ] }
JSON
  start=$(date +%s)
  /usr/bin/time -o "peak$n.txt" -f %M "$SLUICE" -v run "p$n.json" --once >out.txt 2>err.txt ||
    { tail -20 err.txt >&2; fail "the run of $n rows failed"; }
  peak=$(tail -1 "peak$n.txt")
  eval "PEAK$n=$peak"
  paused=$(sed -n 's/.*the source was paused \([0-9]*\) times.*/\1/p' err.txt | tail -1)
  rows=$(sq "SELECT COUNT(*) FROM SLUICE_DB.PUBLIC.BP$n" | tr -d '[]"')
  echo "$n rows: $rows in the table, $(($(date +%s) - start)) s, source paused ${paused:-?} times, peak RSS $peak KiB"
  [ "$rows" = "$n" ] || fail "$n rows read, $rows in the table"
  [ "${paused:-0}" -gt 0 ] || fail "the source was never paused: the destination was not the slower side"
  [ "$peak" -lt $((64 * 1024)) ] || fail "$n rows: peak RSS $peak KiB is over 64 MiB"
  NCHECK=$((NCHECK + 4))
done
d=$((PEAK80000 - PEAK20000))
echo "peak RSS: 20,000 rows $((PEAK20000 / 1024)) MiB, 80,000 rows $((PEAK80000 / 1024)) MiB (difference $d KiB)"
[ "$d" -lt $((6 * 1024)) ] || fail "peak RSS grew by $d KiB with 4x the rows"
NCHECK=$((NCHECK + 1))
done_ok
