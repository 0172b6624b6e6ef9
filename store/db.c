/* SPDX-License-Identifier: MIT */
/*
 * db.c - opening the SQLite store, the head file and range verification
 * (db.h).  SQLite result codes are turned into -EIO here, with the SQLite
 * message copied into the caller's buffer.
 */
#include "db.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "records.h"

#define HEAD_MAGIC "auditshim-head v1"

int
db_make_parents(const char *path, mode_t last_mode)
{
	char *dir = strdup(path);
	int rc = 0;

	if (!dir)
		return -ENOMEM;
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		goto out;
	*slash = '\0';
	for (char *p = dir + 1; ; p++) {
		bool last = *p == '\0';
		if (*p != '/' && !last)
			continue;
		*p = '\0';
		mode_t mode = last ? last_mode : 0755;
		if (mkdir(dir, mode) == 0) {
			/* The umask (077 in the writer) must not narrow it. */
			if (chmod(dir, mode) < 0) {
				rc = -errno;
				goto out;
			}
		} else if (errno != EEXIST) {
			rc = -errno;
			goto out;
		}
		if (last)
			break;
		*p = '/';
	}
out:
	free(dir);
	return rc;
}

static int
sql_fail(sqlite3 *db, const char *path, const char *what, char *err,
	 size_t errlen)
{
	snprintf(err, errlen, "%s: %s: %s", path, what,
		 db ? sqlite3_errmsg(db) : "out of memory");
	return -EIO;
}

/* Percent-encodes PATH into a "file:" URI with QUERY appended. */
static char *
file_uri(const char *path, const char *query)
{
	size_t n = strlen(path);
	char *u = malloc(5 + 3 * n + strlen(query) + 2);
	char *o = u;

	if (!u)
		return NULL;
	o += sprintf(o, "file:");
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		if (*p == '%' || *p == '?' || *p == '#' || *p < 0x20 || *p >= 0x7f)
			o += sprintf(o, "%%%02X", *p);
		else
			*o++ = (char)*p;
	}
	sprintf(o, "?%s", query);
	return u;
}

void
db_close(sqlite3 *db)
{
	if (db)
		sqlite3_close_v2(db);
}

int
db_meta_get(sqlite3 *db, const char *key, char *buf, size_t len)
{
	sqlite3_stmt *st = NULL;
	int rc = -EIO;

	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?", -1,
			       &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	int s = sqlite3_step(st);
	if (s == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(st, 0);
		snprintf(buf, len, "%s", v ? v : "");
		rc = 0;
	} else if (s == SQLITE_DONE) {
		rc = -ENOENT;
	}
	sqlite3_finalize(st);
	return rc;
}

/* Runs one two-parameter meta statement SQL with KEY and VALUE. */
static int
meta_write(sqlite3 *db, const char *sql, const char *key, const char *value)
{
	sqlite3_stmt *st = NULL;
	int rc = -EIO;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_DONE)
		rc = 0;
	sqlite3_finalize(st);
	return rc;
}

int
db_meta_set(sqlite3 *db, const char *key, const char *value)
{
	return meta_write(db, "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
			  key, value);
}

/* Inserts meta KEY = VALUE unless present. */
static int
meta_default(sqlite3 *db, const char *key, const char *value)
{
	return meta_write(db, "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
			  key, value);
}

/* Takes the writer's exclusive lock "<PATH>.lock". */
static int
take_lock(const char *path, int *lockfd, char *err, size_t errlen)
{
	char *lp = malloc(strlen(path) + 6);
	int rc = 0;

	if (!lp)
		return -ENOMEM;
	sprintf(lp, "%s.lock", path);
	int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", lp, strerror(errno));
		goto out;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		if (rc == -EBUSY)
			snprintf(err, errlen, "%s: another writer holds the database",
				 path);
		else
			snprintf(err, errlen, "%s: %s", lp, strerror(errno));
		close(fd);
		goto out;
	}
	*lockfd = fd;
out:
	free(lp);
	return rc;
}

