/* SPDX-License-Identifier: MIT */
/*
 * fuzz_conf.c - libFuzzer target for the INI configuration parser: any
 * input either loads or fails with a "PATH:LINE: reason" message, never
 * crashes or leaks, and what loads compiles or fails the same way.  The
 * input is handed over through a memfd path.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf c;
	char err[512], path[64];
	int fd = memfd_create("fuzz_conf", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	if (conf_defaults(&c) == 0) {
		int rc = conf_load(&c, path, err, sizeof err);
		if (rc != 0 && strncmp(err, path, strlen(path)) != 0)
			__builtin_trap();
		/* What loaded compiles, or fails naming a file (patterns, and
		 * the one secret_flags builds). */
		if (rc == 0 && conf_finish(&c, err, sizeof err) != 0 &&
		    strncmp(err, path, strlen(path)) != 0 &&
		    strncmp(err, CONF_DEFAULT_NAME, strlen(CONF_DEFAULT_NAME)) != 0 &&
		    strcmp(err, "out of memory") != 0)
			__builtin_trap();
		if (!c.socket || !c.database || !c.key)
			__builtin_trap();
		conf_free(&c);
	}
	close(fd);
	return 0;
}
