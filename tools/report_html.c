/* SPDX-License-Identifier: MIT */
/*
 * report_html.c - `auditctl report -f html`: the report as one HTML
 * document an auditor can file.  Everything is inline (CSS, an SVG
 * timeline), a Content-Security-Policy forbids scripts and every external
 * load, and every value from the store is escaped: argv, paths and host
 * names are written by whoever the agent ran.  The timeline is one
 * aggregate query (records per session, time bucket and class), so its
 * size does not grow with the number of records.
 */
#include "cmd.h"
#include "report.h"

#include <err.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auditshim_config.h"

/* Sessions drawn in the timeline; the others are counted. */
#define TL_ROWS 40
/* Time buckets across the timeline. */
#define TL_BUCKETS 110
/* Record classes, in lane order; the last takes every other class. */
#define TL_CLASSES 4

static const struct {
	const char *name;	/* class */
	const char *colour;	/* fill, also checked by tests/integration */
} tl_class[TL_CLASSES] = {
	{ "tool_call", "#1f77b4" },
	{ "memory_write", "#2ca02c" },
	{ "config_change", "#ff7f0e" },
	{ "other", "#8c8c8c" },
};
#define TL_VIOLATION "#d62728"

/* SVG geometry, in pixels (integers, so marks fill whole pixels). */
enum {
	SVG_W = 1100,		/* whole width */
	PLOT_X = 190,		/* left edge of the plot (labels to its left) */
	BUCKET_W = 8,		/* one bucket */
	PLOT_W = TL_BUCKETS * BUCKET_W,
	PLOT_Y = 44,		/* top of the first row */
	VIOL_H = 5,		/* violation strip above the lanes */
	LANE_H = 8,		/* one class lane */
	ROW_H = VIOL_H + TL_CLASSES * LANE_H + 10,
	TICKS = 6,		/* labelled ticks on the time axis */
};

struct timeline {
	int nrows;		/* sessions drawn: the first rows of the table */
	int64_t more;		/* sessions not drawn */
	int64_t lo_us, hi_us;	/* first and last record of those sessions */
	int64_t *cnt;		/* [row][bucket][class] record counts; owned */
	int64_t *viol;		/* [row][bucket] policy_violation records; owned */
	int64_t max;		/* largest count in cnt */
};

void
timeline_free(struct timeline *tl)
{
	if (!tl)
		return;
	free(tl->cnt);
	free(tl->viol);
	free(tl);
}

/* Records of the drawn sessions: first and last time. */
static const char sql_span[] =
	"SELECT min(time), max(time) FROM records WHERE time >= ?1 AND "
	"time < ?2 AND session IN (SELECT value FROM json_each(?3))";

/* Per session, bucket and class: records, and policy violations. */
static const char sql_buckets[] =
	"SELECT session, CAST((julianday(time) - julianday(?4)) * "
	"86400000000.0 / ?5 AS INTEGER) AS bucket, "
	"CASE class WHEN 'tool_call' THEN 0 WHEN 'memory_write' THEN 1 "
	"WHEN 'config_change' THEN 2 ELSE 3 END AS lane, count(*), "
	"sum(event = 'policy_violation') FROM records "
	"WHERE time >= ?1 AND time < ?2 "
	"AND session IN (SELECT value FROM json_each(?3)) "
	"GROUP BY session, bucket, lane ORDER BY session";

/* Binds ?1 ?2 ?3 (window and the session list). */
static int
bind_window(sqlite3_stmt *st, const char *since, const char *until,
	    const struct jbuf *list)
{
	int rc = sqlite3_bind_text(st, 1, since, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 2, until, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 3, jbuf_text(list), -1,
				       SQLITE_STATIC);
	return rc;
}

