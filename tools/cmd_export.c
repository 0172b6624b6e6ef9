/* SPDX-License-Identifier: MIT */
/*
 * cmd_export.c - `auditctl export`: streams every record in seq order (or
 * those of a --since/--until window) as NDJSON, CSV or OCSF, with the
 * field names of docs/auditctl.md.  Memory stays flat: one row buffer,
 * reused (ctl_out.c).  Export does not verify; `auditctl verify` does.
 */
#include "cmd.h"

#include <getopt.h>
#include <stdio.h>

static void
export_usage(FILE *f)
{
	fprintf(f, "usage: auditctl [-c file] [--db path] export "
		"[-f ndjson|csv|ocsf] [--since time] [--until time]\n");
}

int
cmd_export(const struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		CTL_WINDOW_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	static const struct ctl_select v = {
		.verb = "export", .usage = export_usage, .longopts = longopts,
		.fmt = CTL_FMT_NDJSON, .table_ok = false, .formats = "ndjson, csv or ocsf",
	};
	return ctl_select_run(ctl, argc, argv, &v);
}
