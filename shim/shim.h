/* SPDX-License-Identifier: MIT */
/*
 * shim.h - internals of libauditshim.so shared by its source files: the
 * real-symbol table and configuration (init.c), the emitter with its
 * transport and backlog (emit.c), the record builder (record.c) and the
 * environment/target helpers (env.c).  Nothing declared here is exported:
 * the library is built with -fvisibility=hidden and a version script.
 *
 * Include this header first: it must undo _FILE_OFFSET_BITS and
 * _FORTIFY_SOURCE before any system header, or the libc headers would
 * rename or wrap the very functions the hooks define.
 */
#ifndef AUDITSHIM_SHIM_H
#define AUDITSHIM_SHIM_H

#undef _FILE_OFFSET_BITS
#undef _FORTIFY_SOURCE
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <fcntl.h>
#include <netdb.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include "wire.h"

/* Marks a hook: the only symbols the library exports (see the .map). */
#define SHIM_EXPORT __attribute__((visibility("default")))

/*
 * Small state that every image writes at start-up, and a fork child
 * before it execs (the real-symbol table, the process identity, the
 * connection and backlog flags).  Kept together in .data: the loader
 * already writes the page where .data ends and .bss begins (it zeroes
 * the rest of it), so state there costs a new image no page fault, and
 * a fork child one (~3.5 us on a virtual machine) for all of it, where
 * scattered through .bss it cost two or three more.
 */
#define SHIM_HOT __attribute__((section(".data.shim_hot")))

/* Largest record a hook builds on its stack. */
#define SHIM_MSG_MAX 8192
/* Most environment entries a doctored envp may hold (stack array). */
#define SHIM_ENV_MAX 1024
/* Room for "LD_PRELOAD=<merged value>" built on the stack. */
#define SHIM_PRELOAD_MAX 4096
/* Most execl() arguments kept on the stack before falling back to mmap. */
#define SHIM_EXECL_STACK 1024

/* Fortified open variants have no prototype unless fortification is on. */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);
/* The pre-2.33 mknod entry points, still exported for old binaries. */
int __xmknod(int ver, const char *path, mode_t mode, dev_t *dev);
int __xmknodat(int ver, int dirfd, const char *path, mode_t mode, dev_t *dev);

/*
 * The next definition of every hooked function (dlsym(RTLD_NEXT)), filled
 * once by shim_init().  A NULL entry means libc lacks the symbol; the hook
 * then fails with ENOSYS.
 */
