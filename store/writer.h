/* SPDX-License-Identifier: MIT */
/*
 * writer.h - internals of auditshimd shared by its files: writer.c (main,
 * socket, event loop), ingest.c (message -> record), procs.c (process,
 * session and sequence tracking), group.c (sealing and group commit).
 * docs/writer.md describes the design.
 */
#ifndef AUDITSHIM_WRITER_H
#define AUDITSHIM_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <sqlite3.h>

#include "chain.h"
#include "conf.h"
#include "json.h"
#include "records.h"
#include "rules.h"
#include "wire.h"

/* Most concurrent clients; more are accepted and closed at once. */
#define WRITER_MAX_CLIENTS 4096
/* Messages read from one client before serving the others. */
#define WRITER_CLIENT_BUDGET 64
/* Tracked (pid, image) pairs; dead ones are pruned when full. */
#define PROCS_MAX 65536
/* Most pending holes (missing pseq ranges) per (pid, image); past it the
 * oldest becomes a gap at once. */
#define TRACK_WINDOW 64
/* A pseq missing this long becomes a gap record. */
#define TRACK_HOLE_MS 2000
/* Most strings one record owns (redaction may replace target, argv and
 * detail with copies). */
#define REC_MAX_OWN 16
/* Most policies one record can break (more are not reported). */
#define REC_MAX_POLICIES 8
/* Bytes of short strings (times, image, session, exe...) a record holds
 * inline, saving an allocation each. */
#define REC_INLINE 512

/* One record on its way to the database. */
struct rec {
	struct chain_record r;			/* fields; strings point into own[] or statics */
	char *own[REC_MAX_OWN];			/* strings this record frees */
	unsigned nown;				/* how many */
	unsigned char prev[CHAIN_HASH_LEN];	/* hash of seq - 1 */
	unsigned char hash[CHAIN_HASH_LEN];	/* this record's hash */
	unsigned char mac[CHAIN_HASH_LEN];	/* its mac */
	uint32_t lens[CHAIN_NFIELDS];		/* field lengths (chain_canonical_lens) */
	char *alert;				/* policy_violation: alert JSON
						 * to send once committed, owned */
	int alert_severity;			/* its enum rules_severity */
	struct rec *next;			/* next in the pending group */
	size_t inl_used;			/* bytes of inl[] taken */
	char inl[REC_INLINE];			/* short strings (rec_copy) */
};

struct procs;
struct alerts;

/* The daemon's state. */
struct writer {
	struct conf conf;		/* effective configuration */
	const char *config_path;	/* file loaded, or NULL */
	char host[256];			/* gethostname at start */
	char exe[4096];			/* our own /proc/self/exe */
	sqlite3 *db;			/* read-write store */
	int lockfd;			/* "<database>.lock", held */
	struct chain_ctx *chain;	/* MAC key context (epoch 1) */
	char key_id[17];		/* hex key id of epoch 1 */

	/* Chain position: every sealed record, committed or not. */
	int64_t seq;			/* last seq sealed */
	unsigned char last_hash[CHAIN_HASH_LEN];	/* its hash */
	unsigned char *canon;		/* canonical-encoding scratch */
	size_t canon_cap;		/* its size */

	/* Pending group: sealed, not yet committed. */
	struct rec *pend_head, *pend_tail;	/* in seq order */
	size_t npend;			/* records in it */
	size_t pend_cap;		/* hard cap: stop reading at this */
	size_t group_max;		/* most records per transaction */
	uint64_t pend_since_ms;		/* monotonic time of the first */
	struct committer *cm;		/* the commit thread (group.c) */
	sqlite3_stmt *ins;		/* RECORDS_INSERT; the commit thread's */
	sqlite3_stmt *ps_upsert;	/* proc_state upsert; the commit thread's */
	uint64_t committed;		/* records committed this run */
	uint64_t lost;			/* sealed but never committed (stop) */
	bool stop_requested;		/* disk_full_action = stop fired */

	struct procs *procs;		/* process / session / pseq tables */
	struct coverage *coverage;	/* execs awaiting their image_start */
	uint64_t accepted;		/* messages turned into records */
	uint64_t rejected;		/* clients closed for bad input */

