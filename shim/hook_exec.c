/* SPDX-License-Identifier: MIT */
/*
 * hook_exec.c - the exec family, posix_spawn/posix_spawnp, system and
 * popen (whose streams popen.c keeps).  An exec that succeeds never
 * returns, so its record is sent before the call (WO_ATTEMPT) and a
 * failure record follows if it returns.  Every child gets our LD_PRELOAD
 * back if its environment lost it, and a blind_spot record first if it
 * will run unobserved anyway.
 */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Which real function an exec goes to, and how its target is named. */
enum xkind {
	X_PATH,		/* execve: a path */
	X_SEARCH,	/* execvpe: a PATH search */
	X_FD,		/* fexecve: a descriptor */
	X_AT,		/* execveat: a dirfd-relative path */
};

/* The program a record names: PATH against DIRFD, or FD when PATH is NULL. */
struct xtarget {
	int dirfd;		/* AT_FDCWD or a directory descriptor */
	const char *path;	/* program path, or NULL */
	int fd;			/* program descriptor when PATH is NULL */
	int bare;		/* PATH is a name no PATH search found: as is */
};

static void
put_target(struct shim_rec *r, const struct xtarget *t, size_t keep)
{
	if (t->path != NULL && t->bare)
		rec_str(r, WT_TARGET, t->path, keep, WIRE_TRUNC_TARGET);
	else if (t->path != NULL)
		rec_path(r, WT_TARGET, t->dirfd, t->path, keep, WIRE_TRUNC_TARGET);
	else
		rec_fdpath(r, WT_TARGET, t->fd, keep, WIRE_TRUNC_TARGET);
}

/* Sends an exec/spawn record.  Returns 1 if it reached the writer. */
static __attribute__((noinline)) int
exec_record(struct shim_ctx *c, enum wire_event ev, const char *api,
	    enum wire_outcome out, int64_t result, int err,
	    const struct xtarget *t, char *const argv[])
{
	unsigned char buf[SHIM_MSG_MAX];
	struct shim_rec r;

	rec_begin(&r, buf, sizeof buf, c, ev, api);
	rec_result(&r, out, result, err);
	put_target(&r, t, 3072);
	rec_cwd(&r, WT_CWD, 2048, WIRE_TRUNC_CWD);
	rec_argv(&r, argv);
	return rec_send(&r);
}

static __attribute__((noinline)) void
blind_record(struct shim_ctx *c, const char *api, const char *reason,
	     const struct xtarget *t, char *const argv[])
{
	unsigned char buf[SHIM_MSG_MAX];
	struct shim_rec r;

	rec_begin(&r, buf, sizeof buf, c, WE_BLIND_SPOT, api);
	rec_result(&r, WO_OK, 0, 0);
	rec_str(&r, WT_REASON, reason, 0, 0);
	put_target(&r, t, 3072);
	rec_cwd(&r, WT_CWD, 2048, WIRE_TRUNC_CWD);
	rec_argv(&r, argv);
	rec_send(&r);
}

/* Records why the child of T will run unobserved, if it will. */
static __attribute__((noinline)) void
blind_checks(struct shim_ctx *c, const char *api, const struct xtarget *t,
	     char *const argv[], int env_too_big)
{
	char who[256];
	const char *reason;

	reason = shim_blind_reason(t->dirfd, t->path, t->fd, who, sizeof who);
	if (reason != NULL) {
		struct xtarget w = *t;
		if (who[0] != '\0') {
			w.dirfd = AT_FDCWD;
			w.path = who;
		}
		blind_record(c, api, reason, &w, argv);
	}
	if (env_too_big)
		blind_record(c, api, "environment too large to re-inject", t,
			     argv);
}

static int
have_real(enum xkind kind)
{
	switch (kind) {
	case X_SEARCH: return shim_real.execvpe != NULL;
	case X_FD: return shim_real.fexecve != NULL;
	case X_AT: return shim_real.execveat != NULL;
	default: return shim_real.execve != NULL;
	}
}

static int
call_real(enum xkind kind, int dirfd, const char *path, int fd,
	  char *const argv[], char *const envp[], int flags)
{
	switch (kind) {
	case X_SEARCH: return shim_real.execvpe(path, argv, envp);
	case X_FD: return shim_real.fexecve(fd, argv, envp);
	case X_AT: return shim_real.execveat(dirfd, path, argv, envp, flags);
	default: return shim_real.execve(path, argv, envp);
	}
}

