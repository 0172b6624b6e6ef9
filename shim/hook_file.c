/* SPDX-License-Identifier: MIT */
/*
 * hook_file.c - file-system changes: opens for writing, creating or
 * truncating (read-only opens pass straight through after one flag test),
 * renames, unlinks, directories, links, truncation, mode and owner.
 * Each records the call's own result and errno after it returns.
 */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Opens we record: anything that may write, create or truncate. */
#define OPEN_WRITES(f)                                                   \
	(((f) & O_ACCMODE) != O_RDONLY || ((f) & (O_CREAT | O_TRUNC)) || \
	 ((f) & O_TMPFILE) == O_TMPFILE)
/* Opens that carry a mode argument (as musl reads it). */
#define OPEN_HAS_MODE(f) (((f) & O_CREAT) || ((f) & O_TMPFILE) == O_TMPFILE)

/*
 * The shape of every hook here: resolve, pass through when re-entered,
 * refuse under fail-closed, else call, record, and return with the call's
 * own errno.  CALL is the real call; the rest initialises a struct shim_op.
 */
#define HOOK_INT_R(retry, fn, call, ...)                                 \
	int saved_ = errno;                                              \
	shim_ensure_init();                                              \
	if (shim_real.fn == NULL) {                                      \
		errno = ENOSYS;                                          \
		return -1;                                               \
	}                                                                \
	struct shim_ctx c_;                                              \
	int pre_ = shim_pre(&c_);                                        \
	if (pre_ == SHIM_PASS) {                                         \
		errno = saved_;                                          \
		return (retry) ? SHIM_FD_RETRY(-1, saved_, shim_real.call) \
			       : shim_real.call;                         \
	}                                                                \
	int r_, e_;                                                      \
	if (pre_ == SHIM_REFUSE) {                                       \
		r_ = -1;                                                 \
		e_ = EACCES;                                             \
	} else {                                                         \
		errno = saved_;                                          \
		r_ = (retry) ? SHIM_FD_RETRY(-1, saved_, shim_real.call) \
			     : shim_real.call;                           \
		e_ = errno;                                              \
	}                                                                \
	const struct shim_op op_ = { __VA_ARGS__ };                      \
	shim_record_op(&c_, &op_, r_, r_ < 0 ? e_ : 0);                  \
	errno = e_;                                                      \
	return r_

/*
 * Calls that only fail with EMFILE before doing anything are retried once
 * after we give up our descriptor (shim_yield_fd).  Not mkstemp and kin:
 * a failed call leaves the template filled in, so a retry would fail.
 */
#define HOOK_INT(fn, call, ...) HOOK_INT_R(0, fn, call, __VA_ARGS__)
#define HOOK_OPEN(fn, call, ...) HOOK_INT_R(1, fn, call, __VA_ARGS__)

/* Read-only opens: one flag test, then the real function. */
#define OPEN_FAST(fn, ...)                                               \
	do {                                                             \
		shim_ensure_init();                                      \
		if (shim_real.fn == NULL) {                              \
			errno = ENOSYS;                                  \
			return -1;                                       \
		}                                                        \
		int saved_ = errno;                                      \
		return SHIM_FD_RETRY(-1, saved_, shim_real.fn(__VA_ARGS__)); \
	} while (0)

static mode_t
va_mode(int flags, va_list ap)
{
	return OPEN_HAS_MODE(flags) ? (mode_t)va_arg(ap, int) : 0;
}

#define OPEN_OP(name, dfd, p, f, m)                                      \
	.event = WE_OPEN, .api = name, .path = p, .dirfd = dfd,          \
	.have = OP_FLAGS | OP_AT | (OPEN_HAS_MODE(f) ? OP_MODE : 0),     \
	.flags = (uint64_t)(unsigned)(f), .mode = m

SHIM_EXPORT int
open(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = va_mode(flags, ap);
	va_end(ap);
	if (!OPEN_WRITES(flags))
		OPEN_FAST(open, path, flags);
	HOOK_OPEN(open, open(path, flags, mode),
		 OPEN_OP("open", AT_FDCWD, path, flags, mode));
}

SHIM_EXPORT int
open64(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = va_mode(flags, ap);
	va_end(ap);
	if (!OPEN_WRITES(flags))
		OPEN_FAST(open64, path, flags);
	HOOK_OPEN(open64, open64(path, flags, mode),
		 OPEN_OP("open64", AT_FDCWD, path, flags, mode));
}

