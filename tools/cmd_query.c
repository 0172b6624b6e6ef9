/* SPDX-License-Identifier: MIT */
/*
 * cmd_query.c - `auditctl query`: the records matching filters (class,
 * event, pid, session, agent, uid, severity, a target pattern, a time
 * window), as an aligned table or in any export format.  The selection is
 * one parameterised statement (ctl_filter.c) that the time and session
 * indexes serve; rows stream.
 */
#include "cmd.h"

#include <getopt.h>
#include <stdio.h>

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
	static const struct ctl_select v = {
		.verb = "query", .usage = query_usage, .longopts = longopts,
		.fmt = CTL_FMT_TABLE, .table_ok = true, .formats = "table, ndjson, csv or ocsf",
	};
	return ctl_select_run(ctl, argc, argv, &v);
}