/*
 * The common exec path.  The re-entry guard is never held across the real
 * call: a vfork child shares it with its suspended parent.
 *
 * errno is not saved and restored here: an exec that succeeds does not
 * return, and one that fails sets errno, so errno at entry never reaches
 * the caller.  Not touching it spares a fork child about to exec a page
 * fault on libc's errno code.
 */
static int
do_exec(const char *api, enum xkind kind, int dirfd, const char *path, int fd,
	char *const argv[], char *const envp[], int flags)
{
	shim_ensure_init();
	if (!have_real(kind)) {
		errno = ENOSYS;
		return -1;
	}

	struct shim_ctx c;
	int pre = shim_pre(&c);
	char *envout[SHIM_ENV_MAX];
	char val[SHIM_PRELOAD_MAX];
	int too_big;
	char *const *ep = shim_env_doctor(envp, envout, val, &too_big);
	if (pre == SHIM_PASS)
		return call_real(kind, dirfd, path, fd, argv, ep, flags);

	char cand[4096];
	struct xtarget t = { .dirfd = AT_FDCWD, .path = path, .fd = -1 };
	if (kind == X_SEARCH) {
		t.path = shim_path_search(path, cand, sizeof cand);
		t.bare = t.path == path && path != NULL && strchr(path, '/') == NULL;
	} else if (kind == X_FD) {
		t.path = NULL;
		t.fd = fd;
	} else if (kind == X_AT) {
		t.dirfd = dirfd;
		if (path != NULL && path[0] == '\0' && (flags & AT_EMPTY_PATH)) {
			t.path = NULL;
			t.fd = dirfd;
		}
	}
	if (t.path == NULL && t.fd < 0)
		t.path = "";
	blind_checks(&c, api, &t, argv, too_big);
	int sent = exec_record(&c, WE_EXEC, api, WO_ATTEMPT, 0, 0, &t, argv);
	if (pre == SHIM_REFUSE || (shim_conf.fail_closed && !sent)) {
		exec_record(&c, WE_EXEC, api, WO_ERROR, -1, EACCES, &t, argv);
		errno = EACCES;
		return -1;
	}
	/* A successful exec discards the backlog with the image. */
	shim_emit_exit();
	int r = call_real(kind, dirfd, path, fd, argv, ep, flags);
	int e = errno;
	exec_record(&c, WE_EXEC, api, WO_ERROR, r, e, &t, argv);
	errno = e;
	return r;
}

SHIM_EXPORT int
execve(const char *path, char *const argv[], char *const envp[])
{
	return do_exec("execve", X_PATH, AT_FDCWD, path, -1, argv, envp, 0);
}

SHIM_EXPORT int
execv(const char *path, char *const argv[])
{
	return do_exec("execv", X_PATH, AT_FDCWD, path, -1, argv, environ, 0);
}

SHIM_EXPORT int
execvp(const char *file, char *const argv[])
{
	return do_exec("execvp", X_SEARCH, AT_FDCWD, file, -1, argv, environ, 0);
}

SHIM_EXPORT int
execvpe(const char *file, char *const argv[], char *const envp[])
{
	return do_exec("execvpe", X_SEARCH, AT_FDCWD, file, -1, argv, envp, 0);
}

SHIM_EXPORT int
fexecve(int fd, char *const argv[], char *const envp[])
{
	return do_exec("fexecve", X_FD, AT_FDCWD, NULL, fd, argv, envp, 0);
}

SHIM_EXPORT int
execveat(int dirfd, const char *path, char *const argv[], char *const envp[],
	 int flags)
{
	return do_exec("execveat", X_AT, dirfd, path, -1, argv, envp, flags);
}

/*
 * execl*: argv on the stack up to SHIM_EXECL_STACK entries, else mapped
 * (mmap is a plain system call, fine in a vfork child).
 */