SHIM_EXPORT int
openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = va_mode(flags, ap);
	va_end(ap);
	if (!OPEN_WRITES(flags))
		OPEN_FAST(openat, dirfd, path, flags);
	HOOK_OPEN(openat, openat(dirfd, path, flags, mode),
		 OPEN_OP("openat", dirfd, path, flags, mode));
}

SHIM_EXPORT int
openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = va_mode(flags, ap);
	va_end(ap);
	if (!OPEN_WRITES(flags))
		OPEN_FAST(openat64, dirfd, path, flags);
	HOOK_OPEN(openat64, openat64(dirfd, path, flags, mode),
		 OPEN_OP("openat64", dirfd, path, flags, mode));
}

SHIM_EXPORT int
__open_2(const char *path, int flags)
{
	if (!OPEN_WRITES(flags))
		OPEN_FAST(open_2, path, flags);
	HOOK_OPEN(open_2, open_2(path, flags),
		 OPEN_OP("__open_2", AT_FDCWD, path, flags, 0));
}

SHIM_EXPORT int
__open64_2(const char *path, int flags)
{
	if (!OPEN_WRITES(flags))
		OPEN_FAST(open64_2, path, flags);
	HOOK_OPEN(open64_2, open64_2(path, flags),
		 OPEN_OP("__open64_2", AT_FDCWD, path, flags, 0));
}

SHIM_EXPORT int
__openat_2(int dirfd, const char *path, int flags)
{
	if (!OPEN_WRITES(flags))
		OPEN_FAST(openat_2, dirfd, path, flags);
	HOOK_OPEN(openat_2, openat_2(dirfd, path, flags),
		 OPEN_OP("__openat_2", dirfd, path, flags, 0));
}

SHIM_EXPORT int
__openat64_2(int dirfd, const char *path, int flags)
{
	if (!OPEN_WRITES(flags))
		OPEN_FAST(openat64_2, dirfd, path, flags);
	HOOK_OPEN(openat64_2, openat64_2(dirfd, path, flags),
		 OPEN_OP("__openat64_2", dirfd, path, flags, 0));
}

#define CREAT_FLAGS (O_CREAT | O_WRONLY | O_TRUNC)

SHIM_EXPORT int
creat(const char *path, mode_t mode)
{
	HOOK_OPEN(creat, creat(path, mode),
		 OPEN_OP("creat", AT_FDCWD, path, CREAT_FLAGS, mode));
}

SHIM_EXPORT int
creat64(const char *path, mode_t mode)
{
	HOOK_OPEN(creat64, creat64(path, mode),
		 OPEN_OP("creat64", AT_FDCWD, path, CREAT_FLAGS, mode));
}

/* --- stdio opens (their internal open cannot be interposed) -------------- */

/* open(2) flags for an fopen MODE; 0 if it only reads. */
static int
fmode_flags(const char *mode)
{
	int f;
	if (mode == NULL)
		return 0;
	switch (mode[0]) {
	case 'w': f = O_WRONLY | O_CREAT | O_TRUNC; break;
	case 'a': f = O_WRONLY | O_CREAT | O_APPEND; break;
	default: f = O_RDONLY; break;
	}
	for (const char *p = mode + 1; *p && *p != ','; p++) {
		if (*p == '+')
			f = (f & ~O_ACCMODE) | O_RDWR;
		else if (*p == 'x')
			f |= O_EXCL;
		else if (*p == 'e')
			f |= O_CLOEXEC;
	}
	return f;
}

