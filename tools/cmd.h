/* SPDX-License-Identifier: MIT */
/*
 * cmd.h - what auditctl's verbs share: the resolved global options, the
 * verb entry points (one file per verb, cmd_<verb>.c), the exit codes, and
 * the read-only access to the store (ctl_db.c).
 */
#ifndef AUDITSHIM_CMD_H
#define AUDITSHIM_CMD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <sqlite3.h>

struct option;

#include "json.h"
#include "timespec.h"

/* Exit status of every verb (auditctl(1), EXIT STATUS). */
enum {
	CTL_EXIT_OK = 0,	/* done; for verify: the chain is valid */
	CTL_EXIT_FAIL = 1,	/* verification failed */
	CTL_EXIT_USAGE = 2,	/* usage or operational error */
};

/* Global options after the config file has been applied. */
struct ctl {
	const char *db_path;	/* database to read (--db, [writer] database) */
	const char *key_path;	/* MAC key file (--key, [writer] key) */
	const char *socket_path; /* writer socket ([writer] socket) */
	struct conf *conf;	/* the configuration loaded (rules not compiled) */
};

/*
 * A verb: ARGV[0] is the verb's name, options follow.  Returns one of the
 * CTL_EXIT_* codes; diagnostics are already printed (stderr), data went to
 * stdout.
 */
int cmd_verify(const struct ctl *ctl, int argc, char **argv);
int cmd_export(const struct ctl *ctl, int argc, char **argv);
int cmd_classify(const struct ctl *ctl, int argc, char **argv);
int cmd_query(const struct ctl *ctl, int argc, char **argv);
int cmd_tail(const struct ctl *ctl, int argc, char **argv);
int cmd_report(const struct ctl *ctl, int argc, char **argv);
/* approve, deny and request-approval: ARGV[0] says which. */
int cmd_approve(const struct ctl *ctl, int argc, char **argv);

/*
 * Opens the store at PATH read-only (db_open_ro: never creates or writes,
 * needs no write access to the directory) and checks it has a records
 * table.  *NOTE is set as db_open_ro sets it (immutable fallback).  On
 * failure prints "auditctl: PATH: reason" and returns NULL.
 */
sqlite3 *ctl_db_open(const char *path, const char **note);
/* Closes DB; NULL is a no-op. */
void ctl_db_close(sqlite3 *db);

struct db_head;
struct db_verify;
/* Most threads a verification uses. */
#define CTL_VERIFY_MAX_JOBS 8
/*
 * Verifies entries FROM..TO (TO finite, at most the last entry DB's read
 * transaction holds) of the store at PATH, DB open on it (ctl_db_open),
 * with KEY (CHAIN_KEY_LEN bytes; NULL: hashes only) and HEAD (or NULL)
 * as verify_range() does, on JOBS threads (0: one per core for ranges of
 * 50,000 entries or more; at most CTL_VERIFY_MAX_JOBS), each but the
 * first on an extra read-only connection (fewer if one cannot be opened).
 * Returns as verify_range: 0, 1 (V names the first bad entry), or a
 * negative errno (-EIO: a database error, sqlite3_errmsg(DB) may say more).
 */
int ctl_verify_range(const char *path, sqlite3 *db, const unsigned char *key,
		     int jobs, int64_t from, int64_t to,
		     const struct db_head *head, struct db_verify *v);

/*
 * Record selection shared by query, export, report and tail (ctl_filter.c).
 * Every user value reaches SQL as a bound parameter, never as SQL text.
 */
struct ctl_filter {
	bool has_since;		/* --since given */
	bool has_until;		/* --until given */
	int64_t since_us;	/* window start, inclusive (µs since epoch) */
	int64_t until_us;	/* window end, exclusive */
	char since[TIMESPEC_BUFLEN];	/* the same in the store's format */
	char until[TIMESPEC_BUFLEN];	/* the same in the store's format */
	const char *klass;	/* --class: comma-separated list, or NULL */
	const char *event;	/* --event: comma-separated list, or NULL */
	const char *severity;	/* --severity: comma-separated list, or NULL */
	const char *session;	/* --session, or NULL */
	const char *agent;	/* --agent, or NULL */
	const char *target_re;	/* --target: PCRE2 pattern, or NULL */
	bool has_pid;		/* --pid given */
	int64_t pid;		/* its value */
	bool has_uid;		/* --uid given */
	int64_t uid;		/* its value */
	int64_t limit;		/* --limit, 0 for none */
	int64_t after_seq;	/* only seq > this (tail), 0 for none */
};

/* getopt_long values of the filter options (above any short option). */
enum {
	CTL_OPT_SINCE = 1000, CTL_OPT_UNTIL, CTL_OPT_CLASS, CTL_OPT_EVENT,
	CTL_OPT_PID, CTL_OPT_SESSION, CTL_OPT_AGENT, CTL_OPT_UID,
	CTL_OPT_SEVERITY, CTL_OPT_TARGET, CTL_OPT_LIMIT,
};
/* longopts entries for --since and --until, and for all filters. */
#define CTL_WINDOW_LONGOPTS \
	{ "since", required_argument, NULL, CTL_OPT_SINCE }, \
	{ "until", required_argument, NULL, CTL_OPT_UNTIL }
