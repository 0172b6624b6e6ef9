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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "records.h"

/* How a column must be stored so that the canonical encoding is injective. */
enum col_kind {
	K_INT,		/* INTEGER or NULL */
	K_INT_NN,	/* INTEGER */
	K_TEXT,		/* TEXT without NUL bytes, or NULL */
	K_BLOB32,	/* BLOB of CHAIN_HASH_LEN bytes */
};

/* Columns of RECORDS_SELECT, in order. */
static const struct {
	const char *name;	/* column name, for messages */
	enum col_kind kind;	/* required storage */
} cols[] = {
	{ "seq", K_INT_NN }, { "time", K_TEXT }, { "recv_time", K_TEXT },
	{ "host", K_TEXT }, { "session", K_TEXT }, { "agent", K_TEXT },
	{ "pid", K_INT }, { "ppid", K_INT }, { "uid", K_INT }, { "gid", K_INT },
	{ "exe", K_TEXT }, { "event", K_TEXT }, { "class", K_TEXT },
	{ "target", K_TEXT }, { "argv", K_TEXT }, { "detail", K_TEXT },
	{ "result", K_TEXT }, { "errno", K_TEXT }, { "severity", K_TEXT },
	{ "pseq", K_INT }, { "image", K_TEXT }, { "key_epoch", K_INT_NN },
	{ "prev_hash", K_BLOB32 }, { "hash", K_BLOB32 }, { "mac", K_BLOB32 },
};

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

/*
 * Checks that every column of the current row is stored the way the writer
 * stores it.  records_from_row() converts types silently (the text '42'
 * and the integer 42, a blob and text, text cut at an embedded NUL all
 * encode alike), so without this an edit that keeps the canonical bytes
 * would pass.  Returns NULL, or the reason written into WHY.
 */
static const char *
check_columns(sqlite3_stmt *st, char *why, size_t whylen)
{
	for (int i = 0; i < (int)(sizeof cols / sizeof cols[0]); i++) {
		int t = sqlite3_column_type(st, i);
		switch (cols[i].kind) {
		case K_INT:
			if (t == SQLITE_INTEGER || t == SQLITE_NULL)
				continue;
			break;
		case K_INT_NN:
			if (t == SQLITE_INTEGER)
				continue;
			break;
		case K_TEXT:
			if (t == SQLITE_NULL)
				continue;
			if (t == SQLITE_TEXT) {
				const unsigned char *s = sqlite3_column_text(st, i);
				int n = sqlite3_column_bytes(st, i);
				if (s && !memchr(s, '\0', (size_t)n))
					continue;
				snprintf(why, whylen,
					 "column %s contains a NUL byte",
					 cols[i].name);
				return why;
			}
			break;
		case K_BLOB32:
			if (t == SQLITE_BLOB &&
			    sqlite3_column_bytes(st, i) == CHAIN_HASH_LEN)
				continue;
			if (t == SQLITE_BLOB) {
				snprintf(why, whylen,
					 "column %s is %d bytes long, not %d",
					 cols[i].name, sqlite3_column_bytes(st, i),
					 CHAIN_HASH_LEN);
				return why;
			}
			break;
		}
		snprintf(why, whylen, "column %s holds %s value (expected %s)",
			 cols[i].name, type_name(t),
			 cols[i].kind == K_BLOB32 ? "a 32-byte blob" :
			 cols[i].kind == K_TEXT ? "text or NULL" :
			 cols[i].kind == K_INT ? "an integer or NULL" :
			 "an integer");
		return why;
	}
	return NULL;
}

