#!/bin/sh
# run-tests.sh: the Salesforce emulator's own tests.  Makes a throw-away PKI,
# runs test_sfemu.py, test_bulk2.py and test_cometd.py (each starts the
# emulator), exits non-zero on failure.  Arguments select tests, e.g. test_bulk2.TestBulkIngest.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/sfemu-tests.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
"$here/../make-test-pki.sh" "$work/pki"
[ $# -gt 0 ] || set -- test_sfemu test_bulk2 test_cometd
cd "$here"
SFEMU_PKI=$work/pki PYTHONDONTWRITEBYTECODE=1 python3 -m unittest -v "$@"
