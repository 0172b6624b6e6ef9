/* SPDX-License-Identifier: MIT */
/*
 * wire.c - encoder (used by the shim on hook paths) and validating decoder
 * (used by the writer on untrusted input) for the format in docs/wire.md.
 * No allocation, no locks, no errno: safe in signal handlers and vfork
 * children.
 */
#include "wire.h"

#include <string.h>

_Static_assert(WT__MAX < 64, "present bitmask holds every tag");
_Static_assert(WIRE_MAX_MSG <= 65535 + WIRE_HDR_LEN, "field len fits u16");

void
wire_enc_init(struct wire_enc *e, void *buf, size_t cap, enum wire_type type)
{
	e->buf = buf;
	e->cap = cap > WIRE_MAX_MSG ? WIRE_MAX_MSG : cap;
	e->len = WIRE_HDR_LEN;
	e->nfields = 0;
	e->buf[0] = WIRE_MAGIC0;
	e->buf[1] = WIRE_MAGIC1;
	e->buf[2] = WIRE_MAGIC2;
	e->buf[3] = WIRE_MAGIC3;
	e->buf[4] = WIRE_VERSION;
	e->buf[5] = (unsigned char)type;
	wire_le16(e->buf + 6, 0);
	wire_le32(e->buf + 8, WIRE_HDR_LEN);
}

size_t
wire_enc_room(const struct wire_enc *e)
{
	if (e->nfields >= WIRE_MAX_FIELDS ||
	    e->len + WIRE_FIELD_HDR_LEN > e->cap)
		return 0;
	size_t room = e->cap - e->len - WIRE_FIELD_HDR_LEN;
	return room > 0xffff ? 0xffff : room;
}

/* Writes the header of a field of LEN bytes; the value follows it. */
static int
put_hdr(struct wire_enc *e, enum wire_tag tag, size_t len)
{
	if (e->nfields >= WIRE_MAX_FIELDS || len > 0xffff ||
	    e->len + WIRE_FIELD_HDR_LEN + len > e->cap)
		return WIRE_ENOSPC;
	unsigned char *p = e->buf + e->len;
	wire_le16(p, (uint16_t)tag);
	wire_le16(p + 2, (uint16_t)len);
	e->len += WIRE_FIELD_HDR_LEN + len;
	e->nfields++;
	return 0;
}

static int
put_raw(struct wire_enc *e, enum wire_tag tag, const void *v, size_t len)
{
	unsigned char *dst = wire_enc_next(e);
	int rc = put_hdr(e, tag, len);
	if (rc == 0 && len)
		memcpy(dst, v, len);
	return rc;
}

unsigned char *
wire_enc_next(const struct wire_enc *e)
{
	return e->buf + e->len + WIRE_FIELD_HDR_LEN;
}

int
wire_put_placed(struct wire_enc *e, enum wire_tag tag, size_t len)
{
	return put_hdr(e, tag, len);
}

int
wire_put_u64(struct wire_enc *e, enum wire_tag tag, uint64_t v)
{
	unsigned char b[8];
	wire_le64(b, v);
	return put_raw(e, tag, b, sizeof b);
}

int
wire_put_str(struct wire_enc *e, enum wire_tag tag, const char *s, size_t len)
{
	return put_raw(e, tag, s, len);
}

int
wire_put_str_trunc(struct wire_enc *e, enum wire_tag tag, const char *s,
		   size_t len, size_t minroom)
{
	size_t room = wire_enc_room(e);
	if (room == 0 && len > 0)
		return WIRE_ENOSPC;
	room = room > minroom ? room - minroom : 0;
	if (len <= room)
		return put_raw(e, tag, s, len);
	if (room == 0)
		return WIRE_ENOSPC;
	/* Do not split a UTF-8 sequence: back up over continuation bytes. */
	size_t cut = room;
	while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80)
		cut--;
	if (cut == 0)
		cut = room;
	int rc = put_raw(e, tag, s, cut);
	return rc < 0 ? rc : 1;
}

