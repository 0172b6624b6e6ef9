/* SPDX-License-Identifier: MIT */
/*
 * closer.c - a program hostile to descriptors it does not own: it closes
 * everything (close_range, a /proc/self/fd loop), takes high descriptor
 * numbers for itself with dup2, and relies on close(1); open() returning 1.
 * Usage: closer DIR.  Prints "fd=1" and the byte counts; exits 0 if every
 * step behaved as POSIX says.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *dir;

static int
write_file(const char *name, const char *text)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

int
main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	dir = argv[1];
	int rc = 0;

	/* 1. A first write: the shim, if any, connects here. */
	rc |= write_file("a.txt", "first\n");
	/* 2. closefrom(3) the modern way. */
	if (syscall(SYS_close_range, 3, ~0u, 0) != 0)
		rc |= 1;
	rc |= write_file("b.txt", "second\n");
	/* 3. The classic /proc/self/fd loop. */
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return 1;
	int dfd = dirfd(d), fds[4096], n = 0;
	struct dirent *de;
	while ((de = readdir(d)) && n < 4096) {
		int fd = atoi(de->d_name);
		if (de->d_name[0] != '.' && fd > 2 && fd != dfd)
			fds[n++] = fd;
	}
	closedir(d);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	rc |= write_file("c.txt", "third\n");
	/* 4. Take the high descriptor numbers ourselves (bash: exec 1000>f). */
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	int top = rl.rlim_cur > 1024 ? 1024 : (int)rl.rlim_cur;
	char path[4096];
	snprintf(path, sizeof path, "%s/d.txt", dir);
	int mine = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (mine < 0)
		return 1;
	for (int fd = top - 128; fd < top; fd++)
		if (fd != mine && dup2(mine, fd) != fd)
			rc |= 1;
	/* Writes in between must not put record bytes into d.txt. */
	rc |= write_file("e.txt", "fifth\n");
	if (write(top - 1, "mine\n", 5) != 5)
		rc |= 1;
	for (int fd = top - 128; fd < top; fd++)
		if (fd != mine)
			close(fd);
	close(mine);
	rc |= write_file("f.txt", "sixth\n");
	/* 5. close(1); open() must hand back 1. */
	fflush(stdout);
	close(1);
	snprintf(path, sizeof path, "%s/g.txt", dir);
	int one = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (one != 1)
		rc |= 1;
	printf("fd=%d\n", one);
	fflush(stdout);
	return rc;
}
