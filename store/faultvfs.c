/* SPDX-License-Identifier: MIT */
/*
 * faultvfs.c - crash injection for the writer's storage tests.  With
 * AUDITSHIMD_CRASH_AFTER_IO=N in its environment, auditshimd registers an
 * SQLite VFS in front of the default one that counts the write, sync and
 * truncate calls made on the database, its WAL and journal files, and
 * kills the process (_exit, no clean-up, like SIGKILL) just before the
 * Nth: between any two steps of a transaction, of a checkpoint or of
 * WAL recovery.  tests/integration/test_crash.py restarts the writer after
 * each crash and checks that the store opens and its chain verifies up to
 * the last committed record.  Without the variable nothing is installed.
 * With AUDITSHIMD_CRASH_THREAD=NAME too, only the calls made by the
 * thread of that name count (auditshimd-ckpt: the checkpoint thread).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <sqlite3.h>

#include "faultvfs.h"

/* Exit status of an injected crash (distinct from fatalx's 1). */
#define FAULT_EXIT 86

static sqlite3_vfs fault_vfs;
static sqlite3_vfs *base_vfs;
/* Calls until the crash; 0 disabled.  Atomic: the checkpoint thread
 * (ckpt.c) does I/O too. */
static atomic_long io_left;
/* AUDITSHIMD_CRASH_THREAD, or NULL for every thread. */
static const char *only_thread;

struct fault_file {
	sqlite3_file base;		/* must be first */
	sqlite3_file *real;		/* the base VFS's file, after this struct */
};

static void
io_step(void)
{
	/* This thread's name (threads name themselves before any I/O). */
	static __thread char name[16];
	static __thread int counts = -1;	/* -1: not looked at yet */

	if (atomic_load_explicit(&io_left, memory_order_relaxed) <= 0)
		return;
	if (counts < 0) {
		prctl(PR_GET_NAME, name);
		counts = !only_thread || strcmp(name, only_thread) == 0;
	}
	if (counts && atomic_fetch_sub(&io_left, 1) == 1) {
		dprintf(2, "auditshimd: fault injection: exit in thread %s\n",
			name);
		_exit(FAULT_EXIT);
	}
}

#define REAL(f) (((struct fault_file *)(f))->real)

static int
f_close(sqlite3_file *f)
{
	return REAL(f)->pMethods ? REAL(f)->pMethods->xClose(REAL(f)) : SQLITE_OK;
}

static int
f_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
	return REAL(f)->pMethods->xRead(REAL(f), p, n, off);
}

static int
f_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
	io_step();
	return REAL(f)->pMethods->xWrite(REAL(f), p, n, off);
}

static int
f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	io_step();
	return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int
f_sync(sqlite3_file *f, int flags)
{
	io_step();
	return REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int
f_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int
f_lock(sqlite3_file *f, int level)
{
	return REAL(f)->pMethods->xLock(REAL(f), level);
}

static int
f_unlock(sqlite3_file *f, int level)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), level);
}

static int
f_check_reserved(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int
f_control(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int
f_sector(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int
f_devchar(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static int
f_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp)
{
	return REAL(f)->pMethods->xShmMap(REAL(f), pg, pgsz, extend, pp);
}

static int
f_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
	return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}

static void
f_shm_barrier(sqlite3_file *f)
{
	REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int
f_shm_unmap(sqlite3_file *f, int del)
{
	return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

/* Version 2 methods: WAL needs the shm calls; no mmap (xFetch). */
static const sqlite3_io_methods fault_methods = {
	2, f_close, f_read, f_write, f_truncate, f_sync, f_size, f_lock,
	f_unlock, f_check_reserved, f_control, f_sector, f_devchar,
	f_shm_map, f_shm_lock, f_shm_barrier, f_shm_unmap, NULL, NULL,
};

static int
v_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags,
       int *out_flags)
{
	struct fault_file *ff = (struct fault_file *)f;
	(void)vfs;
	ff->real = (sqlite3_file *)(ff + 1);
	int rc = base_vfs->xOpen(base_vfs, name, ff->real, flags, out_flags);
	/* xClose is called even after a failed open if pMethods is set. */
	f->pMethods = rc == SQLITE_OK ? &fault_methods : NULL;
	return rc;
}

static int
v_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
	(void)vfs;
	io_step();
	return base_vfs->xDelete(base_vfs, name, sync_dir);
}

static int
v_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
	(void)vfs;
	return base_vfs->xAccess(base_vfs, name, flags, out);
}

static int
v_fullpath(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	(void)vfs;
	return base_vfs->xFullPathname(base_vfs, name, n, out);
}

static int
v_random(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return base_vfs->xRandomness(base_vfs, n, out);
}

static int
v_sleep(sqlite3_vfs *vfs, int us)
{
	(void)vfs;
	return base_vfs->xSleep(base_vfs, us);
}

static int
v_time(sqlite3_vfs *vfs, double *out)
{
	(void)vfs;
	return base_vfs->xCurrentTime(base_vfs, out);
}

static int
v_last_error(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return base_vfs->xGetLastError(base_vfs, n, out);
}

static void *
v_dlopen(sqlite3_vfs *vfs, const char *name)
{
	(void)vfs;
	return base_vfs->xDlOpen(base_vfs, name);
}

static void
v_dlerror(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	base_vfs->xDlError(base_vfs, n, out);
}

static void (*v_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
	(void)vfs;
	return base_vfs->xDlSym(base_vfs, h, sym);
}

static void
v_dlclose(sqlite3_vfs *vfs, void *h)
{
	(void)vfs;
	base_vfs->xDlClose(base_vfs, h);
}

int
faultvfs_install(void)
{
	const char *s = getenv("AUDITSHIMD_CRASH_AFTER_IO");
	char *end;

	if (!s || !*s)
		return 0;
	long n = strtol(s, &end, 10);
	if (*end || n <= 0)
		return -1;
	base_vfs = sqlite3_vfs_find(NULL);
	if (!base_vfs)
		return -1;
	io_left = n;
	only_thread = getenv("AUDITSHIMD_CRASH_THREAD");
	if (only_thread && !*only_thread)
		only_thread = NULL;
	fault_vfs = (sqlite3_vfs){
		.iVersion = 1,
		.szOsFile = (int)sizeof(struct fault_file) + base_vfs->szOsFile,
		.mxPathname = base_vfs->mxPathname,
		.zName = "auditshim-fault",
		.xOpen = v_open, .xDelete = v_delete, .xAccess = v_access,
		.xFullPathname = v_fullpath, .xDlOpen = v_dlopen,
		.xDlError = v_dlerror, .xDlSym = v_dlsym, .xDlClose = v_dlclose,
		.xRandomness = v_random, .xSleep = v_sleep, .xCurrentTime = v_time,
		.xGetLastError = v_last_error,
	};
	return sqlite3_vfs_register(&fault_vfs, 1) == SQLITE_OK ? 1 : -1;
}
