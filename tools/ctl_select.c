/* SPDX-License-Identifier: MIT */
/*
 * ctl_select.c - the body shared by the verbs that select records and
 * print them (export, query): options, one parameterised statement
 * (ctl_filter.c), rows streamed through one reused output buffer
 * (ctl_out.c).  The verbs differ only in what struct ctl_select says.
 */
#include "cmd.h"

#include <err.h>
#include <getopt.h>
#include <stdio.h>

int
ctl_select_run(const struct ctl *ctl, int argc, char **argv,
	       const struct ctl_select *v)
{
	struct ctl_filter flt = { 0 };
	enum ctl_format fmt = v->fmt;
	int ch, ret = CTL_EXIT_USAGE;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "f:h", v->longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			if (ctl_format_parse(optarg, v->table_ok, &fmt) < 0) {
				warnx("%s: unknown format '%s' (%s)", v->verb,
				      optarg, v->formats);
				v->usage(stderr);
				return CTL_EXIT_USAGE;
			}
			break;
		case 'h':
			v->usage(stdout);
			return CTL_EXIT_OK;
		default: {
			int r = ctl_filter_option(&flt, v->verb, ch, optarg);
			if (r > 0)
				break;
			if (r == 0)
				v->usage(stderr);
			return CTL_EXIT_USAGE;
		}
		}
	}
	if (optind != argc) {
		warnx("%s: unexpected argument '%s'", v->verb, argv[optind]);
		v->usage(stderr);
		return CTL_EXIT_USAGE;
	}
	if (ctl_filter_check(&flt, v->verb) < 0)
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
	if (fmt == CTL_FMT_CSV && ctl_out_rows(o) == 0 && ctl_out_csv_header() < 0)
		goto out;
	if (fmt == CTL_FMT_TABLE && ctl_out_rows(o) == 0)
		fprintf(stderr, "auditctl: %s: no matching records\n", v->verb);
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
