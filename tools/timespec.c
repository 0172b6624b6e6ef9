/* SPDX-License-Identifier: MIT */
/*
 * timespec.c - parsing auditctl's time syntax (timespec.h).  Calendar
 * arithmetic is done here on integers (days_from_civil); only the local
 * time zone's offsets come from localtime_r(), probed around the instant
 * in question so that daylight-saving gaps and folds are detected rather
 * than guessed by mktime().
 */
#include "timespec.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define US_PER_SEC INT64_C(1000000)
#define SEC_PER_DAY INT64_C(86400)
/* Relative spans and years are bounded well inside int64 microseconds. */
#define MAX_SPAN_SEC (INT64_C(100000) * 366 * SEC_PER_DAY)

int64_t
timespec_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	/* H. Hinnant's algorithm, valid for the whole proleptic calendar. */
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* The date of day number Z (days since 1970-01-01). */
static void
civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool
leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned
days_in_month(int64_t y, unsigned m)
{
	static const unsigned dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
				       30, 31 };
	return m == 2 && leap(y) ? 29 : dm[m - 1];
}

static void __attribute__((format(printf, 3, 4)))
say(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* UTC offset (seconds east) of the local zone at instant T. */
static bool
local_offset(int64_t t, long *off)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if ((int64_t)tt != t || !localtime_r(&tt, &tm))
		return false;
	*off = tm.tm_gmtoff;
	return true;
}

/* Result of converting a local wall-clock time. */
enum local_kind {
	LOCAL_OK,	/* exactly one instant */
	LOCAL_FOLD,	/* two instants (clocks went back); the earlier chosen */
	LOCAL_GAP,	/* none (clocks skipped it); the instant after chosen */
	LOCAL_RANGE,	/* outside what the C library can convert */
};

/*
 * The instant(s) whose local wall-clock time is NAIVE (seconds, the wall
 * time read as if it were UTC).  The zone's offsets near NAIVE are probed
 * a day either side, which covers every real transition.
 */
static enum local_kind
local_to_utc(int64_t naive, int64_t *out)
{
	static const int64_t probe[] = { -SEC_PER_DAY, -SEC_PER_DAY / 2, 0,
					 SEC_PER_DAY / 2, SEC_PER_DAY };
	long offs[5];
	int noffs = 0;
	int64_t best = 0;
	int hits = 0;

	for (size_t i = 0; i < sizeof probe / sizeof probe[0]; i++) {
		long off;
		if (!local_offset(naive + probe[i], &off))
			return LOCAL_RANGE;
		bool seen = false;
		for (int k = 0; k < noffs; k++)
			seen |= offs[k] == off;
		if (!seen)
			offs[noffs++] = off;
	}
	for (int k = 0; k < noffs; k++) {
		int64_t c = naive - offs[k];
		long off;
		if (!local_offset(c, &off))
			return LOCAL_RANGE;
		if (off != offs[k])
			continue;
		if (hits == 0 || c < best)
			best = c;
		hits++;
	}
	if (hits > 0) {
		*out = best;
		return hits > 1 ? LOCAL_FOLD : LOCAL_OK;
	}
	/*
	 * A gap: read with the offset in force before it (the smaller one
	 * when clocks go forward), the wall time lands just after the gap.
	 */
	long lo = offs[0];
	for (int k = 1; k < noffs; k++)
		if (offs[k] < lo)
			lo = offs[k];
	*out = naive - lo;
	return LOCAL_GAP;
}

/* Local midnight of day number DAY (local calendar), as an instant. */
static bool
local_midnight(int64_t day, int64_t *out)
{
	/* Midnight skipped by a DST change: the day starts after the gap. */
	return local_to_utc(day * SEC_PER_DAY, out) != LOCAL_RANGE;
}

