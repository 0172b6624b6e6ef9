# SPDX-License-Identifier: MIT
"""Secure-execution mode (AT_SECURE, issue 3): a setgid program run by an
unprivileged user loads the shim only from a standard library directory
with the set-user-ID bit (that is how an operator installs it for such
programs), and the shim must then ignore every environment knob: the
agent cannot redirect records to its own socket (AUDITSHIM_SOCKET), label
them (AUDITSHIM_AGENT) or change the failure mode (AUDITSHIM_FAIL).

The test installs a copy of the shim in the multiarch library directory
for its duration, runs a writer on the compiled-in default socket (so the
records have somewhere to go), and removes both afterwards.  It needs
root and skips when the default socket is in use by a real writer."""

import os
import shutil
import socket
import subprocess
import tempfile
import unittest

from harness import RUNTIME, SHIM, Writer, dump, main, query

LIBDIR = "/usr/lib/x86_64-linux-gnu"
DEFAULT_SOCKET = "/run/auditshim/auditshim.sock"


def socket_in_use(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


class SecureExecution(unittest.TestCase):

    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("needs root (installs a set-user-ID library)")
        if RUNTIME:
            self.skipTest("sanitizer build: the loader will not preload the "
                          "sanitizer runtime by path in secure-execution mode, "
                          "and the shim cannot load without it")
        if not os.path.isdir(LIBDIR):
            self.skipTest("needs " + LIBDIR)
        if socket_in_use(DEFAULT_SOCKET):
            self.skipTest("a writer already serves " + DEFAULT_SOCKET)
        self.cleanup = []
        self.tmp = tempfile.mkdtemp(prefix="auditshim-secure-", dir="/var/tmp")
        self.cleanup.append(lambda: shutil.rmtree(self.tmp, ignore_errors=True))
        os.chmod(self.tmp, 0o755)
        self.lib = "libauditshim-test-%d.so" % os.getpid()
        path = os.path.join(LIBDIR, self.lib)
        shutil.copyfile(SHIM, path)
        self.cleanup.append(lambda: os.unlink(path))
        os.chmod(path, 0o4755)
        # A setgid-root program: run by nobody, it starts with AT_SECURE.
        self.prog = os.path.join(self.tmp, "sgid-touch")
        shutil.copyfile(shutil.which("touch"), self.prog)
        os.chown(self.prog, 0, 0)
        os.chmod(self.prog, 0o2755)
        self.work = os.path.join(self.tmp, "work")
        os.mkdir(self.work)
        os.chmod(self.work, 0o777)
        # The writer on the compiled-in default socket.
        run_dir = os.path.dirname(DEFAULT_SOCKET)
        if not os.path.isdir(run_dir):
            os.makedirs(run_dir)
            self.cleanup.append(lambda: shutil.rmtree(run_dir, ignore_errors=True))
        self.w = Writer(self.tmp)
        self.w.socket = DEFAULT_SOCKET
        self.w.start()
        self.cleanup.append(self.w.stop)
        # The agent's own socket, which it must not be able to point us at.
        self.decoy_path = os.path.join(self.tmp, "decoy.sock")
        self.decoy = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.decoy.bind(self.decoy_path)
        os.chmod(self.decoy_path, 0o666)
        self.decoy.listen(16)
        self.decoy.setblocking(False)
        self.cleanup.append(self.decoy.close)

    def tearDown(self):
        for fn in reversed(self.cleanup):
            try:
                fn()
            except OSError:
                pass

    def run_agent(self, name):
        env = {"PATH": "/usr/bin:/bin", "LD_PRELOAD": self.lib,
               "AUDITSHIM_SOCKET": self.decoy_path, "AUDITSHIM_AGENT": "forged",
               "AUDITSHIM_FAIL": "closed"}
        target = os.path.join(self.work, name)
        # The ids are dropped in the child before the exec: no shimmed
        # helper (setpriv would be one) runs in between.
        cp = subprocess.run([self.prog, target], env=env, user=65534,
                            group=65534, extra_groups=[],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            timeout=60)
        return cp, target

    def test_knobs_ignored_in_secure_execution(self):
        cp, target = self.run_agent("made-by-sgid")
        # Fail-closed was not honoured: the file exists (with the writer up
        # the open would succeed either way, so see below for the socket).
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertTrue(os.path.exists(target))
        # Nothing reached the agent's socket...
        with self.assertRaises(BlockingIOError):
            self.decoy.accept()
        # ...and the records reached the writer on the default socket,
        # unlabelled, with secure-execution noted.
        self.w.settle()
        rows = query(self.w.db)
        starts = [r for r in rows if r["event"] == "image_start"
                  and r["uid"] == 65534]
        self.assertTrue(starts, dump(rows))
        self.assertIs(starts[0]["detail"]["secure"], True, dump(starts))
        opens = [r for r in rows if r["event"] == "open" and r["target"] == target]
        self.assertEqual(len(opens), 1, dump(rows))
        self.assertIsNone(opens[0]["agent"], dump(opens))

    def test_fail_closed_knob_ignored_without_writer(self):
        # With no writer at all, AUDITSHIM_FAIL=closed would refuse the
        # open; in secure-execution mode the knob is ignored: fail-open.
        self.w.stop()
        cp, target = self.run_agent("made-without-writer")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertTrue(os.path.exists(target))


if __name__ == "__main__":
    main()
