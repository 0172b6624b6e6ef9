/* SPDX-License-Identifier: MIT */
/*
 * ctl_tally.c - the SQL aggregate tally(), GROUP BY with a hash table for
 * report sections that count over a window.  SQLite's GROUP BY sorts
 * every row: over a window of ~400,000 records that cost the totals and
 * sessions sections 0.2-0.4 s each, against ~0.06 and ~0.11 s tallied.
 */
#include "cmd.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A value kept by tally: its SQLite type and an owned copy. */
struct tval {
	int type;		/* SQLITE_*; SQLITE_NULL: none yet */
	int64_t i;		/* SQLITE_INTEGER */
	double d;		/* SQLITE_FLOAT */
	char *s;		/* SQLITE_TEXT / SQLITE_BLOB bytes; owned */
	size_t n, cap;		/* their length and allocation */
};

/* min, max and sum of one value column in one group. */
struct tstat {
	struct tval min, max;	/* smallest and largest non-NULL value */
	int64_t sum;		/* sum of the integer values */
};

/* One group. */
struct tgroup {
	struct tgroup *next;	/* in first-met order */
	struct tgroup *chain;	/* next in the same hash bucket */
	uint64_t hash;		/* of the key */
	int64_t count;		/* rows */
	struct tval *keys;	/* K key values; owned */
	struct tstat *stats;	/* M value statistics; owned */
};

/* The aggregate's state. */
struct tally {
	int k, m;		/* key and value columns */
	struct tgroup **bucket;	/* hash buckets; owned */
	size_t nbucket;		/* a power of two */
	size_t ngroups;		/* groups */
	struct tgroup *first, *last;	/* the groups in first-met order */
	bool oom;		/* an allocation failed */
	bool overflow;		/* a sum left the 64-bit range */
};

static int
tval_rank(int type)
{
	return type == SQLITE_INTEGER || type == SQLITE_FLOAT ? 1 :
	       type == SQLITE_TEXT ? 2 : 3;
}

/* SQL order of stored A and value V (neither NULL): <0, 0, >0. */
static int
tval_cmp(const struct tval *a, sqlite3_value *v)
{
	int t = sqlite3_value_type(v);
	int ra = tval_rank(a->type), rb = tval_rank(t);

	if (ra != rb)
		return ra - rb;
	if (ra == 1) {
		if (a->type == SQLITE_INTEGER && t == SQLITE_INTEGER) {
			int64_t b = sqlite3_value_int64(v);
			return a->i < b ? -1 : a->i > b;
		}
		double x = a->type == SQLITE_INTEGER ? (double)a->i : a->d;
		double y = sqlite3_value_double(v);
		return x < y ? -1 : x > y;
	}
	const void *p = t == SQLITE_TEXT ? (const void *)sqlite3_value_text(v) :
			sqlite3_value_blob(v);
	size_t n = (size_t)sqlite3_value_bytes(v);
	int c = memcmp(a->s, p, a->n < n ? a->n : n);
	return c ? c : a->n < n ? -1 : a->n > n;
}

/* Copies V into A.  0 or -ENOMEM. */
static int
tval_set(struct tval *a, sqlite3_value *v)
{
	a->type = sqlite3_value_type(v);
	if (a->type == SQLITE_INTEGER) {
		a->i = sqlite3_value_int64(v);
	} else if (a->type == SQLITE_FLOAT) {
		a->d = sqlite3_value_double(v);
	} else if (a->type != SQLITE_NULL) {
		const void *p = a->type == SQLITE_TEXT ?
			(const void *)sqlite3_value_text(v) : sqlite3_value_blob(v);
		size_t n = (size_t)sqlite3_value_bytes(v);
		if (n + 1 > a->cap) {
			char *q = realloc(a->s, n + 1);
			if (!q)
				return -ENOMEM;
			a->s = q;
			a->cap = n + 1;
		}
		if (n)
			memcpy(a->s, p, n);
		a->s[n] = '\0';
		a->n = n;
	}
	return 0;
}

