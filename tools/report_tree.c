/* SPDX-License-Identifier: MIT */
/*
 * report_tree.c - the process tree of each session for `auditctl report`:
 * which programs ran under which, with counts.  Built in one pass over
 * the window's exec, spawn and image_start records in time order, with a
 * table from pid to the node of the image that pid is running.  How a
 * record places a process (docs/auditctl.md, "Process trees"):
 *
 *   exec (attempt) by P   a child of P's current image, or of its parent's
 *                         when P is a fork child that had not exec'd yet;
 *   exec (error) by P     the attempt failed: counted as an error, and P
 *                         is back to the image it was running;
 *   spawn by P            a child of P's image; posix_spawn names the child
 *                         pid, system() and popen() do not (the child is
 *                         then matched by its parent pid);
 *   image_start by C      confirms the exec or spawn that announced it;
 *                         else (the session's first program, a parent
 *                         without the shim) a child of its parent's image.
 *
 * A spawn record is written after the call, so the child's image_start
 * may come first: it is then placed, and moved under the spawn when that
 * arrives.
 */
#include "cmd.h"
#include "report.h"

#include <err.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Spawns without a child pid, and unannounced children, kept per pid. */
#define PEND 4
/*
 * Pids one generation of the pid table holds.  Two generations are kept:
 * when the current one is full the older is dropped, and a pid a record
 * names (sender, parent, spawned child, and the sender's known ancestors)
 * is first copied into the current one.  So the processes still in use
 * stay (a make running a thousand compilers, and the shell that started
 * make), and memory is bounded (2 x 2 x GEN_PIDS slots).
 */
#define GEN_PIDS 16384
/* Ancestors kept alive per record. */
#define KEEP_DEPTH 32

/* What the pid table knows about one process. */
struct pent {
	bool used;		/* the slot holds a process */
	bool moved;		/* copied into the newer generation */
	int64_t pid;		/* the process */
	int64_t ppid;		/* its parent when first seen, 0 if unknown */
	int node;		/* node of the image it runs, -1 for none */
	bool omitted;		/* NODE is an ancestor: this process is not shown */
	bool awaiting;		/* announced by exec/spawn, image_start not yet seen */
	bool unpaired;		/* placed from an image_start nobody announced */
	int pend[PEND];		/* its system()/popen() spawns, child not seen */
	bool pend_omit[PEND];	/* the same: omitted */
	int npend;		/* entries in pend */
	int64_t kids[PEND];	/* pids of its children placed unpaired */
	int nkids;		/* entries in kids */
};

/* One generation: open addressing over pids. */
struct pgen {
	struct pent *slots;	/* cap slots; owned */
	size_t cap;		/* a power of two, 0 before the first insert */
	size_t used;		/* slots in use */
	size_t moved;		/* of those, copied into the newer generation */
};

/* The pid table of the session being read. */
struct ptab {
	struct pgen cur;	/* where new pids go */
	struct pgen old;	/* the previous generation, looked up second */
	int64_t evicted;	/* pids dropped with the old generation */
};

/* Where a process was placed. */
struct place {
	int node;		/* its node, or the ancestor counting it */
	bool omitted;		/* counted in NODE's omitted, not shown */
};

static size_t
slot_of(size_t cap, int64_t pid)
{
	uint64_t h = (uint64_t)pid * 0x9e3779b97f4a7c15ull;
	return (size_t)(h >> 32) & (cap - 1);
}

static struct pent *
gen_find(struct pgen *g, int64_t pid)
{
	if (!g->cap)
		return NULL;
	for (size_t i = slot_of(g->cap, pid);; i = (i + 1) & (g->cap - 1)) {
		struct pent *e = &g->slots[i];
		if (!e->used)
			return NULL;
		if (e->pid == pid)
			return e;
	}
}

static void
gen_free(struct pgen *g)
{
	free(g->slots);
	memset(g, 0, sizeof *g);
}

/* Inserts PID (not present) as an empty entry.  NULL when out of memory. */
static struct pent *
gen_insert(struct pgen *g, int64_t pid)
{
	if ((g->used + 1) * 2 > g->cap) {
		size_t ncap = g->cap ? g->cap * 2 : 256;
		struct pent *ns = calloc(ncap, sizeof *ns);
		if (!ns)
			return NULL;
		for (size_t i = 0; i < g->cap; i++) {
			if (!g->slots[i].used)
				continue;
			size_t k = slot_of(ncap, g->slots[i].pid);
			while (ns[k].used)
				k = (k + 1) & (ncap - 1);
			ns[k] = g->slots[i];
		}
		free(g->slots);
		g->slots = ns;
		g->cap = ncap;
	}
	size_t i = slot_of(g->cap, pid);
	while (g->slots[i].used)
		i = (i + 1) & (g->cap - 1);
	struct pent *e = &g->slots[i];
	memset(e, 0, sizeof *e);
	e->used = true;
	e->pid = pid;
	e->node = -1;
	g->used++;
	return e;
}

