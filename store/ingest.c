/* SPDX-License-Identifier: MIT */
/*
 * ingest.c - turns a decoded wire message plus the sender's kernel
 * credentials into a record (docs/record-format.md), and builds the
 * records the writer itself adds: gaps and lifecycle events.  Everything
 * the message says about itself is stored as claimed; pid/uid/gid come
 * from SCM_CREDENTIALS only.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "errname.h"
#include "json.h"
#include "log.h"
#include "peers.h"
#include "writer.h"

uint64_t
now_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t
now_mono_ms(void)
{
	return now_mono_ns() / 1000000u;
}

/* A JSON object under construction (jobj_begin ... jobj_finish). */
struct jobj {
	struct jbuf b;		/* text so far: the writer's scratch, lent */
	bool any;		/* a member was added */
	struct writer *w;	/* redact string values with its rules, or NULL */
	unsigned redacted;	/* secrets replaced in it */
	struct writer *home;	/* whose scratch B is */
};

/* Starts O in W's scratch buffer (REDACT: apply W's [redact] patterns). */
static void
jobj_begin(struct jobj *o, struct writer *w, bool redact)
{
	*o = (struct jobj){ .b = w->obj_scratch, .w = redact ? w : NULL,
			    .home = w };
	w->obj_scratch = (struct jbuf){ 0 };
	jbuf_reset(&o->b);
}

/*
 * What a redaction that returned K leaves of S (*N bytes): S untouched,
 * the failure marker, or the redacted copy in w->red; *N and *COUNT
 * follow.
 */
static const char *
redacted(struct writer *w, int k, const char *s, size_t *n, unsigned *count)
{
	if (k == 0)
		return s;
	if (k < 0) {
		static const char failed[] = "[REDACTED:failed]";
		*n = sizeof failed - 1;
		(*count)++;
		return failed;
	}
	*count += (unsigned)k;
	w->redactions += (unsigned)k;
	*n = w->red.len;
	return w->red.p;
}

/*
 * S (N bytes) with the [redact] patterns applied: S itself, or the
 * redacted text in w->red (valid until the next call).  Adds the number
 * of secrets replaced to *COUNT.  A failure hides the whole value.
 */
static const char *
redact(struct writer *w, const char *s, size_t *n, unsigned *count)
{
	int k = rules_redact(w->conf.rules, w->chain, s, *n, &w->red);
	return redacted(w, k, s, n, count);
}

/* redact() for argv element I of M: secret flags, then the patterns. */
static const char *
redact_arg(struct writer *w, const struct wire_msg *m, unsigned i, size_t *n,
	   unsigned *count)
{
	const struct wire_str *a = &m->args[i];
	int k = rules_redact_arg(w->conf.rules, w->chain, m->args[0].p,
				 m->args[0].len, i ? m->args[i - 1].p : NULL,
				 i ? m->args[i - 1].len : 0, a->p, a->len, &w->red);

	*n = a->len;
	return redacted(w, k, a->p, n, count);
}

static void
jkey(struct jobj *o, const char *key)
{
	jbuf_add(&o->b, o->any ? "," : "{", 1);
	o->any = true;
	jbuf_str(&o->b, key, strlen(key));
	jbuf_add(&o->b, ":", 1);
}

static void
jkey_str(struct jobj *o, const char *key, const char *s, size_t n)
{
	jkey(o, key);
	if (o->w)
		s = redact(o->w, s, &n, &o->redacted);
	jbuf_str(&o->b, s, n);
}

static void
jkey_u64(struct jobj *o, const char *key, uint64_t v)
{
	jkey(o, key);
	jbuf_u64(&o->b, v);
}

static void
jkey_i64(struct jobj *o, const char *key, int64_t v)
{
	jkey(o, key);
	jbuf_i64(&o->b, v);
}

/* Closes O and hands its text to R (NULL for an empty object). */
static const char *
jobj_finish(struct jobj *o, struct rec *r, bool *oom)
{
	const char *text = NULL;

	if (o->any) {
		jbuf_add(&o->b, "}", 1);
		if (!o->b.oom)
			text = rec_copy(r, o->b.p, o->b.len);
		if (!text)
			*oom = true;
	}
	/* The buffer goes back for the next object. */
	if (o->b.oom || o->home->obj_scratch.p)
		jbuf_free(&o->b);
	else
		o->home->obj_scratch = o->b;
	o->b = (struct jbuf){ 0 };
	return text;
}
struct flagname {
	uint64_t bits;		/* all of these set */
	const char *name;	/* its symbol */
};