int
db_open_rw(const char *path, const char *host, sqlite3 **out, int *lockfd,
	   char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	char buf[64];
	int rc;

	*out = NULL;
	*lockfd = -1;
	rc = db_make_parents(path, 0700);
	if (rc < 0) {
		snprintf(err, errlen, "%s: cannot create its directory: %s", path,
			 strerror(-rc));
		return rc;
	}
	/* Create the file ourselves so it is 0600 whatever the umask;
	 * SQLite gives -wal and -shm the mode of the database file. */
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	struct stat st;
	if (fstat(fd, &st) == 0 && (st.st_mode & 077) && st.st_uid == geteuid())
		(void)fchmod(fd, st.st_mode & 0700);
	close(fd);
	rc = take_lock(path, lockfd, err, errlen);
	if (rc < 0)
		return rc;

	/*
	 * NOMUTEX: the writer's one connection is used by one thread at a
	 * time (the main thread until the commit thread starts, then that
	 * thread until it is joined), so SQLite's per-call connection mutex
	 * is pure cost on the commit path.
	 */
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW |
			    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		rc = sql_fail(db, path, "cannot open", err, errlen);
		goto fail;
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, 2000);

	sqlite3_stmt *q = NULL;
	if (sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &q, NULL) != SQLITE_OK ||
	    sqlite3_step(q) != SQLITE_ROW ||
	    strcmp((const char *)sqlite3_column_text(q, 0), "wal") != 0) {
		sqlite3_finalize(q);
		rc = sql_fail(db, path, "cannot switch to WAL mode", err, errlen);
		goto fail;
	}
	sqlite3_finalize(q);
	/*
	 * A commit group's dirty pages must fit the page cache, or SQLite
	 * spills them mid-transaction (writes them twice).  16 MiB holds a
	 * group of several ten thousand records with their index pages.
	 * The WAL stays near 32 MiB (store/ckpt.c) unless the disk falls
	 * behind; the file is cut back to 64 MiB when it next rewinds.
	 */
	if (sqlite3_exec(db, "PRAGMA synchronous=FULL; PRAGMA cache_size=-16384; "
			 "PRAGMA journal_size_limit=67108864",
			 NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, records_schema_sql, NULL, NULL, NULL) != SQLITE_OK) {
		rc = sql_fail(db, path, "cannot create the schema", err, errlen);
		goto fail;
	}


	char now[32];
	fmt_time_ns(now_realtime_ns(), now);
	snprintf(buf, sizeof buf, "%d", RECORDS_SCHEMA_VERSION);
	if (meta_default(db, "schema_version", buf) < 0 ||
	    meta_default(db, "host", host) < 0 ||
	    meta_default(db, "created", now) < 0) {
		rc = sql_fail(db, path, "cannot write meta rows", err, errlen);
		goto fail;
	}
	char have[64];
	if (db_meta_get(db, "schema_version", have, sizeof have) < 0) {
		rc = sql_fail(db, path, "cannot read the schema version", err, errlen);
		goto fail;
	}
	if (strcmp(have, buf) != 0) {
		snprintf(err, errlen, "%s: schema version %s, this writer knows %s",
			 path, have, buf);
		rc = -EINVAL;
		goto fail;
	}
	/* After the version check: never reshape a store we do not know. */
	if (sqlite3_exec(db, records_index_sql, NULL, NULL, NULL) != SQLITE_OK) {
		rc = sql_fail(db, path, "cannot create the indexes", err, errlen);
		goto fail;
	}
	*out = db;
	return 0;
fail:
	db_close(db);
	close(*lockfd);
	*lockfd = -1;
	return rc;
}

/* A trivial read that makes SQLite open the WAL index. */
static int
probe_read(sqlite3 *db)
{
	return sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", NULL, NULL,
			    NULL);
}

int
db_open_ro(const char *path, sqlite3 **out, const char **note, char *err,
	   size_t errlen)
{
	sqlite3 *db = NULL;
	const int flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_URI |
			  SQLITE_OPEN_NOFOLLOW;
	char *uri = NULL;
	int rc = 0;

	*out = NULL;
	if (note)
		*note = NULL;
	/* Fail early and plainly on a missing or unreadable file: SQLite's
	 * "unable to open database file" says neither which nor why. */
	if (access(path, R_OK) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	uri = file_uri(path, "mode=ro");
	if (!uri)
		return -ENOMEM;
	int s = sqlite3_open_v2(uri, &db, flags, NULL);
	if (s == SQLITE_OK)
		s = probe_read(db);
	if (s != SQLITE_OK) {
		/* WAL needs a -shm it can map; without write access to the
		 * directory (and no -shm left by the writer) that fails.
		 * Immutable mode reads the main file alone. */
		db_close(db);
		db = NULL;
		free(uri);
		uri = file_uri(path, "mode=ro&immutable=1");
		if (!uri)
			return -ENOMEM;
		s = sqlite3_open_v2(uri, &db, flags, NULL);
		if (s == SQLITE_OK)
			s = probe_read(db);
		if (s != SQLITE_OK) {
			rc = sql_fail(db, path, "cannot open read-only", err, errlen);
			db_close(db);
			goto out;
		}
		/* Immutable ignores the WAL: say so only if one holds data. */
		char *wal = malloc(strlen(path) + 5);
		struct stat wst;
		bool has_wal = false;
		if (wal) {
			sprintf(wal, "%s-wal", path);
			has_wal = stat(wal, &wst) == 0 && wst.st_size > 0;
			free(wal);
		}
		if (note && has_wal)
			*note = "opened as immutable (no usable WAL index without "
				"write access); records not yet checkpointed from "
				"the WAL are not visible";
	}
	sqlite3_exec(db, "PRAGMA query_only=1", NULL, NULL, NULL);
	sqlite3_busy_timeout(db, 2000);
	*out = db;
out:
	free(uri);
	return rc;
}

int
db_key_id(struct chain_ctx *c, char out[17])
{
	static const char label[] = "auditshim key id";
	unsigned char mac[CHAIN_HASH_LEN];
	int rc;

	if (!chain_has_key(c))
		return -EINVAL;
	rc = chain_hmac(c, label, sizeof label - 1, mac);
	if (rc < 0)
		return rc;
	chain_hex(mac, 8, out);
	return 0;
}

char *
db_head_path(const char *database)
{
	char *p = malloc(strlen(database) + 6);
	if (p)
		sprintf(p, "%s.head", database);
	return p;
}

static int
unhex(const char *s, unsigned char *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int v = 0;
		for (int j = 0; j < 2; j++) {
			char c = s[2 * i + j];
			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= c - '0';
			else if (c >= 'a' && c <= 'f')
				v |= c - 'a' + 10;
			else
				return -EINVAL;
		}
		out[i] = (unsigned char)v;
	}
	return s[2 * n] == '\0' ? 0 : -EINVAL;
}

