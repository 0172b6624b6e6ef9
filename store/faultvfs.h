/* SPDX-License-Identifier: MIT */
/*
 * faultvfs.h - crash injection for storage tests (see faultvfs.c).
 */
#ifndef AUDITSHIM_FAULTVFS_H
#define AUDITSHIM_FAULTVFS_H

/*
 * With AUDITSHIMD_CRASH_AFTER_IO=N set, makes the default SQLite VFS one
 * that _exits (status 86) before the Nth write/sync/truncate/delete.
 * Returns 1 if installed, 0 if the variable is unset, -1 if it is not a
 * positive number or the VFS cannot be registered.  Call before opening
 * any database.
 */
int faultvfs_install(void);

#endif