static const struct flagname open_flags[] = {
	{ O_CREAT, "O_CREAT" }, { O_EXCL, "O_EXCL" }, { O_NOCTTY, "O_NOCTTY" },
	{ O_TRUNC, "O_TRUNC" }, { O_APPEND, "O_APPEND" },
	{ O_NONBLOCK, "O_NONBLOCK" }, { O_SYNC, "O_SYNC" },
	{ O_DSYNC, "O_DSYNC" }, { O_ASYNC, "O_ASYNC" }, { O_DIRECT, "O_DIRECT" },
	/* glibc defines O_LARGEFILE as 0 on 64-bit; 32-bit callers pass it. */
	{ 0100000, "O_LARGEFILE" }, { O_TMPFILE, "O_TMPFILE" },
	{ O_DIRECTORY, "O_DIRECTORY" }, { O_NOFOLLOW, "O_NOFOLLOW" },
	{ O_NOATIME, "O_NOATIME" }, { O_CLOEXEC, "O_CLOEXEC" }, { O_PATH, "O_PATH" },
	{ 0, NULL }
};

static const struct flagname at_flags[] = {
	{ AT_SYMLINK_NOFOLLOW, "AT_SYMLINK_NOFOLLOW" },
	{ AT_REMOVEDIR, "AT_REMOVEDIR" }, { AT_SYMLINK_FOLLOW, "AT_SYMLINK_FOLLOW" },
	{ AT_NO_AUTOMOUNT, "AT_NO_AUTOMOUNT" }, { AT_EMPTY_PATH, "AT_EMPTY_PATH" },
	{ 0, NULL }
};

static const struct flagname rename_flags[] = {
	{ RENAME_NOREPLACE, "RENAME_NOREPLACE" },
	{ RENAME_EXCHANGE, "RENAME_EXCHANGE" }, { RENAME_WHITEOUT, "RENAME_WHITEOUT" },
	{ 0, NULL }
};

static const struct flagname msg_flags[] = {
	{ MSG_OOB, "MSG_OOB" }, { MSG_DONTROUTE, "MSG_DONTROUTE" },
	{ MSG_DONTWAIT, "MSG_DONTWAIT" }, { MSG_EOR, "MSG_EOR" },
	{ MSG_CONFIRM, "MSG_CONFIRM" }, { MSG_NOSIGNAL, "MSG_NOSIGNAL" },
	{ MSG_MORE, "MSG_MORE" }, { MSG_FASTOPEN, "MSG_FASTOPEN" },
	{ 0, NULL }
};

/* FLAGS as "A|B|0x40" from TABLE; open flags start with the access mode. */
static void
flags_text(struct jbuf *b, uint64_t flags, const struct flagname *table,
	   bool open_mode)
{
	bool any = false;

	if (open_mode) {
		static const char *const acc[] = { "O_RDONLY", "O_WRONLY",
						   "O_RDWR", "O_ACCMODE" };
		jbuf_adds(b, acc[flags & O_ACCMODE]);
		flags &= ~(uint64_t)O_ACCMODE;
		any = true;
	}
	for (const struct flagname *f = table; f->name; f++) {
		if ((flags & f->bits) != f->bits)
			continue;
		if (any)
			jbuf_add(b, "|", 1);
		jbuf_adds(b, f->name);
		flags &= ~f->bits;
		any = true;
	}
	if (flags || !any)
		jbuf_printf(b, "%s0x%" PRIx64, any ? "|" : "", flags);
}

static const struct flagname *
flag_table(unsigned ev, bool *open_mode)
{
	*open_mode = false;
	switch (ev) {
	case WE_OPEN:
	case WE_SPAWN_ACTION:	/* posix_spawn_file_actions_addopen */
		*open_mode = true;
		return open_flags;
	case WE_RENAME:
		return rename_flags;
	case WE_SENDTO:
		return msg_flags;
	case WE_UNLINK: case WE_RMDIR: case WE_LINK: case WE_CHMOD:
	case WE_CHOWN: case WE_MKDIR: case WE_SYMLINK: case WE_TRUNCATE:
	case WE_MKNOD:
		return at_flags;
	default:
		return NULL;
	}
}

static const char *
dup_time(struct rec *r, uint64_t ns)
{
	char buf[32];

	fmt_time_ns(ns, buf);
	return rec_copy(r, buf, strlen(buf));
}

/* IMAGE as 16 lower-case hex digits and a NUL, into BUF. */
static void
hex16(uint64_t image, char buf[17])
{
	static const char hx[] = "0123456789abcdef";

	for (int i = 15; i >= 0; i--, image >>= 4)
		buf[i] = hx[image & 15];
	buf[16] = '\0';
}

