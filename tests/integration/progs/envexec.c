/* SPDX-License-Identifier: MIT */
/*
 * envexec - execve(argv after "--") with exactly the environment entries
 * given before it, duplicates and order kept (env(1) cannot make
 * duplicate entries).  "-" alone before "--" means an empty envp, and
 * "-x" makes the call through execvpe instead.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	char *envp[256];
	int n = 0, i = 1, vp = 0;

	for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "-") == 0)
			continue;
		if (strcmp(argv[i], "-x") == 0) {
			vp = 1;
			continue;
		}
		if (n < 255)
			envp[n++] = argv[i];
	}
	envp[n] = NULL;
	if (i + 1 >= argc)
		return 2;
	if (vp)
		execvpe(argv[i + 1], argv + i + 1, envp);
	else
		execve(argv[i + 1], argv + i + 1, envp);
	perror("envexec");
	return 127;
}
