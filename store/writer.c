/* SPDX-License-Identifier: MIT */
/*
 * writer.c - auditshimd: options, start-up (config, key, store, tail
 * verification, socket), daemonizing, and the single-threaded epoll loop
 * that reads records from many shim clients, seals them and commits them
 * in groups.  docs/writer.md describes the design; auditshimd(8) the use.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auditshim_config.h"
#include "db.h"
#include "faultvfs.h"
#include "verify.h"
#include "json.h"
#include "log.h"
#include "peers.h"
#include "records.h"
#include "writer.h"

/* Records verified at start-up (the tail of the chain). */
#define TAIL_VERIFY 1000
/* Messages per recvmmsg call. */
#define RECV_VLEN 16
/* How long a stopping writer keeps retrying a failing commit. */
#define STOP_RETRY_MS 10000

/* One connected shim (or auditctl) socket. */
struct client {
	int fd;			/* non-blocking SEQPACKET socket */
	bool polled;		/* registered in the clients' epoll */
	struct client *prev, *next;	/* all clients */
};

/* The peer's pid at connect (SO_PEERCRED), for log lines; -1 if unknown. */
static pid_t
client_pid(const struct client *c)
{
	struct ucred uc;
	socklen_t ul = sizeof uc;
	return getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &uc, &ul) == 0
	       ? uc.pid : -1;
}

/* Tags stored in epoll data for the non-client descriptors. */
static char tag_listener, tag_signal, tag_clients, tag_commit;

/* Event-loop state. */
struct loop {
	int ep;			/* main epoll: listener, signalfd, ep_clients */
	int ep_clients;		/* nested epoll with every client */
	int listener;		/* listening socket */
	int sigfd;		/* SIGTERM, SIGINT, SIGHUP */
	struct client *clients;	/* list */
	unsigned nclients;	/* its length */
	bool paused;		/* not reading: the pending group is at its cap */
	uint64_t paused_since_ms;	/* when the current pause began */
	uint64_t pause_log_ms;	/* last "not reading" line */
	uint64_t pauses;	/* pauses since that line */
	int stop_signal;	/* the signal that asked us to stop, 0 while running */
	uint64_t refused_log_ms;	/* last "too many clients" line */
	unsigned refused;	/* connections refused since that line */
	dev_t sock_dev;		/* our socket file, to unlink only ours */
	ino_t sock_ino;
	uint64_t handled;	/* connections accepted and messages read */
};

/* Receive buffers, reused for every call. */
static unsigned char rbuf[RECV_VLEN][WIRE_MAX_MSG + 1];
static union {
	char buf[CMSG_SPACE(sizeof(struct ucred))];
	struct cmsghdr align;
} rcmsg[RECV_VLEN];
static struct wire_msg rmsg;

static void
usage(void)
{
	fprintf(stderr,
		"usage: auditshimd [-fhV] [-c file] [--socket path] [--db path]"
		" [--key path]\n"
		"                  [--alert-file path]\n"
		"       auditshimd --check-config [-c file]\n");
	exit(2);
}

/*
 * [writer] priority_boost, like auditd's: the writer runs BOOST nice
 * levels above where it was started, so that a flood from the agents it
 * records cannot starve it of CPU (agents then wait on the writer instead
 * of the writer's pending list filling up; docs/writer.md).  It also
 * moves from SCHED_OTHER to SCHED_BATCH, the same but for wake-ups: woken
 * by a record, the writer does not preempt the agent that sent it, which
 * would cost a lone agent a pair of context switches per record.  On
 * Linux both are per thread: this runs before any thread starts, and the
 * threads inherit them.  Commands (run_shell) get the values from before.
 */
static void
boost_priority(unsigned boost)
{
	errno = 0;
	int base = getpriority(PRIO_PROCESS, 0);
	int policy = sched_getscheduler(0);
	if ((base == -1 && errno) || policy < 0) {
		log_warn("priority_boost: cannot read the writer's scheduling");
		return;
	}
	run_shell_sched(base, policy);
	if (boost == 0)
		return;
	struct sched_param sp = { .sched_priority = 0 };
	if (policy == SCHED_OTHER && sched_setscheduler(0, SCHED_BATCH, &sp) < 0)
		log_warn("priority_boost: cannot switch to SCHED_BATCH");
	int want = base - (int)boost < -20 ? -20 : base - (int)boost;
	if (setpriority(PRIO_PROCESS, 0, want) < 0)
		log_warn("priority_boost = %u: cannot raise the writer's priority "
			 "to nice %d; it stays at %d", boost, want, base);
}

