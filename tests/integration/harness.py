# SPDX-License-Identifier: MIT
"""Integration-test harness: a real auditshimd on a temporary socket and
database, real programs run under the real libauditshim.so, records read
back from the real SQLite store.  Used by the test_*.py files beside it."""

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

BUILD = os.environ.get("AUDITSHIM_BUILD") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build")
BUILD = os.path.abspath(BUILD)
SRC = os.path.abspath(os.environ.get("AUDITSHIM_SRC") or
                      os.path.join(os.path.dirname(__file__), "..", ".."))
SHIM = os.path.join(BUILD, "shim", "libauditshim.so")
WRITER = os.path.join(BUILD, "store", "auditshimd")
AUDITCTL = os.path.join(BUILD, "tools", "auditctl")
PROGS = os.path.join(BUILD, "tests")
# In a sanitizer build the shim needs the sanitizer runtime loaded first
# (tests/run-all.sh sets AUDITSHIM_TEST_RUNTIME); leak checking is for our
# own programs, not for every host process that carries the shim.
RUNTIME = os.environ.get("AUDITSHIM_TEST_RUNTIME", "")
PRELOAD = (RUNTIME + " " + SHIM) if RUNTIME else SHIM
# The system interpreter, not a version-manager wrapper script.
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable

sys.path.insert(0, os.path.dirname(__file__))
import reverify  # noqa: E402


class Writer:
    """One auditshimd in the foreground on private paths under DIR."""

    def __init__(self, tmpdir, extra_args=()):
        self.dir = tmpdir
        self.socket = os.path.join(tmpdir, "run", "auditshim.sock")
        self.db = os.path.join(tmpdir, "state", "audit.db")
        self.key = os.path.join(tmpdir, "state", "audit.key")
        self.log = os.path.join(tmpdir, "writer.log")
        self.extra = list(extra_args)
        self.proc = None

    def start(self, expect_fail=False, timeout=10.0):
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [WRITER, "-f", "--socket", self.socket, "--db", self.db,
             "--key", self.key] + self.extra,
            stdout=logf, stderr=logf, stdin=subprocess.DEVNULL)
        logf.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                if expect_fail:
                    return self.proc.returncode
                raise AssertionError("writer exited %d:\n%s" %
                                     (self.proc.returncode, self.read_log()))
            if self._accepting():
                return 0
            time.sleep(0.02)
        raise AssertionError("writer did not come up:\n" + self.read_log())

    def _accepting(self):
        # A socket file may be left over from a killed writer: ready means
        # a connection is accepted, not that the path exists.
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            s.connect(self.socket)
            return True
        except OSError:
            return False
        finally:
            s.close()

    def read_log(self):
        try:
            with open(self.log, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=20.0):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            raise AssertionError("writer ignored signal %d" % sig)
        self.proc = None
        return rc

    def kill(self):
        return self.stop(signal.SIGKILL)

    def env(self, base=None, agent=None):
        env = dict(os.environ if base is None else base)
        env["LD_PRELOAD"] = PRELOAD
        env["AUDITSHIM_SOCKET"] = self.socket
        if agent:
            env["AUDITSHIM_AGENT"] = agent
        if RUNTIME:
            env["ASAN_OPTIONS"] = "detect_leaks=0:verify_asan_link_order=0"
        return env

    def run(self, argv, agent=None, env=None, check=True, timeout=120, **kw):
        """Runs ARGV under the shim; returns the CompletedProcess."""
        cp = subprocess.run(argv, env=self.env(env, agent), timeout=timeout,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, **kw)
        if check and cp.returncode != 0:
            raise AssertionError("%r exited %d\nstdout: %s\nstderr: %s" %
                                 (argv, cp.returncode, cp.stdout, cp.stderr))
        return cp

    def records(self, where="1", params=(), settle=True):
        """Rows of the records table as dicts (argv/detail decoded)."""
        if settle:
            self.settle()
        return query(self.db, where, params)

    def final_records(self):
        """Stops the writer (which turns every still-open sequence hole
        into a gap record) and returns all rows."""
        if self.proc is not None:
            rc = self.stop()
            if rc != 0:
                raise AssertionError("writer exit %s\n%s" % (rc, self.read_log()))
        return query(self.db)

    def settle(self, quiet=0.3, timeout=15.0):
        """Waits until the store stops growing (group commit is async): the
        record count and the writer's CPU time both unchanged, and none of
        its threads running or waiting for the disk, for QUIET seconds.  A
        commit whose fsync is slow uses no CPU while it waits; its thread's
        state ('D') shows it."""
        deadline = time.monotonic() + timeout
        last, since = None, time.monotonic()
        while time.monotonic() < deadline:
            n = (count(self.db), self._cpu_ticks())
            if n != last or self._working():
                last, since = n, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return n[0]
            time.sleep(0.05)
        return last[0] if last else 0

    def thread_stats(self):
        """/proc/PID/task/TID/stat of every writer thread, as the fields
        after the command name (proc(5) field 3 is [0]); [] if the writer
        is not running."""
        if self.proc is None or self.proc.poll() is not None:
            return []
        task = "/proc/%d/task" % self.proc.pid
        try:
            tids = os.listdir(task)
        except OSError:
            return []
        out = []
        for tid in tids:
            try:
                with open("%s/%s/stat" % (task, tid)) as f:
                    out.append(f.read().rsplit(")", 1)[1].split())
            except OSError:
                continue
        return out

    def _working(self):
        """True if a writer thread is running or in an uninterruptible
        (disk) wait."""
        return any(f[0] in ("R", "D") for f in self.thread_stats())

    def _cpu_ticks(self):
        """utime + stime of every writer thread, or None (not running)."""
        if self.proc is None or self.proc.poll() is not None:
            return None
        try:
            with open("/proc/%d/stat" % self.proc.pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return int(fields[11]) + int(fields[12])
        except OSError:
            return None


def connect_ro(db):
    return sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)