static const char *
dup_image(struct rec *r, uint64_t image)
{
	char buf[17];

	hex16(image, buf);
	return rec_copy(r, buf, 16);
}

static const char *
dup_str(struct rec *r, const char *s)
{
	return s ? rec_copy(r, s, strlen(s)) : NULL;
}

/* The fields every record shares. */
static void
rec_base(struct writer *w, struct rec *r, uint64_t time_ns, uint64_t recv_ns)
{
	r->r.time = dup_time(r, time_ns);
	r->r.recv_time = dup_time(r, recv_ns);
	r->r.host = w->host;
	r->r.severity = "info";
	r->r.result = "ok";
	r->r.key_epoch = 1;
}

/* Seals R, or frees it and reports allocation failure. */
static int
seal_checked(struct writer *w, struct rec *r, bool oom)
{
	if (oom || !r->r.time || !r->r.recv_time) {
		rec_free(r);
		return -ENOMEM;
	}
	return group_seal(w, r);
}

/* The policies a record breaks. */
struct hits {
	const struct rule_info *p[REC_MAX_POLICIES];	/* in file order */
	size_t n;					/* how many */
};

/*
 * Runs the policies over R (before redaction: ARGV is the raw argv joined
 * by spaces, or NULL) and raises R's severity to the highest that matched.
 */
static void
policy_check(struct writer *w, struct rec *r, const char *argv,
	     size_t argv_len, struct hits *h)
{
	struct rules_input in = {
		.event = r->r.event, .klass = r->r.klass,
		.target = r->r.target,
		.target_len = r->r.target ? strlen(r->r.target) : 0,
		.argv = argv, .argv_len = argv_len, .exe = r->r.exe,
		.peers = w->peers,
	};
	enum rules_severity top = RS_INFO;

	h->n = rules_policies(w->conf.rules, &in, h->p, REC_MAX_POLICIES);
	for (size_t i = 0; i < h->n; i++)
		if (h->p[i]->severity > top)
			top = h->p[i]->severity;
	if (top > RS_INFO)
		r->r.severity = rules_severity_name(top);
}

/* The alert JSON for violation V of policy P about record R. */
static char *
alert_json(const struct writer *w, const struct rec *r, const struct rec *v,
	   const struct rule_info *p)
{
	struct jbuf b = { 0 };

	jbuf_adds(&b, "{\"type\":\"policy_violation\",\"time\":");
	jbuf_strz(&b, v->r.recv_time);
	jbuf_adds(&b, ",\"host\":");
	jbuf_strz(&b, w->host);
	jbuf_adds(&b, ",\"severity\":");
	jbuf_strz(&b, rules_severity_name(p->severity));
	jbuf_adds(&b, ",\"policy\":");
	jbuf_strz(&b, p->name);
	jbuf_adds(&b, ",\"message\":");
	jbuf_strz(&b, p->message);
	jbuf_printf(&b, ",\"seq\":%" PRId64 ",\"violation_seq\":%" PRId64,
		    r->r.seq, v->r.seq);
	jbuf_adds(&b, ",\"event\":");
	jbuf_strz(&b, r->r.event);
	jbuf_adds(&b, ",\"class\":");
	jbuf_strz(&b, r->r.klass);
	jbuf_adds(&b, ",\"target\":");
	jbuf_strz(&b, r->r.target);
	jbuf_adds(&b, ",\"session\":");
	jbuf_strz(&b, r->r.session);
	jbuf_adds(&b, ",\"agent\":");
	jbuf_strz(&b, r->r.agent);
	if (r->r.has_pid)
		jbuf_printf(&b, ",\"pid\":%" PRId64, r->r.pid);
	if (r->r.has_uid)
		jbuf_printf(&b, ",\"uid\":%" PRId64, r->r.uid);
	jbuf_adds(&b, ",\"exe\":");
	jbuf_strz(&b, r->r.exe);
	jbuf_adds(&b, "}");
	if (b.oom) {
		jbuf_free(&b);
		return NULL;
	}
	return b.p;
}

/*
 * Seals R, then one policy_violation record per policy in H right after
 * it in the chain (detail: policy, message, the offending seq), each with
 * an alert to send once committed.  Takes ownership of R.
 */
