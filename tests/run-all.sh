#!/bin/bash
# SPDX-License-Identifier: MIT
# Installs what is missing (Debian 12 packages), builds, and runs the whole
# test suite twice: once in a plain build, once built with AddressSanitizer
# and UndefinedBehaviorSanitizer.  Also checks that `meson install` puts
# every artefact in place.  CI runs this.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/deps.sh
auditshim_install_deps

rc=0
logs=()
run_suite() {   # DIR [meson options...]
    local dir=$1
    shift
    auditshim_build "$dir" "$@"
    echo "== meson test -C $dir"
    meson test -C "$dir" --print-errorlogs --num-processes 1 || rc=1
    logs+=("$dir/meson-logs/testlog.json")
}

run_suite "${BUILD:-build}"

# Sanitizers: our own programs (writer, auditctl, unit tests) with leak
# detection; processes that only carry the shim get the runtime preloaded
# in front of it (see tests/integration/harness.py).
AUDITSHIM_TEST_RUNTIME=$(readlink -f "$(gcc -print-file-name=libasan.so)") \
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_suite build-asan -Db_sanitize=address,undefined -Db_lundef=false

# The shim's system calls through libc, as on architectures without the
# direct path of shim/sys.h: the capture, transparency and fault tests.
auditshim_build build-libcsys -Dc_args=-DSHIM_NO_RAW_SYSCALLS
echo "== meson test -C build-libcsys (shim system calls through libc)"
meson test -C build-libcsys --print-errorlogs --num-processes 1 \
    integration-capture integration-transparency integration-faults || rc=1
logs+=("build-libcsys/meson-logs/testlog.json")

echo "== meson install (DESTDIR)"
dest=$(mktemp -d)
if meson install -C "${BUILD:-build}" --destdir "$dest" --quiet >/dev/null; then
    for f in bin/auditctl sbin/auditshimd etc/auditshim/auditshim.ini \
             share/man/man1/auditctl.1 share/man/man8/auditshimd.8 \
             share/man/man7/libauditshim.7; do
        [ -e "$dest/usr/local/$f" ] || { echo "install: missing $f"; rc=1; }
    done
    ls "$dest"/usr/local/lib/*/libauditshim.so >/dev/null || { echo "install: missing libauditshim.so"; rc=1; }
else
    echo "install: meson install failed"
    rc=1
fi
rm -rf "$dest"

python3 - "${logs[@]}" <<'PY'
import json, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    for line in open(path):
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
