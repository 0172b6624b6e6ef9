/* SPDX-License-Identifier: MIT */
/*
 * records.c - schema text, row <-> struct chain_record mapping, and the
 * timestamp format of the records table (docs/record-format.md).
 */
#include "records.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

const char records_schema_sql[] =
	"CREATE TABLE IF NOT EXISTS meta ("
	"  key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS records ("
	"  seq INTEGER PRIMARY KEY, time TEXT NOT NULL, recv_time TEXT NOT NULL,"
	"  host TEXT NOT NULL, session TEXT, agent TEXT, pid INTEGER,"
	"  ppid INTEGER, uid INTEGER, gid INTEGER, exe TEXT,"
	"  event TEXT NOT NULL, class TEXT NOT NULL, target TEXT, argv TEXT,"
	"  detail TEXT, result TEXT NOT NULL, errno TEXT,"
	"  severity TEXT NOT NULL, pseq INTEGER, image TEXT,"
	"  key_epoch INTEGER NOT NULL, prev_hash BLOB NOT NULL,"
	"  hash BLOB NOT NULL, mac BLOB NOT NULL);"
	"CREATE INDEX IF NOT EXISTS records_session ON records(session, seq);"
	"CREATE TRIGGER IF NOT EXISTS records_no_update BEFORE UPDATE ON records"
	" BEGIN SELECT RAISE(ABORT, 'auditshim: records are append-only'); END;"
	"CREATE TRIGGER IF NOT EXISTS records_no_delete BEFORE DELETE ON records"
	" BEGIN SELECT RAISE(ABORT, 'auditshim: records are append-only'); END;"
	"CREATE TABLE IF NOT EXISTS key_epochs ("
	"  epoch INTEGER PRIMARY KEY, first_seq INTEGER NOT NULL,"
	"  created TEXT NOT NULL, key_id TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS checkpoints ("
	"  seq INTEGER PRIMARY KEY, hash BLOB NOT NULL, time TEXT NOT NULL,"
	"  algorithm TEXT NOT NULL, public_key TEXT, signature BLOB);"
	"CREATE TABLE IF NOT EXISTS proc_state ("
	"  pid INTEGER NOT NULL, image TEXT NOT NULL, session TEXT,"
	"  agent TEXT, last_pseq INTEGER NOT NULL, updated TEXT NOT NULL,"
	"  PRIMARY KEY (pid, image));";

/*
 * records_window: time windows (query, export, report), covering what the
 * report aggregates over a window (class, event, result, session, agent;
 * seq is the rowid) so those sections read the index alone.  It replaces
 * records_time(time), a prefix of it.
 * records_events: the rare events the report lists one by one, by event
 * and time (partial: only those rows pay for it).
 * records_notable: tool calls, changes and policy violations by time
 * (partial, the same way).
 * records_exec: a session's first command (partial: exec and spawn).
 */
const char records_index_sql[] =
	"CREATE INDEX IF NOT EXISTS records_window ON records(time, class,"
	" event, result, session, agent);"
	"DROP INDEX IF EXISTS records_time;"
	"CREATE INDEX IF NOT EXISTS records_notable ON records(time)"
	" WHERE " RECORDS_NOTABLE_PRED("") ";"
	"CREATE INDEX IF NOT EXISTS records_events ON records(event, time)"
	" WHERE " RECORDS_EVENTS_PRED("") ";"
	"CREATE INDEX IF NOT EXISTS records_exec ON records(session, seq)"
	" WHERE event IN ('exec', 'spawn');";

static const char *
col_text(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

static bool
col_int(sqlite3_stmt *st, int i, int64_t *v)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL) {
		*v = 0;
		return false;
	}
	*v = sqlite3_column_int64(st, i);
	return true;
}

