# SPDX-License-Identifier: MIT
"""The agent's uid cannot read or write the store or the key, yet its
records arrive attested with its own uid."""

import os
import subprocess

from harness import PYTHON, WriterTest, main

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


class Permissions(WriterTest):

    def test_modes(self):
        st = os.stat(os.path.dirname(self.w.db))
        self.assertEqual(st.st_mode & 0o777, 0o700)
        for path in (self.w.db, self.w.key):
            self.assertEqual(os.stat(path).st_mode & 0o777, 0o600, path)
        for suffix in ("-wal", "-shm", ".head"):
            if os.path.exists(self.w.db + suffix):
                self.assertEqual(os.stat(self.w.db + suffix).st_mode & 0o077, 0,
                                 self.w.db + suffix)

    def test_unprivileged_cannot_read_or_write(self):
        if os.getuid() != 0:
            self.skipTest("needs root to switch to an unprivileged uid")
        code = ("import sys\n"
                "for p in sys.argv[1:]:\n"
                "    for mode in ('rb', 'ab'):\n"
                "        try:\n"
                "            open(p, mode)\n"
                "            print('OPENED', p, mode)\n"
                "        except PermissionError:\n"
                "            pass\n")
        cp = subprocess.run(NOBODY + [PYTHON, "-c", code, self.w.db, self.w.key,
                                      self.w.db + "-wal", os.path.dirname(self.w.db) + "/new"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.assertEqual(cp.stdout, b"", cp.stderr)
        self.assertEqual(cp.returncode, 0, cp.stderr)

    def test_unprivileged_agent_is_recorded_with_its_uid(self):
        if os.getuid() != 0:
            self.skipTest("needs root to switch to an unprivileged uid")
        cp = subprocess.run(NOBODY + ["/bin/sh", "-c", "echo x > nobody.txt"],
                            cwd=self.work, env=self.w.env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        rows = self.w.records()
        r = self.one(rows, "open", target=os.path.join(self.work, "nobody.txt"))
        self.assertEqual((r["uid"], r["gid"]), (65534, 65534))


if __name__ == "__main__":
    main()
