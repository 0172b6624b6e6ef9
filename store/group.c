/* SPDX-License-Identifier: MIT */
/*
 * group.c - sealing records into the chain in memory and committing them
 * in groups (one transaction, one fsync) for auditshimd.  A failed commit
 * keeps the group in memory and is retried with backoff; seq numbers are
 * assigned at sealing, so a retry never renumbers anything.
 */
#include <errno.h>
#include <stddef.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "ckpt.h"
#include "db.h"
#include "json.h"
#include "log.h"
#include "records.h"
#include "writer.h"

#define RETRY_MIN_MS 100
#define RETRY_MAX_MS 5000
/* Most often the head file is rewritten under a stream of commits. */
#define HEAD_EVERY_MS 200
/* No new group for this long: the commit thread is idle, the head is
 * brought up to date. */
#define HEAD_IDLE_MS 20

/*
 * Records are recycled: a group's records are freed together after its
 * commit, a pattern that defeats malloc's fast paths for objects this
 * size.  Only the event loop's thread makes and frees records.
 */
#define REC_POOL_MAX 4096
static struct rec *rec_pool;
static size_t rec_pooled;
/* UTF-8 clean-up scratch for rec_text (event loop thread only). */
static struct jbuf text_scratch;

struct rec *
rec_new(void)
{
	struct rec *r = rec_pool;
	if (r) {
		rec_pool = r->next;
		rec_pooled--;
	} else if (!(r = malloc(sizeof *r))) {
		return NULL;
	}
	/* Not all of it: inl[] need not be zeroed. */
	memset(r, 0, offsetof(struct rec, inl));
	return r;
}

const char *
rec_copy(struct rec *r, const char *s, size_t n)
{
	if (n < sizeof r->inl - r->inl_used) {
		char *p = r->inl + r->inl_used;
		memcpy(p, s, n);
		p[n] = '\0';
		r->inl_used += n + 1;
		return p;
	}
	return rec_take(r, strndup(s, n));
}

const char *
rec_take(struct rec *r, char *s)
{
	if (!s)
		return NULL;
	if (r->nown >= REC_MAX_OWN) {
		/* A programming error; never lose the pointer. */
		abort();
	}
	r->own[r->nown++] = s;
	return s;
}

const char *
rec_text(struct rec *r, const char *s, size_t n)
{
	struct jbuf *b = &text_scratch;

	jbuf_reset(b);
	jbuf_utf8(b, s, n);
	if (b->oom) {
		jbuf_free(b);
		return NULL;
	}
	return rec_copy(r, b->p ? b->p : "", b->len);
}

void
rec_free(struct rec *r)
{
	if (!r)
		return;
	for (unsigned i = 0; i < r->nown; i++)
		free(r->own[i]);
	free(r->alert);
	if (rec_pooled < REC_POOL_MAX) {
		r->next = rec_pool;
		rec_pool = r;
		rec_pooled++;
	} else {
		free(r);
	}
}

int
group_seal(struct writer *w, struct rec *r)
{
	r->r.seq = w->seq + 1;
	size_t need = chain_canonical_lens(&r->r, w->canon, w->canon_cap, r->lens);
	if (need > w->canon_cap) {
		size_t cap = w->canon_cap ? w->canon_cap : 8192;
		while (cap < need)
			cap *= 2;
		unsigned char *p = realloc(w->canon, cap);
		if (!p) {
			rec_free(r);
			return -ENOMEM;
		}
		w->canon = p;
		w->canon_cap = cap;
		chain_canonical_lens(&r->r, w->canon, w->canon_cap, r->lens);
	}
	memcpy(r->prev, w->last_hash, CHAIN_HASH_LEN);
	if (chain_seal(w->chain, r->prev, w->canon, need, r->hash, r->mac) < 0) {
		rec_free(r);
		return -EIO;
	}
	w->seq = r->r.seq;
	memcpy(w->last_hash, r->hash, CHAIN_HASH_LEN);
	if (!w->pend_head) {
		w->pend_head = r;
		w->pend_since_ms = now_mono_ms();
	} else {
		w->pend_tail->next = r;
	}
	w->pend_tail = r;
	w->npend++;
	return 0;
}