size_t
wire_enc_finish(struct wire_enc *e)
{
	wire_le16(e->buf + 6, (uint16_t)e->nfields);
	wire_le32(e->buf + 8, (uint32_t)e->len);
	return e->len;
}

/* Per-tag rules: integer or string, repeatable, which types allow it. */
enum { K_NONE, K_INT, K_STR, K_STR_REP };

static unsigned char
tag_kind(unsigned tag)
{
	switch (tag) {
	case WT_EVENT: case WT_PSEQ: case WT_IMAGE: case WT_TIME: case WT_PPID:
	case WT_RESULT: case WT_ERRNO: case WT_OUTCOME: case WT_FLAGS:
	case WT_MODE: case WT_ARGC: case WT_ARGLEN: case WT_TRUNC:
	case WT_LOST_FIRST: case WT_LOST_COUNT: case WT_OWNER_UID:
	case WT_OWNER_GID: case WT_LENGTH:
		return K_INT;
	case WT_TARGET: case WT_TARGET2: case WT_CWD: case WT_AGENT:
	case WT_REASON: case WT_EXE: case WT_API: case WT_TASK:
	case WT_DECISION: case WT_TEXT:
		return K_STR;
	case WT_ARG: case WT_ADDR:
		return K_STR_REP;
	default:
		return K_NONE;
	}
}

int
wire_decode(const void *buf, size_t len, struct wire_msg *m)
{
	const unsigned char *b = buf;

	if (len < WIRE_HDR_LEN)
		return WIRE_ESHORT;
	if (len > WIRE_MAX_MSG)
		return WIRE_ETOOBIG;
	if (b[0] != WIRE_MAGIC0 || b[1] != WIRE_MAGIC1 ||
	    b[2] != WIRE_MAGIC2 || b[3] != WIRE_MAGIC3)
		return WIRE_EMAGIC;
	if (b[4] != WIRE_VERSION)
		return WIRE_EVERSION;
	if (b[5] != WIRE_T_RECORD && b[5] != WIRE_T_APPROVAL)
		return WIRE_ETYPE;
	uint32_t hlen = wire_rd32(b + 8);
	if (hlen > WIRE_MAX_MSG)
		return WIRE_ETOOBIG;
	if (hlen != len)
		return WIRE_ELEN;
	unsigned nfields = wire_rd16(b + 6);
	if (nfields > WIRE_MAX_FIELDS)
		return WIRE_ECOUNT;

	m->version = b[4];
	m->type = b[5];
	m->len = hlen;
	m->present = 0;
	m->nargs = 0;
	m->naddrs = 0;
	memset(m->u, 0, sizeof m->u);
	memset(m->s, 0, sizeof m->s);

	size_t off = WIRE_HDR_LEN;
	unsigned seen = 0;
	while (off < len) {
		if (len - off < WIRE_FIELD_HDR_LEN)
			return WIRE_EFIELD;
		unsigned tag = wire_rd16(b + off);
		size_t flen = wire_rd16(b + off + 2);
		off += WIRE_FIELD_HDR_LEN;
		if (flen > len - off)
			return WIRE_EFIELD;
		if (++seen > nfields)
			return WIRE_ECOUNT;
		const unsigned char *v = b + off;
		off += flen;
		switch (tag_kind(tag)) {
		case K_INT:
			if (flen != 8)
				return WIRE_EINTLEN;
			if (wire_has(m, tag))
				return WIRE_EDUP;
			m->u[tag] = wire_rd64(v);
			break;
		case K_STR:
			if (wire_has(m, tag))
				return WIRE_EDUP;
			if (memchr(v, 0, flen))
				return WIRE_ENUL;
			m->s[tag].p = (const char *)v;
			m->s[tag].len = (uint16_t)flen;
			break;
		case K_STR_REP:
			if (memchr(v, 0, flen))
				return WIRE_ENUL;
			if (tag == WT_ARG) {
				if (m->nargs >= WIRE_MAX_ARGS)
					return WIRE_ETOOMANY;
				m->args[m->nargs].p = (const char *)v;
				m->args[m->nargs++].len = (uint16_t)flen;
			} else {
				if (m->naddrs >= WIRE_MAX_ADDRS)
					return WIRE_ETOOMANY;
				m->addrs[m->naddrs].p = (const char *)v;
				m->addrs[m->naddrs++].len = (uint16_t)flen;
			}
			break;
		default:
			return WIRE_ETAG;
		}
		m->present |= (uint64_t)1 << tag;
	}
	if (seen != nfields)
		return WIRE_ECOUNT;

	if (m->type == WIRE_T_RECORD) {
		const uint64_t need = (uint64_t)1 << WT_EVENT |
				      (uint64_t)1 << WT_PSEQ |
				      (uint64_t)1 << WT_IMAGE |
				      (uint64_t)1 << WT_TIME;
		if ((m->present & need) != need)
			return WIRE_EMISSING;
		if (m->u[WT_EVENT] == 0 || m->u[WT_EVENT] > WE__MAX)
			return WIRE_EEVENT;
		if (m->u[WT_PSEQ] == 0)
			return WIRE_EVALUE;
		if (wire_has(m, WT_OUTCOME) && m->u[WT_OUTCOME] > WO_ATTEMPT)
			return WIRE_EVALUE;
		if (m->u[WT_EVENT] == WE_GAP &&
		    (!wire_has(m, WT_LOST_FIRST) || !wire_has(m, WT_LOST_COUNT)))
			return WIRE_EMISSING;
	} else {
		if (!wire_has(m, WT_TASK) || !wire_has(m, WT_DECISION))
			return WIRE_EMISSING;
	}
	return 0;
}

