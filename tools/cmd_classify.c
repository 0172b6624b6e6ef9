/* SPDX-License-Identifier: MIT */
/*
 * cmd_classify.c - `auditctl classify`: runs the configuration's
 * classification rules and policies over a record described on the
 * command line, so an operator can test a config before deploying it.
 * Reads no store and no key.  docs/policy.md, auditctl(1).
 */
#include "cmd.h"

#include <err.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "json.h"
#include "rules.h"

static void
classify_usage(FILE *f)
{
	fprintf(f, "usage: auditctl [global options] classify --event name "
		"[--target path] [--argv arg]...\n"
		"                [--exe path] [-c file]\n");
}

int
cmd_classify(const struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "event", required_argument, NULL, 'e' },
		{ "target", required_argument, NULL, 't' },
		{ "argv", required_argument, NULL, 'a' },
		{ "exe", required_argument, NULL, 'x' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *event = NULL, *target = NULL, *exe = NULL, *cfile = NULL;
	struct jbuf args = { 0 };
	struct conf own, *cf = ctl->conf;
	bool own_loaded = false, any_arg = false;
	char err[512];
	int ch, ret = CTL_EXIT_USAGE;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'e': event = optarg; break;
		case 't': target = optarg; break;
		case 'x': exe = optarg; break;
		case 'c': cfile = optarg; break;
		case 'a':
			/* Each --argv is one element; rules see them joined by
			 * one space, as the writer does. */
			if (any_arg)
				jbuf_add(&args, " ", 1);
			jbuf_adds(&args, optarg);
			any_arg = true;
			break;
		case 'h':
			classify_usage(stdout);
			return CTL_EXIT_OK;
		default:
			classify_usage(stderr);
			return CTL_EXIT_USAGE;
		}
	}
	if (optind != argc || !event) {
		if (!event)
			warnx("classify: --event is required");
		classify_usage(stderr);
		goto out;
	}
	if (cfile) {
		if (conf_defaults(&own) < 0) {
			warnx("out of memory");
			goto out;
		}
		own_loaded = true;
		if (conf_load(&own, cfile, err, sizeof err) < 0) {
			warnx("%s", err);
			goto out;
		}
		cf = &own;
	}
	if (!cf || conf_finish(cf, err, sizeof err) < 0) {
		warnx("%s", cf ? err : "no configuration");
		goto out;
	}
	if (args.oom) {
		warnx("out of memory");
		goto out;
	}

	struct rules_input in = {
		.event = event, .target = target,
		.target_len = target ? strlen(target) : 0,
		.argv = any_arg ? jbuf_text(&args) : NULL, .argv_len = args.len,
		.exe = exe,
	};
	const struct rule_info *rule, *hits[32];
	in.klass = rules_classify(cf->rules, &in, &rule);
	printf("class\t%s\n", in.klass);
	if (rule)
		printf("rule\t%s\t%s:%u\n", rule->name, rule->file, rule->line);
	else
		printf("rule\t-\t(no rule matched: the default class)\n");
	size_t n = rules_policies(cf->rules, &in, hits, 32);
	enum rules_severity top = RS_INFO;
	for (size_t i = 0; i < n; i++) {
		printf("policy\t%s\t%s\t%s:%u\t%s\n", hits[i]->name,
		       rules_severity_name(hits[i]->severity), hits[i]->file,
		       hits[i]->line, hits[i]->message);
		if (hits[i]->severity > top)
			top = hits[i]->severity;
	}
	printf("severity\t%s\n", rules_severity_name(top));
	ret = CTL_EXIT_OK;
out:
	if (own_loaded)
		conf_free(&own);
	jbuf_free(&args);
	return ret;
}
