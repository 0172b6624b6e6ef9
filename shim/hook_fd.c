/* SPDX-License-Identifier: MIT */
/*
 * hook_fd.c - keeping our one descriptor out of the program's way.  Nothing
 * here is recorded.  The persistent connection to the writer occupies one
 * descriptor number; a program must never notice it:
 *
 *  - a program that aims at that number (dup2/dup3 onto it, fcntl on it,
 *    F_DUPFD from it) finds it free: the socket steps aside first;
 *  - a program that runs out of descriptors (EMFILE) gets ours: the socket
 *    is closed and the call retried, so the program fails exactly where it
 *    would have failed without us.  Records then wait in the backlog until
 *    a descriptor is free again (or are counted as a gap).
 *
 * The retry is for calls that allocate the descriptor before doing
 * anything else (an EMFILE failure has no side effect to repeat).  The
 * same numbers made through syscall() are handled in hook_sys.c.  If a real
 * function is missing (resolution still running in this thread), the
 * kernel call is made directly: these hooks must never fail where libc
 * would not.
 */
#include "shim.h"

#include <errno.h>
#include <stdarg.h>
#include <signal.h>
#include <sys/syscall.h>

/*
 * The kernel call, without our own syscall() hook: for the moment before
 * the real function is resolved (a hook running inside our own start-up).
 */
static long
sys4(long nr, long a, long b, long c, long d)
{
	if (shim_real.syscall == NULL) {
		errno = ENOSYS;
		return -1;
	}
	return shim_real.syscall(nr, a, b, c, d);
}

/* Call the real FN with ARGS (or SYS before resolution), one EMFILE retry. */
#define FD_CALL(fn, args, sys)                                           \
	shim_ensure_init();                                              \
	int saved_ = errno;                                              \
	if (shim_real.fn == NULL)                                        \
		return (int)(sys);                                       \
	return SHIM_FD_RETRY(-1, saved_, shim_real.fn args)

#define L(x) ((long)(x))

/* --- numbers the program names ------------------------------------------- */

SHIM_EXPORT int
dup2(int oldfd, int newfd)
{
	shim_ensure_init();
	shim_step_aside(newfd);
	if (shim_real.dup2 == NULL) {
		if (oldfd != newfd)
			return (int)sys4(SYS_dup3, oldfd, newfd, 0, 0);
		return sys4(SYS_fcntl, oldfd, F_GETFD, 0, 0) < 0 ? -1 : newfd;
	}
	return shim_real.dup2(oldfd, newfd);
}

SHIM_EXPORT int
dup3(int oldfd, int newfd, int flags)
{
	shim_ensure_init();
	shim_step_aside(newfd);
	if (shim_real.dup3 == NULL)
		return (int)sys4(SYS_dup3, oldfd, newfd, flags, 0);
	return shim_real.dup3(oldfd, newfd, flags);
}

/*
 * fcntl and fcntl64 (what _FILE_OFFSET_BITS=64 programs call since glibc
 * 2.28).  The third argument is read the way glibc reads it: one word,
 * whatever the command.
 */
static int
fcntl_hook(__typeof__(fcntl) *real, int fd, int cmd, void *arg)
{
	shim_step_aside(fd);
	int dupping = cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC;
	if (dupping)
		shim_step_aside((int)(intptr_t)arg);
	int saved = errno;
	if (real == NULL)
		return (int)sys4(SYS_fcntl, fd, cmd, L(arg), 0);
	if (!dupping)
		return real(fd, cmd, arg);
	return SHIM_FD_RETRY(-1, saved, real(fd, cmd, arg));
}

SHIM_EXPORT int
fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	shim_ensure_init();
	return fcntl_hook(shim_real.fcntl, fd, cmd, arg);
}

SHIM_EXPORT int
fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	shim_ensure_init();
	return fcntl_hook(shim_real.fcntl64, fd, cmd, arg);
}

/* --- calls that allocate a descriptor -------------------------------------- */

SHIM_EXPORT int
dup(int fd)
{
	FD_CALL(dup, (fd),
		sys4(SYS_dup, fd, 0, 0, 0));
}

SHIM_EXPORT int
pipe(int fds[2])
{
	FD_CALL(pipe, (fds),
		sys4(SYS_pipe2, L(fds), 0, 0, 0));
}

SHIM_EXPORT int
pipe2(int fds[2], int flags)
{
	FD_CALL(pipe2, (fds, flags),
		sys4(SYS_pipe2, L(fds), flags, 0, 0));
}

SHIM_EXPORT int
socket(int domain, int type, int protocol)
{
	FD_CALL(socket, (domain, type, protocol),
		sys4(SYS_socket, domain, type, protocol, 0));
}

SHIM_EXPORT int
socketpair(int domain, int type, int protocol, int fds[2])
{
	FD_CALL(socketpair, (domain, type, protocol, fds),
		sys4(SYS_socketpair, domain, type, protocol, L(fds)));
}

SHIM_EXPORT int
accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	FD_CALL(accept, (fd, addr, len),
		sys4(SYS_accept4, fd, L(addr), L(len), 0));
}

SHIM_EXPORT int
accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	FD_CALL(accept4, (fd, addr, len, flags),
		sys4(SYS_accept4, fd, L(addr), L(len), flags));
}

SHIM_EXPORT int
epoll_create(int size)
{
	FD_CALL(epoll_create, (size),
		size > 0 ? sys4(SYS_epoll_create1, 0, 0, 0, 0)
			 : (errno = EINVAL, -1));
}

SHIM_EXPORT int
epoll_create1(int flags)
{
	FD_CALL(epoll_create1, (flags),
		sys4(SYS_epoll_create1, flags, 0, 0, 0));
}

SHIM_EXPORT int
eventfd(unsigned int initval, int flags)
{
	FD_CALL(eventfd, (initval, flags),
		sys4(SYS_eventfd2, initval, flags, 0, 0));
}

SHIM_EXPORT int
inotify_init(void)
{
	FD_CALL(inotify_init, (),
		sys4(SYS_inotify_init1, 0, 0, 0, 0));
}

SHIM_EXPORT int
inotify_init1(int flags)
{
	FD_CALL(inotify_init1, (flags),
		sys4(SYS_inotify_init1, flags, 0, 0, 0));
}

SHIM_EXPORT int
memfd_create(const char *name, unsigned int flags)
{
	FD_CALL(memfd_create, (name, flags),
		sys4(SYS_memfd_create, L(name), flags, 0, 0));
}

SHIM_EXPORT int
signalfd(int fd, const sigset_t *mask, int flags)
{
	FD_CALL(signalfd, (fd, mask, flags),
		sys4(SYS_signalfd4, fd, L(mask), 8 /* kernel sigset */, flags));
}

SHIM_EXPORT int
timerfd_create(int clockid, int flags)
{
	FD_CALL(timerfd_create, (clockid, flags),
		sys4(SYS_timerfd_create, clockid, flags, 0, 0));
}