static void
load_key(struct writer *w)
{
	unsigned char key[CHAIN_KEY_LEN];
	const char *path = w->conf.key;

	int rc = chain_key_load(path, key);
	if (rc == -ENOENT) {
		rc = db_make_parents(path, 0700);
		if (rc < 0)
			fatalx("%s: cannot create its directory: %s", path,
			       strerror(-rc));
		rc = chain_key_create(path, key);
		if (rc < 0)
			fatalx("%s: cannot create the MAC key: %s", path,
			       strerror(-rc));
		log_info("created a new MAC key in %s", path);
	} else if (rc == -EPERM) {
		fatalx("%s: the MAC key is readable or writable by group or others;"
		       " refusing it (chmod 600)", path);
	} else if (rc == -EINVAL) {
		fatalx("%s: not a %d-byte regular file", path, CHAIN_KEY_LEN);
	} else if (rc < 0) {
		fatalx("%s: %s", path, strerror(-rc));
	}
	w->chain = chain_ctx_new(key);
	chain_wipe(key, sizeof key);
	if (!w->chain || db_key_id(w->chain, w->key_id) < 0)
		fatalx("cannot set up HMAC-SHA-256 (OpenSSL)");
}

/* Records key epoch 1 or checks that the key is the one it names. */
static void
check_key_epoch(struct writer *w)
{
	sqlite3_stmt *st = NULL;
	char now[32];
	int64_t max;

	if (sqlite3_prepare_v2(w->db, "SELECT key_id FROM key_epochs WHERE epoch = 1",
			       -1, &st, NULL) != SQLITE_OK)
		fatalx("%s: %s", w->conf.database, sqlite3_errmsg(w->db));
	int s = sqlite3_step(st);
	if (s == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(st, 0);
		if (!id || strcmp(id, w->key_id) != 0)
			fatalx("%s: the key in %s (id %s) is not the key that sealed "
			       "this database (key epoch 1 has id %s); refusing to "
			       "start", w->conf.database, w->conf.key, w->key_id,
			       id ? id : "NULL");
		sqlite3_finalize(st);
		return;
	}
	sqlite3_finalize(st);
	if (s != SQLITE_DONE || db_max_seq(w->db, &max) < 0)
		fatalx("%s: %s", w->conf.database, sqlite3_errmsg(w->db));
	fmt_time_ns(now_realtime_ns(), now);
	if (sqlite3_prepare_v2(w->db, "INSERT INTO key_epochs (epoch, first_seq,"
			       " created, key_id) VALUES (1, ?, ?, ?)", -1, &st,
			       NULL) != SQLITE_OK)
		fatalx("%s: %s", w->conf.database, sqlite3_errmsg(w->db));
	sqlite3_bind_int64(st, 1, max + 1);
	sqlite3_bind_text(st, 2, now, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, w->key_id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		fatalx("%s: cannot record the key epoch: %s", w->conf.database,
		       sqlite3_errmsg(w->db));
	sqlite3_finalize(st);
}

/*
 * Verifies the last TAIL_VERIFY records and the head file; sets the chain
 * position.  Returns the event of the last record (malloc'd) or NULL for
 * an empty store.
 */
static char *
load_tail(struct writer *w)
{
	struct db_verify v;
	struct db_head h;
	int64_t max;
	char *last_event = NULL;

	if (db_max_seq(w->db, &max) < 0)
		fatalx("%s: %s", w->conf.database, sqlite3_errmsg(w->db));
	int64_t from = max > TAIL_VERIFY ? max - TAIL_VERIFY + 1 : 1;
	/* The head first: it names the end the previous writer committed. */
	bool have_head = false;
	int rc = db_head_read(w->conf.database, &h);
	if (rc == 0)
		have_head = true;
	else if (rc == -EINVAL)
		fatalx("%s.head: malformed head file; refusing to start",
		       w->conf.database);
	else if (rc != -ENOENT)
		fatalx("%s.head: %s", w->conf.database, strerror(-rc));
	else if (max > 0)
		log_warnx("%s.head: missing; it will be rewritten at the next commit",
			  w->conf.database);
	rc = verify_chain(w->db, w->chain, from, have_head ? &h : NULL, &v);
	if (rc < 0)
		fatalx("%s: cannot verify the tail: %s", w->conf.database,
		       rc == -EIO ? sqlite3_errmsg(w->db) : strerror(-rc));
	if (rc > 0)
		fatalx("%s: refusing to start: the chain does not verify at seq %"
		       PRId64 ": %s", w->conf.database, v.bad_seq, v.reason);
	if (have_head && h.seq > v.last_seq)
		fatalx("%s: refusing to start: the chain does not verify at seq %"
		       PRId64 ": truncated tail: the database ends at %" PRId64
		       " but the writer last reported %" PRId64, w->conf.database,
		       v.last_seq + 1, v.last_seq, h.seq);
	w->seq = v.last_seq;
	memcpy(w->last_hash, v.last_hash, CHAIN_HASH_LEN);
	if (max > 0) {
		sqlite3_stmt *st = NULL;
		if (sqlite3_prepare_v2(w->db, "SELECT event FROM records WHERE seq = ?",
				       -1, &st, NULL) == SQLITE_OK) {
			sqlite3_bind_int64(st, 1, max);
			if (sqlite3_step(st) == SQLITE_ROW)
				last_event = strdup((const char *)
						    sqlite3_column_text(st, 0));
		}
		sqlite3_finalize(st);
		log_info("%s: chain verified from seq %" PRId64 " to %" PRId64
			 " (hash and MAC); continuing", w->conf.database, from, max);
	}
	return last_event;
}

/* Binds the listening socket, replacing only a stale one. */
static int
open_listener(const char *path, struct loop *l)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	int one = 1;

	if (strlen(path) >= sizeof sun.sun_path)
		fatalx("%s: socket path longer than %zu bytes", path,
		       sizeof sun.sun_path - 1);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	int rc = db_make_parents(path, 0755);
	if (rc < 0)
		fatalx("%s: cannot create its directory: %s", path, strerror(-rc));
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			fatalx("%s exists and is not a socket; refusing to replace it",
			       path);
		int probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC |
				   SOCK_NONBLOCK, 0);
		if (probe < 0)
			fatalx("socket: %s", strerror(errno));
		if (connect(probe, (struct sockaddr *)&sun, sizeof sun) == 0 ||
		    errno == EAGAIN || errno == EINPROGRESS)
			fatalx("%s: another writer is running (the socket accepts "
			       "connections)", path);
		if (errno != ECONNREFUSED)
			fatalx("%s: exists and cannot be probed (%s); refusing to "
			       "replace it", path, strerror(errno));
		close(probe);
		if (unlink(path) < 0)
			fatalx("%s: cannot remove the stale socket: %s", path,
			       strerror(errno));
		log_info("%s: removed a stale socket", path);
	}
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		fatalx("socket: %s", strerror(errno));
	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0)
		fatalx("SO_PASSCRED: %s", strerror(errno));
	/* 0666: anyone may send; who they are comes from the kernel. */
	mode_t old = umask(0111);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof sun);
	int e = errno;
	umask(old);
	if (rc < 0)
		fatalx("%s: bind: %s", path, strerror(e));
	if (listen(fd, SOMAXCONN) < 0)
		fatalx("%s: listen: %s", path, strerror(errno));
	if (stat(path, &st) == 0) {
		l->sock_dev = st.st_dev;
		l->sock_ino = st.st_ino;
	}
	return fd;
}

