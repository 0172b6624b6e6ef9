/* SPDX-License-Identifier: MIT */
/*
 * pathsearch.c - children that run on their parent's memory and try one
 * directory of a search path after another before they exec, the way
 * CPython's _posixsubprocess and execvp do.  Usage:
 *   pathsearch vfork N NDIRS
 *       N vfork children, one after the other: each closes every
 *       inherited descriptor above 2 (close_fds), fails NDIRS execs along
 *       /nonexistent-auditshim/dK/prog, then execs /bin/true.
 *   pathsearch files N NDIRS
 *       N clone(CLONE_VM | CLONE_VFORK | CLONE_FILES) children sharing the
 *       parent's descriptor table: each fails NDIRS execs and exits.
 *       Prints "fds BEFORE AFTER": the parent's open descriptors before
 *       the first child and after the last.
 * Exits 0 when every child exited 0 (and, for files, nothing leaked).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_DIRS 64

static char paths[MAX_DIRS][64];
static int ndirs;
static char *const args[] = { "prog", NULL };
static char *const no_env[] = { NULL };

static void
try_paths(void)
{
	for (int d = 0; d < ndirs; d++)
		execve(paths[d], args, no_env);
}

static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	if (d == NULL)
		return -1;
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

static int
files_child(void *arg)
{
	(void)arg;
	try_paths();
	return 0;
}

static int
reap(pid_t pid)
{
	int st;
	if (pid < 0 || waitpid(pid, &st, __WALL) != pid)
		return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

int
main(int argc, char **argv)
{
	if (argc != 4 || (strcmp(argv[1], "vfork") && strcmp(argv[1], "files"))) {
		fprintf(stderr, "usage: pathsearch vfork|files N NDIRS\n");
		return 2;
	}
	int n = atoi(argv[2]);
	ndirs = atoi(argv[3]);
	if (ndirs < 0 || ndirs > MAX_DIRS)
		ndirs = MAX_DIRS;
	for (int d = 0; d < ndirs; d++)
		snprintf(paths[d], sizeof paths[d], "/nonexistent-auditshim/d%d/prog", d);

	int rc = 0;
	if (strcmp(argv[1], "vfork") == 0) {
		for (int i = 0; i < n; i++) {
			pid_t p = vfork();
			if (p == 0) {
				for (int fd = 3; fd < 1024; fd++)
					close(fd);
				try_paths();
				char *const t[] = { "true", NULL };
				execve("/bin/true", t, no_env);
				_exit(127);
			}
			if (reap(p) != 0)
				rc = 1;
		}
		return rc;
	}

	static char stack[256 * 1024];
	int before = count_fds();
	for (int i = 0; i < n; i++) {
		pid_t p = clone(files_child, stack + sizeof stack,
				CLONE_VM | CLONE_VFORK | CLONE_FILES | SIGCHLD, NULL);
		if (reap(p) != 0)
			rc = 1;
	}
	int after = count_fds();
	printf("fds %d %d\n", before, after);
	return rc || before < 0 || before != after;
}
