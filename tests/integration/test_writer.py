# SPDX-License-Identifier: MIT
"""The writer facing bad clients and operators: malformed messages close
only that client, config errors name file and line, export speaks the
documented field names, reading needs no write access."""

import json
import os
import shutil
import socket
import struct
import subprocess

from harness import AUDITCTL, PYTHON, WRITER, Writer, WriterTest, auditctl, main
from test_tamper import copy_store


def msg(typ, fields, version=1):
    body = b"".join(struct.pack("<HH", t, len(v)) + v for t, v in fields)
    return b"ASHM" + bytes([version, typ]) + struct.pack("<HI", len(fields), 12 + len(body)) + body


def u64(x):
    return struct.pack("<Q", x)


GOOD = [(1, u64(4)), (2, u64(1)), (3, u64(77)), (4, u64(1700000000000000000)),
        (9, b"/tmp/raw-client"), (8, u64(0))]


class WriterFacing(WriterTest):

    def client(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.connect(self.w.socket)
        s.settimeout(5)
        return s

    def assert_closed(self, s):
        try:
            data = s.recv(16)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        self.assertEqual(data, b"")

    def test_raw_client_record(self):
        s = self.client()
        s.send(msg(1, GOOD))
        s.close()
        rows = self.w.records()
        r = self.one(rows, "open", target="/tmp/raw-client")
        self.assertEqual(r["pid"], os.getpid())
        self.assertEqual(r["pseq"], 1)
        self.assertEqual(r["image"], "%016x" % 77)

    def test_malformed_closes_only_that_client(self):
        bad = [b"garbage", msg(1, GOOD)[:-3], msg(1, GOOD, version=9),
               msg(1, GOOD + [(999, b"x")]), b"ASHM\x01\x01\x00\x00\xff\xff\xff\xff",
               msg(1, [(1, u64(4))])]
        bystander = self.client()
        for payload in bad:
            s = self.client()
            s.send(payload)
            self.assert_closed(s)
            s.close()
        # An oversized message (over the protocol maximum).
        s = self.client()
        try:
            s.send(msg(1, GOOD + [(9, b"x" * 20000)]))
        except OSError:
            pass
        self.assert_closed(s)
        # The bystander and new clients are still served.
        bystander.send(msg(1, GOOD))
        bystander.close()
        self.w.run(["/bin/sh", "-c", "echo ok > after.txt"], cwd=self.work)
        rows = self.w.records()
        self.one(rows, "open", target=os.path.join(self.work, "after.txt"))
        self.assertEqual(len(self.by_event(rows, "open", target="/tmp/raw-client")), 1)
        self.assertIn("pid %d" % os.getpid(), self.w.read_log())

    def test_silent_connections_do_not_block(self):
        idle = [self.client() for _ in range(200)]
        self.w.run(["/bin/sh", "-c", "echo ok > busy.txt"], cwd=self.work)
        rows = self.w.records()
        self.one(rows, "open", target=os.path.join(self.work, "busy.txt"))
        for s in idle:
            s.close()

    def test_export_ndjson_fields(self):
        self.w.run(["/bin/sh", "-c", "ls /nonexistent-dir; echo x > e.txt"],
                   cwd=self.work, check=False)
        self.w.settle()
        cp = auditctl("--db", self.w.db, "export", "--format", "ndjson", check=0)
        lines = [json.loads(l) for l in cp.stdout.splitlines()]
        self.assertEqual(len(lines), len(self.w.records()))
        names = ["seq", "time", "recv_time", "host", "session", "agent", "pid",
                 "ppid", "uid", "gid", "exe", "event", "class", "target", "argv",
                 "detail", "result", "errno", "severity"]
        for l in lines:
            self.assertEqual(list(l)[:len(names)], names)
        ex = [l for l in lines if l["event"] == "exec" and l["target"] == "/usr/bin/ls"]
        self.assertEqual(ex[0]["argv"], ["ls", "/nonexistent-dir"])
        self.assertRegex(lines[0]["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
        cp = auditctl("--db", self.w.db, "export", "--format", "csv", check=0)
        self.assertTrue(cp.stdout.startswith("seq,time,"))

    def test_reading_needs_no_write_access(self):
        if os.getuid() != 0:
            self.skipTest("needs root to switch uid")
        self.w.run(["/bin/sh", "-c", "echo x > r.txt"], cwd=self.work)
        self.w.settle()
        d = os.path.join(self.tmp, "ro")
        os.mkdir(d)
        db = os.path.join(d, "audit.db")
        copy_store(self.w.db, db)
        shutil.copy(self.w.key, d + "/audit.key")
        for p in (db, db + ".head", d + "/audit.key"):
            os.chown(p, 65534, 65534)
            os.chmod(p, 0o400)
        os.chown(d, 65534, 65534)
        os.chmod(d, 0o500)
        os.chmod(self.tmp, 0o755)
        cp = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                             AUDITCTL, "--db", db, "--key", d + "/audit.key", "verify"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn("Chain valid", cp.stdout)

    def test_cli_basics(self):
        cp = auditctl("--version", check=0)
        self.assertIn("auditshim", cp.stdout)
        cp = auditctl("--help", check=0)
        self.assertIn("verify", cp.stdout)
        auditctl("no-such-verb", check=2)
        auditctl("--db", "/nonexistent/dir/x.db", "verify", check=2)
        cp = subprocess.run([WRITER, "--version"], stdout=subprocess.PIPE, text=True)
        self.assertEqual(cp.returncode, 0)
        self.assertIn("auditshim", cp.stdout)

    def test_config_errors_name_file_and_line(self):
        cfg = os.path.join(self.tmp, "bad.ini")
        with open(cfg, "w") as f:
            f.write("[writer]\nsocket = /tmp/x\nno_such_key = 1\n")
        cp = subprocess.run([WRITER, "-f", "-c", cfg], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, timeout=10)
        self.assertNotEqual(cp.returncode, 0)
        self.assertIn("%s:3" % cfg, cp.stderr)

    def test_second_writer_refused(self):
        other = subprocess.run([WRITER, "-f", "--socket", self.w.socket, "--db",
                                os.path.join(self.tmp, "other.db"), "--key",
                                os.path.join(self.tmp, "other.key")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, timeout=10)
        self.assertNotEqual(other.returncode, 0)
        # The first writer still serves.
        self.w.run(["/bin/sh", "-c", "echo x > still.txt"], cwd=self.work)
        self.one(self.w.records(), "open", target=os.path.join(self.work, "still.txt"))


class ReadDelay(WriterTest):
    """[writer] read_delay_ms: a trickle of records is read in batches,
    with far fewer wakeups of the writer and nothing lost."""

    def writer_args(self):
        return ("-c", self.conf(0))

    def conf(self, ms):
        path = os.path.join(self.tmp, "delay-%d.ini" % ms)
        with open(path, "w") as f:
            f.write("[writer]\nread_delay_ms = %d\n" % ms)
        return path

    def wakeups(self):
        """Voluntary context switches of the event-loop thread so far."""
        with open("/proc/%d/status" % self.w.proc.pid) as f:
            for line in f:
                if line.startswith("voluntary_ctxt_switches:"):
                    return int(line.split()[1])
        self.fail("no voluntary_ctxt_switches in /proc/PID/status")

    def execs(self, tag, n=100):
        """Runs N rounds of three /bin/true under the shim, rounds 5 ms
        apart (a trickle on any machine: ~16 messages per >= 8 ms, under
        the 3,200/s that read_delay_ms = 20 allows); returns the loop
        thread's wakeups meanwhile, after checking every image_start
        arrived.  Eager wakeups grow with the messages, batched ones only
        with the time taken: three programs a round keep them apart on a
        slow machine too."""
        self.w.settle()
        before = self.wakeups()
        self.w.run(["/bin/sh", "-c", "i=0; while [ $i -lt %d ]; do /bin/true; "
                    "/bin/true; /bin/true; sleep 0.005; i=$((i+1)); done" % n],
                   cwd=self.work, agent=tag)
        self.w.settle()
        after = self.wakeups()
        starts = self.w.records("event = 'image_start' AND agent = ? "
                                "AND target LIKE '%/true'", (tag,))
        self.assertEqual(len(starts), 3 * n, "image_start records of %s" % tag)
        return after - before

    def test_trickle_read_in_batches(self):
        eager = self.execs("eager")
        self.w.stop()
        self.w = Writer(self.tmp, ("-c", self.conf(20)))
        self.w.start()
        batched = self.execs("batched")
        # Eager: a wakeup or more per exec (plus commits); batched: one
        # per 20 ms plus its commit.
        self.assertGreater(eager, 300, "eager writer woke only %d times" % eager)
        self.assertLess(batched, eager // 2,
                        "read_delay_ms = 20 woke %d times, 0 woke %d" %
                        (batched, eager))


if __name__ == "__main__":
    main()
