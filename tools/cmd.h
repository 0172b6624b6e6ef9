/* SPDX-License-Identifier: MIT */
/*
 * cmd.h - what auditctl's verbs share: the resolved global options, the
 * verb entry points (one file per verb, cmd_<verb>.c), the exit codes, and
 * the read-only access to the store (ctl_db.c).
 */
#ifndef AUDITSHIM_CMD_H
#define AUDITSHIM_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <sqlite3.h>

#include "chain.h"

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
	bool key_explicit;	/* --key given: an unreadable key is an error */
};

/*
 * A verb: ARGV[0] is the verb's name, options follow.  Returns one of the
 * CTL_EXIT_* codes; diagnostics are already printed (stderr), data went to
 * stdout.
 */
int cmd_verify(const struct ctl *ctl, int argc, char **argv);
int cmd_export(const struct ctl *ctl, int argc, char **argv);

/* The usage lines of the whole program (auditctl.c), for verbs' errors. */
void ctl_usage_lines(FILE *f);

/*
 * Opens PATH read-only (never creates, never writes, works without write
 * access to the directory while the writer runs in WAL mode).  On failure
 * prints "auditctl: PATH: reason" and returns NULL.
 */
sqlite3 *ctl_db_open(const char *path);
/* Closes DB; NULL is a no-op. */
void ctl_db_close(sqlite3 *db);

/* The head the writer last reported (<database>.head). */
struct ctl_head {
	int64_t seq;				/* last committed entry, 0 if none */
	unsigned char hash[CHAIN_HASH_LEN];	/* its hash */
	unsigned char mac[CHAIN_HASH_LEN];	/* its MAC */
};

/*
 * Reads the head file at PATH into H.  Returns 0, -ENOENT when there is
 * none, -EINVAL when it is malformed (ERR holds the reason), or another
 * -errno when it cannot be read.
 */
int ctl_head_read(const char *path, struct ctl_head *h, char *err, size_t errlen);

#endif