int
timeline_build(sqlite3 *db, const struct rtab *sess, const char *since,
	       const char *until, struct timeline **out)
{
	struct timeline *tl = calloc(1, sizeof *tl);
	struct jbuf list = { 0 };
	sqlite3_stmt *st = NULL;
	int rc, ret = -1;

	*out = NULL;
	if (!tl)
		goto oom;
	tl->nrows = sess->nrows < TL_ROWS ? sess->nrows : TL_ROWS;
	tl->more = sess->nrows - tl->nrows + sess->more;
	size_t cells = (size_t)(tl->nrows ? tl->nrows : 1) * TL_BUCKETS;
	tl->cnt = calloc(cells * TL_CLASSES, sizeof *tl->cnt);
	tl->viol = calloc(cells, sizeof *tl->viol);
	if (!tl->cnt || !tl->viol)
		goto oom;
	if (tl->nrows == 0)
		goto done;
	/* The drawn sessions, as a JSON array bound as one parameter. */
	jbuf_adds(&list, "[");
	for (int i = 0; i < tl->nrows; i++) {
		jbuf_adds(&list, i ? "," : "");
		jbuf_strz(&list, sess->cells[i * sess->ncols]);
	}
	jbuf_adds(&list, "]");
	if (list.oom)
		goto oom;

	if (sqlite3_prepare_v2(db, sql_span, -1, &st, NULL) != SQLITE_OK ||
	    bind_window(st, since, until, &list) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		goto sqlerr;
	const char *lo = (const char *)sqlite3_column_text(st, 0);
	const char *hi = (const char *)sqlite3_column_text(st, 1);
	if (!lo || !hi ||
	    timespec_parse_stored(lo, strlen(lo), &tl->lo_us) < 0 ||
	    timespec_parse_stored(hi, strlen(hi), &tl->hi_us) < 0) {
		warnx("report: timeline: a record time is not in the "
		      "store's format");
		goto out;
	}
	char lo_text[TIMESPEC_BUFLEN];
	timespec_format(tl->lo_us, lo_text);
	sqlite3_finalize(st);
	st = NULL;
	/* One bucket more than the span, so the last record fits. */
	int64_t span = tl->hi_us - tl->lo_us;
	double width = (double)(span > 0 ? span : 1) / TL_BUCKETS + 1e-3;

	if (sqlite3_prepare_v2(db, sql_buckets, -1, &st, NULL) != SQLITE_OK ||
	    bind_window(st, since, until, &list) != SQLITE_OK ||
	    sqlite3_bind_text(st, 4, lo_text, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_double(st, 5, width) != SQLITE_OK)
		goto sqlerr;
	int row = -1;
	const char *cur = NULL;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *s = (const char *)sqlite3_column_text(st, 0);
		if (!cur || strcmp(cur, s) != 0) {
			row = -1;
			for (int i = 0; i < tl->nrows && row < 0; i++)
				if (strcmp(sess->cells[i * sess->ncols], s) == 0)
					row = i;
			/* Points into the table: lives as long as TL. */
			cur = row >= 0 ? sess->cells[row * sess->ncols] : NULL;
		}
		if (row < 0)
			continue;
		int64_t bk = sqlite3_column_int64(st, 1);
		int lane = sqlite3_column_int(st, 2);
		if (bk < 0)
			bk = 0;
		if (bk >= TL_BUCKETS)
			bk = TL_BUCKETS - 1;
		if (lane < 0 || lane >= TL_CLASSES)
			lane = TL_CLASSES - 1;
		size_t at = (size_t)row * TL_BUCKETS + (size_t)bk;
		int64_t *c = &tl->cnt[at * TL_CLASSES + (size_t)lane];
		*c += sqlite3_column_int64(st, 3);
		if (*c > tl->max)
			tl->max = *c;
		tl->viol[at] += sqlite3_column_int64(st, 4);
	}
	if (rc != SQLITE_DONE)
		goto sqlerr;
done:
	*out = tl;
	tl = NULL;
	ret = 0;
	goto out;
sqlerr:
	warnx("report: timeline: %s", sqlite3_errmsg(db));
	goto out;
oom:
	warnx("out of memory");
out:
	sqlite3_finalize(st);
	jbuf_free(&list);
	timeline_free(tl);
	return ret;
}

/* ---- escaping ---- */

/* Appends S (N bytes) as HTML text or attribute value: control and
 * invalid bytes shown as \xNN, then & < > " ' as character references. */
static void
html_n(struct jbuf *b, const char *s, size_t n)
{
	struct jbuf tmp = { 0 };
	ctl_add_printable(&tmp, s, n);
	size_t run = 0;
	for (size_t i = 0; i < tmp.len; i++) {
		const char *rep = NULL;
		switch (tmp.p[i]) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		}
		if (rep) {
			jbuf_add(b, tmp.p + run, i - run);
			jbuf_adds(b, rep);
			run = i + 1;
		}
	}
	jbuf_add(b, tmp.p ? tmp.p + run : "", tmp.len - run);
	if (tmp.oom)
		b->oom = true;
	jbuf_free(&tmp);
}

static void
html(struct jbuf *b, const char *s)
{
	html_n(b, s, strlen(s));
}

