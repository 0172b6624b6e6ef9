/* SPDX-License-Identifier: MIT */
/*
 * cmd.h - what auditctl's verbs share: the resolved global options, the
 * verb entry points (one file per verb, cmd_<verb>.c), the exit codes, and
 * the read-only access to the store (ctl_db.c).
 */
#ifndef AUDITSHIM_CMD_H
#define AUDITSHIM_CMD_H

#include <stdio.h>

#include <sqlite3.h>

/* Exit status of every verb (auditctl(1), EXIT STATUS). */
enum {
	CTL_EXIT_OK = 0,	/* done; for verify: the chain is valid */
	CTL_EXIT_FAIL = 1,	/* verification failed */
	CTL_EXIT_USAGE = 2,	/* usage or operational error */
};

/* Global options after the config file has been applied. */
struct ctl {
	const char *db_path;	/* database to read (--db, [writer] database) */
	const char *key_path;	/* MAC key file (--key, [writer] key) */
};

/*
 * A verb: ARGV[0] is the verb's name, options follow.  Returns one of the
 * CTL_EXIT_* codes; diagnostics are already printed (stderr), data went to
 * stdout.
 */
int cmd_verify(const struct ctl *ctl, int argc, char **argv);
int cmd_export(const struct ctl *ctl, int argc, char **argv);

/*
 * Opens the store at PATH read-only (db_open_ro: never creates or writes,
 * needs no write access to the directory) and checks it has a records
 * table.  *NOTE is set as db_open_ro sets it (immutable fallback).  On
 * failure prints "auditctl: PATH: reason" and returns NULL.
 */
sqlite3 *ctl_db_open(const char *path, const char **note);
/* Closes DB; NULL is a no-op. */
void ctl_db_close(sqlite3 *db);

#endif
