/* SPDX-License-Identifier: MIT */
/*
 * ctl_db.c - auditctl's read-only view of the store: db_open_ro() (db.h)
 * plus the reporting a CLI needs, and a check that the file is a store.
 */
#include "cmd.h"

#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "db.h"

sqlite3 *
ctl_db_open(const char *path, const char **note)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char err[512];

	if (db_open_ro(path, &db, note, err, sizeof err) < 0) {
		warnx("%s", err);
		return NULL;
	}
	sqlite3_extended_result_codes(db, 1);
	/* The writer may hold the lock briefly during a checkpoint. */
	sqlite3_busy_timeout(db, 10000);
	/*
	 * Report "not a store" against the path before a verb prints
	 * anything, rather than as "no such table" later.
	 */
	int rc = sqlite3_prepare_v2(db,
		"SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'records'",
		-1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		warnx("%s: not an auditshim store (no records table)", path);
	else if (rc != SQLITE_ROW)
		warnx("%s: %s", path, sqlite3_errmsg(db));
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW) {
		db_close(db);
		return NULL;
	}
	/*
	 * Immutable with no WAL, or an empty one (the writer closed
	 * cleanly): nothing is hidden, so there is nothing to say.
	 */
	if (note && *note) {
		struct stat sb;
		char *wal = NULL;
		if (asprintf(&wal, "%s-wal", path) >= 0 &&
		    (stat(wal, &sb) < 0 || sb.st_size == 0))
			*note = NULL;
		free(wal);
	}
	return db;
}

void
ctl_db_close(sqlite3 *db)
{
	db_close(db);
}