/* ---- the timeline ---- */

/* A time for a tick label: the precision the span needs. */
static void
tick_text(int64_t us, int64_t span, char *out, size_t len)
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;

	if (!gmtime_r(&t, &tm)) {
		snprintf(out, len, "?");
		return;
	}
	if (span <= 120 * INT64_C(1000000))
		snprintf(out, len, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min,
			 tm.tm_sec, (int)(us % 1000000 / 1000));
	else if (span <= 86400 * INT64_C(1000000))
		snprintf(out, len, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min,
			 tm.tm_sec);
	else
		snprintf(out, len, "%04d-%02d-%02d %02d:%02d", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min);
}

/* Bits needed for V (0 for 0): a log2 scale in integers. */
static int
bits(int64_t v)
{
	int n = 0;
	while (v > 0) {
		n++;
		v >>= 1;
	}
	return n;
}

/*
 * Height of a mark for COUNT records: 3 px up to the lane height, on a
 * log2 scale against the busiest bucket (integers: the same picture on
 * every machine).
 */
static int
mark_h(int64_t count, int64_t max)
{
	int top = bits(max);
	if (top <= 1)
		return LANE_H;
	return 3 + ((bits(count) - 1) * (LANE_H - 3) + (top - 1) / 2) /
		   (top - 1);
}

static void
svg_timeline(struct jbuf *b, const struct timeline *tl,
	     const struct rtab *sess)
{
	int axis_y = PLOT_Y + tl->nrows * ROW_H + 2;
	int h = axis_y + 48;
	int64_t span = tl->hi_us - tl->lo_us;
	char lo[TIMESPEC_BUFLEN], hi[TIMESPEC_BUFLEN];

	timespec_format(tl->lo_us, lo);
	timespec_format(tl->hi_us, hi);
	jbuf_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		    "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
		    "aria-labelledby=\"timeline-title\" "
		    "shape-rendering=\"crispEdges\" font-size=\"11\" "
		    "font-family=\"sans-serif\">\n", SVG_W, h, SVG_W, h);
	jbuf_printf(b, "<title id=\"timeline-title\">Records per session over "
		    "time, %s to %s, by class</title>\n", lo, hi);
	/* Legend. */
	int x = PLOT_X;
	for (int k = 0; k <= TL_CLASSES; k++) {
		const char *name = k < TL_CLASSES ? tl_class[k].name :
				   "policy violation";
		const char *col = k < TL_CLASSES ? tl_class[k].colour : TL_VIOLATION;
		jbuf_printf(b, "<rect class=\"legend\" x=\"%d\" y=\"8\" width=\"12\" "
			    "height=\"12\" fill=\"%s\"/><text x=\"%d\" y=\"18\">"
			    "%s</text>\n", x, col, x + 16, name);
		x += 16 + 7 * (int)strlen(name) + 18;
	}
	/* Rows: label, lanes, marks. */
	for (int r = 0; r < tl->nrows; r++) {
		int y = PLOT_Y + r * ROW_H;
		const char *id = sess->cells[r * sess->ncols];
		const char *agent = sess->cells[r * sess->ncols + 1];
		jbuf_printf(b, "<g class=\"session\"><text x=\"%d\" y=\"%d\" "
			    "text-anchor=\"end\">", PLOT_X - 8,
			    y + VIOL_H + 2 * LANE_H + 4);
		html(b, id);
		if (agent) {	/* cut: the plot is to the right */
			size_t n = strlen(agent);
			jbuf_adds(b, " ");
			html_n(b, agent, n > 18 ? 17 : n);
			if (n > 18)
				jbuf_adds(b, "&#8230;");
		}
		jbuf_adds(b, "</text>\n");
		jbuf_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
			    "fill=\"#f2f2f2\"/>\n", PLOT_X, y + VIOL_H, PLOT_W,
			    TL_CLASSES * LANE_H);
		for (int bk = 0; bk < TL_BUCKETS; bk++) {
			size_t at = (size_t)r * TL_BUCKETS + (size_t)bk;
			int bx = PLOT_X + bk * BUCKET_W;
			for (int k = 0; k < TL_CLASSES; k++) {
				int64_t c = tl->cnt[at * TL_CLASSES + (size_t)k];
				if (!c)
					continue;
				int mh = mark_h(c, tl->max);
				int ly = y + VIOL_H + (k + 1) * LANE_H - mh;
				jbuf_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" "
					    "height=\"%d\" fill=\"%s\"><title>%"
					    PRId64 " %s</title></rect>\n", bx, ly,
					    BUCKET_W - 1, mh, tl_class[k].colour,
					    c, tl_class[k].name);
			}
			if (tl->viol[at])
				jbuf_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" "
					    "height=\"%d\" fill=\"" TL_VIOLATION
					    "\"><title>%" PRId64 " policy "
					    "violation%s</title></rect>\n", bx, y,
					    BUCKET_W - 1, VIOL_H - 1, tl->viol[at],
					    tl->viol[at] == 1 ? "" : "s");
		}
		jbuf_adds(b, "</g>\n");
	}
	/* Axes: time along the bottom, sessions down the left. */
	jbuf_printf(b, "<g class=\"axis\" stroke=\"#444\">"
		    "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>"
		    "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>",
		    PLOT_X, axis_y, PLOT_X + PLOT_W, axis_y,
		    PLOT_X - 1, PLOT_Y - 4, PLOT_X - 1, axis_y);
	for (int i = 0; i < TICKS; i++) {
		int tx = PLOT_X + (int)((int64_t)PLOT_W * i / (TICKS - 1));
		jbuf_printf(b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>",
			    tx, axis_y, tx, axis_y + 5);
	}
	jbuf_adds(b, "</g>\n");
	for (int i = 0; i < TICKS; i++) {
		int tx = PLOT_X + (int)((int64_t)PLOT_W * i / (TICKS - 1));
		char t[40];
		tick_text(tl->lo_us + span * i / (TICKS - 1), span, t, sizeof t);
		jbuf_printf(b, "<text class=\"tick\" x=\"%d\" y=\"%d\" "
			    "text-anchor=\"%s\">%s</text>\n", tx, axis_y + 17,
			    i == 0 ? "start" : i == TICKS - 1 ? "end" : "middle", t);
	}
	jbuf_printf(b, "<text class=\"axis-label\" x=\"%d\" y=\"%d\" "
		    "text-anchor=\"middle\">time (UTC), %.10s to %.10s</text>\n",
		    PLOT_X + PLOT_W / 2, axis_y + 38, lo, hi);
	jbuf_printf(b, "<text class=\"axis-label\" x=\"14\" y=\"%d\" "
		    "text-anchor=\"middle\" transform=\"rotate(-90 14 %d)\">"
		    "session</text>\n", PLOT_Y + tl->nrows * ROW_H / 2,
		    PLOT_Y + tl->nrows * ROW_H / 2);
	jbuf_adds(b, "</svg>\n");
}