static void
remove_socket(const char *path, struct loop *l)
{
	struct stat st;

	if (stat(path, &st) == 0 && st.st_dev == l->sock_dev &&
	    st.st_ino == l->sock_ino)
		unlink(path);
}

static void
ep_add(int ep, int fd, uint32_t events, void *ptr)
{
	struct epoll_event ev = { .events = events, .data.ptr = ptr };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		fatalx("epoll_ctl: %s", strerror(errno));
}

static void
ep_mod(int ep, int fd, uint32_t events, void *ptr)
{
	struct epoll_event ev = { .events = events, .data.ptr = ptr };
	epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

static void
client_close(struct loop *l, struct client *c)
{
	if (c->polled)
		epoll_ctl(l->ep_clients, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		l->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	l->nclients--;
	free(c);
}

/* What client_read left behind. */
enum read_state {
	RS_CLOSED,		/* end of file, error or bad input: C is freed */
	RS_DRAINED,		/* nothing more to read for now */
	RS_MORE,		/* the budget ran out first */
};

static enum read_state client_read(struct writer *w, struct loop *l,
				   struct client *c, unsigned budget);

/* Accepts up to MAX pending connections. */
static void
accept_clients(struct writer *w, struct loop *l, size_t max)
{
	for (size_t i = 0; i < max; i++) {
		int fd = accept4(l->listener, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("accept");
			return;
		}
		if (l->nclients >= WRITER_MAX_CLIENTS) {
			/* Closing at once lets the shim fall back to its
			 * backlog instead of waiting on us. */
			close(fd);
			l->refused++;
			uint64_t now = now_mono_ms();
			if (now - l->refused_log_ms > 10000) {
				log_warnx("%u connections refused: %d clients already "
					  "connected", l->refused, WRITER_MAX_CLIENTS);
				l->refused_log_ms = now;
				l->refused = 0;
			}
			continue;
		}
		struct client *c = calloc(1, sizeof *c);
		if (!c) {
			close(fd);
			log_warnx("out of memory accepting a client");
			return;
		}
		/*
		 * SO_PASSCRED is inherited from the listener (Linux >= 3.13);
		 * without it every message would be refused as lacking
		 * credentials, loudly.
		 */
		c->fd = fd;
		l->handled++;
		c->next = l->clients;
		if (l->clients)
			l->clients->prev = c;
		l->clients = c;
		l->nclients++;
		/*
		 * Usually everything is there already: a new image's
		 * image_start connection has sent and closed before we
		 * accept.  Reading now spares such a connection the epoll
		 * registration, its removal and a round of the loop.
		 */
		if (client_read(w, l, c, WRITER_CLIENT_BUDGET) == RS_CLOSED)
			continue;
		ep_add(l->ep_clients, fd, EPOLLIN | EPOLLRDHUP, c);
		c->polled = true;
	}
}

/* Reads up to BUDGET messages from C. */
static enum read_state
client_read(struct writer *w, struct loop *l, struct client *c, unsigned budget)
{
	static struct mmsghdr mm[RECV_VLEN];
	static struct iovec iov[RECV_VLEN];

	while (budget > 0) {
		unsigned vlen = budget < RECV_VLEN ? budget : RECV_VLEN;
		for (unsigned i = 0; i < vlen; i++) {
			iov[i].iov_base = rbuf[i];
			iov[i].iov_len = sizeof rbuf[i];
			memset(&mm[i].msg_hdr, 0, sizeof mm[i].msg_hdr);
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
			mm[i].msg_hdr.msg_control = rcmsg[i].buf;
			mm[i].msg_hdr.msg_controllen = sizeof rcmsg[i].buf;
		}
		int n = recvmmsg(c->fd, mm, vlen, MSG_DONTWAIT | MSG_CMSG_CLOEXEC,
				 NULL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return RS_DRAINED;
			if (errno != ECONNRESET)
				log_warn("client pid %d: recvmmsg", (int)client_pid(c));
			client_close(l, c);
			return RS_CLOSED;
		}
		if (n == 0) {
			client_close(l, c);
			return RS_CLOSED;
		}
		for (int i = 0; i < n; i++) {
			struct msghdr *h = &mm[i].msg_hdr;
			const struct ucred *cred = NULL;
			const char *why = NULL;
			char whybuf[96];

			if (mm[i].msg_len == 0) {
				/* End of file (or an empty message: same thing). */
				client_close(l, c);
				return RS_CLOSED;
			}
			l->handled++;
			for (struct cmsghdr *cm = CMSG_FIRSTHDR(h); cm;
			     cm = CMSG_NXTHDR(h, cm))
				if (cm->cmsg_level == SOL_SOCKET &&
				    cm->cmsg_type == SCM_CREDENTIALS &&
				    cm->cmsg_len == CMSG_LEN(sizeof(struct ucred)))
					cred = (const struct ucred *)CMSG_DATA(cm);
				else if (cm->cmsg_level == SOL_SOCKET &&
					 cm->cmsg_type == SCM_RIGHTS) {
					/* Nobody should pass us descriptors. */
					int *fds = (int *)CMSG_DATA(cm);
					size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
					for (size_t j = 0; j < k; j++)
						close(fds[j]);
					why = "descriptors passed";
				}
			pid_t pid = cred ? cred->pid : client_pid(c);
			if (h->msg_flags & MSG_TRUNC)
				why = "message longer than the maximum";
			else if (h->msg_flags & MSG_CTRUNC)
				why = "control data truncated";
			else if (!cred)
				why = "message without credentials";
			else {
				int rc = wire_decode(rbuf[i], mm[i].msg_len, &rmsg);
				if (rc < 0) {
					snprintf(whybuf, sizeof whybuf,
						 "malformed message: %s",
						 wire_strerror(rc));
					why = whybuf;
				} else if (!why) {
					rc = ingest_message(w, &rmsg, cred->pid,
							    cred->uid, cred->gid,
							    &why);
					if (rc < 0 && !why)
						log_crit("client pid %d: record could "
							 "not be sealed (%s); it is lost",
							 (int)pid, strerror(-rc));
				}
			}
			if (why) {
				log_warnx("client pid %d: %s; closing the connection",
					  (int)pid, why);
				w->rejected++;
				client_close(l, c);
				return RS_CLOSED;
			}
		}
		budget -= (unsigned)n;
		if ((unsigned)n < vlen)
			return RS_DRAINED;
		if (w->npend >= w->conf.commit_max)
			group_kick(w, false);
	}
	return RS_MORE;
}

static void
set_paused(struct writer *w, struct loop *l, bool paused)
{
	if (l->paused == paused)
		return;
	l->paused = paused;
	ep_mod(l->ep, l->ep_clients, paused ? 0 : EPOLLIN, &tag_clients);
	if (l->listener >= 0)
		ep_mod(l->ep, l->listener, paused ? 0 : EPOLLIN, &tag_listener);
	/*
	 * Under a flood reading pauses for one commit at a time, many times
	 * a second: that is back-pressure working, not news.  A pause is
	 * logged when it is the first for a minute, and when it lasts.
	 */
	uint64_t now = now_mono_ms();
	if (paused) {
		l->paused_since_ms = now;
		l->pauses++;
		if (now - l->pause_log_ms >= 60000) {
			log_warnx("%zu records wait for a commit: not reading from "
				  "clients until the database accepts them (%" PRIu64
				  " pauses since the last such line)", w->npend,
				  l->pauses);
			l->pause_log_ms = now;
			l->pauses = 0;
		}
	} else if (now - l->paused_since_ms >= 1000) {
		log_info("reading from clients again after %" PRIu64 " ms",
			 now - l->paused_since_ms);
	}
}

/* True if one of EVS is a client or a connection waiting to be read. */
static bool
clients_ready(const struct epoll_event *evs, int n)
{
	for (int i = 0; i < n; i++)
		if (evs[i].data.ptr == &tag_listener ||
		    evs[i].data.ptr == &tag_clients)
			return true;
	return false;
}

/*
 * Interrupt moderation.  A program that starts many short-lived programs
 * sends a few messages each time; waking for each costs the writer a
 * context switch and a round of system calls, and costs the sender the
 * wakeup -- on a small machine, more than recording them.  So when
 * messages trickle in, the writer waits read_delay_ms before reading what
 * woke it: one wakeup then serves everything sent meanwhile, and senders
 * meanwhile find nobody to wake.
 *
 * A trickle: the last reading round read fewer than TRICKLE messages and
 * connections, and at its rate (what it read over the time since the
 * round before) fewer than TRICKLE would arrive during the wait.  Both
 * matter.  By size alone, a single process sending as fast as it can is
 * read one or two messages a round, and each wait would fill its socket
 * and block it.  By rate alone, the round after a wait reads at most a
 * budget over the wait, a rate just below the bar: waiting would never
 * stop.  Rounds that read nothing (a commit done, a signal) do not count.
 * Signals are blocked (signalfd): the wait ends on time.
 */
#define TRICKLE 64

/* Events taken per epoll_wait of the loop (its array and moderate's). */
#define LOOP_EVENTS 64

struct pace {
	uint64_t read_at;	/* ns: when the last reading round read */
	uint64_t span;		/* ns: from the round before to that one */
	uint64_t reads;		/* messages and connections it read */
};

static int
moderate(struct writer *w, struct loop *l, struct pace *pc,
	 struct epoll_event *evs, int n)
{
	uint64_t ms = w->conf.read_delay_ms;
	if (ms == 0 || !clients_ready(evs, n) || pc->reads >= TRICKLE ||
	    pc->reads * ms * 1000000u >= TRICKLE * pc->span)
		return n;
	struct timespec d = { .tv_sec = (time_t)(ms / 1000),
			      .tv_nsec = (long)(ms % 1000) * 1000000L };
	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &d, &d) == EINTR)
		;
	int m = epoll_wait(l->ep, evs, LOOP_EVENTS, 0);
	return m < 0 ? n : m;
}