def count(db):
    if not os.path.exists(db):
        return 0
    con = connect_ro(db)
    try:
        return con.execute("SELECT count(*) FROM records").fetchone()[0]
    finally:
        con.close()


def query(db, where="1", params=()):
    con = connect_ro(db)
    con.row_factory = sqlite3.Row
    try:
        rows = con.execute("SELECT * FROM records WHERE %s ORDER BY seq" % where,
                           params).fetchall()
    finally:
        con.close()
    out = []
    for r in rows:
        d = dict(r)
        d["argv"] = json.loads(d["argv"]) if d["argv"] is not None else None
        d["detail"] = json.loads(d["detail"]) if d["detail"] is not None else None
        out.append(d)
    return out


def auditctl(*args, check=None, **kw):
    cp = subprocess.run([AUDITCTL] + list(args), stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, text=True, **kw)
    if check is not None and cp.returncode != check:
        raise AssertionError("auditctl %s: exit %d (want %d)\n%s\n%s" %
                             (" ".join(args), cp.returncode, check, cp.stdout,
                              cp.stderr))
    return cp


class WriterTest(unittest.TestCase):
    """Base class: a fresh writer per test, stopped and verified after."""

    verify_after = True

    def writer_args(self):
        """Extra auditshimd arguments for this test (e.g. -c FILE); the
        test's self.tmp and self.work already exist when this is called."""
        return ()

    def setUp(self):
        for path in (SHIM, WRITER, AUDITCTL):
            if not os.path.exists(path):
                self.fail("not built: " + path)
        self.tmp = tempfile.mkdtemp(prefix="auditshim-test-")
        os.chmod(self.tmp, 0o755)
        self.work = os.path.join(self.tmp, "work")
        os.mkdir(self.work)
        os.chmod(self.work, 0o777)
        self.w = Writer(self.tmp, self.writer_args())
        self.w.start()

    def tearDown(self):
        ok = True
        try:
            if self.w.proc is not None:
                rc = self.w.stop()
                if rc != 0:
                    ok = False
                    print("writer exit %s\n%s" % (rc, self.w.read_log()))
            if self.verify_after and os.path.exists(self.w.db):
                cp = auditctl("--db", self.w.db, "--key", self.w.key, "verify")
                if cp.returncode != 0:
                    ok = False
                    print("verify failed:", cp.stdout, cp.stderr)
                errs = reverify.verify(self.w.db, self.w.key)
                if errs:
                    ok = False
                    print("independent re-verification failed:", errs[:3])
        finally:
            if ok and not os.environ.get("AUDITSHIM_KEEP"):
                shutil.rmtree(self.tmp, ignore_errors=True)
            else:
                print("kept", self.tmp)
        self.assertTrue(ok, "post-test verification failed (see output)")

    # Helpers for exact record checks.
    def by_event(self, rows, event, **match):
        out = []
        for r in rows:
            if r["event"] != event:
                continue
            if all(r.get(k) == v for k, v in match.items()):
                out.append(r)
        return out

    def one(self, rows, event, **match):
        got = self.by_event(rows, event, **match)
        self.assertEqual(len(got), 1, "want exactly one %s %r, got %d:\n%s" %
                         (event, match, len(got), dump(rows)))
        return got[0]

    def assert_pseq_complete(self, rows):
        """Every (pid, image) seen has pseq 1..max, each present exactly
        once or covered by a gap record.  The writer turns a sequence hole
        into a gap record only TRACK_HOLE_MS (2 s) after it opens (a late
        record may still fill it), so what is missing in ROWS is looked at
        again, in fresh rows, once that time has passed."""
        missing = pseq_missing(self, rows)
        if missing and self.w.proc is not None:
            time.sleep(2.5)
            missing = pseq_missing(self, self.w.records())
        for key, seqs in missing.items():
            self.fail("pseq silently missing for %r: %s" % (key, seqs[:20]))


def pseq_missing(test, rows):
    """{(pid, image): [pseq, ...]} that no record and no gap accounts for;
    fails TEST on a duplicate pseq."""
    seen = {}
    for r in rows:
        # Shim-sent gap reports carry a pseq of their own; writer-made
        # gap records have none.
        if r["pseq"] is not None and r["image"] is not None:
            seen.setdefault((r["pid"], r["image"]), []).append(r["pseq"])
    covered = {}
    for r in rows:
        if r["event"] == "gap" and r["detail"] and "first_pseq" in r["detail"]:
            d = r["detail"]
            key = (d.get("pid"), d.get("image"))
            covered.setdefault(key, set()).update(
                range(d["first_pseq"], d["first_pseq"] + d["count"]))
    out = {}
    for key, seqs in seen.items():
        test.assertEqual(len(seqs), len(set(seqs)), "duplicate pseq %r" % (key,))
        want = set(range(1, max(seqs) + 1))
        missing = want - set(seqs) - covered.get(key, set())
        if missing:
            out[key] = sorted(missing)
    return out

def dump(rows, limit=60):
    lines = []
    for r in rows[:limit]:
        lines.append("%5s %-11s %-6s pid=%s pseq=%s %s %s %s" % (
            r["seq"], r["event"], r["result"], r["pid"], r["pseq"],
            r["target"], r["argv"] or "", r["errno"] or ""))
    return "\n".join(lines)


def main():
    unittest.main(verbosity=2)