/* ---- the document ---- */

static const char css[] =
	"body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1b1b1b;"
	"background:#fff}\n"
	"h1{font-size:1.6em;margin:0 0 .3em}\n"
	"h2{font-size:1.25em;border-bottom:2px solid #ddd;padding-bottom:2px;"
	"margin-top:1.6em}\n"
	"h3{font-size:1.05em;margin:1em 0 .3em}\n"
	"dl.meta{display:grid;grid-template-columns:max-content auto;"
	"gap:2px 14px;margin:0}\n"
	"dl.meta dt{font-weight:600}dl.meta dd{margin:0}\n"
	"nav ul{list-style:none;padding:0;display:flex;flex-wrap:wrap;"
	"gap:4px 14px}\n"
	"table{border-collapse:collapse;margin:.4em 0}\n"
	"th,td{border:1px solid #ccc;padding:2px 7px;text-align:left;"
	"vertical-align:top}\n"
	"th{background:#f4f4f4;white-space:nowrap}\n"
	"td{white-space:nowrap}\n"
	"td.long{white-space:normal;min-width:16em;max-width:48em;"
	"overflow-wrap:anywhere}\n"
	".num{text-align:right;font-variant-numeric:tabular-nums}\n"
	".null{color:#999}\n"
	".empty,.more{color:#555;font-style:italic}\n"
	".intact{color:#1a7f37;font-weight:700}\n"
	".broken{color:#c00;font-weight:700}\n"
	"ul.ptree,ul.ptree ul{list-style:none;margin:0;padding-left:1.4em}\n"
	"ul.ptree{padding-left:.4em;font-family:ui-monospace,monospace;"
	"font-size:13px}\n"
	"ul.ptree li::before{content:\"\\2514\\2500 \";color:#999}\n"
	".count{color:#555}.failed{color:#c00}\n"
	"svg{max-width:100%;height:auto}\n"
	"svg text{fill:#1b1b1b}\n"
	"@media print{nav{display:none}section{break-inside:avoid-page}}\n";

