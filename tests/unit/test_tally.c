/* SPDX-License-Identifier: MIT */
/*
 * test_tally.c - cmocka tests for the SQL aggregate tally() (tools/
 * ctl_tally.c) against SQLite's own GROUP BY, count, min, max and sum on
 * pseudo-random rows: NULL and mixed-type keys and values, thousands of
 * groups (the hash table grows), an empty input, a sum that overflows.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cmd.h"

static sqlite3 *db;

static int
setup(void **state)
{
	(void)state;
	if (sqlite3_open(":memory:", &db) != SQLITE_OK ||
	    ctl_tally_register(db) != SQLITE_OK ||
	    sqlite3_exec(db, "CREATE TABLE t (a, b, v, w)", NULL, NULL,
			 NULL) != SQLITE_OK)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	sqlite3_close(db);
	return 0;
}

/* Fills t with N rows from SEED: keys over GROUPS values, mixed types. */
static void
fill(int n, int groups, uint64_t seed)
{
	sqlite3_stmt *st = NULL;
	uint64_t x = seed;

	assert_int_equal(sqlite3_exec(db, "DELETE FROM t", NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO t VALUES (?, ?, ?, ?)",
					    -1, &st, NULL), SQLITE_OK);
	for (int i = 0; i < n; i++) {
		char s[32];
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		int g = (int)(x % (uint64_t)groups);
		/* a: text or NULL; b: integer or text (1 and '1' differ). */
		if (g % 11 == 0) {
			sqlite3_bind_null(st, 1);
		} else {
			snprintf(s, sizeof s, "k%d", g / 3);
			sqlite3_bind_text(st, 1, s, -1, SQLITE_TRANSIENT);
		}
		if (g % 2)
			sqlite3_bind_int(st, 2, g % 3);
		else
			sqlite3_bind_text(st, 2, g % 3 ? "1" : "0", -1, SQLITE_STATIC);
		/* v: integers (negative too), some NULL, some text. */
		int64_t v = (int64_t)(x >> 20) % 2000001 - 1000000;
		if (x % 13 == 0)
			sqlite3_bind_null(st, 3);
		else if (x % 17 == 0)
			sqlite3_bind_text(st, 3, "t", -1, SQLITE_STATIC);
		else
			sqlite3_bind_int64(st, 3, v);
		/* w: timestamps as text, NULL in whole groups. */
		snprintf(s, sizeof s, "2026-01-01T00:%02d:%02d.%06dZ",
			 (int)(x >> 8) % 60, (int)(x >> 16) % 60,
			 (int)(x >> 24) % 1000000);
		if (g % 5 == 0)
			sqlite3_bind_null(st, 4);
		else
			sqlite3_bind_text(st, 4, s, -1, SQLITE_TRANSIENT);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
}

/* Both queries' rows, in the same order, as text: must be equal. */
static void
same(const char *got_sql, const char *want_sql, int cols)
{
	sqlite3_stmt *g = NULL, *w = NULL;
	int rows = 0;

	assert_int_equal(sqlite3_prepare_v2(db, got_sql, -1, &g, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, want_sql, -1, &w, NULL), SQLITE_OK);
	for (;;) {
		int a = sqlite3_step(g), b = sqlite3_step(w);
		assert_int_equal(a, b);
		if (a != SQLITE_ROW)
			break;
		for (int i = 0; i < cols; i++) {
			assert_int_equal(sqlite3_column_type(g, i),
					 sqlite3_column_type(w, i));
			const char *x = (const char *)sqlite3_column_text(g, i);
			const char *y = (const char *)sqlite3_column_text(w, i);
			if (x || y)
				assert_string_equal(x ? x : "(null)", y ? y : "(null)");
		}
		rows++;
	}
	sqlite3_finalize(g);
	sqlite3_finalize(w);
}

#define J(p) "json_extract(value, '$" p "')"

static const char got_sql[] =
	"SELECT " J("[0]") ", " J("[1]") ", " J("[2]") ", " J("[3][0]") ", "
	J("[3][1]") ", " J("[3][2]") ", " J("[4][0]") ", " J("[4][1]") " "
	"FROM json_each((SELECT tally(2, a, b, v, w) FROM t)) ORDER BY 1, 2";
static const char want_sql[] =
	"SELECT a, b, count(*), min(v), max(v), coalesce(sum(CASE WHEN "
	"typeof(v) = 'integer' THEN v END), 0), min(w), max(w) FROM t "
	"GROUP BY a, b ORDER BY 1, 2";

static void
test_as_group_by(void **state)
{
	(void)state;
	fill(20000, 60, 88172645463325252u);
	same(got_sql, want_sql, 8);
}

static void
test_many_groups(void **state)
{
	(void)state;
	fill(30000, 9000, 0x9e3779b97f4a7c15u);
	same(got_sql, want_sql, 8);
}

static void
test_empty_and_errors(void **state)
{
	sqlite3_stmt *st = NULL;

	(void)state;
	fill(0, 1, 1);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT tally(1, a) FROM t", -1,
					    &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "[]");
	sqlite3_finalize(st);

	/* K must leave at least one key. */
	fill(3, 1, 1);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT tally(0, a) FROM t", -1,
					    &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ERROR);
	sqlite3_finalize(st);

	/* A sum beyond 64 bits is an error, as for SQL's sum(). */
	assert_int_equal(sqlite3_exec(db, "DELETE FROM t; INSERT INTO t VALUES"
				      " ('a', 1, 9223372036854775807, NULL),"
				      " ('a', 1, 1, NULL)", NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT tally(1, a, v) FROM t",
					    -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ERROR);
	assert_non_null(strstr(sqlite3_errmsg(db), "overflow"));
	sqlite3_finalize(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_as_group_by),
		cmocka_unit_test(test_many_groups),
		cmocka_unit_test(test_empty_and_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
