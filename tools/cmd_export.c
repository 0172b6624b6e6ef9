/* SPDX-License-Identifier: MIT */
/*
 * cmd_export.c - `auditctl export`: streams every record in seq order (or
 * those of a --since/--until window) as NDJSON, CSV or OCSF, with the
 * field names of docs/auditctl.md.  Memory stays flat: one row buffer,
 * reused (ctl_out.c).  Export does not verify; `auditctl verify` does.
 */
#include "cmd.h"

#include <err.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

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
	struct ctl_filter flt = { 0 };
	enum ctl_format fmt = CTL_FMT_NDJSON;
	int ch, ret = CTL_EXIT_USAGE;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "f:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			if (ctl_format_parse(optarg, false, &fmt) < 0) {
				warnx("export: unknown format '%s' (ndjson, csv "
				      "or ocsf)", optarg);
				export_usage(stderr);
				return CTL_EXIT_USAGE;
			}
			break;
		case 'h':
			export_usage(stdout);
			return CTL_EXIT_OK;
		default: {
			int r = ctl_filter_option(&flt, "export", ch, optarg);
			if (r > 0)
				break;
			if (r == 0)
				export_usage(stderr);
			return CTL_EXIT_USAGE;
		}
		}
	}
	if (optind != argc) {
		warnx("export: unexpected argument '%s'", argv[optind]);
		export_usage(stderr);
		return CTL_EXIT_USAGE;
	}
	if (ctl_filter_check(&flt, "export") < 0)
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
	/* CSV always has its header row, even with nothing selected. */
	if (fmt == CTL_FMT_CSV && !ctl_out_rows(o) &&
	    ctl_out_csv_header() < 0)
		goto out;
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
