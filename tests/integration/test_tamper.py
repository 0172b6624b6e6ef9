# SPDX-License-Identifier: MIT
"""Tampering with a real store: `auditctl verify` must name the first bad
entry for each kind of edit, and the writer must refuse a bad tail."""

import hashlib
import os
import re
import shutil
import sqlite3

import reverify
from harness import WriterTest, auditctl, main


def copy_store(src_db, dst_db):
    src = sqlite3.connect("file:%s?mode=ro" % src_db, uri=True)
    dst = sqlite3.connect(dst_db)
    src.backup(dst)
    src.close()
    dst.execute("PRAGMA journal_mode=DELETE")
    dst.close()
    if os.path.exists(src_db + ".head"):
        shutil.copy(src_db + ".head", dst_db + ".head")


def tamper(db, *sql):
    con = sqlite3.connect(db)
    con.execute("DROP TRIGGER IF EXISTS records_no_update")
    con.execute("DROP TRIGGER IF EXISTS records_no_delete")
    for s in sql:
        if callable(s):
            s(con)
        else:
            con.execute(s)
    con.commit()
    con.close()


COLS = reverify.FIELDS


def rehash_from(con, start):
    """What an attacker without the key can do: recompute every hash from
    START on so the SHA-256 chain links again (the MACs cannot follow)."""
    con.text_factory = bytes
    con.row_factory = sqlite3.Row
    prev = con.execute("SELECT hash FROM records WHERE seq = ?", (start - 1,)).fetchone()
    prev = prev[0] if prev else bytes(32)
    rows = con.execute("SELECT %s FROM records WHERE seq >= ? ORDER BY seq" %
                       ", ".join('"%s"' % c for c in COLS), (start,)).fetchall()
    for r in rows:
        h = hashlib.sha256(prev + reverify.canonical(r)).digest()
        con.execute("UPDATE records SET prev_hash = ?, hash = ? WHERE seq = ?",
                    (prev, h, r["seq"]))
        prev = h


