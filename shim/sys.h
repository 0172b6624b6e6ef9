/* SPDX-License-Identifier: MIT */
/*
 * sys.h - the system calls the shim makes on the paths every process runs
 * (a fork child between fork and exec, a new image's start-up, every
 * record), issued directly instead of through libc's wrappers.
 *
 * Why: a fork child has none of libc's text mapped until it touches it
 * (the kernel copies no page-table entries for unwritten file mappings),
 * and every 64 KiB of libc it touches is a page fault -- ~3.5 us on a
 * virtual machine, the price of ~17 system calls.  The wrappers the shim
 * needs (getpid, getrandom, fstatat, sendto, ...) lie in a dozen places
 * of libc; measured, they were a third of the faults the shim added to an
 * exec.  Also: these set no errno (they return -errno), are no
 * cancellation points, and no other preloaded library can intercept them.
 *
 * On other architectures each falls back to the libc function (the next
 * definition, for the ones the shim hooks), keeping errno and returning
 * -errno the same way.  Included by shim.h, after shim_real.
 */
#ifndef AUDITSHIM_SYS_H
#define AUDITSHIM_SYS_H

#include <errno.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

/* SHIM_NO_RAW_SYSCALLS: take the libc path anyway (to test it here). */
#if defined(SHIM_NO_RAW_SYSCALLS)
#define SHIM_RAW_SYSCALLS 0
#elif defined(__x86_64__) && !defined(__ILP32__)
#define SHIM_RAW_SYSCALLS 1
static inline long
shim_sc6(long n, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8),
			   "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}
/* The kernel's struct stat is glibc's here. */
_Static_assert(sizeof(struct stat) == 144, "struct stat layout");
_Static_assert(sizeof(struct rlimit) == 16, "struct rlimit is rlimit64");
#elif defined(__aarch64__) && !defined(__ILP32__)
#define SHIM_RAW_SYSCALLS 1
static inline long
shim_sc6(long n, long a, long b, long c, long d, long e, long f)
{
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	register long x4 __asm__("x4") = e;
	register long x5 __asm__("x5") = f;
	__asm__ volatile("svc 0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
			 : "memory");
	return x0;
}
_Static_assert(sizeof(struct stat) == 128, "struct stat layout");
_Static_assert(sizeof(struct rlimit) == 16, "struct rlimit is rlimit64");
#else
#define SHIM_RAW_SYSCALLS 0
#endif

#if SHIM_RAW_SYSCALLS
#define SHIM_SC(n, a, b, c, d, e, f)                                       \
	shim_sc6((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), \
		 (long)(f))
#else
/* EXPR through libc, errno kept: its result, or -errno on failure. */
#define SHIM_LIBC(expr)                                  \
	({                                               \
		int e__ = errno;                         \
		long r__ = (long)(expr);                 \
		if (r__ == -1)                           \
			r__ = -errno;                    \
		errno = e__;                             \
		r__;                                     \
	})
#endif

static inline pid_t
shim_sys_getpid(void)
{
#if SHIM_RAW_SYSCALLS
	return (pid_t)SHIM_SC(SYS_getpid, 0, 0, 0, 0, 0, 0);
#else
	return getpid();
#endif
}

static inline pid_t
shim_sys_getppid(void)
{
#if SHIM_RAW_SYSCALLS
	return (pid_t)SHIM_SC(SYS_getppid, 0, 0, 0, 0, 0, 0);
#else
	return getppid();
#endif
}

static inline uid_t
shim_sys_geteuid(void)
{
#if SHIM_RAW_SYSCALLS
	return (uid_t)SHIM_SC(SYS_geteuid, 0, 0, 0, 0, 0, 0);
#else
	return geteuid();
#endif
}

static inline long
shim_sys_getrandom(void *buf, size_t len, unsigned flags)
{
#if SHIM_RAW_SYSCALLS
	return SHIM_SC(SYS_getrandom, buf, len, flags, 0, 0, 0);
#else
	return SHIM_LIBC(getrandom(buf, len, flags));
#endif
}

static inline int
shim_sys_fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
#if SHIM_RAW_SYSCALLS
	return (int)SHIM_SC(SYS_newfstatat, dirfd, path, st, flags, 0, 0);
#else
	return (int)SHIM_LIBC(fstatat(dirfd, path, st, flags));
#endif
}

static inline int
shim_sys_fstat(int fd, struct stat *st)
{
	return shim_sys_fstatat(fd, "", st, AT_EMPTY_PATH);
}

