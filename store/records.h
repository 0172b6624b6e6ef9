/* SPDX-License-Identifier: MIT */
/*
 * records.h - the SQLite schema of the store and the mapping between a
 * records row and struct chain_record.  Shared by the writer (insert) and
 * auditctl (select).  docs/record-format.md documents the same schema.
 */
#ifndef AUDITSHIM_RECORDS_H
#define AUDITSHIM_RECORDS_H

#include <stdint.h>

#include <sqlite3.h>

#include "chain.h"

#define RECORDS_SCHEMA_VERSION 1

/* All CREATE statements (idempotent: IF NOT EXISTS), for sqlite3_exec. */
extern const char records_schema_sql[];

/*
 * The indexes readers rely on, and the migration from older stores
 * (idempotent; run by db_open_rw after the schema).  On a store that
 * lacks them this builds them, which reads the whole table: about 3 s per
 * million records on the 2-vCPU development guest.  Readers work without
 * them, only slower.  Docs: docs/record-format.md, Indexes.
 */
extern const char records_index_sql[];

/*
 * The events the partial index records_events holds, as the predicate
 * its definition uses, on the columns of table alias T ("" or "x.").  A
 * query can use that index only when its WHERE contains this very
 * predicate, so queries add it, with their alias, next to their own
 * narrower test on event.  Equalities rather than IN: the writer
 * evaluates it for every insert, and an IN list of more than two values
 * costs SQLite a temporary table per evaluation.
 */
#define RECORDS_EVENTS_PRED(t) \
	"(" t "event = 'approval' OR " t "event = 'blind_spot' OR " \
	t "event = 'connect' OR " t "event = 'gap' OR " \
	t "event = 'policy_violation' OR " t "event = 'resolve' OR " \
	t "event = 'sendto')"

/*
 * The rows the partial index records_notable holds (by time): what the
 * report lists as tool calls, changes and policy violations.  Used as
 * RECORDS_EVENTS_PRED is.
 */
#define RECORDS_NOTABLE_PRED(t) \
	"(" t "class <> 'other' OR " t "severity <> 'info' OR " \
	t "event = 'policy_violation')"

/*
 * SELECT of every column in canonical order followed by prev_hash, hash,
 * mac (column indexes 0..21, then 22, 23, 24).  Callers append WHERE /
 * ORDER BY clauses.
 */
#define RECORDS_SELECT \
	"SELECT seq, time, recv_time, host, session, agent, pid, ppid, uid," \
	" gid, exe, event, class, target, argv, detail, result, errno," \
	" severity, pseq, image, key_epoch, prev_hash, hash, mac FROM records"
#define RECORDS_COL_PREV 22
#define RECORDS_COL_HASH 23
#define RECORDS_COL_MAC 24

/* INSERT with 25 positional parameters in the same order as RECORDS_SELECT. */
#define RECORDS_INSERT \
	"INSERT INTO records (seq, time, recv_time, host, session, agent, pid," \
	" ppid, uid, gid, exe, event, class, target, argv, detail, result," \
	" errno, severity, pseq, image, key_epoch, prev_hash, hash, mac)" \
	" VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"

/*
 * Fills R from the current row of a RECORDS_SELECT statement.  R's strings
 * point into the statement and stay valid until the next step/reset.
 */
void records_from_row(sqlite3_stmt *st, struct chain_record *r);

/*
 * Binds R and the three hashes to a RECORDS_INSERT statement (parameters
 * 1..25).  LENS, if not NULL, holds the text fields' lengths
 * (chain_canonical_lens).  Returns an SQLite result code.
 */
int records_bind(sqlite3_stmt *st, const struct chain_record *r,
		 const uint32_t *lens, const unsigned char *prev,
		 const unsigned char *hash, const unsigned char *mac);

/* Wall-clock time as RFC 3339 UTC with microseconds ("...T13:24:42.123456Z"),
 * the format of the time and recv_time columns, into BUF (32 bytes). */
void fmt_time_ns(uint64_t ns, char buf[32]);
/* The current CLOCK_REALTIME in ns. */
uint64_t now_realtime_ns(void);

#endif