/* After a round: what it read, for the next moderate(). */
static void
pace_round(struct pace *pc, uint64_t start, uint64_t reads)
{
	pc->span = start - pc->read_at;
	pc->read_at = start;
	pc->reads = reads;
}

static void
run(struct writer *w, struct loop *l)
{
	struct epoll_event evs[LOOP_EVENTS];
	uint64_t last_tick = 0;
	struct pace pace = { 0 };

	while (!l->stop_signal) {
		if (w->stop_requested) {
			l->stop_signal = SIGTERM;	/* disk_full_action = stop */
			break;
		}
		uint64_t now = now_mono_ms();
		int timeout = group_due(w, now);
		if (timeout < 0 || timeout > 250)
			timeout = 250;	/* the hole timer's resolution */
		int n = epoll_wait(l->ep, evs, LOOP_EVENTS, timeout);
		if (n < 0 && errno != EINTR)
			fatalx("epoll_wait: %s", strerror(errno));
		n = moderate(w, l, &pace, evs, n);
		bool reading = clients_ready(evs, n);
		uint64_t handled = l->handled, start = reading ? now_mono_ns() : 0;
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;
			if (p == &tag_listener) {
				accept_clients(w, l, 64);
			} else if (p == &tag_signal) {
				struct signalfd_siginfo si;
				while (read(l->sigfd, &si, sizeof si) == sizeof si) {
					if (si.ssi_signo == SIGHUP)
						writer_reload(w);
					else
						l->stop_signal = (int)si.ssi_signo;
				}
			} else if (p == &tag_commit) {
				group_reap(w);
			} else if (p == &tag_clients) {
				struct epoll_event cev[64];
				int m = epoll_wait(l->ep_clients, cev, 64, 0);
				for (int j = 0; j < m; j++)
					client_read(w, l, cev[j].data.ptr,
						    WRITER_CLIENT_BUDGET);
			}
		}
		if (reading)	/* a commit or a signal alone tells nothing */
			pace_round(&pace, start, l->handled - handled);
		now = now_mono_ms();
		if (now - last_tick >= 250) {
			procs_tick(w, now, false);
			coverage_tick(w, now, false);
			last_tick = now;
		}
		group_kick(w, false);
		if (!l->paused && w->npend >= w->pend_cap)
			set_paused(w, l, true);
		else if (l->paused && w->npend < w->pend_cap)
			set_paused(w, l, false);	/* a group was handed over */
	}
}

