/* SPDX-License-Identifier: MIT */
/*
 * cmd_tail.c - `auditctl tail [-f] [-n N]`: the last records as human-
 * readable lines, then (with -f) each new one as the writer commits it.
 * Read-only: it polls the store at a bounded interval with a fresh read
 * transaction each time, never holding a lock between polls.
 */
#include "cmd.h"

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"

/* Most lines -n may ask for (they are held to print oldest first). */
#define TAIL_MAX_LINES 100000
/* Rows read per poll; a longer backlog is drained without sleeping. */
#define TAIL_BATCH 5000

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
tail_usage(FILE *f)
{
	fprintf(f, "usage: auditctl [-c file] [--db path] tail [-f] [-n lines] "
		"[--interval ms]\n"
		"       [--class list] [--event list] [--pid pid] "
		"[--session id] [--agent label]\n"
		"       [--uid uid] [--severity list] [--target regex]\n");
}

/* Prints the rows of ST in order; *LAST becomes the highest seq seen. */
static int
print_rows(sqlite3 *db, sqlite3_stmt *st, int64_t *last, int64_t *count)
{
	struct jbuf b = { 0 };
	int rc, ret = -1;

	*count = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		jbuf_reset(&b);
		ctl_out_line(&b, st);
		jbuf_add(&b, "\n", 1);
		if (b.oom || fwrite(b.p, 1, b.len, stdout) != b.len)
			goto out;
		int64_t seq = sqlite3_column_int64(st, 0);
		if (seq > *last)
			*last = seq;
		(*count)++;
	}
	if (rc != SQLITE_DONE) {
		warnx("%s", sqlite3_errmsg(db));
		goto out;
	}
	ret = 0;
out:
	if (b.oom)
		warnx("out of memory");
	jbuf_free(&b);
	return ret;
}

/* The last N matching rows, oldest first. */
static int
print_last(sqlite3 *db, struct ctl_filter *f, int64_t n, int64_t *last)
{
	sqlite3_stmt *st = NULL;
	char **lines = NULL;
	int64_t got = 0;
	int rc, ret = -1;
	struct jbuf b = { 0 };

	if (n == 0)
		return 0;
	f->limit = n;
	if (ctl_filter_prepare(db, f, ctl_format_columns(CTL_FMT_TABLE), true,
			       &st) < 0)
		goto out;
	lines = calloc((size_t)n, sizeof *lines);
	if (!lines)
		goto oom;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		jbuf_reset(&b);
		ctl_out_line(&b, st);
		if (b.oom || !(lines[got] = strdup(jbuf_text(&b))))
			goto oom;
		got++;
		int64_t seq = sqlite3_column_int64(st, 0);
		if (seq > *last)
			*last = seq;
	}
	if (rc != SQLITE_DONE) {
		warnx("%s", sqlite3_errmsg(db));
		goto out;
	}
	for (int64_t i = got - 1; i >= 0; i--)
		printf("%s\n", lines[i]);
	ret = 0;
	goto out;
oom:
	warnx("out of memory");
out:
	for (int64_t i = 0; lines && i < got; i++)
		free(lines[i]);
	free(lines);
	jbuf_free(&b);
	sqlite3_finalize(st);
	f->limit = 0;
	return ret;
}

int
cmd_tail(const struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ "lines", required_argument, NULL, 'n' },
		{ "interval", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		CTL_FILTER_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct ctl_filter flt = { 0 };
	bool follow = false;
	int64_t nlines = 10, interval_ms = 1000;
	int ch, ret = CTL_EXIT_USAGE;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "fn:h", longopts, NULL)) != -1) {
		char *end;
		switch (ch) {
		case 'f':
			follow = true;
			break;
		case 'n':
		case 'i': {
			errno = 0;
			long long v = strtoll(optarg, &end, 10);
			long long lo = ch == 'n' ? 0 : 50;
			long long hi = ch == 'n' ? TAIL_MAX_LINES : 60000;
			if (*optarg == '\0' || *end != '\0' || errno || v < lo ||
			    v > hi) {
				warnx("tail: %s: '%s' is not a number from %lld "
				      "to %lld", ch == 'n' ? "-n" : "--interval",
				      optarg, lo, hi);
				return CTL_EXIT_USAGE;
			}
			if (ch == 'n')
				nlines = v;
			else
				interval_ms = v;
			break;
		}
		case 'h':
			tail_usage(stdout);
			return CTL_EXIT_OK;
		default: {
			int r = ch == CTL_OPT_LIMIT || ch == CTL_OPT_SINCE ||
				ch == CTL_OPT_UNTIL ? 0 :
				ctl_filter_option(&flt, "tail", ch, optarg);
			if (r > 0)
				break;
			if (r == 0)
				tail_usage(stderr);
			return CTL_EXIT_USAGE;
		}
		}
	}
	if (optind != argc) {
		warnx("tail: unexpected argument '%s'", argv[optind]);
		tail_usage(stderr);
		return CTL_EXIT_USAGE;
	}

	const char *ro_note = NULL;
	sqlite3_stmt *st = NULL;
	sqlite3 *db = ctl_db_open(ctl->db_path, &ro_note);
	if (!db)
		goto out;
	if (ro_note)
		warnx("%s: %s%s", ctl->db_path, ro_note,
		      follow ? "; tail -f sees no new records this way" : "");
	int64_t last = 0;
	if (db_max_seq(db, &last) < 0) {
		warnx("%s: %s", ctl->db_path, sqlite3_errmsg(db));
		goto out;
	}
	if (print_last(db, &flt, nlines, &last) < 0)
		goto out;
	if (fflush(stdout) != 0)
		goto out;
	if (follow) {
		struct sigaction sa = { .sa_handler = on_signal };
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		signal(SIGPIPE, SIG_DFL);
	}
	while (follow && !stop) {
		int64_t n = 0, top = last;
		/*
		 * The top is read before the rows: every record up to it is
		 * in the later snapshot the rows come from, so skipping to it
		 * (past records that do not match) loses nothing.
		 */
		if (db_max_seq(db, &top) < 0) {
			warnx("%s: %s", ctl->db_path, sqlite3_errmsg(db));
			goto out;
		}
		flt.after_seq = last;
		flt.limit = TAIL_BATCH;
		if (ctl_filter_prepare(db, &flt,
				       ctl_format_columns(CTL_FMT_TABLE), false,
				       &st) < 0)
			goto out;
		if (print_rows(db, st, &last, &n) < 0)
			goto out;
		sqlite3_finalize(st);
		st = NULL;
		if (n < TAIL_BATCH && top > last)
			last = top;
		if (fflush(stdout) != 0)
			goto out;
		if (n == TAIL_BATCH)
			continue;
		struct timespec ts = { interval_ms / 1000,
				       (long)(interval_ms % 1000) * 1000000 };
		nanosleep(&ts, NULL);
	}
	ret = CTL_EXIT_OK;
out:
	if (fflush(stdout) != 0 || ferror(stdout)) {
		warn("stdout");
		ret = CTL_EXIT_USAGE;
	}
	sqlite3_finalize(st);
	ctl_db_close(db);
	return ret;
}
