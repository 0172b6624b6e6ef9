#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""An independent re-verifier of an auditshim chain, written only from
docs/record-format.md with the Python standard library -- the proof that a
third party can check a store without our code.

usage: reverify.py DATABASE [KEYFILE]
Prints "OK <n> records" or the first problem; exit 0 / 1."""

import hashlib
import hmac
import sqlite3
import struct
import sys

FIELDS = ["seq", "time", "recv_time", "host", "session", "agent", "pid",
          "ppid", "uid", "gid", "exe", "event", "class", "target", "argv",
          "detail", "result", "errno", "severity", "pseq", "image",
          "key_epoch"]
MAGIC = b"auditshim-record-v1\n"


def item(v):
    if v is None:
        return struct.pack("<I", 0xFFFFFFFF)
    if isinstance(v, int):
        b = str(v).encode()
    elif isinstance(v, bytes):
        b = v
    else:
        b = v.encode("utf-8", "surrogateescape")
    return struct.pack("<I", len(b)) + b


def canonical(row):
    return MAGIC + b"".join(item(row[f]) for f in FIELDS)


def verify(db, keyfile=None, limit=None):
    """Returns a list of problems (empty when the chain is valid)."""
    key = None
    if keyfile:
        try:
            with open(keyfile, "rb") as f:
                key = f.read()
        except OSError:
            key = None
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    # Text columns are hashed as stored bytes, whatever their encoding.
    con.text_factory = bytes
    con.row_factory = sqlite3.Row
    errs = []
    prev = bytes(32)
    expect = 1
    cols = ", ".join('"%s"' % f for f in FIELDS)
    for row in con.execute("SELECT %s, prev_hash, hash, mac FROM records "
                           "ORDER BY seq" % cols):
        seq = row["seq"]
        if seq != expect:
            errs.append("entry %d: missing (next stored is %d)" % (expect, seq))
            break
        if row["prev_hash"] != prev:
            errs.append("entry %d: prev_hash does not link" % seq)
            break
        h = hashlib.sha256(prev + canonical(row)).digest()
        if h != row["hash"]:
            errs.append("entry %d: hash mismatch" % seq)
            break
        if key is not None and hmac.new(key, h, hashlib.sha256).digest() != row["mac"]:
            errs.append("entry %d: MAC mismatch" % seq)
            break
        prev = h
        expect += 1
        if limit and expect > limit:
            break
    con.close()
    return errs


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        print(__doc__.strip().splitlines()[-2], file=sys.stderr)
        sys.exit(2)
    problems = verify(sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else None)
    if problems:
        print(problems[0])
        sys.exit(1)
    con = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
    print("OK %d records" % con.execute("SELECT count(*) FROM records").fetchone()[0])
