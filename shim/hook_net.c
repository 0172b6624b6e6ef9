/* SPDX-License-Identifier: MIT */
/*
 * hook_net.c - network peers: connect, bind, listen, sendto/sendmsg with
 * an explicit destination, and getaddrinfo (the name asked for and the
 * addresses returned).  Our own socket is never recorded.
 */
#include "shim.h"

#include <errno.h>
#include <string.h>
#include <sys/un.h>
#include <arpa/inet.h>

/* Families whose destinations sendto/sendmsg record. */
static int
dest_family(const struct sockaddr *sa, socklen_t len)
{
	if (sa == NULL || len < (socklen_t)sizeof(sa_family_t))
		return 0;
	return sa->sa_family == AF_INET || sa->sa_family == AF_INET6 ||
	       sa->sa_family == AF_UNIX;
}

#define NET_ENTER(fn, ret_err)                                           \
	int saved_ = errno;                                              \
	shim_ensure_init();                                              \
	if (shim_real.fn == NULL) {                                      \
		errno = ENOSYS;                                          \
		return ret_err;                                          \
	}

/*
 * connect and bind: the call's own address is the record's target.
 * SAVED is the caller's errno at entry (NET_ENTER).
 */
static int
addr_hook(__typeof__(connect) *real, int saved, enum wire_event ev,
	  const char *api, int fd, const struct sockaddr *addr, socklen_t len)
{
	if (shim_is_own_fd(fd))
		return real(fd, addr, len);
	struct shim_ctx c;
	int pre = shim_pre(&c);
	if (pre == SHIM_PASS) {
		errno = saved;
		return real(fd, addr, len);
	}
	int r = -1, e = EACCES;
	if (pre != SHIM_REFUSE) {
		errno = saved;
		r = real(fd, addr, len);
		e = errno;
	}
	const struct shim_op op = { .event = ev, .api = api,
				    .addr = addr, .addrlen = len };
	shim_record_op(&c, &op, r, r < 0 ? e : 0);
	errno = e;
	return r;
}

SHIM_EXPORT int
connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	NET_ENTER(connect, -1);
	return addr_hook(shim_real.connect, saved_, WE_CONNECT, "connect", fd,
			 addr, len);
}

SHIM_EXPORT int
bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	NET_ENTER(bind, -1);
	return addr_hook(shim_real.bind, saved_, WE_BIND, "bind", fd, addr, len);
}

