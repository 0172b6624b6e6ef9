/* SPDX-License-Identifier: MIT */
/*
 * env.c - what the shim needs to know about a child before it starts:
 * whether its environment still preloads us (and a doctored copy when it
 * does not), which program a PATH search will run, and whether that
 * program will run unobserved (setuid, static, foreign ELF class).
 * Stack buffers only; vfork-safe.
 */
#include "shim.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

extern char **environ;

static const char preload_key[] = "LD_PRELOAD=";
#define PRELOAD_KEYLEN (sizeof preload_key - 1)
static const char sock_key[] = "AUDITSHIM_SOCKET=";
#define SOCK_KEYLEN (sizeof sock_key - 1)

/*
 * Byte loops, not libc's string functions, for what runs in every fork
 * child before exec: each libc function lies on its own text page, and a
 * fork child faults in every one it touches (see sys.h).
 */
static int
has_prefix(const char *s, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != p[i])
			return 0;
	return 1;
}

/* strcspn(S, ": "): the loader splits LD_PRELOAD on both. */
static size_t
preload_item(const char *s)
{
	size_t n = 0;
	while (s[n] != '\0' && s[n] != ':' && s[n] != ' ')
		n++;
	return n;
}

/* The loader's effective entry: the last LD_PRELOAD= in ENVP, or -1. */
static long
last_preload(char *const *envp, size_t *count)
{
	long last = -1;
	size_t i = 0;
	for (; envp[i] != NULL; i++)
		if (envp[i][0] == 'L' && has_prefix(envp[i], preload_key,
						     PRELOAD_KEYLEN))
			last = (long)i;
	*count = i;
	return last;
}

static const char *
self_base(void)
{
	const char *b = strrchr(shim_conf.self, '/');
	return b != NULL ? b + 1 : shim_conf.self;
}

/* Does the relative name the loader used still resolve to us (same cwd)? */
static __attribute__((noinline)) int
same_cwd_as_load(void)
{
	char cwd[4096];
	return getcwd(cwd, sizeof cwd) != NULL &&
	       strcmp(cwd, shim_conf.load_cwd) == 0;
}

/* Is the LD_PRELOAD element T (N bytes) this library? */
static int
names_self(const char *t, size_t n)
{
	if (n == shim_conf.self_len && has_prefix(t, shim_conf.self, n))
		return 1;
	if (memchr(t, '/', n) == NULL) {
		/* Found through the library search path, as we were. */
		const char *b = self_base();
		return strlen(b) == n && memcmp(t, b, n) == 0;
	}
	if (t[0] != '/' && strlen(shim_conf.self_loaded) == n &&
	    memcmp(t, shim_conf.self_loaded, n) == 0)
		return same_cwd_as_load();
	return 0;
}

int
shim_env_has_self(char *const *envp)
{
	size_t count;
	if (envp == NULL)
		return 0;
	long i = last_preload(envp, &count);
	if (i < 0)
		return 0;
	/* The loader splits on both ':' and ' '. */
	const char *p = envp[i] + PRELOAD_KEYLEN;
	while (*p) {
		size_t n = preload_item(p);
		if (n > 0 && names_self(p, n))
			return 1;
		p += n;
		if (*p)
			p++;
	}
	return 0;
}

void
shim_env_capture(const char *v, size_t cap)
{
	char *out = shim_conf.preload;
	size_t n = 0;
	int found = 0;

	shim_conf.preload_len = 0;
	out[0] = '\0';
	if (v == NULL || shim_conf.self_len == 0)
		return;
	while (*v) {
		size_t k = preload_item(v);
		const char *item = v;
		size_t il = k;
		if (k > 0 && !found && names_self(v, k)) {
			/* Our own entry, made absolute for any cwd. */
			item = shim_conf.self;
			il = shim_conf.self_len;
			found = 1;
		} else if (k > 0 && names_self(v, k)) {
			il = 0;		/* a duplicate of us: once is enough */
		}
		if (il > 0) {
			if (n + (n > 0) + il + 1 > cap)
				return;		/* too long: do without */
			if (n > 0)
				out[n++] = ':';
			memcpy(out + n, item, il);
			n += il;
			out[n] = '\0';
		}
		v += k;
		if (*v)
			v++;
	}
	if (found)
		shim_conf.preload_len = n;
	else
		out[0] = '\0';
}

