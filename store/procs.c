/* SPDX-License-Identifier: MIT */
/*
 * procs.c - auditshimd's view of the processes that send records: one
 * entry per (kernel pid, image nonce) holding the writer's view of the
 * process (exe, kernel ppid, start time), its session and agent label, and
 * the per-image sequence tracking that turns lost records into gap
 * records.  proc_state rows persist the tracking across restarts.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "log.h"
#include "writer.h"

#define PROCS_BUCKETS 16384
/* Gap ranges remembered per image to tell a late arrival from a replay. */
#define PROC_GAPS 4

/* A session: the process tree under the first shimmed ancestor. */
struct session {
	char *name;		/* "S<seq of its first record>" */
	char *agent;		/* first claimed label in the session, or NULL */
	unsigned refs;		/* entries pointing here */
};

/* A range of missing pseqs [first, end), noticed at mono ms SINCE. */
struct hole {
	uint64_t first;		/* first missing */
	uint64_t end;		/* one past the last */
	uint64_t since;		/* when the range was first seen missing */
};

/* One (pid, image) pair. */
struct proc {
	struct proc *hnext;		/* hash chain (by pid) */
	struct proc *dnext;		/* dirty list: proc_state needs an upsert */
	struct proc *hprev, *hlnext;	/* holes list: a pseq is missing */
	bool silent;			/* a shimmed ancestor that sent nothing yet: no image */
	bool dirty;			/* on the dirty list */
	bool in_holes;			/* on the holes list */
	pid_t pid;			/* kernel pid */
	uint64_t image;			/* image nonce from the shim */
	unsigned long long start;	/* /proc start time (ticks), 0 unknown */
	int64_t kppid;			/* kernel ppid at first sight, -1 unknown */
	char *exe;			/* /proc/PID/exe at first sight, or NULL */
	uid_t uid;			/* last attested uid */
	gid_t gid;			/* last attested gid */
	struct session *sess;		/* never NULL */
	uint64_t max_seen;		/* highest pseq received or accounted, 0 none */
	struct hole *hole;		/* missing ranges below max_seen, by pseq
					 * (and so by age); malloc'd */
	unsigned nhole;			/* how many */
	uint64_t last_seen;		/* mono ms of the last message */
	struct { uint64_t first, count; } gaps[PROC_GAPS];	/* recent gaps */
	unsigned ngap;			/* next slot in gaps (ring) */
};

struct procs {
	struct proc *bucket[PROCS_BUCKETS];	/* by pid */
	size_t count;				/* entries */
	struct proc *dirty;			/* entries with unsaved state */
	struct proc *holes;			/* entries with a missing pseq */
	bool warned_full;			/* logged an eviction of live entries */
};

static struct session *
session_new(const char *name, const char *agent)
{
	struct session *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->name = strdup(name);
	s->agent = agent ? strdup(agent) : NULL;
	if (!s->name || (agent && !s->agent)) {
		free(s->name);
		free(s->agent);
		free(s);
		return NULL;
	}
	return s;
}

static void
session_free(struct session *s)
{
	free(s->name);
	free(s->agent);
	free(s);
}

static void
session_unref(struct session *s)
{
	if (s && --s->refs == 0)
		session_free(s);
}

struct procs *
procs_new(void)
{
	return calloc(1, sizeof(struct procs));
}

static unsigned
bucket_of(pid_t pid)
{
	return ((unsigned)pid * 2654435761u) % PROCS_BUCKETS;
}

static void
holes_add(struct procs *t, struct proc *e)
{
	if (e->in_holes)
		return;
	e->hprev = NULL;
	e->hlnext = t->holes;
	if (t->holes)
		t->holes->hprev = e;
	t->holes = e;
	e->in_holes = true;
}

static void
holes_del(struct procs *t, struct proc *e)
{
	if (!e->in_holes)
		return;
	if (e->hprev)
		e->hprev->hlnext = e->hlnext;
	else
		t->holes = e->hlnext;
	if (e->hlnext)
		e->hlnext->hprev = e->hprev;
	e->in_holes = false;
}

