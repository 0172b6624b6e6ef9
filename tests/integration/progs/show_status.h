/* SPDX-License-Identifier: MIT */
/*
 * show_status.h - prints a wait status (or -1 and errno) the way the
 * differential test programs compare it, for sysdiff.c and popendiff.c.
 */
#ifndef SHOW_STATUS_H
#define SHOW_STATUS_H

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

static void
show(const char *what, int st)
{
	if (st == -1)
		printf("%s -1 errno=%s\n", what, strerrorname_np(errno));
	else if (WIFEXITED(st))
		printf("%s exit %d\n", what, WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		printf("%s signal %d\n", what, WTERMSIG(st));
	else
		printf("%s raw %d\n", what, st);
	fflush(stdout);
}

#endif
