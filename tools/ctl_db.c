/* SPDX-License-Identifier: MIT */
/*
 * ctl_db.c - auditctl's read-only view of the store: opening the SQLite
 * database without ever writing to it, and reading the head file the
 * writer replaces after each commit (docs/record-format.md, "Head").
 */
#include "cmd.h"

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Prints "auditctl: PATH: sqlite message (system error)" for DB. */
static void
db_warn(sqlite3 *db, const char *path, int rc)
{
	const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
	int sys = db ? sqlite3_system_errno(db) : 0;

	if (sys != 0)
		warnx("%s: %s (%s)", path, msg, strerror(sys));
	else
		warnx("%s: %s", path, msg);
}

sqlite3 *
ctl_db_open(const char *path)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc;

	/*
	 * READONLY: SQLite then never creates the file, the -wal or the
	 * -shm.  While the writer runs, the -wal and -shm exist and SQLite
	 * maps the -shm read-only when it cannot write it; when the writer
	 * has closed cleanly there is no -wal and the file reads like a
	 * rollback-journal database.  No URI parsing: a path is a path.
	 */
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	sqlite3_extended_result_codes(db, 1);
	/* The writer may hold the lock briefly during a checkpoint. */
	sqlite3_busy_timeout(db, 10000);
	/*
	 * Touch the schema now, so "not a database", a missing records
	 * table or an unreadable -wal/-shm are reported against the path
	 * before a verb starts printing.
	 */
	rc = sqlite3_prepare_v2(db,
		"SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'records'",
		-1, &st, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		warnx("%s: not an auditshim store (no records table)", path);
		goto fail_quiet;
	}
	if (rc != SQLITE_ROW)
		goto fail;
	sqlite3_finalize(st);
	/* Large sequential reads: let SQLite map the file. */
	sqlite3_exec(db, "PRAGMA mmap_size = 268435456", NULL, NULL, NULL);
	return db;
fail:
	db_warn(db, path, rc);
fail_quiet:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return NULL;
}

void
ctl_db_close(sqlite3 *db)
{
	sqlite3_close(db);
}

/* Parses exactly 64 lower- or upper-case hex digits into OUT. */
static int
parse_hex32(const char *s, unsigned char out[CHAIN_HASH_LEN])
{
	for (size_t i = 0; i < 2 * CHAIN_HASH_LEN; i++) {
		int c = (unsigned char)s[i], v;
		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v = c - 'A' + 10;
		else
			return -1;
		if (i % 2 == 0)
			out[i / 2] = (unsigned char)(v << 4);
		else
			out[i / 2] |= (unsigned char)v;
	}
	return s[2 * CHAIN_HASH_LEN] == '\0' ? 0 : -1;
}

int
ctl_head_read(const char *path, struct ctl_head *h, char *err, size_t errlen)
{
	/* The file is four short lines; anything much longer is not a head. */
	char buf[512];
	size_t len = 0;
	int rc = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out_close;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == sizeof buf - 1) {
			snprintf(err, errlen, "too long to be a head file");
			rc = -EINVAL;
			goto out_close;
		}
	}
	buf[len] = '\0';

	/* Split into lines; the last one may lack its newline. */
	char *lines[5] = { 0 };
	int nl = 0;
	char *p = buf;
	while (*p && nl < 5) {
		lines[nl++] = p;
		char *e = strchr(p, '\n');
		if (!e)
			break;
		*e = '\0';
		p = e + 1;
	}
	if (nl != 4 || strcmp(lines[0], "auditshim-head v1") != 0) {
		snprintf(err, errlen, "not an auditshim-head v1 file");
		rc = -EINVAL;
		goto out_close;
	}
	if (strncmp(lines[1], "seq ", 4) != 0 || lines[1][4] < '0' ||
	    lines[1][4] > '9') {
		snprintf(err, errlen, "line 2: expected \"seq N\"");
		rc = -EINVAL;
		goto out_close;
	}
	char *end;
	errno = 0;
	unsigned long long v = strtoull(lines[1] + 4, &end, 10);
	if (errno || *end || v > INT64_MAX) {
		snprintf(err, errlen, "line 2: bad sequence number");
		rc = -EINVAL;
		goto out_close;
	}
	h->seq = (int64_t)v;
	if (strncmp(lines[2], "hash ", 5) != 0 ||
	    parse_hex32(lines[2] + 5, h->hash) < 0) {
		snprintf(err, errlen, "line 3: expected \"hash <64 hex digits>\"");
		rc = -EINVAL;
		goto out_close;
	}
	if (strncmp(lines[3], "mac ", 4) != 0 ||
	    parse_hex32(lines[3] + 4, h->mac) < 0) {
		snprintf(err, errlen, "line 4: expected \"mac <64 hex digits>\"");
		rc = -EINVAL;
		goto out_close;
	}
out_close:
	close(fd);
	return rc;
}
