/* SPDX-License-Identifier: MIT */
/* errname.h - symbolic errno names ("ENOENT") for records and exports. */
#ifndef AUDITSHIM_ERRNAME_H
#define AUDITSHIM_ERRNAME_H

/* Static name of errno value E, e.g. "ENOENT"; "E<number>" style text in
 * BUF (at least 16 bytes) for values without a name. Never NULL. */
const char *errname(int e, char buf[16]);
/* Inverse: the errno value for NAME, or -1. */
int errname_parse(const char *name);

#endif