SHIM_EXPORT int
listen(int fd, int backlog)
{
	NET_ENTER(listen, -1);
	if (shim_is_own_fd(fd))
		return shim_real.listen(fd, backlog);
	struct shim_ctx c;
	int pre = shim_pre(&c);
	if (pre == SHIM_PASS) {
		errno = saved_;
		return shim_real.listen(fd, backlog);
	}
	int r = -1, e = EACCES;
	if (pre != SHIM_REFUSE) {
		errno = saved_;
		r = shim_real.listen(fd, backlog);
		e = errno;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
		sl = 0;
	const struct shim_op op = { .event = WE_LISTEN, .api = "listen",
				    .addr = sl ? (struct sockaddr *)&ss : NULL,
				    .addrlen = sl, .fd = fd,
				    .have = sl ? 0 : OP_FD };
	shim_record_op(&c, &op, r, r < 0 ? e : 0);
	errno = e;
	return r;
}

SHIM_EXPORT ssize_t
sendto(int fd, const void *buf, size_t len, int flags,
       const struct sockaddr *addr, socklen_t alen)
{
	NET_ENTER(sendto, -1);
	if (!dest_family(addr, alen) || shim_is_own_fd(fd))
		return shim_real.sendto(fd, buf, len, flags, addr, alen);
	struct shim_ctx c;
	int pre = shim_pre(&c);
	if (pre == SHIM_PASS) {
		errno = saved_;
		return shim_real.sendto(fd, buf, len, flags, addr, alen);
	}
	ssize_t r = -1;
	int e = EACCES;
	if (pre != SHIM_REFUSE) {
		errno = saved_;
		r = shim_real.sendto(fd, buf, len, flags, addr, alen);
		e = errno;
	}
	const struct shim_op op = { .event = WE_SENDTO, .api = "sendto",
				    .addr = addr, .addrlen = alen,
				    .have = OP_LENGTH | OP_FLAGS,
				    .length = len, .flags = (unsigned)flags };
	shim_record_op(&c, &op, r, r < 0 ? e : 0);
	errno = e;
	return r;
}

SHIM_EXPORT ssize_t
sendmsg(int fd, const struct msghdr *msg, int flags)
{
	NET_ENTER(sendmsg, -1);
	if (msg == NULL || !dest_family(msg->msg_name, msg->msg_namelen) ||
	    shim_is_own_fd(fd))
		return shim_real.sendmsg(fd, msg, flags);
	struct shim_ctx c;
	int pre = shim_pre(&c);
	if (pre == SHIM_PASS) {
		errno = saved_;
		return shim_real.sendmsg(fd, msg, flags);
	}
	ssize_t r = -1;
	int e = EACCES;
	if (pre != SHIM_REFUSE) {
		errno = saved_;
		r = shim_real.sendmsg(fd, msg, flags);
		e = errno;
	}
	uint64_t total = 0;
	for (size_t i = 0; msg->msg_iov != NULL && i < msg->msg_iovlen; i++)
		total += msg->msg_iov[i].iov_len;
	const struct shim_op op = { .event = WE_SENDTO, .api = "sendmsg",
				    .addr = msg->msg_name,
				    .addrlen = msg->msg_namelen,
				    .have = OP_LENGTH | OP_FLAGS,
				    .length = total, .flags = (unsigned)flags };
	shim_record_op(&c, &op, r, r < 0 ? e : 0);
	errno = e;
	return r;
}

/* Same address as an earlier result?  (One per socket type is common.) */
static int
seen_before(const struct addrinfo *head, const struct addrinfo *ai)
{
	for (const struct addrinfo *p = head; p != ai; p = p->ai_next)
		if (p->ai_addrlen == ai->ai_addrlen && p->ai_addr && ai->ai_addr &&
		    memcmp(p->ai_addr, ai->ai_addr, ai->ai_addrlen) == 0)
			return 1;
	return 0;
}

static __attribute__((noinline)) void
resolve_record(struct shim_ctx *c, const char *node, int rc, int err,
	       const struct addrinfo *res)
{
	unsigned char buf[SHIM_MSG_MAX];
	struct shim_rec r;
	unsigned naddr = 0;

	rec_begin(&r, buf, sizeof buf, c, WE_RESOLVE, "getaddrinfo");
	rec_result(&r, rc == 0 ? WO_OK : WO_ERROR, rc,
		   rc == EAI_SYSTEM ? err : 0);
	rec_str(&r, WT_TARGET, node != NULL ? node : "", 1024,
		WIRE_TRUNC_TARGET);
	for (const struct addrinfo *ai = res; rc == 0 && ai != NULL;
	     ai = ai->ai_next) {
		char a[128];
		if (naddr >= WIRE_MAX_ADDRS || seen_before(res, ai))
			continue;
		size_t n = shim_fmt_addr(a, sizeof a, ai->ai_addr, ai->ai_addrlen);
		if (n == 0)
			continue;
		if (wire_enc_room(&r.e) < n + 32)
			break;
		wire_put_str(&r.e, WT_ADDR, a, n);
		naddr++;
	}
	rec_send(&r);
}

SHIM_EXPORT int
getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
	    struct addrinfo **res)
{
	NET_ENTER(getaddrinfo, EAI_SYSTEM);
	struct shim_ctx c;
	int pre = shim_pre(&c);
	if (pre == SHIM_PASS) {
		errno = saved_;
		return shim_real.getaddrinfo(node, service, hints, res);
	}
	if (pre == SHIM_REFUSE) {
		resolve_record(&c, node, EAI_SYSTEM, EACCES, NULL);
		errno = EACCES;
		return EAI_SYSTEM;
	}
	errno = saved_;
	int rc = shim_real.getaddrinfo(node, service, hints, res);
	int e = errno;
	resolve_record(&c, node, rc, e, rc == 0 && res != NULL ? *res : NULL);
	errno = e;
	return rc;
}

/* --- the older resolver entry points ---------------------------------------- */

/* Appends the addresses of H as WT_ADDR fields (no port). */
static void
put_hostent(struct shim_rec *r, const struct hostent *h)
{
	unsigned naddr = 0;
	if (h == NULL || h->h_addr_list == NULL ||
	    (h->h_addrtype != AF_INET && h->h_addrtype != AF_INET6))
		return;
	for (char **p = h->h_addr_list; *p != NULL && naddr < WIRE_MAX_ADDRS;
	     p++) {
		char a[INET6_ADDRSTRLEN];
		if (inet_ntop(h->h_addrtype, *p, a, sizeof a) == NULL)
			continue;
		size_t n = strlen(a);
		if (wire_enc_room(&r->e) < n + 32)
			break;
		wire_put_str(&r->e, WT_ADDR, a, n);
		naddr++;
	}
}

/*
 * A gethostbyname* record.  HERR is the h_errno-style result (0 when H is
 * the answer): RESULT carries it, and errno only for NETDB_INTERNAL.
 */
static __attribute__((noinline)) void
hostent_record(struct shim_ctx *c, const char *api, const char *name,
	       const struct hostent *h, int herr, int err)
{
	unsigned char buf[SHIM_MSG_MAX];
	struct shim_rec r;

	rec_begin(&r, buf, sizeof buf, c, WE_RESOLVE, api);
	if (h != NULL)
		rec_result(&r, WO_OK, 0, 0);
	else
		rec_result(&r, WO_ERROR, herr,
			   herr == NETDB_INTERNAL ? (err ? err : EIO) : 0);
	rec_str(&r, WT_TARGET, name != NULL ? name : "", 1024,
		WIRE_TRUNC_TARGET);
	put_hostent(&r, h);
	rec_send(&r);
}

