/* SPDX-License-Identifier: MIT */
/* uring - io_uring_setup through syscall(): prints "ok" or the errno name. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <linux/io_uring.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int
main(void)
{
	struct io_uring_params p;
	memset(&p, 0, sizeof p);
	long fd = syscall(SYS_io_uring_setup, 4, &p);
	if (fd < 0) {
		printf("io_uring_setup %s\n", strerrorname_np(errno));
		return 1;
	}
	printf("io_uring_setup ok\n");
	close((int)fd);
	return 0;
}