/* Local calendar day number of instant T. */
static bool
local_day(int64_t t, int64_t *day)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if ((int64_t)tt != t || !localtime_r(&tt, &tm))
		return false;
	*day = timespec_days_from_civil((int64_t)tm.tm_year + 1900,
					(unsigned)tm.tm_mon + 1,
					(unsigned)tm.tm_mday);
	return true;
}

/* Reads exactly N digits at *P into *V. */
static bool
digits(const char **p, int n, unsigned *v)
{
	unsigned x = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return false;
		x = x * 10 + (unsigned)((*p)[i] - '0');
	}
	*p += n;
	*v = x;
	return true;
}

/* Seconds of a relative-span unit word, or 0 if W (N bytes) is none. */
static int64_t
unit_seconds(const char *w, size_t n)
{
	static const struct {
		const char *name;	/* spelling */
		int64_t sec;		/* its length */
	} units[] = {
		{ "s", 1 }, { "sec", 1 }, { "secs", 1 }, { "second", 1 },
		{ "seconds", 1 },
		{ "m", 60 }, { "min", 60 }, { "mins", 60 }, { "minute", 60 },
		{ "minutes", 60 },
		{ "h", 3600 }, { "hr", 3600 }, { "hrs", 3600 }, { "hour", 3600 },
		{ "hours", 3600 },
		{ "d", SEC_PER_DAY }, { "day", SEC_PER_DAY },
		{ "days", SEC_PER_DAY },
		{ "w", 7 * SEC_PER_DAY }, { "week", 7 * SEC_PER_DAY },
		{ "weeks", 7 * SEC_PER_DAY },
	};

	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (strlen(units[i].name) == n &&
		    strncasecmp(units[i].name, w, n) == 0)
			return units[i].sec;
	return 0;
}

/*
 * A relative span: "30m", "24h", "7d", "2 hours ago", "90 min".  Returns
 * 1 with *SEC set, 0 if S does not look like one, -1 if it does but is
 * wrong (ERR set).
 */
static int
parse_span(const char *s, int64_t *sec, char *err, size_t errlen)
{
	const char *p = s;
	int64_t n = 0;

	if (!isdigit((unsigned char)*p))
		return 0;
	while (isdigit((unsigned char)*p)) {
		n = n * 10 + (*p++ - '0');
		if (n > MAX_SPAN_SEC) {
			say(err, errlen, "'%s': span too large", s);
			return -1;
		}
	}
	while (*p == ' ')
		p++;
	const char *w = p;
	while (isalpha((unsigned char)*p))
		p++;
	size_t wl = (size_t)(p - w);
	if (wl == 0)
		return 0;
	int64_t unit = unit_seconds(w, wl);
	if (unit == 0)
		return 0;
	while (*p == ' ')
		p++;
	if (strncasecmp(p, "ago", 3) == 0) {
		p += 3;
		while (*p == ' ')
			p++;
	}
	if (*p != '\0')
		return 0;
	if (n > MAX_SPAN_SEC / unit) {
		say(err, errlen, "'%s': span too large", s);
		return -1;
	}
	*sec = n * unit;
	return 1;
}

/*
 * An absolute time: YYYY-MM-DD, optionally followed by ' ' or 'T' and
 * HH:MM[:SS[.fraction]], optionally followed by a zone (Z, UTC, +HH:MM,
 * +HHMM, +HH).  Returns 1 with *US set, 0 if S does not start like a
 * date, -1 if it does but is wrong (ERR set).
 */