struct shim_real {
	__typeof__(execve) *execve;		/* exec family */
	__typeof__(execvpe) *execvpe;
	__typeof__(fexecve) *fexecve;
	__typeof__(execveat) *execveat;
	__typeof__(posix_spawn) *posix_spawn;	/* spawn family */
	__typeof__(posix_spawnp) *posix_spawnp;
	__typeof__(posix_spawn) *posix_spawn_compat;	/* @GLIBC_2.2.5 */
	__typeof__(posix_spawnp) *posix_spawnp_compat;
	__typeof__(posix_spawn_file_actions_addopen) *fa_addopen;
	__typeof__(posix_spawn_file_actions_addchdir_np) *fa_addchdir;
	__typeof__(posix_spawn_file_actions_addfchdir_np) *fa_addfchdir;
	__typeof__(system) *system;
	__typeof__(popen) *popen;
	__typeof__(pclose) *pclose;		/* popen streams (popen.c) */
	__typeof__(fclose) *fclose;
	__typeof__(open) *open;			/* opens */
	__typeof__(open64) *open64;
	__typeof__(openat) *openat;
	__typeof__(openat64) *openat64;
	__typeof__(creat) *creat;
	__typeof__(creat64) *creat64;
	__typeof__(__open_2) *open_2;
	__typeof__(__open64_2) *open64_2;
	__typeof__(__openat_2) *openat_2;
	__typeof__(__openat64_2) *openat64_2;
	__typeof__(fopen) *fopen;
	__typeof__(fopen64) *fopen64;
	__typeof__(freopen) *freopen;
	__typeof__(freopen64) *freopen64;
	__typeof__(tmpfile) *tmpfile;		/* temporary files */
	__typeof__(tmpfile64) *tmpfile64;
	__typeof__(mkstemp) *mkstemp;
	__typeof__(mkstemp64) *mkstemp64;
	__typeof__(mkostemp) *mkostemp;
	__typeof__(mkostemp64) *mkostemp64;
	__typeof__(mkstemps) *mkstemps;
	__typeof__(mkstemps64) *mkstemps64;
	__typeof__(mkostemps) *mkostemps;
	__typeof__(mkostemps64) *mkostemps64;
	__typeof__(mkdtemp) *mkdtemp;
	__typeof__(remove) *remove;
	__typeof__(rename) *rename;		/* namespace changes */
	__typeof__(renameat) *renameat;
	__typeof__(renameat2) *renameat2;
	__typeof__(unlink) *unlink;
	__typeof__(unlinkat) *unlinkat;
	__typeof__(rmdir) *rmdir;
	__typeof__(mkdir) *mkdir;
	__typeof__(mkdirat) *mkdirat;
	__typeof__(mknod) *mknod;
	__typeof__(mknodat) *mknodat;
	__typeof__(__xmknod) *xmknod;
	__typeof__(__xmknodat) *xmknodat;
	__typeof__(link) *link;
	__typeof__(linkat) *linkat;
	__typeof__(symlink) *symlink;
	__typeof__(symlinkat) *symlinkat;
	__typeof__(truncate) *truncate;		/* attribute changes */
	__typeof__(truncate64) *truncate64;
	__typeof__(ftruncate) *ftruncate;
	__typeof__(ftruncate64) *ftruncate64;
	__typeof__(chmod) *chmod;
	__typeof__(fchmod) *fchmod;
	__typeof__(fchmodat) *fchmodat;
	__typeof__(chown) *chown;
	__typeof__(fchown) *fchown;
	__typeof__(lchown) *lchown;
	__typeof__(fchownat) *fchownat;
	__typeof__(connect) *connect;		/* network */
	__typeof__(bind) *bind;
	__typeof__(listen) *listen;
	__typeof__(sendto) *sendto;
	__typeof__(sendmsg) *sendmsg;
	__typeof__(getaddrinfo) *getaddrinfo;
	__typeof__(gethostbyname) *gethostbyname;
	__typeof__(gethostbyname2) *gethostbyname2;
	__typeof__(gethostbyname_r) *gethostbyname_r;
	__typeof__(gethostbyname2_r) *gethostbyname2_r;
	__typeof__(getnameinfo) *getnameinfo;
	long (*syscall)(long, ...);		/* raw system calls */
	__typeof__(fcntl) *fcntl;		/* descriptors (hook_fd.c) */
	__typeof__(fcntl64) *fcntl64;
	__typeof__(dup) *dup;
	__typeof__(dup2) *dup2;
	__typeof__(dup3) *dup3;
	__typeof__(pipe) *pipe;
	__typeof__(pipe2) *pipe2;
	__typeof__(socket) *socket;
	__typeof__(socketpair) *socketpair;
	__typeof__(accept) *accept;
	__typeof__(accept4) *accept4;
	__typeof__(epoll_create) *epoll_create;
	__typeof__(epoll_create1) *epoll_create1;
	__typeof__(eventfd) *eventfd;
	__typeof__(inotify_init) *inotify_init;
	__typeof__(inotify_init1) *inotify_init1;
	__typeof__(memfd_create) *memfd_create;
	__typeof__(signalfd) *signalfd;
	__typeof__(timerfd_create) *timerfd_create;
	void (*exit_)(int);			/* _exit, _Exit (hook_sys.c) */
	void (*Exit_)(int);
};

/* Room for the paths in struct shim_conf: three PATH_MAX and LD_PRELOAD. */
#define SHIM_CONF_STRS (3 * 4096 + SHIM_PRELOAD_MAX)

/*
 * Process-wide configuration, fixed by shim_init(); read-only afterwards.
 * Every image pays for each page of it that start-up writes (a page fault
 * costs ~13 us on a virtual machine, more than a dozen system calls), so
 * the small fields come first and the paths share one packed store: a
 * typical start-up writes one or two pages of this, not five.
 */