	/* Classification, policy, redaction (rules.h), alerts (alerts.c). */
	struct jbuf argv_join;		/* scratch: argv joined by spaces */
	struct jbuf red;		/* scratch: redacted text */
	struct jbuf argv_json;		/* scratch: argv as a JSON array */
	struct jbuf obj_scratch;	/* scratch lent to each JSON object */
	struct alerts *alerts;		/* delivery thread, or NULL */
	const char *alert_file;		/* --alert-file, overrides [alerts] file */
	uint64_t violations;		/* policy_violation records this run */
	uint64_t redactions;		/* secrets replaced this run */
	struct peers *peers;		/* addresses allowed host names resolved
					 * to (peers.h), or NULL */

	/* What a reload needs to read the configuration as main did. */
	char *config_file;		/* -c file (or the default) made absolute,
					 * or NULL: none was read; owned */
	char *start_cwd;		/* cwd at start, for relative paths; owned */
	const char *opt_socket;		/* --socket, or NULL */
	const char *opt_db;		/* --db, or NULL */
	const char *opt_key;		/* --key, or NULL */
};

/* ---- group.c ---- */

/* New zeroed record, or NULL. */
struct rec *rec_new(void);
/* Copies N bytes of S (made valid UTF-8, \xNN for bad bytes) into R's
 * ownership; returns the copy, or NULL on allocation failure. */
const char *rec_text(struct rec *r, const char *s, size_t n);
/* Takes ownership of malloc'd S (may be NULL); returns it. */
const char *rec_take(struct rec *r, char *s);
/* A NUL-terminated copy of N bytes of S owned by R (inline if it fits),
 * or NULL on allocation failure. */
const char *rec_copy(struct rec *r, const char *s, size_t n);
void rec_free(struct rec *r);
/*
 * Assigns the next seq, seals R (prev_hash, hash, mac) and appends it to
 * the pending group; takes ownership of R in all cases.  Returns 0, or
 * -EIO/-ENOMEM (R freed; the chain position is unchanged).
 */
int group_seal(struct writer *w, struct rec *r);
/* Prepares the statements.  0 or -EIO. */
int group_init(struct writer *w);
/*
 * Starts the commit thread; from then on only it uses W->db.  0 or
 * -errno.  Each group is one transaction (records and proc_state), then
 * the head file is written.
 */
int group_start(struct writer *w);
/* Readable when a group has been committed: call group_reap(). */
int group_eventfd(const struct writer *w);
/* Hands the pending group to the commit thread if it is idle and the
 * group is due (FORCE: whenever there is one). */
void group_kick(struct writer *w, bool force);
/* Takes back a committed group: queues its alerts, frees it. */
void group_reap(struct writer *w);
/* ms until group_kick has work (0 now), or -1 (nothing, or one in flight). */
int group_due(const struct writer *w, uint64_t now_ms);
/* A group is in flight. */
bool group_busy(const struct writer *w);
/*
 * Stop: commits everything sealed, retrying for at most DEADLINE_MS.
 * Returns 0, or -EIO when records were given up (counted in W->lost).
 */
int group_drain(struct writer *w, unsigned deadline_ms);
/* Stops the commit thread and frees what is left. */
void group_fini(struct writer *w);

/* ---- coverage.c: exec <-> image_start pairing ---- */

struct coverage *coverage_new(void);
void coverage_free(struct coverage *c);
/*
 * An exec (or spawn) by SENDER is to start a shimmed image in pid CHILD
 * (SENDER itself for exec, the child for posix_spawn) at claimed TIME_NS;
 * SLACK_NS tolerates an image_start stamped that much earlier (a spawned
 * child runs before its parent records the spawn).  Returns 0 or a
 * negative code from writing a gap when the table had to make room.
 */
int coverage_exec(struct writer *w, pid_t child, pid_t sender, uid_t uid,
		  gid_t gid, uint64_t image, uint64_t time_ns, const char *target,
		  uint64_t slack_ns);
