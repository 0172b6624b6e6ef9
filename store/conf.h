/* SPDX-License-Identifier: MIT */
/*
 * conf.h - the INI configuration (inih) shared by auditshimd and auditctl.
 * Compiled-in defaults apply to every key the file leaves out; command-line
 * options override both.
 */
#ifndef AUDITSHIM_CONF_H
#define AUDITSHIM_CONF_H

#include <stdbool.h>
#include <stddef.h>

struct rules;

/* Parsed configuration. Strings are owned by the struct (conf_free). */
struct conf {
	char *socket;		/* [writer] socket: listening socket path */
	char *database;		/* [writer] database: SQLite file */
	char *key;		/* [writer] key: 32-byte MAC key file */
	unsigned commit_interval_ms;	/* [writer] commit_interval_ms: max group delay (10) */
	unsigned commit_max;		/* [writer] commit_max: max records per group (1000) */
	unsigned disk_full_action;	/* [writer] disk_full_action: enum conf_disk_full (hold) */
	char *disk_full_command;	/* [writer] disk_full_command: sh -c command, or NULL */
	unsigned priority_boost;	/* [writer] priority_boost: nice decrease at start (10) */
	unsigned read_delay_ms;		/* [writer] read_delay_ms: wait after a trickle (5) */
	char *source;		/* file the values came from, or NULL for defaults */
	struct rules *rules;	/* [classify:*], [policy], [policy:*], [redact] (rules.h) */
	bool alert_syslog;	/* [alerts] syslog: send alerts to syslog (yes) */
	char *alert_syslog_socket;	/* [alerts] syslog_socket: datagram socket (/dev/log) */
	char *alert_file;	/* [alerts] file: NDJSON alert file, or NULL */
	char *alert_command;	/* [alerts] command: sh -c command fed the JSON, or NULL */
	unsigned alert_min_severity;	/* [alerts] min_severity: enum rules_severity (low) */
	unsigned alert_rate;	/* [alerts] rate: alerts per second sustained (10) */
	unsigned alert_burst;	/* [alerts] burst: alerts allowed at once (50) */
	unsigned alert_queue;	/* [alerts] queue: alerts waiting for delivery (1024) */
	unsigned alert_summary_s;	/* [alerts] summary_interval: seconds between
					 * "alerts suppressed" summaries (60) */
};

/* What the writer does when the database's disk is full. */
enum conf_disk_full {
	DF_HOLD,	/* keep records in memory, stop reading at the cap, retry */
	DF_EXEC,	/* as hold, and run disk_full_command once per episode */
	DF_STOP,	/* stop the writer (fail-closed shims then refuse) */
};

/* The shipped config/auditshim.ini, compiled in (default_ini.c). */
extern const char conf_default_ini[];
/* The name rules loaded from it carry in messages. */
#define CONF_DEFAULT_NAME "auditshim.ini (built in)"

/* Fills C with the compiled-in defaults. Returns 0 or -ENOMEM. */
int conf_defaults(struct conf *c);
/*
 * Loads PATH over the defaults already in C.  Unknown sections or keys,
 * bad values and syntax errors fail: returns -EINVAL (or -errno when the
 * file cannot be read) and writes "PATH:LINE: reason" into ERR.
 */
int conf_load(struct conf *c, const char *path, char *err, size_t errlen);
/*
 * Completes C after the optional conf_load: every rule family the file did
 * not define ([classify:*], [policy:*], [redact]) is taken from the
 * built-in copy of the shipped file, then all patterns are compiled.
 * Returns 0, or -EINVAL/-ENOMEM with "FILE:LINE: reason" in ERR.
 */
int conf_finish(struct conf *c, char *err, size_t errlen);
/* The first [writer] key whose value differs between A and B, or NULL. */
const char *conf_writer_diff(const struct conf *a, const struct conf *b);
/* Replaces string member *DST with a copy of VAL. Returns 0 or -ENOMEM. */
int conf_set(char **dst, const char *val);
/* Frees the strings; C may be reused after conf_defaults. */
void conf_free(struct conf *c);

#endif