struct shim_conf {
	int secure;			/* AT_SECURE: environment knobs ignored */
	int fail_closed;		/* AUDITSHIM_FAIL=closed */
	int sock_default;		/* socket is the compiled-in default */
	int sock_ok;			/* the socket path fits sun_path */
	int io_uring_allow;		/* AUDITSHIM_IO_URING=allow */
	socklen_t sunlen;		/* bytes of sun to pass to connect() */
	size_t agent_len;		/* strlen(agent) */
	size_t self_len;		/* strlen(self) */
	size_t preload_len;		/* strlen(preload) */
	const char *self;		/* absolute path of this library; "" if unknown */
	const char *self_loaded;	/* the name the loader used (may be relative) */
	const char *load_cwd;		/* cwd at load, only if a name was relative */
	char *preload;			/* LD_PRELOAD we were loaded with, ':'-joined, us absolute; "" if unknown */
	struct sockaddr_un sun;		/* connect() address of the writer */
	char sock_env[128];		/* "AUDITSHIM_SOCKET=<path>" for re-injection */
	char agent[256];		/* AUDITSHIM_AGENT, truncated; "" if unset */
	char strs[SHIM_CONF_STRS];	/* where the four pointers above point */
};

extern struct shim_real shim_real;
extern struct shim_conf shim_conf;
extern _Atomic int shim_init_state;	/* 0 none, 1 running, 2 done */

/*
 * Registers CHILD to run in the child of every fork: pthread_atfork(3),
 * without the stub libc_nonshared.a links in for it, which lies on a page
 * of its own that every image would fault in.
 */
int shim_atfork(void (*child)(void));

/* Fills the real table and configuration once; safe to call from any hook. */
void shim_init_slow(void);
static inline void shim_ensure_init(void)
{
	if (__builtin_expect(atomic_load_explicit(&shim_init_state,
			     memory_order_acquire) != 2, 0))
		shim_init_slow();
}

/* Set while this thread encodes or sends a record (never across a real call). */
extern __thread int shim_guard __attribute__((tls_model("initial-exec")));

/*
 * Who is recording: the process that owns the globals (side == NULL), or a
 * vfork/clone child sharing or copying them without atfork, which gets a
 * side slot of its own and never touches the owner's connection state.
 */
struct shim_side;
struct shim_ctx {
	struct shim_side *side;		/* NULL: the owning process */
	uint64_t image;			/* image nonce for WT_IMAGE */
};

/* Outcome of shim_pre(). */
enum { SHIM_GO = 0, SHIM_PASS = 1, SHIM_REFUSE = 2 };

/*
 * Called by a hook that is about to do something it records.  Fills C.
 * Returns SHIM_PASS when this thread is already inside the shim (one lost
 * record is counted; call the real function and do not record),
 * SHIM_REFUSE under AUDITSHIM_FAIL=closed when no record can be delivered
 * (fail the call with EACCES, and still record the refusal), else SHIM_GO.
 * Signal- and vfork-safe; changes errno.
 */
int shim_pre(struct shim_ctx *c);
/* Next per-process sequence number for C (1..). */
uint64_t shim_pseq_next(struct shim_ctx *c);
/* Counts PSEQ as lost for C's process (no-op for side slots). */
void shim_lost(struct shim_ctx *c, uint64_t pseq);
/*
 * Delivers LEN bytes of a finished record numbered PSEQ: sends it, or
 * queues it in the backlog, or counts it lost.  Returns 1 if it reached
 * the writer, 0 otherwise.  Call with shim_guard set.  Changes errno.
 */
int shim_emit(struct shim_ctx *c, const void *msg, size_t len, uint64_t pseq);
/*
 * Delivers a record on a socket of its own, closed before returning (the
 * constructor's image_start: no descriptor may stay open at load).  If
 * that fails the record goes to the backlog like any other.  Returns 1 if
 * it reached the writer.  Call with shim_guard set.  Changes errno.
 */
int shim_emit_transient(struct shim_ctx *c, const void *msg, size_t len,
			uint64_t pseq);
/* True if FD is the descriptor the emitter currently owns. */
int shim_is_own_fd(int fd);
/* Moves our socket off FD if it is there: the program wants that number. */
void shim_step_aside(int fd);
/* Releases our socket when the program hit EMFILE; 1 if one was released. */
int shim_yield_fd(void);
/*
 * EXPR, called again when it failed with EMFILE and we gave up our
 * socket (shim_yield_fd): the program gets the descriptor it would have
 * had without us.  BAD is EXPR's failure value, SAVED the caller's errno
 * at entry (restored before the retry).  Only for calls that fail with
 * EMFILE before doing anything, so a retry repeats nothing.
 */