/* Cells longer than this may break anywhere (argv, paths). */
#define CELL_LONG 40

/* One cell; numbers right-aligned, NULL shown as a dash. */
static void
html_cell(struct jbuf *b, const char *c, int flags, bool th)
{
	const char *tag = th ? "th" : "td";
	const char *cls = (flags & C_NUM) ? " class=\"num\"" :
			  c && !th && strlen(c) > CELL_LONG ? " class=\"long\"" : "";
	jbuf_printf(b, "<%s%s>", tag, cls);
	if (c)
		html(b, c);
	else
		jbuf_adds(b, "<span class=\"null\">-</span>");
	jbuf_printf(b, "</%s>", tag);
}

static void
html_table(struct jbuf *b, const struct rtab *x, bool broken)
{
	if (x->nrows == 0) {
		jbuf_adds(b, "<p class=\"empty\">");
		html(b, x->empty);
		jbuf_adds(b, ".</p>\n");
		return;
	}
	if (x->kv) {
		jbuf_adds(b, "<table class=\"kv\">\n");
		for (int r = 0; r < x->nrows; r++) {
			const char *k = x->cells[r * 2], *v = x->cells[r * 2 + 1];
			jbuf_adds(b, "<tr><th>");
			html(b, k);
			jbuf_adds(b, "</th><td>");
			bool st = strcmp(k, "status") == 0;
			if (st)
				jbuf_printf(b, "<span class=\"%s\">",
					    broken ? "broken" : "intact");
			html(b, v ? v : "-");
			jbuf_adds(b, st ? "</span></td></tr>\n" : "</td></tr>\n");
		}
		jbuf_adds(b, "</table>\n");
		return;
	}
	jbuf_adds(b, "<table>\n<thead><tr>");
	for (int i = 0; i < x->ncols; i++)
		html_cell(b, x->cols[i], x->flags[i], true);
	jbuf_adds(b, "</tr></thead>\n<tbody>\n");
	for (int r = 0; r < x->nrows; r++) {
		jbuf_adds(b, "<tr>");
		for (int i = 0; i < x->ncols; i++)
			html_cell(b, x->cells[r * x->ncols + i], x->flags[i], false);
		jbuf_adds(b, "</tr>\n");
	}
	jbuf_adds(b, "</tbody>\n</table>\n");
	if (x->more)
		jbuf_printf(b, "<p class=\"more\">... and %" PRId64 " more.</p>\n",
			    x->more);
}

static void
html_omitted(struct jbuf *b, int64_t n)
{
	jbuf_printf(b, "<li class=\"more\">... %" PRId64 " more process%s "
		    "(tree limits)</li>\n", n, n == 1 ? "" : "es");
}

/* The children of node I as list items. */
static void
html_nodes(struct jbuf *b, const struct ptree *t, int i)
{
	for (int c = t->nodes[i].first_child; c >= 0; c = t->nodes[c].next) {
		const struct pnode *x = &t->nodes[c];
		if (!ptree_shown(t, c))
			continue;
		jbuf_adds(b, "<li><code>");
		html(b, x->program);
		jbuf_printf(b, "</code> <span class=\"count\">&#215;%" PRId64
			    "</span>", x->count);
		if (x->errors)
			jbuf_printf(b, " <span class=\"failed\">%" PRId64
				    " failed</span>", x->errors);
		if (x->first_child >= 0 || x->omitted) {
			jbuf_adds(b, "\n<ul>\n");
			html_nodes(b, t, c);
			if (x->omitted)
				html_omitted(b, x->omitted);
			jbuf_adds(b, "</ul>");
		}
		jbuf_adds(b, "</li>\n");
	}
}

