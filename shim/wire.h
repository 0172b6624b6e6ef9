/* SPDX-License-Identifier: MIT */
/*
 * wire.h - the message format between libauditshim.so and auditshimd.
 * A static PIC library linked by the shim (encoder) and the writer
 * (decoder).  The byte layout is specified in docs/wire.md; any change to
 * it bumps WIRE_VERSION and that document.
 *
 * Every function here is async-signal-safe and vfork-safe: no allocation,
 * no locks, no errno changes, no libc calls beyond memcpy/memset.
 */
#ifndef AUDITSHIM_WIRE_H
#define AUDITSHIM_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_MAGIC0 'A'
#define WIRE_MAGIC1 'S'
#define WIRE_MAGIC2 'H'
#define WIRE_MAGIC3 'M'
#define WIRE_VERSION 1
/* Header: magic[4] version:u8 type:u8 nfields:u16 length:u32. */
#define WIRE_HDR_LEN 12
/* Field header: tag:u16 len:u16, then len bytes of value. */
#define WIRE_FIELD_HDR_LEN 4
/* Largest message either side accepts (header included). */
#define WIRE_MAX_MSG 16384
/* Most fields one message may carry, and most repeated ARG / ADDR fields. */
#define WIRE_MAX_FIELDS 512
#define WIRE_MAX_ARGS 256
#define WIRE_MAX_ADDRS 32

/* Message types (header byte 5). */
enum wire_type {
	WIRE_T_RECORD = 1,	/* an observed operation, from the shim */
	WIRE_T_APPROVAL = 2,	/* an approval decision, from auditctl */
};

/* Event codes carried in WT_EVENT. Values are wire ABI: never reuse. */
enum wire_event {
	WE_EXEC = 1,		/* execve family; sent before the call */
	WE_SPAWN = 2,		/* posix_spawn, system, popen */
	WE_IMAGE_START = 3,	/* shim constructor ran in a new image */
	WE_OPEN = 4,		/* open/creat/fopen for writing */
	WE_RENAME = 5,
	WE_UNLINK = 6,
	WE_RMDIR = 7,
	WE_MKDIR = 8,
	WE_TRUNCATE = 9,
	WE_CHMOD = 10,
	WE_CHOWN = 11,
	WE_LINK = 12,
	WE_SYMLINK = 13,
	WE_CONNECT = 14,
	WE_BIND = 15,
	WE_LISTEN = 16,
	WE_SENDTO = 17,
	WE_RESOLVE = 18,	/* getaddrinfo: TARGET host, ADDR results */
	WE_BLIND_SPOT = 19,	/* a child will run unobserved; REASON why */
	WE_GAP = 20,		/* shim-reported loss: LOST_FIRST, LOST_COUNT */
	WE_MKNOD = 21,
	WE_SPAWN_ACTION = 22,	/* posix_spawn file action noted when added */
	WE__MAX = 22
};

/* Outcome carried in WT_OUTCOME. */
enum wire_outcome {
	WO_OK = 0,
	WO_ERROR = 1,		/* the call failed; WT_ERRNO says why */
	WO_ATTEMPT = 2,		/* exec: sent before the call (success never returns) */
};

/* Field tags. Integer fields are exactly 8 bytes, little-endian. */
enum wire_tag {
	WT_EVENT = 1,		/* u64 enum wire_event (required) */
	WT_PSEQ = 2,		/* u64 per-process sequence, 1.. (required) */
	WT_IMAGE = 3,		/* u64 nonce naming this process image (required) */
	WT_TIME = 4,		/* u64 CLOCK_REALTIME ns, claimed (required) */
	WT_PPID = 5,		/* u64 parent pid, claimed */
	WT_RESULT = 6,		/* u64 two's-complement return value */
	WT_ERRNO = 7,		/* u64 errno when WT_OUTCOME is WO_ERROR */
	WT_OUTCOME = 8,		/* u64 enum wire_outcome */
	WT_TARGET = 9,		/* str path, address, host name */
	WT_TARGET2 = 10,	/* str second path: rename/link destination */
	WT_FLAGS = 11,		/* u64 open/at flags */
	WT_MODE = 12,		/* u64 mode bits */
	WT_ARG = 13,		/* str, repeated: argv[i] in order */
	WT_ARGC = 14,		/* u64 full argc, before truncation */
	WT_ARGLEN = 15,		/* u64 full argv byte length, NULs included */
	WT_TRUNC = 16,		/* u64 WIRE_TRUNC_* bits */
	WT_CWD = 17,		/* str working directory at the call */
	WT_AGENT = 18,		/* str AUDITSHIM_AGENT label, claimed */
	WT_REASON = 19,		/* str blind-spot reason, or API name */
	WT_LOST_FIRST = 20,	/* u64 first lost pseq (WE_GAP) */
	WT_LOST_COUNT = 21,	/* u64 records lost (WE_GAP) */
	WT_ADDR = 22,		/* str, repeated: resolved address */
	WT_OWNER_UID = 23,	/* u64 chown uid argument */
	WT_OWNER_GID = 24,	/* u64 chown gid argument */
	WT_EXE = 25,		/* str program path (exec: resolved; image: /proc/self/exe) */
	WT_API = 26,		/* str the libc entry point hooked, e.g. "openat" */
	WT_TASK = 27,		/* str approval task id */
	WT_DECISION = 28,	/* str approval decision: request/approve/deny */
	WT_TEXT = 29,		/* str free text (approval reason) */
	WT_LENGTH = 30,		/* u64 byte count: truncate length, sendto size */
	WT__MAX = 30
};

