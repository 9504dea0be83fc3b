#!/bin/sh
# run-tests.sh: the S3 emulator's own tests (curl's SigV4 against s3emu.py)
# and the Snowflake stage/COPY tests (sfkemu.py --s3).  Makes a throw-away
# PKI, exits non-zero on failure.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/s3emu-tests.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
"$here/../make-test-pki.sh" "$work/pki" >/dev/null
S3EMU_PKI=$work/pki PYTHONDONTWRITEBYTECODE=1 python3 "$here/test_s3emu.py" "$@"
SFKEMU_PKI=$work/pki PYTHONDONTWRITEBYTECODE=1 python3 "$here/../snowflake/test_stage.py"
