/* SPDX-License-Identifier: MIT */
/*
 * ckpt.c - WAL checkpoints on a connection and a thread of their own, so
 * that no commit carries one (docs/writer.md, Checkpoints).
 *
 * SQLite's automatic checkpoint runs inside the commit that pushes the
 * WAL past 1,000 pages: it writes those pages back to the database file
 * and fsyncs it, and that commit takes several times as long as the
 * others.  While it runs the event loop may have to stop reading (the
 * pending list at its cap), and a pause longer than the shims' single
 * bounded wait costs records (as gaps).  Here the writer's connection only
 * signals this thread, which runs PASSIVE checkpoints (they never block
 * the writer, and copy what no reader still needs) on its own connection.
 *
 * A PASSIVE checkpoint cannot let the WAL start over while commits keep
 * coming: the log is rewound only by a transaction that begins when every
 * frame is back in the database.  So past CKPT_HARD frames the commit
 * thread checkpoints inline as before; the thread has by then copied
 * most of the log and the inline one copies the rest.  The WAL stays
 * bounded by about CKPT_HARD pages.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "ckpt.h"
#include "log.h"

/* Frames in the WAL that wake the thread (SQLite's own default). */
#define CKPT_SOFT 1000
/* Frames past which the commit thread checkpoints itself. */
#define CKPT_HARD 8000

struct ckpt {
	sqlite3 *writer;		/* the commit thread's connection */
	sqlite3 *db;			/* ours */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool due;			/* the WAL is past CKPT_SOFT */
	bool stop;
	atomic_bool warned;		/* an error was logged (once per run;
					 * either thread may log it) */
};

static void
ckpt_warn(struct ckpt *c, sqlite3 *db, int rc, const char *who)
{
	if (rc == SQLITE_OK || rc == SQLITE_BUSY ||
	    atomic_exchange(&c->warned, true))
		return;
	log_warnx("%s checkpoint: %s (later failures are not logged; the WAL "
		  "is checkpointed again at the next commit)", who,
		  sqlite3_errmsg(db));
}

/* sqlite3_wal_hook: after each commit on the writer's connection. */
static int
wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct ckpt *c = arg;

	if (frames >= CKPT_HARD) {
		int rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE,
						   NULL, NULL);
		ckpt_warn(c, db, rc, "inline");
	} else if (frames >= CKPT_SOFT) {
		pthread_mutex_lock(&c->mu);
		if (!c->due) {
			c->due = true;
			pthread_cond_signal(&c->cv);
		}
		pthread_mutex_unlock(&c->mu);
	}
	return SQLITE_OK;
}

static void *
ckpt_main(void *arg)
{
	struct ckpt *c = arg;

	/* Shown by ps -L and named by the crash-injection tests. */
	pthread_setname_np(pthread_self(), "auditshimd-ckpt");
	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (!c->due && !c->stop)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->stop)
			break;
		c->due = false;
		pthread_mutex_unlock(&c->mu);
		int rc = sqlite3_wal_checkpoint_v2(c->db, NULL,
						   SQLITE_CHECKPOINT_PASSIVE,
						   NULL, NULL);
		ckpt_warn(c, c->db, rc, "background");
		pthread_mutex_lock(&c->mu);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

struct ckpt *
ckpt_start(sqlite3 *writer, const char *path)
{
	struct ckpt *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->writer = writer;
	/* NOMUTEX: this connection is used by this thread only. */
	if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE |
			    SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK ||
	    sqlite3_exec(c->db, "PRAGMA synchronous=FULL", NULL, NULL,
			 NULL) != SQLITE_OK) {
		log_warnx("%s: checkpoint connection: %s; checkpoints stay in "
			  "the commits", path, sqlite3_errmsg(c->db));
		sqlite3_close_v2(c->db);
		free(c);
		return NULL;
	}
	sqlite3_busy_timeout(c->db, 0);
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	int e = pthread_create(&c->thread, NULL, ckpt_main, c);
	if (e) {
		log_warnx("checkpoint thread: %s; checkpoints stay in the commits",
			  strerror(e));
		pthread_cond_destroy(&c->cv);
		pthread_mutex_destroy(&c->mu);
		sqlite3_close_v2(c->db);
		free(c);
		return NULL;
	}
	/* Replaces (turns off) the automatic checkpoint. */
	sqlite3_wal_hook(writer, wal_hook, c);
	return c;
}

void
ckpt_stop(struct ckpt *c)
{
	if (!c)
		return;
	/* The writer's connection checkpoints for itself again. */
	sqlite3_wal_autocheckpoint(c->writer, CKPT_SOFT);
	pthread_mutex_lock(&c->mu);
	c->stop = true;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->thread, NULL);
	sqlite3_close_v2(c->db);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
}