/* SIGTERM/SIGINT: stop accepting, drain, write writer_stop, commit. */
static int
shutdown_writer(struct writer *w, struct loop *l)
{
	struct jbuf d = { 0 };
	int rc = 0;

	if (w->stop_requested)
		log_crit("disk full: stopping (disk_full_action = stop)");
	else
		log_info("%s: stopping", strsignal(l->stop_signal));
	/* Unlink first so no new connection can start, then take what is
	 * already queued on the listener: those clients have sent. */
	remove_socket(w->conf.socket, l);
	set_paused(w, l, false);
	accept_clients(w, l, SIZE_MAX);
	epoll_ctl(l->ep, EPOLL_CTL_DEL, l->listener, NULL);
	close(l->listener);
	l->listener = -1;
	/* What the sockets hold was sent before we stopped: store it. */
	for (struct client *c = l->clients, *n; c; c = n) {
		n = c->next;
		while (client_read(w, l, c, 4096) == RS_MORE)
			if (w->npend >= w->conf.commit_max)
				group_kick(w, false);
	}
	procs_tick(w, now_mono_ms(), true);
	coverage_tick(w, now_mono_ms(), true);
	jbuf_printf(&d, "{\"signal\":");
	jbuf_strz(&d, w->stop_requested ? "disk_full"
		  : sigabbrev_np(l->stop_signal) ? sigabbrev_np(l->stop_signal)
		  : "?");
	uint64_t sent, suppressed;
	alerts_counts(w->alerts, &sent, &suppressed);
	jbuf_printf(&d, ",\"records\":%" PRIu64 ",\"rejected_clients\":%" PRIu64
		    ",\"policy_violations\":%" PRIu64 ",\"redactions\":%" PRIu64
		    ",\"alerts_sent\":%" PRIu64 ",\"alerts_suppressed\":%" PRIu64 "}",
		    w->accepted, w->rejected, w->violations, w->redactions, sent,
		    suppressed);
	if (ingest_lifecycle(w, "writer_stop", jbuf_text(&d)) < 0)
		log_crit("cannot seal the writer_stop record");
	jbuf_free(&d);
	if (group_drain(w, STOP_RETRY_MS) < 0)
		rc = 1;
	while (l->clients)
		client_close(l, l->clients);
	return rc;
}