static int
parse_absolute(const char *s, int64_t *us, char *err, size_t errlen)
{
	const char *p = s;
	unsigned y, mo, d, h = 0, mi = 0, se = 0;
	int64_t frac = 0;
	bool has_time = false, has_zone = false;
	long zone = 0;

	if (!digits(&p, 4, &y) || *p != '-')
		return 0;
	p++;
	if (!digits(&p, 2, &mo) || *p != '-' || (p++, !digits(&p, 2, &d)))
		goto syntax;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo)) {
		say(err, errlen, "'%s': no such date", s);
		return -1;
	}
	if (*p == 'T' || *p == 't' || (*p == ' ' && isdigit((unsigned char)p[1]))) {
		p++;
		if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
			goto syntax;
		if (*p == ':') {
			p++;
			if (!digits(&p, 2, &se))
				goto syntax;
			if (*p == '.' || *p == ',') {
				int64_t scale = 100000;
				p++;
				if (!isdigit((unsigned char)*p))
					goto syntax;
				for (; isdigit((unsigned char)*p); p++) {
					frac += (*p - '0') * scale;
					scale /= 10;
				}
			}
		}
		if (h > 23 || mi > 59 || se > 60) {
			say(err, errlen, "'%s': no such time of day", s);
			return -1;
		}
		has_time = true;
	}
	if (has_time) {
		const char *z = p;
		while (*z == ' ')
			z++;
		if ((*z == 'Z' || *z == 'z') && z[1] == '\0') {
			has_zone = true;
			p = z + 1;
		} else if (strcasecmp(z, "UTC") == 0) {
			has_zone = true;
			p = z + 3;
		} else if (*z == '+' || *z == '-') {
			unsigned zh, zm = 0;
			const char *q = z + 1;
			if (!digits(&q, 2, &zh))
				goto syntax;
			if (*q == ':')
				q++;
			if (*q != '\0' && !digits(&q, 2, &zm))
				goto syntax;
			if (zh > 23 || zm > 59) {
				say(err, errlen, "'%s': bad zone offset", s);
				return -1;
			}
			zone = (long)(zh * 3600 + zm * 60) * (*z == '-' ? -1 : 1);
			has_zone = true;
			p = q;
		}
	}
	if (*p != '\0')
		goto syntax;

	/* A leap second (:60) is read as the first instant after :59. */
	int64_t naive = timespec_days_from_civil(y, mo, d) * SEC_PER_DAY +
			h * 3600 + mi * 60 + se;
	int64_t t;
	if (has_zone) {
		t = naive - zone;
	} else {
		switch (local_to_utc(naive, &t)) {
		case LOCAL_OK:
		case LOCAL_FOLD:
			break;
		case LOCAL_GAP:
			say(err, errlen, "'%s' does not exist in the local time "
			    "zone (the clocks skipped it for daylight saving); "
			    "give a zone, e.g. '%.10sT%02u:%02u:00Z'", s, s, h, mi);
			return -1;
		default:
			say(err, errlen, "'%s': out of range", s);
			return -1;
		}
	}
	*us = t * US_PER_SEC + frac;
	return 1;
syntax:
	say(err, errlen, "'%s': not a date (want YYYY-MM-DD, YYYY-MM-DD HH:MM"
	    "[:SS], or RFC 3339 such as 2024-05-01T12:00:00Z)", s);
	return -1;
}