/* The entry of PID, newer generation first; NULL if unknown.  Changes
 * nothing, so pointers from earlier calls stay valid. */
static struct pent *
ptab_find(struct ptab *pt, int64_t pid)
{
	struct pent *e = gen_find(&pt->cur, pid);
	return e ? e : gen_find(&pt->old, pid);
}

/*
 * Makes sure PID has an entry in the current generation: copied from the
 * old one, else (if CREATE) made empty.  *ROTATED is set when the
 * generations turned: entries made before are in the old generation now.
 * 0 or -ENOMEM.
 */
static int
ptab_ensure(struct ptab *pt, int64_t pid, bool create, bool *rotated)
{
	if (gen_find(&pt->cur, pid))
		return 0;
	struct pent *src = gen_find(&pt->old, pid);
	if (src && src->moved)
		src = NULL;
	if (!create && !src)
		return 0;
	struct pent keep;
	if (src) {
		keep = *src;
		src->moved = true;
		pt->old.moved++;
	}
	if (pt->cur.used >= GEN_PIDS) {
		/* The old generation goes; what it held unmoved is forgotten. */
		pt->evicted += (int64_t)(pt->old.used - pt->old.moved);
		gen_free(&pt->old);
		pt->old = pt->cur;
		memset(&pt->cur, 0, sizeof pt->cur);
		*rotated = true;
	}
	struct pent *e = gen_insert(&pt->cur, pid);
	if (!e)
		return -ENOMEM;
	if (src)
		*e = keep;
	return 0;
}

/* Forgets every pid (a new session). */
static void
ptab_clear(struct ptab *pt)
{
	gen_free(&pt->cur);
	gen_free(&pt->old);
}

/* Adds a node under PARENT.  Its index, or -ENOMEM. */
static int
node_add(struct ptree *t, int parent, const char *program)
{
	if (t->n == t->cap) {
		int ncap = t->cap ? t->cap * 2 : 8;
		struct pnode *nn = realloc(t->nodes, (size_t)ncap * sizeof *nn);
		if (!nn)
			return -ENOMEM;
		t->nodes = nn;
		t->cap = ncap;
	}
	struct pnode *x = &t->nodes[t->n];
	memset(x, 0, sizeof *x);
	x->parent = parent;
	x->first_child = x->last_child = x->next = -1;
	if (program && !(x->program = strdup(program)))
		return -ENOMEM;
	if (parent >= 0) {
		struct pnode *p = &t->nodes[parent];
		x->depth = p->depth + 1;
		if (p->last_child >= 0)
			t->nodes[p->last_child].next = t->n;
		else
			p->first_child = t->n;
		p->last_child = t->n;
	}
	return t->n++;
}

/*
 * Counts one process running PROGRAM under AT: in the child node for
 * PROGRAM (made if needed and the limits allow), else in AT's omitted
 * count.  *PL says which.  0 or -ENOMEM.
 */
static int
place(struct ptree *t, struct place at, const char *program,
      struct place *pl)
{
	if (!program)
		program = "?";
	if (at.omitted) {
		t->nodes[at.node].omitted++;
		*pl = at;
		return 0;
	}
	for (int c = t->nodes[at.node].first_child; c >= 0; c = t->nodes[c].next)
		if (strcmp(t->nodes[c].program, program) == 0) {
			t->nodes[c].count++;
			*pl = (struct place){ c, false };
			return 0;
		}
	if (t->nodes[at.node].depth >= TREE_DEPTH || t->n > TREE_NODES) {
		t->nodes[at.node].omitted++;
		*pl = (struct place){ at.node, true };
		return 0;
	}
	int c = node_add(t, at.node, program);
	if (c < 0)
		return c;
	t->nodes[c].count++;
	*pl = (struct place){ c, false };
	return 0;
}

/* E now runs the image placed at PL. */
static void
pent_place(struct pent *e, struct place pl, bool awaiting, bool unpaired)
{
	e->node = pl.node;
	e->omitted = pl.omitted;
	e->awaiting = awaiting;
	e->unpaired = unpaired;
}

/* Takes back what place() counted for PL. */
static void
unplace(struct ptree *t, struct place pl)
{
	if (pl.omitted)
		t->nodes[pl.node].omitted--;
	else
		t->nodes[pl.node].count--;
}

/* The image PID runs (else its parent's, else the session's root). */
static struct place
image_of(struct ptab *pt, int64_t pid, bool has_ppid, int64_t ppid)
{
	struct pent *e = ptab_find(pt, pid);
	if (e && e->node >= 0)
		return (struct place){ e->node, e->omitted };
	e = has_ppid ? ptab_find(pt, ppid) : NULL;
	if (e && e->node >= 0)
		return (struct place){ e->node, e->omitted };
	return (struct place){ 0, false };
}