const char *
wire_strerror(int err)
{
	switch (err) {
	case 0: return "success";
	case WIRE_ESHORT: return "message shorter than its header";
	case WIRE_EMAGIC: return "bad magic";
	case WIRE_EVERSION: return "unsupported protocol version";
	case WIRE_ETYPE: return "unknown message type";
	case WIRE_ELEN: return "header length differs from message size";
	case WIRE_ETOOBIG: return "message larger than the maximum";
	case WIRE_EFIELD: return "field runs past the end of the message";
	case WIRE_ETAG: return "unknown field tag";
	case WIRE_EINTLEN: return "integer field is not 8 bytes";
	case WIRE_EDUP: return "field repeated";
	case WIRE_ECOUNT: return "field count does not match header";
	case WIRE_EMISSING: return "required field missing";
	case WIRE_EEVENT: return "unknown event code";
	case WIRE_ENUL: return "NUL byte inside a string field";
	case WIRE_ETOOMANY: return "too many repeated fields";
	case WIRE_ENOSPC: return "value does not fit in the message";
	case WIRE_EVALUE: return "field value out of range";
	default: return "unknown wire error";
	}
}

const char *
wire_event_name(unsigned ev)
{
	static const char *const names[WE__MAX + 1] = {
		[WE_EXEC] = "exec", [WE_SPAWN] = "spawn",
		[WE_IMAGE_START] = "image_start", [WE_OPEN] = "open",
		[WE_RENAME] = "rename", [WE_UNLINK] = "unlink",
		[WE_RMDIR] = "rmdir", [WE_MKDIR] = "mkdir",
		[WE_TRUNCATE] = "truncate", [WE_CHMOD] = "chmod",
		[WE_CHOWN] = "chown", [WE_LINK] = "link",
		[WE_SYMLINK] = "symlink", [WE_CONNECT] = "connect",
		[WE_BIND] = "bind", [WE_LISTEN] = "listen",
		[WE_SENDTO] = "sendto", [WE_RESOLVE] = "resolve",
		[WE_BLIND_SPOT] = "blind_spot", [WE_GAP] = "gap",
		[WE_MKNOD] = "mknod", [WE_SPAWN_ACTION] = "spawn_action",
	};
	return ev <= WE__MAX ? names[ev] : NULL;
}