/*
 * Forks; the parent waits until the child reports it is ready (one byte
 * on the pipe) and exits 0, or exits with the child's status if it died
 * first.  Returns the pipe's write end in the child.
 */
static int
daemonize(void)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		fatalx("pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0)
		fatalx("fork: %s", strerror(errno));
	if (pid > 0) {
		char c;
		int st;
		ssize_t r;
		close(p[1]);
		do
			r = read(p[0], &c, 1);
		while (r < 0 && errno == EINTR);
		if (r == 1)
			_exit(0);
		/* The child closed the pipe without saying ready: it failed
		 * and said why on stderr. */
		if (waitpid(pid, &st, 0) == pid)
			_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
		_exit(1);
	}
	close(p[0]);
	if (setsid() < 0)
		fatalx("setsid: %s", strerror(errno));
	return p[1];
}

static void
detach(int ready_fd)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (chdir("/") < 0)
		log_warn("chdir /");
	log_to_syslog();
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	if (write(ready_fd, "r", 1) < 0)
		log_warn("ready pipe");
	close(ready_fd);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 'S' },
		{ "db", required_argument, NULL, 'D' },
		{ "key", required_argument, NULL, 'K' },
		{ "alert-file", required_argument, NULL, 'A' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	static struct writer w;
	struct loop l = { .listener = -1, .sigfd = -1 };
	const char *cfile = NULL, *o_socket = NULL, *o_db = NULL, *o_key = NULL;
	bool foreground = false, check = false;
	char err[512];
	int ch;

	while ((ch = getopt_long(argc, argv, "fc:vhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f': foreground = true; break;
		case 'c': cfile = optarg; break;
		case 'S': o_socket = optarg; break;
		case 'D': o_db = optarg; break;
		case 'K': o_key = optarg; break;
		case 'A': w.alert_file = optarg; break;
		case 'C': check = true; break;
		case 'v': log_verbose = true; break;
		case 'V':
			printf("auditshimd (auditshim) %s\n", AUDITSHIM_VERSION);
			return 0;
		case 'h':
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	log_init("auditshimd", true);

	if (conf_defaults(&w.conf) < 0)
		fatalx("out of memory");
	if (!cfile && access(AUDITSHIM_DEFAULT_CONFIG, F_OK) == 0)
		cfile = AUDITSHIM_DEFAULT_CONFIG;
	if (cfile && conf_load(&w.conf, cfile, err, sizeof err) < 0)
		fatalx("%s", err);
	/* Rule families the file leaves out come from the built-in copy of
	 * the shipped file; every pattern is compiled (JIT) here, once. */
	if (conf_finish(&w.conf, err, sizeof err) < 0)
		fatalx("%s", err);
	w.config_path = cfile;
	if (check) {
		printf("%s: ok: %zu classification rules, %zu policies, %zu "
		       "redaction patterns\n", cfile ? cfile : CONF_DEFAULT_NAME,
		       rules_count_classify(w.conf.rules),
		       rules_count_policy(w.conf.rules),
		       rules_count_redact(w.conf.rules));
		conf_free(&w.conf);
		return 0;
	}
	/* Relative paths are taken against this directory (we chdir("/")),
	 * now and at every reload. */
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof cwd))
		fatalx("getcwd: %s", strerror(errno));
	w.opt_socket = o_socket;
	w.opt_db = o_db;
	w.opt_key = o_key;
	if (!(w.start_cwd = strdup(cwd)) ||
	    (cfile && !(w.config_file = writer_abspath(&w, cfile))) ||
	    writer_settings(&w, &w.conf, err, sizeof err) < 0)
		fatalx("out of memory");
	/* Memory bound: this many sealed records wait while one group is
	 * being committed (about 1.5 KiB each); reading pauses past it. */
	w.pend_cap = w.conf.commit_max * 8 > 8192 ? w.conf.commit_max * 8 : 8192;
	w.group_max = w.conf.commit_max * 2;

	umask(077);
	signal(SIGPIPE, SIG_IGN);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);

	int ready_fd = -1;
	if (!foreground)
		ready_fd = daemonize();

	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (gethostname(w.host, sizeof w.host - 1) < 0)
		snprintf(w.host, sizeof w.host, "localhost");
	ssize_t xl = readlink("/proc/self/exe", w.exe, sizeof w.exe - 1);
	w.exe[xl > 0 ? xl : 0] = '\0';

	boost_priority(w.conf.priority_boost);
	load_key(&w);
	/*
	 * SQLite's allocation statistics take a global mutex on every malloc
	 * and free; nothing here reads them.  Must precede its initialisation.
	 */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	/*
	 * Records come and go in groups of thousands: with malloc's default
	 * trim threshold each committed group gave its pages back and the
	 * next one faulted them in again (~13 us a page on a virtual
	 * machine).  Keep up to 64 MiB of freed heap; the pending list is
	 * capped, so the heap is bounded anyway.
	 */
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	mallopt(M_TOP_PAD, 1 << 20);
	int fi = faultvfs_install();
	if (fi < 0)
		fatalx("AUDITSHIMD_CRASH_AFTER_IO: not a positive number");
	if (fi > 0)
		log_warnx("fault injection: crashing after %s storage writes "
			  "(AUDITSHIMD_CRASH_AFTER_IO)",
			  getenv("AUDITSHIMD_CRASH_AFTER_IO"));
	if (db_open_rw(w.conf.database, w.host, &w.db, &w.lockfd, err,
		       sizeof err) < 0)
		fatalx("%s", err);
	check_key_epoch(&w);
	char *last_event = load_tail(&w);
	int64_t last_seq = w.seq;
	w.procs = procs_new();
	w.coverage = coverage_new();
	w.peers = peers_new(rules_resolved_cache(w.conf.rules),
			    rules_resolved_ttl_ms(w.conf.rules));
	if (!w.peers)
		fatalx("out of memory");
	if (!w.procs || group_init(&w) < 0)
		fatalx("%s: %s", w.conf.database, sqlite3_errmsg(w.db));
	if (procs_load(&w) < 0)
		fatalx("%s: cannot load proc_state: %s", w.conf.database,
		       sqlite3_errmsg(w.db));

	w.alerts = alerts_start(&w.conf, w.alert_file, w.host, err, sizeof err);
	if (!w.alerts)
		fatalx("%s", err);

	l.listener = open_listener(w.conf.socket, &l);
	l.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	l.ep = epoll_create1(EPOLL_CLOEXEC);
	l.ep_clients = epoll_create1(EPOLL_CLOEXEC);
	if (l.sigfd < 0 || l.ep < 0 || l.ep_clients < 0)
		fatalx("epoll/signalfd: %s", strerror(errno));
	ep_add(l.ep, l.listener, EPOLLIN, &tag_listener);
	ep_add(l.ep, l.sigfd, EPOLLIN, &tag_signal);
	ep_add(l.ep, l.ep_clients, EPOLLIN, &tag_clients);

	if (!foreground)
		detach(ready_fd);

	/* writer_start, and a gap if the last run did not end cleanly. */
	const char *prev = !last_event ? "none"
			   : strcmp(last_event, "writer_stop") == 0 ? "clean"
			   : "unclean";
	struct jbuf d = { 0 };
	jbuf_adds(&d, "{\"version\":");
	jbuf_strz(&d, AUDITSHIM_VERSION);
	jbuf_adds(&d, ",\"config\":");
	jbuf_strz(&d, w.config_path);
	jbuf_adds(&d, ",\"database\":");
	jbuf_strz(&d, w.conf.database);
	jbuf_adds(&d, ",\"socket\":");
	jbuf_strz(&d, w.conf.socket);
	jbuf_adds(&d, ",\"key_id\":");
	jbuf_strz(&d, w.key_id);
	jbuf_adds(&d, ",\"previous_shutdown\":");
	jbuf_strz(&d, prev);
	jbuf_adds(&d, "}");
	if (d.oom || ingest_lifecycle(&w, "writer_start", jbuf_text(&d)) < 0)
		fatalx("cannot seal the writer_start record");
	if (strcmp(prev, "unclean") == 0) {
		jbuf_reset(&d);
		jbuf_printf(&d, "{\"reason\":\"writer stopped uncleanly; records in "
			    "flight may be lost\",\"last_seq\":%" PRId64
			    ",\"last_event\":", last_seq);
		jbuf_strz(&d, last_event);
		jbuf_adds(&d, "}");
		if (d.oom || ingest_lifecycle(&w, "gap", jbuf_text(&d)) < 0)
			fatalx("cannot seal the unclean-shutdown gap record");
		log_warnx("the previous writer did not stop cleanly (last record "
			  "seq %" PRId64 " is a %s): recorded as a gap", last_seq,
			  last_event);
	}
	jbuf_free(&d);
	free(last_event);
	int e = group_start(&w);
	if (e < 0)
		fatalx("cannot start the commit thread: %s", strerror(-e));
	ep_add(l.ep, group_eventfd(&w), EPOLLIN, &tag_commit);
	group_kick(&w, true);
	log_info("auditshimd %s: listening on %s, database %s (seq %" PRId64 ")",
		 AUDITSHIM_VERSION, w.conf.socket, w.conf.database, w.seq);

	run(&w, &l);
	int rc = shutdown_writer(&w, &l);
	uint64_t sent, suppressed;
	alerts_stop(w.alerts, &sent, &suppressed);
	w.alerts = NULL;
	log_info("stopped: %" PRIu64 " records committed this run, %" PRIu64
		 " policy violations, %" PRIu64 " alerts sent, %" PRIu64
		 " suppressed", w.committed, w.violations, sent, suppressed);
	jbuf_free(&w.argv_join);
	jbuf_free(&w.red);
	jbuf_free(&w.argv_json);
	jbuf_free(&w.obj_scratch);
	group_fini(&w);
	procs_free(w.procs);
	coverage_free(w.coverage);
	peers_free(w.peers);
	free(w.config_file);
	free(w.start_cwd);
	db_close(w.db);
	close(w.lockfd);
	chain_ctx_free(w.chain);
	conf_free(&w.conf);
	close(l.ep_clients);
	close(l.ep);
	close(l.sigfd);
	return rc;
}