/* The exec by PID failed: no image is coming. */
void coverage_exec_failed(struct writer *w, pid_t pid);
/* PID announced a blind spot: its next exec is accounted for already. */
void coverage_blind(struct writer *w, pid_t pid);
/* PID sent a spawn record coverage does not pair: any blind mark is used. */
void coverage_spawned(struct writer *w, pid_t pid);
/* An image_start from PID stamped TIME_NS. */
void coverage_image(struct writer *w, pid_t pid, uint64_t time_ns);
/* Writes a gap for every exec unpaired for too long (ALL: every one). */
int coverage_tick(struct writer *w, uint64_t now_ms, bool all);

/* ---- procs.c ---- */

struct procs *procs_new(void);
void procs_free(struct procs *p);
/* Loads proc_state rows (dropping those of dead processes). 0 or -EIO. */
int procs_load(struct writer *w);
/* One proc_state row to save, copied out of the table. */
struct ps_row {
	int64_t pid;
	uint64_t image;
	char *session;		/* owned */
	char *agent;		/* owned, or NULL */
	int64_t last_pseq;
};
/*
 * Copies every changed (pid, image) entry into *ROWS (malloc'd, *N of
 * them; NULL and 0 if none) and marks them saved: the copy goes with the
 * records it belongs to and is committed with them.  0 or -ENOMEM.
 */
int procs_snapshot(struct writer *w, struct ps_row **rows, size_t *n);
void ps_rows_free(struct ps_row *rows, size_t n);
/* Upserts ROWS with the proc_state statement ST; inside a transaction. */
int procs_save_rows(sqlite3_stmt *st, const struct ps_row *rows, size_t n);

/* What procs_receive saw about a pseq. */
enum track_status {
	TRACK_NEW,		/* in order or within the reorder window */
	TRACK_LATE,		/* after its gap record was written */
	TRACK_DUP,		/* seen before */
};

/* Per-message view of the sender for ingest.c. */
struct proc_view {
	const char *session;	/* session name, or NULL */
	const char *agent;	/* session's agent label, or NULL */
	const char *exe;	/* writer's view of the executable, or NULL */
	int64_t ppid;		/* kernel ppid, or -1 unknown */
	bool agent_differs;	/* the claimed label differs from the session's */
};

/*
 * Finds or creates the (PID, IMAGE) entry (deriving its session), accounts
 * PSEQ (and, for a shim gap, LOST_FIRST/LOST_COUNT) and writes gap records
 * for holes that this closes.  FORKED: the record is the first of an image
 * made by fork, not by exec (pseq 1 and not an image_start), whose
 * program is its parent's.  Fills V (valid until the next procs call).
 * Returns a track_status, or a negative code if sealing a gap failed.
 */
int procs_receive(struct writer *w, pid_t pid, uid_t uid, gid_t gid,
		  uint64_t image, uint64_t pseq, int64_t claimed_ppid,
		  const struct wire_str *agent, bool is_gap, bool forked,
		  uint64_t lost_first, uint64_t lost_count, struct proc_view *v);
/* Writes gap records for holes older than TRACK_HOLE_MS (ALL: every hole). */
int procs_tick(struct writer *w, uint64_t now_ms, bool all);
/* Session name and agent of a live tracked PID (approvals), else NULLs. */
void procs_session_of(struct writer *w, pid_t pid, const char **session,
		      const char **agent);

/* /proc/PID/stat fields 4 (ppid) and 22 (starttime). 0, or -1 if gone. */
int proc_stat(pid_t pid, int64_t *ppid, unsigned long long *start);
/* /proc/PID/exe as valid UTF-8 text (malloc'd), or NULL if gone. */
char *proc_exe(pid_t pid);

/* ---- ingest.c ---- */

/* Turns one decoded message with its kernel credentials into records.
 * Returns 0, or a negative code: a protocol error (the caller closes the
 * client; *WHY says why) or a sealing failure. */
int ingest_message(struct writer *w, const struct wire_msg *m, pid_t pid,
		   uid_t uid, gid_t gid, const char **why);
/*
 * Seals a writer-generated gap record for PID/IMAGE covering COUNT pseqs
 * from FIRST, with REASON.
 */
