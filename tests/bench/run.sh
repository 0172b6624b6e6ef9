#!/bin/bash
# SPDX-License-Identifier: MIT
# auditshim benchmarks (issue 4).  Not part of `meson test`: slow and
# sensitive to anything else running on the machine.
#
#   tests/bench/run.sh [--quick]
#
# Builds (or reuses) a release build in $BUILD (default build-bench), then:
#   (a) tar x of ~10,000 small files      plain / shim / strace
#   (b) 2,000 sequential execs of /bin/true
#   (c) make -j2 of a generated ~50-file C project
#       ((b) and (c) also with an empty library preloaded: the floor of
#       any LD_PRELOAD tool)
#   (d) per-call cost: read-only open (hooked, not recorded) and
#       open(O_WRONLY|O_CREAT) (recorded) vs plain
#   (e) writer ingest: 8 concurrent shimmed processes flooding records into
#       the durable chained store; records/s and the writer's peak RSS
#   (f) auditctl verify records/s on (e)'s store
#   (g) auditctl query / report for a window and a session on (e)'s store
# (a)-(d) are medians of interleaved repetitions, each printed with its
# ratio to the plain run measured in the same invocation; for (a)-(c) the
# ratio is the median of each round's own ratio, the modes' order rotating
# from round to round.  Between any two timed runs the writer is left to
# commit everything (so one run's backlog never lands in the next one's
# time).
#
# --quick runs small sizes (< 1 minute).  Environment: BUILD, REPS,
# RECORDS (ingest flood size, default 10,000,000; 100,000 with --quick),
# BENCH_TMP (where the stores and files go; default $TMPDIR or /var/tmp),
# BENCH_WORK (where (a) and (c) extract and compile; default BENCH_TMP's
# directory -- point it at a tmpfs to take the disk out of the ratio),
# BENCH_ONLY (letters of the benchmarks to run, default abcdefg; f and g
# need e and run it), BENCH_STORE (a directory for (e)'s store, kept after
# the run; if it already holds a store, (e) is not re-run: the writer is
# started and stopped once on it -- an upgrade, which adds any missing
# index -- and (f) and (g) use it), BENCH_CONF (the writer's configuration
# file; default config/auditshim.ini).
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$SRC/build-bench}
QUICK=0
case "${1:-}" in
    --quick) QUICK=1 ;;
    "") ;;
    *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
esac

if ((QUICK)); then
    NFILES=2000 NEXEC=200 NSRC=10 NCALL=50000 REPS=${REPS:-3}
    RECORDS=${RECORDS:-100000}
else
    NFILES=10000 NEXEC=2000 NSRC=50 NCALL=200000 REPS=${REPS:-5}
    RECORDS=${RECORDS:-10000000}
fi
NPROC=8

for tool in strace tar make cc sqlite3 python3; do
    command -v $tool >/dev/null || { echo "bench: $tool is missing (tests/deps.sh installs it)" >&2; exit 2; }
done

echo "== build ($BUILD, release)"
if [ ! -f "$BUILD/build.ninja" ]; then
    meson setup "$BUILD" "$SRC" --buildtype=release >/dev/null
fi
meson compile -C "$BUILD" >/dev/null
SHIM=$BUILD/shim/libauditshim.so
WRITER=$BUILD/store/auditshimd
CTL=$BUILD/tools/auditctl
CONF=${BENCH_CONF:-$SRC/config/auditshim.ini}

T=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/var/tmp}}/auditshim-bench.XXXXXX")
W=$T
if [ -n "${BENCH_WORK:-}" ]; then W=$(mktemp -d "$BENCH_WORK/auditshim-work.XXXXXX"); fi
ONLY=${BENCH_ONLY:-abcdefg}
want() { [[ $ONLY == *[$1]* ]]; }
WPID=
cleanup() {
    if [ -n "$WPID" ] && kill -0 "$WPID" 2>/dev/null; then
        kill "$WPID"; wait "$WPID" 2>/dev/null || true
    fi
    [ -n "${BENCH_KEEP:-}" ] && { echo "kept $T"; return; }
    rm -rf "$T"
    [ "$W" = "$T" ] || rm -rf "$W"
}
trap cleanup EXIT
cc -O2 -Wall -o "$T/percall" "$SRC/tests/bench/percall.c"
# The floor of any LD_PRELOAD tool: a library with nothing in it, which
# the loader still opens, maps and relocates in every image.
echo 'int auditshim_bench_empty;' >"$T/empty.c"
cc -O2 -shared -fPIC -o "$T/empty.so" "$T/empty.c"

