/* SPDX-License-Identifier: MIT */
/*
 * alerts.c - auditshimd's alert delivery: policy-violation alerts go to
 * syslog (authpriv), an NDJSON file and/or a command, from a bounded
 * queue drained by one thread, so a slow sink never stalls ingest.  The
 * event loop only takes a token and enqueues; alerts over the rate limit
 * or past the queue are counted and reported in "alerts_suppressed"
 * summaries (and in writer_stop), never dropped silently.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "log.h"
#include "writer.h"

/* How long a command may run before it is killed. */
#define ALERT_COMMAND_MS 10000
/* How long stopping waits for the queue to drain. */
#define ALERT_DRAIN_MS 5000

extern char **environ;

/* Where alerts go: the sinks of one configuration.  Only the delivery
 * thread uses them; a reload swaps in a new set under the lock. */
struct alert_sinks {
	int file_fd;		/* NDJSON file, or -1 */
	char *file;		/* its path, owned */
	bool syslog;		/* send to the syslog socket */
	char *syslog_path;	/* its path, owned */
	int syslog_fd;		/* connected datagram socket, or -1 */
	bool syslog_warned;	/* "cannot reach syslog" logged */
	char *command;		/* sh -c command, or NULL, owned */
};

/* One queued alert. */
struct alert {
	char *json;		/* the alert object, owned */
	int severity;		/* enum rules_severity */
	struct alert *next;	/* queue link */
};

struct alerts {
	pthread_t thread;	/* the delivery thread */
	pthread_mutex_t mu;	/* guards everything below it */
	pthread_cond_t cv;	/* signalled on push and stop */
	struct alert *head, *tail;	/* queue */
	size_t n;		/* its length */
	bool stopping;		/* alerts_stop was called */
	uint64_t drain_until;	/* monotonic ms: give up delivering after */
	uint64_t sent;		/* delivered to at least one sink */
	uint64_t suppressed;	/* dropped: rate limit, queue full, stop */
	uint64_t unreported;	/* suppressed since the last summary */
	uint64_t tokens_milli;	/* token bucket, in thousandths */
	uint64_t refill_ms;	/* last refill */
	/* Configuration (a reload changes it under the lock). */
	size_t cap;		/* queue capacity */
	unsigned rate, burst;	/* per second, at once */
	unsigned summary_ms;	/* between summaries */
	const char *host;	/* host name for summaries (fixed) */
	struct alert_sinks *sinks;	/* current sinks, owned */
	struct alert_sinks *in_use;	/* the sinks a delivery in progress
					 * uses (the thread's), or NULL */
	struct alert_sinks *retired;	/* replaced while in use: the thread
					 * frees them when it is done */
};

/* syslog priorities by enum rules_severity. */
static const int sev_prio[] = { LOG_INFO, LOG_NOTICE, LOG_WARNING, LOG_ERR,
				LOG_CRIT };

static void
send_syslog(struct alert_sinks *a, const char *json, int severity)
{
	char buf[8192], ts[32];
	time_t now = time(NULL);
	struct tm tm;

	if (a->syslog_fd < 0) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		if (strlen(a->syslog_path) >= sizeof sun.sun_path)
			return;
		strcpy(sun.sun_path, a->syslog_path);
		a->syslog_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (a->syslog_fd >= 0 &&
		    connect(a->syslog_fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
			if (!a->syslog_warned)
				log_warn("alerts: cannot reach syslog at %s",
					 a->syslog_path);
			a->syslog_warned = true;
			close(a->syslog_fd);
			a->syslog_fd = -1;
			return;
		}
	}
	localtime_r(&now, &tm);
	strftime(ts, sizeof ts, "%b %e %H:%M:%S", &tm);
	int n = snprintf(buf, sizeof buf, "<%d>%s auditshimd[%d]: alert %s",
			 LOG_AUTHPRIV | sev_prio[severity < 0 || severity > 4 ? 2
							  : severity],
			 ts, (int)getpid(), json);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof buf)
		n = sizeof buf - 1;
	if (send(a->syslog_fd, buf, (size_t)n, MSG_NOSIGNAL) < 0) {
		/* The daemon restarted: reconnect next time. */
		close(a->syslog_fd);
		a->syslog_fd = -1;
	}
}

