/* SPDX-License-Identifier: MIT */
/*
 * test_filter.c - cmocka tests for the record selection of query and
 * export (tools/ctl_filter.c) on a real SQLite store of 150,000 records
 * with the store's schema and indexes: for a large time window it chooses
 * between the window index and a scan in seq order, and whichever it
 * chooses, the rows are the ones plain SQL selects (records whose claimed
 * time is out of order included).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cmd.h"
#include "records.h"

#define N 150000
/* 2026-01-01T00:00:00Z in µs; record I claims T0 + 10 µs * I. */
#define T0 INT64_C(1767225600000000)
/* Every STRAY-th record claims a time near the end instead. */
#define STRAY 7919

static char dir[] = "/tmp/test_filter.XXXXXX";
static sqlite3 *db;

static int64_t
claimed(int64_t i)
{
	return T0 + 10 * (i % STRAY ? i : N - i);
}

static int
setup(void **state)
{
	char path[64], t[TIMESPEC_BUFLEN];
	sqlite3_stmt *st = NULL;
	static const unsigned char zero[32];

	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof path, "%s/audit.db", dir);
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, records_schema_sql, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, records_index_sql, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO records (seq, time, recv_time,"
			       " host, event, class, result, severity, key_epoch,"
			       " prev_hash, hash, mac) VALUES (?, ?, ?, 'h', ?,"
			       " 'other', 'ok', 'info', 1, ?, ?, ?)", -1, &st,
			       NULL) != SQLITE_OK)
		return -1;
	for (int64_t i = 1; i <= N; i++) {
		timespec_format(claimed(i), t);
		sqlite3_bind_int64(st, 1, i);
		sqlite3_bind_text(st, 2, t, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 3, t, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 4, i % 3 ? "open" : "exec", -1, SQLITE_STATIC);
		for (int k = 5; k <= 7; k++)
			sqlite3_bind_blob(st, k, zero, 32, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			return -1;
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

static int
teardown(void **state)
{
	char path[64];

	(void)state;
	sqlite3_close(db);
	snprintf(path, sizeof path, "%s/audit.db", dir);
	unlink(path);
	rmdir(dir);
	return 0;
}

/* A window from record FROM's time to record TO's (exclusive). */
static void
window(struct ctl_filter *f, int64_t from, int64_t to, int64_t limit)
{
	char t[TIMESPEC_BUFLEN], n[24];

	memset(f, 0, sizeof *f);
	timespec_format(T0 + 10 * from, t);
	assert_int_equal(ctl_filter_option(f, "test", CTL_OPT_SINCE, t), 1);
	timespec_format(T0 + 10 * to, t);
	assert_int_equal(ctl_filter_option(f, "test", CTL_OPT_UNTIL, t), 1);
	if (limit > 0) {
		snprintf(n, sizeof n, "%" PRId64, limit);
		assert_int_equal(ctl_filter_option(f, "test", CTL_OPT_LIMIT, n), 1);
	}
}

/*
 * Prepares F, checks whether it scans in seq order ("+time" in the SQL)
 * as SCAN says, and that its rows are those of plain SQL.
 */
static void
check(const struct ctl_filter *f, bool scan)
{
	sqlite3_stmt *st = NULL, *want = NULL;
	int64_t rows = 0;

	assert_int_equal(ctl_filter_prepare(db, f, "seq", false, &st), 0);
	if (scan != (strstr(sqlite3_sql(st), "+time") != NULL))
		fail_msg("expected a %s: %s", scan ? "scan in seq order" :
			 "read from the window index", sqlite3_sql(st));
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT seq FROM records WHERE"
					    " time >= ? AND time < ? AND"
					    " (?3 IS NULL OR event = ?3)"
					    " ORDER BY seq LIMIT ?", -1, &want,
					    NULL), SQLITE_OK);
	sqlite3_bind_text(want, 1, f->since, -1, SQLITE_STATIC);
	sqlite3_bind_text(want, 2, f->until, -1, SQLITE_STATIC);
	if (f->event)
		sqlite3_bind_text(want, 3, f->event, -1, SQLITE_STATIC);
	sqlite3_bind_int64(want, 4, f->limit > 0 ? f->limit : -1);
	for (;;) {
		int a = sqlite3_step(st), b = sqlite3_step(want);
		assert_int_equal(a, b);
		if (a != SQLITE_ROW)
			break;
		assert_int_equal(sqlite3_column_int64(st, 0),
				 sqlite3_column_int64(want, 0));
		rows++;
	}
	assert_true(rows > 0);
	sqlite3_finalize(st);
	sqlite3_finalize(want);
}

static void
test_whole_store(void **state)
{
	struct ctl_filter f;

	(void)state;
	/* The window holds every record from the first on: scan. */
	window(&f, 0, N + 1, 1000);
	check(&f, true);
	window(&f, 0, N + 1, 0);
	check(&f, true);
}

static void
test_window_from_the_middle(void **state)
{
	struct ctl_filter f;

	(void)state;
	/*
	 * Records 30,000 on (and the strays before them, whose claimed
	 * time is late): 1,000 rows are found in seq order after ~31,000,
	 * 200,000 are not -- the index is cheaper.  Without a limit the
	 * table is less than three times the window: scan.
	 */
	window(&f, 30000, N + 1, 1000);
	check(&f, true);
	window(&f, 30000, N + 1, 200000);
	check(&f, false);
	window(&f, 30000, N + 1, 0);
	check(&f, true);
}

static void
test_small_windows_use_the_index(void **state)
{
	struct ctl_filter f;

	(void)state;
	window(&f, 100000, 120000, 1000);
	check(&f, false);
	window(&f, N - 60000 / 10, N, 0);
	check(&f, false);
}

static void
test_other_filters_use_the_index(void **state)
{
	struct ctl_filter f;

	(void)state;
	window(&f, 0, N + 1, 1000);
	assert_int_equal(ctl_filter_option(&f, "test", CTL_OPT_EVENT, "exec"), 1);
	check(&f, false);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_store),
		cmocka_unit_test(test_window_from_the_middle),
		cmocka_unit_test(test_small_windows_use_the_index),
		cmocka_unit_test(test_other_filters_use_the_index),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