static void
mark_dirty(struct procs *t, struct proc *e)
{
	if (e->dirty)
		return;
	e->dirty = true;
	e->dnext = t->dirty;
	t->dirty = e;
}

static void
proc_unlink_free(struct procs *t, struct proc *e)
{
	struct proc **pp;

	for (pp = &t->bucket[bucket_of(e->pid)]; *pp; pp = &(*pp)->hnext)
		if (*pp == e) {
			*pp = e->hnext;
			break;
		}
	if (e->dirty)
		for (pp = &t->dirty; *pp; pp = &(*pp)->dnext)
			if (*pp == e) {
				*pp = e->dnext;
				break;
			}
	holes_del(t, e);
	session_unref(e->sess);
	free(e->exe);
	free(e->hole);
	free(e);
	t->count--;
}

void
procs_free(struct procs *t)
{
	if (!t)
		return;
	for (unsigned i = 0; i < PROCS_BUCKETS; i++) {
		struct proc *e, *n;
		for (e = t->bucket[i]; e; e = n) {
			n = e->hnext;
			session_unref(e->sess);
			free(e->exe);
			free(e->hole);
			free(e);
		}
	}
	free(t);
}

int
proc_stat(pid_t pid, int64_t *ppid, unsigned long long *start)
{
	char path[64], buf[1024];
	int rc = -1;

	/* open/read, not stdio: one of these per new process, most of them
	 * for processes already gone, and fopen adds an fstat and a malloc. */
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n;
	do
		n = read(fd, buf, sizeof buf - 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: parse after the last ')'. */
	char *p = strrchr(buf, ')');
	if (!p)
		return -1;
	p++;
	long long pp = -1;
	unsigned long long st = 0;
	/* state ppid pgrp session tty tpgid flags minflt cminflt majflt
	 * cmajflt utime stime cutime cstime priority nice threads
	 * itrealvalue starttime */
	if (sscanf(p, " %*c %lld %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u"
		   " %*d %*d %*d %*d %*d %*d %llu", &pp, &st) == 2) {
		*ppid = pp;
		*start = st;
		rc = 0;
	}
	return rc;
}

char *
proc_exe(pid_t pid)
{
	char path[64], buf[PATH_MAX];

	snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
	ssize_t n = readlink(path, buf, sizeof buf - 1);
	if (n < 0)
		return NULL;
	struct jbuf b = { 0 };
	jbuf_utf8(&b, buf, (size_t)n);
	if (b.oom) {
		jbuf_free(&b);
		return NULL;
	}
	return b.p;
}

static bool
same_process(const struct proc *e, unsigned long long start)
{
	/* Unknown start time on either side: trust the pid (entries of dead
	 * processes are pruned, so reuse while tracked is rare). */
	return !e->start || !start || e->start == start;
}

static struct proc *
find_exact(struct procs *t, pid_t pid, uint64_t image)
{
	for (struct proc *e = t->bucket[bucket_of(pid)]; e; e = e->hnext)
		if (e->pid == pid && e->image == image && !e->silent)
			return e;
	return NULL;
}

/* Most recently seen entry for PID that may be process START. */
static struct proc *
find_pid(struct procs *t, pid_t pid, unsigned long long start)
{
	struct proc *best = NULL;

	for (struct proc *e = t->bucket[bucket_of(pid)]; e; e = e->hnext)
		if (e->pid == pid && same_process(e, start) &&
		    (!best || e->last_seen > best->last_seen))
			best = e;
	return best;
}

/* A parent entry for PPID of a child started at START. */
static struct proc *
find_parent(struct procs *t, int64_t ppid, unsigned long long start)
{
	struct proc *best = NULL;

	if (ppid <= 0 || ppid > INT_MAX)
		return NULL;
	for (struct proc *e = t->bucket[bucket_of((pid_t)ppid)]; e; e = e->hnext)
		if (e->pid == (pid_t)ppid &&
		    (!e->start || !start || e->start <= start) &&
		    (!best || e->last_seen > best->last_seen))
			best = e;
	return best;
}

/* True if PID has libauditshim mapped (the kernel's view, /proc/PID/maps). */
static bool
is_shimmed(pid_t pid)
{
	char path[64], line[512];
	bool found = false;

	snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof line, f))
		found = strstr(line, "/libauditshim") != NULL;
	fclose(f);
	return found;
}

