/* SPDX-License-Identifier: MIT */
/*
 * ctl_filter.c - selecting records for query, export, report and tail:
 * the filter options, their checks, and one prepared statement with every
 * user value bound as a parameter.  --target is a PCRE2 pattern compiled
 * once and registered on the connection as the SQL function target_re().
 */
#include "cmd.h"

#include <err.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* Most values one comma-separated filter list may hold. */
#define MAX_LIST 32
/* Backtracking bound for --target, so a pathological pattern ends. */
#define TARGET_MATCH_LIMIT 1000000

static const char *const severities[] = { "info", "low", "medium", "high",
					  "critical" };
static const char *const classes[] = { "tool_call", "memory_write",
				       "config_change", "other" };

int64_t
ctl_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Parses a decimal integer in [LO, HI]; -1 after a message if not. */
static int
parse_int(const char *verb, const char *opt, const char *s, int64_t lo,
	  int64_t hi, int64_t *v)
{
	char *end;

	errno = 0;
	long long x = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno == ERANGE || x < lo || x > hi) {
		warnx("%s: %s: '%s' is not a number from %" PRId64 " to %"
		      PRId64, verb, opt, s, lo, hi);
		return -1;
	}
	*v = x;
	return 0;
}

/* True if every comma-separated item of LIST is in NAMES. */
static bool
list_in(const char *verb, const char *opt, const char *list,
	const char *const *names, size_t n, bool plus)
{
	const char *p = list;

	for (;;) {
		size_t len = strcspn(p, ",");
		bool ok = false;
		size_t cmp = len;
		if (plus && len > 0 && p[len - 1] == '+')
			cmp--;
		for (size_t i = 0; i < n && !ok; i++)
			ok = strlen(names[i]) == cmp && strncmp(p, names[i], cmp) == 0;
		if (!ok) {
			warnx("%s: %s: unknown value '%.*s' (one of: %s%s%s%s%s)",
			      verb, opt, (int)len, p, names[0],
			      n > 1 ? ", " : "", n > 1 ? names[1] : "",
			      n > 2 ? ", ..." : "",
			      plus ? "; X+ means X or above" : "");
			return false;
		}
		if (p[len] == '\0')
			return true;
		p += len + 1;
	}
}

int
ctl_filter_option(struct ctl_filter *f, const char *verb, int ch,
		  const char *arg)
{
	char err[256];
	int64_t v;

	switch (ch) {
	case CTL_OPT_SINCE:
	case CTL_OPT_UNTIL:
		if (timespec_parse(arg, ctl_now_us(), &v, err, sizeof err) < 0) {
			warnx("%s: --%s: %s", verb,
			      ch == CTL_OPT_SINCE ? "since" : "until", err);
			return -1;
		}
		if (ch == CTL_OPT_SINCE) {
			f->has_since = true;
			f->since_us = v;
			timespec_format(v, f->since);
		} else {
			f->has_until = true;
			f->until_us = v;
			timespec_format(v, f->until);
		}
		return 1;
	case CTL_OPT_CLASS:
		if (!list_in(verb, "--class", arg, classes,
			     sizeof classes / sizeof classes[0], false))
			return -1;
		f->klass = arg;
		return 1;
	case CTL_OPT_SEVERITY:
		if (!list_in(verb, "--severity", arg, severities,
			     sizeof severities / sizeof severities[0], true))
			return -1;
		f->severity = arg;
		return 1;
	case CTL_OPT_EVENT:
		if (!*arg) {
			warnx("%s: --event: empty", verb);
			return -1;
		}
		f->event = arg;
		return 1;
	case CTL_OPT_SESSION:
		f->session = arg;
		return 1;
	case CTL_OPT_AGENT:
		f->agent = arg;
		return 1;
	case CTL_OPT_TARGET:
		f->target_re = arg;
		return 1;
	case CTL_OPT_PID:
		if (parse_int(verb, "--pid", arg, 0, INT_MAX, &f->pid) < 0)
			return -1;
		f->has_pid = true;
		return 1;
	case CTL_OPT_UID:
		if (parse_int(verb, "--uid", arg, 0, UINT32_MAX, &f->uid) < 0)
			return -1;
		f->has_uid = true;
		return 1;
	case CTL_OPT_LIMIT:
		if (parse_int(verb, "--limit", arg, 1, INT64_MAX, &f->limit) < 0)
			return -1;
		return 1;
	default:
		return 0;
	}
}

