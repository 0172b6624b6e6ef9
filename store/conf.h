/* SPDX-License-Identifier: MIT */
/*
 * conf.h - the INI configuration (inih) shared by auditshimd and auditctl.
 * Compiled-in defaults apply to every key the file leaves out; command-line
 * options override both.
 */
#ifndef AUDITSHIM_CONF_H
#define AUDITSHIM_CONF_H

#include <stddef.h>

/* Parsed configuration. Strings are owned by the struct (conf_free). */
struct conf {
	char *socket;		/* [writer] socket: listening socket path */
	char *database;		/* [writer] database: SQLite file */
	char *key;		/* [writer] key: 32-byte MAC key file */
	unsigned commit_interval_ms;	/* [writer] commit_interval_ms: max group delay (10) */
	unsigned commit_max;		/* [writer] commit_max: max records per group (1000) */
	char *source;		/* file the values came from, or NULL for defaults */
};

/* Fills C with the compiled-in defaults. Returns 0 or -ENOMEM. */
int conf_defaults(struct conf *c);
/*
 * Loads PATH over the defaults already in C.  Unknown sections or keys,
 * bad values and syntax errors fail: returns -EINVAL (or -errno when the
 * file cannot be read) and writes "PATH:LINE: reason" into ERR.
 */
int conf_load(struct conf *c, const char *path, char *err, size_t errlen);
/* Replaces string member *DST with a copy of VAL. Returns 0 or -ENOMEM. */
int conf_set(char **dst, const char *val);
/* Frees the strings; C may be reused after conf_defaults. */
void conf_free(struct conf *c);

#endif
