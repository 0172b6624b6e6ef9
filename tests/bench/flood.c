/* SPDX-License-Identifier: MIT */
/*
 * flood.c - a lossless load generator for the writer alone:
 *
 *   flood SOCKET NPROC RECORDS
 *
 * forks NPROC processes; each connects to SOCKET and sends RECORDS open
 * records (the shape the shim sends for open(O_WRONLY|O_CREAT)) with
 * blocking sends, so nothing is dropped and the writer sets the pace.
 * Used by tests/bench/run.sh to measure the writer's own cost per record
 * (its CPU time over a known number of records) without the shim's
 * fail-open behaviour turning an overloaded writer into gaps.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "wire.h"

static uint64_t
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int
child(const char *path, long n, int id)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	unsigned char buf[1024];
	char target[128];
	uint64_t image;

	if (strlen(path) >= sizeof sun.sun_path)
		return 2;
	strcpy(sun.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
		perror("flood: connect");
		return 1;
	}
	if (getrandom(&image, sizeof image, 0) != sizeof image)
		image = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull;
	for (long i = 1; i <= n; i++) {
		struct wire_enc e;
		int tl = snprintf(target, sizeof target,
				  "/var/tmp/flood/worker%d/file-%ld.dat", id, i % 1000);
		wire_enc_init(&e, buf, sizeof buf, WIRE_T_RECORD);
		wire_put_u64(&e, WT_EVENT, WE_OPEN);
		wire_put_u64(&e, WT_PSEQ, (uint64_t)i);
		wire_put_u64(&e, WT_IMAGE, image);
		wire_put_u64(&e, WT_TIME, now_ns());
		wire_put_u64(&e, WT_PPID, (uint64_t)getppid());
		wire_put_str(&e, WT_API, "openat", 6);
		wire_put_u64(&e, WT_OUTCOME, WO_OK);
		wire_put_u64(&e, WT_RESULT, 3);
		wire_put_str(&e, WT_TARGET, target, (size_t)tl);
		wire_put_u64(&e, WT_FLAGS, 0101);
		wire_put_u64(&e, WT_MODE, 0644);
		size_t len = wire_enc_finish(&e);
		if (send(fd, buf, len, MSG_NOSIGNAL) != (ssize_t)len) {
			perror("flood: send");
			return 1;
		}
	}
	close(fd);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: flood SOCKET NPROC RECORDS\n");
		return 2;
	}
	int nproc = atoi(argv[2]);
	long n = atol(argv[3]);
	int rc = 0;

	for (int i = 0; i < nproc; i++) {
		pid_t p = fork();
		if (p == 0)
			_exit(child(argv[1], n, i));
		if (p < 0) {
			perror("flood: fork");
			return 1;
		}
	}
	for (int i = 0; i < nproc; i++) {
		int st;
		if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			rc = 1;
	}
	return rc;
}
