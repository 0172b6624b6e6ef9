/* SPDX-License-Identifier: MIT */
/*
 * hook_sys.c - raw system calls made through syscall(3).  All six
 * arguments are forwarded untouched; the numbers that do what the other
 * hooks record (opens for writing, exec, renames, unlinks, directories,
 * links, mode, owner, truncate, connect, bind) are recorded the same way
 * with API "syscall:<name>".  io_uring_setup fails with ENOSYS unless
 * AUDITSHIM_IO_URING=allow: I/O submitted through a ring reaches no hook,
 * and programs such as libuv fall back to their thread pool.  Our socket
 * keeps out of the way here as in hook_fd.c: it steps aside for dup2,
 * dup3 and fcntl aimed at its number, and a call that allocates a
 * descriptor and fails with EMFILE gets ours and is made once more.
 */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifdef SYS_openat2
#include <linux/openat2.h>
#endif

#define OPEN_WRITES(f)                                                   \
	(((f) & O_ACCMODE) != O_RDONLY || ((f) & (O_CREAT | O_TRUNC)) || \
	 ((f) & O_TMPFILE) == O_TMPFILE)
#define OPEN_HAS_MODE(f) (((f) & O_CREAT) || ((f) & O_TMPFILE) == O_TMPFILE)

static long
real_sys(long nr, const long a[6])
{
	return shim_real.syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* NR allocates a descriptor first: an EMFILE failure had no side effect. */
static int
allocates_fd(long nr)
{
	switch (nr) {
#ifdef SYS_open
	case SYS_open:
#endif
#ifdef SYS_creat
	case SYS_creat:
#endif
#ifdef SYS_openat2
	case SYS_openat2:
#endif
#ifdef SYS_pipe
	case SYS_pipe:
#endif
#ifdef SYS_epoll_create
	case SYS_epoll_create:
#endif
#ifdef SYS_eventfd
	case SYS_eventfd:
#endif
#ifdef SYS_inotify_init
	case SYS_inotify_init:
#endif
#ifdef SYS_signalfd
	case SYS_signalfd:
#endif
#ifdef SYS_accept
	case SYS_accept:
#endif
#ifdef SYS_pidfd_open
	case SYS_pidfd_open:
#endif
	case SYS_openat:
	case SYS_dup:
	case SYS_pipe2:
	case SYS_socket:
	case SYS_socketpair:
	case SYS_accept4:
	case SYS_epoll_create1:
	case SYS_eventfd2:
	case SYS_inotify_init1:
	case SYS_memfd_create:
	case SYS_signalfd4:
	case SYS_timerfd_create:
		return 1;
	default:
		return 0;
	}
}

/* The real call, once more if it ran out of descriptors and we gave ours. */
static long
real_sys_fd(long nr, const long a[6], int saved)
{
	if (!allocates_fd(nr))
		return real_sys(nr, a);
	return SHIM_FD_RETRY(-1L, saved, real_sys(nr, a));
}

/* dup2/dup3/fcntl: the numbers the program names are made free first. */
static void
step_aside_for(long nr, const long a[6])
{
	switch (nr) {
#ifdef SYS_dup2
	case SYS_dup2:
#endif
	case SYS_dup3:
		shim_step_aside((int)a[1]);
		break;
	case SYS_fcntl:
		shim_step_aside((int)a[0]);
		if ((int)a[1] == F_DUPFD || (int)a[1] == F_DUPFD_CLOEXEC)
			shim_step_aside((int)a[2]);
		break;
	default:
		break;
	}
}

/* Calls NR and records OP with its result; errno as the call left it. */
static __attribute__((noinline)) long
sys_op(long nr, const long a[6], const struct shim_op *op)
{
	int saved = errno;
	struct shim_ctx c;
	int pre = shim_pre(&c);
	if (pre == SHIM_PASS) {
		errno = saved;
		return real_sys_fd(nr, a, saved);
	}
	long r = -1;
	int e = EACCES;
	if (pre != SHIM_REFUSE) {
		errno = saved;
		r = real_sys_fd(nr, a, saved);
		e = errno;
	}
	shim_record_op(&c, op, r, r < 0 ? e : 0);
	errno = e;
	return r;
}

/* execve/execveat: recorded before (attempt) and after if it returns. */
static __attribute__((noinline)) long
sys_exec(long nr, const long a[6], const char *api, int dirfd,
	 const char *path, char *const *argv, int flags)
{
	int saved = errno;
	struct shim_ctx c;
	int pre = shim_pre(&c);
	if (pre == SHIM_PASS) {
		errno = saved;
		return real_sys(nr, a);
	}
	int fd = -1;
	if (path != NULL && path[0] == '\0' && (flags & AT_EMPTY_PATH)) {
		fd = dirfd;
		path = NULL;
	}
	shim_exec_note(&c, api, WO_ATTEMPT, 0, 0, dirfd, path, fd, argv);
	if (pre == SHIM_REFUSE) {
		shim_exec_note(&c, api, WO_ERROR, -1, EACCES, dirfd, path, fd,
			       argv);
		errno = EACCES;
		return -1;
	}
	errno = saved;
	long r = real_sys(nr, a);
	int e = errno;
	shim_exec_note(&c, api, WO_ERROR, r, e, dirfd, path, fd, argv);
	errno = e;
	return r;
}

#define P(i) ((const char *)a[i])
#define I(i) ((int)a[i])
#define OWNER(u, g) .uid = (int64_t)(int32_t)(u), .gid = (int64_t)(int32_t)(g)

/* The open family: recorded only when writing, creating or truncating. */
static long
sys_open(long nr, const long a[6], const char *api, int dirfd,
	 const char *path, long flags, long mode)
{
	if (!OPEN_WRITES(flags))
		return real_sys_fd(nr, a, errno);
	const struct shim_op op = {
		.event = WE_OPEN, .api = api, .path = path, .dirfd = dirfd,
		.have = OP_AT | OP_FLAGS | (OPEN_HAS_MODE(flags) ? OP_MODE : 0),
		.flags = (uint64_t)flags, .mode = (uint64_t)mode };
	return sys_op(nr, a, &op);
}

static long
dispatch(long nr, const long a[6])
{
	switch (nr) {
#ifdef SYS_open
	case SYS_open:
		return sys_open(nr, a, "syscall:open", AT_FDCWD, P(0), I(1), a[2]);
#endif
#ifdef SYS_creat
	case SYS_creat:
		return sys_open(nr, a, "syscall:creat", AT_FDCWD, P(0),
				O_CREAT | O_WRONLY | O_TRUNC, a[1]);
#endif
	case SYS_openat:
		return sys_open(nr, a, "syscall:openat", I(0), P(1), I(2), a[3]);
#ifdef SYS_openat2
	case SYS_openat2: {
		const struct open_how *how = (const struct open_how *)a[2];
		if (how == NULL)
			return real_sys_fd(nr, a, errno);
		return sys_open(nr, a, "syscall:openat2", I(0), P(1),
				(long)how->flags, (long)how->mode);
	}
#endif
	case SYS_execve:
		return sys_exec(nr, a, "syscall:execve", AT_FDCWD, P(0),
				(char *const *)a[1], 0);
#ifdef SYS_execveat
	case SYS_execveat:
		return sys_exec(nr, a, "syscall:execveat", I(0), P(1),
				(char *const *)a[2], I(4));
#endif
	default:
		break;
	}

	struct shim_op op = { .api = NULL };
	switch (nr) {
#ifdef SYS_rename
	case SYS_rename:
		op = (struct shim_op){ .event = WE_RENAME, .api = "syscall:rename",
			.path = P(1), .path2 = P(0) };
		break;
#endif
#ifdef SYS_renameat
	case SYS_renameat:
		op = (struct shim_op){ .event = WE_RENAME, .api = "syscall:renameat",
			.path = P(3), .dirfd = I(2), .path2 = P(1), .dirfd2 = I(0),
			.have = OP_AT | OP_AT2 };
		break;
#endif
	case SYS_renameat2:
		op = (struct shim_op){ .event = WE_RENAME, .api = "syscall:renameat2",
			.path = P(3), .dirfd = I(2), .path2 = P(1), .dirfd2 = I(0),
			.have = OP_AT | OP_AT2 | OP_FLAGS, .flags = (unsigned)a[4] };
		break;
#ifdef SYS_unlink
	case SYS_unlink:
		op = (struct shim_op){ .event = WE_UNLINK, .api = "syscall:unlink",
			.path = P(0) };
		break;
#endif
	case SYS_unlinkat:
		op = (struct shim_op){
			.event = (I(2) & AT_REMOVEDIR) ? WE_RMDIR : WE_UNLINK,
			.api = "syscall:unlinkat", .path = P(1), .dirfd = I(0),
			.have = OP_AT | OP_FLAGS, .flags = (unsigned)I(2) };
		break;
#ifdef SYS_rmdir
	case SYS_rmdir:
		op = (struct shim_op){ .event = WE_RMDIR, .api = "syscall:rmdir",
			.path = P(0) };
		break;
#endif
#ifdef SYS_mkdir
	case SYS_mkdir:
		op = (struct shim_op){ .event = WE_MKDIR, .api = "syscall:mkdir",
			.path = P(0), .have = OP_MODE, .mode = (unsigned)a[1] };
		break;
#endif
	case SYS_mkdirat:
		op = (struct shim_op){ .event = WE_MKDIR, .api = "syscall:mkdirat",
			.path = P(1), .dirfd = I(0), .have = OP_AT | OP_MODE,
			.mode = (unsigned)a[2] };
		break;
#ifdef SYS_mknod
	case SYS_mknod:
		op = (struct shim_op){ .event = WE_MKNOD, .api = "syscall:mknod",
			.path = P(0), .have = OP_MODE, .mode = (unsigned)a[1] };
		break;
#endif
	case SYS_mknodat:
		op = (struct shim_op){ .event = WE_MKNOD, .api = "syscall:mknodat",
			.path = P(1), .dirfd = I(0), .have = OP_AT | OP_MODE,
			.mode = (unsigned)a[2] };
		break;
#ifdef SYS_link
	case SYS_link:
		op = (struct shim_op){ .event = WE_LINK, .api = "syscall:link",
			.path = P(1), .path2 = P(0) };
		break;
#endif
	case SYS_linkat:
		op = (struct shim_op){ .event = WE_LINK, .api = "syscall:linkat",
			.path = P(3), .dirfd = I(2), .path2 = P(1), .dirfd2 = I(0),
			.have = OP_AT | OP_AT2 | OP_FLAGS, .flags = (unsigned)I(4) };
		break;
#ifdef SYS_symlink
	case SYS_symlink:
		op = (struct shim_op){ .event = WE_SYMLINK, .api = "syscall:symlink",
			.path = P(1), .text2 = P(0) };
		break;
#endif
	case SYS_symlinkat:
		op = (struct shim_op){ .event = WE_SYMLINK,
			.api = "syscall:symlinkat", .path = P(2), .dirfd = I(1),
			.have = OP_AT, .text2 = P(0) };
		break;
	case SYS_truncate:
		op = (struct shim_op){ .event = WE_TRUNCATE,
			.api = "syscall:truncate", .path = P(0),
			.have = OP_LENGTH, .length = (uint64_t)a[1] };
		break;
	case SYS_ftruncate:
		op = (struct shim_op){ .event = WE_TRUNCATE,
			.api = "syscall:ftruncate", .fd = I(0),
			.have = OP_FD | OP_LENGTH, .length = (uint64_t)a[1] };
		break;
#ifdef SYS_chmod
	case SYS_chmod:
		op = (struct shim_op){ .event = WE_CHMOD, .api = "syscall:chmod",
			.path = P(0), .have = OP_MODE, .mode = (unsigned)a[1] };
		break;
#endif
	case SYS_fchmod:
		op = (struct shim_op){ .event = WE_CHMOD, .api = "syscall:fchmod",
			.fd = I(0), .have = OP_FD | OP_MODE,
			.mode = (unsigned)a[1] };
		break;
	case SYS_fchmodat:
		op = (struct shim_op){ .event = WE_CHMOD,
			.api = "syscall:fchmodat", .path = P(1), .dirfd = I(0),
			.fd = I(0), .have = OP_AT | OP_FD | OP_MODE,
			.mode = (unsigned)a[2] };
		break;
#ifdef SYS_chown
	case SYS_chown:
		op = (struct shim_op){ .event = WE_CHOWN, .api = "syscall:chown",
			.path = P(0), .have = OP_OWNER, OWNER(a[1], a[2]) };
		break;
#endif
#ifdef SYS_lchown
	case SYS_lchown:
		op = (struct shim_op){ .event = WE_CHOWN, .api = "syscall:lchown",
			.path = P(0), .have = OP_OWNER, OWNER(a[1], a[2]) };
		break;
#endif
	case SYS_fchown:
		op = (struct shim_op){ .event = WE_CHOWN, .api = "syscall:fchown",
			.fd = I(0), .have = OP_FD | OP_OWNER, OWNER(a[1], a[2]) };
		break;
	case SYS_fchownat:
		op = (struct shim_op){ .event = WE_CHOWN,
			.api = "syscall:fchownat", .path = P(1), .dirfd = I(0),
			.fd = I(0), .have = OP_AT | OP_FD | OP_OWNER | OP_FLAGS,
			.flags = (unsigned)I(4), OWNER(a[2], a[3]) };
		break;
	case SYS_connect:
		if (shim_is_own_fd(I(0)))
			return real_sys(nr, a);
		op = (struct shim_op){ .event = WE_CONNECT,
			.api = "syscall:connect",
			.addr = (const struct sockaddr *)a[1],
			.addrlen = (socklen_t)a[2] };
		break;
	case SYS_bind:
		if (shim_is_own_fd(I(0)))
			return real_sys(nr, a);
		op = (struct shim_op){ .event = WE_BIND, .api = "syscall:bind",
			.addr = (const struct sockaddr *)a[1],
			.addrlen = (socklen_t)a[2] };
		break;
	default:
		step_aside_for(nr, a);
		return real_sys_fd(nr, a, errno);
	}
	return sys_op(nr, a, &op);
}

/* A successful io_uring_setup that was allowed: file I/O goes dark. */
static __attribute__((noinline)) void
io_uring_note(long r)
{
	struct shim_ctx c;
	if (shim_pre(&c) != SHIM_GO)
		return;
	unsigned char buf[1024];
	struct shim_rec rec;
	rec_begin(&rec, buf, sizeof buf, &c, WE_BLIND_SPOT, "syscall:io_uring_setup");
	rec_result(&rec, WO_OK, r, 0);
	rec_str(&rec, WT_REASON, "io_uring: I/O submitted through the ring is "
		"invisible to the shim", 0, 0);
	rec_send(&rec);
}

SHIM_EXPORT long
syscall(long nr, ...)
{
	long a[6];
	va_list ap;

	/* Six arguments, as glibc's own syscall() reads them. */
	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	shim_ensure_init();
	if (shim_real.syscall == NULL) {
		errno = ENOSYS;
		return -1;
	}
#ifdef SYS_io_uring_setup
	if (nr == SYS_io_uring_setup) {
		if (!shim_conf.io_uring_allow) {
			errno = ENOSYS;
			return -1;
		}
		long r = real_sys(nr, a);
		if (r >= 0) {
			int e = errno;
			io_uring_note(r);
			errno = e;
		}
		return r;
	}
#endif
	return dispatch(nr, a);
}

/*
 * _exit and _Exit skip the destructors, and with them the image-end
 * report of what the backlog holds or what was counted lost (shim_emit_exit,
 * one bounded try).  Made here first.  Both are async-signal-safe and are
 * what a vfork child calls when its exec fails: shim_emit_exit does
 * nothing in a side slot and takes no locks.  Never returns.
 */
static __attribute__((noreturn)) void
exit_hook(void (*real)(int), int status)
{
	shim_ensure_init();
	if (atomic_load(&shim_init_state) == 2 && !shim_guard)
		shim_emit_exit();
	if (real != NULL)
		real(status);
	if (shim_real.syscall != NULL)
		shim_real.syscall(SYS_exit_group, status);
	__builtin_trap();
}

SHIM_EXPORT void
_exit(int status)
{
	exit_hook(shim_real.exit_, status);
}

SHIM_EXPORT void
_Exit(int status)
{
	exit_hook(shim_real.Exit_, status);
}
