/* SPDX-License-Identifier: MIT */
/*
 * earlyopen.c - a library whose constructor writes the file named by
 * EARLY_FILE.  A program linked with it runs that constructor before the
 * shim's own (dependencies of the program are initialised before a
 * preloaded library that does not need them), so the shim initialises
 * itself from inside the open hook: the path that resolves its symbols
 * with dlsym alone (shim/init.c, init_from_ctor).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

int earlyopen_ran;

__attribute__((constructor)) static void
early(void)
{
	const char *p = getenv("EARLY_FILE");
	if (p != NULL) {
		int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			earlyopen_ran = 1;
			close(fd);
		}
	}
}
