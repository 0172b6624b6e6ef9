/* SPDX-License-Identifier: MIT */
/*
 * cmd_query.c - `auditctl query`: the records matching filters (class,
 * event, pid, session, agent, uid, severity, a target pattern, a time
 * window), as an aligned table or in any export format.  The selection is
 * one parameterised statement (ctl_filter.c) that the time and session
 * indexes serve; rows stream.
 */
#include "cmd.h"

#include <err.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void
query_usage(FILE *f)
{
	fprintf(f, "usage: auditctl [-c file] [--db path] query "
		"[--since time] [--until time] [--class list]\n"
		"       [--event list] [--pid pid] [--session id] "
		"[--agent label] [--uid uid]\n"
		"       [--severity list] [--target regex] [--limit n] "
		"[-f table|ndjson|csv|ocsf]\n");
}

int
cmd_query(const struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		CTL_FILTER_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct ctl_filter flt = { 0 };
	enum ctl_format fmt = CTL_FMT_TABLE;
	int ch, ret = CTL_EXIT_USAGE;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "f:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			if (ctl_format_parse(optarg, true, &fmt) < 0) {
				warnx("query: unknown format '%s' (table, ndjson, "
				      "csv or ocsf)", optarg);
				query_usage(stderr);
				return CTL_EXIT_USAGE;
			}
			break;
		case 'h':
			query_usage(stdout);
			return CTL_EXIT_OK;
		default: {
			int r = ctl_filter_option(&flt, "query", ch, optarg);
			if (r > 0)
				break;
			if (r == 0)
				query_usage(stderr);
			return CTL_EXIT_USAGE;
		}
		}
	}
	if (optind != argc) {
		warnx("query: unexpected argument '%s'", argv[optind]);
		query_usage(stderr);
		return CTL_EXIT_USAGE;
	}
	if (ctl_filter_check(&flt, "query") < 0)
		return CTL_EXIT_USAGE;

	sqlite3_stmt *st = NULL;
	struct ctl_out *o = NULL;
	const char *ro_note = NULL;
	sqlite3 *db = ctl_db_open(ctl->db_path, &ro_note);
	if (!db)
		goto out;
	if (ro_note)
		warnx("%s: %s", ctl->db_path, ro_note);
	if (ctl_filter_prepare(db, &flt, ctl_format_columns(fmt), false, &st) < 0)
		goto out;
	o = ctl_out_new(fmt);
	if (!o) {
		warnx("out of memory");
		goto out;
	}
	static char obuf[1 << 16];
	setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (ctl_out_row(o, st) < 0)
			goto out;
	if (rc != SQLITE_DONE) {
		warnx("%s: %s", ctl->db_path, sqlite3_errmsg(db));
		goto out;
	}
	if (fmt == CTL_FMT_CSV && ctl_out_rows(o) == 0 && ctl_out_csv_header() < 0)
		goto out;
	if (fmt == CTL_FMT_TABLE && ctl_out_rows(o) == 0)
		fprintf(stderr, "auditctl: query: no matching records\n");
	ret = CTL_EXIT_OK;
out:
	if (fflush(stdout) != 0 || ferror(stdout)) {
		warn("stdout");
		ret = CTL_EXIT_USAGE;
	}
	ctl_out_free(o);
	sqlite3_finalize(st);
	ctl_db_close(db);
	return ret;
}