/* One record, as the tree needs it. */
struct prec {
	int64_t pid, ppid;	/* the sender and its parent */
	bool has_pid, has_ppid;	/* whether they are known */
	const char *event;	/* exec, spawn or image_start */
	bool failed;		/* result = error */
	const char *target;	/* the program */
	int64_t child;		/* posix_spawn's child pid, 0 if unknown */
};

/* Moves the unpaired image of KID (placed under AT) to the spawn at SP. */
static bool
adopt(struct ptree *t, struct pent *kid, struct place at, struct place sp)
{
	if (!kid || !kid->unpaired || kid->node < 0)
		return false;
	int parent = kid->omitted ? kid->node : t->nodes[kid->node].parent;
	if (parent != at.node)
		return false;
	unplace(t, (struct place){ kid->node, kid->omitted });
	pent_place(kid, sp, false, false);
	return true;
}

/* Applies record R to tree T.  0 or -ENOMEM. */
static int
tree_record(struct ptree *t, struct ptab *pt, const struct prec *r)
{
	struct place at, pl;
	struct pent *e, *par;
	int rc = 0;

	if (!r->has_pid)
		return 0;
	/*
	 * Every entry this record may touch, made first: nothing below
	 * inserts, so the pointers taken stay valid.  A turn of the
	 * generations in between moves the earlier ones: make them again
	 * (a second turn cannot follow at once).
	 */
	for (int k = 0; k < 2; k++) {
		bool rotated = false;
		if ((rc = ptab_ensure(pt, r->pid, true, &rotated)) < 0 ||
		    (r->has_ppid &&
		     (rc = ptab_ensure(pt, r->ppid, true, &rotated)) < 0) ||
		    (r->child > 0 &&
		     (rc = ptab_ensure(pt, r->child, true, &rotated)) < 0))
			return rc;
		/* Keep the ancestors too: a quiet shell above a busy make. */
		struct pent *a = r->has_ppid ? gen_find(&pt->cur, r->ppid) : NULL;
		for (int d = 0; a && a->ppid > 0 && d < KEEP_DEPTH; d++) {
			int64_t up = a->ppid;
			if ((rc = ptab_ensure(pt, up, false, &rotated)) < 0)
				return rc;
			a = gen_find(&pt->cur, up);
		}
		if (!rotated)
			break;
	}
	e = ptab_find(pt, r->pid);
	par = r->has_ppid ? ptab_find(pt, r->ppid) : NULL;
	if (r->has_ppid && !e->ppid)
		e->ppid = r->ppid;
	if (strcmp(r->event, "exec") == 0) {
		if (r->failed) {
			/* The attempt before it failed: P runs what it ran. */
			if (!e->awaiting || e->node < 0)
				return 0;
			if (!e->omitted) {
				t->nodes[e->node].errors++;
				e->node = t->nodes[e->node].parent;
			}
			e->awaiting = false;
			return 0;
		}
		at = image_of(pt, r->pid, r->has_ppid, r->ppid);
		if ((rc = place(t, at, r->target, &pl)) < 0)
			return rc;
		pent_place(e, pl, true, false);
	} else if (strcmp(r->event, "spawn") == 0) {
		at = image_of(pt, r->pid, r->has_ppid, r->ppid);
		if ((rc = place(t, at, r->target, &pl)) < 0)
			return rc;
		if (r->failed) {
			if (!pl.omitted)
				t->nodes[pl.node].errors++;
			return 0;
		}
		if (r->child > 0) {
			struct pent *kid = ptab_find(pt, r->child);
			if (!kid->ppid)
				kid->ppid = r->pid;
			if (adopt(t, kid, at, pl))
				return 0;
			pent_place(kid, pl, true, false);
			return 0;
		}
		/* system(): the child is known by its parent only. */
		for (int k = 0; k < e->nkids; k++) {
			if (adopt(t, ptab_find(pt, e->kids[k]), at, pl)) {
				memmove(e->kids + k, e->kids + k + 1,
					(size_t)(e->nkids - k - 1) * sizeof *e->kids);
				e->nkids--;
				return 0;
			}
		}
		if (e->npend == PEND) {	/* keep the newest */
			memmove(e->pend, e->pend + 1, (PEND - 1) * sizeof *e->pend);
			memmove(e->pend_omit, e->pend_omit + 1,
				(PEND - 1) * sizeof *e->pend_omit);
			e->npend--;
		}
		e->pend[e->npend] = pl.node;
		e->pend_omit[e->npend++] = pl.omitted;
	} else if (strcmp(r->event, "image_start") == 0) {
		if (e->awaiting) {
			e->awaiting = false;
			return 0;
		}
		if (par && par != e && par->npend > 0 && e->node < 0) {
			e->node = par->pend[0];
			e->omitted = par->pend_omit[0];
			memmove(par->pend, par->pend + 1,
				(size_t)(par->npend - 1) * sizeof *par->pend);
			memmove(par->pend_omit, par->pend_omit + 1,
				(size_t)(par->npend - 1) * sizeof *par->pend_omit);
			par->npend--;
			return 0;
		}
		at = image_of(pt, r->pid, r->has_ppid, r->ppid);
		if ((rc = place(t, at, r->target, &pl)) < 0)
			return rc;
		pent_place(e, pl, false, true);
		if (par && par != e) {
			if (par->nkids == PEND) {
				memmove(par->kids, par->kids + 1,
					(PEND - 1) * sizeof *par->kids);
				par->nkids--;
			}
			par->kids[par->nkids++] = r->pid;
		}
	}
	return 0;
}

