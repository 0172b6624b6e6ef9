/* SPDX-License-Identifier: MIT */
/*
 * entry_points - calls, in the current directory, each libc entry point whose
 * internal system calls no execve/open hook would see: temporary files,
 * remove, the old __xmknod, the older resolver functions, posix_spawn
 * file actions and raw syscall().  Prints one line per step (the same
 * with and without the shim); the test reads the records.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* The pre-2.33 name, as an old binary would call it (_MKNOD_VER 0). */
int __xmknod(int ver, const char *path, mode_t mode, dev_t *dev);

extern char **environ;

static void
step(const char *name, long rc)
{
	printf("%s %s errno=%s\n", name, rc < 0 ? "fail" : "ok",
	       rc < 0 ? strerrorname_np(errno) : "-");
	fflush(stdout);
}

int
main(void)
{
	char t[64];
	int fd;

	/* Temporary files. */
	FILE *fp = tmpfile();
	step("tmpfile", fp ? 0 : -1);
	if (fp)
		fclose(fp);
	strcpy(t, "cov-stemp-XXXXXX");
	fd = mkstemp(t);
	step("mkstemp", fd);
	close(fd);
	strcpy(t, "cov-ostemp-XXXXXX");
	fd = mkostemp(t, O_CLOEXEC);
	step("mkostemp", fd);
	close(fd);
	strcpy(t, "cov-stemps-XXXXXX.txt");
	fd = mkstemps(t, 4);
	step("mkstemps", fd);
	close(fd);
	strcpy(t, "cov-ostemps-XXXXXX.txt");
	fd = mkostemps(t, 4, O_APPEND);
	step("mkostemps", fd);
	close(fd);
	strcpy(t, "cov-dtemp-XXXXXX");
	char *d = mkdtemp(t);
	step("mkdtemp", d ? 0 : -1);

	/* remove(): a file, then a directory. */
	fd = open("cov-remove-file", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	close(fd);
	step("remove-file", remove("cov-remove-file"));
	if (d)
		step("remove-dir", remove(d));
	step("remove-missing", remove("cov-no-such-file"));

	/* mknod and the old __xmknod name: FIFOs need no privilege. */
	step("mknod", mknod("cov-fifo1", S_IFIFO | 0600, 0));
	dev_t dev = 0;
	step("__xmknod", __xmknod(0, "cov-fifo2", S_IFIFO | 0600, &dev));

	/* Resolver functions other than getaddrinfo ("localhost": /etc/hosts). */
	struct hostent *h = gethostbyname("localhost");
	step("gethostbyname", h ? 0 : -1);
	h = gethostbyname2("localhost", AF_INET);
	step("gethostbyname2", h ? 0 : -1);
	struct hostent he, *res = NULL;
	char buf[4096];
	int herr = 0;
	int rc = gethostbyname_r("localhost", &he, buf, sizeof buf, &res, &herr);
	step("gethostbyname_r", rc == 0 && res ? 0 : -1);
	h = gethostbyname("cov-no-such-host.invalid");
	step("gethostbyname-missing", h ? 0 : -1);
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(80) };
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	char host[256];
	rc = getnameinfo((struct sockaddr *)&sin, sizeof sin, host, sizeof host,
			 NULL, 0, NI_NAMEREQD);
	step("getnameinfo", rc == 0 ? 0 : -1);

	/* posix_spawn file actions: the child writes through addopen. */
	mkdir("cov-sub", 0755);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "cov-spawn-out",
					 O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_addchdir_np(&fa, "cov-sub");
	int dfd = open(".", O_RDONLY | O_DIRECTORY);
	posix_spawn_file_actions_addfchdir_np(&fa, dfd);
	pid_t pid;
	char *argv[] = { (char *)"/bin/echo", (char *)"spawned", NULL };
	rc = posix_spawn(&pid, "/bin/echo", &fa, NULL, argv, environ);
	int st = -1;
	if (rc == 0)
		waitpid(pid, &st, 0);
	step("posix_spawn-actions", rc == 0 && st == 0 ? 0 : -1);
	posix_spawn_file_actions_destroy(&fa);
	close(dfd);

	/* Raw system calls. */
	long r = syscall(SYS_openat, AT_FDCWD, "cov-sys-open",
			 O_WRONLY | O_CREAT | O_TRUNC, 0640);
	step("syscall-openat", r);
	if (r >= 0)
		close((int)r);
	step("syscall-renameat2", syscall(SYS_renameat2, AT_FDCWD, "cov-sys-open",
					  AT_FDCWD, "cov-sys-renamed", 0));
	step("syscall-mkdirat", syscall(SYS_mkdirat, AT_FDCWD, "cov-sys-dir", 0750));
	step("syscall-unlinkat", syscall(SYS_unlinkat, AT_FDCWD, "cov-sys-renamed", 0));
	step("syscall-unlinkat-dir", syscall(SYS_unlinkat, AT_FDCWD, "cov-sys-dir",
					     AT_REMOVEDIR));
	step("syscall-getpid", syscall(SYS_getpid) == getpid() ? 0 : -1);
	pid = fork();
	if (pid == 0) {
		char *xa[] = { (char *)"/bin/true", (char *)"from-syscall", NULL };
		syscall(SYS_execve, "/bin/true", xa, environ);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	step("syscall-execve", WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1);
	return 0;
}