/* RETRY: see HOOK_OPEN.  Not freopen: a failed one has closed STREAM. */
#define HOOK_FOPEN(retry, fn, name, call, path, stream)                  \
	shim_ensure_init();                                              \
	if (shim_real.fn == NULL) {                                      \
		errno = ENOSYS;                                          \
		return NULL;                                             \
	}                                                                \
	int saved_ = errno;                                              \
	int f_ = fmode_flags(mode);                                      \
	if (!OPEN_WRITES(f_))                                            \
		return (retry) ? SHIM_FD_RETRY(NULL, saved_, shim_real.call) \
			       : shim_real.call;                         \
	struct shim_ctx c_;                                              \
	int pre_ = shim_pre(&c_);                                        \
	if (pre_ == SHIM_PASS) {                                         \
		errno = saved_;                                          \
		return (retry) ? SHIM_FD_RETRY(NULL, saved_, shim_real.call) \
			       : shim_real.call;                         \
	}                                                                \
	FILE *fp_ = NULL;                                                \
	int e_ = EACCES;                                                 \
	if (pre_ != SHIM_REFUSE) {                                       \
		errno = saved_;                                          \
		fp_ = (retry) ? SHIM_FD_RETRY(NULL, saved_, shim_real.call) \
			      : shim_real.call;                          \
		e_ = errno;                                              \
	}                                                                \
	int fd_ = fp_ != NULL ? fileno(fp_) : -1;                        \
	const struct shim_op op_ = {                                     \
		.event = WE_OPEN, .api = name, .path = path, .fd = fd_,  \
		.have = OP_FLAGS | (path == NULL ? OP_FD : 0) |          \
			((f_ & O_CREAT) ? OP_MODE : 0),                  \
		.flags = (uint64_t)(unsigned)f_, .mode = 0666 };         \
	shim_record_op(&c_, &op_, fd_, fp_ == NULL ? e_ : 0);            \
	errno = e_;                                                      \
	return fp_

SHIM_EXPORT FILE *
fopen(const char *path, const char *mode)
{
	HOOK_FOPEN(1, fopen, "fopen", fopen(path, mode), path, NULL);
}

SHIM_EXPORT FILE *
fopen64(const char *path, const char *mode)
{
	HOOK_FOPEN(1, fopen64, "fopen64", fopen64(path, mode), path, NULL);
}

SHIM_EXPORT FILE *
freopen(const char *path, const char *mode, FILE *stream)
{
	HOOK_FOPEN(0, freopen, "freopen", freopen(path, mode, stream),
		   path, stream);
}

/* What freopen() is under _FILE_OFFSET_BITS=64, as fopen64 is to fopen. */
SHIM_EXPORT FILE *
freopen64(const char *path, const char *mode, FILE *stream)
{
	HOOK_FOPEN(0, freopen64, "freopen64", freopen64(path, mode, stream),
		   path, stream);
}

/* --- names ----------------------------------------------------------------- */

SHIM_EXPORT int
rename(const char *oldpath, const char *newpath)
{
	HOOK_INT(rename, rename(oldpath, newpath),
		 .event = WE_RENAME, .api = "rename", .path = newpath,
		 .path2 = oldpath);
}

SHIM_EXPORT int
renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
	HOOK_INT(renameat, renameat(olddirfd, oldpath, newdirfd, newpath),
		 .event = WE_RENAME, .api = "renameat", .path = newpath,
		 .dirfd = newdirfd, .path2 = oldpath, .dirfd2 = olddirfd,
		 .have = OP_AT | OP_AT2);
}

SHIM_EXPORT int
renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
	  unsigned int flags)
{
	HOOK_INT(renameat2,
		 renameat2(olddirfd, oldpath, newdirfd, newpath, flags),
		 .event = WE_RENAME, .api = "renameat2", .path = newpath,
		 .dirfd = newdirfd, .path2 = oldpath, .dirfd2 = olddirfd,
		 .have = OP_AT | OP_AT2 | OP_FLAGS, .flags = flags);
}

SHIM_EXPORT int
unlink(const char *path)
{
	HOOK_INT(unlink, unlink(path),
		 .event = WE_UNLINK, .api = "unlink", .path = path);
}

SHIM_EXPORT int
unlinkat(int dirfd, const char *path, int flags)
{
	HOOK_INT(unlinkat, unlinkat(dirfd, path, flags),
		 .event = (flags & AT_REMOVEDIR) ? WE_RMDIR : WE_UNLINK,
		 .api = "unlinkat", .path = path, .dirfd = dirfd,
		 .have = OP_AT | OP_FLAGS, .flags = (unsigned)flags);
}

SHIM_EXPORT int
rmdir(const char *path)
{
	HOOK_INT(rmdir, rmdir(path),
		 .event = WE_RMDIR, .api = "rmdir", .path = path);
}

SHIM_EXPORT int
mkdir(const char *path, mode_t mode)
{
	HOOK_INT(mkdir, mkdir(path, mode),
		 .event = WE_MKDIR, .api = "mkdir", .path = path,
		 .have = OP_MODE, .mode = mode);
}

