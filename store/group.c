/* SPDX-License-Identifier: MIT */
/*
 * group.c - sealing records into the chain in memory and committing them
 * in groups (one transaction, one fsync) for auditshimd.  A failed commit
 * keeps the group in memory and is retried with backoff; seq numbers are
 * assigned at sealing, so a retry never renumbers anything.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "json.h"
#include "log.h"
#include "records.h"
#include "writer.h"

#define RETRY_MIN_MS 100
#define RETRY_MAX_MS 5000

struct rec *
rec_new(void)
{
	return calloc(1, sizeof(struct rec));
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
	struct jbuf b = { 0 };

	jbuf_utf8(&b, s, n);
	if (b.oom) {
		jbuf_free(&b);
		return NULL;
	}
	if (!b.p) {
		/* Empty string: jbuf allocated nothing. */
		return rec_take(r, strdup(""));
	}
	return rec_take(r, b.p);
}

void
rec_free(struct rec *r)
{
	if (!r)
		return;
	for (unsigned i = 0; i < r->nown; i++)
		free(r->own[i]);
	free(r->alert);
	free(r);
}

int
group_seal(struct writer *w, struct rec *r)
{
	r->r.seq = w->seq + 1;
	size_t need = chain_canonical(&r->r, w->canon, w->canon_cap);
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
		chain_canonical(&r->r, w->canon, w->canon_cap);
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

static void
rollback(struct writer *w)
{
	if (!sqlite3_get_autocommit(w->db))
		sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
}

int
group_commit(struct writer *w)
{
	struct rec *r;
	const char *what = "BEGIN";

	if (!w->pend_head)
		return 0;
	if (sqlite3_exec(w->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	what = "INSERT";
	for (r = w->pend_head; r; r = r->next) {
		sqlite3_reset(w->ins);
		if (records_bind(w->ins, &r->r, r->prev, r->hash, r->mac) != SQLITE_OK ||
		    sqlite3_step(w->ins) != SQLITE_DONE) {
			sqlite3_reset(w->ins);
			goto fail;
		}
	}
	sqlite3_reset(w->ins);
	sqlite3_clear_bindings(w->ins);
	what = "proc_state";
	if (procs_save(w) < 0)
		goto fail;
	what = "COMMIT";
	if (sqlite3_exec(w->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	procs_saved(w);

	struct db_head h;
	h.seq = w->pend_tail->r.seq;
	memcpy(h.hash, w->pend_tail->hash, CHAIN_HASH_LEN);
	memcpy(h.mac, w->pend_tail->mac, CHAIN_HASH_LEN);
	int hr = db_head_write(w->conf.database, &h);
	if (hr < 0)
		log_warnx("%s.head: cannot write: %s (the records are committed)",
			  w->conf.database, strerror(-hr));
	if (w->commit_failing)
		log_crit("commit recovered: %zu records held in memory are now "
			 "committed (seq %lld..%lld)", w->npend,
			 (long long)w->pend_head->r.seq, (long long)h.seq);
	w->committed += w->npend;
	while ((r = w->pend_head)) {
		w->pend_head = r->next;
		/* Alerts only for violations that are in the store. */
		if (r->alert) {
			alerts_push(w->alerts, r->alert, r->alert_severity);
			r->alert = NULL;
		}
		rec_free(r);
	}
	w->pend_tail = NULL;
	w->npend = 0;
	w->commit_failing = false;
	w->retry_at_ms = 0;
	w->retry_delay_ms = 0;
	return 0;
fail:
	w->retry_delay_ms = !w->retry_delay_ms ? RETRY_MIN_MS
			    : w->retry_delay_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS
			    : w->retry_delay_ms * 2;
	log_crit("COMMIT FAILED (%s: %s) on %s: %zu records (seq %lld..%lld) held "
		 "in memory, retrying in %u ms", what, sqlite3_errmsg(w->db),
		 w->conf.database, w->npend, (long long)w->pend_head->r.seq,
		 (long long)w->pend_tail->r.seq, w->retry_delay_ms);
	rollback(w);
	w->retry_at_ms = now_mono_ms() + w->retry_delay_ms;
	w->commit_failing = true;
	return -EIO;
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

	while ((r = w->pend_head)) {
		w->pend_head = r->next;
		rec_free(r);
	}
	w->pend_tail = NULL;
	w->npend = 0;
	sqlite3_finalize(w->ins);
	sqlite3_finalize(w->ps_upsert);
	w->ins = w->ps_upsert = NULL;
	free(w->canon);
	w->canon = NULL;
}