echo "== machine: $(nproc) CPUs, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "== mode: $( ((QUICK)) && echo quick || echo full ), $REPS repetitions, stores in $T, workloads in $W ($(df --output=fstype "$W" | tail -1))"
echo "== writer configuration: $CONF"

# --- writer --------------------------------------------------------------
start_writer() {   # DIR [SECONDS]: a writer on DIR/sock, DIR/audit.db
    local d=$1 wait=${2:-10}
    mkdir -p "$d"
    WDIR=$d
    "$WRITER" -f -c "$CONF" --socket "$d/sock" --db "$d/audit.db" \
        --key "$d/audit.key" >"$d/writer.log" 2>&1 &
    WPID=$!
    for _ in $(seq $((wait * 20))); do
        [ -S "$d/sock" ] && [ -s "$d/audit.db" ] && return 0
        kill -0 "$WPID" 2>/dev/null || break
        sleep 0.05
    done
    echo "bench: writer did not start:" >&2
    cat "$d/writer.log" >&2
    exit 1
}
stop_writer() {
    kill "$WPID"
    wait "$WPID" || { echo "bench: writer exit $?:"; cat "$WDIR/writer.log"; exit 1; }
    WPID=
}
maxseq() { sqlite3 "file:$1?mode=ro" "SELECT coalesce(max(seq),0) FROM records" 2>/dev/null || echo 0; }
# Waits until the store stops growing and the writer stops using CPU for
# QUIET ms (at most 20 s); prints the time (ns) of the last change seen.
settle() {   # DB [QUIET_MS]
    local db=$1 quiet=${2:-300} last=-1 n since now t0
    t0=$(date +%s%N) since=$t0
    while :; do
        n="$(maxseq "$db") $(awk '{print $14 + $15}' "/proc/$WPID/stat" 2>/dev/null)"
        now=$(date +%s%N)
        if [ "$n" != "$last" ]; then
            last=$n since=$now
        elif (( now - since >= quiet * 1000000 || now - t0 > 20000000000 )); then
            echo "$since"
            return
        fi
        sleep 0.05
    done
}

# --- timing --------------------------------------------------------------
TRACE=(strace -f -qq -o /dev/null -e trace=execve,openat,connect)
run_mode() {   # MODE CMD...: runs CMD plain|shim|strace; prints elapsed µs
    local mode=$1 t0 t1
    shift
    t0=$(date +%s%N)
    case $mode in
        plain) "$@" ;;
        shim) env LD_PRELOAD="$SHIM" AUDITSHIM_SOCKET="$WDIR/sock" "$@" ;;
        strace) "${TRACE[@]}" "$@" ;;
        empty) env LD_PRELOAD="$T/empty.so" "$@" ;;
    esac >/dev/null 2>"$T/err" || { echo "bench: $mode $* failed:" >&2; cat "$T/err" >&2; exit 1; }
    t1=$(date +%s%N)
    echo $(( (t1 - t0) / 1000 ))
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
ms() { awk -v a="$1" 'BEGIN {printf "%.1f", a / 1000}'; }

# pratio NUM_ARRAY DEN_ARRAY: the median of the per-round ratios NUM[i]/DEN[i]
# (arrays by name).  Each round's runs are adjacent in time, so a ratio
# within a round cancels the guest's slower and faster phases, which a
# ratio of two medians taken from different rounds does not.
pratio() {
    local -n num=$1 den=$2
    local i
    local -a q=()
    for i in "${!num[@]}"; do q+=("$(awk -v a="${num[$i]}" -v b="${den[$i]}" 'BEGIN {printf "%.4f", a / b}')"); done
    awk -v m="$(median "${q[@]}")" 'BEGIN {printf "%.2f", m}'
}