static int
has_key(char *const *envp, const char *key, size_t n)
{
	for (size_t i = 0; envp[i] != NULL; i++)
		if (has_prefix(envp[i], key, n))
			return 1;
	return 0;
}

char *const *
shim_env_doctor(char *const *envp, char **out, char *valbuf, int *too_big)
{
	static char *const empty[] = { NULL };
	char *const *src = envp != NULL ? envp : empty;

	*too_big = 0;
	if (shim_conf.self_len == 0)
		return envp;	/* we do not know our own path */
	int need_self = !shim_env_has_self(src);
	int need_sock = !shim_conf.sock_default && shim_conf.sock_ok &&
			!has_key(src, sock_key, SOCK_KEYLEN);
	if (!need_self && !need_sock)
		return envp;

	size_t count;
	long last = last_preload(src, &count);
	if (count + 3 > SHIM_ENV_MAX) {
		*too_big = 1;
		return envp;
	}
	if (need_self && last < 0 && shim_conf.preload_len > 0) {
		/* No LD_PRELOAD at all: our own list, sanitizer runtime first. */
		memcpy(valbuf, preload_key, PRELOAD_KEYLEN);
		memcpy(valbuf + PRELOAD_KEYLEN, shim_conf.preload,
		       shim_conf.preload_len + 1);
	} else if (need_self) {
		/* LD_PRELOAD=<effective old value>:<us> */
		const char *old = last >= 0 ? src[last] + PRELOAD_KEYLEN : "";
		size_t ol = strlen(old);
		if (PRELOAD_KEYLEN + ol + 1 + shim_conf.self_len + 1 >
		    SHIM_PRELOAD_MAX) {
			*too_big = 1;
			return envp;
		}
		size_t n = 0;
		memcpy(valbuf, preload_key, PRELOAD_KEYLEN);
		n += PRELOAD_KEYLEN;
		memcpy(valbuf + n, old, ol);
		n += ol;
		if (ol > 0)
			valbuf[n++] = ':';
		memcpy(valbuf + n, shim_conf.self, shim_conf.self_len + 1);
	}
	size_t k = 0;
	for (size_t i = 0; i < count; i++) {
		if (need_self && src[i][0] == 'L' &&
		    has_prefix(src[i], preload_key, PRELOAD_KEYLEN)) {
			/* One merged entry where the effective one was. */
			if ((long)i == last)
				out[k++] = valbuf;
			continue;
		}
		out[k++] = src[i];
	}
	if (need_self && last < 0)
		out[k++] = valbuf;
	if (need_sock)
		out[k++] = shim_conf.sock_env;
	out[k] = NULL;
	return out;
}

static int
is_exec_file(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode) &&
	       faccessat(AT_FDCWD, p, X_OK, AT_EACCESS) == 0;
}

const char *
shim_path_search(const char *file, char *out, size_t cap)
{
	if (file == NULL || file[0] == '\0' || strchr(file, '/') != NULL)
		return file;
	/* glibc searches the caller's PATH (environ), not the child's envp. */
	const char *path = "/bin:/usr/bin";
	if (environ != NULL)
		for (size_t i = 0; environ[i] != NULL; i++)
			if (has_prefix(environ[i], "PATH=", 5)) {
				path = environ[i] + 5;
				break;
			}
	size_t fl = strlen(file);
	const char *p = path;
	for (;;) {
		size_t dl = strcspn(p, ":");
		/* An empty element means the current directory. */
		const char *d = dl ? p : ".";
		size_t dn = dl ? dl : 1;
		if (dn + 1 + fl + 1 <= cap) {
			memcpy(out, d, dn);
			out[dn] = '/';
			memcpy(out + dn + 1, file, fl + 1);
			if (is_exec_file(out))
				return out;
		}
		if (p[dl] == '\0')
			break;
		p += dl + 1;
	}
	return file;
}

/* Would exec'ing a file with ST gain privileges (so AT_SECURE)? */
static const char *
privilege_reason(const struct stat *st)
{
	if ((st->st_mode & S_ISUID) && st->st_uid != getuid())
		return "setuid";
	if ((st->st_mode & S_ISGID) && (st->st_mode & S_IXGRP) &&
	    st->st_gid != getgid())
		return "setgid";
	return NULL;
}

