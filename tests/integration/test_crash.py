# SPDX-License-Identifier: MIT
"""Power-loss style fault injection (issue 4): the writer is made to die
(_exit, like SIGKILL) just before its Nth storage write, sync, truncate or
delete -- inside a transaction, between a transaction and its head file,
inside a checkpoint -- for many N, while a shimmed program keeps writing
files.  After every crash a normal writer must start on the store (which
re-verifies its tail), `auditctl verify` and the independent re-verifier
must accept the whole chain, every record the crashed writer had put in
its head file must be there, and the crash must show as a gap."""

import os
import random
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from harness import PYTHON, Writer, auditctl, dump, main, query, reverify

LOOP = r"""
import os, sys
for i in range(int(sys.argv[1])):
    fd = os.open('f%05d' % i, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.close(fd)
print('done')
"""

CRASH_EXIT = 86


def head_seq(db):
    try:
        with open(db + ".head") as f:
            for line in f:
                if line.startswith("seq "):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Crash(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="auditshim-crash-")
        os.chmod(self.tmp, 0o755)

    def tearDown(self):
        if not os.environ.get("AUDITSHIM_KEEP"):
            shutil.rmtree(self.tmp, ignore_errors=True)

    def start_crashing(self, w, n, thread=None):
        os.environ["AUDITSHIMD_CRASH_AFTER_IO"] = str(n)
        if thread:
            os.environ["AUDITSHIMD_CRASH_THREAD"] = thread
        try:
            return w.start(expect_fail=True)
        finally:
            del os.environ["AUDITSHIMD_CRASH_AFTER_IO"]
            os.environ.pop("AUDITSHIMD_CRASH_THREAD", None)

    def one_round(self, w, n, work, round_no, files=300, thread=None):
        """Runs a writer that crashes after N storage calls (of THREAD's,
        if given) while a shimmed program writes FILES files; returns the
        writer's exit status."""
        before = head_seq(w.db)
        if self.start_crashing(w, n, thread) != 0:
            rc = w.proc.returncode   # died during start-up
        else:
            d = os.path.join(work, "r%03d" % round_no)
            os.mkdir(d)
            cp = subprocess.run([PYTHON, "-c", LOOP, str(files)], cwd=d,
                                env=w.env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                timeout=120)
            # The program never notices the writer dying.
            self.assertEqual((cp.returncode, cp.stdout), (0, b"done\n"), cp.stderr)
            try:
                rc = w.proc.wait(1)
            except subprocess.TimeoutExpired:
                rc = w.stop()
        w.proc = None
        self.assertIn(rc, (0, CRASH_EXIT), w.read_log()[-2000:])
        if os.environ.get("CRASH_DEBUG"):
            print("crash point", n, "exit", rc)
        # The next writer starts on whatever the crash left, and every
        # record the crashed one had announced in its head file is there.
        announced = head_seq(w.db)
        self.assertGreaterEqual(announced, before)
        w.start()
        self.assertEqual(w.stop(), 0, w.read_log()[-2000:])
        kept = query(w.db, "seq <= ?", (announced,))
        self.assertEqual(len(kept), announced, "records below the head missing")
        cp = auditctl("--db", w.db, "--key", w.key, "verify")
        self.assertEqual(cp.returncode, 0, "after crash at I/O %d:\n%s%s" %
                         (n, cp.stdout, cp.stderr))
        return rc

    def test_crash_at_many_storage_steps(self):
        w = Writer(self.tmp)
        work = os.path.join(self.tmp, "work")
        os.mkdir(work)
        os.chmod(work, 0o777)
        # First through every step of start-up and the first commits,
        # then a spread over what follows (seeded: reproducible).
        rng = random.Random(4)
        points = list(range(1, 40, 3)) + sorted(rng.sample(range(40, 360), 16))
        crashed = 0
        for i, n in enumerate(points):
            if self.one_round(w, n, work, i) == CRASH_EXIT:
                crashed += 1
        self.assertGreater(crashed, len(points) // 2,
                           "the injection point was rarely reached")
        rows = query(w.db, "1")
        errs = reverify.verify(w.db, w.key)
        self.assertEqual(errs, [], errs[:3])
        # Each crash after start-up is a visible gap in the chain.
        starts = [r for r in rows if r["event"] == "writer_start"]
        unclean = [r for r in starts
                   if r["detail"]["previous_shutdown"] == "unclean"]
        gaps = [r for r in rows if r["event"] == "gap" and
                "uncleanly" in (r["detail"] or {}).get("reason", "")]
        self.assertEqual(len(gaps), len(unclean), dump(gaps))
        self.assertGreater(len(unclean), 0, dump(starts))

    def test_crash_inside_background_checkpoints(self):
        """Checkpoints run on a thread and connection of their own
        (store/ckpt.c): a crash in the middle of one leaves a store that
        opens and verifies too.  Only the checkpoint thread's storage
        calls count here; a round of 12,000 records takes the WAL past
        the 1,000 frames that wake the thread, whose first checkpoint
        then makes several hundred calls."""
        w = Writer(self.tmp)
        work = os.path.join(self.tmp, "work")
        os.mkdir(work)
        os.chmod(work, 0o777)
        rng = random.Random(11)
        points = [1] + sorted(rng.sample(range(2, 400), 3))
        crashed = 0
        for i, n in enumerate(points):
            if self.one_round(w, n, work, i, files=12000,
                              thread="auditshimd-ckpt") == CRASH_EXIT:
                crashed += 1
        self.assertGreaterEqual(crashed, 3, w.read_log()[-2000:])
        threads = re.findall(r"fault injection: exit in thread (\S+)",
                             w.read_log())
        self.assertEqual(set(threads), {"auditshimd-ckpt"}, threads)
        errs = reverify.verify(w.db, w.key)
        self.assertEqual(errs, [], errs[:3])

if __name__ == "__main__":
    main()
