/* SPDX-License-Identifier: MIT */
/*
 * json.h - a small growable text buffer with JSON string escaping, used by
 * the writer to build argv/detail and by auditctl to export.  Output is
 * always valid UTF-8 JSON: a byte that is not part of a valid UTF-8
 * sequence is written as the four characters \xNN (JSON "\\xNN"), so no
 * byte is silently lost (docs/record-format.md).
 */
#ifndef AUDITSHIM_JSON_H
#define AUDITSHIM_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A growable NUL-terminated buffer. Zero-initialise before first use. */
struct jbuf {
	char *p;	/* text, NUL-terminated when len > 0; owned */
	size_t len;	/* bytes used, NUL excluded */
	size_t cap;	/* bytes allocated */
	bool oom;	/* an allocation failed; contents are incomplete */
};

void jbuf_reset(struct jbuf *b);			/* len = 0, keeps memory */
void jbuf_free(struct jbuf *b);				/* frees; b may be reused */
void jbuf_add_grow(struct jbuf *b, const char *s, size_t n); /* jbuf_add's slow path */

/* Appends N raw bytes.  Inline: exporters call it a few dozen times a row. */
static inline void
jbuf_add(struct jbuf *b, const char *s, size_t n)
{
	if (__builtin_expect(!b->oom && n < b->cap - b->len, 1)) {
		__builtin_memcpy(b->p + b->len, s, n);
		b->len += n;
		b->p[b->len] = '\0';
	} else {
		jbuf_add_grow(b, s, n);
	}
}
void jbuf_adds(struct jbuf *b, const char *s);		/* raw C string */
void jbuf_printf(struct jbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void jbuf_u64(struct jbuf *b, uint64_t v);		/* decimal */
void jbuf_i64(struct jbuf *b, int64_t v);		/* decimal, signed */
/* Appends S (N bytes) as a quoted JSON string. */
void jbuf_str(struct jbuf *b, const char *s, size_t n);
/* Appends S as a quoted JSON string, or null when S is NULL. */
void jbuf_strz(struct jbuf *b, const char *s);
/* Appends S (N bytes) unquoted, each byte that is not valid UTF-8 as the
 * text \xNN: for storing untrusted bytes in a TEXT column.  (Addition.) */
void jbuf_utf8(struct jbuf *b, const char *s, size_t n);
/* Returns the text ("" when empty). Valid until the next modification. */
const char *jbuf_text(const struct jbuf *b);

#endif