/* The writer's scheduling before priority_boost (run_shell_sched). */
static int shell_nice;
static int shell_policy;
static bool shell_sched_known;

void
run_shell_sched(int nice, int policy)
{
	shell_nice = nice;
	shell_policy = policy;
	shell_sched_known = true;
}

/*
 * posix_spawn has no nice attribute and the child inherits the calling
 * thread's (a per-thread value on Linux): the thread drops to the
 * commands' value around the spawn and takes its own back after.
 * Returns the value to restore, or INT_MIN for nothing to do.
 */
static int
shell_nice_enter(void)
{
	if (!shell_sched_known)
		return INT_MIN;
	errno = 0;
	int mine = getpriority(PRIO_PROCESS, 0);
	if ((mine == -1 && errno) || mine == shell_nice ||
	    setpriority(PRIO_PROCESS, 0, shell_nice) < 0)
		return INT_MIN;
	return mine;
}

static void
shell_nice_leave(int mine)
{
	if (mine != INT_MIN && setpriority(PRIO_PROCESS, 0, mine) < 0)
		log_warn("cannot take the writer's priority back (nice %d)", mine);
}

/* The policy the writer started with, for the child (it keeps its nice). */
static void
shell_policy_set(posix_spawnattr_t *at, short *flags)
{
	if (!shell_sched_known || sched_getscheduler(0) == shell_policy)
		return;
	struct sched_param sp = { .sched_priority = 0 };
	posix_spawnattr_setschedpolicy(at, shell_policy);
	posix_spawnattr_setschedparam(at, &sp);
	*flags |= POSIX_SPAWN_SETSCHEDULER;
}

int
run_shell(const char *cmd, const char *input, unsigned timeout_ms,
	  const char *who)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, def;
	int p[2];
	pid_t pid;
	char *argv[] = { "sh", "-c", (char *)cmd, NULL };

	if (pipe2(p, O_CLOEXEC) < 0) {
		log_warn("%s: pipe", who);
		return -1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[0], 0);
	posix_spawnattr_init(&at);
	/* Our blocked (signalfd) and ignored (SIGPIPE) signals are ours. */
	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &def);
	short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
	shell_policy_set(&at, &flags);
	posix_spawnattr_setflags(&at, flags);
	int mine = shell_nice_enter();
	int rc = posix_spawn(&pid, "/bin/sh", &fa, &at, argv, environ);
	shell_nice_leave(mine);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(p[0]);
	if (rc != 0) {
		close(p[1]);
		log_warnx("%s: cannot run the command: %s", who, strerror(rc));
		return -1;
	}
	/* The pipe holds far more than one JSON object: this does not block. */
	size_t len = strlen(input);
	if (write(p[1], input, len) != (ssize_t)len || write(p[1], "\n", 1) != 1)
		log_warn("%s: writing to the command", who);
	close(p[1]);
	uint64_t give_up = now_mono_ms() + timeout_ms;
	int st;
	for (;;) {
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			return -1;
		if (now_mono_ms() >= give_up) {
			log_warnx("%s: command still running after %u ms; killed",
				  who, timeout_ms);
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		usleep(10000);
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		log_warnx("%s: command failed (status %d)", who, st);
		return -1;
	}
	return 0;
}

/* Sends one alert to every sink; called without the lock. */
static void
deliver(struct alert_sinks *a, const char *json, int severity)
{
	if (a->file_fd >= 0) {
		size_t len = strlen(json);
		struct iovec iov[2] = { { (void *)json, len }, { "\n", 1 } };
		/* One writev on an O_APPEND file: lines never interleave. */
		if (writev(a->file_fd, iov, 2) != (ssize_t)(len + 1))
			log_warn("alerts: %s", a->file);
	}
	if (a->syslog)
		send_syslog(a, json, severity);
	if (a->command)
		run_shell(a->command, json, ALERT_COMMAND_MS, "alerts");
}

/* Sends a summary of N suppressed alerts (TOTAL so far) to sinks S;
 * without the lock. */
