/* SPDX-License-Identifier: MIT */
/*
 * auditctl.c - the operator CLI of auditshim: global options, the config
 * file, and the verb table.  Each verb lives in its own cmd_<verb>.c.
 * Not the Linux audit system's auditctl(8); see auditctl(1).
 */
#include "cmd.h"

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auditshim_config.h"
#include "conf.h"

/* A verb of the table below. */
struct verb {
	const char *name;	/* as typed */
	int (*fn)(const struct ctl *ctl, int argc, char **argv);
	const char *synopsis;	/* options after the name, for usage() */
	bool needs_key;		/* reads the MAC key */
};

static const struct verb verbs[] = {
	{ "verify", cmd_verify, "[-q] [-j jobs]", true },
	{ "classify", cmd_classify, "--event name [--target path] [--argv arg]... "
	  "[--exe path] [-c file]", false },
	{ "export", cmd_export, "[-f ndjson|csv|ocsf] [--since time] "
	  "[--until time]", false },
	{ "query", cmd_query, "[filters] [--limit n] [-f table|ndjson|csv|ocsf]",
	  false },
	{ "report", cmd_report, "--since time [--until time] "
	  "[-f text|markdown|json|csv|html]", true },
	{ "tail", cmd_tail, "[-f] [-n lines] [--interval ms] [filters]", false },
	{ "approve", cmd_approve, "task [--reason text] [--socket path]", false },
	{ "deny", cmd_approve, "task [--reason text] [--socket path]", false },
	{ "request-approval", cmd_approve, "task [--reason text] "
	  "[--socket path]", false },
};

/* Mirrors SYNOPSIS in docs/man/auditctl.1. */
static void
usage(FILE *f)
{
	fprintf(f, "usage: auditctl [-hV] [-c file] [--db path] [--key path] "
		"verb [options]\n");
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
		fprintf(f, "       auditctl [global options] %s %s\n",
			verbs[i].name, verbs[i].synopsis);
}

static void
version(void)
{
	printf("auditctl (auditshim) %s\n"
	       "This is auditshim's operator tool, not the Linux audit system's "
	       "auditctl(8)\n(usually /sbin/auditctl); where both are installed, "
	       "call this one by its\nfull path, e.g. /usr/local/bin/auditctl.\n",
	       AUDITSHIM_VERSION);
}

/*
 * The Linux audit auditctl's most common options: when one of them is
 * what we were given, the user most likely wanted the other program.
 */
static bool
looks_like_linux_auditctl(int opt)
{
	return opt != 0 && strchr("lwWaAdDsSeRbrfkpF", opt) != NULL;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "db", required_argument, NULL, 'D' },
		{ "key", required_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *opt_config = NULL, *opt_db = NULL, *opt_key = NULL;
	struct conf cf;
	int ch, ret = CTL_EXIT_USAGE;

	/*
	 * One thread: SQLite need not lock the connection around every
	 * sqlite3_column_*() call (a tenth of verify's time otherwise).
	 */
	sqlite3_config(SQLITE_CONFIG_SINGLETHREAD);

	/* '+': stop at the verb; ':': report a missing argument as such. */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:c:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			opt_config = optarg;
			break;
		case 'D':
			opt_db = optarg;
			break;
		case 'K':
			opt_key = optarg;
			break;
		case 'h':
			usage(stdout);
			return CTL_EXIT_OK;
		case 'V':
			version();
			return CTL_EXIT_OK;
		case ':':
			warnx("option %s needs an argument", argv[optind - 1]);
			usage(stderr);
			return CTL_EXIT_USAGE;
		default:
			if (optopt)
				warnx("unknown option -%c%s", optopt,
				      looks_like_linux_auditctl(optopt) ?
				      " (this is auditshim's auditctl; the Linux "
				      "audit one is usually /sbin/auditctl)" : "");
			else
				warnx("unknown option %s", argv[optind - 1]);
			usage(stderr);
			return CTL_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		warnx("no verb given");
		usage(stderr);
		return CTL_EXIT_USAGE;
	}
	const struct verb *v = NULL;
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
		if (strcmp(argv[optind], verbs[i].name) == 0)
			v = &verbs[i];
	if (!v) {
		warnx("unknown verb '%s'", argv[optind]);
		usage(stderr);
		return CTL_EXIT_USAGE;
	}
	opterr = 1;

	/*
	 * Paths: the option, else the config file's [writer] value, else the
	 * compiled-in default (conf_defaults).  An explicit -c must load;
	 * the installed config is read when it exists, unless the options
	 * already say everything the verb needs.
	 */
	if (conf_defaults(&cf) < 0) {
		warnx("out of memory");
		return CTL_EXIT_USAGE;
	}
	const char *cfg = opt_config;
	if (!cfg && !(opt_db && (opt_key || !v->needs_key)) &&
	    access(AUDITSHIM_DEFAULT_CONFIG, F_OK) == 0)
		cfg = AUDITSHIM_DEFAULT_CONFIG;
	if (cfg) {
		char cerr[512];
		int rc = conf_load(&cf, cfg, cerr, sizeof cerr);
		/*
		 * An auditor may not be allowed to read the installed config;
		 * say so and go on with the defaults and the options.  An
		 * explicit -c, or a config that is wrong, stops here.
		 */
		if (rc == -EACCES && !opt_config) {
			warnx("%s; using the compiled-in defaults", cerr);
			conf_free(&cf);
			if (conf_defaults(&cf) < 0) {
				warnx("out of memory");
				return CTL_EXIT_USAGE;
			}
		} else if (rc < 0) {
			warnx("%s", cerr);
			goto out;
		}
	}
	struct ctl ctl = {
		.db_path = opt_db ? opt_db : cf.database,
		.key_path = opt_key ? opt_key : cf.key,
		.socket_path = cf.socket,
		.conf = &cf,
	};
	ret = v->fn(&ctl, argc - optind, argv + optind);
out:
	conf_free(&cf);
	return ret;
}