int
timespec_parse(const char *s, int64_t now_us, int64_t *out_us, char *err,
	       size_t errlen)
{
	char buf[128];
	int64_t now = now_us / US_PER_SEC - (now_us % US_PER_SEC < 0);
	int64_t day, t;
	int rc;

	if (errlen)
		err[0] = '\0';
	if (!s) {
		say(err, errlen, "no time given");
		return -EINVAL;
	}
	/* Trim surrounding blanks; keep the original for messages. */
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n == 0 || n >= sizeof buf) {
		say(err, errlen, "'%.*s': %s", (int)(n < 64 ? n : 64), s,
		    n == 0 ? "empty time" : "time text too long");
		return -EINVAL;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (!isprint((unsigned char)buf[i])) {
			say(err, errlen, "time contains a control or non-ASCII "
			    "byte");
			return -EINVAL;
		}

	if (strcasecmp(buf, "now") == 0) {
		*out_us = now_us;
		return 0;
	}
	if (strcasecmp(buf, "recent") == 0) {
		*out_us = now_us - 600 * US_PER_SEC;
		return 0;
	}
	static const char *const days[] = { "today", "yesterday", "this-week",
					    "this-month", "this-year" };
	for (size_t k = 0; k < sizeof days / sizeof days[0]; k++) {
		if (strcasecmp(buf, days[k]) != 0)
			continue;
		if (!local_day(now, &day))
			goto range;
		int64_t y;
		unsigned m, d;
		civil_from_days(day, &y, &m, &d);
		switch (k) {
		case 1:
			day -= 1;
			break;
		case 2:
			/* ISO weeks start on Monday; 1970-01-01 was a Thursday. */
			day -= ((day % 7) + 7 + 3) % 7;
			break;
		case 3:
			day = timespec_days_from_civil(y, m, 1);
			break;
		case 4:
			day = timespec_days_from_civil(y, 1, 1);
			break;
		}
		if (!local_midnight(day, &t))
			goto range;
		*out_us = t * US_PER_SEC;
		return 0;
	}

	int64_t span;
	rc = parse_span(buf, &span, err, errlen);
	if (rc < 0)
		return -EINVAL;
	if (rc > 0) {
		*out_us = now_us - span * US_PER_SEC;
		return 0;
	}
	rc = parse_absolute(buf, out_us, err, errlen);
	if (rc < 0)
		return -EINVAL;
	if (rc > 0)
		return 0;
	say(err, errlen, "'%s': not a time (want RFC 3339, 'YYYY-MM-DD "
	    "[HH:MM[:SS]]', a span such as 30m, 24h, 7d or '2 hours ago', or "
	    "now, recent, today, yesterday, this-week, this-month)", buf);
	return -EINVAL;
range:
	say(err, errlen, "'%s': the current time is out of range", buf);
	return -EINVAL;
}

void
timespec_format(int64_t us, char buf[TIMESPEC_BUFLEN])
{
	const int64_t lo = timespec_days_from_civil(0, 1, 1) * SEC_PER_DAY *
			   US_PER_SEC;
	const int64_t hi = (timespec_days_from_civil(10000, 1, 1) * SEC_PER_DAY) *
			   US_PER_SEC - 1;
	if (us < lo)
		us = lo;
	if (us > hi)
		us = hi;
	int64_t sec = us / US_PER_SEC, frac = us % US_PER_SEC;
	if (frac < 0) {
		frac += US_PER_SEC;
		sec--;
	}
	int64_t day = sec / SEC_PER_DAY, rem = sec % SEC_PER_DAY;
	if (rem < 0) {
		rem += SEC_PER_DAY;
		day--;
	}
	int64_t y;
	unsigned m, d;
	civil_from_days(day, &y, &m, &d);
	snprintf(buf, TIMESPEC_BUFLEN,
		 "%04" PRId64 "-%02u-%02uT%02u:%02u:%02u.%06uZ", y, m, d,
		 (unsigned)(rem / 3600), (unsigned)(rem / 60 % 60),
		 (unsigned)(rem % 60), (unsigned)frac);
}

int
timespec_parse_stored(const char *s, size_t n, int64_t *us)
{
	const char *p = s;
	unsigned y, mo, d, h, mi, se;
	int64_t frac = 0, scale = 100000;

	if (n < 20 || s[n - 1] != 'Z')
		return -EINVAL;
	if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) ||
	    *p++ != '-' || !digits(&p, 2, &d) || *p++ != 'T' ||
	    !digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi) ||
	    *p++ != ':' || !digits(&p, 2, &se))
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return -EINVAL;
	if (*p == '.') {
		p++;
		for (; p < s + n - 1; p++) {
			if (!isdigit((unsigned char)*p))
				return -EINVAL;
			frac += (*p - '0') * scale;
			scale /= 10;
		}
	}
	if (p != s + n - 1)
		return -EINVAL;
	*us = (timespec_days_from_civil(y, mo, d) * SEC_PER_DAY + h * 3600 +
	       mi * 60 + se) * US_PER_SEC + frac;
	return 0;
}
