/* SPDX-License-Identifier: MIT */
/*
 * verify.c - walks records in seq order re-computing the chain
 * (docs/record-format.md) and names the first bad entry, telling apart
 * the ways an attacker without the key can edit a store: an entry altered,
 * altered and re-hashed, deleted, inserted, moved, or retyped.  A range
 * can be split over threads, each part on its own connection.
 */
#include "verify.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "records.h"

/* How a column must be stored so that the canonical encoding is injective. */
enum col_kind {
	K_INT,		/* INTEGER or NULL */
	K_INT_NN,	/* INTEGER */
	K_TEXT,		/* TEXT without NUL bytes, or NULL */
	K_TEXT_NN,	/* TEXT without NUL bytes */
	K_BLOB32,	/* BLOB of CHAIN_HASH_LEN bytes */
};

#define NO_FLAG ((size_t)-1)
#define S(name, kind, m) { name, kind, offsetof(struct chain_record, m), NO_FLAG }
#define I(name, kind, m, h) { name, kind, offsetof(struct chain_record, m), \
			      offsetof(struct chain_record, h) }
#define B(name) { name, K_BLOB32, 0, NO_FLAG }

/*
 * Columns of RECORDS_SELECT, in order (records.h): the canonical fields,
 * then prev_hash, hash, mac.  The mapping is records_from_row()'s, done in
 * the same pass as the type checks (one sqlite3_column_type() call per
 * column instead of two: a fifth of verify's time).
 */
static const struct {
	const char *name;	/* column name, for messages */
	enum col_kind kind;	/* required storage */
	size_t off;		/* member of struct chain_record */
	size_t has_off;		/* its has_* flag, or NO_FLAG */
} cols[] = {
	{ "seq", K_INT_NN, offsetof(struct chain_record, seq), NO_FLAG },
	S("time", K_TEXT_NN, time), S("recv_time", K_TEXT_NN, recv_time),
	S("host", K_TEXT_NN, host), S("session", K_TEXT, session),
	S("agent", K_TEXT, agent),
	I("pid", K_INT, pid, has_pid), I("ppid", K_INT, ppid, has_ppid),
	I("uid", K_INT, uid, has_uid), I("gid", K_INT, gid, has_gid),
	S("exe", K_TEXT, exe), S("event", K_TEXT_NN, event),
	S("class", K_TEXT_NN, klass), S("target", K_TEXT, target),
	S("argv", K_TEXT, argv), S("detail", K_TEXT, detail),
	S("result", K_TEXT_NN, result), S("errno", K_TEXT, errno_name),
	S("severity", K_TEXT_NN, severity),
	I("pseq", K_INT, pseq, has_pseq), S("image", K_TEXT, image),
	{ "key_epoch", K_INT_NN, offsetof(struct chain_record, key_epoch), NO_FLAG },
	B("prev_hash"), B("hash"), B("mac"),
};
#undef S
#undef I
#undef B
#define NCOLS ((int)(sizeof cols / sizeof cols[0]))
_Static_assert(sizeof cols / sizeof cols[0] == CHAIN_NFIELDS + 3,
	       "cols[] must list RECORDS_SELECT's columns");
_Static_assert(RECORDS_COL_PREV == CHAIN_NFIELDS && RECORDS_COL_MAC == CHAIN_NFIELDS + 2,
	       "RECORDS_SELECT: canonical fields, then prev_hash, hash, mac");

static const char *
type_name(int t)
{
	switch (t) {
	case SQLITE_INTEGER: return "an integer";
	case SQLITE_FLOAT: return "a real";
	case SQLITE_TEXT: return "text";
	case SQLITE_BLOB: return "a blob";
	default: return "NULL";
	}
}

static const char *
kind_name(enum col_kind k)
{
	switch (k) {
	case K_INT: return "an integer or NULL";
	case K_INT_NN: return "an integer";
	case K_TEXT: return "text or NULL";
	case K_TEXT_NN: return "text";
	default: return "a 32-byte blob";
	}
}

/* The three chain columns of a row. */
struct row_links {
	const unsigned char *prev;	/* stored prev_hash */
	const unsigned char *hash;	/* stored hash */
	const unsigned char *mac;	/* stored mac */
};