/* Shimmed ancestors found on the way up, to be registered. */
struct ancestors {
	struct { pid_t pid; unsigned long long start; } a[32];	/* nearest first */
	unsigned n;						/* how many */
};

/*
 * The nearest tracked ancestor: PPID itself, or its ancestors as the
 * kernel names them now.  Intermediate processes that never sent a record
 * (a shell that only forks, a command-substitution subshell) are skipped;
 * those that have the shim loaded are collected in ANC so they can join
 * the session and their later children find it.
 */
static struct proc *
find_ancestor(struct procs *t, int64_t ppid, unsigned long long start,
	      struct ancestors *anc)
{
	for (int depth = 0; depth < 32 && ppid > 1 && ppid <= INT_MAX; depth++) {
		struct proc *e = find_parent(t, ppid, start);
		unsigned long long pstart;
		int64_t next;

		if (e)
			return e;
		if (proc_stat((pid_t)ppid, &next, &pstart) < 0)
			return NULL;
		if (anc->n < sizeof anc->a / sizeof anc->a[0] &&
		    is_shimmed((pid_t)ppid)) {
			anc->a[anc->n].pid = (pid_t)ppid;
			anc->a[anc->n].start = pstart;
			anc->n++;
		}
		ppid = next;
	}
	return NULL;
}

static void
remember_gap(struct proc *e, uint64_t first, uint64_t count)
{
	e->gaps[e->ngap % PROC_GAPS].first = first;
	e->gaps[e->ngap % PROC_GAPS].count = count;
	e->ngap++;
}

static bool
in_recorded_gap(const struct proc *e, uint64_t q)
{
	for (unsigned i = 0; i < PROC_GAPS && i < e->ngap; i++)
		if (q >= e->gaps[i].first && q - e->gaps[i].first < e->gaps[i].count)
			return true;
	return false;
}

static int
emit_gap(struct writer *w, struct proc *e, uint64_t first, uint64_t count)
{
	remember_gap(e, first, count);
	return ingest_gap(w, e->pid, e->uid, e->gid, e->image, e->sess->name,
			  e->sess->agent, first, count, "sequence hole");
}

/* Lowest pseq not yet received or accounted (proc_state stores it - 1). */
static uint64_t
track_next(const struct proc *e)
{
	return e->nhole ? e->hole[0].first : e->max_seen + 1;
}

static void
holes_changed(struct procs *t, struct proc *e)
{
	if (e->nhole)
		holes_add(t, e);
	else
		holes_del(t, e);
}

/* Writes the oldest hole of E as a gap record and drops it. */
static int
flush_oldest(struct writer *w, struct proc *e)
{
	struct hole h = e->hole[0];

	memmove(e->hole, e->hole + 1, (e->nhole - 1) * sizeof *e->hole);
	e->nhole--;
	mark_dirty(w->procs, e);
	return emit_gap(w, e, h.first, h.end - h.first);
}

/*
 * Accounts pseqs [FIRST, END): what lies above max_seen extends it (the
 * space between becomes a new hole), what lies in a hole is cut out of it.
 * *OLD is set when none of it was new.  More than TRACK_WINDOW holes, the
 * oldest become gap records at once (bounded memory); otherwise a hole is
 * written as a gap after TRACK_HOLE_MS (procs_tick).  Returns 0 or a
 * sealing error.
 */