SHIM_EXPORT int
mkdirat(int dirfd, const char *path, mode_t mode)
{
	HOOK_INT(mkdirat, mkdirat(dirfd, path, mode),
		 .event = WE_MKDIR, .api = "mkdirat", .path = path,
		 .dirfd = dirfd, .have = OP_AT | OP_MODE, .mode = mode);
}

SHIM_EXPORT int
mknod(const char *path, mode_t mode, dev_t dev)
{
	HOOK_INT(mknod, mknod(path, mode, dev),
		 .event = WE_MKNOD, .api = "mknod", .path = path,
		 .have = OP_MODE, .mode = mode);
}

SHIM_EXPORT int
mknodat(int dirfd, const char *path, mode_t mode, dev_t dev)
{
	HOOK_INT(mknodat, mknodat(dirfd, path, mode, dev),
		 .event = WE_MKNOD, .api = "mknodat", .path = path,
		 .dirfd = dirfd, .have = OP_AT | OP_MODE, .mode = mode);
}

SHIM_EXPORT int
link(const char *oldpath, const char *newpath)
{
	HOOK_INT(link, link(oldpath, newpath),
		 .event = WE_LINK, .api = "link", .path = newpath,
		 .path2 = oldpath);
}

SHIM_EXPORT int
linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
       int flags)
{
	/* AT_EMPTY_PATH links the file OLDDIRFD itself refers to. */
	HOOK_INT(linkat, linkat(olddirfd, oldpath, newdirfd, newpath, flags),
		 .event = WE_LINK, .api = "linkat", .path = newpath,
		 .dirfd = newdirfd,
		 .path2 = oldpath,
		 .dirfd2 = olddirfd, .have = OP_AT | OP_AT2 | OP_FLAGS,
		 .flags = (unsigned)flags);
}

SHIM_EXPORT int
symlink(const char *text, const char *linkpath)
{
	HOOK_INT(symlink, symlink(text, linkpath),
		 .event = WE_SYMLINK, .api = "symlink", .path = linkpath,
		 .text2 = text);
}

SHIM_EXPORT int
symlinkat(const char *text, int newdirfd, const char *linkpath)
{
	HOOK_INT(symlinkat, symlinkat(text, newdirfd, linkpath),
		 .event = WE_SYMLINK, .api = "symlinkat", .path = linkpath,
		 .dirfd = newdirfd, .have = OP_AT, .text2 = text);
}

/* --- size, mode, owner ----------------------------------------------------- */

SHIM_EXPORT int
truncate(const char *path, off_t length)
{
	HOOK_INT(truncate, truncate(path, length),
		 .event = WE_TRUNCATE, .api = "truncate", .path = path,
		 .have = OP_LENGTH, .length = (uint64_t)length);
}

SHIM_EXPORT int
truncate64(const char *path, off64_t length)
{
	HOOK_INT(truncate64, truncate64(path, length),
		 .event = WE_TRUNCATE, .api = "truncate64", .path = path,
		 .have = OP_LENGTH, .length = (uint64_t)length);
}

SHIM_EXPORT int
ftruncate(int fd, off_t length)
{
	HOOK_INT(ftruncate, ftruncate(fd, length),
		 .event = WE_TRUNCATE, .api = "ftruncate", .fd = fd,
		 .have = OP_FD | OP_LENGTH, .length = (uint64_t)length);
}

SHIM_EXPORT int
ftruncate64(int fd, off64_t length)
{
	HOOK_INT(ftruncate64, ftruncate64(fd, length),
		 .event = WE_TRUNCATE, .api = "ftruncate64", .fd = fd,
		 .have = OP_FD | OP_LENGTH, .length = (uint64_t)length);
}

SHIM_EXPORT int
chmod(const char *path, mode_t mode)
{
	HOOK_INT(chmod, chmod(path, mode),
		 .event = WE_CHMOD, .api = "chmod", .path = path,
		 .have = OP_MODE, .mode = mode);
}

SHIM_EXPORT int
fchmod(int fd, mode_t mode)
{
	HOOK_INT(fchmod, fchmod(fd, mode),
		 .event = WE_CHMOD, .api = "fchmod", .fd = fd,
		 .have = OP_FD | OP_MODE, .mode = mode);
}

