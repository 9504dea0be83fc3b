#!/bin/sh
# run-tests.sh: the Snowflake emulator's own tests.  Makes a throw-away PKI,
# runs test_sfkemu.py (which starts the emulator), exits non-zero on failure.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/sfkemu-tests.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
"$here/../make-test-pki.sh" "$work/pki"
SFKEMU_PKI=$work/pki PYTHONDONTWRITEBYTECODE=1 python3 "$here/test_sfkemu.py" "$@"