/*
 * Fills R and L from the current row, checking that every column is
 * stored the way the writer stores it.  A plain type conversion would let
 * an edit keep the canonical bytes (the text '42' and the integer 42, a
 * blob and text, text cut at an embedded NUL, NULL and 0 for key_epoch all
 * encode alike).  Returns 0; 1 with the reason written into WHY; or
 * -ENOMEM.  R's strings point into the statement until the next step.
 */
static int
read_row(sqlite3_stmt *st, struct chain_record *r, struct row_links *l,
	 char *why, size_t whylen)
{
	char *base = (char *)r;

	for (int i = 0; i < NCOLS; i++) {
		enum col_kind k = cols[i].kind;
		/*
		 * One column call, then the cheaper value calls: the column
		 * API's per-call checks were a fifth of verify's time.  The
		 * value is "unprotected" (not guarded by the connection's
		 * mutex), which is safe while no other thread uses this
		 * connection -- the verifier's rule (verify.h).
		 */
		sqlite3_value *val = sqlite3_column_value(st, i);
		int t = sqlite3_value_type(val);

		if (t == SQLITE_NULL && k == K_INT) {
			*(int64_t *)(base + cols[i].off) = 0;
			*(bool *)(base + cols[i].has_off) = false;
			continue;
		}
		if (t == SQLITE_NULL && k == K_TEXT) {
			*(const char **)(base + cols[i].off) = NULL;
			continue;
		}
		if (t == SQLITE_INTEGER && (k == K_INT || k == K_INT_NN)) {
			*(int64_t *)(base + cols[i].off) = sqlite3_value_int64(val);
			if (cols[i].has_off != NO_FLAG)
				*(bool *)(base + cols[i].has_off) = true;
			continue;
		}
		if (t == SQLITE_TEXT && (k == K_TEXT || k == K_TEXT_NN)) {
			const char *s = (const char *)sqlite3_value_text(val);
			size_t n = (size_t)sqlite3_value_bytes(val);
			if (!s)
				return -ENOMEM;
			if (!memchr(s, '\0', n)) {
				*(const char **)(base + cols[i].off) = s;
				continue;
			}
			snprintf(why, whylen, "column %s contains a NUL byte",
				 cols[i].name);
			return 1;
		}
		if (t == SQLITE_BLOB && k == K_BLOB32) {
			const unsigned char *p = sqlite3_value_blob(val);
			int n = sqlite3_value_bytes(val);
			if (n != CHAIN_HASH_LEN) {
				snprintf(why, whylen, "column %s is %d bytes "
					 "long, not %d", cols[i].name, n,
					 CHAIN_HASH_LEN);
				return 1;
			}
			if (i == RECORDS_COL_PREV)
				l->prev = p;
			else if (i == RECORDS_COL_HASH)
				l->hash = p;
			else
				l->mac = p;
			continue;
		}
		snprintf(why, whylen, "column %s holds %s value (expected %s)",
			 cols[i].name, type_name(t), kind_name(k));
		return 1;
	}
	return 0;
}

static int
broken(struct db_verify *v, int64_t seq, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int
broken(struct db_verify *v, int64_t seq, const char *fmt, ...)
{
	va_list ap;

	v->bad_seq = seq;
	va_start(ap, fmt);
	vsnprintf(v->reason, sizeof v->reason, fmt, ap);
	va_end(ap);
	return 1;
}

/* The stored hash of entry SEQ into OUT: 0, 1 (missing/bad, V set), -EIO. */
static int
anchor(sqlite3 *db, int64_t seq, unsigned char out[CHAIN_HASH_LEN],
       struct db_verify *v)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT hash FROM records WHERE seq = ?",
			       -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_int64(st, 1, seq);
	int s = sqlite3_step(st);
	if (s == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_BLOB &&
	    sqlite3_column_bytes(st, 0) == CHAIN_HASH_LEN) {
		memcpy(out, sqlite3_column_blob(st, 0), CHAIN_HASH_LEN);
		rc = 0;
	} else if (s == SQLITE_ROW) {
		rc = broken(v, seq, "column hash is not a 32-byte blob");
	} else if (s == SQLITE_DONE) {
		rc = broken(v, seq, "entry %" PRId64 " missing", seq);
	} else {
		rc = -EIO;
	}
	sqlite3_finalize(st);
	return rc;
}