static void
summarize(struct alerts *a, struct alert_sinks *s, uint64_t n, uint64_t total)
{
	char buf[512], ts[32];

	fmt_time_ns(now_realtime_ns(), ts);
	snprintf(buf, sizeof buf, "{\"type\":\"alerts_suppressed\",\"time\":\"%s\","
		 "\"host\":\"%s\",\"severity\":\"medium\",\"count\":%" PRIu64
		 ",\"total\":%" PRIu64 ",\"message\":\"alerts over the rate limit "
		 "or queue were not delivered; the policy_violation records are in "
		 "the store\"}", ts, a->host, n, total);
	log_warnx("alerts: %" PRIu64 " alerts suppressed (rate limit or queue "
		  "full), %" PRIu64 " in all; their violations are in the store",
		  n, total);
	deliver(s, buf, RS_MEDIUM);
}

static void
sinks_free(struct alert_sinks *s)
{
	if (!s)
		return;
	if (s->file_fd >= 0)
		close(s->file_fd);
	if (s->syslog_fd >= 0)
		close(s->syslog_fd);
	free(s->file);
	free(s->syslog_path);
	free(s->command);
	free(s);
}

/* With the lock held: the thread starts using the current sinks. */
static struct alert_sinks *
sinks_take(struct alerts *a)
{
	return a->in_use = a->sinks;
}

/* With the lock held: the thread is done with them (frees retired ones). */
static void
sinks_release(struct alerts *a)
{
	a->in_use = NULL;
	sinks_free(a->retired);
	a->retired = NULL;
}