static int
seal_with_policy(struct writer *w, struct rec *r, const struct hits *h,
		 bool oom)
{
	int rc = seal_checked(w, r, oom);

	if (rc < 0 || !h->n)
		return rc;
	/* R is sealed and waits in the pending group: its fields stay valid
	 * until group_commit, which ingest never calls. */
	for (size_t i = 0; i < h->n; i++) {
		const struct rule_info *p = h->p[i];
		struct rec *v = rec_new();
		struct jobj d;
		bool voom = false;

		if (!v)
			return -ENOMEM;
		uint64_t now = now_realtime_ns();
		rec_base(w, v, now, now);
		v->r.session = dup_str(v, r->r.session);
		v->r.agent = dup_str(v, r->r.agent);
		v->r.pid = r->r.pid;
		v->r.ppid = r->r.ppid;
		v->r.uid = r->r.uid;
		v->r.gid = r->r.gid;
		v->r.has_pid = r->r.has_pid;
		v->r.has_ppid = r->r.has_ppid;
		v->r.has_uid = r->r.has_uid;
		v->r.has_gid = r->r.has_gid;
		v->r.exe = dup_str(v, r->r.exe);
		v->r.event = "policy_violation";
		v->r.klass = "other";
		v->r.severity = rules_severity_name(p->severity);
		v->r.target = dup_str(v, r->r.target);
		jobj_begin(&d, w, false);
		jkey_str(&d, "policy", p->name, strlen(p->name));
		jkey_str(&d, "message", p->message, strlen(p->message));
		jkey_i64(&d, "seq", r->r.seq);
		jkey_str(&d, "event", r->r.event, strlen(r->r.event));
		jkey_str(&d, "class", r->r.klass, strlen(r->r.klass));
		v->r.detail = jobj_finish(&d, v, &voom);
		voom |= (r->r.session && !v->r.session) ||
			(r->r.agent && !v->r.agent) || (r->r.exe && !v->r.exe) ||
			(r->r.target && !v->r.target);
		if ((rc = seal_checked(w, v, voom)) < 0)
			return rc;
		w->violations++;
		log_warnx("policy %s (%s): seq %" PRId64 " %s %s: %s", p->name,
			  rules_severity_name(p->severity), r->r.seq, r->r.event,
			  r->r.target ? r->r.target : "-", p->message);
		if (w->alerts && (unsigned)p->severity >= w->conf.alert_min_severity) {
			v->alert = alert_json(w, r, v, p);
			v->alert_severity = (int)p->severity;
			if (!v->alert)
				log_crit("out of memory: alert for seq %" PRId64
					 " not sent", v->r.seq);
		}
	}
	return 0;
}

int
ingest_gap(struct writer *w, pid_t pid, uid_t uid, gid_t gid, uint64_t image,
	   const char *session, const char *agent, uint64_t first,
	   uint64_t count, const char *reason)
{
	struct rec *r = rec_new();
	struct jobj d;
	bool oom = false;
	char img[17];

	if (!r)
		return -ENOMEM;
	uint64_t now = now_realtime_ns();
	rec_base(w, r, now, now);
	r->r.session = dup_str(r, session);
	r->r.agent = dup_str(r, agent);
	r->r.pid = pid;
	r->r.uid = uid;
	r->r.gid = gid;
	r->r.has_pid = r->r.has_uid = r->r.has_gid = true;
	r->r.event = "gap";
	r->r.klass = "other";
	r->r.image = dup_image(r, image);
	snprintf(img, sizeof img, "%016" PRIx64, image);
	jobj_begin(&d, w, false);
	jkey_i64(&d, "pid", pid);
	jkey_str(&d, "image", img, strlen(img));
	if (count) {
		jkey_u64(&d, "first_pseq", first);
		jkey_u64(&d, "count", count);
	}
	jkey_str(&d, "reason", reason, strlen(reason));
	r->r.detail = jobj_finish(&d, r, &oom);
	if (count)
		log_warnx("gap: pid %d image %s lost pseq %" PRIu64 "..%" PRIu64
			  " (%s)", (int)pid, img, first, first + count - 1, reason);
	else
		log_warnx("gap: pid %d: %s", (int)pid, reason);
	struct hits h;
	policy_check(w, r, NULL, 0, &h);
	return seal_with_policy(w, r, &h, oom);
}

int
ingest_lifecycle(struct writer *w, const char *event, const char *detail)
{
	struct rec *r = rec_new();

	if (!r)
		return -ENOMEM;
	uint64_t now = now_realtime_ns();
	rec_base(w, r, now, now);
	r->r.pid = getpid();
	r->r.ppid = getppid();
	r->r.uid = geteuid();
	r->r.gid = getegid();
	r->r.has_pid = r->r.has_ppid = r->r.has_uid = r->r.has_gid = true;
	r->r.exe = w->exe[0] ? w->exe : NULL;
	r->r.event = event;
	r->r.klass = "other";
	r->r.detail = dup_str(r, detail);
	struct hits h;
	policy_check(w, r, NULL, 0, &h);
	return seal_with_policy(w, r, &h, detail && !r->r.detail);
}