/*
 * --- committing -------------------------------------------------------------
 *
 * The event loop seals records into the pending group; a commit thread
 * writes groups to the database, one transaction and fsync each, while the
 * loop goes on reading and sealing the next group.  One group is in flight
 * at a time, so groups commit in seq order; the in-flight group and its
 * proc_state copy belong to the thread until the loop reaps it.  A failed
 * commit is retried by the thread, with backoff, until it succeeds or the
 * writer gives up at stop; meanwhile the pending group grows to its cap and
 * the loop stops reading (docs/writer.md).
 */

/* A group on its way to the database. */
struct batch {
	struct rec *head, *tail;	/* records, seq order */
	size_t n;			/* how many */
	struct ps_row *rows;		/* proc_state rows to save with them */
	size_t nrows;
};

struct committer {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct batch work;		/* the group in flight */
	bool busy;			/* WORK handed over, not yet reaped */
	bool done;			/* WORK committed (or abandoned) */
	bool stop;			/* exit when idle */
	bool abandon;			/* give up WORK (stop deadline passed) */
	bool failing;			/* the last attempt failed */
	bool disk_full;			/* ...because the disk is full */
	bool want_stop;			/* disk_full_action = stop: tell the loop */
	int result;			/* of WORK once DONE: 0, or -EIO given up */
	int evfd;			/* written when DONE is set */
	/*
	 * The thread's own copies of the settings it uses: a SIGHUP reload
	 * replaces (and frees) the writer's struct conf under it.
	 */
	char *database;			/* [writer] database */
	unsigned df_action;		/* [writer] disk_full_action */
	char *df_command;		/* [writer] disk_full_command, or NULL */
	/* The head file: written by the thread only (head_write). */
	struct db_head head;		/* last committed record */
	bool head_due;			/* HEAD not yet written */
	uint64_t head_ms;		/* when the file was last written */
	struct ckpt *ck;		/* the checkpoint thread, or NULL */
};

static void
batch_free(struct batch *b)
{
	struct rec *r;

	while ((r = b->head)) {
		b->head = r->next;
		rec_free(r);
	}
	ps_rows_free(b->rows, b->nrows);
	memset(b, 0, sizeof *b);
}

/*
 * The head file names the last committed record (truncation detection).
 * It costs an fsync and a rename, as much as the commit itself, so under
 * a stream of commits it is written at most every HEAD_EVERY_MS, and
 * when the thread has been idle for HEAD_IDLE_MS or stops: it lags the
 * store by at most that long, never leads it.
 */
static void
head_write(struct writer *w)
{
	struct committer *cm = w->cm;

	if (!cm->head_due)
		return;
	int hr = db_head_write(cm->database, &cm->head);
	if (hr < 0)
		log_warnx("%s.head: cannot write: %s (the records are committed)",
			  cm->database, strerror(-hr));
	cm->head_due = false;
	cm->head_ms = now_mono_ms();
}

/*
 * One transaction: records, proc_state, COMMIT, then (maybe) the head
 * file.  On failure *FULL says whether the disk was full.
 */
