#!/bin/bash
# SPDX-License-Identifier: MIT
# Quick-start demo: installs what is missing, builds, starts a writer on a
# private state directory (no root needed), runs a small agent-like session
# under the shim, then prints `auditctl verify` and the records.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. tests/deps.sh
auditshim_install_deps
auditshim_build build

STATE=$(mktemp -d /tmp/auditshim-demo.XXXXXX)
SOCK=$STATE/run/auditshim.sock
DB=$STATE/state/audit.db
KEY=$STATE/state/audit.key
WRITER_PID=
cleanup() { [ -n "$WRITER_PID" ] && kill "$WRITER_PID" 2>/dev/null; true; }
trap cleanup EXIT

build/store/auditshimd -f --socket "$SOCK" --db "$DB" --key "$KEY" \
    2>"$STATE/writer.log" &
WRITER_PID=$!
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
[ -S "$SOCK" ] || { cat "$STATE/writer.log" >&2; exit 1; }

echo "== an agent-like session under the shim (state in $STATE)"
mkdir -p "$STATE/work"
cd "$STATE/work"
LD_PRELOAD=$ROOT/build/shim/libauditshim.so AUDITSHIM_SOCKET=$SOCK \
AUDITSHIM_AGENT=demo-agent /bin/sh -c '
    mkdir -p project/.git && cd project
    printf "# Project notes for the agent\n" > CLAUDE.md
    printf "[core]\n\tbare = false\n" > .git/config
    ls -la > listing.txt
    grep -c core .git/config > /dev/null
    /usr/bin/python3 -c "open(\"result.json\", \"w\").write(\"{}\\n\")"
    env -i /bin/sh -c "echo scrubbed environment > env-i.txt"
    /nonexistent/tool 2>/dev/null || true
    mv listing.txt listing.old && rm listing.old
'
cd "$ROOT"
kill -TERM "$WRITER_PID"; wait "$WRITER_PID" || true; WRITER_PID=

echo
echo "== auditctl verify"
build/tools/auditctl --db "$DB" --key "$KEY" verify
echo
echo "== records (auditctl export --format ndjson, condensed)"
build/tools/auditctl --db "$DB" export --format ndjson | python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    what = r["target"] or ""
    if r["argv"]:
        what += "  " + " ".join(r["argv"])
    if r["errno"]:
        what += "  (" + r["errno"] + ")"
    what = " ".join(what.split())
    print("%4d %-12s %-10s %-7s %-4s pid=%-7s %s" % (r["seq"], r["event"], r["class"],
          r["result"], r["session"] or "-", r["pid"] if r["pid"] is not None else "-",
          what[:100]))
'
echo
echo "State kept in $STATE (database, key, writer log)."
