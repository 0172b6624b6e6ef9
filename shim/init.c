/* SPDX-License-Identifier: MIT */
/*
 * init.c - start-up of libauditshim.so: resolves the real functions once
 * into a table, reads the environment knobs (the only place getenv runs),
 * and registers the fork handler.  Opens no descriptor: the connection to
 * the writer is made lazily by the first record.
 */
#include "shim.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "auditshim_config.h"
#include "lookup.h"

SHIM_HOT struct shim_real shim_real;
struct shim_conf shim_conf;
SHIM_HOT _Atomic int shim_init_state;
__thread int shim_guard __attribute__((tls_model("initial-exec")));

/* The thread running shim_init_slow(), so a nested hook does not wait. */
static __thread int init_running __attribute__((tls_model("initial-exec")));

/*
 * Set while our constructor initialises the library.  Only then are the
 * hash tables read (lookup.c): dl_iterate_phdr takes a lock that is not
 * recursive, and a hook that initialises the library before our
 * constructor ran -- from an earlier library's constructor, perhaps from a
 * signal handler -- could interrupt a holder of it.  That rare case uses
 * dlsym alone, as before.
 */
SHIM_HOT static int init_from_ctor;

/* The next NAME: from the hash tables (lookup.c), else from dlsym. */
static void *
next_sym(const struct shim_next *nx, const char *name)
{
	void *p = shim_next_sym(nx, name);
	return p != NULL ? p : dlsym(RTLD_NEXT, name);
}

/* NAME at VERSION, else the default version (other ABIs, other libcs). */
static void *
next_vsym(const char *name, const char *version)
{
	void *p = dlvsym(RTLD_NEXT, name, version);
	return p != NULL ? p : dlsym(RTLD_NEXT, name);
}

static void
resolve_all(const struct shim_next *nx)
{
	struct shim_real *r = &shim_real;
#define R(field, name) r->field = (__typeof__(r->field))next_sym(nx, name)
	/* First: the descriptor hooks fall back on it while the rest resolves. */
	R(syscall, "syscall");
	R(execve, "execve");
	R(execvpe, "execvpe");
	R(fexecve, "fexecve");
	R(execveat, "execveat");
#if defined(__x86_64__) && !defined(__ILP32__)
	/*
	 * Both versions, each forwarded to its own kind: the GLIBC_2.2.5
	 * compat version runs shebang-less scripts through /bin/sh on
	 * ENOEXEC, the GLIBC_2.15 default does not.
	 */
	r->posix_spawn = next_vsym("posix_spawn", "GLIBC_2.15");
	r->posix_spawnp = next_vsym("posix_spawnp", "GLIBC_2.15");
	r->posix_spawn_compat = next_vsym("posix_spawn", "GLIBC_2.2.5");
	r->posix_spawnp_compat = next_vsym("posix_spawnp", "GLIBC_2.2.5");
#else
	R(posix_spawn, "posix_spawn");
	R(posix_spawnp, "posix_spawnp");
	r->posix_spawn_compat = r->posix_spawn;
	r->posix_spawnp_compat = r->posix_spawnp;
#endif
	R(fa_addopen, "posix_spawn_file_actions_addopen");
	R(fa_addchdir, "posix_spawn_file_actions_addchdir_np");
	R(fa_addfchdir, "posix_spawn_file_actions_addfchdir_np");
	R(system, "system");
	R(popen, "popen");
	R(pclose, "pclose");
	R(fclose, "fclose");
	R(fcntl, "fcntl");
	R(fcntl64, "fcntl64");
	if (r->fcntl64 == NULL)
		r->fcntl64 = r->fcntl;	/* before glibc 2.28: one fcntl */
	R(dup, "dup");
	R(dup2, "dup2");
	R(dup3, "dup3");
	R(pipe, "pipe");
	R(pipe2, "pipe2");
	R(socket, "socket");
	R(socketpair, "socketpair");
	R(accept, "accept");
	R(accept4, "accept4");
	R(epoll_create, "epoll_create");
	R(epoll_create1, "epoll_create1");
	R(eventfd, "eventfd");
	R(inotify_init, "inotify_init");
	R(inotify_init1, "inotify_init1");
	R(memfd_create, "memfd_create");
	R(signalfd, "signalfd");
	R(timerfd_create, "timerfd_create");
	R(exit_, "_exit");
	R(Exit_, "_Exit");
	R(open, "open");
	R(open64, "open64");
	R(openat, "openat");
	R(openat64, "openat64");
	R(creat, "creat");
	R(creat64, "creat64");
	R(open_2, "__open_2");
	R(open64_2, "__open64_2");
	R(openat_2, "__openat_2");
	R(openat64_2, "__openat64_2");
	R(fopen, "fopen");
	R(fopen64, "fopen64");
	R(freopen, "freopen");
	R(freopen64, "freopen64");
	R(tmpfile, "tmpfile");
	R(tmpfile64, "tmpfile64");
	R(mkstemp, "mkstemp");
	R(mkstemp64, "mkstemp64");
	R(mkostemp, "mkostemp");
	R(mkostemp64, "mkostemp64");
	R(mkstemps, "mkstemps");
	R(mkstemps64, "mkstemps64");
	R(mkostemps, "mkostemps");
	R(mkostemps64, "mkostemps64");
	R(mkdtemp, "mkdtemp");
	R(remove, "remove");
	R(rename, "rename");
	R(renameat, "renameat");
	R(renameat2, "renameat2");
	R(unlink, "unlink");
	R(unlinkat, "unlinkat");
	R(rmdir, "rmdir");
	R(mkdir, "mkdir");
	R(mkdirat, "mkdirat");
	R(mknod, "mknod");
	R(mknodat, "mknodat");
	R(xmknod, "__xmknod");
	R(xmknodat, "__xmknodat");
	R(link, "link");
	R(linkat, "linkat");
	R(symlink, "symlink");
	R(symlinkat, "symlinkat");
	R(truncate, "truncate");
	R(truncate64, "truncate64");
	R(ftruncate, "ftruncate");
	R(ftruncate64, "ftruncate64");
	R(chmod, "chmod");
	R(fchmod, "fchmod");
	R(fchmodat, "fchmodat");
	R(chown, "chown");
	R(fchown, "fchown");
	R(lchown, "lchown");
	R(fchownat, "fchownat");
	R(connect, "connect");
	R(bind, "bind");
	R(listen, "listen");
	R(sendto, "sendto");
	R(sendmsg, "sendmsg");
	R(getaddrinfo, "getaddrinfo");
	R(gethostbyname, "gethostbyname");
	R(gethostbyname2, "gethostbyname2");
	R(gethostbyname_r, "gethostbyname_r");
	R(gethostbyname2_r, "gethostbyname2_r");
	R(getnameinfo, "getnameinfo");
#undef R
}

