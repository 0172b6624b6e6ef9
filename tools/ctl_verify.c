/* SPDX-License-Identifier: MIT */
/*
 * ctl_verify.c - runs the store's verifier (store/verify.c) for verify and
 * report over several cores: one read-only connection and one hashing
 * context per thread, the range split by verify_parallel().
 */
#include "cmd.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "db.h"
#include "verify.h"

/* At most this many threads (CTL_VERIFY_MAX_JOBS). */
#define MAX_THREADS CTL_VERIFY_MAX_JOBS
/* Below this many entries one thread does it (opening more costs more). */
#define MIN_PARALLEL 50000

int
ctl_verify_range(const char *path, sqlite3 *db, const unsigned char *key,
		 int jobs, int64_t from, int64_t to, const struct db_head *head,
		 struct db_verify *v)
{
	sqlite3 *dbs[MAX_THREADS] = { db };
	struct chain_ctx *cs[MAX_THREADS] = { NULL };
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int n = cpus > MAX_THREADS ? MAX_THREADS : cpus > 1 ? (int)cpus : 1;
	int rc = -ENOMEM;

	if (jobs > 0)
		n = jobs < MAX_THREADS ? jobs : MAX_THREADS;
	else if (to - from + 1 < MIN_PARALLEL)
		n = 1;
	/*
	 * The extra connections open after DB's snapshot was taken, so they
	 * hold every entry up to TO; a connection that cannot be opened
	 * only means fewer threads.
	 */
	int have = 1;
	for (int i = 1; i < n; i++) {
		const char *note = NULL;
		char err[256];
		if (db_open_ro(path, &dbs[have], &note, err, sizeof err) < 0)
			break;
		have++;
	}
	n = have;
	for (int i = 0; i < n; i++)
		if (!(cs[i] = chain_ctx_new(key)))
			goto out;
	rc = verify_parallel(dbs, cs, n, from, to, head, v);
out:
	for (int i = 0; i < n; i++) {
		chain_ctx_free(cs[i]);
		if (i > 0)
			db_close(dbs[i]);
	}
	return rc;
}