#define SHIM_FD_RETRY(bad, saved, expr)                                  \
	({                                                               \
		__typeof__(expr) r__ = (expr);                           \
		if (r__ == (bad) && errno == EMFILE && shim_yield_fd()) { \
			errno = (saved);                                 \
			r__ = (expr);                                    \
		}                                                        \
		r__;                                                     \
	})
/* Sets the per-process identity in a new image (init). */
void shim_emit_start(void);
/* Resets per-process state in a fork child (pthread_atfork). */
void shim_emit_atfork_child(void);
/* Image end (destructor, exec): one bounded try to deliver the backlog and
 * report losses, over a fresh connection if the persistent one is full. */
void shim_emit_exit(void);
/* A fresh 64-bit image nonce. */
uint64_t shim_nonce(void);
/* CLOCK_REALTIME / CLOCK_MONOTONIC in ns. */
uint64_t shim_now_real(void);
uint64_t shim_now_mono(void);

/*
 * strlen(3) that looks at the first 256 bytes itself: a record's names
 * and arguments are nearly always shorter, and a fork child then need not
 * fault in libc's strlen page for them.  Longer strings go to libc.
 */
size_t shim_strlen(const char *s);

/* A record under construction, in a caller-owned SHIM_MSG_MAX buffer. */
struct shim_rec {
	struct wire_enc e;		/* encoder over buf */
	unsigned char *buf;		/* the message buffer */
	size_t cap;			/* its size */
	unsigned trunc;			/* WIRE_TRUNC_* bits collected */
	uint64_t pseq;			/* this record's sequence number */
	struct shim_ctx *ctx;		/* who records */
};

/* Starts a record with the fields every record carries; sets shim_guard. */
void rec_begin(struct shim_rec *r, void *buf, size_t cap, struct shim_ctx *c,
	       enum wire_event ev, const char *api);
/* Appends WT_OUTCOME, WT_RESULT and (when OUTCOME is WO_ERROR) WT_ERRNO. */
void rec_result(struct shim_rec *r, enum wire_outcome out, int64_t result,
		int err);
void rec_u64(struct shim_rec *r, enum wire_tag tag, uint64_t v);
/* Appends a string, cut to fit while keeping MINROOM; sets TBIT if cut. */
void rec_str(struct shim_rec *r, enum wire_tag tag, const char *s,
	     size_t minroom, unsigned tbit);
/* rec_str for LEN bytes of S (S may lie in the record itself, before). */
void rec_strn(struct shim_rec *r, enum wire_tag tag, const char *s, size_t len,
	      size_t minroom, unsigned tbit);
/*
 * Appends the target of the symbolic link LINK (readlink), read straight
 * into the record.  Returns the stored value and its length in *LEN, or
 * NULL (nothing appended) if LINK cannot be read.
 */
const char *rec_link(struct shim_rec *r, enum wire_tag tag, const char *link,
		     size_t minroom, unsigned tbit, size_t *len);
/* Appends PATH made absolute against DIRFD (AT_FDCWD: the cwd). */
void rec_path(struct shim_rec *r, enum wire_tag tag, int dirfd,
	      const char *path, size_t minroom, unsigned tbit);
/* Appends the path FD refers to (readlink of /proc/self/fd/FD). */
void rec_fdpath(struct shim_rec *r, enum wire_tag tag, int fd, size_t minroom,
		unsigned tbit);
/* Appends the working directory. */
void rec_cwd(struct shim_rec *r, enum wire_tag tag, size_t minroom,
	     unsigned tbit);
/* Appends a socket address as text ("1.2.3.4:80", "[::1]:443", path, "@abs"). */
void rec_addr(struct shim_rec *r, enum wire_tag tag, const struct sockaddr *sa,
	      socklen_t len);
/* Appends ARGC, ARGLEN and as many ARG fields as fit (sets WIRE_TRUNC_ARGV). */
void rec_argv(struct shim_rec *r, char *const argv[]);
/* Finishes, delivers and clears shim_guard.  Returns shim_emit()'s result. */
int rec_send(struct shim_rec *r);

/* Formats SA into OUT (CAP bytes).  Returns the length, 0 if unformattable. */
size_t shim_fmt_addr(char *out, size_t cap, const struct sockaddr *sa,
		     socklen_t len);

/*
 * Describes one non-exec operation for shim_record_op().  Zero means
 * "absent" for every member, so a designated initializer names only what
 * the operation has.  TARGET is, in order of preference: ADDR, PATH (made
 * absolute against DIRFD when OP_AT, else the cwd; an empty PATH with
 * OP_FD means FD itself), or FD (OP_FD).
 */
