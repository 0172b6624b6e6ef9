#!/bin/bash
# SPDX-License-Identifier: MIT
# Installs what is missing (Debian 12 packages), builds, and runs the whole
# test suite: unit tests, fuzz-corpus replays, and integration tests that
# run real programs under the shim against a real writer.  CI runs this.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/deps.sh
auditshim_install_deps
BUILD=${BUILD:-build}
auditshim_build "$BUILD"
rc=0
meson test -C "$BUILD" --print-errorlogs --num-processes 1 || rc=$?
python3 - "$BUILD/meson-logs/testlog.json" <<'PY'
import json, sys
passed = failed = skipped = 0
for line in open(sys.argv[1]):
    r = json.loads(line)["result"]
    if r in ("OK", "EXPECTEDFAIL"):
        passed += 1
    elif r == "SKIP":
        skipped += 1
    else:
        failed += 1
print("tests: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
PY
exit $rc
