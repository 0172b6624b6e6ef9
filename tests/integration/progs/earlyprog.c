/* SPDX-License-Identifier: MIT */
/*
 * earlyprog.c - linked with libearlyopen (whose constructor writes a file
 * before the shim's constructor runs), then writes ARGV[1] itself.
 * Exits 0 if both writes happened.
 */
#include <fcntl.h>
#include <unistd.h>

extern int earlyopen_ran;

int
main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return 1;
	close(fd);
	return earlyopen_ran ? 0 : 1;
}