static int
track_account(struct writer *w, struct proc *e, uint64_t first, uint64_t end,
	      bool *old, uint64_t now)
{
	uint64_t top = e->max_seen + 1;
	bool fresh = false;
	int rc = 0;

	if (end <= first) {
		*old = true;
		return 0;
	}
	if (end > top) {
		if (first > top) {
			if (e->nhole % 8 == 0) {
				struct hole *h = realloc(e->hole,
							 (e->nhole + 8) * sizeof *h);
				if (!h)
					return -ENOMEM;
				e->hole = h;
			}
			e->hole[e->nhole++] = (struct hole){ top, first, now };
		}
		e->max_seen = end - 1;
		fresh = true;
	}
	/* Cut [first, min(end, top)) out of the holes (at most one split). */
	uint64_t cut_end = end < top ? end : top;
	for (unsigned i = 0; i < e->nhole && first < cut_end; i++) {
		struct hole *h = &e->hole[i];
		if (h->end <= first || h->first >= cut_end)
			continue;
		fresh = true;
		if (h->first >= first && h->end <= cut_end) {
			memmove(h, h + 1, (e->nhole - i - 1) * sizeof *h);
			e->nhole--;
			i--;
		} else if (h->first < first && h->end > cut_end) {
			if (e->nhole % 8 == 0) {
				struct hole *n = realloc(e->hole,
							 (e->nhole + 8) * sizeof *n);
				if (!n)
					return -ENOMEM;
				e->hole = n;
				h = &e->hole[i];
			}
			memmove(h + 2, h + 1, (e->nhole - i - 1) * sizeof *h);
			e->nhole++;
			h[1] = (struct hole){ cut_end, h->end, h->since };
			h->end = first;
			i++;
		} else if (h->first < first) {
			h->end = first;
		} else {
			h->first = cut_end;
		}
	}
	*old = !fresh;
	if (fresh)
		mark_dirty(w->procs, e);
	while (e->nhole > TRACK_WINDOW && rc == 0)
		rc = flush_oldest(w, e);
	holes_changed(w->procs, e);
	return rc;
}

/* Writes every hole of E older than TRACK_HOLE_MS (ALL: every hole). */
static int
flush_holes(struct writer *w, struct proc *e, uint64_t now, bool all)
{
	int rc = 0;

	while (e->nhole && rc == 0 &&
	       (all || now - e->hole[0].since >= TRACK_HOLE_MS))
		rc = flush_oldest(w, e);
	holes_changed(w->procs, e);
	return rc;
}

int
procs_tick(struct writer *w, uint64_t now, bool all)
{
	struct procs *t = w->procs;
	struct proc *e, *n;
	int rc = 0;

	for (e = t->holes; e && rc == 0; e = n) {
		n = e->hlnext;
		rc = flush_holes(w, e, now, all);
	}
	return rc;
}

/* Makes room: drops entries of dead processes, else the least recent. */
static void
prune(struct writer *w)
{
	struct procs *t = w->procs;
	size_t before = t->count;
	uint64_t oldest = UINT64_MAX, newest = 0;

	for (unsigned i = 0; i < PROCS_BUCKETS; i++) {
		struct proc *e, *n;
		for (e = t->bucket[i]; e; e = n) {
			n = e->hnext;
			if (kill(e->pid, 0) < 0 && errno == ESRCH) {
				flush_holes(w, e, 0, true);
				proc_unlink_free(t, e);
				continue;
			}
			if (e->last_seen < oldest)
				oldest = e->last_seen;
			if (e->last_seen > newest)
				newest = e->last_seen;
		}
	}
	if (t->count < PROCS_MAX - PROCS_MAX / 8)
		goto out;
	/* Still full of live processes: drop the least recently seen
	 * quarter of the time span.  A dropped process that sends again
	 * looks new (its next record may show a false gap): logged. */
	uint64_t cut = oldest + (newest - oldest) / 4 + 1;
	for (unsigned i = 0; i < PROCS_BUCKETS; i++) {
		struct proc *e, *n;
		for (e = t->bucket[i]; e; e = n) {
			n = e->hnext;
			if (e->last_seen < cut) {
				flush_holes(w, e, 0, true);
				proc_unlink_free(t, e);
			}
		}
	}
	if (!t->warned_full) {
		log_warnx("process table full of live processes (%d): dropped the "
			  "least recently seen; their next records may show gaps",
			  PROCS_MAX);
		t->warned_full = true;
	}
out:
	log_debug("process table pruned: %zu -> %zu entries", before, t->count);
}

