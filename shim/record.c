/* SPDX-License-Identifier: MIT */
/*
 * record.c - builds records straight into a hook's stack buffer: the
 * fields every record carries, absolute paths (joined to the cwd, a dirfd
 * or read from /proc/self/fd), socket addresses and bounded argv.
 * Long values are cut with a WT_TRUNC bit, never dropped silently.
 * No allocation or stdio; signal- and vfork-safe.
 */
#include "shim.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

/* Space always kept free for the WT_TRUNC field appended last. */
#define TRUNC_ROOM (WIRE_FIELD_HDR_LEN + 8)

static size_t
u64dec(char *p, uint64_t v)
{
	char t[20];
	size_t n = 0, i = 0;
	do {
		t[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		p[i++] = t[--n];
	return i;
}

/* Writes "/proc/self/fd/FD" with its NUL into P (at least 32 bytes). */
static void
fd_proc_path(char *p, int fd)
{
	memcpy(p, "/proc/self/fd/", 14);
	size_t n = 14 + u64dec(p + 14, (uint64_t)(unsigned)fd);
	p[n] = '\0';
}

__attribute__((noinline)) size_t
shim_strlen(const char *s)
{
	for (size_t n = 0; n < 256; n++)
		if (s[n] == '\0')
			return n;
	return 256 + strlen(s + 256);
}

void
rec_begin(struct shim_rec *r, void *buf, size_t cap, struct shim_ctx *c,
	  enum wire_event ev, const char *api)
{
	shim_guard = 1;
	r->buf = buf;
	r->cap = cap;
	r->trunc = 0;
	r->ctx = c;
	wire_enc_init(&r->e, buf, cap, WIRE_T_RECORD);
	r->pseq = shim_pseq_next(c);
	wire_put_u64(&r->e, WT_EVENT, ev);
	wire_put_u64(&r->e, WT_PSEQ, r->pseq);
	wire_put_u64(&r->e, WT_IMAGE, c->image);
	wire_put_u64(&r->e, WT_TIME, shim_now_real());
	wire_put_u64(&r->e, WT_PPID, (uint64_t)shim_sys_getppid());
	if (api != NULL)
		wire_put_str(&r->e, WT_API, api, shim_strlen(api));
	if (shim_conf.agent_len)
		rec_str(r, WT_AGENT, shim_conf.agent, 0, 0);
}

void
rec_result(struct shim_rec *r, enum wire_outcome out, int64_t result, int err)
{
	wire_put_u64(&r->e, WT_OUTCOME, out);
	wire_put_u64(&r->e, WT_RESULT, (uint64_t)result);
	if (out == WO_ERROR && err != 0)
		wire_put_u64(&r->e, WT_ERRNO, (uint64_t)err);
}

void
rec_u64(struct shim_rec *r, enum wire_tag tag, uint64_t v)
{
	if (wire_enc_room(&r->e) >= 8 + TRUNC_ROOM)
		wire_put_u64(&r->e, tag, v);
}

static void
put_cut(struct shim_rec *r, enum wire_tag tag, const char *s, size_t len,
	size_t minroom, unsigned tbit)
{
	int rc = wire_put_str_trunc(&r->e, tag, s, len, minroom + TRUNC_ROOM);
	if (rc != 0)
		r->trunc |= tbit;
}

void
rec_str(struct shim_rec *r, enum wire_tag tag, const char *s, size_t minroom,
	unsigned tbit)
{
	put_cut(r, tag, s, shim_strlen(s), minroom, tbit);
}

void
rec_strn(struct shim_rec *r, enum wire_tag tag, const char *s, size_t len,
	 size_t minroom, unsigned tbit)
{
	put_cut(r, tag, s, len, minroom, tbit);
}

/*
 * Where a value composed in place goes (the next field's value, see
 * wire_enc_next), with *CAP bytes of room that leave MINROOM for later
 * fields; appended by wire_put_placed without a copy.  In place, not at
 * the far end of the buffer: that would be one more stack page to fault
 * in, in every fork child that execs.
 */
static char *
scratch(struct shim_rec *r, size_t minroom, size_t *cap)
{
	size_t room = wire_enc_room(&r->e);
	if (room <= minroom + TRUNC_ROOM + 2) {
		*cap = 0;
		return NULL;
	}
	*cap = room - minroom - TRUNC_ROOM;
	return (char *)wire_enc_next(&r->e);
}

/*
 * Reads the target of the symlink LINK into OUT (CAP bytes).  Returns its
 * length or -1; sets *CUT when it filled OUT (possibly cut short).
 */
static ssize_t
read_link(const char *link, char *out, size_t cap, int *cut)
{
	long n = shim_sys_readlink(link, out, cap);
	if (n < 0)
		return -1;
	if ((size_t)n == cap)
		*cut = 1;
	return n;
}

/* Reads the target of /proc/self/fd/FD into OUT.  Returns its length or -1. */
static ssize_t
fd_link(int fd, char *out, size_t cap, int *cut)
{
	char p[32];
	fd_proc_path(p, fd);
	return read_link(p, out, cap, cut);
}

void
rec_path(struct shim_rec *r, enum wire_tag tag, int dirfd, const char *path,
	 size_t minroom, unsigned tbit)
{
	if (path == NULL)
		return;
	if (path[0] == '/' || path[0] == '\0') {
		rec_str(r, tag, path, minroom, tbit);
		return;
	}
	size_t cap;
	char *s = scratch(r, minroom, &cap);
	if (s == NULL) {
		r->trunc |= tbit;
		return;
	}
	int cut = 0;
	ssize_t n;
	if (dirfd == AT_FDCWD) {
		long c = shim_sys_getcwd(s, cap);
		n = c >= 0 ? (ssize_t)c : -1;
		if (c == -ERANGE)
			cut = 1;
	} else {
		n = fd_link(dirfd, s, cap, &cut);
	}
	if (n < 0) {
		/* No base to join to: keep the path as given, flagged. */
		put_cut(r, tag, path, shim_strlen(path), minroom, tbit);
		r->trunc |= tbit;
		return;
	}
	size_t len = (size_t)n;
	size_t pl = shim_strlen(path);
	if (pl > 0) {
		if (len < cap && (len == 0 || s[len - 1] != '/'))
			s[len++] = '/';
		size_t take = pl <= cap - len ? pl : cap - len;
		if (take < pl)
			cut = 1;
		memcpy(s + len, path, take);
		len += take;
	}
	if (cut)
		r->trunc |= tbit;
	if (wire_put_placed(&r->e, tag, len) != 0)
		r->trunc |= tbit;
}

/* put_link's results other than a length. */
enum { LINK_UNREADABLE = -1, LINK_NO_ROOM = -2 };

/*
 * Appends the target of the symlink LINK as field TAG, read straight into
 * the record; its value is left at *VAL.  Returns its length, or
 * LINK_UNREADABLE (nothing appended) or LINK_NO_ROOM (nothing appended,
 * TBIT set).  A target cut short sets TBIT.
 */
static ssize_t
put_link(struct shim_rec *r, enum wire_tag tag, const char *link,
	 size_t minroom, unsigned tbit, const char **val)
{
	size_t cap;
	int cut = 0;
	char *s = scratch(r, minroom, &cap);
	if (s == NULL) {
		r->trunc |= tbit;
		return LINK_NO_ROOM;
	}
	ssize_t n = read_link(link, s, cap, &cut);
	if (n < 0)
		return LINK_UNREADABLE;
	if (cut)
		r->trunc |= tbit;
	if (wire_put_placed(&r->e, tag, (size_t)n) != 0) {
		r->trunc |= tbit;
		return LINK_NO_ROOM;
	}
	*val = s;
	return n;
}

const char *
rec_link(struct shim_rec *r, enum wire_tag tag, const char *link,
	 size_t minroom, unsigned tbit, size_t *len)
{
	const char *val;
	ssize_t n = put_link(r, tag, link, minroom, tbit, &val);
	if (n < 0)
		return NULL;
	*len = (size_t)n;
	return val;
}

void
rec_fdpath(struct shim_rec *r, enum wire_tag tag, int fd, size_t minroom,
	   unsigned tbit)
{
	char p[32];
	const char *val;
	fd_proc_path(p, fd);
	if (put_link(r, tag, p, minroom, tbit, &val) == LINK_UNREADABLE)
		/* Not resolvable (closed, or /proc absent): name the fd. */
		rec_str(r, tag, p, minroom, tbit);
}

void
rec_cwd(struct shim_rec *r, enum wire_tag tag, size_t minroom, unsigned tbit)
{
	size_t cap;
	char *s = scratch(r, minroom, &cap);
	long n = s != NULL ? shim_sys_getcwd(s, cap) : -1;
	if (n < 0) {
		r->trunc |= tbit;
		return;
	}
	if (wire_put_placed(&r->e, tag, (size_t)n) != 0)
		r->trunc |= tbit;
}

size_t
shim_fmt_addr(char *out, size_t cap, const struct sockaddr *sa, socklen_t len)
{
	size_t n = 0;

	if (sa == NULL || len < (socklen_t)sizeof(sa_family_t) || cap < 64)
		return 0;
	switch (sa->sa_family) {
	case AF_INET: {
		struct sockaddr_in in;
		if (len < (socklen_t)sizeof in)
			return 0;
		memcpy(&in, sa, sizeof in);
		if (inet_ntop(AF_INET, &in.sin_addr, out, (socklen_t)cap) == NULL)
			return 0;
		n = strlen(out);
		out[n++] = ':';
		n += u64dec(out + n, ntohs(in.sin_port));
		break;
	}
	case AF_INET6: {
		struct sockaddr_in6 in6;
		if (len < (socklen_t)sizeof in6)
			return 0;
		memcpy(&in6, sa, sizeof in6);
		out[0] = '[';
		if (inet_ntop(AF_INET6, &in6.sin6_addr, out + 1,
			      (socklen_t)cap - 1) == NULL)
			return 0;
		n = strlen(out);
		if (in6.sin6_scope_id != 0 && n + 12 < cap) {
			out[n++] = '%';
			n += u64dec(out + n, in6.sin6_scope_id);
		}
		out[n++] = ']';
		out[n++] = ':';
		n += u64dec(out + n, ntohs(in6.sin6_port));
		break;
	}
	case AF_UNIX: {
		const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
		size_t off = offsetof(struct sockaddr_un, sun_path);
		size_t plen = (size_t)len > off ? (size_t)len - off : 0;
		if (plen > sizeof un->sun_path)
			plen = sizeof un->sun_path;
		if (plen == 0)
			return 0;	/* unnamed */
		if (un->sun_path[0] == '\0') {
			/* Abstract: "@name"; NULs inside the name shown as '@'. */
			out[n++] = '@';
			for (size_t i = 1; i < plen && n + 1 < cap; i++)
				out[n++] = un->sun_path[i] ? un->sun_path[i] : '@';
		} else {
			for (size_t i = 0; i < plen && un->sun_path[i] &&
			     n + 1 < cap; i++)
				out[n++] = un->sun_path[i];
		}
		break;
	}
	default:
		memcpy(out, "family:", 7);
		n = 7 + u64dec(out + 7, sa->sa_family);
		break;
	}
	out[n] = '\0';
	return n;
}

void
rec_addr(struct shim_rec *r, enum wire_tag tag, const struct sockaddr *sa,
	 socklen_t len)
{
	char a[128];
	size_t n = shim_fmt_addr(a, sizeof a, sa, len);
	if (n == 0)
		return;
	if (sa->sa_family == AF_UNIX && a[0] != '/' && a[0] != '@')
		rec_path(r, tag, AT_FDCWD, a, 0, WIRE_TRUNC_TARGET);
	else
		wire_put_str(&r->e, tag, a, n);
}

void
rec_argv(struct shim_rec *r, char *const argv[])
{
	uint64_t argc = 0, arglen = 0;
	if (argv != NULL)
		for (; argv[argc] != NULL; argc++)
			arglen += shim_strlen(argv[argc]) + 1;
	rec_u64(r, WT_ARGC, argc);
	rec_u64(r, WT_ARGLEN, arglen);
	for (uint64_t i = 0; i < argc; i++) {
		if (i >= WIRE_MAX_ARGS) {
			r->trunc |= WIRE_TRUNC_ARGV;
			break;
		}
		int rc = wire_put_str_trunc(&r->e, WT_ARG, argv[i],
					    shim_strlen(argv[i]), TRUNC_ROOM);
		if (rc != 0) {
			r->trunc |= WIRE_TRUNC_ARGV;
			break;
		}
	}
}

int
rec_send(struct shim_rec *r)
{
	if (r->trunc)
		wire_put_u64(&r->e, WT_TRUNC, r->trunc);
	size_t len = wire_enc_finish(&r->e);
	int rc = shim_emit(r->ctx, r->buf, len, r->pseq);
	shim_guard = 0;
	return rc;
}

__attribute__((noinline)) void
shim_record_op(struct shim_ctx *c, const struct shim_op *op, int64_t result,
	       int err)
{
	unsigned char buf[SHIM_MSG_MAX];
	struct shim_rec r;
	int two = op->path2 != NULL || op->text2 != NULL;

	rec_begin(&r, buf, sizeof buf, c, op->event, op->api);
	rec_result(&r, err ? WO_ERROR : WO_OK, result, err);
	if (op->have & OP_FLAGS)
		rec_u64(&r, WT_FLAGS, op->flags);
	if (op->have & OP_MODE)
		rec_u64(&r, WT_MODE, op->mode);
	if (op->have & OP_LENGTH)
		rec_u64(&r, WT_LENGTH, op->length);
	if (op->have & OP_OWNER) {
		rec_u64(&r, WT_OWNER_UID, (uint64_t)op->uid);
		rec_u64(&r, WT_OWNER_GID, (uint64_t)op->gid);
	}
	size_t keep = two ? 1024 : 0;
	if (op->addr != NULL)
		rec_addr(&r, WT_TARGET, op->addr, op->addrlen);
	else if (op->path != NULL && (op->path[0] != '\0' || !(op->have & OP_FD)))
		rec_path(&r, WT_TARGET, (op->have & OP_AT) ? op->dirfd : AT_FDCWD,
			 op->path, keep, WIRE_TRUNC_TARGET);
	else if (op->have & OP_FD)
		rec_fdpath(&r, WT_TARGET, op->fd, keep, WIRE_TRUNC_TARGET);
	if (op->path2 != NULL && op->path2[0] == '\0' && (op->have & OP_AT2) &&
	    op->dirfd2 >= 0)
		rec_fdpath(&r, WT_TARGET2, op->dirfd2, 0, WIRE_TRUNC_TARGET2);
	else if (op->path2 != NULL)
		rec_path(&r, WT_TARGET2, (op->have & OP_AT2) ? op->dirfd2 : AT_FDCWD,
			 op->path2, 0, WIRE_TRUNC_TARGET2);
	else if (op->text2 != NULL)
		rec_str(&r, WT_TARGET2, op->text2, 0, WIRE_TRUNC_TARGET2);
	rec_send(&r);
}
