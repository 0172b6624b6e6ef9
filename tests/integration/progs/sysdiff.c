/* SPDX-License-Identifier: MIT */
/*
 * sysdiff - system() semantics an application can observe, printed to
 * stdout so runs with and without the shim can be compared byte for
 * byte.  LD_PRELOAD is removed from environ first (as an agent might):
 * under the shim system() must still start its shell shimmed, which the
 * child reports on stderr only.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "show_status.h"

static volatile sig_atomic_t got_int;

static void
on_int(int sig)
{
	(void)sig;
	got_int++;
}

static void
state(const char *when)
{
	struct sigaction sa;
	sigset_t m;
	sigaction(SIGINT, NULL, &sa);
	printf("%s: SIGINT %s", when, sa.sa_handler == on_int ? "handler" :
	       sa.sa_handler == SIG_IGN ? "ignored" : "default");
	sigaction(SIGQUIT, NULL, &sa);
	printf(" SIGQUIT %s", sa.sa_handler == SIG_IGN ? "ignored" : "other");
	sigprocmask(SIG_BLOCK, NULL, &m);
	printf(" USR1 %s CHLD %s got_int=%d\n",
	       sigismember(&m, SIGUSR1) ? "blocked" : "open",
	       sigismember(&m, SIGCHLD) ? "blocked" : "open", (int)got_int);
	fflush(stdout);
}

static void *
sleeper(void *arg)
{
	(void)arg;
	return (void *)(long)system("sleep 0.3");
}

int
main(void)
{
	unsetenv("LD_PRELOAD");
	signal(SIGINT, on_int);
	signal(SIGQUIT, SIG_IGN);
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	sigprocmask(SIG_BLOCK, &m, NULL);
	state("before");

	show("exit3", system("exit 3"));
	printf("null %d\n", system(NULL));
	show("term", system("kill -TERM $$"));
	/*
	 * The shell's own view: what it ignores and blocks.  Read by the
	 * shell itself: a child (grep) reading /proc/$$/status can catch
	 * dash between vfork and restoring its mask, with every signal
	 * blocked, whenever the child gets a CPU before its parent does.
	 */
	show("status", system("while read -r k v; do case $k in "
			      "SigBlk:|SigIgn:) echo \"$k $v\";; esac; "
			      "done < /proc/$$/status"));
	/* SIGINT to the caller while system() runs is ignored. */
	show("int", system("kill -INT $PPID; sleep 0.1; echo after-int"));
	state("after");
	/* Two threads at once: dispositions restored only after the last. */
	pthread_t t1, t2;
	pthread_create(&t1, NULL, sleeper, NULL);
	pthread_create(&t2, NULL, sleeper, NULL);
	void *r1, *r2;
	pthread_join(t1, &r1);
	pthread_join(t2, &r2);
	show("thread1", (int)(long)r1);
	show("thread2", (int)(long)r2);
	state("threads");
	show("touch", system("touch sys-marker && test -f sys-marker"));
	errno = 0;
	show("missing", system("exec /nonexistent/prog 2>/dev/null"));
	system("echo child-preload=${LD_PRELOAD:+set} >&2");
	return 0;
}