static struct proc *
proc_insert(struct procs *t, pid_t pid, uint64_t image)
{
	struct proc *e = calloc(1, sizeof *e);
	if (!e)
		return NULL;
	e->pid = pid;
	e->image = image;
	e->kppid = -1;
	unsigned b = bucket_of(pid);
	e->hnext = t->bucket[b];
	t->bucket[b] = e;
	t->count++;
	return e;
}

/* Creates the entry for a first-seen (PID, IMAGE) and derives its session. */
static struct proc *
proc_create(struct writer *w, pid_t pid, uint64_t image, int64_t claimed_ppid,
	    bool forked)
{
	struct procs *t = w->procs;
	unsigned long long start = 0;
	int64_t kppid = -1;

	if (t->count >= PROCS_MAX)
		prune(w);
	/* Most short-lived processes have exited by now: then /proc has
	 * nothing more on them, and their exe is not looked for either. */
	bool gone = proc_stat(pid, &kppid, &start) < 0;
	if (gone) {
		kppid = -1;
		start = 0;
	}
	/* Entries of an earlier process with this pid are stale. */
	if (start) {
		struct proc *e, *n;
		for (e = t->bucket[bucket_of(pid)]; e; e = n) {
			n = e->hnext;
			if (e->pid == pid && e->start && e->start != start) {
				flush_holes(w, e, 0, true);
				proc_unlink_free(t, e);
			}
		}
	}
	struct session *s = NULL;
	struct ancestors anc = { .n = 0 };
	struct proc *rel = find_pid(t, pid, start);	/* an earlier image */
	if (!rel)
		rel = find_ancestor(t, kppid >= 0 ? kppid : claimed_ppid, start,
				    &anc);
	if (!rel && kppid >= 0 && claimed_ppid > 0 && claimed_ppid != kppid)
		/* Orphaned before we looked: the kernel now names a reaper. */
		rel = find_ancestor(t, claimed_ppid, start, &anc);
	if (rel) {
		s = rel->sess;
	} else {
		char name[32];
		snprintf(name, sizeof name, "S%" PRId64, w->seq + 1);
		s = session_new(name, NULL);
		if (!s)
			return NULL;
	}
	struct proc *e = proc_insert(t, pid, image);
	if (!e) {
		if (!s->refs)
			session_free(s);
		return NULL;
	}
	s->refs++;
	e->sess = s;
	e->start = start;
	e->kppid = kppid;
	/*
	 * A forked image runs its parent's program until it execs -- and by
	 * now it may have: a shell's child sends its exec record and execs at
	 * once, so /proc/PID/exe would name the program it started, not the
	 * one that started it (a quarter of a shell loop's exec records said
	 * so).  Its parent's view, taken when the parent was first seen, is
	 * the right one.  Only the direct parent's: an ancestor further up
	 * may run another program.  (The image it exec'd into may be known
	 * already, its image_start read first from another connection.)
	 */
	struct proc *par = forked ? find_parent(t, kppid >= 0 ? kppid
						: claimed_ppid, start) : NULL;
	if (par && par->exe)
		e->exe = strdup(par->exe);
	else if (!gone)
		e->exe = proc_exe(pid);
	/* Shimmed ancestors that have sent nothing join the session now, so
	 * that this process's siblings find it through them. */
	for (unsigned i = 0; i < anc.n && t->count < PROCS_MAX; i++) {
		if (find_pid(t, anc.a[i].pid, anc.a[i].start))
			continue;
		struct proc *a = proc_insert(t, anc.a[i].pid, 0);
		if (!a)
			break;
		a->silent = true;
		a->start = anc.a[i].start;
		a->last_seen = now_mono_ms();
		a->sess = s;
		s->refs++;
	}
	return e;
}