static int
commit_batch(struct writer *w, const struct batch *b, char *err, size_t errlen,
	     bool *full)
{
	const char *what = "BEGIN";
	struct rec *r;

	if (sqlite3_exec(w->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	what = "INSERT";
	for (r = b->head; r; r = r->next) {
		sqlite3_reset(w->ins);
		if (records_bind(w->ins, &r->r, r->lens, r->prev, r->hash, r->mac) != SQLITE_OK ||
		    sqlite3_step(w->ins) != SQLITE_DONE) {
			sqlite3_reset(w->ins);
			goto fail;
		}
	}
	sqlite3_reset(w->ins);
	sqlite3_clear_bindings(w->ins);
	what = "proc_state";
	if (procs_save_rows(w->ps_upsert, b->rows, b->nrows) < 0)
		goto fail;
	what = "COMMIT";
	if (sqlite3_exec(w->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;

	struct committer *cm = w->cm;
	cm->head.seq = b->tail->r.seq;
	memcpy(cm->head.hash, b->tail->hash, CHAIN_HASH_LEN);
	memcpy(cm->head.mac, b->tail->mac, CHAIN_HASH_LEN);
	cm->head_due = true;
	if (now_mono_ms() - cm->head_ms >= HEAD_EVERY_MS)
		head_write(w);
	return 0;
fail:
	snprintf(err, errlen, "%s: %s", what, sqlite3_errmsg(w->db));
	int ec = sqlite3_extended_errcode(w->db) & 0xff;
	*full = ec == SQLITE_FULL ||
		(ec == SQLITE_IOERR && sqlite3_system_errno(w->db) == ENOSPC);
	if (!sqlite3_get_autocommit(w->db))
		sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
	return -EIO;
}

/* Wakes the event loop (group_eventfd) to look at the thread's state. */
static void
wake_loop(struct committer *cm)
{
	uint64_t one = 1;

	if (write(cm->evfd, &one, sizeof one) < 0 && errno != EAGAIN)
		log_warn("commit eventfd");
}

/*
 * The commit of B failed because the disk is full: the first time in an
 * episode, carry out disk_full_action.  Commit thread.
 */
static void
disk_full(struct writer *w, const struct batch *b)
{
	struct committer *cm = w->cm;
	char json[512];

	pthread_mutex_lock(&cm->mu);
	bool first = !cm->disk_full;
	cm->disk_full = true;
	pthread_mutex_unlock(&cm->mu);
	if (!first)
		return;
	switch (w->cm->df_action) {
	case DF_HOLD:
		log_crit("%s: disk full: holding %zu records in memory; reading from "
			 "clients stops at %zu (disk_full_action = hold)",
			 w->cm->database, b->n, w->pend_cap);
		break;
	case DF_EXEC:
		log_crit("%s: disk full: holding %zu records, running "
			 "disk_full_command", w->cm->database, b->n);
		snprintf(json, sizeof json, "{\"event\":\"disk_full\","
			 "\"held_records\":%zu,\"first_seq\":%lld}", b->n,
			 (long long)b->head->r.seq);
		run_shell(w->cm->df_command, json, 60000,
			  "disk_full_command");
		break;
	case DF_STOP:
		log_crit("%s: disk full: stopping the writer (disk_full_action = "
			 "stop)", w->cm->database);
		pthread_mutex_lock(&cm->mu);
		cm->want_stop = true;
		pthread_mutex_unlock(&cm->mu);
		wake_loop(cm);
		break;
	}
}

/* CLOCK_REALTIME (the condition variable's clock) MS from now. */
static struct timespec
deadline_in(unsigned ms)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

static void *
committer_main(void *arg)
{
	struct writer *w = arg;
	struct committer *cm = w->cm;

	pthread_mutex_lock(&cm->mu);
	for (;;) {
		while (!(cm->busy && !cm->done) && !cm->stop) {
			if (!cm->head_due) {
				pthread_cond_wait(&cm->cv, &cm->mu);
				continue;
			}
			/* No new group within HEAD_IDLE_MS: idle, catch up. */
			struct timespec until = deadline_in(HEAD_IDLE_MS);
			if (pthread_cond_timedwait(&cm->cv, &cm->mu, &until) ==
			    ETIMEDOUT && !(cm->busy && !cm->done)) {
				pthread_mutex_unlock(&cm->mu);
				head_write(w);
				pthread_mutex_lock(&cm->mu);
			}
		}
		if (!(cm->busy && !cm->done)) {
			pthread_mutex_unlock(&cm->mu);
			head_write(w);		/* stopping: the head is current */
			pthread_mutex_lock(&cm->mu);
			break;
		}
		const struct batch *b = &cm->work;
		unsigned delay = 0;
		char err[256];
		pthread_mutex_unlock(&cm->mu);
		int rc;
		bool full = false;
		while ((rc = commit_batch(w, b, err, sizeof err, &full)) < 0) {
			delay = !delay ? RETRY_MIN_MS
				: delay * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : delay * 2;
			log_crit("COMMIT FAILED (%s) on %s: %zu records (seq %lld..%lld) "
				 "held in memory, retrying in %u ms", err,
				 w->cm->database, b->n, (long long)b->head->r.seq,
				 (long long)b->tail->r.seq, delay);
			if (full)
				disk_full(w, b);
			pthread_mutex_lock(&cm->mu);
			cm->failing = true;
			struct timespec until = deadline_in(delay);
			while (!cm->abandon &&
			       pthread_cond_timedwait(&cm->cv, &cm->mu, &until) == 0)
				;
			bool give_up = cm->abandon;
			pthread_mutex_unlock(&cm->mu);
			if (give_up)
				break;
		}
		pthread_mutex_lock(&cm->mu);
		if (cm->failing && rc == 0)
			log_crit("commit recovered: %zu records held in memory are now "
				 "committed (seq %lld..%lld)", b->n,
				 (long long)b->head->r.seq, (long long)b->tail->r.seq);
		cm->failing = false;
		if (rc == 0)
			cm->disk_full = false;	/* the episode is over */
		cm->result = rc;
		cm->done = true;
		wake_loop(cm);
	}
	pthread_mutex_unlock(&cm->mu);
	return NULL;
}

int
group_start(struct writer *w)
{
	struct committer *cm = calloc(1, sizeof *cm);
	if (!cm)
		return -ENOMEM;
	cm->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	cm->database = strdup(w->conf.database);
	cm->df_action = w->conf.disk_full_action;
	cm->df_command = w->conf.disk_full_command ?
			 strdup(w->conf.disk_full_command) : NULL;
	if (cm->evfd < 0 || !cm->database ||
	    (w->conf.disk_full_command && !cm->df_command)) {
		int e = cm->evfd < 0 ? errno : ENOMEM;
		if (cm->evfd >= 0)
			close(cm->evfd);
		free(cm->database);
		free(cm->df_command);
		free(cm);
		return -e;
	}
	pthread_mutex_init(&cm->mu, NULL);
	pthread_cond_init(&cm->cv, NULL);
	w->cm = cm;
	cm->ck = ckpt_start(w->db, w->conf.database);
	int e = pthread_create(&cm->thread, NULL, committer_main, w);
	if (e) {
		ckpt_stop(cm->ck);
		close(cm->evfd);
		free(cm->database);
		free(cm->df_command);
		free(cm);
		w->cm = NULL;
		return -e;
	}
	return 0;
}

int
group_eventfd(const struct writer *w)
{
	return w->cm ? w->cm->evfd : -1;
}

void
group_reap(struct writer *w)
{
	struct committer *cm = w->cm;
	struct batch b;
	uint64_t v;

	if (read(cm->evfd, &v, sizeof v) < 0 && errno != EAGAIN)
		log_warn("commit eventfd");
	pthread_mutex_lock(&cm->mu);
	if (cm->want_stop)
		w->stop_requested = true;
	if (!cm->busy || !cm->done) {
		pthread_mutex_unlock(&cm->mu);
		return;
	}
	bool abandoned = cm->result < 0;
	b = cm->work;
	memset(&cm->work, 0, sizeof cm->work);
	cm->busy = cm->done = false;
	pthread_mutex_unlock(&cm->mu);
	if (abandoned) {
		log_crit("%zu records (seq %lld..%lld) could not be committed and "
			 "are lost; the next start records an unclean shutdown",
			 b.n, (long long)b.head->r.seq, (long long)b.tail->r.seq);
		w->lost += b.n;
	} else {
		w->committed += b.n;
		/* Alerts only for violations that are in the store. */
		for (struct rec *r = b.head; r; r = r->next)
			if (r->alert) {
				alerts_push(w->alerts, r->alert, r->alert_severity);
				r->alert = NULL;
			}
	}
	batch_free(&b);
}

int
group_due(const struct writer *w, uint64_t now)
{
	if (!w->pend_head || group_busy(w))
		return -1;
	if (w->npend >= w->conf.commit_max)
		return 0;
	uint64_t due = w->pend_since_ms + w->conf.commit_interval_ms;
	return now >= due ? 0 : (int)(due - now);
}

bool
group_busy(const struct writer *w)
{
	struct committer *cm = w->cm;
	pthread_mutex_lock(&cm->mu);
	bool busy = cm->busy;
	pthread_mutex_unlock(&cm->mu);
	return busy;
}

void
group_kick(struct writer *w, bool force)
{
	struct committer *cm = w->cm;
	struct ps_row *rows = NULL;
	size_t nrows = 0;

	if (!w->pend_head)
		return;
	if (!force && group_due(w, now_mono_ms()) != 0)
		return;
	pthread_mutex_lock(&cm->mu);
	if (cm->busy) {
		pthread_mutex_unlock(&cm->mu);
		return;
	}
	pthread_mutex_unlock(&cm->mu);
	/*
	 * At most group_max records per transaction: a commit then takes a
	 * few ms, so when reading has to pause for one (the pending list at
	 * its cap) the shims' single bounded wait outlasts the pause.
	 */
	struct batch b = { .head = w->pend_head, .tail = w->pend_head, .n = 1 };
	while (b.n < w->group_max && b.tail->next) {
		b.tail = b.tail->next;
		b.n++;
	}
	/*
	 * proc_state goes with a group only when the group holds every
	 * record sealed so far: saved state never runs ahead of the records
	 * (after a crash it may lag, which costs a false gap, never a
	 * silent one).
	 */
	if (!b.tail->next && procs_snapshot(w, &rows, &nrows) < 0)
		return;		/* no memory: try again at the next kick */
	b.rows = rows;
	b.nrows = nrows;
	w->pend_head = b.tail->next;
	b.tail->next = NULL;
	w->npend -= b.n;
	if (!w->pend_head)
		w->pend_tail = NULL;
	else
		w->pend_since_ms = now_mono_ms();
	pthread_mutex_lock(&cm->mu);
	cm->work = b;
	cm->busy = true;
	cm->done = false;
	pthread_cond_signal(&cm->cv);
	pthread_mutex_unlock(&cm->mu);
}

int
group_drain(struct writer *w, unsigned deadline_ms)
{
	struct committer *cm = w->cm;
	uint64_t give_up = now_mono_ms() + deadline_ms;
	int rc = 0;

	for (;;) {
		group_reap(w);
		group_kick(w, true);
		if (!group_busy(w) && !w->pend_head)
			break;
		uint64_t now = now_mono_ms();
		if (now >= give_up) {
			pthread_mutex_lock(&cm->mu);
			cm->abandon = true;
			pthread_cond_signal(&cm->cv);
			pthread_mutex_unlock(&cm->mu);
			rc = -EIO;
			give_up = UINT64_MAX;	/* now wait for the thread to let go */
			continue;
		}
		struct pollfd p = { .fd = cm->evfd, .events = POLLIN };
		uint64_t left = give_up - now;
		poll(&p, 1, left > 1000 ? 1000 : (int)left);
	}
	if (rc < 0 && w->pend_head) {
		log_crit("%zu records (seq %lld..%lld) could not be committed and are "
			 "lost; the next start records an unclean shutdown", w->npend,
			 (long long)w->pend_head->r.seq, (long long)w->pend_tail->r.seq);
		w->lost += w->npend;
	}
	return rc;
}

static void
group_stop(struct writer *w)
{
	struct committer *cm = w->cm;

	if (!cm)
		return;
	pthread_mutex_lock(&cm->mu);
	cm->stop = cm->abandon = true;
	pthread_cond_signal(&cm->cv);
	pthread_mutex_unlock(&cm->mu);
	pthread_join(cm->thread, NULL);
	ckpt_stop(cm->ck);
	if (cm->busy)
		batch_free(&cm->work);
	close(cm->evfd);
	free(cm->database);
	free(cm->df_command);
	pthread_cond_destroy(&cm->cv);
	pthread_mutex_destroy(&cm->mu);
	free(cm);
	w->cm = NULL;
}

int
group_init(struct writer *w)
{
	if (sqlite3_prepare_v3(w->db, RECORDS_INSERT, -1, SQLITE_PREPARE_PERSISTENT,
			       &w->ins, NULL) != SQLITE_OK)
		return -EIO;
	if (sqlite3_prepare_v3(w->db,
			       "INSERT INTO proc_state (pid, image, session, agent,"
			       " last_pseq, updated) VALUES (?,?,?,?,?,?)"
			       " ON CONFLICT (pid, image) DO UPDATE SET"
			       " session = excluded.session, agent = excluded.agent,"
			       " last_pseq = excluded.last_pseq,"
			       " updated = excluded.updated",
			       -1, SQLITE_PREPARE_PERSISTENT, &w->ps_upsert,
			       NULL) != SQLITE_OK)
		return -EIO;
	return 0;
}

void
group_fini(struct writer *w)
{
	struct rec *r;

	group_stop(w);
	while ((r = w->pend_head)) {
		w->pend_head = r->next;
		rec_free(r);
	}
	w->pend_tail = NULL;
	w->npend = 0;
	while ((r = rec_pool)) {
		rec_pool = r->next;
		free(r);
	}
	rec_pooled = 0;
	jbuf_free(&text_scratch);
	sqlite3_finalize(w->ins);
	sqlite3_finalize(w->ps_upsert);
	w->ins = w->ps_upsert = NULL;
	free(w->canon);
	w->canon = NULL;
}