static const char *
str_field(struct rec *r, const struct wire_msg *m, enum wire_tag tag)
{
	return wire_has(m, tag) ? rec_text(r, m->s[tag].p, m->s[tag].len) : NULL;
}

/* An approval decision sent by auditctl. */
static int
ingest_approval(struct writer *w, const struct wire_msg *m, pid_t pid,
		uid_t uid, gid_t gid)
{
	struct rec *r = rec_new();
	struct jobj d;
	bool oom = false;
	int64_t ppid;
	unsigned long long start;

	if (!r)
		return -ENOMEM;
	uint64_t now = now_realtime_ns();
	rec_base(w, r, wire_has(m, WT_TIME) ? m->u[WT_TIME] : now, now);
	r->r.pid = pid;
	r->r.uid = uid;
	r->r.gid = gid;
	r->r.has_pid = r->r.has_uid = r->r.has_gid = true;
	if (proc_stat(pid, &ppid, &start) == 0) {
		r->r.ppid = ppid;
		r->r.has_ppid = true;
	}
	r->r.exe = rec_take(r, proc_exe(pid));
	const char *sess, *agent;
	procs_session_of(w, pid, &sess, &agent);
	r->r.session = dup_str(r, sess);
	r->r.agent = dup_str(r, agent);
	r->r.event = "approval";
	r->r.klass = "other";
	r->r.target = str_field(r, m, WT_TASK);
	jobj_begin(&d, w, true);
	jkey_str(&d, "decision", m->s[WT_DECISION].p, m->s[WT_DECISION].len);
	if (wire_has(m, WT_TEXT))
		jkey_str(&d, "reason", m->s[WT_TEXT].p, m->s[WT_TEXT].len);
	r->r.detail = jobj_finish(&d, r, &oom);
	struct hits h;
	policy_check(w, r, NULL, 0, &h);
	return seal_with_policy(w, r, &h, oom || !r->r.target);
}

/*
 * What a spawn record's result is: system() returns the wait status,
 * popen() a stream (the shim sends its descriptor; the child's pid is
 * glibc's secret), the posix_spawn family the child's pid.
 */
static const char *
spawn_result_name(const struct wire_msg *m)
{
	const struct wire_str *api = &m->s[WT_API];

	if (wire_has(m, WT_API) && api->len == 6 && memcmp(api->p, "system", 6) == 0)
		return "status";
	if (wire_has(m, WT_API) && api->len == 5 && memcmp(api->p, "popen", 5) == 0)
		return "fd";
	return "pid";
}