SHIM_EXPORT int
fchmodat(int dirfd, const char *path, mode_t mode, int flags)
{
	HOOK_INT(fchmodat, fchmodat(dirfd, path, mode, flags),
		 .event = WE_CHMOD, .api = "fchmodat", .path = path,
		 .dirfd = dirfd, .fd = dirfd,
		 .have = OP_AT | OP_FD | OP_MODE | OP_FLAGS, .mode = mode,
		 .flags = (unsigned)flags);
}

#define OWNER(u, g) .uid = (int64_t)(int32_t)(u), .gid = (int64_t)(int32_t)(g)

SHIM_EXPORT int
chown(const char *path, uid_t owner, gid_t group)
{
	HOOK_INT(chown, chown(path, owner, group),
		 .event = WE_CHOWN, .api = "chown", .path = path,
		 .have = OP_OWNER, OWNER(owner, group));
}

SHIM_EXPORT int
lchown(const char *path, uid_t owner, gid_t group)
{
	HOOK_INT(lchown, lchown(path, owner, group),
		 .event = WE_CHOWN, .api = "lchown", .path = path,
		 .have = OP_OWNER, OWNER(owner, group));
}

SHIM_EXPORT int
fchown(int fd, uid_t owner, gid_t group)
{
	HOOK_INT(fchown, fchown(fd, owner, group),
		 .event = WE_CHOWN, .api = "fchown", .fd = fd,
		 .have = OP_FD | OP_OWNER, OWNER(owner, group));
}

SHIM_EXPORT int
fchownat(int dirfd, const char *path, uid_t owner, gid_t group, int flags)
{
	HOOK_INT(fchownat, fchownat(dirfd, path, owner, group, flags),
		 .event = WE_CHOWN, .api = "fchownat", .path = path,
		 .dirfd = dirfd, .fd = dirfd,
		 .have = OP_AT | OP_FD | OP_OWNER | OP_FLAGS,
		 .flags = (unsigned)flags, OWNER(owner, group));
}

/* --- temporary files (glibc creates them with an internal open) ------------ */

/* Flags a temporary file is created with; recorded as WT_FLAGS. */
#define TMP_FLAGS (O_RDWR | O_CREAT | O_EXCL)

#define HOOK_TMPFILE(fn, name)                                           \
	shim_ensure_init();                                              \
	if (shim_real.fn == NULL) {                                      \
		errno = ENOSYS;                                          \
		return NULL;                                             \
	}                                                                \
	int saved_ = errno;                                              \
	struct shim_ctx c_;                                              \
	int pre_ = shim_pre(&c_);                                        \
	if (pre_ == SHIM_PASS) {                                         \
		errno = saved_;                                          \
		return SHIM_FD_RETRY(NULL, saved_, shim_real.fn());      \
	}                                                                \
	FILE *fp_ = NULL;                                                \
	int e_ = EACCES;                                                 \
	if (pre_ != SHIM_REFUSE) {                                       \
		errno = saved_;                                          \
		fp_ = SHIM_FD_RETRY(NULL, saved_, shim_real.fn());       \
		e_ = errno;                                              \
	}                                                                \
	int fd_ = fp_ != NULL ? fileno(fp_) : -1;                        \
	/* The name is /proc/self/fd's: "/tmp/#123 (deleted)" or similar. */ \
	const struct shim_op op_ = {                                     \
		.event = WE_OPEN, .api = name, .fd = fd_,                \
		.path = fp_ != NULL ? NULL : P_tmpdir,                   \
		.have = OP_FLAGS | OP_MODE | (fp_ != NULL ? OP_FD : 0),  \
		.flags = TMP_FLAGS, .mode = 0600 };                      \
	shim_record_op(&c_, &op_, fd_, fp_ == NULL ? e_ : 0);            \
	errno = e_;                                                      \
	return fp_

SHIM_EXPORT FILE *
tmpfile(void)
{
	HOOK_TMPFILE(tmpfile, "tmpfile");
}

SHIM_EXPORT FILE *
tmpfile64(void)
{
	HOOK_TMPFILE(tmpfile64, "tmpfile64");
}

/* The record is built after the call: TMPL then holds the name created. */
#define MKSTEMP_OP(name, tmpl, extra)                                    \
	.event = WE_OPEN, .api = name, .path = tmpl,                     \
	.have = OP_FLAGS | OP_MODE,                                      \
	.flags = (uint64_t)(unsigned)(TMP_FLAGS | (extra)), .mode = 0600