int
verify_range(sqlite3 *db, struct chain_ctx *c, int64_t from, int64_t to,
	     const struct db_head *head, struct db_verify *v)
{
	unsigned char prev[CHAIN_HASH_LEN] = { 0 };	/* hash of expect-1 */
	unsigned char hash[CHAIN_HASH_LEN], mac[CHAIN_HASH_LEN];
	size_t canon_cap = 4096;
	unsigned char *canon = NULL;
	sqlite3_stmt *st = NULL;
	bool keyed = chain_has_key(c);
	struct chain_record r;
	struct row_links l = { 0 };
	int rc, s = SQLITE_DONE;

	memset(v, 0, sizeof *v);
	v->macs_checked = keyed;
	if (from < 1)
		from = 1;
	if (from > 1) {
		rc = anchor(db, from - 1, prev, v);
		if (rc)
			return rc;
		v->last_seq = from - 1;
		memcpy(v->last_hash, prev, CHAIN_HASH_LEN);
	}
	canon = malloc(canon_cap);
	if (!canon)
		return -ENOMEM;
	/*
	 * No upper bound in the SQL: the row after a hole at the end of the
	 * range is what names the hole.  From entry 1, no lower bound
	 * either, so that a row numbered 0 or below is seen, not skipped.
	 */
	if (sqlite3_prepare_v2(db, RECORDS_SELECT " WHERE seq >= ? ORDER BY seq",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = -EIO;
		goto out;
	}
	sqlite3_bind_int64(st, 1, from > 1 ? from : INT64_MIN);
	int64_t expect = from;
	rc = 0;
	while (expect <= to && (s = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(st, 0);

		/*
		 * Continuity first: a hole is a deleted entry, named by the
		 * number that is missing.  INTEGER PRIMARY KEY keeps seq
		 * unique and ORDER BY makes it increase, so the only other
		 * case is a first row numbered below FROM (0 or negative).
		 */
		if (seq > expect) {
			rc = broken(v, expect, "entry %" PRId64 " missing: next "
				    "stored entry is %" PRId64, expect, seq);
			goto out;
		}
		if (seq < expect) {
			rc = broken(v, seq, "unexpected entry before entry 1 "
				    "(sequence numbers start at 1)");
			goto out;
		}
		char why[192];
		int rr = read_row(st, &r, &l, why, sizeof why);
		if (rr > 0) {
			rc = broken(v, seq, "%s", why);
			goto out;
		}
		if (rr < 0) {
			rc = rr;
			goto out;
		}

		size_t need = chain_canonical(&r, canon, canon_cap);
		if (need > canon_cap) {
			size_t ncap = canon_cap;
			while (ncap < need)
				ncap *= 2;
			unsigned char *n = realloc(canon, ncap);
			if (!n) {
				rc = -ENOMEM;
				goto out;
			}
			canon = n;
			canon_cap = ncap;
			/* No step since read_row: R is still valid. */
			chain_canonical(&r, canon, canon_cap);
		}

		/*
		 * Hash over the entry's own stored prev_hash, so that "does
		 * this entry hash" and "does it link" are separate answers.
		 */
		if (chain_seal(c, l.prev, canon, need, hash, keyed ? mac : NULL) < 0) {
			rc = -EIO;
			goto out;
		}
		bool prev_ok = chain_equal(l.prev, prev);
		bool hash_ok = chain_equal(l.hash, hash);

		/*
		 * Whoever lacks the key can recompute hashes but not MACs.
		 * An edit left alone is a hash mismatch at that entry; an
		 * edit re-hashed from there on is a bad MAC at that entry
		 * (hash-only: a broken link after the last re-hashed one);
		 * an entry moved to another seq (swap, insertion with
		 * renumbering) neither hashes (its seq changed) nor links.
		 */
		if (!prev_ok && !hash_ok)
			rc = broken(v, seq, "hash mismatch, and prev_hash does not "
				    "match %s (entry replaced or moved)",
				    seq == 1 ? "the zero hash of entry 1"
					     : "the hash of the previous entry");
		else if (!prev_ok && seq == 1)
			rc = broken(v, seq, "prev_hash of entry 1 is not zero "
				    "(entries removed before it, or forged)");
		else if (!prev_ok)
			rc = broken(v, seq, "prev_hash does not match the hash of "
				    "entry %" PRId64 " (that entry re-hashed, or "
				    "this one inserted)", seq - 1);
		else if (!hash_ok)
			rc = broken(v, seq, "hash mismatch (entry altered or forged)");
		else if (keyed && r.key_epoch != VERIFY_KEY_EPOCH)
			rc = broken(v, seq, "key epoch %" PRId64 " unknown (a key "
				    "is known for epoch %d only)", r.key_epoch,
				    VERIFY_KEY_EPOCH);
		else if (keyed && !chain_equal(l.mac, mac))
			rc = broken(v, seq, "MAC invalid (entry forged, or "
				    "re-hashed by someone without the key)");
		/* The head names an entry we have: it must be this one. */
		else if (head && seq == head->seq &&
			 (!chain_equal(head->hash, hash) ||
			  !chain_equal(head->mac, l.mac)))
			rc = broken(v, seq, "differs from the head the writer last "
				    "reported (chain rewritten at or before this "
				    "entry)");
		if (rc)
			goto out;
		memcpy(prev, hash, sizeof prev);
		v->checked++;
		v->last_seq = seq;
		memcpy(v->last_hash, hash, CHAIN_HASH_LEN);
		memcpy(v->last_mac, l.mac, CHAIN_HASH_LEN);
		expect++;
	}
	if (expect <= to && s != SQLITE_DONE)
		rc = -EIO;
out:
	sqlite3_finalize(st);
	free(canon);
	return rc;
}

int
verify_chain(sqlite3 *db, struct chain_ctx *c, int64_t from,
	     const struct db_head *head, struct db_verify *v)
{
	return verify_range(db, c, from, INT64_MAX, head, v);
}

/* One part of verify_parallel: its range, its connection and its result. */
struct part {
	sqlite3 *db;			/* this part's connection */
	struct chain_ctx *c;		/* this part's context */
	int64_t from, to;		/* its entries */
	const struct db_head *head;	/* shared, read-only */
	struct db_verify v;		/* its outcome */
	int rc;				/* verify_range's return */
	pthread_t thread;		/* running it, when started is true */
	bool started;			/* a thread was created for it */
};

static void *
part_run(void *arg)
{
	struct part *p = arg;

	p->rc = verify_range(p->db, p->c, p->from, p->to, p->head, &p->v);
	return NULL;
}

int
verify_parallel(sqlite3 *const *dbs, struct chain_ctx *const *cs, int n,
		int64_t from, int64_t to, const struct db_head *head,
		struct db_verify *v)
{
	struct part *parts;
	int rc = 0;

	if (from < 1)
		from = 1;
	if (n > to - from + 1)
		n = to >= from ? (int)(to - from + 1) : 1;
	if (n <= 1)
		return verify_range(dbs[0], cs[0], from, to, head, v);
	parts = calloc((size_t)n, sizeof *parts);
	if (!parts)
		return -ENOMEM;
	int64_t span = (to - from + 1) / n;
	for (int i = 0; i < n; i++) {
		parts[i].db = dbs[i];
		parts[i].c = cs[i];
		parts[i].from = from + i * span;
		parts[i].to = i + 1 < n ? from + (i + 1) * span - 1 : to;
		parts[i].head = head;
	}
	/* Part 0 runs here; a part whose thread cannot start runs here too. */
	for (int i = 1; i < n; i++)
		parts[i].started = pthread_create(&parts[i].thread, NULL,
						  part_run, &parts[i]) == 0;
	part_run(&parts[0]);
	for (int i = 1; i < n; i++) {
		if (parts[i].started)
			pthread_join(parts[i].thread, NULL);
		else
			part_run(&parts[i]);
	}

	/*
	 * Combine in seq order, as one pass would have met them: the first
	 * part that failed decides.  A part that verified but stopped short
	 * of its end met the end of the table (a hole followed by a row is
	 * reported by the part itself, which reads past its end): the chain
	 * ends there, and the later parts, which found no anchor, say
	 * nothing.  Each later part was anchored on the stored hash of the
	 * entry before it, which the part before verified.
	 */
	int64_t checked = 0;
	int i;
	for (i = 0; i < n; i++) {
		checked += parts[i].v.checked;
		if (parts[i].rc != 0 || parts[i].v.last_seq < parts[i].to ||
		    i + 1 == n)
			break;
	}
	rc = parts[i].rc;
	*v = parts[i].v;
	if (rc >= 0)
		v->checked = checked;
	free(parts);
	return rc;
}