/* Detail members of an observed operation. */
static void
record_detail(struct jobj *d, const struct wire_msg *m, unsigned ev,
	      const struct proc_view *v, int track)
{
	static const struct { unsigned bit; const char *name; } trunc[] = {
		{ WIRE_TRUNC_ARGV, "argv" }, { WIRE_TRUNC_TARGET, "target" },
		{ WIRE_TRUNC_TARGET2, "target2" }, { WIRE_TRUNC_CWD, "cwd" },
		{ WIRE_TRUNC_EXE, "program" },
	};

	if (wire_has(m, WT_API))
		jkey_str(d, "api", m->s[WT_API].p, m->s[WT_API].len);
	if (wire_has(m, WT_FLAGS) && ev == WE_IMAGE_START) {
		/* Bit 0: the image runs in secure-execution mode (AT_SECURE). */
		jkey(d, "secure");
		jbuf_adds(&d->b, (m->u[WT_FLAGS] & 1) ? "true" : "false");
	} else if (wire_has(m, WT_FLAGS)) {
		bool open_mode;
		const struct flagname *t = flag_table(ev, &open_mode);
		jkey(d, "flags");
		/* Scratch kept across records (the event loop's thread only). */
		static struct jbuf f;
		jbuf_reset(&f);
		if (t)
			flags_text(&f, m->u[WT_FLAGS], t, open_mode);
		else
			jbuf_printf(&f, "0x%" PRIx64, m->u[WT_FLAGS]);
		jbuf_str(&d->b, jbuf_text(&f), f.len);
		d->b.oom |= f.oom;
		if (f.oom)
			jbuf_free(&f);
	}
	if (wire_has(m, WT_MODE)) {
		/* Octal, at least four digits ("0644"). */
		char mode[24], *p = mode + sizeof mode;
		uint64_t mv = m->u[WT_MODE];
		do
			*--p = (char)('0' + (mv & 7));
		while ((mv >>= 3) != 0 || mode + sizeof mode - p < 4);
		jkey_str(d, "mode", p, (size_t)(mode + sizeof mode - p));
	}
	if (wire_has(m, WT_CWD))
		jkey_str(d, "cwd", m->s[WT_CWD].p, m->s[WT_CWD].len);
	if (wire_has(m, WT_ARGC))
		jkey_u64(d, "argc", m->u[WT_ARGC]);
	if (wire_has(m, WT_ARGLEN))
		jkey_u64(d, "argv_bytes", m->u[WT_ARGLEN]);
	if (wire_has(m, WT_TRUNC) && m->u[WT_TRUNC]) {
		bool first = true;
		jkey(d, "truncated");
		jbuf_add(&d->b, "[", 1);
		for (size_t i = 0; i < sizeof trunc / sizeof trunc[0]; i++) {
			if (!(m->u[WT_TRUNC] & trunc[i].bit))
				continue;
			if (!first)
				jbuf_add(&d->b, ",", 1);
			jbuf_strz(&d->b, trunc[i].name);
			first = false;
		}
		jbuf_add(&d->b, "]", 1);
	}
	/* TARGET is what the call creates (docs/wire.md): TARGET2 is where a
	 * rename or link came from, and what a symlink points to. */
	if (wire_has(m, WT_TARGET2))
		jkey_str(d, ev == WE_SYMLINK ? "to" : "from", m->s[WT_TARGET2].p,
			 m->s[WT_TARGET2].len);
	/* chown's "leave unchanged" is (uid_t)-1: store it as -1. */
	if (wire_has(m, WT_OWNER_UID))
		jkey_i64(d, "owner_uid", (uint32_t)m->u[WT_OWNER_UID] == UINT32_MAX
			 ? -1 : (int64_t)m->u[WT_OWNER_UID]);
	if (wire_has(m, WT_OWNER_GID))
		jkey_i64(d, "owner_gid", (uint32_t)m->u[WT_OWNER_GID] == UINT32_MAX
			 ? -1 : (int64_t)m->u[WT_OWNER_GID]);
	if (wire_has(m, WT_LENGTH))
		jkey_u64(d, "length", m->u[WT_LENGTH]);
	if (m->naddrs) {
		jkey(d, "addresses");
		jbuf_add(&d->b, "[", 1);
		for (unsigned i = 0; i < m->naddrs; i++) {
			if (i)
				jbuf_add(&d->b, ",", 1);
			jbuf_str(&d->b, m->addrs[i].p, m->addrs[i].len);
		}
		jbuf_add(&d->b, "]", 1);
	}
	if (wire_has(m, WT_REASON) && ev != WE_GAP)
		jkey_str(d, "reason", m->s[WT_REASON].p, m->s[WT_REASON].len);
	bool ok = !wire_has(m, WT_OUTCOME) || m->u[WT_OUTCOME] == WO_OK;
	if (wire_has(m, WT_RESULT) && ok) {
		int64_t res = (int64_t)m->u[WT_RESULT];
		if (ev == WE_OPEN || ev == WE_SPAWN_ACTION)
			jkey_i64(d, "fd", res);
		else if (ev == WE_SPAWN)
			jkey_i64(d, spawn_result_name(m), res);
	}
	if (wire_has(m, WT_EXE))
		jkey_str(d, "program", m->s[WT_EXE].p, m->s[WT_EXE].len);
	if (wire_has(m, WT_PPID) && v->ppid >= 0 &&
	    (int64_t)m->u[WT_PPID] != v->ppid)
		jkey_i64(d, "ppid_claimed", (int64_t)m->u[WT_PPID]);
	if (v->agent_differs)
		jkey_str(d, "agent_claimed", m->s[WT_AGENT].p, m->s[WT_AGENT].len);
	if (track == TRACK_LATE) {
		jkey(d, "late");
		jbuf_adds(&d->b, "true");
	} else if (track == TRACK_DUP) {
		jkey(d, "duplicate");
		jbuf_adds(&d->b, "true");
	}
}

/*
 * A successful forward lookup of an allowed host name: its answers explain
 * later connects to them ([policy] allowed_hosts, "peer = unlisted").
 * getnameinfo's answers are names, and a reverse lookup proves nothing.
 */