/* Copies S into DST (CAP bytes), joined to DIR when S is relative. */
static size_t
absolute(char *dst, size_t cap, const char *dir, const char *s)
{
	size_t n = 0, sl = strlen(s);
	if (s[0] != '/' && dir[0] != '\0') {
		size_t dl = strlen(dir);
		if (dl + 1 + sl + 1 > cap)
			return 0;
		memcpy(dst, dir, dl);
		n = dl;
		if (n == 0 || dst[n - 1] != '/')
			dst[n++] = '/';
	} else if (sl + 1 > cap) {
		return 0;
	}
	memcpy(dst + n, s, sl + 1);
	return n + sl;
}

/* The unused end of shim_conf.strs, filled front to back during start-up. */
struct strs {
	char *p;
	size_t left;
};

/* Takes the N + 1 bytes just written at S->p (a string of length N). */
static char *
strs_take(struct strs *s, size_t n)
{
	char *p = s->p;
	s->p += n + 1;
	s->left -= n + 1;
	return p;
}

/*
 * The working directory at load, asked for only when a name is relative:
 * most start-ups never need it and so never pay for the call or the page.
 */
static const char *
load_cwd(struct strs *s)
{
	struct shim_conf *c = &shim_conf;
	if (c->load_cwd == NULL) {
		c->load_cwd = "";
		if (s->left >= 4096 && getcwd(s->p, 4096) != NULL)
			c->load_cwd = strs_take(s, strlen(s->p));
	}
	return c->load_cwd;
}

/* SELF_NAME: the loader's name for this library (NULL: ask dladdr). */
static void
configure(const char *self_name)
{
	struct shim_conf *c = &shim_conf;
	struct strs st = { c->strs, sizeof c->strs };
	const char *sock = AUDITSHIM_DEFAULT_SOCKET;
	const char *v;
	char sockbuf[sizeof c->sun.sun_path];

	c->self = c->self_loaded = "";
	c->secure = getauxval(AT_SECURE) != 0;
	if (!c->secure) {
		v = getenv("AUDITSHIM_SOCKET");
		if (v != NULL && v[0] != '\0') {
			/* A relative path would break after chdir: pin it. */
			const char *dir = v[0] == '/' ? "" : load_cwd(&st);
			if (absolute(sockbuf, sizeof sockbuf, dir, v))
				sock = sockbuf;
			else
				sock = NULL;	/* too long for sun_path */
		}
		v = getenv("AUDITSHIM_AGENT");
		if (v != NULL) {
			size_t n = strnlen(v, sizeof c->agent - 1);
			memcpy(c->agent, v, n);
			c->agent[n] = '\0';
			c->agent_len = n;
		}
		v = getenv("AUDITSHIM_FAIL");
		c->fail_closed = v != NULL && strcmp(v, "closed") == 0;
		v = getenv("AUDITSHIM_IO_URING");
		c->io_uring_allow = v != NULL && strcmp(v, "allow") == 0;
	}
	c->sun.sun_family = AF_UNIX;
	if (sock != NULL && strlen(sock) < sizeof c->sun.sun_path) {
		size_t n = strlen(sock);
		memcpy(c->sun.sun_path, sock, n + 1);
		c->sunlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
		c->sock_ok = 1;
		c->sock_default = strcmp(sock, AUDITSHIM_DEFAULT_SOCKET) == 0;
		memcpy(c->sock_env, "AUDITSHIM_SOCKET=", 17);
		memcpy(c->sock_env + 17, sock, n + 1);
	} else {
		/* Unusable socket path: records are counted lost. */
		c->sock_ok = 0;
		c->sock_default = 1;
	}

	Dl_info info;
	if (self_name == NULL && dladdr((void *)&configure, &info) != 0)
		self_name = info.dli_fname;
	if (self_name != NULL) {
		const char *f = self_name;
		size_t n = strnlen(f, 4095);
		memcpy(st.p, f, n);
		st.p[n] = '\0';
		c->self_loaded = strs_take(&st, n);
		if (f[0] == '/') {
			c->self = c->self_loaded;
			c->self_len = n;
		} else {
			const char *dir = load_cwd(&st);
			c->self_len = absolute(st.p, 4096, dir, c->self_loaded);
			if (c->self_len > 0)
				c->self = strs_take(&st, c->self_len);
		}
	}
	if (c->load_cwd == NULL)
		c->load_cwd = "";
	/* In secure-execution mode nothing from the environment is kept. */
	c->preload = st.p;
	c->preload[0] = '\0';
	if (!c->secure)
		shim_env_capture(getenv("LD_PRELOAD"),
				 st.left < SHIM_PRELOAD_MAX ? st.left : SHIM_PRELOAD_MAX);
}

