/* SPDX-License-Identifier: MIT */
/*
 * cmd_report.c - `auditctl report --since T [--until T]`: what an auditor
 * asks of a time window, from the store opened read-only.  Each section
 * is one parameterised aggregate query whose rows become a small table
 * (bounded: at most REPORT_ROWS rows each, the rest counted); the same
 * tables are then written as text, markdown, JSON, CSV or HTML
 * (report_html.c).  Sections: chain status, totals, sessions with their
 * process trees (report_tree.c), tool calls, changes, network peers,
 * approvals, policy violations, blind spots and gaps.
 */
#include "cmd.h"

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auditshim_config.h"
#include "chain.h"
#include "db.h"
#include "records.h"
#include "report.h"
#include "verify.h"

/* Longest cell shown in text and markdown (JSON and CSV get it whole). */
#define CELL_SHOW 72

enum report_format { R_TEXT, R_MARKDOWN, R_JSON, R_CSV, R_HTML };

static void
rtab_free(struct rtab *t)
{
	for (int i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->nrows = 0;
}

/* Appends a row of N strings (copied; NULL allowed).  0 or -ENOMEM. */
static int
rtab_add(struct rtab *t, const char *const *v)
{
	if (t->nrows >= REPORT_ROWS) {
		t->more++;
		return 0;
	}
	char **nc = realloc(t->cells, (size_t)(t->nrows + 1) * (size_t)t->ncols *
			    sizeof *nc);
	if (!nc)
		return -ENOMEM;
	t->cells = nc;
	for (int i = 0; i < t->ncols; i++) {
		char *s = NULL;
		if (v[i] && !(s = strdup(v[i]))) {
			for (int k = 0; k < i; k++)
				free(nc[t->nrows * t->ncols + k]);
			return -ENOMEM;
		}
		nc[t->nrows * t->ncols + i] = s;
	}
	t->nrows++;
	return 0;
}

static int
rtab_kv(struct rtab *t, const char *k, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int
rtab_kv(struct rtab *t, const char *k, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	const char *v[2] = { k, buf };
	return rtab_add(t, v);
}

/* "name (uid)" for a uid text, or the text itself. */
static void
user_text(const char *uid, char *out, size_t len)
{
	char *end;
	long v = strtol(uid, &end, 10);
	struct passwd *pw = *uid && !*end && v >= 0 ? getpwuid((uid_t)v) : NULL;

	if (pw)
		snprintf(out, len, "%s (%s)", pw->pw_name, uid);
	else
		snprintf(out, len, "%s", uid);
}

/*
 * Runs SQL with ?1 = since and ?2 = until bound and adds each row to T
 * (T->ncols columns).  Returns 0, or -1 after printing the error.
 */
static int
rtab_sql(sqlite3 *db, struct rtab *t, const char *sql, const char *since,
	 const char *until)
{
	sqlite3_stmt *st = NULL;
	int rc, ret = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(st, 1, since, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 2, until, -1, SQLITE_STATIC) != SQLITE_OK) {
		warnx("report: %s: %s", t->name, sqlite3_errmsg(db));
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *v[MAXCOLS];
		char ubuf[MAXCOLS][96];
		for (int i = 0; i < t->ncols; i++) {
			v[i] = (const char *)sqlite3_column_text(st, i);
			if (v[i] && (t->flags[i] & C_USER)) {
				user_text(v[i], ubuf[i], sizeof ubuf[i]);
				v[i] = ubuf[i];
			}
		}
		if (rtab_add(t, v) < 0) {
			warnx("out of memory");
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		warnx("report: %s: %s", t->name, sqlite3_errmsg(db));
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(st);
	return ret;
}

/* SQL addr_host(text): the host part of "1.2.3.4:80" / "[::1]:443". */
static void
addr_host_fn(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
	const char *s = (const char *)sqlite3_value_text(argv[0]);
	if (!s) {
		sqlite3_result_null(cx);
		return;
	}
	size_t n = (size_t)sqlite3_value_bytes(argv[0]);
	const char *colon = n ? memrchr(s, ':', n) : NULL;
	if (colon && s[0] == '[' && colon > s + 1 && colon[-1] == ']')
		sqlite3_result_text(cx, s + 1, (int)(colon - s) - 2,
				    SQLITE_TRANSIENT);
	else if (colon && !memchr(s, ':', (size_t)(colon - s)))
		sqlite3_result_text(cx, s, (int)(colon - s), SQLITE_TRANSIENT);
	else
		sqlite3_result_text(cx, s, (int)n, SQLITE_TRANSIENT);
}

/*
 * The window predicate every section uses (records_window index, which
 * also holds class, event, result, session and agent: the sections that
 * only count read the index alone).
 */
#define W " time >= ?1 AND time < ?2 "
/*
 * Let a section on rare events, or on tool calls, changes and
 * violations, use the partial index records_events or records_notable
 * (records.h): redundant with the section's own test, required by SQLite.
 */
#define EV(tab) " AND " RECORDS_EVENTS_PRED(tab) " "
#define NOTABLE " AND " RECORDS_NOTABLE_PRED("") " "
/* A member of a record's detail, NULL when detail is not valid JSON. */
#define DJ(tab, k) "CASE WHEN json_valid(" tab "detail) THEN json_extract(" \
	tab "detail, '$." k "') END"
/* An argv JSON array as one line. */
#define ARGS(tab) "CASE WHEN json_valid(" tab "argv) AND json_type(" tab \
	"argv) = 'array' THEN (SELECT group_concat(value, ' ') FROM " \
	"json_each(" tab "argv)) END"
/* Seconds between two stored times, 3 decimals. */
#define SECS(a, b) "printf('%.3f', (julianday(" b ") - julianday(" a ")) * 86400.0)"

/* Element I of a tally() group (JSON path "$[I]..."). */
#define TG(path) "json_extract(g.value, '$" path "')"

static const char sql_totals[] =
	"SELECT " TG("[0]") ", " TG("[1]") ", " TG("[2]") ", " TG("[3]") " AS n "
	"FROM json_each((SELECT tally(3, class, event, result) FROM records "
	"WHERE" W ")) g ORDER BY n DESC, 1, 2, 3";

/*
 * Per session: tally(1, session, agent, time, tool call?, change?, seq)
 * gives [session, count, [agent min..], [time min, max, ..],
 * [.., .., tool calls], [.., .., changes], [seq min, ..]].
 */
static const char sql_sessions[] =
	"SELECT s.session, s.agent, s.start, s.fin, " SECS("s.start", "s.fin")
	", s.n, s.tools, s.changes, "
	"(SELECT r1.exe FROM records r1 WHERE r1.session = s.session "
	" ORDER BY r1.seq LIMIT 1), "
	"(SELECT " ARGS("r2.") " FROM records r2 WHERE r2.session = s.session "
	" AND r2.event IN ('exec', 'spawn') ORDER BY r2.seq LIMIT 1) "
	"FROM (SELECT " TG("[0]") " AS session, " TG("[2][0]") " AS agent, "
	TG("[3][0]") " AS start, " TG("[3][1]") " AS fin, " TG("[1]") " AS n, "
	TG("[4][2]") " AS tools, " TG("[5][2]") " AS changes, "
	TG("[6][0]") " AS first "
	"FROM json_each((SELECT tally(1, session, agent, time, "
	"class = 'tool_call', class IN ('memory_write', 'config_change'), seq) "
	"FROM records WHERE" W "AND session IS NOT NULL)) g) s "
	"ORDER BY s.first";

static const char sql_tools[] =
	"SELECT session, event, target, count(*), count(DISTINCT pid), "
	"sum(result = 'error') FROM records WHERE" W
	"AND class = 'tool_call'" NOTABLE "GROUP BY session, event, target "
	"ORDER BY session, count(*) DESC, "
	"min(seq)";

static const char sql_changes[] =
	"SELECT class, target, group_concat(DISTINCT event), count(*), "
	"min(time), max(time) FROM records WHERE" W
	"AND class IN ('config_change', 'memory_write')" NOTABLE
	"GROUP BY class, target ORDER BY class, target";

static const char sql_peers[] =
	"SELECT c.target, "
	"(SELECT group_concat(DISTINCT r.target) FROM records r, "
	" json_each(CASE WHEN json_valid(r.detail) THEN r.detail END, "
	"  '$.addresses') a "
	" WHERE r.event = 'resolve' AND r.time < ?2 " EV("r.")
	"  AND addr_host(a.value) = addr_host(c.target)), "
	"count(*), sum(c.result = 'error'), count(DISTINCT c.session), "
	"min(c.time), max(c.time) "
	"FROM records c WHERE" W "AND c.event IN ('connect', 'sendto') " EV("c.")
	"GROUP BY c.target ORDER BY count(*) DESC, c.target";

static const char sql_approvals[] =
	"SELECT d.target, " DJ("d.", "decision") ", d.uid, d.time, "
	"CASE WHEN " DJ("d.", "decision") " = 'request' THEN"
	" CASE WHEN EXISTS (SELECT 1 FROM records x WHERE x.event = 'approval'"
	EV("x.") "  AND x.target = d.target AND x.seq > d.seq"
	"  AND " DJ("x.", "decision") " IN ('approve', 'deny'))"
	" THEN 'decided' ELSE 'pending' END "
	"ELSE (SELECT max(q.time) FROM records q WHERE q.event = 'approval'"
	EV("q.") " AND q.target = d.target AND q.seq < d.seq"
	" AND " DJ("q.", "decision") " = 'request') END, "
	"NULL, " DJ("d.", "reason") ", d.seq "
	"FROM records d WHERE" W "AND d.event = 'approval' " EV("d.")
	"ORDER BY d.seq";

static const char sql_violation_counts[] =
	"SELECT severity, count(*) FROM records WHERE" W
	"AND (event = 'policy_violation' OR severity <> 'info')" NOTABLE
	"GROUP BY severity ORDER BY CASE severity WHEN 'critical' THEN 0 "
	"WHEN 'high' THEN 1 WHEN 'medium' THEN 2 WHEN 'low' THEN 3 ELSE 4 END";

/*
 * The rule: a policy_violation record names it in detail.policy; the
 * record it judged is named by the violation records sealed right after
 * it (one per matching policy).
 */
static const char sql_violations[] =
	"SELECT severity, seq, time, event, session, pid, target, "
	"CASE WHEN event = 'policy_violation' THEN " DJ("", "policy") " ELSE "
	"(SELECT group_concat(" DJ("v.", "policy") ", ',') FROM records v "
	" WHERE v.seq > records.seq AND v.seq <= records.seq + 64 "
	" AND v.event = 'policy_violation' "
	" AND " DJ("v.", "seq") " = records.seq) END FROM records WHERE" W
	"AND (event = 'policy_violation' OR severity <> 'info')" NOTABLE
	"ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 "
	"WHEN 'medium' THEN 2 WHEN 'low' THEN 3 ELSE 4 END, seq";

static const char sql_blind[] =
	"SELECT event, seq, time, session, pid, target, "
	"CASE WHEN event = 'gap' THEN " DJ("", "count") " END, "
	"coalesce(" DJ("", "reason") ", '') FROM records WHERE" W
	"AND event IN ('blind_spot', 'gap') " EV("") "ORDER BY seq";

static void
setup_tabs(struct rtab *t)
{
#define T(i, n, ti, em, ...) do { \
		static const char *const c_[] = { __VA_ARGS__ }; \
		t[i].name = n; t[i].title = ti; t[i].empty = em; \
		t[i].ncols = (int)(sizeof c_ / sizeof c_[0]); \
		for (int k_ = 0; k_ < t[i].ncols; k_++) t[i].cols[k_] = c_[k_]; \
	} while (0)
	T(S_CHAIN, "chain", "Chain status", "", "item", "value");
	t[S_CHAIN].kv = true;
	T(S_TOTALS, "totals", "Totals by class, event and outcome",
	  "no records in the window", "class", "event", "result", "count");
	t[S_TOTALS].flags[3] = C_NUM;
	T(S_SESSIONS, "sessions", "Sessions", "no sessions in the window",
	  "session", "agent", "start", "end", "duration_s", "records",
	  "tool_calls", "changes", "root_program", "first_command");
	for (int k = 4; k < 8; k++)
		t[S_SESSIONS].flags[k] = C_NUM;
	T(S_TOOLS, "tool_calls", "Tool calls by session",
	  "no tool calls in the window", "session", "event", "target",
	  "count", "processes", "errors");
	for (int k = 3; k < 6; k++)
		t[S_TOOLS].flags[k] = C_NUM;
	T(S_CHANGES, "changes", "Changes (config changes and memory writes) "
	  "by path", "no config changes or memory writes in the window",
	  "class", "path", "events", "count", "first", "last");
	t[S_CHANGES].flags[3] = C_NUM;
	T(S_PEERS, "network_peers", "Network peers",
	  "no connections in the window", "peer", "host_names", "count",
	  "errors", "sessions", "first", "last");
	for (int k = 2; k < 5; k++)
		t[S_PEERS].flags[k] = C_NUM;
	T(S_APPROVALS, "approvals", "Approvals", "no approvals in the window",
	  "task", "decision", "by", "time", "requested_or_state",
	  "latency_s", "reason", "seq");
	t[S_APPROVALS].flags[2] = C_USER;
	t[S_APPROVALS].flags[5] = C_NUM;
	t[S_APPROVALS].flags[7] = C_NUM;
	T(S_VCOUNT, "violations_by_severity", "Policy violations by severity",
	  "no policy violations in the window", "severity", "count");
	t[S_VCOUNT].flags[1] = C_NUM;
	T(S_VIOL, "violations", "Policy violations",
	  "no policy violations in the window", "severity", "seq", "time",
	  "event", "session", "pid", "target", "rule");
	t[S_VIOL].flags[1] = t[S_VIOL].flags[5] = C_NUM;
	T(S_BLIND, "blind_spots_and_gaps", "Blind spots and gaps",
	  "no blind spots or gaps in the window", "event", "seq", "time",
	  "session", "pid", "target", "lost", "reason");
	t[S_BLIND].flags[1] = t[S_BLIND].flags[4] = t[S_BLIND].flags[6] = C_NUM;
#undef T
}

/* Fills in approval latencies (decision time - request time). */
static void
approval_latency(struct rtab *t)
{
	for (int r = 0; r < t->nrows; r++) {
		char **c = t->cells + r * t->ncols;
		int64_t a, b;
		if (!c[1] || strcmp(c[1], "request") == 0 || !c[3] || !c[4] ||
		    timespec_parse_stored(c[4], strlen(c[4]), &a) < 0 ||
		    timespec_parse_stored(c[3], strlen(c[3]), &b) < 0)
			continue;
		char buf[40];
		snprintf(buf, sizeof buf, "%.3f", (double)(b - a) / 1e6);
		free(c[5]);
		c[5] = strdup(buf);
	}
}

/*
 * Checks the entry the head file names, and that the table reaches it, for
 * a head outside the window's range (inside it, the window's pass compares
 * it).  LAST is the last entry of the snapshot.  Returns as verify_range;
 * V names the bad entry.
 */
static int
head_check(sqlite3 *db, const struct ctl *ctl, const unsigned char *key,
	   const struct db_head *head, int64_t last, struct db_verify *v)
{
	if (head->seq > last) {
		memset(v, 0, sizeof *v);
		v->bad_seq = last + 1;
		snprintf(v->reason, sizeof v->reason, "truncated tail: database "
			 "ends at entry %" PRId64 " but the writer last reported "
			 "head %" PRId64 " (run auditctl verify)", last, head->seq);
		return 1;
	}
	if (head->seq < 1)
		return 0;
	return ctl_verify_range(ctl->db_path, db, key, 1, head->seq, head->seq,
				head, v);
}

/*
 * The chain section: the window's entries A..B (its first and last by
 * seq) verified -- hashes, links, columns, MACs when the key is readable
 * -- anchored on the stored hash of entry A-1, which is not itself
 * re-verified; then the entry the head file names and that the table
 * reaches it.  Entries outside A..B are not checked here (auditctl verify
 * checks the whole chain) and the section says so.
 * Returns 0 intact (or nothing to check), 1 broken, -1 on an operational
 * error.
 */
static int
chain_section(sqlite3 *db, const struct ctl *ctl, struct rtab *t,
	      const char *since, const char *until)
{
	unsigned char key[CHAIN_KEY_LEN];
	struct db_verify v;
	struct db_head head;
	sqlite3_stmt *st = NULL;
	int ret = -1, vr = 0;

	int krc = ctl->key_path ? chain_key_load(ctl->key_path, key) : -ENOENT;
	const unsigned char *keyp = krc == 0 ? key : NULL;
	int hrc = db_head_read(ctl->db_path, &head);

	if (sqlite3_prepare_v2(db, "SELECT min(seq), max(seq), count(*), "
			       "(SELECT max(seq) FROM records) FROM records "
			       "WHERE" W, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(st, 1, since, -1, SQLITE_STATIC) ||
	    sqlite3_bind_text(st, 2, until, -1, SQLITE_STATIC) ||
	    sqlite3_step(st) != SQLITE_ROW) {
		warnx("report: %s", sqlite3_errmsg(db));
		goto out;
	}
	int64_t lo = sqlite3_column_int64(st, 0), hi = sqlite3_column_int64(st, 1);
	int64_t n = sqlite3_column_int64(st, 2), last = sqlite3_column_int64(st, 3);
	rtab_kv(t, "window_since", "%s", since);
	rtab_kv(t, "window_until", "%s", until);
	rtab_kv(t, "window_records", "%" PRId64, n);
	if (n > 0) {
		rtab_kv(t, "window_first_entry", "%" PRId64, lo);
		rtab_kv(t, "window_last_entry", "%" PRId64, hi);
	}

	memset(&v, 0, sizeof v);
	if (n > 0)
		vr = ctl_verify_range(ctl->db_path, db, keyp, 0, lo, hi,
				      hrc == 0 ? &head : NULL, &v);
	bool head_done = hrc == 0 && vr == 0;
	if (head_done && (n == 0 || head.seq < lo || head.seq > hi)) {
		struct db_verify hv;
		vr = head_check(db, ctl, keyp, &head, last, &hv);
		if (vr > 0)
			v = hv;
	}
	if (vr < 0) {
		warnx("report: verifying: %s", vr == -EIO ? sqlite3_errmsg(db) :
		      strerror(-vr));
		goto out;
	}
	/*
	 * Short values (text cuts cells at CELL_SHOW): what was verified,
	 * its anchor, the first bad entry, and what was not looked at, so
	 * nobody reads "intact" as the whole chain.
	 */
	bool inside = vr > 0 && n > 0 && v.bad_seq >= lo && v.bad_seq <= hi;
	if (vr == 0)
		rtab_kv(t, "status", "%s", n > 0 ? "intact" :
			"nothing to verify (no entries in the window)");
	else
		rtab_kv(t, "status", "BROKEN");
	if (n > 0 && (vr == 0 || v.bad_seq > hi))
		rtab_kv(t, "verified", "entries %" PRId64 " to %" PRId64, lo, hi);
	else if (inside && v.bad_seq > lo)
		rtab_kv(t, "verified", "entries %" PRId64 " to %" PRId64 " intact",
			lo, v.bad_seq - 1);
	else if (n > 0)
		rtab_kv(t, "verified", "none (entry %" PRId64 " is bad)", v.bad_seq);
	if (n > 0 && lo > 1)
		rtab_kv(t, "anchor", "the stored hash of entry %" PRId64 " (not "
			"itself verified)", lo - 1);
	if (vr > 0) {
		rtab_kv(t, "first_bad_entry", "%" PRId64 " (%s the window)",
			v.bad_seq, inside ? "inside" : n > 0 && v.bad_seq < lo ?
			"before" : "after");
		rtab_kv(t, "reason", "%s", v.reason);
	}
	char before[48] = "", after[48] = "";
	if (n == 0 && last > 0)
		snprintf(before, sizeof before, "1 to %" PRId64, last);
	if (n > 0 && lo > 1)
		snprintf(before, sizeof before, "1 to %" PRId64, lo - 1);
	if (n > 0 && hi < last)
		snprintf(after, sizeof after, "%" PRId64 " to %" PRId64, hi + 1,
			 last);
	if (*before || *after)
		rtab_kv(t, "not_checked", "entries %s%s%s", before,
			*before && *after ? " and " : "", after);
	rtab_kv(t, "scope", "the window only; auditctl verify checks the "
		"whole chain");
	rtab_kv(t, "macs_checked", "%s", keyp ? "yes" :
		"no (key not readable: hash-only)");
	rtab_kv(t, "head_file", "%s", hrc == -ENOENT ? "missing (a cut tail "
		"would go unnoticed)" : hrc != 0 ? "unreadable" :
		head_done ? "compared (its entry verified, the table reaches it)"
		: "not compared (the window broke first)");
	ret = vr;
out:
	chain_wipe(key, sizeof key);
	sqlite3_finalize(st);
	return ret;
}

/* ---- output ---- */

/* Column widths for text: the widest shown cell per column. */
static void
widths(const struct rtab *t, int *w)
{
	for (int i = 0; i < t->ncols; i++)
		w[i] = (int)strlen(t->cols[i]);
	for (int r = 0; r < t->nrows; r++)
		for (int i = 0; i < t->ncols; i++) {
			const char *c = t->cells[r * t->ncols + i];
			int n = c ? (int)strlen(c) : 1;
			if (n > CELL_SHOW)
				n = CELL_SHOW;
			if (n > w[i])
				w[i] = n;
		}
}

/* A cell as shown in text/markdown: escaped, cut to CELL_SHOW. */
static void
cell_show(struct jbuf *b, const char *c, bool md)
{
	if (!c) {
		jbuf_adds(b, "-");
		return;
	}
	size_t n = strlen(c);
	bool cut = n > CELL_SHOW;
	struct jbuf tmp = { 0 };
	ctl_add_printable(&tmp, c, cut ? CELL_SHOW - 3 : n);
	for (size_t i = 0; i < tmp.len; i++) {
		if (md && tmp.p[i] && strchr("|\\`<>", tmp.p[i]))
			jbuf_add(b, "\\", 1);
		jbuf_add(b, tmp.p + i, 1);
	}
	if (cut)
		jbuf_adds(b, "...");
	jbuf_free(&tmp);
}

/* A tree node's counts: " (3)", " (3, 1 failed)". */
static void
node_counts(struct jbuf *b, const struct pnode *x)
{
	jbuf_printf(b, " (%" PRId64, x->count);
	if (x->errors)
		jbuf_printf(b, ", %" PRId64 " failed", x->errors);
	jbuf_adds(b, ")");
}

/*
 * The children of node I, one line each, the top level indented by
 * INDENT and two more spaces per level; markdown as a nested list.
 */
static void
tree_lines(struct jbuf *b, const struct ptree *t, int i, int indent, bool md)
{
	const struct pnode *p = &t->nodes[i];
	int pad = indent + 2 * p->depth;	/* the children's indent */
	for (int c = p->first_child; c >= 0; c = t->nodes[c].next) {
		if (!ptree_shown(t, c))
			continue;
		jbuf_printf(b, "%*s%s", pad, "", md ? "- " : "");
		cell_show(b, t->nodes[c].program, md);
		node_counts(b, &t->nodes[c]);
		jbuf_adds(b, "\n");
		tree_lines(b, t, c, indent, md);
	}
	if (p->omitted)
		jbuf_printf(b, "%*s%s... %" PRId64 " more process%s (tree "
			    "limits)\n", pad, "", md ? "- " : "", p->omitted,
			    p->omitted == 1 ? "" : "es");
}

/* Each listed session's process tree, after the sessions table. */
static void
trees_text(struct jbuf *b, const struct rtab *sess, const struct ptree *trees,
	   bool md)
{
	bool any = false;
	for (int r = 0; trees && r < sess->nrows; r++) {
		const struct ptree *t = &trees[r];
		if (!ptree_shown(t, 0))
			continue;
		if (!any)
			jbuf_adds(b, md ? "\n### Process trees\n" :
				  "\n  Process trees (programs run under their "
				  "parent, with counts)\n");
		any = true;
		const char *id = sess->cells[r * sess->ncols];
		const char *agent = sess->cells[r * sess->ncols + 1];
		jbuf_adds(b, md ? "\n#### " : "  ");
		cell_show(b, id, md);
		if (agent) {
			jbuf_adds(b, " (");
			cell_show(b, agent, md);
			jbuf_adds(b, ")");
		}
		jbuf_adds(b, md ? "\n\n" : "\n");
		tree_lines(b, t, 0, md ? 0 : 4, md);
		if (t->evicted)
			jbuf_printf(b, md ? "\n_%" PRId64 " processes were "
				    "forgotten to bound memory: a later child of "
				    "one is shown at the top level._\n" :
				    "    (%" PRId64 " processes were forgotten to "
				    "bound memory: a later child of one is shown "
				    "at the top level)\n", t->evicted);
	}
}

static void
out_text(struct jbuf *b, const struct rtab *t, int ntabs,
	 const struct ptree *trees, bool tty, const char *since,
	 const char *until, bool broken)
{
	const char *bold = tty ? "\033[1m" : "", *off = tty ? "\033[0m" : "";
	jbuf_printf(b, "%sauditshim report%s  %s .. %s\n", bold, off, since, until);
	for (int s = 0; s < ntabs; s++) {
		const struct rtab *x = &t[s];
		jbuf_printf(b, "\n%s%s%s\n", bold, x->title, off);
		if (x->nrows == 0) {
			jbuf_printf(b, "  (%s)\n", x->empty);
			continue;
		}
		int w[MAXCOLS];
		widths(x, w);
		if (x->kv) {
			for (int r = 0; r < x->nrows; r++) {
				const char *k = x->cells[r * 2], *v = x->cells[r * 2 + 1];
				bool st = strcmp(k, "status") == 0;
				const char *col = !tty || !st ? "" :
						  broken ? "\033[1;31m" : "\033[32m";
				jbuf_printf(b, "  %-*s  %s", w[0], k, col);
				cell_show(b, v, false);
				jbuf_printf(b, "%s\n", *col ? off : "");
			}
			continue;
		}
		jbuf_adds(b, " ");
		for (int i = 0; i < x->ncols; i++)
			jbuf_printf(b, x->flags[i] & C_NUM ? " %*s" : " %-*s",
				    i + 1 < x->ncols || (x->flags[i] & C_NUM) ?
				    w[i] : 0, x->cols[i]);
		jbuf_adds(b, "\n");
		for (int r = 0; r < x->nrows; r++) {
			jbuf_adds(b, " ");
			for (int i = 0; i < x->ncols; i++) {
				struct jbuf c = { 0 };
				cell_show(&c, x->cells[r * x->ncols + i], false);
				int pad = w[i] - (int)c.len;
				if (i + 1 == x->ncols && !(x->flags[i] & C_NUM))
					pad = 0;
				jbuf_adds(b, " ");
				if (x->flags[i] & C_NUM)
					for (int k = 0; k < pad; k++)
						jbuf_add(b, " ", 1);
				jbuf_add(b, c.p ? c.p : "", c.len);
				if (!(x->flags[i] & C_NUM))
					for (int k = 0; k < pad; k++)
						jbuf_add(b, " ", 1);
				jbuf_free(&c);
			}
			/* no trailing blanks */
			while (b->len > 0 && b->p[b->len - 1] == ' ')
				b->len--;
			jbuf_adds(b, "\n");
		}
		if (x->more)
			jbuf_printf(b, "  ... and %" PRId64 " more\n", x->more);
		if (s == S_SESSIONS)
			trees_text(b, x, trees, false);
	}
}

static void
out_markdown(struct jbuf *b, const struct rtab *t, int ntabs,
	     const struct ptree *trees, const char *since, const char *until,
	     const char *host)
{
	jbuf_printf(b, "# auditshim report\n\n- Window: %s to %s (end "
		    "exclusive)\n- Host: %s\n- Generated by auditctl "
		    "(auditshim) %s\n", since, until, host, AUDITSHIM_VERSION);
	for (int s = 0; s < ntabs; s++) {
		const struct rtab *x = &t[s];
		jbuf_printf(b, "\n## %s\n\n", x->title);
		if (x->nrows == 0) {
			jbuf_printf(b, "_%s._\n", x->empty);
			continue;
		}
		for (int i = 0; i < x->ncols; i++)
			jbuf_printf(b, "| %s ", x->cols[i]);
		jbuf_adds(b, "|\n");
		for (int i = 0; i < x->ncols; i++)
			jbuf_adds(b, x->flags[i] & C_NUM ? "|---:" : "|---");
		jbuf_adds(b, "|\n");
		for (int r = 0; r < x->nrows; r++) {
			for (int i = 0; i < x->ncols; i++) {
				jbuf_adds(b, "| ");
				cell_show(b, x->cells[r * x->ncols + i], true);
				jbuf_adds(b, " ");
			}
			jbuf_adds(b, "|\n");
		}
		if (x->more)
			jbuf_printf(b, "\n_... and %" PRId64 " more._\n", x->more);
		if (s == S_SESSIONS)
			trees_text(b, x, trees, true);
	}
}

/* True if S is a JSON number as SQLite prints them. */
static bool
numeric(const char *s)
{
	char *end;
	if (!*s || *s == '+' || (*s == '0' && s[1] && s[1] != '.'))
		return false;
	strtod(s, &end);
	return *end == '\0';
}

static void
json_cell(struct jbuf *b, const char *c, int flags)
{
	if (!c)
		jbuf_adds(b, "null");
	else if ((flags & C_NUM) && numeric(c))
		jbuf_adds(b, c);
	else
		jbuf_str(b, c, strlen(c));
}

/* The children of node I as a JSON array of nested objects. */
static void
json_children(struct jbuf *b, const struct ptree *t, int i)
{
	bool first = true;
	jbuf_adds(b, "\"children\":[");
	for (int c = t->nodes[i].first_child; c >= 0; c = t->nodes[c].next) {
		const struct pnode *x = &t->nodes[c];
		if (!ptree_shown(t, c))
			continue;
		jbuf_adds(b, first ? "{\"program\":" : ",{\"program\":");
		first = false;
		jbuf_strz(b, x->program);
		jbuf_printf(b, ",\"count\":%" PRId64 ",\"errors\":%" PRId64
			    ",\"omitted\":%" PRId64 ",", x->count, x->errors,
			    x->omitted);
		json_children(b, t, c);
		jbuf_adds(b, "}");
	}
	jbuf_adds(b, "]");
}

static void
json_tree(struct jbuf *b, const struct ptree *t)
{
	jbuf_printf(b, ",\"process_tree\":{\"omitted\":%" PRId64
		    ",\"forgotten\":%" PRId64 ",", t->nodes[0].omitted,
		    t->evicted);
	json_children(b, t, 0);
	jbuf_adds(b, "}");
}

static void
out_json(struct jbuf *b, const struct rtab *t, int ntabs,
	 const struct ptree *trees, const char *since, const char *until,
	 const char *host, bool broken)
{
	jbuf_adds(b, "{\"report\":\"auditshim\",\"version\":");
	jbuf_strz(b, AUDITSHIM_VERSION);
	jbuf_adds(b, ",\"host\":");
	jbuf_strz(b, host);
	jbuf_adds(b, ",\"window\":{\"since\":");
	jbuf_strz(b, since);
	jbuf_adds(b, ",\"until\":");
	jbuf_strz(b, until);
	jbuf_printf(b, "},\"chain_intact\":%s,\"sections\":{",
		    broken ? "false" : "true");
	for (int s = 0; s < ntabs; s++) {
		const struct rtab *x = &t[s];
		jbuf_printf(b, "%s\"%s\":{\"title\":", s ? "," : "", x->name);
		jbuf_strz(b, x->title);
		if (x->kv) {
			jbuf_adds(b, ",\"values\":{");
			for (int r = 0; r < x->nrows; r++) {
				jbuf_adds(b, r ? "," : "");
				jbuf_strz(b, x->cells[r * 2]);
				jbuf_adds(b, ":");
				json_cell(b, x->cells[r * 2 + 1], C_NUM);
			}
			jbuf_adds(b, "}}");
			continue;
		}
		jbuf_adds(b, ",\"columns\":[");
		for (int i = 0; i < x->ncols; i++) {
			jbuf_adds(b, i ? "," : "");
			jbuf_strz(b, x->cols[i]);
		}
		jbuf_adds(b, "],\"rows\":[");
		for (int r = 0; r < x->nrows; r++) {
			jbuf_adds(b, r ? ",{" : "{");
			for (int i = 0; i < x->ncols; i++) {
				jbuf_printf(b, "%s\"%s\":", i ? "," : "", x->cols[i]);
				json_cell(b, x->cells[r * x->ncols + i], x->flags[i]);
			}
			if (s == S_SESSIONS && trees)
				json_tree(b, &trees[r]);
			jbuf_adds(b, "}");
		}
		jbuf_printf(b, "],\"more\":%" PRId64 "}", x->more);
	}
	jbuf_adds(b, "}}\n");
}

static void
csv_str(struct jbuf *b, const char *s)
{
	ctl_csv_text(b, (const unsigned char *)s, strlen(s));
}

/* Process-tree rows: one node per row, its parent by number. */
static void
csv_trees(struct jbuf *b, const struct rtab *sess, const struct ptree *trees)
{
	static const char *const cols[] = { "session", "node", "parent",
		"depth", "program", "count", "errors", "omitted" };
	int row = 0;
	for (int r = 0; trees && r < sess->nrows; r++) {
		const struct ptree *t = &trees[r];
		if (!ptree_shown(t, 0))
			continue;
		for (int n = 0; n < t->n; n++) {
			const struct pnode *x = &t->nodes[n];
			if (!ptree_shown(t, n))
				continue;
			char v[6][24];
			snprintf(v[0], sizeof v[0], "%d", n);
			snprintf(v[1], sizeof v[1], "%d", x->parent);
			snprintf(v[2], sizeof v[2], "%d", x->depth);
			snprintf(v[3], sizeof v[3], "%" PRId64, x->count);
			snprintf(v[4], sizeof v[4], "%" PRId64, x->errors);
			snprintf(v[5], sizeof v[5], "%" PRId64, x->omitted);
			const char *val[8] = { sess->cells[r * sess->ncols],
				v[0], n ? v[1] : "", v[2],
				x->program ? x->program : "", n ? v[3] : "",
				n ? v[4] : "", v[5] };
			row++;
			for (int i = 0; i < 8; i++) {
				jbuf_printf(b, "process_tree,%d,%s,", row, cols[i]);
				csv_str(b, val[i]);
				jbuf_adds(b, "\r\n");
			}
		}
	}
}

static void
out_csv(struct jbuf *b, const struct rtab *t, int ntabs,
	const struct ptree *trees)
{
	/* Long form, one cell per line: every section in one RFC 4180 table. */
	jbuf_adds(b, "section,row,column,value\r\n");
	for (int s = 0; s < ntabs; s++) {
		const struct rtab *x = &t[s];
		for (int r = 0; r < x->nrows; r++)
			for (int i = 0; i < x->ncols; i++) {
				const char *col = x->kv ? x->cells[r * 2] : x->cols[i];
				const char *c = x->kv ? x->cells[r * 2 + 1] :
						x->cells[r * x->ncols + i];
				if (x->kv && i == 0)
					continue;
				jbuf_printf(b, "%s,%d,", x->name, r + 1);
				csv_str(b, col);
				jbuf_adds(b, ",");
				if (c)
					csv_str(b, c);
				jbuf_adds(b, "\r\n");
			}
		if (x->more)
			jbuf_printf(b, "%s,,more,%" PRId64 "\r\n", x->name, x->more);
		if (s == S_SESSIONS)
			csv_trees(b, x, trees);
	}
}

static void
report_usage(FILE *f)
{
	fprintf(f, "usage: auditctl [-c file] [--db path] [--key path] report "
		"--since time [--until time]\n"
		"       [-f text|markdown|json|csv|html]\n");
}

int
cmd_report(const struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		CTL_WINDOW_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct ctl_filter flt = { 0 };
	enum report_format fmt = R_TEXT;
	struct rtab tabs[S_N];
	struct ptree *trees = NULL;
	struct timeline *tl = NULL;
	int ch, ret = CTL_EXIT_USAGE;

	memset(tabs, 0, sizeof tabs);
	optind = 0;
	while ((ch = getopt_long(argc, argv, "f:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			if (strcmp(optarg, "text") == 0)
				fmt = R_TEXT;
			else if (strcmp(optarg, "markdown") == 0 ||
				 strcmp(optarg, "md") == 0)
				fmt = R_MARKDOWN;
			else if (strcmp(optarg, "json") == 0)
				fmt = R_JSON;
			else if (strcmp(optarg, "csv") == 0)
				fmt = R_CSV;
			else if (strcmp(optarg, "html") == 0)
				fmt = R_HTML;
			else {
				warnx("report: unknown format '%s' (text, "
				      "markdown, json, csv or html)", optarg);
				report_usage(stderr);
				return CTL_EXIT_USAGE;
			}
			break;
		case 'h':
			report_usage(stdout);
			return CTL_EXIT_OK;
		default: {
			int r = ctl_filter_option(&flt, "report", ch, optarg);
			if (r > 0)
				break;
			if (r == 0)
				report_usage(stderr);
			return CTL_EXIT_USAGE;
		}
		}
	}
	if (optind != argc) {
		warnx("report: unexpected argument '%s'", argv[optind]);
		report_usage(stderr);
		return CTL_EXIT_USAGE;
	}
	if (!flt.has_since) {
		warnx("report: --since is required (e.g. --since 24h, --since "
		      "yesterday --until today)");
		report_usage(stderr);
		return CTL_EXIT_USAGE;
	}
	if (!flt.has_until) {
		flt.has_until = true;
		flt.until_us = ctl_now_us();
		timespec_format(flt.until_us, flt.until);
	}
	if (ctl_filter_check(&flt, "report") < 0)
		return CTL_EXIT_USAGE;

	struct jbuf b = { 0 };
	const char *ro_note = NULL;
	sqlite3 *db = ctl_db_open(ctl->db_path, &ro_note);
	if (!db)
		goto out;
	if (ro_note)
		warnx("%s: %s", ctl->db_path, ro_note);
	if (sqlite3_create_function(db, "addr_host", 1,
				    SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
				    addr_host_fn, NULL, NULL) != SQLITE_OK ||
	    ctl_tally_register(db) != SQLITE_OK) {
		warnx("%s", sqlite3_errmsg(db));
		goto out;
	}
	setup_tabs(tabs);
	/* One read transaction: every section sees the same snapshot. */
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		warnx("%s", sqlite3_errmsg(db));
		goto out;
	}
	int chain = chain_section(db, ctl, &tabs[S_CHAIN], flt.since, flt.until);
	if (chain < 0)
		goto out;
	static const struct { int tab; const char *sql; } q[] = {
		{ S_TOTALS, sql_totals }, { S_SESSIONS, sql_sessions },
		{ S_TOOLS, sql_tools }, { S_CHANGES, sql_changes },
		{ S_PEERS, sql_peers }, { S_APPROVALS, sql_approvals },
		{ S_VCOUNT, sql_violation_counts }, { S_VIOL, sql_violations },
		{ S_BLIND, sql_blind },
	};
	for (size_t i = 0; i < sizeof q / sizeof q[0]; i++)
		if (rtab_sql(db, &tabs[q[i].tab], q[i].sql, flt.since,
			     flt.until) < 0)
			goto out;
	if (ptrees_build(db, &tabs[S_SESSIONS], flt.since, flt.until,
			 &trees) < 0)
		goto out;
	if (fmt == R_HTML && timeline_build(db, &tabs[S_SESSIONS], flt.since,
					    flt.until, &tl) < 0)
		goto out;
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	approval_latency(&tabs[S_APPROVALS]);

	char host[256] = "";
	if (db_meta_get(db, "host", host, sizeof host) < 0)
		gethostname(host, sizeof host - 1);
	switch (fmt) {
	case R_TEXT:
		out_text(&b, tabs, S_N, trees, isatty(STDOUT_FILENO), flt.since,
			 flt.until, chain > 0);
		break;
	case R_MARKDOWN:
		out_markdown(&b, tabs, S_N, trees, flt.since, flt.until, host);
		break;
	case R_JSON:
		out_json(&b, tabs, S_N, trees, flt.since, flt.until, host,
			 chain > 0);
		break;
	case R_CSV:
		out_csv(&b, tabs, S_N, trees);
		break;
	case R_HTML: {
		struct report_meta m = { flt.since, flt.until, host, chain > 0 };
		report_html(&b, tabs, trees, tl, &m);
		break;
	}
	}
	if (b.oom) {
		warnx("out of memory");
		goto out;
	}
	fwrite(b.p ? b.p : "", 1, b.len, stdout);
	ret = chain > 0 ? CTL_EXIT_FAIL : CTL_EXIT_OK;
	if (chain > 0)
		warnx("report: the chain is BROKEN (see the chain section)");
out:
	if (fflush(stdout) != 0 || ferror(stdout)) {
		warn("stdout");
		ret = CTL_EXIT_USAGE;
	}
	ptrees_free(trees, tabs[S_SESSIONS].nrows);
	timeline_free(tl);
	for (int i = 0; i < S_N; i++)
		rtab_free(&tabs[i]);
	jbuf_free(&b);
	ctl_db_close(db);
	return ret;
}