int
db_head_read(const char *database, struct db_head *h)
{
	char *path = db_head_path(database);
	char line[160];
	int rc = -EINVAL;
	FILE *f;

	if (!path)
		return -ENOMEM;
	f = fopen(path, "re");
	if (!f) {
		rc = -errno;
		free(path);
		return rc;
	}
	memset(h, 0, sizeof *h);
	/* Exactly four lines, in order. */
	if (!fgets(line, sizeof line, f) || strcmp(line, HEAD_MAGIC "\n") != 0)
		goto out;
	char *end;
	if (!fgets(line, sizeof line, f) || strncmp(line, "seq ", 4) != 0 ||
	    line[4] < '0' || line[4] > '9')
		goto out;
	errno = 0;
	long long seq = strtoll(line + 4, &end, 10);
	if (errno || strcmp(end, "\n") != 0 || seq < 0)
		goto out;
	h->seq = seq;
	if (!fgets(line, sizeof line, f) || strncmp(line, "hash ", 5) != 0)
		goto out;
	line[strcspn(line, "\n")] = '\0';
	if (unhex(line + 5, h->hash, CHAIN_HASH_LEN) < 0)
		goto out;
	if (!fgets(line, sizeof line, f) || strncmp(line, "mac ", 4) != 0)
		goto out;
	line[strcspn(line, "\n")] = '\0';
	if (unhex(line + 4, h->mac, CHAIN_HASH_LEN) < 0)
		goto out;
	if (fgets(line, sizeof line, f))
		goto out;
	rc = 0;
out:
	fclose(f);
	free(path);
	return rc;
}

int
db_head_write(const char *database, const struct db_head *h)
{
	char *path = db_head_path(database);
	char *tmp = NULL;
	char hh[2 * CHAIN_HASH_LEN + 1], mh[2 * CHAIN_HASH_LEN + 1];
	char text[256];
	int rc = 0, fd = -1;

	if (!path)
		return -ENOMEM;
	tmp = malloc(strlen(path) + 5);
	if (!tmp) {
		rc = -ENOMEM;
		goto out;
	}
	sprintf(tmp, "%s.tmp", path);
	chain_hex(h->hash, CHAIN_HASH_LEN, hh);
	chain_hex(h->mac, CHAIN_HASH_LEN, mh);
	int n = snprintf(text, sizeof text, HEAD_MAGIC "\nseq %" PRId64
			 "\nhash %s\nmac %s\n", h->seq, hh, mh);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	size_t put = 0;
	while (put < (size_t)n) {
		ssize_t w = write(fd, text + put, (size_t)n - put);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = w < 0 ? -errno : -EIO;
			goto out_unlink;
		}
		put += (size_t)w;
	}
	/* Without this a crash could leave an empty head behind the rename. */
	if (fdatasync(fd) < 0) {
		rc = -errno;
		goto out_unlink;
	}
	if (close(fd) < 0) {
		fd = -1;
		rc = -errno;
		goto out_unlink;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		rc = -errno;
		goto out_unlink;
	}
	goto out;
out_unlink:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
out:
	free(tmp);
	free(path);
	return rc;
}

int
db_max_seq(sqlite3 *db, int64_t *seq)
{
	sqlite3_stmt *st = NULL;
	int rc = -EIO;

	*seq = 0;
	if (sqlite3_prepare_v2(db, "SELECT max(seq) FROM records", -1, &st,
			       NULL) != SQLITE_OK)
		return -EIO;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*seq = sqlite3_column_int64(st, 0);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