RESULTS=()
# bench NAME TARGET SETUP_FN CMD...: REPS interleaved rounds of plain, shim
# and strace; SETUP_FN runs untimed before each run.  With FLOOR=1, also
# an empty library in LD_PRELOAD: what preloading anything costs, which no
# LD_PRELOAD tool can go below.  The order of the modes rotates from round
# to round (a run right after another one's writeback is not always the
# same mode's), the times are medians, the ratios medians of the rounds'
# own ratios (pratio).
bench() {
    local name=$1 target=$2 setup=$3 r i m
    shift 3
    local -a tp=() ts=() tt=() te=() modes=(plain shim strace)
    if [ "${FLOOR:-0}" = 1 ]; then modes+=(empty); fi
    local n=${#modes[@]}
    for ((r = 0; r < REPS; r++)); do
        for ((i = 0; i < n; i++)); do
            m=${modes[$(( (r + i) % n ))]}
            $setup
            sync
            local us
            us=$(run_mode $m "$@")
            case $m in plain) tp[r]=$us ;; shim) ts[r]=$us ;; strace) tt[r]=$us ;; empty) te[r]=$us ;; esac
            settle "$WDIR/audit.db" >/dev/null
        done
    done
    local p s t
    p=$(median "${tp[@]}") s=$(median "${ts[@]}") t=$(median "${tt[@]}")
    local line
    line=$(printf '%-28s plain %9s ms   shim %9s ms  %5sx   strace %9s ms  %5sx   (target <= %s)' \
        "$name" "$(ms "$p")" "$(ms "$s")" "$(pratio ts tp)" "$(ms "$t")" "$(pratio tt tp)" "$target")
    echo "$line"
    echo "    plain us: ${tp[*]}; shim us: ${ts[*]}; strace us: ${tt[*]}"
    echo "    ratio of the medians: shim $(ratio "$s" "$p"), strace $(ratio "$t" "$p")"
    RESULTS+=("$line")
    if ((${#te[@]})); then
        local e
        e=$(median "${te[@]}")
        line=$(printf '%-28s empty LD_PRELOAD library %9s ms  %5sx   (the floor for any preload tool)' \
            "  floor of the above" "$(ms "$e")" "$(pratio te tp)")
        echo "$line"
        echo "    empty us: ${te[*]}"
        RESULTS+=("$line")
    fi
}

# --- (a)-(c) workloads ---------------------------------------------------
if want abcd; then
echo "== preparing workloads"
mkdir -p "$W/tree" "$W/proj"
python3 - "$W/tree" "$NFILES" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "d%03d" % (i // 100))
    if i % 100 == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d.txt" % i), "w") as f:
        f.write("file %d\n" % i * (1 + i % 7))
PY
tar -C "$W/tree" -cf "$W/files.tar" .
rm -rf "$W/tree"
python3 - "$W/proj" "$NSRC" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    with open(os.path.join(root, "m%02d.c" % i), "w") as f:
        f.write('#include <stdio.h>\n#include <string.h>\n#include "common.h"\n')
        for j in range(20):
            f.write("int f%d_%d(int x) { char b[64]; snprintf(b, sizeof b, \"%%d\", x * %d);"
                    " return (int)strlen(b) + x; }\n" % (i, j, j))
        if i == 0:
            f.write("int main(void) { return f0_0(1) > 100; }\n")
with open(os.path.join(root, "common.h"), "w") as f:
    f.write("#pragma once\n#define COMMON 1\n")
objs = " ".join("m%02d.o" % i for i in range(n))
with open(os.path.join(root, "Makefile"), "w") as f:
    f.write("CFLAGS = -O2\nOBJS = %s\nprog: $(OBJS)\n\t$(CC) -o $@ $(OBJS)\n"
            "%%.o: %%.c common.h\n\t$(CC) $(CFLAGS) -c -o $@ $<\n"
            "clean:\n\trm -f prog $(OBJS)\n" % objs)
PY

start_writer "$T/w1"

setup_tar() { rm -rf "$W/x"; mkdir "$W/x"; }
setup_make() { make -s -C "$W/proj" clean >/dev/null; }
setup_none() { :; }

echo "== (a)-(c) real workloads (median of $REPS, interleaved)"
if want a; then bench "tar x ($NFILES files)" 1.15 setup_tar tar -xf "$W/files.tar" -C "$W/x"; fi
if want b; then FLOOR=1 bench "$NEXEC execs of /bin/true" 1.10 setup_none bash -c 'for ((i = 0; i < $1; i++)); do /bin/true; done' loop "$NEXEC"; fi
if want c; then FLOOR=1 bench "make -j2 ($NSRC C files)" 1.05 setup_make make -s -j2 -C "$W/proj"; fi
rm -rf "$W/x"

# --- (d) per-call cost ---------------------------------------------------
if want d; then
echo "== (d) per-call cost ($NCALL calls x $REPS, open+close per iteration)"
pr=() sr=() pw=() sw=()
for ((r = 0; r < REPS; r++)); do
    pr+=("$("$T/percall" ro "$NCALL" "$T/ro.dat")")
    sr+=("$(env LD_PRELOAD="$SHIM" AUDITSHIM_SOCKET="$WDIR/sock" "$T/percall" ro "$NCALL" "$T/ro.dat")")
    settle "$WDIR/audit.db" >/dev/null
    pw+=("$("$T/percall" wr "$NCALL" "$T/wr.dat")")
    sw+=("$(env LD_PRELOAD="$SHIM" AUDITSHIM_SOCKET="$WDIR/sock" "$T/percall" wr "$NCALL" "$T/wr.dat")")
    settle "$WDIR/audit.db" >/dev/null
done
mpr=$(median "${pr[@]}") msr=$(median "${sr[@]}") mpw=$(median "${pw[@]}") msw=$(median "${sw[@]}")
line=$(printf '%-28s plain %7.0f ns   shim %7.0f ns   added %+6.0f ns  %5sx   (target <= 1.05)' \
    "unrecorded open (O_RDONLY)" "$mpr" "$msr" "$(awk -v a="$msr" -v b="$mpr" 'BEGIN{print a-b}')" "$(ratio "$msr" "$mpr")")
echo "$line"; RESULTS+=("$line")
echo "    plain ns: ${pr[*]}; shim ns: ${sr[*]}"
line=$(printf '%-28s plain %7.0f ns   shim %7.0f ns   added %+6.0f ns  %5sx' \
    "recorded open (O_WRONLY|O_CREAT)" "$mpw" "$msw" "$(awk -v a="$msw" -v b="$mpw" 'BEGIN{print a-b}')" "$(ratio "$msw" "$mpw")")
echo "$line"; RESULTS+=("$line")
echo "    plain ns: ${pw[*]}; shim ns: ${sw[*]}"
fi
stop_writer
rm -rf "$T/w1"
fi

if want efg; then
# --- (e) writer ingest ---------------------------------------------------
SD=$T/w2
if [ -n "${BENCH_STORE:-}" ]; then SD=$BENCH_STORE; fi
DB=$SD/audit.db
if [ -n "${BENCH_STORE:-}" ] && [ -s "$DB" ]; then
    echo "== (e) skipped: reusing the store in $SD ($(maxseq "$DB") records)"
    t0=$(date +%s%N)
    start_writer "$SD" 900
    stop_writer
    line=$(printf '%-28s %.2f s (writer start-up and stop on the kept store; includes creating missing indexes)' \
        "writer start on kept store" "$(awk -v t="$(( $(date +%s%N) - t0 ))" 'BEGIN{print t/1e9}')")
    echo "$line"; RESULTS+=("$line")
else
PER=$(( RECORDS / NPROC ))
echo "== (e) writer ingest: $NPROC processes x $PER recorded opens"
start_writer "$SD"
mkdir -p "$T/flood"
seq0=$(maxseq "$DB")
t0=$(date +%s%N)
pids=()
for ((i = 0; i < NPROC; i++)); do
    env LD_PRELOAD="$SHIM" AUDITSHIM_SOCKET="$SD/sock" "$T/percall" wr "$PER" "$T/flood/f$i" >"$T/flood/out$i" &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
tprod=$(date +%s%N)
tend=$(settle "$DB" 1000)
seq1=$(maxseq "$DB")
hwm=$(awk '/VmHWM/ {print $2, $3}' "/proc/$WPID/status")
opens=$(sqlite3 "file:$DB?mode=ro" "SELECT count(*) FROM records WHERE event = 'open'")
gaps=$(sqlite3 "file:$DB?mode=ro" "SELECT count(*) || ' records, ' || coalesce(sum(json_extract(detail, '\$.count')), 0) || ' lost' FROM records WHERE event = 'gap'")
stop_writer
n=$(( seq1 - seq0 ))
rate=$(awk -v n="$n" -v t="$(( tend - t0 ))" 'BEGIN {printf "%.0f", n / (t / 1e9)}')
line=$(printf '%-28s %d records in %.2f s = %s records/s (target >= 150000); producers done after %.2f s; writer peak RSS %s' \
    "writer ingest (8 procs)" "$n" "$(awk -v t="$((tend - t0))" 'BEGIN{print t/1e9}')" "$rate" \
    "$(awk -v t="$((tprod - t0))" 'BEGIN{print t/1e9}')" "$hwm")
echo "$line"; RESULTS+=("$line")
echo "    open records stored: $opens of $RECORDS sent; gaps: $gaps"
rm -rf "$T/flood"
fi

# --- (f) verify ----------------------------------------------------------
total=$(maxseq "$DB")
du_db=$(du -sh "$SD" | cut -f1)
echo "== (f) verify: $total records ($du_db on disk)"
vt=()
VREPS=3
for ((r = 0; r < VREPS; r++)); do
    t0=$(date +%s%N)
    "$CTL" --db "$DB" --key "$SD/audit.key" verify -q
    vt+=($(( ($(date +%s%N) - t0) / 1000 )))
done
mv=$(median "${vt[@]}")
line=$(printf '%-28s %d records in %.2f s = %.0f records/s (target >= 1000000)' \
    "verify (with MACs)" "$total" "$(awk -v t="$mv" 'BEGIN{print t/1e6}')" "$(awk -v n="$total" -v t="$mv" 'BEGIN{print n/(t/1e6)}')")
echo "$line"; RESULTS+=("$line")
echo "    runs us: ${vt[*]}"
if "$CTL" verify --help | grep -q -- -j; then
    t0=$(date +%s%N)
    "$CTL" --db "$DB" --key "$SD/audit.key" verify -q -j 1
    us=$(( ($(date +%s%N) - t0) / 1000 ))
    line=$(printf '%-28s %d records in %.2f s = %.0f records/s (one thread, for comparison)' \
        "verify -j 1 (with MACs)" "$total" "$(awk -v t="$us" 'BEGIN{print t/1e6}')" "$(awk -v n="$total" -v t="$us" 'BEGIN{print n/(t/1e6)}')")
    echo "$line"; RESULTS+=("$line")
fi

# --- (g) query / report over a window and a session ----------------------
# The flood spans minutes, so a one-hour window around it holds every
# record (the worst case, "all").  A 10M-record store that spans a day
# holds ~1/24 of its records in an hour: "1/24" is the window from the
# time of entry 11N/24 to that of entry 12N/24, in the middle of the store.
first=$(sqlite3 "file:$DB?mode=ro" "SELECT time FROM records ORDER BY seq LIMIT 1")
since=$(date -u -d "$first - 1 minute" +%Y-%m-%dT%H:%M:%SZ)
until=$(date -u -d "$first + 59 minutes" +%Y-%m-%dT%H:%M:%SZ)
inwin=$(sqlite3 "file:$DB?mode=ro" "SELECT count(*) FROM records WHERE time >= '$since' AND time < '$until'")
s24=$(sqlite3 "file:$DB?mode=ro" "SELECT time FROM records WHERE seq = $total * 11 / 24")
u24=$(sqlite3 "file:$DB?mode=ro" "SELECT time FROM records WHERE seq = $total * 12 / 24")
in24=$(sqlite3 "file:$DB?mode=ro" "SELECT count(*) FROM records WHERE time >= '$s24' AND time < '$u24'")
sess=$(sqlite3 "file:$DB?mode=ro" "SELECT session FROM records WHERE seq = $total / 2")
insess=$(sqlite3 "file:$DB?mode=ro" "SELECT count(*) FROM records WHERE session = '$sess'")
echo "== (g) all: one-hour window $since .. $until ($inwin of $total records in it)"
echo "       1/24: window $s24 .. $u24 ($in24 records)"
echo "       session $sess ($insess records)"
GREPS=${GREPS:-3}
timed() {   # RUNS LABEL COUNT CMD...: median of RUNS runs
    local runs=$1 label=$2 count=$3 t0 r
    shift 3
    local -a ts=()
    for ((r = 0; r < runs; r++)); do
        t0=$(date +%s%N)
        "$@" >/dev/null || [ $? = 1 ]
        ts+=($(( ($(date +%s%N) - t0) / 1000 )))
    done
    local us
    us=$(median "${ts[@]}")
    line=$(printf '%-34s %.2f s  (%d records selected; target < 1 s)' "$label" "$(awk -v t="$us" 'BEGIN{print t/1e6}')" "$count")
    echo "$line"; RESULTS+=("$line")
    echo "    runs us: ${ts[*]}"
}
Q=("$CTL" --db "$DB" --key "$SD/audit.key")
timed "$GREPS" "query all, --limit 1000 (table)" "$inwin" "${Q[@]}" query --since "$since" --until "$until" --limit 1000
timed "$GREPS" "query 1/24, --limit 1000 (table)" "$in24" "${Q[@]}" query --since "$s24" --until "$u24" --limit 1000
timed "$GREPS" "query session, --limit 1000" "$insess" "${Q[@]}" query --session "$sess" --limit 1000
timed "$GREPS" "query 1/24, whole (ndjson)" "$in24" "${Q[@]}" query --since "$s24" --until "$u24" -f ndjson
timed "$GREPS" "report 1/24 (json)" "$in24" "${Q[@]}" report --since "$s24" --until "$u24" -f json
timed 1 "query session, whole (ndjson)" "$insess" "${Q[@]}" query --session "$sess" -f ndjson
timed 1 "query all, whole (ndjson)" "$inwin" "${Q[@]}" query --since "$since" --until "$until" -f ndjson
timed 1 "report all (json)" "$inwin" "${Q[@]}" report --since "$since" --until "$until" -f json

fi

echo
echo "== summary"
printf '%s\n' "${RESULTS[@]}"
