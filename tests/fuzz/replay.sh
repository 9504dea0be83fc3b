#!/bin/sh
# tests/fuzz/replay.sh - make check: every fuzz target replays its corpus
# (tests/fuzz/corpus/NAME) once; under --enable-sanitizers that is every
# seed and every crash ever found, checked on every build.
set -u
: "${TOP_BUILDDIR:?run through make check}" "${TOP_SRCDIR:?}"
rc=0
for t in csv quote replies pipeline cometd bulk2 copy; do
  bin="$TOP_BUILDDIR/tests/fuzz/fuzz_$t"
  [ -x "$bin" ] || { echo "no $bin"; rc=1; continue; }
  if "$bin" -help=1 >/dev/null 2>&1; then
    # A libFuzzer binary: -runs=0 replays the corpus only.
    "$bin" -runs=0 "$TOP_SRCDIR/tests/fuzz/corpus/$t" || rc=1
  else
    "$bin" "$TOP_SRCDIR/tests/fuzz/corpus/$t" || rc=1
  fi
done
exit $rc
