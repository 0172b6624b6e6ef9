/* SPDX-License-Identifier: MIT */
/*
 * forker.c - concurrency workload for the shim: threads writing files,
 * forked children writing files, and a vfork child that execs.  Usage:
 *   forker DIR NTHREADS NCHILDREN NFILES
 * Writes DIR/t<i>_<k>, DIR/c<i>_<k>; exits 0 when everything succeeded.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *dir;
static int nfiles;

static int
write_one(const char *prefix, int i, int k)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s%d_%d", dir, prefix, i, k);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	int ok = write(fd, path, strlen(path)) == (ssize_t)strlen(path);
	return close(fd) == 0 && ok ? 0 : -1;
}

static void *
thread_main(void *arg)
{
	int i = (int)(long)arg;
	for (int k = 0; k < nfiles; k++)
		if (write_one("t", i, k) < 0)
			return (void *)1;
	return NULL;
}

int
main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: forker DIR NTHREADS NCHILDREN NFILES\n");
		return 2;
	}
	dir = argv[1];
	int nthreads = atoi(argv[2]), nchildren = atoi(argv[3]);
	nfiles = atoi(argv[4]);
	pthread_t th[64];
	int rc = 0;

	if (nthreads > 64)
		nthreads = 64;
	for (int i = 0; i < nthreads; i++)
		if (pthread_create(&th[i], NULL, thread_main, (void *)(long)i))
			return 1;
	/* fork while the threads are busy: the atfork path must hold. */
	for (int i = 0; i < nchildren; i++) {
		pid_t p = fork();
		if (p < 0)
			return 1;
		if (p == 0) {
			for (int k = 0; k < nfiles; k++)
				if (write_one("c", i, k) < 0)
					_exit(1);
			_exit(0);
		}
	}
	/* vfork + execve: the child runs on our memory until it execs. */
	pid_t v = vfork();
	if (v == 0) {
		char *args[] = { "true", NULL };
		char *envp[] = { "VFORKED=1", NULL };
		execve("/bin/true", args, envp);
		_exit(127);
	}
	if (v < 0)
		return 1;
	for (int i = 0; i < nthreads; i++) {
		void *r;
		pthread_join(th[i], &r);
		if (r)
			rc = 1;
	}
	int st;
	pid_t w;
	while ((w = wait(&st)) > 0 || (w < 0 && errno == EINTR))
		if (w > 0 && (!WIFEXITED(st) || WEXITSTATUS(st) != 0))
			rc = 1;
	return rc;
}