static void
html_trees(struct jbuf *b, const struct rtab *sess, const struct ptree *trees)
{
	bool any = false;
	for (int r = 0; r < sess->nrows; r++) {
		const struct ptree *t = &trees[r];
		if (!ptree_shown(t, 0))
			continue;
		if (!any)
			jbuf_adds(b, "<h3 id=\"process_trees\">Process trees "
				  "(programs run under their parent, with "
				  "counts)</h3>\n");
		any = true;
		const char *id = sess->cells[r * sess->ncols];
		const char *agent = sess->cells[r * sess->ncols + 1];
		jbuf_adds(b, "<div class=\"ptree-session\"><h4>");
		html(b, id);
		if (agent) {
			jbuf_adds(b, " <span class=\"count\">(");
			html(b, agent);
			jbuf_adds(b, ")</span>");
		}
		jbuf_adds(b, "</h4>\n<ul class=\"ptree\">\n");
		html_nodes(b, t, 0);
		if (t->nodes[0].omitted)
			html_omitted(b, t->nodes[0].omitted);
		jbuf_adds(b, "</ul>\n");
		if (t->evicted)
			jbuf_printf(b, "<p class=\"more\">%" PRId64 " processes "
				    "were forgotten to bound memory: a later child "
				    "of one is shown at the top level.</p>\n",
				    t->evicted);
		jbuf_adds(b, "</div>\n");
	}
}

static void
html_section_open(struct jbuf *b, const char *id, const char *title)
{
	jbuf_printf(b, "<section id=\"%s\">\n<h2>", id);
	html(b, title);
	jbuf_adds(b, "</h2>\n");
}

void
report_html(struct jbuf *b, const struct rtab *tabs,
	    const struct ptree *trees, const struct timeline *tl,
	    const struct report_meta *m)
{
	jbuf_adds(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
		  "<meta charset=\"utf-8\">\n"
		  "<meta http-equiv=\"Content-Security-Policy\" content=\""
		  "default-src 'none'; style-src 'unsafe-inline'\">\n"
		  "<meta name=\"viewport\" content=\"width=device-width, "
		  "initial-scale=1\">\n"
		  "<meta name=\"generator\" content=\"auditctl (auditshim) "
		  AUDITSHIM_VERSION "\">\n<title>auditshim report: ");
	html(b, m->host);
	jbuf_adds(b, ", ");
	html(b, m->since);
	jbuf_adds(b, " to ");
	html(b, m->until);
	jbuf_printf(b, "</title>\n<style>\n%s</style>\n</head>\n<body>\n", css);

	jbuf_adds(b, "<header id=\"summary\">\n<h1>auditshim report</h1>\n"
		  "<dl class=\"meta\">\n<dt>Window</dt><dd>");
	html(b, m->since);
	jbuf_adds(b, " to ");
	html(b, m->until);
	jbuf_adds(b, " (end exclusive)</dd>\n<dt>Host</dt><dd>");
	html(b, m->host);
	jbuf_printf(b, "</dd>\n<dt>Chain</dt><dd><span class=\"%s\">%s</span>"
		    "</dd>\n<dt>Generated by</dt><dd>auditctl (auditshim) "
		    AUDITSHIM_VERSION "</dd>\n</dl>\n</header>\n",
		    m->broken ? "broken" : "intact",
		    m->broken ? "BROKEN (see Chain status)" : "intact");

	jbuf_adds(b, "<nav>\n<ul>\n");
	for (int s = 0; s < S_N; s++) {
		jbuf_printf(b, "<li><a href=\"#%s\">", tabs[s].name);
		html(b, tabs[s].title);
		jbuf_adds(b, "</a></li>\n");
		if (s == S_TOTALS)
			jbuf_adds(b, "<li><a href=\"#timeline\">Activity "
				  "timeline</a></li>\n");
	}
	jbuf_adds(b, "</ul>\n</nav>\n");

	for (int s = 0; s < S_N; s++) {
		const struct rtab *x = &tabs[s];
		html_section_open(b, x->name, x->title);
		html_table(b, x, m->broken);
		if (s == S_SESSIONS && trees)
			html_trees(b, x, trees);
		jbuf_adds(b, "</section>\n");
		if (s != S_TOTALS)
			continue;
		html_section_open(b, "timeline", "Activity timeline");
		if (!tl || tl->nrows == 0) {
			jbuf_adds(b, "<p class=\"empty\">no sessions in the "
				  "window.</p>\n");
		} else {
			jbuf_adds(b, "<p>Records per session over time: one row "
				  "per session, one lane per class, a mark per "
				  "time bucket (taller for more records); policy "
				  "violations in red above the lanes.</p>\n");
			svg_timeline(b, tl, &tabs[S_SESSIONS]);
			if (tl->more)
				jbuf_printf(b, "<p class=\"more\">... and %"
					    PRId64 " more sessions not drawn."
					    "</p>\n", tl->more);
		}
		jbuf_adds(b, "</section>\n");
	}
	jbuf_adds(b, "</body>\n</html>\n");
}