static void *
alerts_main(void *arg)
{
	struct alerts *a = arg;
	uint64_t last_summary = now_mono_ms();

	pthread_mutex_lock(&a->mu);
	for (;;) {
		uint64_t now = now_mono_ms();
		if (a->unreported && (a->stopping ||
				      now - last_summary >= a->summary_ms)) {
			uint64_t n = a->unreported, total = a->suppressed;
			a->unreported = 0;
			last_summary = now;
			struct alert_sinks *sk = sinks_take(a);
			pthread_mutex_unlock(&a->mu);
			summarize(a, sk, n, total);
			pthread_mutex_lock(&a->mu);
			sinks_release(a);
			continue;
		}
		if (a->head && a->stopping && now >= a->drain_until) {
			/* Out of time: what is left is counted, not sent. */
			uint64_t left = 0;
			for (struct alert *x; (x = a->head); left++) {
				a->head = x->next;
				free(x->json);
				free(x);
			}
			a->tail = NULL;
			a->n = 0;
			a->suppressed += left;
			a->unreported += left;
			continue;
		}
		if (a->head) {
			struct alert *x = a->head;
			a->head = x->next;
			if (!a->head)
				a->tail = NULL;
			a->n--;
			struct alert_sinks *sk = sinks_take(a);
			pthread_mutex_unlock(&a->mu);
			deliver(sk, x->json, x->severity);
			free(x->json);
			free(x);
			pthread_mutex_lock(&a->mu);
			sinks_release(a);
			a->sent++;
			continue;
		}
		if (a->stopping)
			break;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&a->cv, &a->mu, &ts);
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

struct alert_sinks *
alerts_prepare(const struct conf *c, const char *file_override, char *err,
	       size_t errlen)
{
	struct alert_sinks *s = calloc(1, sizeof *s);
	const char *file = file_override ? file_override : c->alert_file;

	if (!s) {
		snprintf(err, errlen, "alerts: out of memory");
		return NULL;
	}
	s->file_fd = s->syslog_fd = -1;
	s->syslog = c->alert_syslog;
	if (file) {
		int rc = db_make_parents(file, 0700);
		s->file_fd = rc < 0 ? -1 : open(file, O_WRONLY | O_APPEND | O_CREAT |
						O_CLOEXEC | O_NOCTTY, 0600);
		if (s->file_fd < 0) {
			snprintf(err, errlen, "%s: cannot open the alert file: %s",
				 file, strerror(rc < 0 ? -rc : errno));
			goto fail;
		}
	}
	if ((file && !(s->file = strdup(file))) ||
	    (s->syslog && !(s->syslog_path = strdup(c->alert_syslog_socket))) ||
	    (c->alert_command && !(s->command = strdup(c->alert_command)))) {
		snprintf(err, errlen, "alerts: out of memory");
		goto fail;
	}
	return s;
fail:
	sinks_free(s);
	return NULL;
}

void
alerts_discard(struct alert_sinks *s)
{
	sinks_free(s);
}

/* The rate, burst, queue and summary settings of C; with the lock held
 * (or before the thread starts). */
static void
set_limits(struct alerts *a, const struct conf *c)
{
	a->cap = c->alert_queue;
	a->rate = c->alert_rate;
	a->burst = c->alert_burst;
	a->summary_ms = c->alert_summary_s * 1000u;
	if (a->tokens_milli > (uint64_t)a->burst * 1000u)
		a->tokens_milli = (uint64_t)a->burst * 1000u;
}

struct alerts *
alerts_start(const struct conf *c, const char *file_override, const char *host,
	     char *err, size_t errlen)
{
	struct alerts *a = calloc(1, sizeof *a);

	if (!a) {
		snprintf(err, errlen, "alerts: out of memory");
		return NULL;
	}
	a->tokens_milli = (uint64_t)c->alert_burst * 1000u;
	set_limits(a, c);
	a->refill_ms = now_mono_ms();
	a->host = host;
	a->sinks = alerts_prepare(c, file_override, err, errlen);
	if (!a->sinks) {
		free(a);
		return NULL;
	}
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	int rc = pthread_create(&a->thread, NULL, alerts_main, a);
	if (rc != 0) {
		snprintf(err, errlen, "alerts: cannot start the thread: %s",
			 strerror(rc));
		pthread_mutex_destroy(&a->mu);
		pthread_cond_destroy(&a->cv);
		sinks_free(a->sinks);
		free(a);
		return NULL;
	}
	return a;
}

void
alerts_apply(struct alerts *a, struct alert_sinks *s, const struct conf *c)
{
	struct alert_sinks *old;

	if (!a) {
		sinks_free(s);
		return;
	}
	pthread_mutex_lock(&a->mu);
	old = a->sinks;
	a->sinks = s;
	set_limits(a, c);
	if (old == a->in_use) {
		/* Mid-delivery: the thread frees them when it is done. */
		a->retired = old;
		old = NULL;
	}
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
	sinks_free(old);
}

void
alerts_push(struct alerts *a, char *json, int severity)
{
	struct alert *x;

	if (!a) {
		free(json);
		return;
	}
	x = malloc(sizeof *x);
	pthread_mutex_lock(&a->mu);
	uint64_t now = now_mono_ms();
	uint64_t full = (uint64_t)a->burst * 1000u;
	a->tokens_milli += (now - a->refill_ms) * a->rate;
	if (a->tokens_milli > full)
		a->tokens_milli = full;
	a->refill_ms = now;
	if (!x || a->n >= a->cap || a->tokens_milli < 1000 || a->stopping) {
		a->suppressed++;
		a->unreported++;
		pthread_mutex_unlock(&a->mu);
		free(x);
		free(json);
		return;
	}
	a->tokens_milli -= 1000;
	x->json = json;
	x->severity = severity;
	x->next = NULL;
	if (a->tail)
		a->tail->next = x;
	else
		a->head = x;
	a->tail = x;
	a->n++;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
}

void
alerts_counts(struct alerts *a, uint64_t *sent, uint64_t *suppressed)
{
	*sent = *suppressed = 0;
	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	*sent = a->sent;
	*suppressed = a->suppressed;
	pthread_mutex_unlock(&a->mu);
}

void
alerts_stop(struct alerts *a, uint64_t *sent, uint64_t *suppressed)
{
	if (!a) {
		*sent = *suppressed = 0;
		return;
	}
	pthread_mutex_lock(&a->mu);
	a->stopping = true;
	a->drain_until = now_mono_ms() + ALERT_DRAIN_MS;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
	pthread_join(a->thread, NULL);
	*sent = a->sent;
	*suppressed = a->suppressed;
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->cv);
	sinks_free(a->retired);
	sinks_free(a->sinks);
	free(a);
}