/* Bits in WT_TRUNC. */
#define WIRE_TRUNC_ARGV   0x1u
#define WIRE_TRUNC_TARGET 0x2u
#define WIRE_TRUNC_TARGET2 0x4u
#define WIRE_TRUNC_CWD    0x8u
#define WIRE_TRUNC_EXE    0x10u

/* Errors: 0 or one of these negative codes (wire_strerror names them). */
enum wire_err {
	WIRE_ESHORT = -1,	/* shorter than a header */
	WIRE_EMAGIC = -2,	/* bad magic */
	WIRE_EVERSION = -3,	/* unsupported version */
	WIRE_ETYPE = -4,	/* unknown message type */
	WIRE_ELEN = -5,		/* header length differs from bytes received */
	WIRE_ETOOBIG = -6,	/* over WIRE_MAX_MSG */
	WIRE_EFIELD = -7,	/* field runs past the end of the message */
	WIRE_ETAG = -8,		/* unknown tag */
	WIRE_EINTLEN = -9,	/* integer field not 8 bytes */
	WIRE_EDUP = -10,	/* non-repeatable field repeated */
	WIRE_ECOUNT = -11,	/* nfields does not match the fields present */
	WIRE_EMISSING = -12,	/* a required field is absent */
	WIRE_EEVENT = -13,	/* unknown event code */
	WIRE_ENUL = -14,	/* NUL byte inside a string field */
	WIRE_ETOOMANY = -15,	/* too many repeated fields */
	WIRE_ENOSPC = -16,	/* encoder: value does not fit */
	WIRE_EVALUE = -17,	/* a field value is out of range */
};

/*
 * Encoder state over a caller-owned buffer.  Signal- and vfork-safe.
 * All members are private to wire.c.
 */
struct wire_enc {
	unsigned char *buf;	/* caller's buffer, at least WIRE_HDR_LEN */
	size_t cap;		/* its size, at most WIRE_MAX_MSG used */
	size_t len;		/* bytes written so far, header included */
	unsigned nfields;	/* fields written so far */
};

/* Starts a message of TYPE in BUF (CAP bytes; capped at WIRE_MAX_MSG). */
void wire_enc_init(struct wire_enc *e, void *buf, size_t cap, enum wire_type type);
/* Bytes a string value could still take (0 if no room for another field). */
size_t wire_enc_room(const struct wire_enc *e);
/* Appends an integer field. Returns 0 or WIRE_ENOSPC (nothing written). */
int wire_put_u64(struct wire_enc *e, enum wire_tag tag, uint64_t v);
/* Appends LEN bytes of S. Returns 0 or WIRE_ENOSPC (nothing written). */
int wire_put_str(struct wire_enc *e, enum wire_tag tag, const char *s, size_t len);
/*
 * Appends S, cut to what fits (at least MINROOM bytes must remain for later
 * fields).  Returns 1 if cut, 0 if whole, WIRE_ENOSPC if nothing fit.
 */
int wire_put_str_trunc(struct wire_enc *e, enum wire_tag tag, const char *s,
		       size_t len, size_t minroom);
/*
 * Where the value of the next field goes, for a value composed in place
 * (at most wire_enc_room() bytes), then appended by wire_put_placed
 * without a copy.  Returns 0 or WIRE_ENOSPC (nothing written).
 */
unsigned char *wire_enc_next(const struct wire_enc *e);
int wire_put_placed(struct wire_enc *e, enum wire_tag tag, size_t len);
/* Writes the header's count and length. Returns the message length. */
size_t wire_enc_finish(struct wire_enc *e);

/* A string field: points into the decoded buffer, not NUL-terminated. */
struct wire_str {
	const char *p;		/* first byte, inside the caller's buffer */
	uint16_t len;		/* length in bytes */
};

/* A decoded message. Strings point into the buffer given to wire_decode. */
struct wire_msg {
	uint8_t version;			/* header version */
	uint8_t type;				/* enum wire_type */
	uint32_t len;				/* total length */
	uint64_t present;			/* bit (1 << tag) per tag seen */
	uint64_t u[WT__MAX + 1];		/* integer fields by tag */
	struct wire_str s[WT__MAX + 1];		/* single string fields by tag */
	struct wire_str args[WIRE_MAX_ARGS];	/* WT_ARG values in order */
	unsigned nargs;				/* how many */
	struct wire_str addrs[WIRE_MAX_ADDRS];	/* WT_ADDR values in order */
	unsigned naddrs;			/* how many */
};

/*
 * Decodes and validates one message of LEN bytes.  Checks every length
 * before reading, rejects unknown tags, types and events, and requires the
 * fields each type needs.  Returns 0 or a negative enum wire_err.
 */
int wire_decode(const void *buf, size_t len, struct wire_msg *m);
/* True if TAG was present in M. */
static inline int wire_has(const struct wire_msg *m, enum wire_tag tag)
{
	return (m->present >> tag) & 1u;
}
/* Static text for a wire_err code. */
const char *wire_strerror(int err);
/* Static lower-case name of an event ("exec", "open", ...), NULL if unknown. */
const char *wire_event_name(unsigned ev);

/* Little-endian helpers, shared by encoder and decoder. */
static inline void wire_le16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}
static inline void wire_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}
static inline void wire_le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}
static inline uint16_t wire_rd16(const unsigned char *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t wire_rd32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}
static inline uint64_t wire_rd64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

#endif
