# SPDX-License-Identifier: MIT
"""Writer killed with SIGKILL and restarted while programs keep recording:
the chain verifies and nothing is missing silently.  A store made before
the readers' indexes existed is read as it is and upgraded on restart."""

import os
import sqlite3
import subprocess
import time

from harness import PYTHON, WriterTest, auditctl, dump, main

LOOP = r"""
import os, sys, time
n = int(sys.argv[1])
for i in range(n):
    fd = os.open('f%05d' % i, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.write(fd, b'x')
    os.close(fd)
    if i % 50 == 0:
        time.sleep(0.01)
print('done')
"""


class Restart(WriterTest):

    def test_sigkill_and_restart_mid_run(self):
        procs = [subprocess.Popen([PYTHON, "-c", LOOP, "1500"], cwd=d,
                                  env=self.w.env(), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
                 for d in self._dirs(3)]
        time.sleep(0.4)
        before = self.w.settle(quiet=0.0, timeout=0.1)
        self.w.kill()
        time.sleep(0.3)
        self.w.start()
        for p in procs:
            out, err = p.communicate(timeout=120)
            self.assertEqual((p.returncode, out), (0, b"done\n"), err)
        rows = self.w.final_records()
        self.assertGreater(len(rows), before or 0)
        starts = self.by_event(rows, "writer_start")
        self.assertEqual(len(starts), 2)
        self.assertEqual(starts[1]["detail"]["previous_shutdown"], "unclean")
        # The crash itself is a visible gap in the chain.
        crash = [g for g in self.by_event(rows, "gap")
                 if "uncleanly" in (g["detail"] or {}).get("reason", "")]
        self.assertEqual(len(crash), 1, dump(self.by_event(rows, "gap")))
        # Every file write is either stored or inside a recorded gap.
        self.assert_pseq_complete(rows)
        for d in self._dirs(3):
            stored = {os.path.basename(r["target"]) for r in rows
                      if r["event"] == "open" and r["target"].startswith(d + "/")}
            self.assertGreater(len(stored), 0)

    def test_clean_restart_continues_chain(self):
        self.w.run(["/bin/sh", "-c", "echo a > a.txt"], cwd=self.work)
        n1 = self.w.settle()
        self.assertEqual(self.w.stop(), 0)
        self.w.start()
        self.w.run(["/bin/sh", "-c", "echo b > b.txt"], cwd=self.work)
        rows = self.w.records()
        self.assertEqual([r["seq"] for r in rows], list(range(1, len(rows) + 1)))
        self.assertGreater(len(rows), n1)
        stops = self.by_event(rows, "writer_stop")
        self.assertEqual(len(stops), 1)
        starts = self.by_event(rows, "writer_start")
        self.assertEqual(starts[1]["detail"]["previous_shutdown"], "clean")
        self.assertFalse([g for g in self.by_event(rows, "gap")])

    def indexes(self):
        con = sqlite3.connect("file:%s?mode=ro" % self.w.db, uri=True)
        names = {r[0] for r in con.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'index' AND "
            "tbl_name = 'records' AND sql IS NOT NULL")}
        con.close()
        return names

    def test_old_store_upgraded_on_restart(self):
        new = {"records_session", "records_window", "records_events",
               "records_notable", "records_exec"}
        self.w.run(["/bin/sh", "-c", "echo a > a.txt; ls > /dev/null"],
                   cwd=self.work)
        self.w.settle()
        self.assertEqual(self.w.stop(), 0)
        self.assertEqual(self.indexes(), new)
        ctl = ("--db", self.w.db, "--key", self.w.key)
        win = ("--since", "2000-01-01T00:00:00Z", "--until",
               "2100-01-01T00:00:00Z")
        report = auditctl(*ctl, "report", *win, "-f", "json", check=0).stdout
        query = auditctl(*ctl, "query", *win, "-f", "ndjson", check=0).stdout
        # The indexes of a store from before them: records_time only.
        con = sqlite3.connect(self.w.db)
        for name in new - {"records_session"}:
            con.execute("DROP INDEX %s" % name)
        con.execute("CREATE INDEX records_time ON records(time)")
        con.commit()
        con.close()
        # auditctl reads it as it is (same answers, other plans) ...
        self.assertEqual(auditctl(*ctl, "query", *win, "-f", "ndjson",
                                  check=0).stdout, query)
        self.assertEqual(auditctl(*ctl, "report", *win, "-f", "json",
                                  check=0).stdout, report)
        # ... and the writer upgrades it when it opens it.
        self.w.start()
        self.assertEqual(self.indexes(), new)
        self.w.run(["/bin/sh", "-c", "echo b > b.txt"], cwd=self.work)
        self.w.settle()

    def _dirs(self, n):
        out = []
        for i in range(n):
            d = os.path.join(self.work, "p%d" % i)
            os.makedirs(d, exist_ok=True)
            out.append(d)
        return out


if __name__ == "__main__":
    main()