int
ctl_filter_check(const struct ctl_filter *f, const char *verb)
{
	if (f->has_since && f->has_until && f->since_us >= f->until_us) {
		warnx("%s: the window is empty: --since %s is not before "
		      "--until %s", verb, f->since, f->until);
		return -1;
	}
	return 0;
}

/* A value to bind. */
struct bind {
	const char *s;		/* text, or NULL for an integer */
	int len;		/* its length */
	int64_t i;		/* the integer */
};

/* The state of a statement under construction. */
struct sql {
	struct jbuf b;			/* SQL text */
	struct bind v[4 * MAX_LIST];	/* values, in placeholder order */
	int n;				/* how many */
	bool overflow;			/* a list was too long */
};

static void
bind_text(struct sql *q, const char *s, size_t len)
{
	if (q->n >= (int)(sizeof q->v / sizeof q->v[0])) {
		q->overflow = true;
		return;
	}
	q->v[q->n++] = (struct bind){ s, (int)len, 0 };
	jbuf_add(&q->b, "?", 1);
}

static void
bind_int(struct sql *q, int64_t i)
{
	if (q->n >= (int)(sizeof q->v / sizeof q->v[0])) {
		q->overflow = true;
		return;
	}
	q->v[q->n++] = (struct bind){ NULL, 0, i };
	jbuf_add(&q->b, "?", 1);
}

/* " AND COL IN (?,?...)" for the comma-separated items of LIST. */
static void
where_list(struct sql *q, const char *col, const char *list)
{
	const char *p = list;
	int items = 0;

	jbuf_printf(&q->b, " AND %s IN (", col);
	for (;;) {
		size_t len = strcspn(p, ",");
		if (++items > MAX_LIST)
			q->overflow = true;
		if (items > 1)
			jbuf_add(&q->b, ",", 1);
		bind_text(q, p, len);
		if (p[len] == '\0')
			break;
		p += len + 1;
	}
	jbuf_add(&q->b, ")", 1);
}

/* Severity list where "X+" stands for X and every level above it. */
static void
where_severity(struct sql *q, const char *list)
{
	const size_t ns = sizeof severities / sizeof severities[0];
	const char *p = list;
	bool any = false;

	jbuf_adds(&q->b, " AND severity IN (");
	for (;;) {
		size_t len = strcspn(p, ",");
		bool plus = len > 0 && p[len - 1] == '+';
		size_t cmp = plus ? len - 1 : len;
		for (size_t i = 0; i < ns; i++) {
			if (strlen(severities[i]) != cmp ||
			    strncmp(p, severities[i], cmp) != 0)
				continue;
			for (size_t k = i; k < (plus ? ns : i + 1); k++) {
				if (any)
					jbuf_add(&q->b, ",", 1);
				any = true;
				bind_text(q, severities[k], strlen(severities[k]));
			}
		}
		if (p[len] == '\0')
			break;
		p += len + 1;
	}
	jbuf_add(&q->b, ")", 1);
}

/* The compiled --target pattern, owned by the connection's function. */
struct target_re {
	pcre2_code *code;		/* the pattern */
	pcre2_match_data *md;		/* reused match data */
	pcre2_match_context *mc;	/* with the backtracking limit */
};

static void
target_re_free(void *p)
{
	struct target_re *t = p;

	if (!t)
		return;
	pcre2_match_data_free(t->md);
	pcre2_match_context_free(t->mc);
	pcre2_code_free(t->code);
	free(t);
}

/* SQL target_re(text): 1 if the --target pattern matches TEXT, else 0. */
static void
target_re_fn(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
	struct target_re *t = sqlite3_user_data(cx);
	const unsigned char *s = sqlite3_value_text(argv[0]);

	if (!s) {
		sqlite3_result_int(cx, 0);
		return;
	}
	int rc = pcre2_match(t->code, s, (size_t)sqlite3_value_bytes(argv[0]),
			     0, 0, t->md, t->mc);
	if (rc >= 0) {
		sqlite3_result_int(cx, 1);
	} else if (rc == PCRE2_ERROR_NOMATCH) {
		sqlite3_result_int(cx, 0);
	} else {
		PCRE2_UCHAR msg[128];
		pcre2_get_error_message(rc, msg, sizeof msg);
		char e[192];
		snprintf(e, sizeof e, "--target: %s", (char *)msg);
		sqlite3_result_error(cx, e, -1);
	}
}