SHIM_EXPORT int
mkstemp(char *tmpl)
{
	HOOK_INT(mkstemp, mkstemp(tmpl), MKSTEMP_OP("mkstemp", tmpl, 0));
}

SHIM_EXPORT int
mkstemp64(char *tmpl)
{
	HOOK_INT(mkstemp64, mkstemp64(tmpl), MKSTEMP_OP("mkstemp64", tmpl, 0));
}

SHIM_EXPORT int
mkostemp(char *tmpl, int flags)
{
	HOOK_INT(mkostemp, mkostemp(tmpl, flags),
		 MKSTEMP_OP("mkostemp", tmpl, flags));
}

SHIM_EXPORT int
mkostemp64(char *tmpl, int flags)
{
	HOOK_INT(mkostemp64, mkostemp64(tmpl, flags),
		 MKSTEMP_OP("mkostemp64", tmpl, flags));
}

SHIM_EXPORT int
mkstemps(char *tmpl, int suffixlen)
{
	HOOK_INT(mkstemps, mkstemps(tmpl, suffixlen),
		 MKSTEMP_OP("mkstemps", tmpl, 0));
}

SHIM_EXPORT int
mkstemps64(char *tmpl, int suffixlen)
{
	HOOK_INT(mkstemps64, mkstemps64(tmpl, suffixlen),
		 MKSTEMP_OP("mkstemps64", tmpl, 0));
}

SHIM_EXPORT int
mkostemps(char *tmpl, int suffixlen, int flags)
{
	HOOK_INT(mkostemps, mkostemps(tmpl, suffixlen, flags),
		 MKSTEMP_OP("mkostemps", tmpl, flags));
}

SHIM_EXPORT int
mkostemps64(char *tmpl, int suffixlen, int flags)
{
	HOOK_INT(mkostemps64, mkostemps64(tmpl, suffixlen, flags),
		 MKSTEMP_OP("mkostemps64", tmpl, flags));
}

SHIM_EXPORT char *
mkdtemp(char *tmpl)
{
	int saved = errno;
	shim_ensure_init();
	if (shim_real.mkdtemp == NULL) {
		errno = ENOSYS;
		return NULL;
	}
	struct shim_ctx c;
	int pre = shim_pre(&c);
	if (pre == SHIM_PASS) {
		errno = saved;
		return shim_real.mkdtemp(tmpl);
	}
	char *r = NULL;
	int e = EACCES;
	if (pre != SHIM_REFUSE) {
		errno = saved;
		r = shim_real.mkdtemp(tmpl);
		e = errno;
	}
	const struct shim_op op = { .event = WE_MKDIR, .api = "mkdtemp",
				    .path = tmpl, .have = OP_MODE,
				    .mode = 0700 };
	shim_record_op(&c, &op, r != NULL ? 0 : -1, r == NULL ? e : 0);
	errno = e;
	return r;
}

/*
 * remove() unlinks, or removes a directory: which one is decided by the
 * file type seen just before the call (glibc tries unlink first and falls
 * back to rmdir on EISDIR).
 */
static enum wire_event
remove_event(const char *path)
{
	struct stat st;
	int saved = errno;
	enum wire_event ev = WE_UNLINK;
	if (path != NULL && fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st.st_mode))
		ev = WE_RMDIR;
	errno = saved;
	return ev;
}

SHIM_EXPORT int
remove(const char *path)
{
	enum wire_event ev = remove_event(path);
	HOOK_INT(remove, remove(path), .event = ev, .api = "remove",
		 .path = path);
}

/* --- the old mknod names (binaries built against glibc < 2.33) ------------- */

SHIM_EXPORT int
__xmknod(int ver, const char *path, mode_t mode, dev_t *dev)
{
	HOOK_INT(xmknod, xmknod(ver, path, mode, dev),
		 .event = WE_MKNOD, .api = "__xmknod", .path = path,
		 .have = OP_MODE, .mode = mode);
}

SHIM_EXPORT int
__xmknodat(int ver, int dirfd, const char *path, mode_t mode, dev_t *dev)
{
	HOOK_INT(xmknodat, xmknodat(ver, dirfd, path, mode, dev),
		 .event = WE_MKNOD, .api = "__xmknodat", .path = path,
		 .dirfd = dirfd, .have = OP_AT | OP_MODE, .mode = mode);
}
