# SPDX-License-Identifier: MIT
"""The HTML report as a browser shows it: the fixture store's report
(tests/fixtures/README.md) opened in headless Chromium, its DOM dumped and
a screenshot taken.  The DOM must hold every section and no script; the
screenshot (decoded here with zlib alone) must not be blank and must show
the timeline's marks in each class colour, below the legend.  Skipped,
saying why, when Chromium is not installed (tests/deps.sh installs it)."""

import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
import zlib

import fixture
from harness import main

CHROMIUM = next((p for p in (shutil.which("chromium"), "/usr/bin/chromium",
                             shutil.which("chromium-browser")) if p and
                 os.access(p, os.X_OK)), None)
SKIP_REASON = ("chromium is not installed (tests/deps.sh installs it: Debian "
               "package 'chromium')")
WIDTH, HEIGHT = 1200, 3000
TIMEOUT = 120
# tools/report_html.c: the class lanes and the violation strip.
COLOURS = {"tool_call": (0x1f, 0x77, 0xb4), "memory_write": (0x2c, 0xa0, 0x2c),
           "config_change": (0xff, 0x7f, 0x0e), "other": (0x8c, 0x8c, 0x8c),
           "policy violation": (0xd6, 0x27, 0x28)}
SECTION_IDS = ["summary", "chain", "totals", "timeline", "sessions",
               "process_trees", "tool_calls", "changes", "network_peers",
               "approvals", "violations_by_severity", "violations",
               "blind_spots_and_gaps"]


def png_pixels(data):
    """(width, height, rows): RGB tuples per row, from an 8-bit RGB or
    RGBA PNG, with the scanline filters undone (RFC 2083, 6)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, hdr = 8, [], None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = hdr
    if depth != 8 or ctype not in (2, 6) or interlace:
        raise ValueError("unsupported PNG: depth %d type %d interlace %d" %
                         (depth, ctype, interlace))
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = w * bpp
    prev = bytearray(stride)
    rows = []
    for y in range(h):
        base = y * (stride + 1)
        ft = raw[base]
        line = bytearray(raw[base + 1:base + 1 + stride])
        if ft == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif ft == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif ft == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif ft == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pred) & 255
        elif ft != 0:
            raise ValueError("bad filter %d in row %d" % (ft, y))
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


@unittest.skipUnless(CHROMIUM, SKIP_REASON)
class Render(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="auditshim-render-")
        db, key = fixture.materialise(cls.tmp)
        cp = fixture.run(db, key, "report", *fixture.window(), "-f", "html")
        if cp.returncode != 0:
            raise AssertionError(cp.stderr.decode())
        cls.html = os.path.join(cls.tmp, "report.html")
        with open(cls.html, "wb") as f:
            f.write(cp.stdout)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def chromium(self, *args):
        """Runs headless Chromium on the report; returns its stdout."""
        profile = tempfile.mkdtemp(dir=self.tmp, prefix="profile-")
        argv = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--no-first-run",
                "--disable-extensions", "--hide-scrollbars",
                "--force-device-scale-factor=1",
                "--user-data-dir=" + profile,
                "--window-size=%d,%d" % (WIDTH, HEIGHT)] + list(args) + \
            ["file://" + self.html]
        env = fixture.env()
        env["HOME"] = self.tmp
        try:
            cp = subprocess.run(argv, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, env=env,
                                timeout=TIMEOUT, start_new_session=True)
        except subprocess.TimeoutExpired:
            self.fail("chromium took over %d s" % TIMEOUT)
        self.assertEqual(cp.returncode, 0, cp.stderr.decode(errors="replace"))
        return cp.stdout.decode(errors="replace")

    def test_dom_has_every_section(self):
        dom = self.chromium("--dump-dom")
        for i in SECTION_IDS:
            self.assertIn('id="%s"' % i, dom)
        self.assertIn("<svg", dom)
        # The attacker's argv is text in the DOM, not an element.
        self.assertNotIn("<script", dom.lower())
        self.assertIn("&lt;script&gt;alert(\"argv\")&lt;/script&gt;", dom)

    def test_screenshot_shows_the_timeline(self):
        png = os.path.join(self.tmp, "report.png")
        self.chromium("--screenshot=" + png)
        with open(png, "rb") as f:
            w, h, bpp, rows = png_pixels(f.read())
        self.assertEqual((w, h), (WIDTH, HEIGHT))
        # Not blank: a real share of the page is drawn, in many colours.
        white = bytes([255] * bpp)
        inked = seen = 0
        colours = set()
        where = {name: set() for name in COLOURS}
        want = {c: name for name, c in COLOURS.items()}
        for y, row in enumerate(rows):
            for x in range(0, w * bpp, bpp):
                px = row[x:x + bpp]
                seen += 1
                if px == white:
                    continue
                inked += 1
                rgb = tuple(px[:3])
                colours.add(rgb)
                if rgb in want:
                    where[want[rgb]].add(y)
        self.assertGreater(inked, seen // 50, "the screenshot is nearly blank")
        self.assertGreater(len(colours), 20)
        # Each class colour shows up in the legend (a row shared by all of
        # them) and again lower down: marks drawn in the plot.
        legend = set.intersection(*where.values())
        self.assertTrue(legend, "no legend row with every class colour")
        for name, ys in where.items():
            below = {y for y in ys if y > max(legend)}
            self.assertTrue(below, "no %s mark in the timeline" % name)


if __name__ == "__main__":
    if not CHROMIUM:
        # meson counts exit 77 as a skip, so the summary shows it.
        print("SKIP: " + SKIP_REASON)
        sys.exit(77)
    main()