int ingest_gap(struct writer *w, pid_t pid, uid_t uid, gid_t gid,
	       uint64_t image, const char *session, const char *agent,
	       uint64_t first, uint64_t count, const char *reason);
/* Seals a writer lifecycle record (writer_start, writer_stop, gap) with
 * DETAIL (JSON object text). */
int ingest_lifecycle(struct writer *w, const char *event, const char *detail);

/* ---- reload.c ---- */

/* PATH made absolute against w->start_cwd (malloc'd), or NULL (ENOMEM). */
char *writer_abspath(const struct writer *w, const char *path);
/*
 * Applies the command-line overrides (--socket, --db, --key) to C and
 * makes its paths absolute, as at start.  0, or -ENOMEM with ERR.
 */
int writer_settings(const struct writer *w, struct conf *c, char *err,
		    size_t errlen);
/*
 * SIGHUP: re-reads the configuration file and, if it loads, compiles, its
 * [writer] settings are unchanged and its alert sinks open, switches the
 * rules, policies, redaction, host allowlist and alerts to it at once;
 * else logs FILE:LINE: reason and keeps the running configuration whole.
 * Seals a writer_reload record either way.  Returns 0 if applied, else a
 * negative code.  Called from the event loop, between records.
 */
int writer_reload(struct writer *w);

/* ---- alerts.c ---- */

struct alert_sinks;

/*
 * Opens the sinks of C's [alerts] (FILE_OVERRIDE, if not NULL, replaces
 * its file) and starts the delivery thread.  Returns the handle, or NULL
 * with a reason in ERR (the file cannot be opened, no memory, no thread).
 */
struct alerts *alerts_start(const struct conf *c, const char *file_override,
			    const char *host, char *err, size_t errlen);
/*
 * Queues alert JSON (one object, no newline; ownership taken) of
 * SEVERITY.  Never blocks: over the rate limit, or with the queue full,
 * the alert is dropped and counted.  A NULL handle frees JSON.
 */
void alerts_push(struct alerts *a, char *json, int severity);
/*
 * Opens the sinks of C's [alerts] (FILE_OVERRIDE replacing its file) for
 * alerts_apply: a reload prepares everything that can fail first.
 * Returns them, or NULL with a reason in ERR.
 */
struct alert_sinks *alerts_prepare(const struct conf *c,
				   const char *file_override, char *err,
				   size_t errlen);
/* Closes and frees prepared sinks that were not applied; NULL is a no-op. */
void alerts_discard(struct alert_sinks *s);
/*
 * Switches A to sinks S (ownership taken) and C's rate, burst, queue and
 * summary settings; queued alerts go to the new sinks.  Cannot fail and
 * never waits for a delivery in progress (the old sinks are closed when
 * it ends).  A NULL handle frees S.
 */
void alerts_apply(struct alerts *a, struct alert_sinks *s, const struct conf *c);
/* Alerts delivered and suppressed so far (0 for a NULL handle). */
void alerts_counts(struct alerts *a, uint64_t *sent, uint64_t *suppressed);
/* Delivers what is queued (for at most a few seconds), reports what was
 * suppressed, stops the thread and frees A.  Totals into SENT/SUPPRESSED. */
void alerts_stop(struct alerts *a, uint64_t *sent, uint64_t *suppressed);

/*
 * Runs CMD with /bin/sh -c, INPUT and a newline on its stdin, our
 * signal mask and SIGPIPE disposition reset and the scheduling the
 * writer started with (run_shell_sched); waits for it at most TIMEOUT_MS
 * (then kills it).  WHO prefixes log lines.  0 if it exited 0.
 */
int run_shell(const char *cmd, const char *input, unsigned timeout_ms,
	      const char *who);
/* The nice value and policy run_shell's commands get: the writer's own
 * before its priority_boost.  Called once, before any thread starts. */
void run_shell_sched(int nice, int policy);

/* fmt_time_ns() and now_realtime_ns() are in records.h. */
/* Current monotonic time in ms and in ns. */
uint64_t now_mono_ms(void);
uint64_t now_mono_ns(void);

#endif