static int
do_execl(const char *api, enum xkind kind, const char *path, const char *arg0,
	 va_list ap, int with_envp)
{
	char *stackv[SHIM_EXECL_STACK];
	char **argv = stackv;
	size_t n = 1, maplen = 0;
	va_list cp;

	va_copy(cp, ap);
	if (arg0 != NULL)
		while (va_arg(cp, char *) != NULL)
			n++;
	va_end(cp);
	if (arg0 == NULL)
		n = 0;
	if (n + 1 > SHIM_EXECL_STACK) {
		maplen = (n + 1) * sizeof(char *);
		void *m = mmap(NULL, maplen, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED) {
			errno = E2BIG;
			return -1;
		}
		argv = m;
	}
	if (n > 0) {
		argv[0] = (char *)arg0;
		for (size_t i = 1; i < n; i++)
			argv[i] = va_arg(ap, char *);
		(void)va_arg(ap, char *);	/* the terminating NULL */
	}
	argv[n] = NULL;
	char *const *envp = with_envp ? va_arg(ap, char *const *) : environ;

	int r = do_exec(api, kind, AT_FDCWD, path, -1, argv, envp, 0);
	if (maplen) {
		int e = errno;
		munmap(argv, maplen);
		errno = e;
	}
	return r;
}

SHIM_EXPORT int
execl(const char *path, const char *arg, ...)
{
	va_list ap;
	va_start(ap, arg);
	int r = do_execl("execl", X_PATH, path, arg, ap, 0);
	va_end(ap);
	return r;
}

SHIM_EXPORT int
execlp(const char *file, const char *arg, ...)
{
	va_list ap;
	va_start(ap, arg);
	int r = do_execl("execlp", X_SEARCH, file, arg, ap, 0);
	va_end(ap);
	return r;
}

SHIM_EXPORT int
execle(const char *path, const char *arg, ...)
{
	va_list ap;
	va_start(ap, arg);
	int r = do_execl("execle", X_PATH, path, arg, ap, 1);
	va_end(ap);
	return r;
}

/*
 * posix_spawn/posix_spawnp: recorded after the call, with the child pid.
 * FN is the real function of the same symbol version as the hook.
 */
static int
do_spawn(const char *api, int search, __typeof__(posix_spawn) *fn, pid_t *pid,
	 const char *path, const posix_spawn_file_actions_t *fa,
	 const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	int saved = errno;
	if (fn == NULL)
		return ENOSYS;

	struct shim_ctx c;
	int pre = shim_pre(&c);
	char *envout[SHIM_ENV_MAX];
	char val[SHIM_PRELOAD_MAX];
	int too_big;
	char *const *ep = shim_env_doctor(envp, envout, val, &too_big);
	if (pre == SHIM_PASS) {
		errno = saved;
		return fn(pid, path, fa, attr, argv, ep);
	}

	char cand[4096];
	struct xtarget t = { .dirfd = AT_FDCWD, .path = path, .fd = -1 };
	if (search) {
		t.path = shim_path_search(path, cand, sizeof cand);
		t.bare = t.path == path && path != NULL && strchr(path, '/') == NULL;
	}
	if (t.path == NULL)
		t.path = "";
	blind_checks(&c, api, &t, argv, too_big);
	if (pre == SHIM_REFUSE) {
		exec_record(&c, WE_SPAWN, api, WO_ERROR, EACCES, EACCES, &t, argv);
		errno = saved;
		return EACCES;
	}
	pid_t local = 0;
	pid_t *pp = pid != NULL ? pid : &local;
	errno = saved;
	int rc = fn(pp, path, fa, attr, argv, ep);
	int e = errno;
	exec_record(&c, WE_SPAWN, api, rc == 0 ? WO_OK : WO_ERROR,
		    rc == 0 ? *pp : rc, rc, &t, argv);
	errno = e;
	return rc;
}

/*
 * Two hooks per function, one per symbol version (see libauditshim.map):
 * an old binary bound to posix_spawn@GLIBC_2.2.5 keeps the compat
 * behaviour of running a script without "#!" through /bin/sh.
 */
#if defined(__x86_64__) && !defined(__ILP32__)
#define SPAWN_VERSIONED 1
#define SPAWN_NEW(f) shim_spawn_##f##_new
#define SPAWN_OLD(f) shim_spawn_##f##_old
#define SPAWN_PROTO(fn)                                                  \
	int fn(pid_t *, const char *, const posix_spawn_file_actions_t *, \
	       const posix_spawnattr_t *, char *const[], char *const[])
SPAWN_PROTO(shim_spawn_posix_spawn_new);
SPAWN_PROTO(shim_spawn_posix_spawnp_new);
SPAWN_PROTO(shim_spawn_posix_spawn_old);
SPAWN_PROTO(shim_spawn_posix_spawnp_old);
__asm__(".symver shim_spawn_posix_spawn_new,posix_spawn@@GLIBC_2.15");
__asm__(".symver shim_spawn_posix_spawnp_new,posix_spawnp@@GLIBC_2.15");
__asm__(".symver shim_spawn_posix_spawn_old,posix_spawn@GLIBC_2.2.5");
__asm__(".symver shim_spawn_posix_spawnp_old,posix_spawnp@GLIBC_2.2.5");
#else
#define SPAWN_VERSIONED 0
#define SPAWN_NEW(f) f
#endif

