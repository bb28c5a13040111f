#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# run.sh: runs the pytest system suite against the built srvd (a `make check` test).
# SRVD and PYTHON3 come from AM_TESTS_ENVIRONMENT; srcdir from the test driver.
srcdir=${srcdir:-$(dirname "$0")/../..}
SRVD=${SRVD:-$(pwd)/srvd}
# Nothing may be written into the source tree: no bytecode, no pytest cache.
PYTHONDONTWRITEBYTECODE=1
export SRVD PYTHONDONTWRITEBYTECODE
exec timeout -k 10 900 "${PYTHON3:-/usr/bin/python3}" -m pytest -q -rs -p no:cacheprovider \
	"$srcdir/tests/system"
