/* SPDX-License-Identifier: MIT */
/*
 * cmd_verify.c - `auditctl verify`: walks the whole chain with the store's
 * verifier (store/verify.c, the same one the writer runs on its tail),
 * MACs included when the key is readable, and compares the end of the
 * chain with the head the writer last reported.  Names the first bad
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
#include "verify.h"

static void
verify_usage(FILE *f)
{
	fprintf(f, "usage: auditctl [-c file] [--db path] [--key path] "
		"verify [-q] [-j jobs]\n");
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
		{ "jobs", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool quiet = false;
	int ch, jobs = 0, ret = CTL_EXIT_USAGE;
	char *end;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "qj:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'q':
			quiet = true;
			break;
		case 'j': {
			errno = 0;
			long j = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || errno ||
			    j < 1 || j > CTL_VERIFY_MAX_JOBS) {
				warnx("verify: -j: '%s' is not a number from 1 "
				      "to %d", optarg, CTL_VERIFY_MAX_JOBS);
				verify_usage(stderr);
				return CTL_EXIT_USAGE;
			}
			jobs = (int)j;
			break;
		}
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

	bool keyed = have_key > 0;
	struct chain_ctx *cc = NULL;
	const struct db_head *headp = NULL;
	struct db_head head;
	struct db_verify v;
	const char *ro_note = NULL;
	sqlite3 *db = NULL;
	char *head_path = db_head_path(ctl->db_path);
	char *wal_path = NULL;

	cc = chain_ctx_new(keyed ? key : NULL);
	if (asprintf(&wal_path, "%s-wal", ctl->db_path) < 0)
		wal_path = NULL;
	if (!cc || !head_path || !wal_path) {
		warnx("cannot set up: out of memory or OpenSSL failure");
		goto out;
	}

	/*
	 * Read the head before the database: the writer replaces it after
	 * each commit, so the snapshot taken afterwards holds at least the
	 * entries it names.  The other order could see a head newer than
	 * the snapshot and cry "truncated".
	 */
	int hrc = db_head_read(ctl->db_path, &head);
	if (hrc == 0) {
		headp = &head;
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
	/*
	 * One read transaction fixes the snapshot: its last entry is where
	 * the chain ends for this run (the threads' connections, opened
	 * later, hold at least that much of an append-only table).
	 */
	int64_t last;
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    db_max_seq(db, &last) < 0) {
		warnx("%s: %s", ctl->db_path, sqlite3_errmsg(db));
		goto out;
	}
	int vr = ctl_verify_range(ctl->db_path, db, keyed ? key : NULL, jobs,
				  1, last, headp, &v);
	if (vr < 0) {
		warnx("%s: %s", ctl->db_path,
		      vr == -EIO ? sqlite3_errmsg(db) : strerror(-vr));
		goto out;
	}
	if (vr > 0) {
		ret = broken(v.bad_seq, "%s", v.reason);
		goto out;
	}
	int64_t count = v.last_seq;

	if (headp && head.seq > count) {
		/*
		 * Immutable fallback: the entries the head names may sit in
		 * a WAL we could not read.  That is not evidence of a cut.
		 */
		if (ro_note && nonempty(wal_path)) {
			warnx("%s: the writer reported entry %" PRId64 " but "
			      "only %" PRId64 " are readable without the WAL "
			      "index; run as the writer's user to verify the "
			      "tail", ctl->db_path, head.seq, count);
			ret = CTL_EXIT_USAGE;
			goto out;
		}
		/*
		 * With the key, tell a forged head (a false alarm planted to
		 * discredit the store) from a cut tail.
		 */
		unsigned char mac[CHAIN_HASH_LEN];
		if (keyed && chain_hmac(cc, head.hash, CHAIN_HASH_LEN, mac) == 0 &&
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
	if (!headp && count > 0)
		warnx("%s: %s: the end of the chain could not be compared with "
		      "the writer's head; a truncated tail would go unnoticed",
		      head_path, strerror(ENOENT));
	ret = CTL_EXIT_OK;
out:
	chain_wipe(key, sizeof key);
	if (ret != CTL_EXIT_USAGE && !keyed)
		warnx("MACs not checked (%s): hash-only verification; "
		      "someone who rewrote the database could have "
		      "re-computed the hashes", note);
	free(head_path);
	free(wal_path);
	ctl_db_close(db);
	chain_ctx_free(cc);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		warn("stdout");
		ret = CTL_EXIT_USAGE;
	}
	return ret;
}
