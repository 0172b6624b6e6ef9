# SPDX-License-Identifier: MIT
"""Fault and load tests (issue 4): hostile or idle clients while real
shimmed programs record, the database disk filling up, and the writer run
under valgrind.  Each test is bounded (the whole file runs in well under a
minute) and asserts on counts, never on timings."""

import errno
import json
import os
import random
import resource
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

import harness
from harness import PYTHON, RUNTIME, WRITER, Writer, WriterTest, auditctl, dump, main

# N files written by one shimmed process: one recorded open each.
LOOP = r"""
import os, sys
n = int(sys.argv[1])
for i in range(n):
    fd = os.open('f%05d' % i, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.write(fd, b'x')
    os.close(fd)
print('done')
"""


def msg(typ, fields, version=1):
    body = b"".join(struct.pack("<HH", t, len(v)) + v for t, v in fields)
    return (b"ASHM" + bytes([version, typ]) +
            struct.pack("<HI", len(fields), 12 + len(body)) + body)


def u64(x):
    return struct.pack("<Q", x)


GOOD = [(1, u64(4)), (2, u64(1)), (3, u64(77)), (4, u64(1700000000000000000)),
        (9, b"/tmp/fault-raw-client"), (8, u64(0))]


def bad_payloads(rng):
    """Malformed messages of every kind, deterministic for one seed."""
    good = msg(1, GOOD)
    out = [
        b"garbage",
        b"",
        good[:-3],                                   # truncated body
        good[:5],                                    # truncated header
        msg(1, GOOD, version=9),                     # unknown version
        b"ASHM\x01\x01\x00\x00\xff\xff\xff\xff",     # length far too large
        b"ASHM\x01\x01\x01\x00\x0c\x00\x00\x00",     # one field, no bytes
        msg(1, GOOD[:2] + [(9, u64(0)), (9, b"\xff" * 3)]) + b"\x00" * 7,
        msg(1, GOOD + [(999, b"x")]),                # unknown tag
        msg(1, [(9, b"x" * 60000)]),                 # field length overflows u16
        msg(1, GOOD + [(9, b"y" * 20000)]),          # over WIRE_MAX_MSG
    ]
    for _ in range(6):
        out.append(bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 300))))
        hdr = bytearray(good)
        hdr[rng.randrange(len(hdr))] ^= 1 << rng.randrange(8)
        out.append(bytes(hdr))
    return out