#define CTL_FILTER_LONGOPTS CTL_WINDOW_LONGOPTS, \
	{ "class", required_argument, NULL, CTL_OPT_CLASS }, \
	{ "event", required_argument, NULL, CTL_OPT_EVENT }, \
	{ "pid", required_argument, NULL, CTL_OPT_PID }, \
	{ "session", required_argument, NULL, CTL_OPT_SESSION }, \
	{ "agent", required_argument, NULL, CTL_OPT_AGENT }, \
	{ "uid", required_argument, NULL, CTL_OPT_UID }, \
	{ "severity", required_argument, NULL, CTL_OPT_SEVERITY }, \
	{ "target", required_argument, NULL, CTL_OPT_TARGET }, \
	{ "limit", required_argument, NULL, CTL_OPT_LIMIT }

/* Current time in µs since the epoch (the "now" of time windows). */
int64_t ctl_now_us(void);
/*
 * Applies filter option CH (a CTL_OPT_* value) with argument ARG to F,
 * VERB naming the caller in messages.  Returns 1 if CH was a filter
 * option and was good, 0 if CH is not a filter option, or -1 after
 * printing a usage error (the caller exits CTL_EXIT_USAGE).
 */
int ctl_filter_option(struct ctl_filter *f, const char *verb, int ch,
		      const char *arg);
/* Checks the window (since before until).  0, or -1 after a message. */
int ctl_filter_check(const struct ctl_filter *f, const char *verb);
/*
 * Prepares "SELECT_COLS FROM records WHERE <filters> ORDER BY seq
 * [DESC] [LIMIT ?]" on DB with every value bound, registering the
 * --target matcher on DB.  DESC with a limit selects the last rows (the
 * caller reverses them).  Returns 0, or -1 after printing the error.
 */
int ctl_filter_prepare(sqlite3 *db, const struct ctl_filter *f,
		       const char *select_cols, bool desc, sqlite3_stmt **st);

/*
 * Registers on DB the SQL aggregate tally(K, k1, ..., kK, v1, ..., vM)
 * (ctl_tally.c): groups the rows by (k1..kK) and returns JSON text, one
 * array per group in the order the groups were first met:
 * [k1, ..., kK, count, [min, max, sum] of v1, ...].  min and max follow
 * SQL's min() and max() (NULL ignored; numbers below text below blobs;
 * text compared as bytes); sum adds the integer values (an error if it
 * overflows).  Keys are equal when of the same type and value.  Read the
 * groups back with json_each().  Returns an SQLite result code.
 */
int ctl_tally_register(sqlite3 *db);

/* Output formats of records (ctl_out.c, ctl_ocsf.c). */
enum ctl_format {
	CTL_FMT_TABLE,		/* aligned human-readable table */
	CTL_FMT_NDJSON,		/* one JSON object per line */
	CTL_FMT_CSV,		/* RFC 4180 with a header row */
	CTL_FMT_OCSF,		/* OCSF 1.1 events, one per line */
};
/* Parses a --format value; -1 if unknown. TABLE only if ALLOW_TABLE. */
int ctl_format_parse(const char *s, bool allow_table, enum ctl_format *f);

/* What distinguishes one select-and-print verb (export, query). */
struct ctl_select {
	const char *verb;		/* verb name, for messages */
	void (*usage)(FILE *f);		/* prints the verb's usage line */
	const struct option *longopts;	/* getopt_long table: -f, -h, filters */
	enum ctl_format fmt;		/* default output format */
	bool table_ok;			/* whether -f table is accepted */
	const char *formats;		/* the accepted formats, for errors */
};
/*
 * Parses the verb's options, selects the matching records read-only and
 * prints them as V says.  Returns a CTL_EXIT_* code; diagnostics on stderr.
 */
int ctl_select_run(const struct ctl *ctl, int argc, char **argv,
		   const struct ctl_select *v);
/* The column list a format's rows need (for ctl_filter_prepare). */
const char *ctl_format_columns(enum ctl_format f);

/* A record writer over stdout. Opaque. */
struct ctl_out;
/* New writer of format F; NULL when out of memory. */
struct ctl_out *ctl_out_new(enum ctl_format f);
/*
 * Writes the current row of ST (prepared with ctl_format_columns) to
 * stdout.  Returns 0, or -1 after printing why (out of memory, stdout).
 */
int ctl_out_row(struct ctl_out *o, sqlite3_stmt *st);
/* Frees O; NULL is a no-op. */
void ctl_out_free(struct ctl_out *o);
/* Rows written so far by O. */
int64_t ctl_out_rows(const struct ctl_out *o);
/* Writes the CSV header row alone (an empty selection).  0 or -1. */
int ctl_out_csv_header(void);
/*
 * One human-readable line for the current row of ST (table format, also
 * tail), appended to B without a newline.
 */
void ctl_out_line(struct jbuf *b, sqlite3_stmt *st);
/* Header line of the table format. */
void ctl_out_header(struct jbuf *b);

/* Shared JSON pieces (ctl_out.c). */
/* True if S (N bytes) is one well-formed JSON value opening with OPEN. */
bool ctl_json_is(const unsigned char *s, size_t n, unsigned char open);
/* Appends the lower-case hex of N bytes at P. */
void ctl_add_hex(struct jbuf *b, const unsigned char *p, size_t n);
/* Appends S (N bytes) as one RFC 4180 CSV field, quoted when needed. */
void ctl_csv_text(struct jbuf *b, const unsigned char *s, size_t n);
/* Appends S (N bytes) for a terminal: control and invalid bytes as \xNN. */
void ctl_add_printable(struct jbuf *b, const char *s, size_t n);

/* OCSF: appends the event for the current row of ST (ctl_ocsf.c). */
void ctl_ocsf_row(struct jbuf *b, sqlite3_stmt *st);
/* Extra columns OCSF needs after the RECORDS_SELECT ones. */
extern const char ctl_ocsf_extra_cols[];

#endif