/* Checks an ELF image whose first N bytes are in H, read from FD. */
static const char *
elf_reason(int fd, const unsigned char *h, size_t n)
{
	unsigned char want = sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32;
	if (n < EI_NIDENT)
		return NULL;
	if (h[EI_CLASS] != want)
		return "foreign ELF class";
#if UINTPTR_MAX > 0xffffffffu
	typedef Elf64_Ehdr Ehdr;
	typedef Elf64_Phdr Phdr;
#else
	typedef Elf32_Ehdr Ehdr;
	typedef Elf32_Phdr Phdr;
#endif
	Ehdr eh;
	if (n < sizeof eh)
		return NULL;
	memcpy(&eh, h, sizeof eh);
	if (eh.e_phentsize != sizeof(Phdr) || eh.e_phnum == 0 ||
	    eh.e_phnum == PN_XNUM)
		return NULL;	/* unusual: let the kernel judge */
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Phdr ph;
		uint64_t off = (uint64_t)eh.e_phoff + (uint64_t)i * sizeof ph;
		if (off + sizeof ph <= n)
			memcpy(&ph, h + off, sizeof ph);
		else if (shim_sys_pread(fd, &ph, sizeof ph, (off_t)off) !=
			 (long)sizeof ph)
			return NULL;
		if (ph.p_type == PT_INTERP)
			return NULL;
	}
	return "static binary";
}

/*
 * One level of inspection.  DEPTH 0 may follow a "#!" line to its
 * interpreter (written to WHO); DEPTH 1 does not.
 */
static __attribute__((noinline)) const char *
inspect(int dirfd, const char *path, int fd, char *who, size_t cap, int depth)
{
	/*
	 * Enough for a "#!" line (the kernel reads 256 bytes) and the program
	 * headers of a usual ELF file; elf_reason reads any further ones.
	 */
	unsigned char h[1024];
	struct stat st;
	int own = 0;
	const char *reason = NULL;

	if (path != NULL) {
		if (shim_sys_fstatat(dirfd, path, &st, 0) != 0 ||
		    !S_ISREG(st.st_mode))
			return NULL;
		fd = shim_sys_openat(dirfd, path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)	/* execute-only: the mode bits still tell */
			return privilege_reason(&st);
		own = 1;
	} else if (fd < 0 || shim_sys_fstat(fd, &st) != 0 ||
		   !S_ISREG(st.st_mode)) {
		return NULL;
	}
	long n = shim_sys_pread(fd, h, sizeof h, 0);
	if (n >= 2 && h[0] == '#' && h[1] == '!') {
		/* The kernel ignores set-id bits on scripts; see the interpreter. */
		if (depth == 0) {
			size_t i = 2, j = 0;
			while (i < (size_t)n && (h[i] == ' ' || h[i] == '\t'))
				i++;
			while (i < (size_t)n && h[i] != ' ' && h[i] != '\t' &&
			       h[i] != '\n' && h[i] != '\0' && j + 1 < cap)
				who[j++] = (char)h[i++];
			who[j] = '\0';
			if (j > 0) {
				char dummy[1];
				reason = inspect(AT_FDCWD, who, -1, dummy,
						 sizeof dummy, 1);
			}
			if (reason == NULL)
				who[0] = '\0';
		}
	} else {
		reason = privilege_reason(&st);
		/*
		 * File capabilities raise privilege (AT_SECURE, preload
		 * dropped) unless the caller holds them all already: root.
		 */
		if (reason == NULL && shim_sys_geteuid() != 0 &&
		    shim_sys_fgetxattr(fd, "security.capability", NULL, 0) > 0)
			reason = "file capabilities";
		if (reason == NULL && n >= SELFMAG &&
		    has_prefix((const char *)h, ELFMAG, SELFMAG))
			reason = elf_reason(fd, h, (size_t)n);
	}
	if (own)
		shim_sys_close(fd);
	return reason;
}

/* Keeps errno: inspect() makes its system calls through sys.h. */
const char *
shim_blind_reason(int dirfd, const char *path, int fd, char *who, size_t cap)
{
	who[0] = '\0';
	return inspect(dirfd, path, fd, who, cap, 0);
}
