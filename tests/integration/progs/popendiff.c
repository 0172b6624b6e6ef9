/* SPDX-License-Identifier: MIT */
/*
 * popendiff - popen()/pclose() semantics an application can observe,
 * printed to stdout so runs with and without the shim compare byte for
 * byte.  The first phase keeps LD_PRELOAD (streams of glibc's popen next
 * to the shim's own); then LD_PRELOAD is removed from environ (as an
 * agent might): under the shim popen() must still start its shell
 * shimmed, which the last child reports on stderr only.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "show_status.h"

/* Streams open at once in the "many" case. */
#define MANY 70

/* Open descriptors that are not sockets (the shim's connection is one). */
static int
fds_open(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char p[300], l[64];
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
			continue;
		snprintf(p, sizeof p, "/proc/self/fd/%s", e->d_name);
		ssize_t k = readlink(p, l, sizeof l - 1);
		if (k < 0)
			continue;
		l[k] = '\0';
		if (strncmp(l, "socket:", 7) != 0)
			n++;
	}
	closedir(d);
	return n;
}

/* Reads FP to its end into one line of output, newlines shown as '|'. */
static void
drain(const char *what, FILE *fp)
{
	char buf[4096];
	size_t n = fread(buf, 1, sizeof buf - 1, fp);
	buf[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '\n')
			buf[i] = '|';
	printf("%s read \"%s\" ferror=%d\n", what, buf, ferror(fp));
	fflush(stdout);
}

/* popen CMD with MODE, report NULL/errno or read it, and pclose it. */
static void
run(const char *what, const char *cmd, const char *mode)
{
	errno = 0;
	FILE *fp = popen(cmd, mode);
	if (fp == NULL) {
		printf("%s popen NULL errno=%s\n", what, strerrorname_np(errno));
		fflush(stdout);
		return;
	}
	if (mode[0] == 'r' || (mode[0] != 'w' && strchr(mode, 'r') != NULL))
		drain(what, fp);
	show(what, pclose(fp));
}

/* Does a child started with MODE still hold our descriptor FD (a pipe)? */
static void
child_fds(const char *what, const char *mode, int fd)
{
	char cmd[128], buf[128] = "";
	snprintf(cmd, sizeof cmd,
		 "readlink /proc/self/fd/%d 2>/dev/null || echo none", fd);
	FILE *fp = popen(cmd, mode);
	if (fp == NULL) {
		printf("%s popen NULL errno=%s\n", what, strerrorname_np(errno));
		return;
	}
	if (fgets(buf, sizeof buf, fp) == NULL)
		buf[0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	printf("%s child fd %d %s\n", what, fd,
	       strncmp(buf, "pipe:", 5) == 0 ? "inherited" :
	       strcmp(buf, "none") == 0 ? "absent" : buf);
	show(what, pclose(fp));
}

struct job {
	int n;		/* which thread */
	char line[64];	/* what its child printed */
	int status;	/* pclose */
};

static void *
worker(void *arg)
{
	struct job *j = arg;
	char cmd[64];
	snprintf(cmd, sizeof cmd, "echo thread %d", j->n);
	FILE *fp = popen(cmd, "r");
	j->line[0] = '\0';
	j->status = -2;
	if (fp != NULL) {
		if (fgets(j->line, sizeof j->line, fp) == NULL)
			j->line[0] = '\0';
		j->line[strcspn(j->line, "\n")] = '\0';
		j->status = pclose(fp);
	}
	return NULL;
}

/* Glibc's streams and the shim's open side by side (LD_PRELOAD still set). */
static void
mixed(void)
{
	const char *pre = getenv("LD_PRELOAD");
	char *keep = pre != NULL ? strdup(pre) : NULL;

	FILE *g = popen("cat >/dev/null", "w");		/* glibc's */
	unsetenv("LD_PRELOAD");
	FILE *o = popen("cat >/dev/null", "w");		/* the shim's */
	if (keep != NULL)
		setenv("LD_PRELOAD", keep, 1);
	child_fds("mixed-1", "r", fileno(g));
	child_fds("mixed-2", "r", fileno(o));
	show("mixed-o", pclose(o));
	child_fds("mixed-3", "r", fileno(g));
	show("mixed-g", pclose(g));
	free(keep);
}

/* Out of descriptors: pipe2 fails, or the child end cannot be moved. */
static void
emfile(void)
{
	struct rlimit old, rl;
	getrlimit(RLIMIT_NOFILE, &old);
	int next = dup(2);
	close(next);

	rl = old;
	rl.rlim_cur = (rlim_t)next + 1;	/* room for one end, not two */
	setrlimit(RLIMIT_NOFILE, &rl);
	run("emfile-pipe", "echo x", "r");
	setrlimit(RLIMIT_NOFILE, &old);

	/* stdin closed: the read end is 0, the child's own number. */
	int in = dup(0);
	next = dup(2);
	close(next);
	close(0);
	rl.rlim_cur = (rlim_t)next + 1;	/* the pipe fits, its copy does not */
	setrlimit(RLIMIT_NOFILE, &rl);
	errno = 0;
	FILE *fp = popen("cat >/dev/null", "w");
	printf("emfile-dup %s errno=%s\n", fp == NULL ? "NULL" : "stream",
	       strerrorname_np(errno));
	fflush(stdout);
	setrlimit(RLIMIT_NOFILE, &old);
	if (fp != NULL)
		show("emfile-dup", pclose(fp));
	dup2(in, 0);
	close(in);
	/* Same with room: the child end is moved, the stream works. */
	close(0);
	fp = popen("cat", "w");
	printf("stdin-closed popen %s fd %d\n", fp == NULL ? "NULL" : "stream",
	       fp != NULL ? fileno(fp) : -1);
	if (fp != NULL) {
		fputs("stdin-closed data\n", fp);
		fflush(stdout);
		show("stdin-closed", pclose(fp));
	}
	dup2(in = open("/dev/null", O_RDONLY), 0);
	if (in != 0)
		close(in);
	printf("fds after emfile %d\n", fds_open());
	fflush(stdout);
}

int
main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	int base = fds_open();
	mixed();
	unsetenv("LD_PRELOAD");
	printf("fds leaked after mixed %d\n", fds_open() - base);

	/* Data both ways. */
	run("read", "echo hello; echo world", "r");
	FILE *w = popen("cat > popen-w.txt", "w");
	fputs("written\nthrough a pipe\n", w);
	show("write", pclose(w));
	FILE *f = fopen("popen-w.txt", "r");
	drain("write-file", f);
	fclose(f);

	/* Statuses. */
	run("exit3", "exit 3", "r");
	run("term", "kill -TERM $$", "r");
	run("missing", "exec 2>/dev/null; /nonexistent/prog", "r");
	run("nocmd", "exec 2>/dev/null; no-such-command-here", "w");

	/* Modes: exactly one of r/w, optional e, nothing else. */
	static const char *const modes[] = { "", "x", "rw", "wr", "r+", "rb",
					     "w ", "ee", "rr", "er", "ewe",
					     "rere" };
	int before = fds_open();
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		char what[32];
		snprintf(what, sizeof what, "mode \"%s\"", modes[i]);
		run(what, "echo m", modes[i]);
	}
	printf("modes leaked %d\n", fds_open() - before);

	/* Close-on-exec on the stream's descriptor only with 'e'. */
	static const char *const ce[] = { "r", "re", "w", "we" };
	for (size_t i = 0; i < 4; i++) {
		FILE *fp = popen("exec cat >/dev/null", ce[i]);
		int fl = fcntl(fileno(fp), F_GETFD);
		printf("cloexec %s %d\n", ce[i], (fl & FD_CLOEXEC) != 0);
		show("cloexec", pclose(fp));
	}

	/* A later child does not inherit an earlier stream (POSIX), while it
	 * does inherit a plain pipe: the check can tell. */
	int pp[2];
	pipe(pp);
	child_fds("control", "r", pp[0]);
	close(pp[0]);
	close(pp[1]);
	FILE *first = popen("cat >/dev/null", "w");
	child_fds("two-open", "r", fileno(first));
	child_fds("two-open-e", "re", fileno(first));
	show("two-open-first", pclose(first));

	/* fclose, not pclose: the child is reaped and its status returned. */
	FILE *fc = popen("exit 5", "r");
	drain("fclose", fc);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-dealloc"
	show("fclose", fclose(fc));