struct shim_op {
	enum wire_event event;		/* WE_* */
	const char *api;		/* hooked function name */
	const char *path;		/* TARGET path, or NULL */
	int dirfd;			/* base of PATH when OP_AT */
	int fd;				/* TARGET from /proc/self/fd when OP_FD */
	const char *path2;		/* TARGET2 path made absolute, or NULL */
	int dirfd2;			/* base of PATH2 when OP_AT2 */
	const char *text2;		/* TARGET2 verbatim (symlink text) */
	const struct sockaddr *addr;	/* TARGET as a socket address */
	socklen_t addrlen;		/* its length */
	unsigned have;			/* OP_* bits: which members are set */
	uint64_t flags;			/* WT_FLAGS when OP_FLAGS */
	uint64_t mode;			/* WT_MODE when OP_MODE */
	uint64_t length;		/* WT_LENGTH when OP_LENGTH */
	int64_t uid, gid;		/* WT_OWNER_UID/GID when OP_OWNER */
};
#define OP_FLAGS 0x01u
#define OP_MODE 0x02u
#define OP_LENGTH 0x04u
#define OP_OWNER 0x08u
#define OP_AT 0x10u
#define OP_AT2 0x20u
#define OP_FD 0x40u

/* Builds and delivers the record for OP with the call's RESULT and ERR. */
void shim_record_op(struct shim_ctx *c, const struct shim_op *op,
		    int64_t result, int err);

/*
 * Returns ENVP, or a doctored copy in OUT (SHIM_ENV_MAX entries) using
 * VALBUF (SHIM_PRELOAD_MAX bytes) when ENVP lacks this library in its
 * effective LD_PRELOAD (or lacks a non-default socket variable).  Sets
 * *TOO_BIG and returns ENVP when the copy would not fit.  NULL ENVP is
 * treated as empty.  No allocation; vfork-safe.
 */
char *const *shim_env_doctor(char *const *envp, char **out, char *valbuf,
			     int *too_big);
/*
 * Keeps V, the LD_PRELOAD this process was loaded with, as the list to put
 * back into a child whose environment has no LD_PRELOAD at all: its
 * other preloads (a sanitizer runtime that must come first) come back in
 * their order, in shim_conf.preload (CAP bytes).  Ignored unless V names
 * this library.  Init only.
 */
void shim_env_capture(const char *v, size_t cap);
/* True if ENVP's effective LD_PRELOAD names this library. */
int shim_env_has_self(char *const *envp);
/*
 * The program execvp(FILE) would run, searching the caller's PATH (from
 * environ, not getenv) like glibc: the first regular executable candidate,
 * written to OUT (CAP bytes), else FILE itself.
 */
const char *shim_path_search(const char *file, char *out, size_t cap);
/*
 * Inspects the program at DIRFD/PATH (or FD when PATH is NULL) for reasons
 * the child will run unobserved.  Returns a static reason or NULL; writes
 * the path the reason applies to (a script's interpreter) into WHO (CAP
 * bytes) when it is not PATH itself, else WHO[0] = 0.
 */
const char *shim_blind_reason(int dirfd, const char *path, int fd, char *who,
			      size_t cap);

/*
 * popen(CMD, MODE) with glibc 2.36's semantics, the stream entered in the
 * table pclose and fclose consult.  Carried out by the shim on the
 * real posix_spawn with ENVP when WANT is set or a stream it made is still
 * open (*OURS = 1), else by the real popen (*OURS = 0; its child gets
 * environ).  Returns the stream, or NULL with errno as glibc's.  Not
 * signal- or vfork-safe (neither is popen).
 */
FILE *shim_popen(const char *cmd, const char *mode, char *const envp[],
		 int want, int *ours);

/*
 * Sends an exec record for a raw system call (syscall()): the program at
 * DIRFD/PATH, or FD when PATH is NULL.  Signal- and vfork-safe.
 */
void shim_exec_note(struct shim_ctx *c, const char *api, enum wire_outcome out,
		    int64_t result, int err, int dirfd, const char *path,
		    int fd, char *const argv[]);

/* Set when this process cannot reach any writer by design (a seccomp
 * filter refuses socket(2)): every hook then calls straight through. */
extern _Atomic int shim_off;


#include "sys.h"

#endif