/* Compiles PATTERN and registers target_re() on DB. 0 or -1 (message). */
static int
register_target(sqlite3 *db, const char *verb, const char *pattern)
{
	int ecode;
	PCRE2_SIZE eoff;
	struct target_re *t = calloc(1, sizeof *t);

	if (!t) {
		warnx("out of memory");
		return -1;
	}
	t->code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
				PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &ecode,
				&eoff, NULL);
	if (!t->code) {
		PCRE2_UCHAR msg[128];
		pcre2_get_error_message(ecode, msg, sizeof msg);
		warnx("%s: --target: bad regular expression at offset %zu: %s",
		      verb, (size_t)eoff, (char *)msg);
		target_re_free(t);
		return -1;
	}
	t->md = pcre2_match_data_create_from_pattern(t->code, NULL);
	t->mc = pcre2_match_context_create(NULL);
	if (!t->md || !t->mc) {
		warnx("out of memory");
		target_re_free(t);
		return -1;
	}
	pcre2_set_match_limit(t->mc, TARGET_MATCH_LIMIT);
	/* On failure SQLite calls the destructor itself. */
	if (sqlite3_create_function_v2(db, "target_re", 1,
				       SQLITE_UTF8 | SQLITE_DETERMINISTIC, t,
				       target_re_fn, NULL, NULL,
				       target_re_free) != SQLITE_OK) {
		warnx("%s", sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

/* Windows with fewer rows than this always use the window index. */
#define PLAN_PROBE 100000

/*
 * One integer from SQL with the window's bounds bound as ?1, ?2 (when it
 * has them) and PLAN_PROBE as ?3; -1 if there is none.
 */
static int64_t
probe(sqlite3 *db, const char *sql, const struct ctl_filter *f)
{
	sqlite3_stmt *st = NULL;
	int64_t v = -1;

	/* A missing bound becomes one that every stored time passes. */
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    (sqlite3_bind_parameter_count(st) < 2 ||
	     (sqlite3_bind_text(st, 1, f->has_since ? f->since : "", -1,
				SQLITE_STATIC) == SQLITE_OK &&
	      sqlite3_bind_text(st, 2, f->has_until ? f->until : "\x7f", -1,
				SQLITE_STATIC) == SQLITE_OK)) &&
	    (sqlite3_bind_parameter_count(st) < 3 ||
	     sqlite3_bind_int(st, 3, PLAN_PROBE) == SQLITE_OK) &&
	    sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) == SQLITE_INTEGER)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/*
 * For a selection by time window alone, in seq order: whether reading the
 * table in seq order (testing each row's time) beats reading the window
 * from the records_window index and sorting it by seq.  SQLite cannot
 * know (the window's size is in no statistic); both give the same rows.
 * The table wins when the window holds most rows from its start on: with
 * --limit N, a scan stops after about (entries before the window) + N
 * rows, the index path reads the whole window first; without a limit, a
 * scan reads every row, the index path reads and sorts the window.  The
 * probes read at most PLAN_PROBE index entries plus three lookups.
 */
/* True if F selects by a time window and nothing else. */
static bool
window_only(const struct ctl_filter *f)
{
	return (f->has_since || f->has_until) && !f->klass && !f->event &&
	       !f->severity && !f->session && !f->agent && !f->has_pid &&
	       !f->has_uid && !f->target_re && f->after_seq <= 0;
}

static bool
scan_in_seq_order(sqlite3 *db, const struct ctl_filter *f, bool desc)
{
	if (!window_only(f) || desc)
		return false;
	int64_t n = probe(db, "SELECT count(*) FROM (SELECT 1 FROM records "
			  "WHERE time >= ?1 AND time < ?2 LIMIT ?3)", f);
	if (n < PLAN_PROBE)
		return false;
	/* The window's first and last entries by time: its seq extent. */
	int64_t first = probe(db, "SELECT seq FROM records WHERE time >= ?1 "
			      "AND time < ?2 ORDER BY time LIMIT 1", f);
	int64_t last = probe(db, "SELECT seq FROM records WHERE time >= ?1 "
			     "AND time < ?2 ORDER BY time DESC LIMIT 1", f);
	int64_t end = probe(db, "SELECT max(seq) FROM records", f);
	if (first < 0 || last < 0 || end < 0)
		return false;
	int64_t span = last >= first ? last - first + 1 : n;
	if (span < n)
		span = n;
	if (f->limit > 0)
		return first + f->limit < span;
	/* Reading and sorting a row of the window costs about three of a scan. */
	return end < 3 * span;
}

int
ctl_filter_prepare(sqlite3 *db, const struct ctl_filter *f,
		   const char *select_cols, bool desc, sqlite3_stmt **st)
{
	struct sql q;
	int ret = -1;
	/* "+time" keeps SQLite off the time index (a plan, not a filter). */
	bool scan = scan_in_seq_order(db, f, desc);
	const char *tcol = scan ? "+time" : "time";
	/*
	 * A window read from its index: the window's seqs are collected
	 * (and so ordered) first and the rows fetched in seq order, rather
	 * than whole rows sorted by seq (about a third less time, and no
	 * sorter holding the window's rows).
	 */
	bool by_seqs = !scan && window_only(f);

	memset(&q, 0, sizeof q);
	*st = NULL;
	if (f->target_re && register_target(db, "query", f->target_re) < 0)
		return -1;
	jbuf_printf(&q.b, "SELECT %s FROM records WHERE %s", select_cols,
		    by_seqs ? "seq IN (SELECT seq FROM records WHERE 1" : "1");
	if (f->has_since) {
		jbuf_printf(&q.b, " AND %s >= ", tcol);
		bind_text(&q, f->since, strlen(f->since));
	}
	if (f->has_until) {
		jbuf_printf(&q.b, " AND %s < ", tcol);
		bind_text(&q, f->until, strlen(f->until));
	}
	if (by_seqs)
		jbuf_adds(&q.b, ")");
	if (f->after_seq > 0) {
		jbuf_adds(&q.b, " AND seq > ");
		bind_int(&q, f->after_seq);
	}
	if (f->klass)
		where_list(&q, "class", f->klass);
	if (f->event)
		where_list(&q, "event", f->event);
	if (f->severity)
		where_severity(&q, f->severity);
	if (f->session) {
		jbuf_adds(&q.b, " AND session = ");
		bind_text(&q, f->session, strlen(f->session));
	}
	if (f->agent) {
		jbuf_adds(&q.b, " AND agent = ");
		bind_text(&q, f->agent, strlen(f->agent));
	}
	if (f->has_pid) {
		jbuf_adds(&q.b, " AND pid = ");
		bind_int(&q, f->pid);
	}
	if (f->has_uid) {
		jbuf_adds(&q.b, " AND uid = ");
		bind_int(&q, f->uid);
	}
	if (f->target_re)
		jbuf_adds(&q.b, " AND target_re(target)");
	jbuf_adds(&q.b, desc ? " ORDER BY seq DESC" : " ORDER BY seq");
	if (f->limit > 0) {
		jbuf_adds(&q.b, " LIMIT ");
		bind_int(&q, f->limit);
	}
	if (q.overflow) {
		warnx("too many values in a filter list (at most %d)", MAX_LIST);
		goto out;
	}
	if (q.b.oom) {
		warnx("out of memory");
		goto out;
	}
	if (sqlite3_prepare_v2(db, q.b.p, -1, st, NULL) != SQLITE_OK) {
		warnx("%s", sqlite3_errmsg(db));
		goto out;
	}
	for (int i = 0; i < q.n; i++) {
		int rc = q.v[i].s ?
			sqlite3_bind_text(*st, i + 1, q.v[i].s, q.v[i].len,
					  SQLITE_TRANSIENT) :
			sqlite3_bind_int64(*st, i + 1, q.v[i].i);
		if (rc != SQLITE_OK) {
			warnx("%s", sqlite3_errmsg(db));
			goto out;
		}
	}
	ret = 0;
out:
	if (ret < 0) {
		sqlite3_finalize(*st);
		*st = NULL;
	}
	jbuf_free(&q.b);
	return ret;
}