SHIM_EXPORT int
SPAWN_NEW(posix_spawn)(pid_t *pid, const char *path,
		       const posix_spawn_file_actions_t *fa,
		       const posix_spawnattr_t *attr, char *const argv[],
		       char *const envp[])
{
	shim_ensure_init();
	return do_spawn("posix_spawn", 0, shim_real.posix_spawn, pid, path, fa,
			attr, argv, envp);
}

SHIM_EXPORT int
SPAWN_NEW(posix_spawnp)(pid_t *pid, const char *file,
			const posix_spawn_file_actions_t *fa,
			const posix_spawnattr_t *attr, char *const argv[],
			char *const envp[])
{
	shim_ensure_init();
	return do_spawn("posix_spawnp", 1, shim_real.posix_spawnp, pid, file,
			fa, attr, argv, envp);
}

#if SPAWN_VERSIONED
SHIM_EXPORT int
SPAWN_OLD(posix_spawn)(pid_t *pid, const char *path,
		       const posix_spawn_file_actions_t *fa,
		       const posix_spawnattr_t *attr, char *const argv[],
		       char *const envp[])
{
	shim_ensure_init();
	return do_spawn("posix_spawn@GLIBC_2.2.5", 0,
			shim_real.posix_spawn_compat, pid, path, fa, attr,
			argv, envp);
}

SHIM_EXPORT int
SPAWN_OLD(posix_spawnp)(pid_t *pid, const char *file,
			const posix_spawn_file_actions_t *fa,
			const posix_spawnattr_t *attr, char *const argv[],
			char *const envp[])
{
	shim_ensure_init();
	return do_spawn("posix_spawnp@GLIBC_2.2.5", 1,
			shim_real.posix_spawnp_compat, pid, file, fa, attr,
			argv, envp);
}
#endif

/*
 * system() and popen() spawn /bin/sh through glibc internals with environ
 * as is.  When environ still preloads us (the usual case) the real
 * functions run untouched.  When it does not (unsetenv("LD_PRELOAD"),
 * a runtime that rebuilt environ), system() is carried out here, a
 * line-for-line copy of glibc 2.36's sysdeps/posix/system.c on top of
 * the real posix_spawn with a doctored environment: SIGINT and SIGQUIT
 * ignored while any system() runs (reference-counted), SIGCHLD blocked,
 * the child's mask and defaults reset, status 127 when the shell cannot
 * be spawned, errno the spawn error, and the child killed and reaped
 * when the calling thread is cancelled.  popen() is carried out by
 * shim_popen() (popen.c), a copy of glibc 2.36's libio/iopopen.c on the
 * same real posix_spawn, with pclose() and fclose() hooked to wait for
 * its child.  Changing environ for the duration instead would race with
 * other threads.  Only when the environment cannot be doctored (too
 * large, our own path unknown) does the shell run unobserved, after a
 * blind_spot record.
 */
static void
shell_pre(struct shim_ctx *c, const char *api, const struct xtarget *t,
	  char *const argv[], int reinject)
{
	if (!reinject && !shim_env_has_self(environ))
		blind_record(c, api, "environment lacks LD_PRELOAD", t, argv);
	blind_checks(c, api, t, argv, 0);
}

/* glibc's system() state: the dispositions saved by the first caller. */
static pthread_mutex_t sys_lock = PTHREAD_MUTEX_INITIALIZER;
static int sys_refs;
static struct sigaction sys_intr, sys_quit;

/* What the cancellation handler needs. */
struct sys_cancel {
	pid_t pid;	/* the shell */
};

static void
sys_cancel_handler(void *arg)
{
	const struct sys_cancel *a = arg;
	int state;
	int e = errno;
	kill(a->pid, SIGKILL);
	errno = e;
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &state);
	while (waitpid(a->pid, NULL, 0) < 0 && errno == EINTR)
		;
	pthread_setcancelstate(state, NULL);
	pthread_mutex_lock(&sys_lock);
	if (--sys_refs == 0) {
		sigaction(SIGINT, &sys_intr, NULL);
		sigaction(SIGQUIT, &sys_quit, NULL);
	}
	pthread_mutex_unlock(&sys_lock);
}

