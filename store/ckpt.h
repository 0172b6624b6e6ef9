/* SPDX-License-Identifier: MIT */
#ifndef AUDITSHIM_CKPT_H
#define AUDITSHIM_CKPT_H

#include <sqlite3.h>

struct ckpt;

/*
 * Moves WAL checkpoints off WRITER (the commit thread's connection) to a
 * thread with its own connection to PATH.  Call before the commit thread
 * starts.  NULL if that cannot be set up (logged): WRITER then keeps
 * SQLite's automatic checkpoint.
 */
struct ckpt *ckpt_start(sqlite3 *writer, const char *path);
/* Stops the thread; WRITER checkpoints for itself again.  Call once the
 * commit thread is joined.  NULL is fine. */
void ckpt_stop(struct ckpt *c);

#endif
