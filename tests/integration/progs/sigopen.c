/* SPDX-License-Identifier: MIT */
/*
 * sigopen.c - opens files from a signal handler (SIGALRM every 200 us)
 * while the main loop opens files too: a hook entered from a handler
 * that interrupted another hook.  Usage: sigopen DIR N.  Prints how many
 * opens the handler and the loop made; exits 0 if every open succeeded.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static const char *dir;
static volatile sig_atomic_t in_handler, failed;

static void
on_alarm(int sig)
{
	char path[512];
	int saved = errno;
	(void)sig;
	/* Async-signal-safe path building. */
	size_t n = strlen(dir);
	if (n + 4 >= sizeof path)
		return;
	memcpy(path, dir, n);
	memcpy(path + n, "/h", 3);
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd < 0 || write(fd, "h", 1) != 1)
		failed = 1;
	if (fd >= 0)
		close(fd);
	in_handler++;
	/* The handler must not change errno seen by the interrupted code. */
	errno = saved;
}

int
main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	dir = argv[1];
	int n = atoi(argv[2]);
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = { { 0, 200 }, { 0, 200 } };
	setitimer(ITIMER_REAL, &it, NULL);
	char path[512];
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof path, "%s/m%d", dir, i % 16);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0) {
			failed = 1;
			continue;
		}
		close(fd);
	}
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);
	printf("main %d handler %s\n", n, in_handler > 0 ? "ran" : "idle");
	return failed;
}