static void
learn_resolve(struct writer *w, const struct wire_msg *m)
{
	const struct wire_str *t = &m->s[WT_TARGET];
	struct peer_addr a;

	if (!w->peers || !m->naddrs || !wire_has(m, WT_TARGET) ||
	    (wire_has(m, WT_OUTCOME) && m->u[WT_OUTCOME] != WO_OK) ||
	    (wire_has(m, WT_API) && m->s[WT_API].len == 11 &&
	     memcmp(m->s[WT_API].p, "getnameinfo", 11) == 0) ||
	    peers_parse(t->p, t->len, &a) == 0 ||
	    !rules_host_allowed(w->conf.rules, t->p, t->len))
		return;
	uint64_t now = now_mono_ms();
	for (unsigned i = 0; i < m->naddrs; i++) {
		if (peers_parse(m->addrs[i].p, m->addrs[i].len, &a) < 0 ||
		    peers_is_local(&a))
			continue;
		size_t before = peers_evicted(w->peers);
		if (peers_learn(w->peers, &a, t->p, t->len, now) < 0)
			continue;
		if (before == 0 && peers_evicted(w->peers) > 0)
			log_warnx("resolved-address cache full (%zu entries): the "
				  "least recently used addresses are dropped, and a "
				  "connect to one of them without a new lookup is "
				  "reported as unlisted; raise [policy] resolved_cache",
				  peers_cap(w->peers));
	}
}

