/* SPDX-License-Identifier: MIT */
/*
 * cmd_verify.c - `auditctl verify`: walks the whole chain in seq order with
 * constant memory, re-computing every hash and (when the key is readable)
 * every MAC, checking sequence continuity and links, and comparing the end
 * of the chain with the head the writer last reported.  Names the first bad
 * entry.  The checks are the ones docs/record-format.md calls "valid".
 */
#include "cmd.h"

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "chain.h"
#include "db.h"
#include "records.h"

/* The only key epoch this auditctl knows a key for (docs/record-format.md). */
#define VERIFY_KEY_EPOCH 1

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
 * then prev_hash, hash, mac.  The mapping is records_from_row()'s, done
 * in the same pass as the type checks (one sqlite3_column_type() call per
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
 * encode alike).  Returns 0; 1 with the reason written into WHY; or -1
 * when SQLite ran out of memory.  R's strings point into the statement
 * until the next step.
 */
static int
read_row(sqlite3_stmt *st, struct chain_record *r, struct row_links *l,
	 char *why, size_t whylen)
{
	char *base = (char *)r;

	for (int i = 0; i < NCOLS; i++) {
		enum col_kind k = cols[i].kind;
		int t = sqlite3_column_type(st, i);

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
			*(int64_t *)(base + cols[i].off) = sqlite3_column_int64(st, i);
			if (cols[i].has_off != NO_FLAG)
				*(bool *)(base + cols[i].has_off) = true;
			continue;
		}
		if (t == SQLITE_TEXT && (k == K_TEXT || k == K_TEXT_NN)) {
			const char *s = (const char *)sqlite3_column_text(st, i);
			size_t n = (size_t)sqlite3_column_bytes(st, i);
			if (s && strlen(s) == n) {
				*(const char **)(base + cols[i].off) = s;
				continue;
			}
			if (!s)
				return -1;	/* SQLite ran out of memory */
			snprintf(why, whylen, "column %s contains a NUL byte",
				 cols[i].name);
			return 1;
		}
		if (t == SQLITE_BLOB && k == K_BLOB32) {
			const unsigned char *p = sqlite3_column_blob(st, i);
			int n = sqlite3_column_bytes(st, i);
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

static void
verify_usage(FILE *f)
{
	fprintf(f, "usage: auditctl [-c file] [--db path] [--key path] "
		"verify [-q]\n");
}

/* Prints the verdict for the first bad entry and returns CTL_EXIT_FAIL. */
static int
broken(int64_t seq, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int
broken(int64_t seq, const char *fmt, ...)
{
	va_list ap;

	printf("CHAIN BROKEN at entry %" PRId64 ": ", seq);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	return CTL_EXIT_FAIL;
}

/*
 * Loads the key for MAC checks into KEY.  Returns 1 with a key, 0 for
 * hash-only verification (NOTE says why: a key that is absent or not
 * ours to read is the normal case for an auditor without the writer's
 * privileges), or -1 after printing an error for a file that is not a key.
 */
static int
load_key(const struct ctl *ctl, unsigned char key[CHAIN_KEY_LEN],
	 char *note, size_t notelen)
{
	int rc = ctl->key_path ? chain_key_load(ctl->key_path, key) : -ENOENT;

	if (rc == 0)
		return 1;
	if (!ctl->key_path) {
		snprintf(note, notelen, "no key file configured");
		return 0;
	}
	switch (rc) {
	case -EINVAL:
		warnx("%s: not a key file (must be a regular file of %d bytes)",
		      ctl->key_path, CHAIN_KEY_LEN);
		return -1;
	case -EPERM:
		/* chain_key_load refuses it; a key others could read
		 * proves nothing anyway. */
		snprintf(note, notelen, "%s: key file is accessible by group "
			 "or others, not used", ctl->key_path);
		return 0;
	default:
		snprintf(note, notelen, "%s: %s", ctl->key_path, strerror(-rc));
		return 0;
	}
}

/* The state of one walk. */
struct walk {
	sqlite3_stmt *st;		/* RECORDS_SELECT ... ORDER BY seq */
	const char *db_path;		/* for messages */
	struct chain_ctx *cc;		/* SHA-256 (+ HMAC when keyed) */
	bool keyed;			/* MACs are checked */
	const struct db_head *head;	/* head file, or NULL if none */
	const char *head_path;		/* its path, for messages */
};

/*
 * Walks every row in seq order with one reused canonical buffer.  Returns
 * CTL_EXIT_OK when all verified (*COUNT set), CTL_EXIT_FAIL after printing
 * the first bad entry, or CTL_EXIT_USAGE after printing an operational
 * error.  (A second thread hashing while this one reads was measured on
 * the 2-vCPU guest this was written on: no faster, so not worth it.)
 */
static int
walk_chain(struct walk *w, int64_t *count)
{
	unsigned char prev[CHAIN_HASH_LEN] = { 0 };	/* hash of expect-1 */
	unsigned char hash[CHAIN_HASH_LEN], mac[CHAIN_HASH_LEN];
	size_t canon_cap = 4096;
	unsigned char *canon = malloc(canon_cap);
	int64_t expect = 1;
	char why[192];
	struct chain_record r;
	struct row_links l = { 0 };
	int rc, ret = CTL_EXIT_USAGE;

	if (!canon) {
		warnx("out of memory");
		return ret;
	}
	while ((rc = sqlite3_step(w->st)) == SQLITE_ROW) {
		sqlite3_stmt *st = w->st;
		int64_t seq = sqlite3_column_int64(st, 0);

		/*
		 * Continuity first: a hole is a deleted entry, named by the
		 * number that is missing.  INTEGER PRIMARY KEY keeps seq
		 * unique and the ORDER BY makes it increase, so the only
		 * other case is a first row numbered 0 or below.
		 */
		if (seq > expect) {
			ret = broken(expect, "entry %" PRId64 " missing: next "
				     "stored entry is %" PRId64, expect, seq);
			goto out;
		}
		if (seq < expect) {
			ret = broken(seq, "unexpected entry before entry 1 "
				     "(sequence numbers start at 1)");
			goto out;
		}
		int rr = read_row(st, &r, &l, why, sizeof why);
		if (rr > 0) {
			ret = broken(seq, "%s", why);
			goto out;
		}
		if (rr < 0) {
			warnx("out of memory (entry %" PRId64 ")", seq);
			goto out;
		}

		size_t need = chain_canonical(&r, canon, canon_cap);
		if (need > canon_cap) {
			size_t ncap = canon_cap;
			while (ncap < need)
				ncap *= 2;
			unsigned char *n = realloc(canon, ncap);
			if (!n) {
				warnx("out of memory (entry %" PRId64 " is %zu "
				      "bytes)", seq, need);
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
		if (chain_seal(w->cc, l.prev, canon, need, hash,
			       w->keyed ? mac : NULL) < 0) {
			warnx("SHA-256/HMAC failed (OpenSSL)");
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
			ret = broken(seq, "hash mismatch, and prev_hash does not "
				     "match %s (entry replaced or moved)",
				     seq == 1 ? "the zero hash of entry 1"
					      : "the hash of the previous entry");
		else if (!prev_ok && seq == 1)
			ret = broken(seq, "prev_hash of entry 1 is not zero "
				     "(entries removed before it, or forged)");
		else if (!prev_ok)
			ret = broken(seq, "prev_hash does not match the hash of "
				     "entry %" PRId64 " (that entry re-hashed, "
				     "or this one inserted)", seq - 1);
		else if (!hash_ok)
			ret = broken(seq, "hash mismatch (entry altered or forged)");
		else if (w->keyed && r.key_epoch != VERIFY_KEY_EPOCH)
			ret = broken(seq, "key epoch %" PRId64 " unknown (this "
				     "auditctl has the key of epoch %d only)",
				     r.key_epoch, VERIFY_KEY_EPOCH);
		else if (w->keyed && !chain_equal(l.mac, mac))
			ret = broken(seq, "MAC invalid (entry forged, or "
				     "re-hashed by someone without the key)");
		/* The head names an entry we have: it must be this one. */
		else if (w->head && seq == w->head->seq &&
			 (!chain_equal(w->head->hash, hash) ||
			  !chain_equal(w->head->mac, l.mac)))
			ret = broken(seq, "differs from the head the writer "
				     "last reported in %s (chain rewritten at "
				     "or before this entry)", w->head_path);
		if (ret == CTL_EXIT_FAIL)
			goto out;
		memcpy(prev, hash, sizeof prev);
		expect++;
	}
	if (rc != SQLITE_DONE) {
		warnx("%s: %s", w->db_path, sqlite3_errmsg(sqlite3_db_handle(w->st)));
		goto out;
	}
	*count = expect - 1;
	ret = CTL_EXIT_OK;
out:
	free(canon);
	return ret;
}

/* True if PATH exists and is not empty. */
static bool
nonempty(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 && sb.st_size > 0;
}

int
cmd_verify(const struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool quiet = false;
	int ch, ret = CTL_EXIT_USAGE;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'q':
			quiet = true;
			break;
		case 'h':
			verify_usage(stdout);
			return CTL_EXIT_OK;
		default:
			verify_usage(stderr);
			return CTL_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		warnx("verify: unexpected argument '%s'", argv[optind]);
		verify_usage(stderr);
		return CTL_EXIT_USAGE;
	}

	unsigned char key[CHAIN_KEY_LEN];
	char note[512] = "";
	int have_key = load_key(ctl, key, note, sizeof note);
	if (have_key < 0)
		return CTL_EXIT_USAGE;

	struct walk w = { .keyed = have_key > 0 };
	struct db_head head;
	const char *ro_note = NULL;
	sqlite3 *db = NULL;
	char *head_path = db_head_path(ctl->db_path);
	char *wal_path = NULL;

	w.cc = chain_ctx_new(w.keyed ? key : NULL);
	chain_wipe(key, sizeof key);
	if (asprintf(&wal_path, "%s-wal", ctl->db_path) < 0)
		wal_path = NULL;
	if (!w.cc || !head_path || !wal_path) {
		warnx("cannot set up: out of memory or OpenSSL failure");
		goto out;
	}
	w.head_path = head_path;

	/*
	 * Read the head before the database: the writer replaces it after
	 * each commit, so the snapshot taken afterwards holds at least the
	 * entries it names.  The other order could see a head newer than
	 * the snapshot and cry "truncated".
	 */
	int hrc = db_head_read(ctl->db_path, &head);
	if (hrc == 0) {
		w.head = &head;
	} else if (hrc == -EINVAL) {
		warnx("%s: malformed head file (want \"auditshim-head v1\", "
		      "\"seq N\", \"hash HEX\", \"mac HEX\")", head_path);
		goto out;
	} else if (hrc != -ENOENT) {
		warnx("%s: %s", head_path, strerror(-hrc));
		goto out;
	}

	db = ctl_db_open(ctl->db_path, &ro_note);
	if (!db)
		goto out;
	if (ro_note)
		warnx("%s: %s", ctl->db_path, ro_note);
	if (sqlite3_prepare_v2(db, RECORDS_SELECT " ORDER BY seq", -1, &w.st,
			       NULL) != SQLITE_OK) {
		warnx("%s: %s", ctl->db_path, sqlite3_errmsg(db));
		goto out;
	}

	w.db_path = ctl->db_path;
	int64_t count = 0;
	ret = walk_chain(&w, &count);
	if (ret != CTL_EXIT_OK)
		goto out;

	if (w.head && w.head->seq > count) {
		/*
		 * Immutable fallback: the entries the head names may sit in
		 * a WAL we could not read.  That is not evidence of a cut.
		 */
		if (ro_note && nonempty(wal_path)) {
			warnx("%s: the writer reported entry %" PRId64 " but "
			      "only %" PRId64 " are readable without the WAL "
			      "index; run as the writer's user to verify the "
			      "tail", ctl->db_path, w.head->seq, count);
			ret = CTL_EXIT_USAGE;
			goto out;
		}
		/*
		 * With the key, tell a forged head (a false alarm planted to
		 * discredit the store) from a cut tail.
		 */
		unsigned char mac[CHAIN_HASH_LEN];
		if (w.keyed && chain_hmac(w.cc, head.hash, CHAIN_HASH_LEN, mac) == 0 &&
		    !chain_equal(mac, head.mac)) {
			ret = broken(head.seq, "head file %s has an invalid MAC "
				     "(head forged or from another key)", head_path);
			goto out;
		}
		ret = broken(count + 1, "truncated tail: database ends at entry %"
			     PRId64 " but the writer last reported head %" PRId64,
			     count, head.seq);
		goto out;
	}

	if (!quiet)
		printf("Chain valid: %" PRId64 " entries, 0 breaks\n", count);
	if (!w.head && count > 0)
		warnx("%s: %s: the end of the chain could not be compared with "
		      "the writer's head; a truncated tail would go unnoticed",
		      head_path, strerror(ENOENT));
	ret = CTL_EXIT_OK;
out:
	if (ret != CTL_EXIT_USAGE && !w.keyed)
		warnx("MACs not checked (%s): hash-only verification; "
		      "someone who rewrote the database could have "
		      "re-computed the hashes", note);
	free(head_path);
	free(wal_path);
	sqlite3_finalize(w.st);
	ctl_db_close(db);
	chain_ctx_free(w.cc);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		warn("stdout");
		ret = CTL_EXIT_USAGE;
	}
	return ret;
}