class Faults(WriterTest):

    def client(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.connect(self.w.socket)
        s.settimeout(5)
        return s

    def run_loops(self, count, n):
        """COUNT shimmed processes writing N files each, in parallel; returns
        their directories once all have finished successfully."""
        dirs = []
        for i in range(count):
            d = os.path.join(self.work, "p%d" % i)
            os.mkdir(d)
            dirs.append(d)
        procs = [subprocess.Popen([PYTHON, "-c", LOOP, str(n)], cwd=d,
                                  env=self.w.env(), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE) for d in dirs]
        for p in procs:
            out, err = p.communicate(timeout=60)
            self.assertEqual((p.returncode, out), (0, b"done\n"), err)
        return dirs

    def assert_all_opens(self, rows, dirs, n):
        for d in dirs:
            got = {r["target"] for r in rows if r["event"] == "open" and
                   r["target"] and r["target"].startswith(d + "/")}
            want = {os.path.join(d, "f%05d" % i) for i in range(n)}
            self.assertEqual(sorted(want - got)[:5], [], "opens missing in %s" % d)
        # The raw clients (this process) reuse one pseq on purpose.
        self.assert_pseq_complete([r for r in rows if r["pid"] != os.getpid()])
        pids = {r["pid"] for r in rows for d in dirs
                if r["target"] and r["target"].startswith(d + "/")}
        gaps = [r for r in rows if r["event"] == "gap" and r["detail"] and
                r["detail"].get("pid") in pids]
        self.assertEqual(gaps, [], "gaps for the workload:\n" + dump(gaps))

    def test_thousand_silent_connections(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < 1100:
            if hard != resource.RLIM_INFINITY and hard < 1100:
                self.skipTest("RLIMIT_NOFILE hard limit %d < 1100" % hard)
            resource.setrlimit(resource.RLIMIT_NOFILE, (1100, hard))
        idle = []
        try:
            for _ in range(1000):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                s.connect(self.w.socket)
                idle.append(s)
            # Half of them sent a partial thing and went quiet; the rest
            # never said anything.
            for s in idle[::2]:
                s.send(b"ASHM")
            dirs = self.run_loops(3, 300)
            bystander = self.client()
            bystander.send(msg(1, GOOD))
            bystander.close()
            rows = self.w.records()
            self.assert_all_opens(rows, dirs, 300)
            self.assertEqual(len(self.by_event(rows, "open",
                                               target="/tmp/fault-raw-client")), 1)
            self.assertIsNone(self.w.proc.poll(), "writer died")
        finally:
            for s in idle:
                s.close()
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    def test_hostile_clients_during_workload(self):
        stop = threading.Event()
        sent = [0] * 4
        errors = []

        def attacker(k):
            rng = random.Random(4000 + k)
            payloads = bad_payloads(rng)
            try:
                for it in range(400):
                    if stop.is_set():
                        break
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                    try:
                        s.connect(self.w.socket)
                        # Some clients start with a good record, then turn bad.
                        if it % 3 == 0:
                            s.send(msg(1, GOOD))
                        try:
                            s.send(payloads[it % len(payloads)])
                        except OSError:
                            pass   # EMSGSIZE / reset: the writer hung up
                        sent[k] += 1
                    finally:
                        s.close()
            except Exception as e:  # reported by the main thread
                errors.append(repr(e))

        threads = [threading.Thread(target=attacker, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        try:
            dirs = self.run_loops(2, 1000)
        finally:
            stop.set()
            for t in threads:
                t.join(60)
        self.assertEqual(errors, [])
        self.assertGreater(sum(sent), 0)
        self.assertIsNone(self.w.proc.poll(), "writer died:\n" + self.w.read_log()[-2000:])
        rows = self.w.records()
        self.assert_all_opens(rows, dirs, 1000)
        # Still serving new clients after the storm.
        self.w.run(["/bin/sh", "-c", "echo ok > after.txt"], cwd=self.work)
        rows = self.w.records()
        self.one(rows, "open", target=os.path.join(self.work, "after.txt"))


class DiskFull(WriterTest):
    """The database on a small tmpfs that fills up."""

    def setUp(self):
        self.mnt = None
        if os.geteuid() != 0:
            self.skipTest("mounting a tmpfs needs root")
        self.base = tempfile.mkdtemp(prefix="auditshim-diskfull-")
        state = os.path.join(self.base, "state")
        os.mkdir(state, 0o700)
        cp = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700",
                             "auditshim-test", state],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if cp.returncode != 0:
            shutil.rmtree(self.base, ignore_errors=True)
            self.skipTest("cannot mount a tmpfs here: " + cp.stdout.decode().strip())
        self.mnt = state
        super().setUp()
        self.w.db = os.path.join(self.mnt, "audit.db")
        self.w.key = os.path.join(self.mnt, "audit.key")

    def writer_args(self):
        # Database (and key, head, lock) on the small filesystem.
        return ("--db", os.path.join(self.mnt, "audit.db"),
                "--key", os.path.join(self.mnt, "audit.key"))

    def tearDown(self):
        try:
            super().tearDown()
        finally:
            if self.mnt:
                subprocess.run(["umount", self.mnt])
                shutil.rmtree(self.base, ignore_errors=True)

    def fill(self):
        path = os.path.join(self.mnt, "filler")
        chunk = b"\0" * 65536
        with open(path, "wb", buffering=0) as f:
            while True:
                try:
                    f.write(chunk)
                except OSError as e:
                    self.assertEqual(e.errno, errno.ENOSPC)
                    break
            # Squeeze out the last partial blocks too.
            for size in (4096, 512, 1):
                while True:
                    try:
                        f.write(b"\0" * size)
                    except OSError:
                        break
        return path

    def test_disk_full_holds_then_commits(self):
        self.w.run(["/bin/sh", "-c", "echo a > before.txt"], cwd=self.work)
        before = self.w.records()
        self.one(before, "open", target=os.path.join(self.work, "before.txt"))
        filler = self.fill()
        # Enough records that the WAL has to grow: the commit must fail.
        d = os.path.join(self.work, "p0")
        os.mkdir(d)
        cp = self.w.run([PYTHON, "-c", LOOP, "2000"], cwd=d)
        self.assertEqual(cp.stdout, b"done\n")
        deadline = time.monotonic() + 20
        while "COMMIT FAILED" not in self.w.read_log() and time.monotonic() < deadline:
            time.sleep(0.1)
        log = self.w.read_log()
        self.assertIn("COMMIT FAILED", log)
        # The committed data is still there and readable.
        now = harness.query(self.w.db)
        self.assertEqual([r["hash"] for r in now[:len(before)]],
                         [r["hash"] for r in before])
        self.assertIsNone(self.w.proc.poll(), "writer exited on a full disk:\n" + log)
        # Space returns: the held group is committed (retry backoff <= 5 s).
        os.unlink(filler)
        deadline = time.monotonic() + 20
        want = os.path.join(d, "f01999")
        while time.monotonic() < deadline:
            rows = self.w.records(settle=False)
            if any(r["target"] == want for r in rows):
                break
            time.sleep(0.2)
        rows = self.w.records()
        got = {r["target"] for r in rows if r["event"] == "open"}
        missing = [i for i in range(2000) if os.path.join(d, "f%05d" % i) not in got]
        self.assertEqual(missing[:5], [], "held records not committed")
        self.assert_pseq_complete(rows)
        # tearDown stops the writer and verifies the chain twice.


class DiskFullExec(DiskFull):
    """disk_full_action = exec: the command runs once per episode."""

    def writer_args(self):
        self.out = os.path.join(self.base, "disk-full.json")
        conf = os.path.join(self.base, "auditshim.ini")
        with open(conf, "w") as f:
            f.write("[writer]\ndisk_full_action = exec\n"
                    "disk_full_command = cat >> %s\n" % self.out)
        return ("-c", conf) + super().writer_args()

    def test_disk_full_holds_then_commits(self):
        super().test_disk_full_holds_then_commits()
        # One episode (however many retries), one run of the command.
        lines = read(self.out).splitlines()
        self.assertEqual(len(lines), 1, lines)
        ev = json.loads(lines[0])
        self.assertEqual(ev["event"], "disk_full")
        self.assertGreater(ev["held_records"], 0)


class DiskFullStop(DiskFull):
    """disk_full_action = stop: the writer stops; the next start says so."""

    def writer_args(self):
        conf = os.path.join(self.base, "auditshim.ini")
        with open(conf, "w") as f:
            f.write("[writer]\ndisk_full_action = stop\n")
        return ("-c", conf) + super().writer_args()

    def test_disk_full_holds_then_commits(self):
        self.w.run(["/bin/sh", "-c", "echo a > before.txt"], cwd=self.work)
        self.w.records()
        filler = self.fill()
        d = os.path.join(self.work, "p0")
        os.mkdir(d)
        # The program is not affected (fail-open shim): it finishes.
        cp = self.w.run([PYTHON, "-c", LOOP, "2000"], cwd=d)
        self.assertEqual(cp.stdout, b"done\n")
        rc = self.w.proc.wait(60)
        self.w.proc = None
        log = self.w.read_log()
        self.assertEqual(rc, 1, log)
        self.assertIn("disk full: stopping", log)
        # Space returns; the next writer records the unclean stop as a gap.
        os.unlink(filler)
        self.w.start()
        rows = self.w.records()
        starts = self.by_event(rows, "writer_start")
        self.assertEqual(starts[-1]["detail"]["previous_shutdown"], "unclean")
        self.assertTrue([g for g in self.by_event(rows, "gap")
                         if "uncleanly" in (g["detail"] or {}).get("reason", "")])


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


class UnderValgrind(unittest.TestCase):
    """One short integration scenario with the writer under memcheck."""

    def test_writer_memcheck_clean(self):
        vg = shutil.which("valgrind")
        if not vg:
            self.skipTest("valgrind is not installed (tests/deps.sh lists it)")
        if RUNTIME:
            self.skipTest("sanitizer build: valgrind cannot run ASan binaries")
        tmp = tempfile.mkdtemp(prefix="auditshim-vg-")
        os.chmod(tmp, 0o755)
        work = os.path.join(tmp, "work")
        os.mkdir(work)
        vglog = os.path.join(tmp, "valgrind.log")
        # Code generated by PCRE2's JIT has no symbols and reads words past
        # the subject on purpose; memcheck flags it unless PCRE2 was built
        # with --enable-valgrind (Debian's is not).  Suppress conditional
        # jumps whose innermost frame is in such anonymous code only.
        supp = os.path.join(tmp, "pcre2-jit.supp")
        with open(supp, "w") as f:
            f.write("{\n   pcre2-jit-generated-code\n   Memcheck:Cond\n"
                    "   obj:???\n}\n")
        w = Writer(tmp)
        prefix = [vg, "--tool=memcheck", "--error-exitcode=99",
                  "--leak-check=full", "--show-leak-kinds=definite",
                  "--errors-for-leak-kinds=definite", "--track-fds=no",
                  "--suppressions=" + supp,
                  "--log-file=" + vglog]
        ok = False
        try:
            os.makedirs(os.path.dirname(w.socket))
            logf = open(w.log, "ab")
            w.proc = subprocess.Popen(
                prefix + [WRITER, "-f", "--socket", w.socket, "--db", w.db,
                          "--key", w.key],
                stdout=logf, stderr=logf, stdin=subprocess.DEVNULL)
            logf.close()
            deadline = time.monotonic() + 60
            while not w._accepting():
                self.assertIsNone(w.proc.poll(), w.read_log() + read(vglog))
                self.assertLess(time.monotonic(), deadline, "writer did not come up")
                time.sleep(0.1)
            w.run(["/bin/sh", "-c",
                   "for i in 1 2 3 4 5 6 7 8 9 10; do echo $i > f$i; done; "
                   "mkdir d; mv f1 d/g; rm f2; ln -s f3 l; true"], cwd=work)
            # A malformed client and a good raw one: both paths exercised.
            for payload in (b"garbage", msg(1, GOOD)):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                s.connect(w.socket)
                s.send(payload)
                s.close()
            rows = w.records()
            self.assertTrue(any(r["target"] == os.path.join(work, "d", "g")
                                for r in rows), dump(rows))
            rc = w.stop(timeout=60)
            report = read(vglog)
            self.assertEqual(rc, 0, "writer under valgrind exit %s\n%s" % (rc, report[-4000:]))
            self.assertIn("ERROR SUMMARY: 0 errors", report, report[-4000:])
            self.assertNotRegex(report, r"definitely lost: [1-9]", report[-4000:])
            cp = auditctl("--db", w.db, "--key", w.key, "verify")
            self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
            ok = True
        finally:
            if w.proc is not None and w.proc.poll() is None:
                w.proc.kill()
                w.proc.wait()
            if ok and not os.environ.get("AUDITSHIM_KEEP"):
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                print("kept", tmp)


if __name__ == "__main__":
    main()
