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

struct shim_real shim_real;
struct shim_conf shim_conf;
_Atomic int shim_init_state;
__thread int shim_guard __attribute__((tls_model("initial-exec")));

/* The thread running shim_init_slow(), so a nested hook does not wait. */
static __thread int init_running __attribute__((tls_model("initial-exec")));

static void *
next_sym(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}

static void
resolve_all(void)
{
	struct shim_real *r = &shim_real;
#define R(field, name) r->field = (__typeof__(r->field))next_sym(name)
	R(execve, "execve");
	R(execvpe, "execvpe");
	R(fexecve, "fexecve");
	R(execveat, "execveat");
	R(posix_spawn, "posix_spawn");
	R(posix_spawnp, "posix_spawnp");
	R(system, "system");
	R(popen, "popen");
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

static void
configure(void)
{
	struct shim_conf *c = &shim_conf;
	const char *sock = AUDITSHIM_DEFAULT_SOCKET;
	const char *v;
	char sockbuf[sizeof c->sun.sun_path];

	if (getcwd(c->load_cwd, sizeof c->load_cwd) == NULL)
		c->load_cwd[0] = '\0';
	c->secure = getauxval(AT_SECURE) != 0;
	if (!c->secure) {
		v = getenv("AUDITSHIM_SOCKET");
		if (v != NULL && v[0] != '\0') {
			/* A relative path would break after chdir: pin it. */
			if (absolute(sockbuf, sizeof sockbuf, c->load_cwd, v))
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
	if (dladdr((void *)&configure, &info) != 0 && info.dli_fname != NULL) {
		size_t n = strnlen(info.dli_fname, sizeof c->self_loaded - 1);
		memcpy(c->self_loaded, info.dli_fname, n);
		c->self_loaded[n] = '\0';
		c->self_len = absolute(c->self, sizeof c->self, c->load_cwd,
				       c->self_loaded);
	}
}

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
		resolve_all();
		configure();
		shim_emit_atfork_child();	/* pid, image nonce, pseq */
		pthread_atfork(NULL, NULL, atfork_child);
		init_running = 0;
		atomic_store_explicit(&shim_init_state, 2, memory_order_release);
		errno = saved;
		return;
	}
	if (init_running)
		return;		/* a nested call during our own init */
	/* Another thread is initialising; it only runs dlsym and getenv. */
	while (atomic_load_explicit(&shim_init_state, memory_order_acquire) != 2)
		sched_yield();
}

__attribute__((constructor(101))) static void
shim_ctor(void)
{
	shim_ensure_init();
}

__attribute__((destructor(101))) static void
shim_dtor(void)
{
	int saved = errno;
	if (atomic_load(&shim_init_state) == 2 && !shim_guard)
		shim_emit_exit();
	errno = saved;
}
