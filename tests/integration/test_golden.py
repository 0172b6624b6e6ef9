# SPDX-License-Identifier: MIT
"""Golden outputs: every report format, every export format and query,
run over the fixture store (tests/fixtures/README.md) and compared byte
for byte with tests/fixtures/golden/.  Our version number is masked; the
time zone is fixed, and each output is also produced under another time
zone and must not change.  A mismatch fails with a unified diff.

To regenerate the goldens deliberately (after changing an output, or the
fixture), run with AUDITSHIM_UPDATE_GOLDEN=1 and review `git diff`:

    AUDITSHIM_UPDATE_GOLDEN=1 meson test -C build integration-golden
"""

import difflib
import json
import os
import shutil
import tempfile
import unittest
from html.parser import HTMLParser

import fixture
import reverify
from harness import main

UPDATE = os.environ.get("AUDITSHIM_UPDATE_GOLDEN") == "1"
# A time zone far from UTC, with a half-hour offset (POSIX rule: no
# tzdata needed).
OTHER_TZ = "IST-5:30"
MAX_DIFF_LINES = 200

WINDOW = fixture.window()
CASES = [
    ("report.txt", ["report"] + WINDOW),
    ("report.md", ["report"] + WINDOW + ["-f", "markdown"]),
    ("report.json", ["report"] + WINDOW + ["-f", "json"]),
    ("report.csv", ["report"] + WINDOW + ["-f", "csv"]),
    ("report.html", ["report"] + WINDOW + ["-f", "html"]),
    ("export.ndjson", ["export"]),
    ("export.csv", ["export", "-f", "csv"]),
    ("export.ocsf.ndjson", ["export", "-f", "ocsf"]),
    ("query.txt", ["query", "--event", "exec,spawn,image_start"]),
    ("query-violations.csv", ["query", "--severity", "low+", "-f", "csv"]),
    ("query-last.ndjson", ["query", "--limit", "3", "-f", "ndjson"]),
]
SECTION_IDS = ["chain", "totals", "timeline", "sessions", "tool_calls",
               "changes", "network_peers", "approvals",
               "violations_by_severity", "violations",
               "blind_spots_and_gaps"]


def pretty(data, name):
    """Lines to diff: JSON documents (one, or one per line) indented, so
    a change shows as the member that changed; other text as it is."""
    text = data.decode("utf-8", "replace")
    try:
        if name.endswith(".json"):
            return json.dumps(json.loads(text), indent=1).splitlines()
        if name.endswith(".ndjson"):
            return [x for line in text.splitlines()
                    for x in json.dumps(json.loads(line), indent=1).splitlines()]
    except ValueError:
        pass
    return text.splitlines()


def readable_diff(want, got, name):
    """A unified diff of two outputs, line endings shown when they are
    all that differs."""
    a = pretty(want, name)
    b = pretty(got, name)
    lines = list(difflib.unified_diff(a, b, "golden/" + name, "actual",
                                      lineterm="", n=2))
    if not lines:
        a = [repr(x) for x in want.decode("utf-8", "replace").splitlines(True)]
        b = [repr(x) for x in got.decode("utf-8", "replace").splitlines(True)]
        lines = list(difflib.unified_diff(a, b, "golden/" + name, "actual",
                                          lineterm="", n=1))
    if len(lines) > MAX_DIFF_LINES:
        lines = lines[:MAX_DIFF_LINES] + ["... (%d more diff lines)" %
                                          (len(lines) - MAX_DIFF_LINES)]
    return "\n".join(lines)


