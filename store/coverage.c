/* SPDX-License-Identifier: MIT */
/*
 * coverage.c - pairs every exec the shim announces with the image_start
 * of the image it starts.  An exec that neither fails, nor was announced
 * as a blind spot, nor is followed by an image_start within COV_WAIT_MS
 * started a program that runs unobserved (a shim disabled by seccomp, a
 * loader that dropped the preload, a tampered environment): the writer
 * records it as a gap.  image_start travels on its own short-lived
 * connection and may arrive before the exec record, so both orders are
 * matched, by pid and the claimed times.  An image_start that arrived
 * first answers an exec only provisionally: a child searching PATH makes
 * one attempt after another from the same pid, each but the last followed
 * by its error, and an error hands the image_start on to the next attempt.
 * Tables are fixed-size: when one is full the oldest entry is settled
 * early (a gap), never dropped.
 */
#include "writer.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long an exec may wait for its image_start. */
#define COV_WAIT_MS 5000
/* Execs awaiting an image_start, image_starts awaiting their exec. */
#define COV_PENDING 1024
#define COV_RECENT 256

/* An exec attempt not yet paired. */
struct cov_exec {
	pid_t pid;		/* the pid whose new image must announce itself */
	pid_t sender;		/* who sent the exec or spawn record */
	uid_t uid;		/* attested uid of the sender */
	gid_t gid;		/* attested gid of the sender */
	uint64_t image;		/* sender's image nonce */
	uint64_t time_ns;	/* claimed time of the exec record */
	uint64_t since_ms;	/* writer monotonic time it arrived */
	uint64_t start_ns;	/* answered: the image_start's claimed time */
	bool answered;		/* an image_start that came first answers it */
	char target[256];	/* program, for the gap record (cut) */
};

/* An image_start not (yet) matched to an exec. */
struct cov_start {
	pid_t pid;		/* 0: free slot */
	uint64_t time_ns;	/* claimed time of the image_start */
};

struct coverage {
	struct cov_exec exec[COV_PENDING];	/* unordered, first nexec used */
	unsigned nexec;				/* how many */
	struct cov_start start[COV_RECENT];	/* ring of recent image_starts */
	unsigned next_start;			/* ring position */
	pid_t blind[64];			/* pids that just announced a blind spot */
	unsigned next_blind;			/* ring position */
};

struct coverage *
coverage_new(void)
{
	return calloc(1, sizeof(struct coverage));
}

void
coverage_free(struct coverage *c)
{
	free(c);
}

static void
drop_exec(struct coverage *c, unsigned i)
{
	c->exec[i] = c->exec[--c->nexec];
}

static void
remember_start(struct coverage *c, pid_t pid, uint64_t time_ns)
{
	struct cov_start *s = &c->start[c->next_start++ % COV_RECENT];
	s->pid = pid;
	s->time_ns = time_ns;
}

/*
 * Drops PID's pending exec without settling it.  An image_start that
 * answered it goes back to be matched again by PID's next attempt.
 */
static void
release_exec(struct coverage *c, pid_t pid)
{
	for (unsigned i = 0; i < c->nexec; i++)
		if (c->exec[i].pid == pid) {
			if (c->exec[i].answered)
				remember_start(c, pid, c->exec[i].start_ns);
			drop_exec(c, i);
			return;
		}
}

/* Ends exec I: a gap unless an image_start answered it. */
static int
settle(struct writer *w, unsigned i, const char *why)
{
	struct coverage *c = w->coverage;
	struct cov_exec e = c->exec[i];
	const char *session = NULL, *agent = NULL;
	char reason[400];

	drop_exec(c, i);
	if (e.answered)
		return 0;
	snprintf(reason, sizeof reason, "exec of %s by pid %d produced no "
		 "image_start: the program ran unobserved (%s)", e.target,
		 (int)e.sender, why);
	procs_session_of(w, e.sender, &session, &agent);
	return ingest_gap(w, e.sender, e.uid, e.gid, e.image, session, agent,
			  0, 0, reason);
}