#pragma GCC diagnostic pop
	errno = 0;
	pid_t z = waitpid(-1, NULL, WNOHANG);
	printf("after fclose waitpid %d errno=%s\n", (int)z,
	       strerrorname_np(errno));

	/* A write the reader never takes: the flush fails, pclose says so. */
	FILE *ep = popen("exec 0<&-; exec sleep 0", "w");
	struct pollfd pfd = { .fd = fileno(ep), .events = 0 };
	poll(&pfd, 1, -1);	/* POLLERR once the child closed its end */
	fputs("nobody reads this\n", ep);
	show("epipe", pclose(ep));

	/* SIGCHLD ignored: the child reaps itself, pclose cannot. */
	signal(SIGCHLD, SIG_IGN);
	run("sigchld-ign", "exit 4", "r");
	signal(SIGCHLD, SIG_DFL);

	/* Two threads at once. */
	struct job jobs[2] = { { .n = 1 }, { .n = 2 } };
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, worker, &jobs[i]);
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		printf("thread %d read \"%s\"", jobs[i].n, jobs[i].line);
		show("", jobs[i].status);
	}

	/* More streams than one block of the shim's table: each child still
	 * closes every earlier stream (or the cats would never see EOF). */
	FILE *many[MANY];
	for (int i = 0; i < MANY; i++) {
		char cmd[64];
		snprintf(cmd, sizeof cmd, "cat >/dev/null; exit %d", i % 5);
		many[i] = popen(cmd, "w");
	}
	child_fds("many", "r", fileno(many[MANY / 2]));
	int wrong = 0;
	for (int i = 0; i < MANY; i++) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-dealloc"
		int st = i % 2 ? pclose(many[i]) : fclose(many[i]);
#pragma GCC diagnostic pop
		wrong += st != W_EXITCODE(i % 5, 0);
	}
	printf("many %d streams, %d wrong statuses\n", MANY, wrong);

	/* fork with a stream open: the copy is closed in the next child,
	 * and pclose in the fork child cannot reap its parent's child. */
	FILE *fk = popen("echo from-before-fork", "r");
	pid_t pid = fork();
	if (pid == 0) {
		child_fds("fork-child", "r", fileno(fk));
		show("fork-child-pclose", pclose(fk));
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	show("fork-child", st);
	drain("fork-parent", fk);
	show("fork-parent", pclose(fk));

	emfile();

	printf("fds leaked overall %d\n", fds_open() - base);
	FILE *last = popen("echo child-preload=${LD_PRELOAD:+set} >&2; "
			   "touch popen-marker", "r");
	show("last", pclose(last));
	return 0;
}
