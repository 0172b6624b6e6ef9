/* SPDX-License-Identifier: MIT */
/*
 * cmd_approve.c - `auditctl approve|deny|request-approval TASK [--reason
 * TEXT]`: sends one approval message (docs/wire.md, type 2) to the writer,
 * which records it as an "approval" event in the chain.  Who approved is
 * not in the message: the writer takes the sender's uid from the kernel
 * (SCM_CREDENTIALS), so it cannot be claimed.
 */
#include "cmd.h"

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "wire.h"

/* Longest task id and reason accepted (bytes). */
#define TASK_MAX 256
#define REASON_MAX 2048

static void
approve_usage(FILE *f, const char *verb)
{
	fprintf(f, "usage: auditctl [-c file] %s task [--reason text] "
		"[--socket path]\n", verb);
}

/* True if S has no control bytes (a task id is one line of text). */
static bool
printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

int
cmd_approve(const struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "reason", required_argument, NULL, 'r' },
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *verb = argv[0];
	const char *decision = strcmp(verb, "approve") == 0 ? "approve" :
			       strcmp(verb, "deny") == 0 ? "deny" : "request";
	const char *reason = NULL, *sock = ctl->socket_path;
	int ch, fd = -1, ret = CTL_EXIT_USAGE;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "r:s:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			reason = optarg;
			break;
		case 's':
			sock = optarg;
			break;
		case 'h':
			approve_usage(stdout, verb);
			return CTL_EXIT_OK;
		default:
			approve_usage(stderr, verb);
			return CTL_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		warnx("%s: %s", verb, optind >= argc ? "no task given" :
		      "more than one task given");
		approve_usage(stderr, verb);
		return CTL_EXIT_USAGE;
	}
	const char *task = argv[optind];
	if (!*task || strlen(task) > TASK_MAX || !printable(task)) {
		warnx("%s: the task must be 1 to %d bytes of text without "
		      "control characters", verb, TASK_MAX);
		return CTL_EXIT_USAGE;
	}
	if (reason && (strlen(reason) > REASON_MAX || strchr(reason, '\n'))) {
		warnx("%s: --reason must be one line of at most %d bytes", verb,
		      REASON_MAX);
		return CTL_EXIT_USAGE;
	}
	if (!sock || !*sock) {
		warnx("%s: no writer socket configured (use --socket or -c)",
		      verb);
		return CTL_EXIT_USAGE;
	}

	unsigned char buf[WIRE_MAX_MSG];
	struct wire_enc e;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	wire_enc_init(&e, buf, sizeof buf, WIRE_T_APPROVAL);
	if (wire_put_u64(&e, WT_TIME, (uint64_t)ts.tv_sec * 1000000000u +
			 (uint64_t)ts.tv_nsec) < 0 ||
	    wire_put_str(&e, WT_TASK, task, strlen(task)) < 0 ||
	    wire_put_str(&e, WT_DECISION, decision, strlen(decision)) < 0 ||
	    (reason && wire_put_str(&e, WT_TEXT, reason, strlen(reason)) < 0)) {
		warnx("%s: message too large", verb);
		return CTL_EXIT_USAGE;
	}
	size_t len = wire_enc_finish(&e);

	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	if (strlen(sock) >= sizeof sun.sun_path) {
		warnx("%s: socket path too long: %s", verb, sock);
		return CTL_EXIT_USAGE;
	}
	memcpy(sun.sun_path, sock, strlen(sock) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		warn("%s: socket", verb);
		goto out;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
		warnx("%s: the writer is not reachable at %s: %s; nothing was "
		      "recorded", verb, sock, strerror(errno));
		goto out;
	}
	ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
	if (n != (ssize_t)len) {
		warnx("%s: sending to the writer at %s failed: %s; nothing was "
		      "recorded", verb, sock, n < 0 ? strerror(errno) : "short send");
		goto out;
	}
	/*
	 * An orderly close, then wait (bounded) for the writer to close its
	 * end: it has then read the message.  A rejected message closes the
	 * connection too, but it is well-formed by construction.
	 */
	shutdown(fd, SHUT_WR);
	struct timeval tv = { 5, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	char tmp[16];
	(void)!recv(fd, tmp, sizeof tmp, 0);
	printf("%s %s: sent to the writer (recorded with your uid %u)\n",
	       decision, task, (unsigned)getuid());
	ret = CTL_EXIT_OK;
out:
	if (fd >= 0)
		close(fd);
	return ret;
}