/* True if stored A and value V are the same key value. */
static bool
tval_same(const struct tval *a, sqlite3_value *v)
{
	int t = sqlite3_value_type(v);

	if (a->type != t)
		return false;
	return t == SQLITE_NULL || tval_cmp(a, v) == 0;
}

static uint64_t
tally_hash(int k, sqlite3_value **keys)
{
	uint64_t h = 1469598103934665603u;	/* FNV-1a */

	for (int i = 0; i < k; i++) {
		int t = sqlite3_value_type(keys[i]);
		const unsigned char *p = NULL;
		unsigned char num[8];
		size_t n = 0;
		if (t == SQLITE_TEXT || t == SQLITE_BLOB) {
			p = t == SQLITE_TEXT ? sqlite3_value_text(keys[i]) :
			    sqlite3_value_blob(keys[i]);
			n = (size_t)sqlite3_value_bytes(keys[i]);
		} else if (t == SQLITE_INTEGER) {
			int64_t x = sqlite3_value_int64(keys[i]);
			memcpy(num, &x, 8);
			p = num;
			n = 8;
		}
		h = (h ^ (unsigned)t) * 1099511628211u;
		for (size_t j = 0; j < n; j++)
			h = (h ^ p[j]) * 1099511628211u;
	}
	return h;
}

static void
tally_free(struct tally *t)
{
	struct tgroup *g = t->first;

	while (g) {
		struct tgroup *next = g->next;
		for (int i = 0; i < t->k; i++)
			free(g->keys[i].s);
		for (int i = 0; i < t->m; i++) {
			free(g->stats[i].min.s);
			free(g->stats[i].max.s);
		}
		free(g->keys);
		free(g->stats);
		free(g);
		g = next;
	}
	free(t->bucket);
	free(t);
}

/* Doubles the buckets when groups outnumber them.  0 or -ENOMEM. */
static int
tally_grow(struct tally *t)
{
	size_t nb = t->nbucket ? t->nbucket * 2 : 64;
	struct tgroup **b = calloc(nb, sizeof *b);

	if (!b)
		return -ENOMEM;
	for (struct tgroup *g = t->first; g; g = g->next) {
		g->chain = b[g->hash & (nb - 1)];
		b[g->hash & (nb - 1)] = g;
	}
	free(t->bucket);
	t->bucket = b;
	t->nbucket = nb;
	return 0;
}

/* The group of KEYS, created if new; NULL when out of memory. */
static struct tgroup *
tally_group(struct tally *t, sqlite3_value **keys)
{
	uint64_t h = tally_hash(t->k, keys);

	if (t->nbucket) {
		for (struct tgroup *g = t->bucket[h & (t->nbucket - 1)]; g;
		     g = g->chain) {
			bool same = g->hash == h;
			for (int i = 0; same && i < t->k; i++)
				same = tval_same(&g->keys[i], keys[i]);
			if (same)
				return g;
		}
	}
	if (t->ngroups >= t->nbucket && tally_grow(t) < 0)
		return NULL;
	struct tgroup *g = calloc(1, sizeof *g);
	if (!g)
		return NULL;
	g->keys = calloc((size_t)t->k, sizeof *g->keys);
	/* One more than needed: calloc(0) may give NULL. */
	g->stats = calloc((size_t)t->m + 1, sizeof *g->stats);
	if (!g->keys || !g->stats) {
		free(g->keys);
		free(g->stats);
		free(g);
		return NULL;
	}
	for (int i = 0; i < t->m; i++)
		g->stats[i].min.type = g->stats[i].max.type = SQLITE_NULL;
	g->hash = h;
	/* Linked first, so tally_free() frees it even if a copy fails. */
	if (t->last)
		t->last->next = g;
	else
		t->first = g;
	t->last = g;
	t->ngroups++;
	g->chain = t->bucket[h & (t->nbucket - 1)];
	t->bucket[h & (t->nbucket - 1)] = g;
	for (int i = 0; i < t->k; i++)
		if (tval_set(&g->keys[i], keys[i]) < 0)
			return NULL;
	return g;
}