int
procs_receive(struct writer *w, pid_t pid, uid_t uid, gid_t gid,
	      uint64_t image, uint64_t pseq, int64_t claimed_ppid,
	      const struct wire_str *agent, bool is_gap, bool forked,
	      uint64_t lost_first, uint64_t lost_count, struct proc_view *v)
{
	struct procs *t = w->procs;
	uint64_t now = now_mono_ms();
	bool old = false;
	int rc;

	struct proc *e = find_exact(t, pid, image);
	if (!e) {
		e = proc_create(w, pid, image, claimed_ppid, forked);
		if (!e)
			return -ENOMEM;
		mark_dirty(t, e);
	}
	e->uid = uid;
	e->gid = gid;
	e->last_seen = now;

	memset(v, 0, sizeof *v);
	if (agent && agent->len) {
		struct jbuf b = { 0 };
		jbuf_utf8(&b, agent->p, agent->len);
		if (b.oom) {
			jbuf_free(&b);
			return -ENOMEM;
		}
		if (!e->sess->agent) {
			e->sess->agent = b.p;
			mark_dirty(t, e);
		} else {
			v->agent_differs = strcmp(e->sess->agent, b.p) != 0;
			jbuf_free(&b);
		}
	}
	if (is_gap && lost_count && lost_first) {
		uint64_t end = lost_first + lost_count;
		rc = track_account(w, e, lost_first, end < lost_first ? UINT64_MAX
						       : end, &old, now);
		if (rc < 0)
			return rc;
	}
	rc = track_account(w, e, pseq, pseq + 1, &old, now);
	if (rc < 0)
		return rc;
	v->session = e->sess->name;
	v->agent = e->sess->agent;
	v->exe = e->exe;
	v->ppid = e->kppid;
	if (old)
		return in_recorded_gap(e, pseq) ? TRACK_LATE : TRACK_DUP;
	return TRACK_NEW;
}

void
procs_session_of(struct writer *w, pid_t pid, const char **session,
		 const char **agent)
{
	struct proc *e = find_pid(w->procs, pid, 0);

	*session = e ? e->sess->name : NULL;
	*agent = e ? e->sess->agent : NULL;
}

int
procs_snapshot(struct writer *w, struct ps_row **out, size_t *n)
{
	size_t count = 0, i = 0;
	struct proc *e;

	*out = NULL;
	*n = 0;
	for (e = w->procs->dirty; e; e = e->dnext)
		count++;
	if (!count)
		return 0;
	struct ps_row *rows = calloc(count, sizeof *rows);
	if (!rows)
		return -ENOMEM;
	for (e = w->procs->dirty; e; e = e->dnext, i++) {
		rows[i].pid = e->pid;
		rows[i].image = e->image;
		rows[i].last_pseq = (int64_t)(track_next(e) - 1);
		rows[i].session = strdup(e->sess->name);
		rows[i].agent = e->sess->agent ? strdup(e->sess->agent) : NULL;
		if (!rows[i].session || (e->sess->agent && !rows[i].agent)) {
			ps_rows_free(rows, i + 1);
			return -ENOMEM;
		}
	}
	/* The copy is what gets saved (and retried until it is). */
	struct proc *next;
	for (e = w->procs->dirty; e; e = next) {
		next = e->dnext;
		e->dirty = false;
		e->dnext = NULL;
	}
	w->procs->dirty = NULL;
	*out = rows;
	*n = count;
	return 0;
}

void
ps_rows_free(struct ps_row *rows, size_t n)
{
	for (size_t i = 0; rows && i < n; i++) {
		free(rows[i].session);
		free(rows[i].agent);
	}
	free(rows);
}

