/* SPDX-License-Identifier: MIT */
/*
 * test_timespec.c - cmocka tests for auditctl's time syntax (tools/
 * timespec.c) with a fixed "now" and fixed time zones: every accepted
 * form, daylight-saving gaps and folds in Europe/Berlin, and refusals.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "timespec.h"

#define S INT64_C(1000000)

/* 2024-05-15T10:20:30.5Z, a Wednesday. */
static const int64_t NOW = INT64_C(1715768430) * S + 500000;

static void
set_tz(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

/* Parses S against NOW; fails the test with the message on error. */
static int64_t
ok(const char *s, int64_t now)
{
	char err[256];
	int64_t us = 0;
	if (timespec_parse(s, now, &us, err, sizeof err) != 0)
		fail_msg("'%s' refused: %s", s, err);
	return us;
}

/* The parse of S formatted in the store's format. */
static const char *
fmt(const char *s, int64_t now)
{
	static char buf[TIMESPEC_BUFLEN];
	timespec_format(ok(s, now), buf);
	return buf;
}

static void
bad(const char *s, const char *want)
{
	char err[256];
	int64_t us = 0;
	if (timespec_parse(s, NOW, &us, err, sizeof err) != -EINVAL)
		fail_msg("'%s' accepted as %lld", s ? s : "(null)", (long long)us);
	assert_true(err[0] != '\0');
	if (want && !strstr(err, want))
		fail_msg("'%s': message '%s' lacks '%s'", s, err, want);
}

static void
test_rfc3339(void **state)
{
	(void)state;
	set_tz("Europe/Berlin");
	assert_string_equal(fmt("2024-05-01T12:00:00Z", NOW),
			    "2024-05-01T12:00:00.000000Z");
	assert_string_equal(fmt("2024-05-01T12:00:00.123456789Z", NOW),
			    "2024-05-01T12:00:00.123456Z");
	assert_string_equal(fmt("2024-05-01T12:00:00+02:00", NOW),
			    "2024-05-01T10:00:00.000000Z");
	assert_string_equal(fmt("2024-05-01t12:00:00-0530", NOW),
			    "2024-05-01T17:30:00.000000Z");
	assert_string_equal(fmt("2024-05-01 12:00 UTC", NOW),
			    "2024-05-01T12:00:00.000000Z");
	assert_string_equal(fmt("2024-02-29T23:59:60Z", NOW),
			    "2024-03-01T00:00:00.000000Z");
	assert_string_equal(fmt("  2024-05-01T12:00:00Z  ", NOW),
			    "2024-05-01T12:00:00.000000Z");
}

static void
test_local_dates(void **state)
{
	(void)state;
	set_tz("Europe/Berlin");
	/* Summer: UTC+2. */
	assert_string_equal(fmt("2024-05-01", NOW), "2024-04-30T22:00:00.000000Z");
	assert_string_equal(fmt("2024-05-01 12:00", NOW),
			    "2024-05-01T10:00:00.000000Z");
	assert_string_equal(fmt("2024-05-01 12:00:07", NOW),
			    "2024-05-01T10:00:07.000000Z");
	/* Winter: UTC+1. */
	assert_string_equal(fmt("2024-01-10T08:30", NOW),
			    "2024-01-10T07:30:00.000000Z");
	set_tz("UTC");
	assert_string_equal(fmt("2024-05-01 12:00", NOW),
			    "2024-05-01T12:00:00.000000Z");
	set_tz("America/New_York");
	assert_string_equal(fmt("2024-05-01", NOW), "2024-05-01T04:00:00.000000Z");
}

static void
test_dst_berlin(void **state)
{
	(void)state;
	char err[256];
	int64_t us;
	set_tz("Europe/Berlin");
	/* Spring forward 2024-03-31: 02:00 CET -> 03:00 CEST. */
	assert_string_equal(fmt("2024-03-31 01:59:59", NOW),
			    "2024-03-31T00:59:59.000000Z");
	assert_string_equal(fmt("2024-03-31 03:00", NOW),
			    "2024-03-31T01:00:00.000000Z");
	assert_int_equal(timespec_parse("2024-03-31 02:30", NOW, &us, err,
					sizeof err), -EINVAL);
	assert_non_null(strstr(err, "does not exist"));
	bad("2024-03-31 02:00", "daylight saving");
	/* The same wall time with a zone is fine. */
	assert_string_equal(fmt("2024-03-31 02:30+01:00", NOW),
			    "2024-03-31T01:30:00.000000Z");
	/* Fall back 2024-10-27: 03:00 CEST -> 02:00 CET; 02:30 happens twice,
	 * the earlier (CEST) instant is taken. */
	assert_string_equal(fmt("2024-10-27 02:30", NOW),
			    "2024-10-27T00:30:00.000000Z");
	assert_string_equal(fmt("2024-10-27 03:00", NOW),
			    "2024-10-27T02:00:00.000000Z");
	assert_string_equal(fmt("2024-10-27 01:59", NOW),
			    "2024-10-26T23:59:00.000000Z");
	/* Midnight either side of both changes. */
	assert_string_equal(fmt("2024-03-31", NOW), "2024-03-30T23:00:00.000000Z");
	assert_string_equal(fmt("2024-04-01", NOW), "2024-03-31T22:00:00.000000Z");
	assert_string_equal(fmt("2024-10-27", NOW), "2024-10-26T22:00:00.000000Z");
	assert_string_equal(fmt("2024-10-28", NOW), "2024-10-27T23:00:00.000000Z");
	/* "today" and "yesterday" on the day after a change: the day before
	 * lasted 23 (or 25) hours, not 24. */
	int64_t after_spring = INT64_C(1711879200) * S;	/* 2024-03-31T10:00Z */
	assert_string_equal(fmt("today", after_spring), "2024-03-30T23:00:00.000000Z");
	int64_t mon = INT64_C(1711965600) * S;		/* 2024-04-01T10:00Z */
	assert_string_equal(fmt("yesterday", mon), "2024-03-30T23:00:00.000000Z");
	assert_string_equal(fmt("today", mon), "2024-03-31T22:00:00.000000Z");
	int64_t after_fall = INT64_C(1730106000) * S;	/* 2024-10-28T09:00Z */
	assert_string_equal(fmt("yesterday", after_fall),
			    "2024-10-26T22:00:00.000000Z");
	/* Relative spans are exact durations, whatever the clocks did. */
	assert_string_equal(fmt("24h", mon), "2024-03-31T10:00:00.000000Z");
}

static void
test_dst_gap_at_midnight(void **state)
{
	(void)state;
	/* America/Santiago 2022-09-11: 00:00 -> 01:00; the day starts at 01:00. */
	set_tz("America/Santiago");
	int64_t noon = INT64_C(1662912000) * S;	/* 2022-09-11T16:00Z */
	assert_string_equal(fmt("today", noon), "2022-09-11T04:00:00.000000Z");
	bad("2022-09-11 00:30", "does not exist");
}

static void
test_keywords(void **state)
{
	(void)state;
	set_tz("UTC");
	assert_int_equal(ok("now", NOW), NOW);
	assert_int_equal(ok("NOW", NOW), NOW);
	assert_int_equal(ok("recent", NOW), NOW - 600 * S);
	assert_string_equal(fmt("today", NOW), "2024-05-15T00:00:00.000000Z");
	assert_string_equal(fmt("yesterday", NOW), "2024-05-14T00:00:00.000000Z");
	/* 2024-05-15 is a Wednesday: the week began Monday the 13th. */
	assert_string_equal(fmt("this-week", NOW), "2024-05-13T00:00:00.000000Z");
	assert_string_equal(fmt("this-month", NOW), "2024-05-01T00:00:00.000000Z");
	assert_string_equal(fmt("this-year", NOW), "2024-01-01T00:00:00.000000Z");
	/* On a Monday and a Sunday. */
	int64_t monday = INT64_C(1715558400) * S + 1;	/* 2024-05-13T00:00Z */
	assert_string_equal(fmt("this-week", monday), "2024-05-13T00:00:00.000000Z");
	int64_t sunday = INT64_C(1716163199) * S;	/* 2024-05-19T23:59:59Z */
	assert_string_equal(fmt("this-week", sunday), "2024-05-13T00:00:00.000000Z");
	/* Local zone decides which day it is. */
	set_tz("Asia/Tokyo");
	assert_string_equal(fmt("today", NOW), "2024-05-14T15:00:00.000000Z");
	set_tz("America/Los_Angeles");
	assert_string_equal(fmt("today", NOW), "2024-05-15T07:00:00.000000Z");
}

static void
test_spans(void **state)
{
	(void)state;
	set_tz("UTC");
	assert_int_equal(ok("30m", NOW), NOW - 1800 * S);
	assert_int_equal(ok("24h", NOW), NOW - 86400 * S);
	assert_int_equal(ok("7d", NOW), NOW - 7 * 86400 * S);
	assert_int_equal(ok("2w", NOW), NOW - 14 * 86400 * S);
	assert_int_equal(ok("45s", NOW), NOW - 45 * S);
	assert_int_equal(ok("2 hours ago", NOW), NOW - 7200 * S);
	assert_int_equal(ok("1 hour ago", NOW), NOW - 3600 * S);
	assert_int_equal(ok("90 min", NOW), NOW - 5400 * S);
	assert_int_equal(ok("3 days ago", NOW), NOW - 3 * 86400 * S);
	assert_int_equal(ok("10minutes", NOW), NOW - 600 * S);
	assert_int_equal(ok("5 Seconds Ago", NOW), NOW - 5 * S);
	assert_int_equal(ok("0m", NOW), NOW);
}

static void
test_bad_input(void **state)
{
	(void)state;
	set_tz("UTC");
	bad(NULL, "no time");
	bad("", "empty");
	bad("   ", "empty");
	bad("tomorrow", "not a time");
	bad("last week", "not a time");
	bad("5", "not a time");
	bad("5 parsecs", "not a time");
	bad("30m ahead", "not a time");
	bad("-30m", "not a time");
	bad("ago", "not a time");
	bad("2024-13-01", "no such date");
	bad("2023-02-29", "no such date");
	bad("2024-04-31", "no such date");
	bad("2024-00-10", "no such date");
	bad("2024-05-01 24:00", "no such time");
	bad("2024-05-01 12:60", "no such time");
	bad("2024-05-01T12", "not a date");
	bad("2024-05-01T12:00:00+25:00", "zone");
	bad("2024-05-01T12:00:00 PST", "not a date");
	bad("2024-05-01T12:00:00.Z", "not a date");
	bad("2024-5-1", "not a date");
	bad("2024-05-01x", "not a date");
	bad("2024-05-01Z", "not a date");
	bad("99999999999999999999d", "too large");
	bad("1000000000 weeks", "too large");
	bad("now\n", "control");
	bad("2024-05-01\t12:00", "control");
	char big[300];
	memset(big, '1', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	bad(big, "too long");
	/* A short error buffer is still terminated. */
	char err[8];
	int64_t us;
	assert_int_equal(timespec_parse("bogus", NOW, &us, err, sizeof err),
			 -EINVAL);
	assert_int_equal(strlen(err), 7);
}

static void
test_format_and_stored(void **state)
{
	(void)state;
	char buf[TIMESPEC_BUFLEN];
	int64_t us;
	timespec_format(0, buf);
	assert_string_equal(buf, "1970-01-01T00:00:00.000000Z");
	timespec_format(-1, buf);
	assert_string_equal(buf, "1969-12-31T23:59:59.999999Z");
	timespec_format(INT64_MAX, buf);
	assert_string_equal(buf, "9999-12-31T23:59:59.999999Z");
	timespec_format(INT64_MIN, buf);
	assert_string_equal(buf, "0000-01-01T00:00:00.000000Z");
	timespec_format(NOW, buf);
	assert_string_equal(buf, "2024-05-15T10:20:30.500000Z");
	assert_int_equal(timespec_parse_stored(buf, strlen(buf), &us), 0);
	assert_int_equal(us, NOW);
	assert_int_equal(timespec_parse_stored("2024-05-15T10:20:30Z", 20, &us), 0);
	assert_int_equal(us, NOW - 500000);
	assert_int_equal(timespec_parse_stored("2024-05-15 10:20:30Z", 20, &us),
			 -EINVAL);
	assert_int_equal(timespec_parse_stored("2024-05-15T10:20:30.5x", 22, &us),
			 -EINVAL);
	assert_int_equal(timespec_parse_stored("2024-05-15T10:20:30", 19, &us),
			 -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc3339),
		cmocka_unit_test(test_local_dates),
		cmocka_unit_test(test_dst_berlin),
		cmocka_unit_test(test_dst_gap_at_midnight),
		cmocka_unit_test(test_keywords),
		cmocka_unit_test(test_spans),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_format_and_stored),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
