/* SPDX-License-Identifier: MIT */
/*
 * spawn_compat - binds posix_spawn/posix_spawnp to the GLIBC_2.2.5 compat
 * versions, like a binary linked against glibc < 2.15, and spawns
 * argv[1] (a script without "#!"): the compat versions run it through
 * /bin/sh, the default versions fail with ENOEXEC.  argv[2] "new" uses
 * the default versions instead (through dlvsym, for the contrast).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

__asm__(".symver posix_spawn,posix_spawn@GLIBC_2.2.5");
__asm__(".symver posix_spawnp,posix_spawnp@GLIBC_2.2.5");

extern char **environ;

static void
run(const char *what, int rc, pid_t pid)
{
	int st = 0;
	if (rc == 0 && waitpid(pid, &st, 0) != pid)
		st = -1;
	printf("%s rc=%d status=%d\n", what, rc,
	       rc == 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	pid_t pid;
	int rc;
	char *args[] = { argv[1], (char *)"arg1", NULL };

	if (argc < 2)
		return 2;
	if (argc > 2 && strcmp(argv[2], "new") == 0) {
		__typeof__(posix_spawn) *ps = dlvsym(RTLD_DEFAULT, "posix_spawn",
						     "GLIBC_2.15");
		rc = ps(&pid, argv[1], NULL, NULL, args, environ);
		run("posix_spawn@GLIBC_2.15", rc, pid);
		return 0;
	}
	rc = posix_spawn(&pid, argv[1], NULL, NULL, args, environ);
	run("posix_spawn@GLIBC_2.2.5", rc, pid);
	/* posix_spawnp with a name found on PATH (argv[1]'s directory). */
	const char *base = strrchr(argv[1], '/');
	base = base ? base + 1 : argv[1];
	args[0] = (char *)base;
	rc = posix_spawnp(&pid, base, NULL, NULL, args, environ);
	run("posix_spawnp@GLIBC_2.2.5", rc, pid);
	return 0;
}
