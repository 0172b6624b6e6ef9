/* SPDX-License-Identifier: MIT */
/*
 * report.h - what the parts of `auditctl report` share: the section
 * tables (cmd_report.c fills them from SQL and writes text, markdown,
 * JSON and CSV), the per-session process trees (report_tree.c) and the
 * HTML document with its SVG timeline (report_html.c).
 */
#ifndef AUDITSHIM_REPORT_H
#define AUDITSHIM_REPORT_H

#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "json.h"

/* Most rows a section lists; the others are counted ("N more"). */
#define REPORT_ROWS 200
/* Most columns a section has. */
#define MAXCOLS 10

/* Column flags. */
enum {
	C_NUM = 1,	/* a number: right-aligned, a JSON number */
	C_USER = 2,	/* a uid: shown as "name (uid)" */
};

/* One section: a titled table. */
struct rtab {
	const char *name;		/* key in JSON and CSV, id in HTML */
	const char *title;		/* heading */
	int ncols;			/* columns */
	const char *cols[MAXCOLS];	/* column names */
	int flags[MAXCOLS];		/* C_* per column */
	char **cells;			/* nrows * ncols, NULL for SQL NULL; owned */
	int nrows;			/* rows held */
	int64_t more;			/* rows left off */
	bool kv;			/* two columns: item, value (an object in JSON) */
	const char *empty;		/* what to say when there are no rows */
};

/* The sections in order; chain first (filled by chain_section). */
enum { S_CHAIN, S_TOTALS, S_SESSIONS, S_TOOLS, S_CHANGES, S_PEERS,
       S_APPROVALS, S_VCOUNT, S_VIOL, S_BLIND, S_N };

/* ---- process trees (report_tree.c) ---- */

/* Most nodes a session's tree shows (besides its root); others counted. */
#define TREE_NODES 60
/* Deepest level shown (top-level programs are depth 1). */
#define TREE_DEPTH 10

/*
 * One node: every process that ran PROGRAM under the same parent node.
 * Node 0 of a tree is the session itself (no program); its children are
 * the programs whose parent is not in the session (or not in the window).
 */
struct pnode {
	char *program;		/* exec'd path as recorded; NULL for node 0; owned */
	int parent;		/* index of the parent node, -1 for node 0 */
	int first_child;	/* index of the first child, -1 for none */
	int last_child;		/* index of the last child, -1 for none */
	int next;		/* index of the next sibling, -1 for none */
	int depth;		/* 0 for node 0 */
	int64_t count;		/* processes (exec/spawn attempts, unannounced images) */
	int64_t errors;		/* of those, exec/spawn calls that failed */
	int64_t omitted;	/* processes below this node not shown (limits) */
};

/* The tree of one session. */
struct ptree {
	struct pnode *nodes;	/* nodes[0] is the session; owned */
	int n;			/* nodes used */
	int cap;		/* nodes allocated */
	int64_t evicted;	/* processes the bounded pid table forgot */
};

/*
 * Builds the process tree of each session listed in SESS (the sessions
 * table: column 0 is the session id) from the exec, spawn and image_start
 * records in [SINCE, UNTIL), in one pass over them in time order.
 * *OUT becomes an array of SESS->nrows trees (free with ptrees_free).
 * Memory is bounded: TREE_NODES nodes per tree, and a pid table that
 * forgets the processes not seen for longest when it is full (a later
 * child of one of those is shown at the top level).  Returns 0, or -1
 * after printing the error.
 */
int ptrees_build(sqlite3 *db, const struct rtab *sess, const char *since,
		 const char *until, struct ptree **out);
/* Frees N trees from ptrees_build; NULL is a no-op. */
void ptrees_free(struct ptree *t, int n);
/* True if node I of T is shown: it or something below it has a process. */
bool ptree_shown(const struct ptree *t, int i);

/* ---- HTML (report_html.c) ---- */

/* Activity of the listed sessions over time, in fixed buckets. Opaque. */
struct timeline;

/*
 * Counts records per session (rows of SESS), time bucket and class, and
 * policy violations, in [SINCE, UNTIL) with one aggregate query; the
 * buckets span the first to the last record of those sessions.  *OUT is
 * set (free with timeline_free).  Returns 0, or -1 after printing the
 * error.
 */
int timeline_build(sqlite3 *db, const struct rtab *sess, const char *since,
		   const char *until, struct timeline **out);
/* Frees TL; NULL is a no-op. */
void timeline_free(struct timeline *tl);

/* What the HTML document says besides the sections. */
struct report_meta {
	const char *since;	/* window start, as stored */
	const char *until;	/* window end (exclusive), as stored */
	const char *host;	/* the store's host name */
	bool broken;		/* the chain is broken */
};

/*
 * Appends the whole report as one self-contained HTML document: inline
 * CSS and SVG, no script, no external resource, every value escaped.
 * TABS are the S_N sections, TREES the trees of the sessions table's rows
 * (may be NULL), TL the timeline (may be NULL).
 */
void report_html(struct jbuf *b, const struct rtab *tabs,
		 const struct ptree *trees, const struct timeline *tl,
		 const struct report_meta *m);

#endif