/* The shape shared by gethostbyname and gethostbyname2. */
#define HOOK_GHBN(fn, api, call)                                         \
	NET_ENTER(fn, NULL);                                             \
	struct shim_ctx c;                                               \
	int pre = shim_pre(&c);                                          \
	if (pre == SHIM_PASS) {                                          \
		errno = saved_;                                          \
		return shim_real.call;                                   \
	}                                                                \
	if (pre == SHIM_REFUSE) {                                        \
		hostent_record(&c, api, name, NULL, NETDB_INTERNAL, EACCES); \
		h_errno = NETDB_INTERNAL;                                \
		errno = EACCES;                                          \
		return NULL;                                             \
	}                                                                \
	errno = saved_;                                                  \
	struct hostent *h = shim_real.call;                              \
	int e = errno, herr = h_errno;                                   \
	hostent_record(&c, api, name, h, h != NULL ? 0 : herr, e);       \
	h_errno = herr;                                                  \
	errno = e;                                                       \
	return h

SHIM_EXPORT struct hostent *
gethostbyname(const char *name)
{
	HOOK_GHBN(gethostbyname, "gethostbyname", gethostbyname(name));
}

SHIM_EXPORT struct hostent *
gethostbyname2(const char *name, int af)
{
	HOOK_GHBN(gethostbyname2, "gethostbyname2", gethostbyname2(name, af));
}

/* The reentrant forms return an error number and report through *RESULT. */
#define HOOK_GHBN_R(fn, api, call)                                       \
	NET_ENTER(fn, ENOSYS);                                           \
	struct shim_ctx c;                                               \
	int pre = shim_pre(&c);                                          \
	if (pre == SHIM_PASS) {                                          \
		errno = saved_;                                          \
		return shim_real.call;                                   \
	}                                                                \
	if (pre == SHIM_REFUSE) {                                        \
		hostent_record(&c, api, name, NULL, NETDB_INTERNAL, EACCES); \
		if (result != NULL)                                      \
			*result = NULL;                                  \
		if (h_errnop != NULL)                                    \
			*h_errnop = NETDB_INTERNAL;                      \
		errno = saved_;                                          \
		return EACCES;                                           \
	}                                                                \
	errno = saved_;                                                  \
	int rc = shim_real.call;                                         \
	int e = errno;                                                   \
	struct hostent *h = result != NULL ? *result : NULL;             \
	int herr = h_errnop != NULL ? *h_errnop : 0;                     \
	hostent_record(&c, api, name, rc == 0 ? h : NULL,                \
		       rc == 0 && h != NULL ? 0 : herr, rc != 0 ? rc : e); \
	errno = e;                                                       \
	return rc

SHIM_EXPORT int
gethostbyname_r(const char *name, struct hostent *ret, char *buf,
		size_t buflen, struct hostent **result, int *h_errnop)
{
	HOOK_GHBN_R(gethostbyname_r, "gethostbyname_r",
		    gethostbyname_r(name, ret, buf, buflen, result, h_errnop));
}

SHIM_EXPORT int
gethostbyname2_r(const char *name, int af, struct hostent *ret, char *buf,
		 size_t buflen, struct hostent **result, int *h_errnop)
{
	HOOK_GHBN_R(gethostbyname2_r, "gethostbyname2_r",
		    gethostbyname2_r(name, af, ret, buf, buflen, result,
				     h_errnop));
}

/*
 * getnameinfo: a reverse lookup.  TARGET is the address asked about, ADDR
 * the host name returned.  Only calls that may ask a name service are
 * recorded (a host buffer without NI_NUMERICHOST); formatting an address
 * or looking up a service name is not network activity.
 */
SHIM_EXPORT int
getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host,
	    socklen_t hostlen, char *serv, socklen_t servlen, int flags)
{
	NET_ENTER(getnameinfo, EAI_SYSTEM);
	if (host == NULL || hostlen == 0 || (flags & NI_NUMERICHOST))
		return shim_real.getnameinfo(sa, salen, host, hostlen, serv,
					     servlen, flags);
	struct shim_ctx c;
	int pre = shim_pre(&c);
	if (pre == SHIM_PASS) {
		errno = saved_;
		return shim_real.getnameinfo(sa, salen, host, hostlen, serv,
					     servlen, flags);
	}
	int rc = EAI_SYSTEM, e = EACCES;
	if (pre != SHIM_REFUSE) {
		errno = saved_;
		rc = shim_real.getnameinfo(sa, salen, host, hostlen, serv,
					   servlen, flags);
		e = errno;
	}
	unsigned char buf[SHIM_MSG_MAX];
	struct shim_rec r;
	rec_begin(&r, buf, sizeof buf, &c, WE_RESOLVE, "getnameinfo");
	rec_result(&r, rc == 0 ? WO_OK : WO_ERROR, rc,
		   rc == EAI_SYSTEM ? e : 0);
	rec_addr(&r, WT_TARGET, sa, salen);
	if (rc == 0)
		rec_str(&r, WT_ADDR, host, 0, 0);
	rec_send(&r);
	errno = e;
	return rc;
}