/* glibc's do_system(), spawning with ENVP.  Sets *PID to the child or 0. */
static int
sys_run(const char *line, char *const envp[], pid_t *child)
{
	int status = -1;
	int ret;
	pid_t pid = 0;
	struct sigaction sa;
	sigset_t omask, reset;

	sa.sa_handler = SIG_IGN;
	sa.sa_flags = 0;
	sigemptyset(&sa.sa_mask);

	pthread_mutex_lock(&sys_lock);
	if (sys_refs++ == 0) {
		sigaction(SIGINT, &sa, &sys_intr);
		sigaction(SIGQUIT, &sa, &sys_quit);
	}
	pthread_mutex_unlock(&sys_lock);

	sigaddset(&sa.sa_mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &sa.sa_mask, &omask);

	sigemptyset(&reset);
	if (sys_intr.sa_handler != SIG_IGN)
		sigaddset(&reset, SIGINT);
	if (sys_quit.sa_handler != SIG_IGN)
		sigaddset(&reset, SIGQUIT);

	posix_spawnattr_t attr;
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &omask);
	posix_spawnattr_setsigdefault(&attr, &reset);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF |
					POSIX_SPAWN_SETSIGMASK);
	char *const argv[] = { (char *)"sh", (char *)"-c", (char *)line, NULL };
	ret = shim_real.posix_spawn(&pid, "/bin/sh", NULL, &attr, argv, envp);
	posix_spawnattr_destroy(&attr);

	if (ret == 0) {
		struct sys_cancel ca = { .pid = pid };
		*child = pid;
		pthread_cleanup_push(sys_cancel_handler, &ca);
		pid_t w;
		do
			w = waitpid(pid, &status, 0);
		while (w < 0 && errno == EINTR);
		if (w != pid)
			status = -1;
		pthread_cleanup_pop(0);
	} else {
		/* POSIX: if the shell cannot run, the status is that of exit(127). */
		status = W_EXITCODE(127, 0);
	}

	pthread_mutex_lock(&sys_lock);
	if (--sys_refs == 0) {
		sigaction(SIGINT, &sys_intr, NULL);
		sigaction(SIGQUIT, &sys_quit, NULL);
		sigprocmask(SIG_SETMASK, &omask, NULL);
	}
	pthread_mutex_unlock(&sys_lock);

	if (ret != 0)
		errno = ret;
	return status;
}

SHIM_EXPORT int
system(const char *cmd)
{
	int saved = errno;
	shim_ensure_init();
	if (shim_real.system == NULL) {
		errno = ENOSYS;
		return -1;
	}
	struct shim_ctx c;
	int pre = shim_pre(&c);
	if (pre == SHIM_PASS) {
		errno = saved;
		return shim_real.system(cmd);
	}
	char *argv[] = { (char *)"/bin/sh", (char *)"-c",
			 (char *)(cmd != NULL ? cmd : "exit 0"), NULL };
	struct xtarget t = { .dirfd = AT_FDCWD, .path = "/bin/sh", .fd = -1 };
	char *envout[SHIM_ENV_MAX];
	char val[SHIM_PRELOAD_MAX];
	int too_big = 0;
	char *const *ep = environ;
	if (shim_real.posix_spawn != NULL && !shim_env_has_self(environ))
		ep = shim_env_doctor(environ, envout, val, &too_big);
	int reinject = ep != environ;
	shell_pre(&c, "system", &t, argv, reinject);
	if (pre == SHIM_REFUSE) {
		exec_record(&c, WE_SPAWN, "system", WO_ERROR, -1, EACCES, &t, argv);
		errno = EACCES;
		return -1;
	}
	errno = saved;
	int r;
	if (reinject) {
		pid_t child = 0;
		r = sys_run(cmd != NULL ? cmd : "exit 0", ep, &child);
		if (cmd == NULL)
			r = r == 0;
	} else {
		r = shim_real.system(cmd);
	}
	int e = errno;
	exec_record(&c, WE_SPAWN, "system", r == -1 ? WO_ERROR : WO_OK, r,
		    r == -1 ? e : 0, &t, argv);
	errno = e;
	return r;
}

