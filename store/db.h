/* SPDX-License-Identifier: MIT */
/*
 * db.h - opening the SQLite store (read-write for auditshimd, read-only
 * for auditctl), the head file "<database>.head", and chain verification
 * over a range of records.  Shared by the writer and auditctl; library
 * code: returns 0 or a negative errno, never prints.
 */
#ifndef AUDITSHIM_DB_H
#define AUDITSHIM_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <sqlite3.h>

#include "chain.h"

/* What the writer last reported as committed (docs/record-format.md). */
struct db_head {
	int64_t seq;				/* last committed seq, 0 if none */
	unsigned char hash[CHAIN_HASH_LEN];	/* its hash */
	unsigned char mac[CHAIN_HASH_LEN];	/* its mac */
};

/*
 * Opens or creates the store at PATH for the writer: creates missing
 * parent directories (the last one 0700), creates the file 0600 (SQLite
 * gives -wal and -shm the same mode), takes an exclusive lock on
 * "<PATH>.lock" (-EBUSY if another writer holds it), sets WAL and
 * synchronous=FULL, creates the schema and the meta rows (schema_version,
 * host = HOST, created).  Refuses a store of another schema version.
 * Then creates the readers' indexes (records_index_sql), which on a store
 * made by an older version reads the whole table once (records.h).
 * The handle has no mutex of its own: use it from one thread at a time.
 * On success *DB is the handle and *LOCKFD the lock descriptor (keep it
 * open for the life of the process); on failure returns a negative errno
 * (-EIO for SQLite errors) and writes a sentence naming PATH into ERR.
 */
int db_open_rw(const char *path, const char *host, sqlite3 **db, int *lockfd,
	       char *err, size_t errlen);

/*
 * Opens the store at PATH read-only (auditctl).  Needs no write access to
 * the file or its directory: when SQLite cannot use the WAL index that
 * way, the database is reopened as immutable and *NOTE (if not NULL) is set
 * to a static sentence saying records still in the WAL are not visible;
 * otherwise *NOTE is NULL.  Returns 0 or a negative errno with ERR set.
 */
int db_open_ro(const char *path, sqlite3 **db, const char **note,
	       char *err, size_t errlen);

/* Closes a handle from db_open_*; NULL is a no-op. */
void db_close(sqlite3 *db);

/*
 * Reads meta value KEY into BUF (LEN bytes, NUL-terminated, truncated to
 * fit).  Returns 0, -ENOENT if there is no such row, or -EIO.
 */
int db_meta_get(sqlite3 *db, const char *key, char *buf, size_t len);
/* Inserts or replaces meta KEY = VALUE. Returns 0 or -EIO. */
int db_meta_set(sqlite3 *db, const char *key, const char *value);

/*
 * Key identifier stored in key_epochs: lower-case hex of the first 8 bytes
 * of HMAC(key, "auditshim key id"), into OUT (17 bytes).  C must hold a
 * key.  Returns 0 or -EIO / -EINVAL.
 */
int db_key_id(struct chain_ctx *c, char out[17]);

/*
 * Head file: "<DATABASE>.head".  Returns a malloc'd path (caller frees)
 * or NULL on allocation failure.
 */
char *db_head_path(const char *database);
/*
 * Reads the head file of DATABASE into H.  Returns 0, -ENOENT if there is
 * none, -EINVAL if it is malformed, or another -errno.
 */
int db_head_read(const char *database, struct db_head *h);
/*
 * Atomically replaces the head file of DATABASE (temporary file, fsync,
 * rename; mode 0600).  Returns 0 or -errno.
 */
int db_head_write(const char *database, const struct db_head *h);

/* Outcome of verify_chain (verify.h). */
struct db_verify {
	int64_t checked;			/* records that verified */
	int64_t last_seq;			/* last good seq (0 if none) */
	unsigned char last_hash[CHAIN_HASH_LEN];	/* its hash (zeros if none) */
	unsigned char last_mac[CHAIN_HASH_LEN];	/* its mac (zeros if none) */
	bool macs_checked;			/* false: no key, hashes only */
	int64_t bad_seq;			/* first bad entry, 0 if none */
	char reason[192];			/* why it is bad, "" if good */
};

/*
 * Creates every missing directory above the file PATH: intermediate ones
 * 0755, the file's own directory LAST_MODE.  Existing ones are left as
 * they are.  Returns 0 or -errno.
 */
int db_make_parents(const char *path, mode_t last_mode);

/* Highest seq in the records table (0 if empty) into *SEQ. 0 or -EIO. */
int db_max_seq(sqlite3 *db, int64_t *seq);

#endif