bool
ptree_shown(const struct ptree *t, int i)
{
	const struct pnode *x = &t->nodes[i];
	if (x->count > 0 || x->omitted > 0)
		return true;
	for (int c = x->first_child; c >= 0; c = t->nodes[c].next)
		if (ptree_shown(t, c))
			return true;
	return false;
}

void
ptrees_free(struct ptree *t, int n)
{
	if (!t)
		return;
	for (int i = 0; i < n; i++) {
		for (int k = 0; k < t[i].n; k++)
			free(t[i].nodes[k].program);
		free(t[i].nodes);
	}
	free(t);
}

/* The window's process records, sessions together, each in time order. */
static const char sql_procs[] =
	"SELECT session, pid, ppid, event, result = 'error', target, "
	"CASE WHEN event = 'spawn' AND json_valid(detail) AND "
	" json_extract(detail, '$.api') LIKE 'posix_spawn%' THEN "
	" json_extract(detail, '$.pid') END "
	"FROM records WHERE time >= ?1 AND time < ?2 "
	"AND session IS NOT NULL AND event IN ('exec', 'spawn', 'image_start') "
	"AND NOT (json_valid(detail) AND "
	" coalesce(json_extract(detail, '$.duplicate'), 0)) "
	"ORDER BY session, time, seq";

int
ptrees_build(sqlite3 *db, const struct rtab *sess, const char *since,
	     const char *until, struct ptree **out)
{
	struct ptab pt;
	sqlite3_stmt *st = NULL;
	struct ptree *trees = NULL;
	char *cur = NULL;	/* session of the previous row */
	int row = -1;		/* its row in SESS, -1 if not listed */
	int rc, ret = -1;

	*out = NULL;
	memset(&pt, 0, sizeof pt);
	if (!(trees = calloc((size_t)sess->nrows + 1, sizeof *trees)))
		goto oom;
	for (int i = 0; i < sess->nrows; i++)
		if (node_add(&trees[i], -1, NULL) < 0)
			goto oom;
	if (sqlite3_prepare_v2(db, sql_procs, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(st, 1, since, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 2, until, -1, SQLITE_STATIC) != SQLITE_OK) {
		warnx("report: process trees: %s", sqlite3_errmsg(db));
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *s = (const char *)sqlite3_column_text(st, 0);
		if (!cur || strcmp(cur, s) != 0) {
			free(cur);
			if (!(cur = strdup(s)))
				goto oom;
			if (row >= 0)
				trees[row].evicted = pt.evicted;
			row = -1;
			for (int i = 0; i < sess->nrows; i++)
				if (sess->cells[i * sess->ncols] &&
				    strcmp(sess->cells[i * sess->ncols], s) == 0)
					row = i;
			ptab_clear(&pt);
			pt.evicted = 0;
		}
		if (row < 0)
			continue;
		struct prec r = {
			.pid = sqlite3_column_int64(st, 1),
			.has_pid = sqlite3_column_type(st, 1) != SQLITE_NULL,
			.ppid = sqlite3_column_int64(st, 2),
			.has_ppid = sqlite3_column_type(st, 2) != SQLITE_NULL,
			.event = (const char *)sqlite3_column_text(st, 3),
			.failed = sqlite3_column_int(st, 4) != 0,
			.target = (const char *)sqlite3_column_text(st, 5),
			.child = sqlite3_column_int64(st, 6),
		};
		if (tree_record(&trees[row], &pt, &r) < 0)
			goto oom;
	}
	if (rc != SQLITE_DONE) {
		warnx("report: process trees: %s", sqlite3_errmsg(db));
		goto out;
	}
	if (row >= 0)
		trees[row].evicted = pt.evicted;
	*out = trees;
	trees = NULL;
	ret = 0;
	goto out;
oom:
	warnx("out of memory");
out:
	ptrees_free(trees, sess->nrows);
	sqlite3_finalize(st);
	ptab_clear(&pt);
	free(cur);
	return ret;
}
