# SPDX-License-Identifier: MIT
"""SIGHUP reload end to end: a real writer gets a new configuration file
and SIGHUP, and the records that follow are classified, judged, redacted
and alerted under the new rules; a broken file, a missing one and a
changed [writer] setting are refused with file:line:reason while the
writer stays up under the rules it had (never a half-applied mix); each
attempt is a writer_reload record in the chain."""

import json
import os
import signal
import time

from harness import WriterTest, connect_ro, dump, main


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


# Settings only: every rule family is the shipped one.
CONFIG_A = """[policy]
workspace = %(work)s
[alerts]
syslog = no
"""

# Its own classification, policy and redaction, and an alert command.
CONFIG_B = """[policy]
workspace = %(work)s
[classify:marker]
events = @file
pattern = \\.marker$
class = memory_write
[policy:marker]
events = @file
pattern = \\.marker$
severity = high
message = a marker file was written
[redact]
zebra = Zebra[0-9]+
[alerts]
syslog = no
command = cat >> %(cmd_out)s
"""

# Broken on its last line: the valid [classify:*] above it must not be
# applied either.
CONFIG_C = """[policy]
workspace = %(work)s
[classify:marker]
events = @file
pattern = \\.marker$
class = config_change
[policy:marker]
events = @file
pattern = (unclosed
severity = high
message = m
"""


class Reload(WriterTest):

    def writer_args(self):
        self.config = os.path.join(self.tmp, "auditshim.ini")
        self.alerts = os.path.join(self.tmp, "alerts.ndjson")
        self.cmd_out = os.path.join(self.tmp, "command.out")
        self.vars = {"work": self.work, "cmd_out": self.cmd_out}
        write(self.config, CONFIG_A % self.vars)
        return ["-c", self.config, "--alert-file", self.alerts]

    def reloads(self):
        con = connect_ro(self.w.db)
        try:
            return [json.loads(d) for (d,) in con.execute(
                "SELECT detail FROM records WHERE event = 'writer_reload' "
                "ORDER BY seq")]
        finally:
            con.close()

    def hup(self, text=None):
        """Writes TEXT (None: leaves the file) as the config, sends SIGHUP
        and returns the writer_reload record's detail."""
        if text is not None:
            write(self.config, text % self.vars)
        before = len(self.reloads())
        self.w.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            got = self.reloads()
            if len(got) > before:
                self.assertIsNone(self.w.proc.poll(), self.w.read_log())
                return got[-1]
            time.sleep(0.05)
        self.fail("no writer_reload record after SIGHUP:\n" + self.w.read_log())

    def touch(self, name):
        path = os.path.join(self.work, name)
        self.w.run(["/usr/bin/touch", path])
        rows = self.w.records("event = 'open' AND target = ?", (path,))
        self.assertEqual(len(rows), 1, rows)
        return rows[0]

    def violations(self, seq):
        return [r for r in self.w.records("event = 'policy_violation'")
                if r["detail"]["seq"] == seq]

    def echo_arg(self, word):
        self.w.run(["/bin/sh", "-c", "/bin/echo %s >/dev/null" % word])
        rows = [r for r in self.w.records("event = 'exec'")
                if r["argv"] and r["argv"][0] == "/bin/echo"]
        return rows[-1]["argv"][1]

    def test_reload(self):
        real = self.config  # absolute already: the writer reports it as given
        # A: the shipped rules.
        r = self.touch("one.marker")
        self.assertEqual((r["class"], r["severity"]), ("other", "info"))
        self.assertEqual(self.violations(r["seq"]), [])
        self.assertEqual(self.echo_arg("Zebra1"), "Zebra1")

        # B: applied, and the very next records follow it.
        d = self.hup(CONFIG_B)
        self.assertEqual(d["result"], "applied", d)
        self.assertEqual(d["config"], real)
        self.assertEqual((d["classification_rules"], d["policies"],
                          d["redaction_patterns"]), (1, 1, 1))
        r = self.touch("two.marker")
        self.assertEqual((r["class"], r["severity"]), ("memory_write", "high"))
        v = self.violations(r["seq"])
        self.assertEqual([x["detail"]["policy"] for x in v], ["marker"])
        self.assertRegex(self.echo_arg("Zebra22"), r"^\[REDACTED:[0-9a-f]{8}\]$")
        # The alert command of B's [alerts] runs now.
        deadline = time.monotonic() + 10
        cmd = []
        while time.monotonic() < deadline and not cmd:
            if os.path.exists(self.cmd_out):
                with open(self.cmd_out) as f:
                    cmd = [json.loads(x) for x in f if x.strip()]
            time.sleep(0.05)
        self.assertEqual([(a["policy"], a["seq"]) for a in cmd],
                         [("marker", r["seq"])])

        # C: refused with file:line: reason; B stays in force, whole.
        d = self.hup(CONFIG_C)
        self.assertEqual(d["result"], "refused", d)
        self.assertTrue(d["error"].startswith(real + ":9: [policy:marker]: "
                                              "bad pattern"), d)
        self.assertIn(real + ":9: [policy:marker]: bad pattern",
                      self.w.read_log())
        self.assertIn("reload refused", self.w.read_log())
        r = self.touch("three.marker")
        self.assertEqual((r["class"], r["severity"]), ("memory_write", "high"))
        self.assertEqual([x["detail"]["policy"] for x in
                          self.violations(r["seq"])], ["marker"])
        self.assertRegex(self.echo_arg("Zebra333"), r"^\[REDACTED:[0-9a-f]{8}\]$")

        # A [writer] setting only a restart can change: refused.
        d = self.hup(CONFIG_B + "[writer]\ncommit_max = 7\n")
        self.assertEqual(d["result"], "refused", d)
        self.assertIn("[writer] commit_max changed", d["error"])
        # The file gone: refused, still running.
        os.unlink(self.config)
        d = self.hup()
        self.assertEqual(d["result"], "refused", d)
        self.assertIn("No such file", d["error"])
        r = self.touch("four.marker")
        self.assertEqual((r["class"], r["severity"]), ("memory_write", "high"))

        # Back to A: the shipped rules again.
        d = self.hup(CONFIG_A)
        self.assertEqual(d["result"], "applied", d)
        r = self.touch("five.marker")
        self.assertEqual((r["class"], r["severity"]), ("other", "info"))
        self.assertEqual(self.echo_arg("Zebra4444"), "Zebra4444")

        rows = self.w.final_records()
        self.assertEqual([x["detail"]["result"] for x in rows
                          if x["event"] == "writer_reload"],
                         ["applied", "refused", "refused", "refused",
                          "applied"], dump(rows, 300))
        stop = self.by_event(rows, "writer_stop")
        self.assertEqual(len(stop), 1)
        self.assertEqual(stop[0]["detail"]["signal"], "TERM")


if __name__ == "__main__":
    main()