/* True (and the blind mark consumed) if PID just announced a blind spot. */
static bool
take_blind(struct coverage *c, pid_t pid)
{
	for (unsigned i = 0; i < sizeof c->blind / sizeof c->blind[0]; i++)
		if (c->blind[i] == pid) {
			c->blind[i] = 0;
			return true;
		}
	return false;
}

void
coverage_blind(struct writer *w, pid_t pid)
{
	struct coverage *c = w->coverage;
	c->blind[c->next_blind++ % (sizeof c->blind / sizeof c->blind[0])] = pid;
}

/*
 * A spawn record that coverage does not pair (system, popen, a spawn
 * that failed) ends the operation a blind spot of PID announced: the
 * mark must not excuse PID's next exec instead.
 */
void
coverage_spawned(struct writer *w, pid_t pid)
{
	take_blind(w->coverage, pid);
}

int
coverage_exec(struct writer *w, pid_t child, pid_t sender, uid_t uid,
	      gid_t gid, uint64_t image, uint64_t time_ns, const char *target,
	      uint64_t slack_ns)
{
	struct coverage *c = w->coverage;
	int rc = 0;

	if (take_blind(c, sender))
		return 0;
	/*
	 * A second attempt from the same pid replaces the first (whose exec
	 * succeeded, or whose error was lost).  An image_start that answered
	 * the first goes back to be matched again: by its time it may be this
	 * attempt's image rather than the first's.
	 */
	release_exec(c, child);
	/* Its image_start may already be here. */
	bool answered = false;
	uint64_t start_ns = 0;
	for (unsigned i = 0; i < COV_RECENT && !answered; i++) {
		struct cov_start *s = &c->start[i];
		if (s->pid == child && s->time_ns + slack_ns >= time_ns) {
			s->pid = 0;
			answered = true;
			start_ns = s->time_ns;
		}
	}
	if (c->nexec == COV_PENDING) {
		/* The oldest goes; one already answered (no gap) before any. */
		unsigned oldest = 0;
		for (unsigned i = 1; i < c->nexec; i++) {
			const struct cov_exec *o = &c->exec[oldest], *x = &c->exec[i];
			if (x->answered != o->answered ? x->answered
						       : x->since_ms < o->since_ms)
				oldest = i;
		}
		rc = settle(w, oldest, "too many execs awaiting their image");
	}
	struct cov_exec *e = &c->exec[c->nexec++];
	e->pid = child;
	e->sender = sender;
	e->uid = uid;
	e->gid = gid;
	e->image = image;
	e->time_ns = time_ns > slack_ns ? time_ns - slack_ns : 0;
	e->since_ms = now_mono_ms();
	e->answered = answered;
	e->start_ns = start_ns;
	snprintf(e->target, sizeof e->target, "%s", target ? target : "?");
	return rc;
}

void
coverage_exec_failed(struct writer *w, pid_t pid)
{
	/* Not this attempt's image: the next attempt's, maybe. */
	release_exec(w->coverage, pid);
}

void
coverage_image(struct writer *w, pid_t pid, uint64_t time_ns)
{
	struct coverage *c = w->coverage;
	for (unsigned i = 0; i < c->nexec; i++)
		if (c->exec[i].pid == pid && !c->exec[i].answered &&
		    time_ns >= c->exec[i].time_ns) {
			drop_exec(c, i);
			return;
		}
	remember_start(c, pid, time_ns);
}

int
coverage_tick(struct writer *w, uint64_t now_ms, bool all)
{
	struct coverage *c = w->coverage;
	int rc = 0;

	for (unsigned i = 0; i < c->nexec && rc == 0;) {
		if (all || now_ms - c->exec[i].since_ms >= COV_WAIT_MS)
			rc = settle(w, i, all ? "none arrived before the writer "
				    "stopped" : "none arrived within 5 s");
		else
			i++;
	}
	return rc;
}