int
procs_save_rows(sqlite3_stmt *st, const struct ps_row *rows, size_t n)
{
	char img[17], now[32];

	fmt_time_ns(now_realtime_ns(), now);
	for (size_t i = 0; i < n; i++) {
		snprintf(img, sizeof img, "%016" PRIx64, rows[i].image);
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, rows[i].pid);
		sqlite3_bind_text(st, 2, img, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 3, rows[i].session, -1, SQLITE_STATIC);
		if (rows[i].agent)
			sqlite3_bind_text(st, 4, rows[i].agent, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 4);
		sqlite3_bind_int64(st, 5, rows[i].last_pseq);
		sqlite3_bind_text(st, 6, now, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) != SQLITE_DONE) {
			sqlite3_reset(st);
			return -EIO;
		}
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return 0;
}

int
procs_load(struct writer *w)
{
	struct procs *t = w->procs;
	sqlite3_stmt *st = NULL, *del = NULL;
	struct session *cur = NULL;
	size_t loaded = 0, dropped = 0;
	int rc = 0, s;

	if (sqlite3_prepare_v2(w->db, "SELECT pid, image, session, agent, last_pseq"
			       " FROM proc_state ORDER BY session, updated DESC",
			       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(w->db, "DELETE FROM proc_state WHERE pid = ?"
			       " AND image = ?", -1, &del, NULL) != SQLITE_OK) {
		rc = -EIO;
		goto out;
	}
	sqlite3_exec(w->db, "BEGIN", NULL, NULL, NULL);
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t pid = sqlite3_column_int64(st, 0);
		const char *img = (const char *)sqlite3_column_text(st, 1);
		const char *sess = (const char *)sqlite3_column_text(st, 2);
		const char *agent = (const char *)sqlite3_column_text(st, 3);
		int64_t last = sqlite3_column_int64(st, 4);
		char *end;

		if (!img || !sess)
			continue;
		uint64_t image = strtoull(img, &end, 16);
		bool dead = pid <= 0 || pid > INT_MAX ||
			    (kill((pid_t)pid, 0) < 0 && errno == ESRCH);
		if (dead || *end || last < 0 || t->count >= PROCS_MAX / 2) {
			/* A dead process sends nothing more: forget it. */
			sqlite3_reset(del);
			sqlite3_bind_int64(del, 1, pid);
			sqlite3_bind_text(del, 2, img, -1, SQLITE_TRANSIENT);
			sqlite3_step(del);
			dropped++;
			continue;
		}
		if (!cur || strcmp(cur->name, sess) != 0) {
			struct session *ns = session_new(sess, agent);
			if (!ns) {
				rc = -ENOMEM;
				break;
			}
			if (cur && cur->refs == 0)
				session_free(cur);
			cur = ns;
		}
		struct proc *e = find_exact(t, (pid_t)pid, image);
		if (e)
			continue;
		e = proc_insert(t, (pid_t)pid, image);
		if (!e) {
			rc = -ENOMEM;
			break;
		}
		cur->refs++;
		e->sess = cur;
		e->max_seen = (uint64_t)last;
		e->last_seen = now_mono_ms();
		/* Start time unknown: we cannot tell whether the live pid is
		 * still the process that wrote the row. */
		int64_t kppid;
		unsigned long long start;
		if (proc_stat(e->pid, &kppid, &start) == 0)
			e->kppid = kppid;
		e->exe = proc_exe(e->pid);
		loaded++;
	}
	if (cur && cur->refs == 0)
		session_free(cur);
	if (sqlite3_exec(w->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK && !rc)
		rc = -EIO;
	if (loaded || dropped)
		log_info("process state: %zu images resumed, %zu of dead processes "
			 "dropped", loaded, dropped);
out:
	sqlite3_finalize(st);
	sqlite3_finalize(del);
	return rc;
}
