/* SPDX-License-Identifier: MIT */
/*
 * fuzz_timespec.c - libFuzzer target for auditctl's time syntax
 * (tools/timespec.c): any input is either a time, which formats and
 * re-parses to the same instant, or a refusal with a message; never a
 * crash, an overrun or an unterminated message.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "timespec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int zone_set;
	char text[512], err[160], buf[TIMESPEC_BUFLEN];
	int64_t us = 0, back = 0;
	const int64_t now = INT64_C(1711879200000000);	/* 2024-03-31T10:00Z */

	if (!zone_set) {
		/* A zone with daylight saving, so gaps and folds are reached. */
		setenv("TZ", "Europe/Berlin", 1);
		zone_set = 1;
	}
	if (size >= sizeof text)
		size = sizeof text - 1;
	memcpy(text, data, size);
	text[size] = '\0';
	memset(err, 'x', sizeof err);
	int rc = timespec_parse(text, now, &us, err, sizeof err);
	if (rc != 0) {
		if (rc != -EINVAL || memchr(err, '\0', sizeof err) == NULL ||
		    err[0] == '\0')
			__builtin_trap();
		return 0;
	}
	timespec_format(us, buf);
	if (strlen(buf) != 27)
		__builtin_trap();
	/* Within the formattable range, the store's text is the instant. */
	if (us >= 0 && us < INT64_C(253402300800000000) &&
	    (timespec_parse_stored(buf, strlen(buf), &back) != 0 || back != us))
		__builtin_trap();
	return 0;
}
