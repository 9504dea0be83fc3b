#!/bin/sh
# The plugin template builds out of tree against a staged install with
# pkg-config alone, and sluice loads it and runs it in a pipeline.
. "$TOP_SRCDIR/tests/e2e/lib.sh"

stage="$WORK/stage"
$MAKE -s -C "$TOP_BUILDDIR" install DESTDIR="$stage" >install.log 2>&1 ||
  { cat install.log >&2; fail "make install DESTDIR failed"; }
pc=$(find "$stage" -name sluice-sdk.pc | head -1)
[ -n "$pc" ] || fail "sluice-sdk.pc was not installed"
PKG_CONFIG_PATH=$(dirname "$pc")
PKG_CONFIG_SYSROOT_DIR=$stage
export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
mkdir tpl && cp "$TOP_SRCDIR"/examples/plugin-template/* tpl/
# The installed headers must not need the source tree: no -I to it here.
# A plain make, not a sub-make of make check: no jobserver to inherit.
expect_exit 0 env -u MAKEFLAGS -u MFLAGS make -C tpl CC="${CC:-cc}" CFLAGS="-O1 -Werror"
libdir=$(dirname "$(dirname "$pc")")
LD_LIBRARY_PATH="$libdir" SLUICE_PLUGIN_PATH="$WORK/tpl:$SLUICE_PLUGIN_PATH" \
  expect_exit 0 "$SLUICE" plugins
expect_in out.txt "sequence"
cd tpl
LD_LIBRARY_PATH="$libdir" SLUICE_PLUGIN_PATH="$WORK/tpl:$SLUICE_PLUGIN_PATH" \
  expect_exit 0 "$SLUICE" run sequence.json --once
[ "$(wc -l <numbers.csv)" = 25001 ] || fail "expected 25000 rows and a header"
[ "$(tail -1 numbers.csv)" = 25000 ] || fail "last row is not 25000"
done_ok
