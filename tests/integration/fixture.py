# SPDX-License-Identifier: MIT
"""The fixture store of tests/fixtures/ (README.md there), rebuilt from its
text form into a directory: the database from store.sql, the head file
beside it, and the test key as a 0600 file.  Used by the golden and the
rendering tests."""

import os
import re
import shlex
import shutil
import sqlite3
import subprocess

from harness import AUDITCTL, SRC

FIXTURES = os.path.join(SRC, "tests", "fixtures")
GOLDEN = os.path.join(FIXTURES, "golden")
CONF = os.path.join(SRC, "config", "auditshim.ini")


def window():
    """The --since/--until arguments the goldens report on."""
    with open(os.path.join(FIXTURES, "store.window")) as f:
        return shlex.split(f.read())


def materialise(dst):
    """Writes the fixture store into directory DST; returns (db, key)."""
    db = os.path.join(dst, "fixture.db")
    key = os.path.join(dst, "fixture.key")
    with open(os.path.join(FIXTURES, "store.sql")) as f:
        sql = f.read()
    con = sqlite3.connect(db)
    try:
        con.executescript(sql)
    finally:
        con.close()
    shutil.copy(os.path.join(FIXTURES, "store.head"), db + ".head")
    with open(os.path.join(FIXTURES, "store.key.hex")) as f:
        raw = bytes.fromhex("".join(line for line in f
                                    if not line.startswith("#")))
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(raw)
    return db, key


def env(tz="UTC0"):
    """A fixed environment: time zone, locale, no terminal settings."""
    e = {k: v for k, v in os.environ.items()
         if k not in ("TZ", "LANG", "LANGUAGE", "TERM", "COLUMNS")
         and not k.startswith("LC_")}
    e["TZ"] = tz
    e["LC_ALL"] = "C"
    return e


def run(db, key, *args, tz="UTC0"):
    """auditctl over the fixture; returns the CompletedProcess (bytes)."""
    return subprocess.run([AUDITCTL, "-c", CONF, "--db", db, "--key", key]
                          + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                          env=env(tz), timeout=60)


def version():
    out = subprocess.run([AUDITCTL, "-V"], stdout=subprocess.PIPE, text=True,
                         check=True, timeout=30).stdout
    return re.match(r"auditctl \(auditshim\) (\S+)", out).group(1)


def mask_version(data, ver):
    """Our version number as @VERSION@, so a release does not touch the
    goldens (bytes in, bytes out)."""
    pat = rb"(?<![0-9.])" + re.escape(ver.encode()) + rb"(?![0-9.])"
    return re.sub(pat, b"@VERSION@", data)