static inline int
shim_sys_openat(int dirfd, const char *path, int flags)
{
#if SHIM_RAW_SYSCALLS
	return (int)SHIM_SC(SYS_openat, dirfd, path, flags, 0, 0, 0);
#else
	if (shim_real.openat == NULL)	/* ours is hooked: the next one */
		return -ENOSYS;
	return (int)SHIM_LIBC(shim_real.openat(dirfd, path, flags));
#endif
}

static inline long
shim_sys_pread(int fd, void *buf, size_t len, off_t off)
{
#if SHIM_RAW_SYSCALLS
	return SHIM_SC(SYS_pread64, fd, buf, len, off, 0, 0);
#else
	return SHIM_LIBC(pread(fd, buf, len, off));
#endif
}

static inline int
shim_sys_close(int fd)
{
#if SHIM_RAW_SYSCALLS
	return (int)SHIM_SC(SYS_close, fd, 0, 0, 0, 0, 0);
#else
	return (int)SHIM_LIBC(close(fd));
#endif
}

static inline long
shim_sys_readlink(const char *path, char *buf, size_t len)
{
#if SHIM_RAW_SYSCALLS
	return SHIM_SC(SYS_readlinkat, AT_FDCWD, path, buf, len, 0, 0);
#else
	return SHIM_LIBC(readlink(path, buf, len));
#endif
}

/*
 * The working directory into BUF: its length (without the NUL), or
 * -errno.  As getcwd(3): a directory outside our root is ENOENT, not the
 * kernel's "(unreachable)" prefix.
 */
static inline long
shim_sys_getcwd(char *buf, size_t len)
{
#if SHIM_RAW_SYSCALLS
	long n = SHIM_SC(SYS_getcwd, buf, len, 0, 0, 0, 0);
	if (n > 0 && buf[0] != '/')
		return -ENOENT;
	return n > 0 ? n - 1 : (n == 0 ? -ENOENT : n);
#else
	long r = SHIM_LIBC(getcwd(buf, len) != NULL ? 0 : -1);
	if (r < 0)
		return r;
	long n = 0;
	while (buf[n] != '\0')
		n++;
	return n;
#endif
}

static inline int
shim_sys_clock_gettime(clockid_t id, struct timespec *ts)
{
#if SHIM_RAW_SYSCALLS
	return (int)SHIM_SC(SYS_clock_gettime, id, ts, 0, 0, 0, 0);
#else
	return (int)SHIM_LIBC(clock_gettime(id, ts));
#endif
}

static inline long
shim_sys_fgetxattr(int fd, const char *name, void *value, size_t size)
{
#if SHIM_RAW_SYSCALLS
	return SHIM_SC(SYS_fgetxattr, fd, name, value, size, 0, 0);
#else
	return SHIM_LIBC(fgetxattr(fd, name, value, size));
#endif
}

static inline int
shim_sys_fcntl(int fd, int cmd, long arg)
{
#if SHIM_RAW_SYSCALLS
	return (int)SHIM_SC(SYS_fcntl, fd, cmd, arg, 0, 0, 0);
#else
	if (shim_real.fcntl == NULL)	/* ours is hooked: the next one */
		return -ENOSYS;
	return (int)SHIM_LIBC(shim_real.fcntl(fd, cmd, arg));
#endif
}

static inline int
shim_sys_getrlimit(int resource, struct rlimit *rl)
{
#if SHIM_RAW_SYSCALLS
	return (int)SHIM_SC(SYS_prlimit64, 0, resource, 0, rl, 0, 0);
#else
	return (int)SHIM_LIBC(getrlimit(resource, rl));
#endif
}

static inline long
shim_sys_send(int fd, const void *buf, size_t len, int flags)
{
#if SHIM_RAW_SYSCALLS
	return SHIM_SC(SYS_sendto, fd, buf, len, flags, 0, 0);
#else
	return SHIM_LIBC(send(fd, buf, len, flags));
#endif
}

static inline int
shim_sys_socket(int domain, int type, int proto)
{
#if SHIM_RAW_SYSCALLS
	return (int)SHIM_SC(SYS_socket, domain, type, proto, 0, 0, 0);
#else
	if (shim_real.socket == NULL)
		return -ENOSYS;
	return (int)SHIM_LIBC(shim_real.socket(domain, type, proto));
#endif
}

static inline int
shim_sys_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
#if SHIM_RAW_SYSCALLS
	return (int)SHIM_SC(SYS_connect, fd, sa, len, 0, 0, 0);
#else
	if (shim_real.connect == NULL)
		return -ENOSYS;
	return (int)SHIM_LIBC(shim_real.connect(fd, sa, len));
#endif
}

#endif /* AUDITSHIM_SYS_H */