/* An operation observed by the shim. */
static int
ingest_record(struct writer *w, const struct wire_msg *m, pid_t pid,
	      uid_t uid, gid_t gid, const char **why)
{
	unsigned ev = (unsigned)m->u[WT_EVENT];
	uint64_t pseq = m->u[WT_PSEQ];
	uint64_t image = m->u[WT_IMAGE];
	int64_t claimed_ppid = -1;
	struct proc_view v;
	bool oom = false;

	if (pseq > INT64_MAX) {
		*why = "pseq out of range";
		return -EPROTO;
	}
	if (wire_has(m, WT_PPID) && m->u[WT_PPID] <= INT_MAX)
		claimed_ppid = (int64_t)m->u[WT_PPID];
	uint64_t recv = now_realtime_ns();
	int track = procs_receive(w, pid, uid, gid, image, pseq, claimed_ppid,
				  wire_has(m, WT_AGENT) ? &m->s[WT_AGENT] : NULL,
				  ev == WE_GAP,
				  pseq == 1 && ev != WE_IMAGE_START && ev != WE_GAP,
				  m->u[WT_LOST_FIRST],
				  m->u[WT_LOST_COUNT], &v);
	if (track < 0)
		return track;

	struct rec *r = rec_new();
	struct jobj d;
	if (!r)
		return -ENOMEM;
	jobj_begin(&d, w, true);
	rec_base(w, r, m->u[WT_TIME], recv);
	r->r.session = dup_str(r, v.session);
	r->r.agent = dup_str(r, v.agent);
	r->r.pid = pid;
	r->r.uid = uid;
	r->r.gid = gid;
	r->r.has_pid = r->r.has_uid = r->r.has_gid = true;
	if (v.ppid >= 0) {
		r->r.ppid = v.ppid;
		r->r.has_ppid = true;
	} else if (wire_has(m, WT_PPID) && m->u[WT_PPID] <= INT64_MAX) {
		r->r.ppid = (int64_t)m->u[WT_PPID];
		r->r.has_ppid = true;
	}
	r->r.exe = dup_str(r, v.exe);
	r->r.event = wire_event_name(ev);
	r->r.target = str_field(r, m, WT_TARGET);
	if (!r->r.target && (ev == WE_EXEC || ev == WE_SPAWN))
		r->r.target = str_field(r, m, WT_EXE);
	/* Classify and judge what the agent did, then redact what is kept. */
	struct jbuf *j = &w->argv_join;
	jbuf_reset(j);
	for (unsigned i = 0; i < m->nargs; i++) {
		if (i)
			jbuf_add(j, " ", 1);
		jbuf_add(j, m->args[i].p, m->args[i].len);
	}
	struct rules_input in = {
		.event = r->r.event, .target = r->r.target,
		.target_len = r->r.target ? strlen(r->r.target) : 0,
		.argv = m->nargs && !j->oom ? jbuf_text(j) : NULL,
		.argv_len = j->len, .exe = r->r.exe,
	};
	const struct rule_info *rule;
	r->r.klass = rules_classify(w->conf.rules, &in, &rule);
	struct hits h;
	policy_check(w, r, in.argv, in.argv_len, &h);
	if (ev == WE_RESOLVE)
		learn_resolve(w, m);
	if (r->r.target) {
		size_t n = in.target_len;
		const char *t = redact(w, r->r.target, &n, &d.redacted);
		if (t != r->r.target) {
			r->r.target = rec_copy(r, t, n);
			oom |= !r->r.target;
		}
	}
	if (m->nargs) {
		struct jbuf *a = &w->argv_json;
		jbuf_reset(a);
		jbuf_add(a, "[", 1);
		for (unsigned i = 0; i < m->nargs; i++) {
			size_t n;
			const char *s = redact_arg(w, m, i, &n, &d.redacted);
			if (i)
				jbuf_add(a, ",", 1);
			jbuf_str(a, s, n);
		}
		jbuf_add(a, "]", 1);
		r->r.argv = a->oom ? NULL : rec_copy(r, a->p, a->len);
		oom |= !r->r.argv;
		if (a->oom)
			jbuf_free(a);
	}
	if (ev == WE_GAP) {
		char img[17];
		hex16(image, img);
		jkey_i64(&d, "pid", pid);
		jkey_str(&d, "image", img, strlen(img));
		jkey_u64(&d, "first_pseq", m->u[WT_LOST_FIRST]);
		jkey_u64(&d, "count", m->u[WT_LOST_COUNT]);
		jkey_str(&d, "reason", "shim could not deliver",
			 strlen("shim could not deliver"));
		if (wire_has(m, WT_REASON))
			jkey_str(&d, "shim_reason", m->s[WT_REASON].p,
				 m->s[WT_REASON].len);
		log_warnx("gap: pid %d image %s: shim reports %" PRIu64
			  " records lost from pseq %" PRIu64, (int)pid, img,
			  m->u[WT_LOST_COUNT], m->u[WT_LOST_FIRST]);
	}
	record_detail(&d, m, ev, &v, track);
	if (d.redacted)
		jkey_u64(&d, "redacted", d.redacted);
	r->r.detail = jobj_finish(&d, r, &oom);
	switch (wire_has(m, WT_OUTCOME) ? m->u[WT_OUTCOME] : WO_OK) {
	case WO_ERROR: {
		char eb[16];
		r->r.result = "error";
		if (wire_has(m, WT_ERRNO))
			r->r.errno_name = dup_str(r, m->u[WT_ERRNO] <= INT_MAX
				? errname((int)m->u[WT_ERRNO], eb) : "E?");
		break;
	}
	case WO_ATTEMPT:
		r->r.result = "attempt";
		break;
	default:
		r->r.result = "ok";
		break;
	}
	r->r.pseq = (int64_t)pseq;
	r->r.has_pseq = true;
	r->r.image = dup_image(r, image);
	oom |= (wire_has(m, WT_TARGET) && !r->r.target) || !r->r.image;

	/* Coverage: every exec must be answered by the new image. */
	uint64_t outcome = wire_has(m, WT_OUTCOME) ? m->u[WT_OUTCOME] : WO_OK;
	const char *api = wire_has(m, WT_API) ? m->s[WT_API].p : "";
	size_t apilen = wire_has(m, WT_API) ? m->s[WT_API].len : 0;
	int crc = 0;
	if (ev == WE_BLIND_SPOT)
		coverage_blind(w, pid);
	else if (ev == WE_IMAGE_START)
		coverage_image(w, pid, m->u[WT_TIME]);
	else if (ev == WE_EXEC && outcome == WO_ERROR)
		coverage_exec_failed(w, pid);
	else if (ev == WE_EXEC && outcome == WO_ATTEMPT)
		crc = coverage_exec(w, pid, pid, uid, gid, image, m->u[WT_TIME],
				    r->r.target, 0);
	else if (ev == WE_SPAWN && outcome == WO_OK &&
		 apilen >= 11 && memcmp(api, "posix_spawn", 11) == 0 &&
		 wire_has(m, WT_RESULT) && m->u[WT_RESULT] > 0 &&
		 m->u[WT_RESULT] <= INT_MAX)
		crc = coverage_exec(w, (pid_t)m->u[WT_RESULT], pid, uid, gid, image,
				    m->u[WT_TIME], r->r.target, 1000000000ull);
	else if (ev == WE_SPAWN)
		coverage_spawned(w, pid);	/* system, popen, a failed spawn */
	int src = seal_with_policy(w, r, &h, oom);
	return src ? src : crc;
}

int
ingest_message(struct writer *w, const struct wire_msg *m, pid_t pid,
	       uid_t uid, gid_t gid, const char **why)
{
	int rc;

	*why = NULL;
	if (m->type == WIRE_T_APPROVAL)
		rc = ingest_approval(w, m, pid, uid, gid);
	else
		rc = ingest_record(w, m, pid, uid, gid, why);
	if (rc == 0)
		w->accepted++;
	return rc;
}