static void
tally_step(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
	struct tally **tp = sqlite3_aggregate_context(cx, sizeof *tp);
	int k = argc > 0 ? sqlite3_value_int(argv[0]) : -1;

	if (!tp) {
		sqlite3_result_error_nomem(cx);
		return;
	}
	if (!*tp) {
		if (k < 1 || k >= argc) {
			sqlite3_result_error(cx, "tally(K, keys..., values...): "
					     "K must count 1 to all arguments", -1);
			return;
		}
		if (!(*tp = calloc(1, sizeof **tp))) {
			sqlite3_result_error_nomem(cx);
			return;
		}
		(*tp)->k = k;
		(*tp)->m = argc - 1 - k;
	}
	struct tally *t = *tp;
	if (t->oom || t->overflow)
		return;
	struct tgroup *g = tally_group(t, argv + 1);
	if (!g) {
		t->oom = true;
		return;
	}
	g->count++;
	for (int i = 0; i < t->m; i++) {
		sqlite3_value *v = argv[1 + t->k + i];
		struct tstat *st = &g->stats[i];
		if (sqlite3_value_type(v) == SQLITE_NULL)
			continue;
		if (sqlite3_value_type(v) == SQLITE_INTEGER &&
		    __builtin_add_overflow(st->sum, sqlite3_value_int64(v),
					   &st->sum))
			t->overflow = true;
		if ((st->min.type == SQLITE_NULL || tval_cmp(&st->min, v) > 0) &&
		    tval_set(&st->min, v) < 0)
			t->oom = true;
		if ((st->max.type == SQLITE_NULL || tval_cmp(&st->max, v) < 0) &&
		    tval_set(&st->max, v) < 0)
			t->oom = true;
	}
}

static void
tval_json(struct jbuf *b, const struct tval *a)
{
	switch (a->type) {
	case SQLITE_INTEGER:
		jbuf_printf(b, "%" PRId64, a->i);
		break;
	case SQLITE_FLOAT:
		if (isfinite(a->d))
			jbuf_printf(b, "%.17g", a->d);
		else
			jbuf_adds(b, "null");
		break;
	case SQLITE_TEXT:
	case SQLITE_BLOB:
		jbuf_str(b, a->s, a->n);
		break;
	default:
		jbuf_adds(b, "null");
	}
}

static void
tally_final(sqlite3_context *cx)
{
	struct tally **tp = sqlite3_aggregate_context(cx, 0);
	struct tally *t = tp ? *tp : NULL;
	struct jbuf b = { 0 };

	if (t && t->oom) {
		sqlite3_result_error_nomem(cx);
		goto out;
	}
	if (t && t->overflow) {
		sqlite3_result_error(cx, "tally: integer overflow", -1);
		goto out;
	}
	jbuf_adds(&b, "[");
	for (struct tgroup *g = t ? t->first : NULL; g; g = g->next) {
		jbuf_adds(&b, g == t->first ? "[" : ",[");
		for (int i = 0; i < t->k; i++) {
			tval_json(&b, &g->keys[i]);
			jbuf_adds(&b, ",");
		}
		jbuf_printf(&b, "%" PRId64, g->count);
		for (int i = 0; i < t->m; i++) {
			jbuf_adds(&b, ",[");
			tval_json(&b, &g->stats[i].min);
			jbuf_adds(&b, ",");
			tval_json(&b, &g->stats[i].max);
			jbuf_printf(&b, ",%" PRId64 "]", g->stats[i].sum);
		}
		jbuf_adds(&b, "]");
	}
	jbuf_adds(&b, "]");
	if (b.oom)
		sqlite3_result_error_nomem(cx);
	else
		sqlite3_result_text(cx, b.p, (int)b.len, SQLITE_TRANSIENT);
out:
	jbuf_free(&b);
	if (t)
		tally_free(t);
}

int
ctl_tally_register(sqlite3 *db)
{
	return sqlite3_create_function(db, "tally", -1, SQLITE_UTF8, NULL, NULL,
				       tally_step, tally_final);
}