void
records_from_row(sqlite3_stmt *st, struct chain_record *r)
{
	int64_t tmp;

	col_int(st, 0, &r->seq);
	r->time = col_text(st, 1);
	r->recv_time = col_text(st, 2);
	r->host = col_text(st, 3);
	r->session = col_text(st, 4);
	r->agent = col_text(st, 5);
	r->has_pid = col_int(st, 6, &r->pid);
	r->has_ppid = col_int(st, 7, &r->ppid);
	r->has_uid = col_int(st, 8, &r->uid);
	r->has_gid = col_int(st, 9, &r->gid);
	r->exe = col_text(st, 10);
	r->event = col_text(st, 11);
	r->klass = col_text(st, 12);
	r->target = col_text(st, 13);
	r->argv = col_text(st, 14);
	r->detail = col_text(st, 15);
	r->result = col_text(st, 16);
	r->errno_name = col_text(st, 17);
	r->severity = col_text(st, 18);
	r->has_pseq = col_int(st, 19, &r->pseq);
	r->image = col_text(st, 20);
	col_int(st, 21, &tmp);
	r->key_epoch = tmp;
}

static int
bind_text(sqlite3_stmt *st, int i, const char *s, const uint32_t *lens)
{
	int n = lens && lens[i - 1] <= INT_MAX ? (int)lens[i - 1] : -1;
	return s ? sqlite3_bind_text(st, i, s, n, SQLITE_STATIC)
		 : sqlite3_bind_null(st, i);
}

static int
bind_int(sqlite3_stmt *st, int i, int64_t v, bool present)
{
	return present ? sqlite3_bind_int64(st, i, v) : sqlite3_bind_null(st, i);
}

int
records_bind(sqlite3_stmt *st, const struct chain_record *r,
	     const uint32_t *lens, const unsigned char *prev,
	     const unsigned char *hash, const unsigned char *mac)
{
	int rc = SQLITE_OK;
#define B(x) do { if (rc == SQLITE_OK) rc = (x); } while (0)
	B(bind_int(st, 1, r->seq, true));
	B(bind_text(st, 2, r->time, lens));
	B(bind_text(st, 3, r->recv_time, lens));
	B(bind_text(st, 4, r->host, lens));
	B(bind_text(st, 5, r->session, lens));
	B(bind_text(st, 6, r->agent, lens));
	B(bind_int(st, 7, r->pid, r->has_pid));
	B(bind_int(st, 8, r->ppid, r->has_ppid));
	B(bind_int(st, 9, r->uid, r->has_uid));
	B(bind_int(st, 10, r->gid, r->has_gid));
	B(bind_text(st, 11, r->exe, lens));
	B(bind_text(st, 12, r->event, lens));
	B(bind_text(st, 13, r->klass, lens));
	B(bind_text(st, 14, r->target, lens));
	B(bind_text(st, 15, r->argv, lens));
	B(bind_text(st, 16, r->detail, lens));
	B(bind_text(st, 17, r->result, lens));
	B(bind_text(st, 18, r->errno_name, lens));
	B(bind_text(st, 19, r->severity, lens));
	B(bind_int(st, 20, r->pseq, r->has_pseq));
	B(bind_text(st, 21, r->image, lens));
	B(bind_int(st, 22, r->key_epoch, true));
	B(sqlite3_bind_blob(st, 23, prev, CHAIN_HASH_LEN, SQLITE_STATIC));
	B(sqlite3_bind_blob(st, 24, hash, CHAIN_HASH_LEN, SQLITE_STATIC));
	B(sqlite3_bind_blob(st, 25, mac, CHAIN_HASH_LEN, SQLITE_STATIC));
#undef B
	return rc;
}

uint64_t
now_realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void
fmt_time_ns(uint64_t ns, char buf[32])
{
	/* The date and time to the second, kept for the next call: records
	 * arrive many per second, and gmtime_r + strftime cost more than
	 * the rest of the formatting together. */
	static __thread time_t last_sec = -1;
	static __thread char last[20];
	time_t sec = (time_t)(ns / 1000000000u);
	unsigned us = (unsigned)(ns % 1000000000u / 1000u);

	if (sec != last_sec) {
		struct tm tm;
		if (!gmtime_r(&sec, &tm) ||
		    strftime(last, sizeof last, "%Y-%m-%dT%H:%M:%S", &tm) != 19) {
			snprintf(buf, 32, "1970-01-01T00:00:00.000000Z");
			return;
		}
		last_sec = sec;
	}
	memcpy(buf, last, 19);
	buf[19] = '.';
	for (int i = 25; i >= 20; i--) {
		buf[i] = (char)('0' + us % 10);
		us /= 10;
	}
	buf[26] = 'Z';
	buf[27] = '\0';
}
