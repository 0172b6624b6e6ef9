/* SPDX-License-Identifier: MIT */
/*
 * popen.c - popen() carried out by the shim when the shell must get an
 * environment glibc would not give it, and the table of open popen
 * streams that pclose() and fclose() consult.  The popen() hook and its
 * records are in hook_exec.c.
 *
 * glibc's popen() spawns /bin/sh with environ as is and keeps its streams
 * in a private list that pclose() and later popen() children use.  When
 * environ has lost our LD_PRELOAD, shim_popen() does what glibc 2.36's
 * libio/iopopen.c does instead, line for line, with a doctored
 * environment: mode parsing, pipe2(O_CLOEXEC), the child end moved off
 * the child's own number, adddup2 and one addclose per earlier stream
 * still open, "sh -c cmd" through the real posix_spawn, the parent end's
 * close-on-exec flag cleared unless 'e', ENOMEM for any failure after the
 * pipe.  The stream is fdopen()ed on the parent end: the same regular file
 * stream glibc's proc file is, minus the close function, which is why
 * pclose() and fclose() are hooked: for one of our streams they close it
 * and then wait for the child as glibc's _IO_new_proc_close does.
 *
 * Streams of glibc's popen() are entered in the table too, so that our
 * children close them; and while any stream of ours is open every popen()
 * is carried out here, so that glibc's children never inherit ours.
 */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

/* Slots per block of the table. */
#define POPEN_SLOTS 64

enum { SLOT_FREE = 0, SLOT_LIVE = 1 };

/* One open popen stream. */
struct popen_slot {
	_Atomic int state;		/* SLOT_FREE or SLOT_LIVE */
	_Atomic(FILE *) fp;		/* the stream */
	int fd;				/* its descriptor when it was made */
	pid_t pid;			/* our child; 0 for glibc's streams */
	int ours;			/* made by popen_ours() */
};

/* A block of slots; blocks are added, never freed. */
struct popen_block {
	struct popen_slot slot[POPEN_SLOTS];	/* the entries */
	struct popen_block *_Atomic next;	/* the next block, or NULL */
};

/*
 * Entries are added under popen_lock (which also covers building a
 * child's list of descriptors to close, as glibc's proc_file_chain_lock
 * does) and removed without it, by whoever wins the slot's state: a
 * fork child that inherits a locked popen_lock must not hang in fclose.
 * An entry that cannot be kept would let a later child hold a stream's
 * pipe open (its reader then never sees the end): beyond the first block
 * the table grows, and popen fails with ENOMEM when it cannot.
 */
static struct popen_block first;
static _Atomic int n_live;	/* entries: fclose()'s one test */
static _Atomic int n_ours;	/* entries of ours: popen() goes our way */
static pthread_mutex_t popen_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t popen_once = PTHREAD_ONCE_INIT;

#define EACH_SLOT(s)                                                     \
	for (struct popen_block *b_ = &first; b_ != NULL;                \
	     b_ = atomic_load_explicit(&b_->next, memory_order_acquire)) \
		for (struct popen_slot *s = b_->slot;                    \
		     s < b_->slot + POPEN_SLOTS; s++)

/* A fork child owns no lock its parent's other threads held. */
static void
popen_atfork_child(void)
{
	pthread_mutex_init(&popen_lock, NULL);
}

static void
popen_register(void)
{
	shim_atfork(popen_atfork_child);
}

static void
unlock(void *arg)
{
	pthread_mutex_unlock(arg);
}

static int
is_live(struct popen_slot *s)
{
	return atomic_load_explicit(&s->state, memory_order_acquire) ==
	       SLOT_LIVE;
}

/*
 * A free slot, in a new block if every one is taken; NULL (errno ENOMEM)
 * if none can be had.  Call with popen_lock held.
 */
static struct popen_slot *
slot_free(void)
{
	struct popen_block *last = &first;
	struct popen_slot *found = NULL;

	EACH_SLOT(s) {
		last = b_;
		if (found == NULL && !is_live(s))
			found = s;
	}
	if (found == NULL) {
		/* mmap: no allocator state to share with the program. */
		void *m = mmap(NULL, sizeof(struct popen_block),
			       PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m != MAP_FAILED) {
			struct popen_block *nb = m;
			found = &nb->slot[0];
			atomic_store_explicit(&last->next, nb,
					      memory_order_release);
		} else {
			errno = ENOMEM;
		}
	}
	return found;
}