class Tamper(WriterTest):

    def setUp(self):
        super().setUp()
        self.w.run(["/bin/sh", "-c", "for i in 1 2 3 4 5 6 7 8; do echo $i > f$i; done; ls > /dev/null"],
                   cwd=self.work)
        self.w.stop()
        self.n = reverify_count(self.w.db)
        self.assertGreaterEqual(self.n, 12)

    def verify_copy(self, *changes, key=True):
        db = os.path.join(self.tmp, "copy%d.db" % len(os.listdir(self.tmp)))
        copy_store(self.w.db, db)
        tamper(db, *changes)
        args = ["--db", db] + (["--key", self.w.key] if key else []) + ["verify"]
        cp = auditctl(*args)
        # Split over threads (each part anchored on the stored hash before
        # it), the verdict must be the one pass's, word for word, wherever
        # the split points fall relative to the damage.
        for jobs in ("2", "3", "5"):
            par = auditctl(*args, "-j", jobs)
            self.assertEqual((par.returncode, par.stdout),
                             (cp.returncode, cp.stdout), "-j " + jobs)
        return cp

    def assert_broken_at(self, cp, entry, reason=None):
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        m = re.search(r"^CHAIN BROKEN at entry (\d+): (.*)$", cp.stdout, re.M)
        self.assertTrue(m, cp.stdout)
        self.assertEqual(int(m.group(1)), entry, cp.stdout)
        if reason:
            self.assertRegex(m.group(2), reason)

    def test_intact(self):
        cp = auditctl("--db", self.w.db, "--key", self.w.key, "verify", check=0)
        self.assertEqual(cp.stdout.strip(), "Chain valid: %d entries, 0 breaks" % self.n)

    def test_edited_field(self):
        cp = self.verify_copy("UPDATE records SET target = '/evil' WHERE seq = 5")
        self.assert_broken_at(cp, 5)

    def test_edited_field_rehashed_without_key(self):
        cp = self.verify_copy("UPDATE records SET target = '/evil' WHERE seq = 5",
                              lambda con: rehash_from(con, 5))
        self.assert_broken_at(cp, 5, "(?i)mac")

    def test_deleted_row(self):
        cp = self.verify_copy("DELETE FROM records WHERE seq = 6")
        self.assert_broken_at(cp, 6, "(?i)missing|deleted")

    def test_inserted_row(self):
        def insert(con):
            # Shift the tail up by one and forge a row at 7.
            for s in range(self.n, 6, -1):
                con.execute("UPDATE records SET seq = seq + 1 WHERE seq = ?", (s,))
            con.execute("INSERT INTO records SELECT 7, time, recv_time, host, session,"
                        " agent, pid, ppid, uid, gid, exe, event, class, '/forged',"
                        " argv, detail, result, errno, severity, pseq, image, key_epoch,"
                        " hash, hash, mac FROM records WHERE seq = 6")
        cp = self.verify_copy(insert)
        self.assert_broken_at(cp, 7)

    def test_inserted_row_rehashed(self):
        def insert(con):
            for s in range(self.n, 6, -1):
                con.execute("UPDATE records SET seq = seq + 1 WHERE seq = ?", (s,))
            con.execute("INSERT INTO records SELECT 7, time, recv_time, host, session,"
                        " agent, pid, ppid, uid, gid, exe, event, class, '/forged',"
                        " argv, detail, result, errno, severity, pseq, image, key_epoch,"
                        " hash, hash, mac FROM records WHERE seq = 6")
            rehash_from(con, 7)
        cp = self.verify_copy(insert)
        self.assert_broken_at(cp, 7, "(?i)mac")

    def test_swapped_rows(self):
        def swap(con):
            con.execute("UPDATE records SET seq = -1 WHERE seq = 8")
            con.execute("UPDATE records SET seq = 8 WHERE seq = 9")
            con.execute("UPDATE records SET seq = 9 WHERE seq = -1")
        cp = self.verify_copy(swap)
        self.assert_broken_at(cp, 8)

    def test_row_before_entry_1(self):
        # A row numbered 0 must not be skipped by starting at entry 1.
        def insert(con):
            con.execute("INSERT INTO records SELECT 0, time, recv_time, host,"
                        " session, agent, pid, ppid, uid, gid, exe, event, class,"
                        " '/forged', argv, detail, result, errno, severity, pseq,"
                        " image, key_epoch, prev_hash, hash, mac FROM records"
                        " WHERE seq = 1")
        cp = self.verify_copy(insert)
        self.assert_broken_at(cp, 0, "before entry 1")

    def test_deleted_rows_at_split_points(self):
        # Holes where -j 2/3/5 split the range, and a hole at the end.
        for gone in ((self.n // 2,), (self.n // 3, self.n // 3 + 1),
                     (self.n // 5 + 1,), (self.n - 1,)):
            cp = self.verify_copy("DELETE FROM records WHERE seq IN (%s)" %
                                  ",".join(map(str, gone)))
            self.assert_broken_at(cp, gone[0], "(?i)missing")

    def test_truncated_tail(self):
        cp = self.verify_copy("DELETE FROM records WHERE seq > %d" % (self.n - 3))
        self.assert_broken_at(cp, self.n - 2, "(?i)truncat")

    def test_hash_only_without_key(self):
        db = os.path.join(self.tmp, "nokey.db")
        copy_store(self.w.db, db)
        cp = auditctl("--db", db, "--key", os.path.join(self.tmp, "absent.key"), "verify")
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertIn("MAC", cp.stderr)
        cp = self.verify_copy("UPDATE records SET event = 'x' WHERE seq = 3", key=False)
        self.assert_broken_at(cp, 3)

    def test_triggers_refuse_update_and_delete(self):
        con = sqlite3.connect(self.w.db)
        for sql in ("UPDATE records SET target = 'x' WHERE seq = 1",
                    "DELETE FROM records WHERE seq = 1"):
            with self.assertRaisesRegex(sqlite3.DatabaseError, "append-only"):
                con.execute(sql)
        con.close()

    def test_retyped_column(self):
        # A reader that takes column values as integers sees '0x' as 0:
        # the stored type is checked, so the edit cannot hide.
        cp = self.verify_copy("UPDATE records SET uid = uid || 'x' WHERE seq = 4")
        self.assert_broken_at(cp, 4, "column")

    def test_writer_refuses_truncated_tail(self):
        tamper(self.w.db, "DELETE FROM records WHERE seq >= %d" % (self.n - 1))
        rc = self.w.start(expect_fail=True)
        self.assertNotEqual(rc, 0)
        self.assertRegex(self.w.read_log(), "truncated tail")
        self.w.proc = None
        self.verify_after = False

    def test_writer_refuses_retyped_tail(self):
        tamper(self.w.db, "UPDATE records SET uid = uid || 'x' WHERE seq = %d"
               % (self.n - 1))
        rc = self.w.start(expect_fail=True)
        self.assertNotEqual(rc, 0)
        self.assertIn("seq %d" % (self.n - 1), self.w.read_log())
        self.w.proc = None
        self.verify_after = False

    def test_writer_refuses_bad_tail(self):
        tamper(self.w.db, "UPDATE records SET target = '/evil' WHERE seq = %d" % (self.n - 1))
        rc = self.w.start(expect_fail=True)
        self.assertNotEqual(rc, 0)
        log = self.w.read_log()
        self.assertIn(self.w.db, log)
        self.assertIn(str(self.n - 1), log)
        self.w.proc = None
        self.verify_after = False


def reverify_count(db):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    n = con.execute("SELECT count(*) FROM records").fetchone()[0]
    con.close()
    return n


if __name__ == "__main__":
    main()
