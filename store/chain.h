/* SPDX-License-Identifier: MIT */
/*
 * chain.h - the record, its canonical encoding, and the hash chain:
 * hash = SHA-256(prev_hash || canonical(record)), mac = HMAC-SHA-256(key, hash).
 * docs/record-format.md specifies the bytes so a third party can re-verify.
 * Shared by auditshimd (to seal) and auditctl (to verify).  This is the one
 * file that talks to OpenSSL; its "1 is success" is translated here.
 */
#ifndef AUDITSHIM_CHAIN_H
#define AUDITSHIM_CHAIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define CHAIN_HASH_LEN 32
#define CHAIN_KEY_LEN 32
/* First line of every canonical encoding; bump with the format. */
#define CHAIN_CANON_MAGIC "auditshim-record-v1\n"

/*
 * One stored record, as text columns exactly as stored in SQLite.
 * A NULL pointer is SQL NULL.  Integers use has_* flags for NULL.
 * The struct never owns its strings.
 */
struct chain_record {
	int64_t seq;		/* global sequence, 1.. */
	const char *time;	/* claimed time, RFC 3339 UTC with microseconds */
	const char *recv_time;	/* writer's receive time, same format */
	const char *host;	/* host name of the writer */
	const char *session;	/* derived session id, or NULL */
	const char *agent;	/* agent label (claimed, inherited), or NULL */
	int64_t pid, ppid, uid, gid;	/* process identity */
	bool has_pid, has_ppid, has_uid, has_gid;	/* false: SQL NULL */
	const char *exe;	/* executable from the writer's view, or NULL */
	const char *event;	/* "exec", "open", "gap", ... */
	const char *klass;	/* "tool_call", "memory_write", "config_change", "other" */
	const char *target;	/* path, address, host or task, or NULL */
	const char *argv;	/* JSON array text, or NULL */
	const char *detail;	/* JSON object text, or NULL */
	const char *result;	/* "ok", "error" or "attempt" */
	const char *errno_name;	/* "ENOENT", or NULL */
	const char *severity;	/* "info", "low", ... "critical" */
	int64_t pseq;		/* per-process sequence from the shim */
	bool has_pseq;		/* false: SQL NULL */
	const char *image;	/* per-image nonce, hex, or NULL */
	int64_t key_epoch;	/* which MAC key sealed this record */
};

/* Canonical field order; also the column names in the records table. */
#define CHAIN_NFIELDS 22
extern const char *const chain_field_names[CHAIN_NFIELDS];

/*
 * Writes the canonical encoding of R into BUF (CAP bytes).  Returns the
 * length needed; if that exceeds CAP the buffer holds a prefix only and the
 * caller must retry with a larger one.  Never fails otherwise.
 */
size_t chain_canonical(const struct chain_record *r, unsigned char *buf, size_t cap);
/*
 * The same, also storing each field's length in LENS (canonical order, the
 * order of chain_field_names; UINT32_MAX for a NULL): the lengths the
 * insert binds, so no string is measured twice.
 */
size_t chain_canonical_lens(const struct chain_record *r, unsigned char *buf,
			    size_t cap, uint32_t lens[CHAIN_NFIELDS]);

/* A sealing/verifying context: holds the HMAC key and reusable digests. */
struct chain_ctx;

/*
 * Creates a context with KEY (CHAIN_KEY_LEN bytes; NULL for hash-only
 * verification).  Returns NULL on allocation or OpenSSL failure.
 * The context copies the key; the caller may wipe its copy.
 */
struct chain_ctx *chain_ctx_new(const unsigned char *key);
/* Wipes the key and frees the context. chain_ctx_free(NULL) is a no-op. */
void chain_ctx_free(struct chain_ctx *c);

/*
 * Computes hash = SHA-256(prev || canon) into HASH and, when the context
 * has a key, mac = HMAC-SHA-256(key, hash) into MAC (MAC may be NULL).
 * Returns 0 or -EIO on an OpenSSL failure.
 */
int chain_seal(struct chain_ctx *c, const unsigned char prev[CHAIN_HASH_LEN],
	       const unsigned char *canon, size_t canon_len,
	       unsigned char hash[CHAIN_HASH_LEN], unsigned char mac[CHAIN_HASH_LEN]);

/* Computes HMAC-SHA-256(key, data). Returns 0 or -EIO. */
int chain_hmac(struct chain_ctx *c, const void *data, size_t len,
	       unsigned char out[CHAIN_HASH_LEN]);

/* True if the context holds a key. */
bool chain_has_key(const struct chain_ctx *c);

/* Constant-time comparison of two CHAIN_HASH_LEN buffers. */
bool chain_equal(const unsigned char *a, const unsigned char *b);

/* Lower-case hex of LEN bytes into OUT (2*LEN+1 bytes). */
void chain_hex(const unsigned char *in, size_t len, char *out);

/*
 * Reads a key file: exactly CHAIN_KEY_LEN bytes, a regular file not
 * readable or writable by group or others.  Returns 0, -errno, or
 * -EPERM if the mode is too open, -EINVAL if the size is wrong.
 */
int chain_key_load(const char *path, unsigned char key[CHAIN_KEY_LEN]);
/*
 * Creates a new random key at PATH with mode 0600 (O_EXCL: never
 * overwrites).  Returns 0 or -errno / -EIO.
 */
int chain_key_create(const char *path, unsigned char key[CHAIN_KEY_LEN]);
/* Wipes LEN bytes so the compiler cannot elide it. */
void chain_wipe(void *p, size_t len);

#endif