/* Fills S.  Call with popen_lock held. */
static void
slot_fill(struct popen_slot *s, FILE *fp, int fd, pid_t pid, int ours)
{
	atomic_store_explicit(&s->fp, fp, memory_order_relaxed);
	s->fd = fd;
	s->pid = pid;
	s->ours = ours;
	/* Counted before it is visible: never live but uncounted. */
	atomic_fetch_add(&n_live, 1);
	if (ours)
		atomic_fetch_add(&n_ours, 1);
	atomic_store_explicit(&s->state, SLOT_LIVE, memory_order_release);
}

/*
 * Removes FP's entry.  Returns 1 and fills *PID and *OURS if there was
 * one, else 0.
 */
static int
slot_take(FILE *fp, pid_t *pid, int *ours)
{
	int found = 0;
	EACH_SLOT(s) {
		if (found || !is_live(s) ||
		    atomic_load_explicit(&s->fp, memory_order_relaxed) != fp)
			continue;
		pid_t p = s->pid;
		int o = s->ours;
		int live = SLOT_LIVE;
		if (!atomic_compare_exchange_strong(&s->state, &live,
						    SLOT_FREE))
			continue;	/* a racing close of the same stream */
		if (o)
			atomic_fetch_sub(&n_ours, 1);
		atomic_fetch_sub(&n_live, 1);
		*pid = p;
		*ours = o;
		found = 1;
	}
	return found;
}

/*
 * glibc 2.36's _IO_new_proc_open() and spawn_process() on the real
 * posix_spawn with ENVP, the entry going to SLOT.  Call with
 * popen_lock held (glibc holds proc_file_chain_lock for less: from the
 * list of descriptors to the insertion; the pipe and the stream are made
 * under it here, which no caller can tell).
 */
static FILE *
popen_ours(const char *cmd, const char *mode, char *const envp[],
	   struct popen_slot *slot)
{
	int do_read = 0, do_write = 0, do_cloexec = 0, bad = 0;
	int fds[2] = { -1, -1 };
	int saved = errno;
	FILE *fp = NULL;
	posix_spawn_file_actions_t fa;
	int fa_live = 0;
	int parent_end, child_end, child_fd, tmp;
	pid_t pid;
	char *const argv[] = { (char *)"sh", (char *)"-c", (char *)cmd, NULL };

	for (const char *m = mode; *m != '\0' && !bad; m++) {
		switch (*m) {
		case 'r': do_read = 1; break;
		case 'w': do_write = 1; break;
		case 'e': do_cloexec = 1; break;
		default: bad = 1; break;
		}
	}
	if (bad || (do_read ^ do_write) == 0) {
		errno = EINVAL;
		goto out;
	}
	/* Without the shim no descriptor of ours takes the last slot. */
	if (SHIM_FD_RETRY(-1, saved, shim_real.pipe2(fds, O_CLOEXEC)) < 0)
		goto out;
	parent_end = do_read ? 0 : 1;
	child_end = do_read ? 1 : 0;
	child_fd = do_read ? 1 : 0;
	/* glibc allocates its FILE first: made before the spawn, nothing
	 * can fail once the child runs. */
	fp = fdopen(fds[parent_end], do_read ? "r" : "w");
	if (fp == NULL)
		goto fail;
	posix_spawn_file_actions_init(&fa);
	fa_live = 1;
	if (fds[child_end] == child_fd) {
		/* Else the child could not clear close-on-exec without a race. */
		tmp = SHIM_FD_RETRY(-1, saved,
				    shim_real.fcntl(child_fd, F_DUPFD_CLOEXEC, 0));
		if (tmp < 0)
			goto fail;
		close(fds[child_end]);
		fds[child_end] = tmp;
	}
	if (posix_spawn_file_actions_adddup2(&fa, fds[child_end], child_fd) != 0)
		goto fail;
	/* POSIX: no earlier popen stream stays open in the new child. */
	EACH_SLOT(s) {
		/* The dup2 above has closed one numbered like the child's. */
		if (is_live(s) && s->fd != child_fd &&
		    posix_spawn_file_actions_addclose(&fa, s->fd) != 0)
			goto fail;
	}
	if (shim_real.posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, envp) != 0)
		goto fail;
	close(fds[child_end]);
	if (!do_cloexec)
		shim_real.fcntl(fds[parent_end], F_SETFD, 0);
	slot_fill(slot, fp, fds[parent_end], pid, 1);
	errno = saved;
	goto out;
