/* SPDX-License-Identifier: MIT */
/*
 * seccomp_deny - a sandbox that refuses socket(2) with EPERM, as some
 * seccomp profiles do.  Installs the filter, checks it works, writes
 * files for a while (long enough for a shim that retries its connection
 * to try many times), forks a writer child, then re-executes itself as
 * "child": that image starts with the filter already in place.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int
deny_socket(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof f / sizeof f[0], .filter = f };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

static int
writes(const char *who, int n, int pause_us)
{
	char name[64];
	int ok = 0;
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof name, "sc-%s-%d", who, i % 4);
		errno = 0;
		int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0 && errno == 0 && write(fd, "x", 1) == 1)
			ok++;
		if (fd >= 0)
			close(fd);
		if (pause_us)
			usleep(pause_us);
	}
	return ok;
}

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "child") == 0) {
		printf("child writes %d\n", writes("child", 100, 1000));
		return 0;
	}
	if (deny_socket() != 0) {
		perror("seccomp");
		return 3;
	}
	errno = 0;
	int s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	printf("socket %d %s\n", s, strerrorname_np(errno));
	printf("parent writes %d\n", writes("parent", 200, 2000));
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		printf("fork child writes %d\n", writes("fork", 50, 1000));
		fflush(stdout);
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	printf("fork child status %d\n", st);
	fflush(stdout);
	execl("/proc/self/exe", argv[0], "child", (char *)NULL);
	perror("exec");
	return 4;
}
