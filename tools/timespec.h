/* SPDX-License-Identifier: MIT */
/*
 * timespec.h - the time syntax of auditctl's --since/--until: RFC 3339,
 * "YYYY-MM-DD[ HH:MM[:SS]]" in local time unless a zone is given, relative
 * spans ("30m", "2 hours ago") and keywords ("today", "this-week").  Pure
 * functions: no I/O beyond the C library's time zone data (TZ), no global
 * state, so they are tested with a fixed "now".  See auditctl(1), TIME.
 */
#ifndef AUDITSHIM_TIMESPEC_H
#define AUDITSHIM_TIMESPEC_H

#include <stddef.h>
#include <stdint.h>

/* Buffer size for timespec_format(): "YYYY-MM-DDTHH:MM:SS.ffffffZ" + NUL. */
#define TIMESPEC_BUFLEN 32

/*
 * Parses S as a point in time, relative words resolved against NOW_US
 * (microseconds since the epoch) and dates without a zone in the local
 * time zone (TZ).  Returns 0 with *OUT_US set, or -EINVAL with a sentence
 * naming S and what was expected in ERR (ERRLEN bytes, always
 * NUL-terminated).  A local time that does not exist (skipped by a
 * daylight-saving change) is an error; an ambiguous one (repeated when
 * clocks go back) is the earlier instant.  Not async-signal-safe
 * (localtime_r).
 */
int timespec_parse(const char *s, int64_t now_us, int64_t *out_us,
		   char *err, size_t errlen);

/*
 * Writes US (microseconds since the epoch) in the store's time format,
 * RFC 3339 UTC with six fraction digits, into BUF.  Years outside
 * 0000..9999 are clamped to the nearest representable instant, so the
 * text always compares correctly with stored times.
 */
void timespec_format(int64_t us, char buf[TIMESPEC_BUFLEN]);

/*
 * Parses the store's own time text ("YYYY-MM-DDTHH:MM:SS[.f...]Z", N
 * bytes, no NUL needed) into *US.  Fast and strict, for per-row use.
 * Returns 0, or -EINVAL if S is not in that format.
 */
int timespec_parse_stored(const char *s, size_t n, int64_t *us);

/* Days since 1970-01-01 of the proleptic Gregorian date Y-M-D. */
int64_t timespec_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
