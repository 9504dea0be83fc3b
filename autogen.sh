#!/bin/sh
# Regenerates the build system: run once after a fresh clone.
set -e
cd "$(dirname "$0")"
mkdir -p build-aux m4
autoreconf --install --force --warnings=all
echo "Now run ./configure && make"