#ifdef __GLIBC__
/* What pthread_atfork in libc_nonshared.a calls. */
extern int __register_atfork(void (*prepare)(void), void (*parent)(void),
			     void (*child)(void), void *dso);
extern void *__dso_handle __attribute__((visibility("hidden")));

int
shim_atfork(void (*child)(void))
{
	return __register_atfork(NULL, NULL, child, __dso_handle);
}
#else
int
shim_atfork(void (*child)(void))
{
	return pthread_atfork(NULL, NULL, child);
}
#endif

static void
atfork_child(void)
{
	shim_emit_atfork_child();
}

void
shim_init_slow(void)
{
	int expect = 0;

	if (atomic_compare_exchange_strong(&shim_init_state, &expect, 1)) {
		int saved = errno;
		init_running = 1;
		struct shim_next nx = { .usable = 0 };
		if (init_from_ctor)
			shim_next_init(&nx, (const void *)&shim_init_slow);
		resolve_all(&nx);
		configure(nx.self_name);
		shim_emit_start();		/* pid, image nonce */
		shim_atfork(atfork_child);
		init_running = 0;
		atomic_store_explicit(&shim_init_state, 2, memory_order_release);
		errno = saved;
		return;
	}
	if (init_running)
		return;		/* a nested call during our own init */
	/* Another thread is initialising: symbol lookups and getenv, brief. */
	while (atomic_load_explicit(&shim_init_state, memory_order_acquire) != 2)
		sched_yield();
}

/*
 * The image_start record: this image's own view of itself, from before
 * main.  The writer pairs it with the parent's exec record (an exec with
 * no image_start is a coverage gap) and it holds the argv the kernel
 * delivered, whatever another thread of the parent did to it later.
 * Sent on a transient socket: no descriptor stays open at load.
 */
static __attribute__((noinline)) void
image_start(int argc, char **argv)
{
	unsigned char buf[SHIM_MSG_MAX];
	struct shim_rec r;
	struct shim_ctx c;
	size_t n;

	if (shim_pre(&c) != SHIM_GO)
		return;		/* fail-closed refusals do not apply here */
	rec_begin(&r, buf, sizeof buf, &c, WE_IMAGE_START, NULL);
	rec_result(&r, WO_OK, 0, 0);
	/* Read into the record in place: no second 4 KiB of stack to fault in. */
	const char *exe = rec_link(&r, WT_TARGET, "/proc/self/exe", 4096,
				   WIRE_TRUNC_TARGET, &n);
	if (exe != NULL)
		rec_strn(&r, WT_EXE, exe, n, 4096, WIRE_TRUNC_EXE);
	rec_u64(&r, WT_FLAGS, shim_conf.secure ? 1 : 0);
	rec_cwd(&r, WT_CWD, 2048, WIRE_TRUNC_CWD);
	/* glibc passes (argc, argv, envp) to constructors. */
	if (argv != NULL && argc >= 0 && argv[argc] == NULL)
		rec_argv(&r, argv);
	if (r.trunc)
		wire_put_u64(&r.e, WT_TRUNC, r.trunc);
	size_t len = wire_enc_finish(&r.e);
	shim_emit_transient(&c, buf, len, r.pseq);
	shim_guard = 0;
}

__attribute__((constructor(101))) static void
shim_ctor(int argc, char **argv, char **envp)
{
	(void)envp;
	init_from_ctor = 1;
	shim_ensure_init();
	init_from_ctor = 0;
	int saved = errno;
	image_start(argc, argv);
	errno = saved;
}

__attribute__((destructor(101))) static void
shim_dtor(void)
{
	int saved = errno;
	if (atomic_load(&shim_init_state) == 2 && !shim_guard)
		shim_emit_exit();
	errno = saved;
}