fail:
	if (fp != NULL)
		shim_real.fclose(fp);	/* and fds[parent_end] with it */
	else
		close(fds[parent_end]);
	close(fds[child_end]);
	fp = NULL;
	errno = ENOMEM;
out:
	if (fa_live) {
		int e = errno;
		posix_spawn_file_actions_destroy(&fa);
		errno = e;
	}
	return fp;
}

FILE *
shim_popen(const char *cmd, const char *mode, char *const envp[], int want,
	   int *ours)
{
	FILE *fp;
	int here;
	int saved = errno;

	pthread_once(&popen_once, popen_register);
	pthread_mutex_lock(&popen_lock);
	pthread_cleanup_push(unlock, &popen_lock);
	errno = saved;
	struct popen_slot *slot = slot_free();
	int can = shim_real.posix_spawn != NULL && shim_real.pipe2 != NULL &&
		  shim_real.fcntl != NULL && shim_real.fclose != NULL;
	here = can &&
	       (want || atomic_load_explicit(&n_ours, memory_order_relaxed) > 0);
	if (slot == NULL) {
		fp = NULL;	/* errno ENOMEM, as glibc's failed malloc */
	} else if (here) {
		/* glibc's popen makes no call that is a cancellation point. */
		int state;
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &state);
		fp = popen_ours(cmd, mode, envp, slot);
		pthread_setcancelstate(state, NULL);
	} else {
		fp = shim_real.popen(cmd, mode);
		if (fp != NULL)
			slot_fill(slot, fp, fileno(fp), 0, 0);
	}
	pthread_cleanup_pop(0);
	int e = errno;
	pthread_mutex_unlock(&popen_lock);
	errno = e;
	*ours = here;
	return fp;
}

/*
 * Waits for PID as _IO_new_proc_close does: EINTR retried, cancellation
 * off (glibc's pclose is no cancellation point).  Returns waitpid's.
 */
static pid_t
wait_child(pid_t pid, int *ws)
{
	int state;
	pid_t w;

	do {
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &state);
		w = waitpid(pid, ws, 0);
		pthread_setcancelstate(state, NULL);
	} while (w < 0 && errno == EINTR);
	return w;
}

/*
 * The close of one of our streams: glibc's _IO_new_file_close_it() with
 * _IO_new_proc_close() as the close function.  The flush and the close
 * are fclose()'s; the descriptor is tested first because glibc returns
 * -1 without waiting when the close fails.
 */
static int
close_ours(FILE *fp, pid_t pid)
{
	int e = errno;
	int fd = fileno(fp);
	int closes = fd >= 0 && shim_real.fcntl(fd, F_GETFD) >= 0;
	errno = e;
	int r = shim_real.fclose(fp);
	int ws = 0;

	if (closes) {
		/* The wait status if it failed or is not 0, else the flush's. */
		if (wait_child(pid, &ws) < 0)
			r = -1;
		else if (ws != 0)
			r = ws;
	}
	return r;
}

/* fclose (PCLOSE 0) or pclose (PCLOSE 1) when any entry exists. */
static __attribute__((noinline)) int
close_slow(FILE *fp, int pclose)
{
	pid_t pid = 0;
	int ours = 0;

	shim_ensure_init();
	__typeof__(fclose) *real = pclose ? shim_real.pclose : shim_real.fclose;
	if (real == NULL) {
		errno = ENOSYS;
		return EOF;
	}
	if (atomic_load_explicit(&n_live, memory_order_relaxed) > 0 &&
	    slot_take(fp, &pid, &ours) && ours)
		return close_ours(fp, pid);
	return real(fp);
}

SHIM_EXPORT int
fclose(FILE *fp)
{
	/* Called for every stream: one load unless a popen stream is open. */
	__typeof__(fclose) *real = shim_real.fclose;
	if (__builtin_expect(atomic_load_explicit(&n_live,
			     memory_order_relaxed) == 0 && real != NULL, 1))
		return real(fp);
	return close_slow(fp, 0);
}

SHIM_EXPORT int
pclose(FILE *fp)
{
	return close_slow(fp, 1);
}
