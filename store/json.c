/* SPDX-License-Identifier: MIT */
/*
 * json.c - growable text buffer and JSON string escaping (json.h).  Bytes
 * that are not valid UTF-8 become the text \xNN so the output is always
 * valid UTF-8 and no byte disappears.
 */
#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Makes room for N more bytes plus the NUL. Returns false (and sets oom). */
static bool
jbuf_reserve(struct jbuf *b, size_t n)
{
	if (b->oom)
		return false;
	if (n > SIZE_MAX / 2 - b->len - 1) {
		b->oom = true;
		return false;
	}
	size_t need = b->len + n + 1;
	if (need <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void
jbuf_reset(struct jbuf *b)
{
	b->len = 0;
	b->oom = false;
	if (b->p)
		b->p[0] = '\0';
}

void
jbuf_free(struct jbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	b->oom = false;
}

void
jbuf_add_grow(struct jbuf *b, const char *s, size_t n)
{
	if (!jbuf_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
jbuf_adds(struct jbuf *b, const char *s)
{
	jbuf_add(b, s, strlen(s));
}

/* Decimal digits of V, without snprintf (several per record). */
void
jbuf_u64(struct jbuf *b, uint64_t v)
{
	char tmp[24], *p = tmp + sizeof tmp;

	do
		*--p = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	jbuf_add(b, p, (size_t)(tmp + sizeof tmp - p));
}

void
jbuf_i64(struct jbuf *b, int64_t v)
{
	if (v < 0) {
		jbuf_add(b, "-", 1);
		jbuf_u64(b, 0 - (uint64_t)v);	/* INT64_MIN too */
	} else {
		jbuf_u64(b, (uint64_t)v);
	}
}

void
jbuf_printf(struct jbuf *b, const char *fmt, ...)
{
	va_list ap;
	char small[128];

	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = true;
		return;
	}
	if ((size_t)n < sizeof small) {
		jbuf_add(b, small, (size_t)n);
		return;
	}
	if (!jbuf_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/*
 * Length of the valid UTF-8 sequence at S (N bytes left), or 0 if the
 * byte at S does not start one.  Rejects overlong forms, surrogates and
 * code points above U+10FFFF (RFC 3629).
 */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	unsigned lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n < len)
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

void
jbuf_str(struct jbuf *b, const char *s, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, run = 0;

	jbuf_add(b, "\"", 1);
	while (i < n) {
		unsigned c = u[i];
		const char *esc = NULL;
		char tmp[8];

		/* Printable ASCII other than the quote and backslash: as is. */
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			i++;
			run++;
			continue;
		}
		size_t k = utf8_seq(u + i, n - i);

		if (k > 1 || (k == 1 && c >= 0x20 && c != '"' && c != '\\')) {
			i += k;
			run += k;
			continue;
		}
		/* Flush the run of bytes that need no escaping. */
		if (run)
			jbuf_add(b, s + i - run, run);
		run = 0;
		if (k == 0) {
			/* Not UTF-8: the text \xNN, its backslash escaped. */
			tmp[0] = '\\'; tmp[1] = '\\'; tmp[2] = 'x';
			tmp[3] = hx[c >> 4]; tmp[4] = hx[c & 15];
			jbuf_add(b, tmp, 5);
			i++;
			continue;
		}
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		default:
			tmp[0] = '\\'; tmp[1] = 'u'; tmp[2] = '0'; tmp[3] = '0';
			tmp[4] = hx[c >> 4]; tmp[5] = hx[c & 15];
			jbuf_add(b, tmp, 6);
			break;
		}
		if (esc)
			jbuf_adds(b, esc);
		i++;
	}
	if (run)
		jbuf_add(b, s + n - run, run);
	jbuf_add(b, "\"", 1);
}

void
jbuf_utf8(struct jbuf *b, const char *s, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, run = 0;

	while (i < n) {
		size_t k = utf8_seq(u + i, n - i);
		if (k) {
			i += k;
			run += k;
			continue;
		}
		if (run)
			jbuf_add(b, s + i - run, run);
		run = 0;
		char tmp[4] = { '\\', 'x', hx[u[i] >> 4], hx[u[i] & 15] };
		jbuf_add(b, tmp, 4);
		i++;
	}
	if (run)
		jbuf_add(b, s + n - run, run);
}

void
jbuf_strz(struct jbuf *b, const char *s)
{
	if (s)
		jbuf_str(b, s, strlen(s));
	else
		jbuf_add(b, "null", 4);
}

const char *
jbuf_text(const struct jbuf *b)
{
	return b->len ? b->p : "";
}