static void
verify_usage(FILE *f)
{
	fprintf(f, "usage: auditctl [-c file] [--db path] [--key path] verify [-q]\n");
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
 * hash-only verification (NOTE says why), or -1 after printing an error.
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
		warnx("%s: key file is accessible by group or others; "
		      "refusing to use it", ctl->key_path);
		return -1;
	default:
		if (ctl->key_explicit) {
			warnx("%s: %s", ctl->key_path, strerror(-rc));
			return -1;
		}
		snprintf(note, notelen, "%s: %s", ctl->key_path, strerror(-rc));
		return 0;
	}
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

	struct chain_ctx *cc = chain_ctx_new(have_key ? key : NULL);
	chain_wipe(key, sizeof key);
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	unsigned char *canon = NULL;
	char *head_path = NULL;
	if (!cc) {
		warnx("cannot set up SHA-256/HMAC (OpenSSL)");
		goto out;
	}

	/*
	 * Read the head before the database: the writer replaces it after
	 * each commit, so the snapshot taken afterwards holds at least the
	 * entries it names.  The other order would see a head newer than
	 * the snapshot and cry "truncated".
	 */
	struct ctl_head head;
	bool have_head = false;
	char herr[128] = "";
	if (asprintf(&head_path, "%s.head", ctl->db_path) < 0) {
		head_path = NULL;
		warnx("out of memory");
		goto out;
	}
	int hrc = ctl_head_read(head_path, &head, herr, sizeof herr);
	if (hrc == 0) {
		have_head = true;
	} else if (hrc == -EINVAL) {
		warnx("%s: %s", head_path, herr);
		goto out;
	} else if (hrc != -ENOENT) {
		warnx("%s: %s", head_path, strerror(-hrc));
		goto out;
	}

	db = ctl_db_open(ctl->db_path);
	if (!db)
		goto out;
	int rc = sqlite3_prepare_v2(db, RECORDS_SELECT " ORDER BY seq", -1, &st,
				    NULL);
	if (rc != SQLITE_OK) {
		warnx("%s: %s", ctl->db_path, sqlite3_errmsg(db));
		goto out;
	}

	size_t canon_cap = 4096;
	canon = malloc(canon_cap);
	if (!canon) {
		warnx("out of memory");
		goto out;
	}

	unsigned char prev[CHAIN_HASH_LEN] = { 0 };	/* hash of expect-1 */
	unsigned char hash[CHAIN_HASH_LEN], mac[CHAIN_HASH_LEN];
	int64_t expect = 1;
	char why[160];
	struct chain_record r;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
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
		if (check_columns(st, why, sizeof why)) {
			ret = broken(seq, "%s", why);
			goto out;
		}

		records_from_row(st, &r);
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
			chain_canonical(&r, canon, canon_cap);
		}
		if (chain_seal(cc, prev, canon, need, hash,
			       have_key ? mac : NULL) < 0) {
			warnx("SHA-256/HMAC failed (OpenSSL)");
			goto out;
		}

		const unsigned char *s_prev = sqlite3_column_blob(st, RECORDS_COL_PREV);
		const unsigned char *s_hash = sqlite3_column_blob(st, RECORDS_COL_HASH);
		const unsigned char *s_mac = sqlite3_column_blob(st, RECORDS_COL_MAC);
		bool prev_ok = chain_equal(s_prev, prev);
		bool hash_ok = chain_equal(s_hash, hash);

		/*
		 * Whoever lacks the key can recompute hashes but not MACs:
		 * an edit with re-hashed successors shows as a bad MAC at
		 * the edited entry; an edit left alone, as a hash mismatch;
		 * an entry moved to another seq (swap, insertion with
		 * renumbering) changes its seq and its predecessor, so both.
		 */
		if (!prev_ok && !hash_ok) {
			ret = broken(seq, "hash mismatch, and prev_hash does not "
				     "match %s (entry replaced or moved)",
				     seq == 1 ? "the zero hash of entry 1"
					      : "the hash of the previous entry");
			goto out;
		}
		if (!prev_ok) {
			ret = broken(seq, "prev_hash does not match %s (entry "
				     "inserted or chain spliced)",
				     seq == 1 ? "the zero hash of entry 1"
					      : "the hash of the previous entry");
			goto out;
		}
		if (!hash_ok) {
			ret = broken(seq, "hash mismatch (entry altered)");
			goto out;
		}
		if (have_key && !chain_equal(s_mac, mac)) {
			ret = broken(seq, "MAC invalid (entry forged, or "
				     "re-hashed by someone without the key)");
			goto out;
		}
		/* The head names an entry we have: it must be this one. */
		if (have_head && seq == head.seq &&
		    (!chain_equal(head.hash, hash) || !chain_equal(head.mac, s_mac))) {
			ret = broken(seq, "differs from the head the writer last "
				     "reported in %s (chain rewritten at or "
				     "before this entry)", head_path);
			goto out;
		}
		memcpy(prev, hash, sizeof prev);
		expect++;
	}
	if (rc != SQLITE_DONE) {
		warnx("%s: %s", ctl->db_path, sqlite3_errmsg(db));
		goto out;
	}

	int64_t count = expect - 1;
	if (have_head && head.seq > count) {
		/*
		 * With the key, tell a forged head (a false alarm planted to
		 * discredit the store) from a cut tail.
		 */
		if (have_key && chain_hmac(cc, head.hash, CHAIN_HASH_LEN, mac) == 0 &&
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

	if (!quiet) {
		printf("Chain valid: %" PRId64 " entries, 0 breaks\n", count);
		if (!have_key)
			warnx("MACs not checked (%s): hash-only verification; "
			      "someone who rewrote the database could have "
			      "re-computed the hashes", note);
	}
	if (!have_head && count > 0)
		warnx("%s: %s: the end of the chain could not be "
		      "compared with the writer's head; a truncated "
		      "tail would go unnoticed", head_path,
		      strerror(ENOENT));
	ret = CTL_EXIT_OK;
out:
	free(canon);
	free(head_path);
	sqlite3_finalize(st);
	ctl_db_close(db);
	chain_ctx_free(cc);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		warn("stdout");
		ret = CTL_EXIT_USAGE;
	}
	return ret;
}