class Tags(HTMLParser):
    """Every start tag and its attributes, as a browser's parser sees them."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags = []
        self.text = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


class Golden(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="auditshim-golden-")
        cls.db, cls.key = fixture.materialise(cls.tmp)
        cls.version = fixture.version()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def out(self, args, tz="UTC0"):
        cp = fixture.run(self.db, self.key, *args, tz=tz)
        self.assertEqual(cp.returncode, 0, (args, cp.stderr))
        self.assertEqual(cp.stderr, b"", args)
        return fixture.mask_version(cp.stdout, self.version)

    def test_fixture_is_a_valid_chain(self):
        # The text form restores the writer's store exactly: our verifier
        # and the independent one both accept every hash and MAC.
        cp = fixture.run(self.db, self.key, "verify")
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertIn(b"Chain valid", cp.stdout)
        self.assertEqual(reverify.verify(self.db, self.key), [])

    def test_goldens(self):
        os.makedirs(fixture.GOLDEN, exist_ok=True)
        for name, args in CASES:
            with self.subTest(golden=name):
                got = self.out(args)
                # Not the local time zone: the same bytes elsewhere.
                self.assertEqual(self.out(args, tz=OTHER_TZ), got,
                                 "%s depends on TZ" % name)
                path = os.path.join(fixture.GOLDEN, name)
                if UPDATE:
                    with open(path, "wb") as f:
                        f.write(got)
                    print("updated", path)
                    continue
                if not os.path.exists(path):
                    self.fail("no golden %s: run with "
                              "AUDITSHIM_UPDATE_GOLDEN=1 to create it" % path)
                with open(path, "rb") as f:
                    want = f.read()
                if want != got:
                    self.fail("output differs from golden/%s (regenerate "
                              "deliberately with AUDITSHIM_UPDATE_GOLDEN=1):"
                              "\n%s" % (name, readable_diff(want, got, name)))

    # What the goldens must say, checked on their own: a golden
    # regenerated without looking cannot make these pass.

    def test_html_is_escaped_and_complete(self):
        doc = self.out(["report"] + WINDOW + ["-f", "html"]).decode()
        p = Tags()
        p.feed(doc)
        p.close()
        tags = {t for t, _ in p.tags}
        self.assertNotIn("script", tags)
        self.assertNotIn("img", tags)
        self.assertNotIn("b", tags)
        for tag, attrs in p.tags:
            for a in attrs:
                self.assertFalse(a.startswith("on"), (tag, attrs))
            for a, v in attrs.items():
                if a != "xmlns":
                    self.assertNotIn("http", v or "", (tag, attrs))
        self.assertNotIn("<script", doc.lower())
        self.assertIn("&lt;script&gt;alert(&quot;argv&quot;)&lt;/script&gt;",
                      doc)
        text = "".join(p.text)
        # The attacker's text is shown, as text.
        self.assertIn('<script>alert("argv")</script> & <b>bold</b>', text)
        self.assertIn("<img src=x onerror=alert(1)>.md", text)
        self.assertIn("second-agent<b>&", text)
        ids = [a.get("id") for _, a in p.tags if a.get("id")]
        for i in SECTION_IDS:
            self.assertIn(i, ids)
        self.assertEqual(len(ids), len(set(ids)), "duplicate ids")
        # No external resource of any kind, and a policy that says so.
        self.assertIn("default-src 'none'", doc)
        for tag, attrs in p.tags:
            self.assertNotIn(tag, ("link", "iframe", "object", "embed"))
            self.assertFalse({"src", "href"} & set(attrs) and
                             not (attrs.get("href") or "").startswith("#"),
                             (tag, attrs))
        # The timeline: one row per session, marks of every class.
        self.assertIn("<svg", doc)
        self.assertEqual(doc.count('<g class="session">'), 2)
        for colour in ("#1f77b4", "#2ca02c", "#ff7f0e", "#8c8c8c", "#d62728"):
            # legend square plus at least one mark
            self.assertGreaterEqual(doc.count('fill="%s"' % colour), 2, colour)
        self.assertIn("time (UTC)", doc)

    def test_process_trees(self):
        rep = json.loads(self.out(["report"] + WINDOW + ["-f", "json"]))
        rows = {r["agent"]: r for r in rep["sections"]["sessions"]["rows"]}
        shell = rows["fixture-agent"]["process_tree"]
        self.assertEqual(len(shell["children"]), 1)
        root = shell["children"][0]
        self.assertEqual(root["program"], "/usr/bin/dash")
        kids = {c["program"]: c for c in root["children"]}
        # The loop's three echos and the first one, merged.
        self.assertEqual(kids["/bin/echo"]["count"], 4)
        self.assertEqual(kids["/nonexistent/tool"]["errors"], 1)
        sh = kids["/usr/bin/sh"]
        self.assertEqual(sh["count"], 2)
        self.assertEqual({c["program"] for c in sh["children"]},
                         {"/usr/bin/cat", "/usr/bin/wc", "/usr/bin/grep",
                          "/usr/bin/sh"})
        py = rows["second-agent<b>&"]["process_tree"]["children"][0]
        self.assertEqual(py["program"], "/usr/bin/python3.11")
        kids = {c["program"]: c["count"] for c in py["children"]}
        # posix_spawn, system() (its image_start came before the spawn
        # record) and fork+exec: no child counted twice.
        self.assertEqual(kids, {"/bin/true": 1, "/bin/echo": 1, "/bin/sh": 2})
        # Text and markdown indent the same tree.
        text = self.out(["report"] + WINDOW).decode()
        self.assertIn("\n    /usr/bin/dash (1)\n      /bin/echo (4)\n",
                      text)
        self.assertIn("\n        /usr/bin/cat (1)\n", text)
        self.assertIn("/nonexistent/tool (1, 1 failed)", text)
        md = self.out(["report"] + WINDOW + ["-f", "markdown"]).decode()
        self.assertIn("\n- /usr/bin/dash (1)\n  - /bin/echo (4)\n", md)
        self.assertIn("second-agent\\<b\\>&", md)
        csv_text = self.out(["report"] + WINDOW + ["-f", "csv"]).decode()
        self.assertIn("process_tree,2,program,/usr/bin/dash\r\n", csv_text)

    def test_violations_name_their_rule(self):
        rep = json.loads(self.out(["report"] + WINDOW + ["-f", "json"]))
        rules = {(v["event"], v["rule"]) for v in
                 rep["sections"]["violations"]["rows"]}
        self.assertEqual(rules, {("open", "guardrails"),
                                 ("policy_violation", "guardrails"),
                                 ("exec", "pipe_to_shell"),
                                 ("policy_violation", "pipe_to_shell"),
                                 ("blind_spot", "blind_spot"),
                                 ("policy_violation", "blind_spot")})


if __name__ == "__main__":
    main()