SHIM_EXPORT FILE *
popen(const char *cmd, const char *type)
{
	int saved = errno;
	shim_ensure_init();
	if (shim_real.popen == NULL) {
		errno = ENOSYS;
		return NULL;
	}
	struct shim_ctx c;
	int pre = shim_pre(&c);
	char *envout[SHIM_ENV_MAX];
	char val[SHIM_PRELOAD_MAX];
	int too_big = 0, ours;
	char *const *ep = environ;
	if (shim_real.posix_spawn != NULL && !shim_env_has_self(environ))
		ep = shim_env_doctor(environ, envout, val, &too_big);
	int reinject = ep != environ;
	if (pre == SHIM_PASS) {
		/* Unrecorded, but never outside the stream table. */
		errno = saved;
		return shim_popen(cmd, type, ep, reinject, &ours);
	}
	char *argv[] = { (char *)"/bin/sh", (char *)"-c",
			 (char *)(cmd != NULL ? cmd : ""), NULL };
	struct xtarget t = { .dirfd = AT_FDCWD, .path = "/bin/sh", .fd = -1 };
	shell_pre(&c, "popen", &t, argv, reinject);
	if (pre == SHIM_REFUSE) {
		exec_record(&c, WE_SPAWN, "popen", WO_ERROR, -1, EACCES, &t, argv);
		errno = EACCES;
		return NULL;
	}
	errno = saved;
	FILE *fp = shim_popen(cmd, type, ep, reinject, &ours);
	int e = errno;
	if (reinject && !ours)	/* libc lacks what popen.c needs */
		blind_record(&c, "popen", "environment lacks LD_PRELOAD", &t,
			     argv);
	exec_record(&c, WE_SPAWN, "popen", fp == NULL ? WO_ERROR : WO_OK,
		    fp != NULL ? fileno(fp) : -1, fp == NULL ? e : 0, &t, argv);
	errno = e;
	return fp;
}

/*
 * posix_spawn file actions run in the child, inside glibc, where no hook
 * sees them.  Each is recorded when it is added to the list (a
 * spawn_action record): nothing is kept, so nothing is allocated or
 * looked up at spawn time.  A list that is never used still shows up.
 */
#define HOOK_FA(fn, name, call, ...)                                      \
	int saved_ = errno;                                              \
	shim_ensure_init();                                              \
	if (shim_real.fn == NULL)                                        \
		return ENOSYS;                                           \
	struct shim_ctx c_;                                              \
	int pre_ = shim_pre(&c_);                                        \
	errno = saved_;                                                  \
	int rc_ = shim_real.call;                                        \
	int e_ = errno;                                                  \
	if (pre_ != SHIM_PASS) {                                         \
		const struct shim_op op_ = { .event = WE_SPAWN_ACTION,   \
					     .api = name, __VA_ARGS__ }; \
		shim_record_op(&c_, &op_, rc_ == 0 ? res_ : rc_, rc_);   \
	}                                                                \
	errno = e_;                                                      \
	return rc_

SHIM_EXPORT int
posix_spawn_file_actions_addopen(posix_spawn_file_actions_t *fa, int fd,
				 const char *path, int oflag, mode_t mode)
{
	int64_t res_ = fd;
	int with_mode = (oflag & O_CREAT) || (oflag & O_TMPFILE) == O_TMPFILE;
	HOOK_FA(fa_addopen, "posix_spawn_file_actions_addopen",
		fa_addopen(fa, fd, path, oflag, mode),
		.path = path, .have = OP_FLAGS | (with_mode ? OP_MODE : 0),
		.flags = (uint64_t)(unsigned)oflag, .mode = mode);
}

SHIM_EXPORT int
posix_spawn_file_actions_addchdir_np(posix_spawn_file_actions_t *fa,
				     const char *path)
{
	int64_t res_ = 0;
	HOOK_FA(fa_addchdir, "posix_spawn_file_actions_addchdir_np",
		fa_addchdir(fa, path), .path = path);
}

SHIM_EXPORT int
posix_spawn_file_actions_addfchdir_np(posix_spawn_file_actions_t *fa, int fd)
{
	int64_t res_ = 0;
	HOOK_FA(fa_addfchdir, "posix_spawn_file_actions_addfchdir_np",
		fa_addfchdir(fa, fd), .fd = fd, .have = OP_FD);
}

void
shim_exec_note(struct shim_ctx *c, const char *api, enum wire_outcome out,
	       int64_t result, int err, int dirfd, const char *path, int fd,
	       char *const argv[])
{
	struct xtarget t = { .dirfd = dirfd, .path = path, .fd = fd };
	if (t.path == NULL && t.fd < 0)
		t.path = "";
	exec_record(c, WE_EXEC, api, out, result, err, &t, argv);
}
