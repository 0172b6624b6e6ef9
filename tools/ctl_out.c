/* SPDX-License-Identifier: MIT */
/*
 * ctl_out.c - how auditctl writes records: NDJSON and CSV with the field
 * names of docs/auditctl.md, the aligned table of `query` and the lines of
 * `tail`; OCSF lives in ctl_ocsf.c.  One reused row buffer per writer, so
 * memory stays flat however many rows stream through.
 */
#include "cmd.h"

#include <err.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "records.h"


/* How a column is written. */
enum out_kind {
	O_INT,		/* number, or null */
	O_TEXT,		/* string, or null */
	O_ARRAY,	/* stored JSON array text, or null */
	O_OBJECT,	/* stored JSON object text, or null */
	O_HEX,		/* blob as lower-case hex string */
};

/* The exported fields: the columns of RECORDS_SELECT, in that order. */
static const struct {
	const char *name;	/* field name: the export contract */
	const char *key;	/* "name": prefix for NDJSON */
	size_t keylen;		/* its length */
	enum out_kind kind;	/* how it is written */
} fields[] = {
#define F(n, k) { n, "\"" n "\":", sizeof("\"" n "\":") - 1, k }
	F("seq", O_INT), F("time", O_TEXT), F("recv_time", O_TEXT),
	F("host", O_TEXT), F("session", O_TEXT), F("agent", O_TEXT),
	F("pid", O_INT), F("ppid", O_INT), F("uid", O_INT), F("gid", O_INT),
	F("exe", O_TEXT), F("event", O_TEXT), F("class", O_TEXT),
	F("target", O_TEXT), F("argv", O_ARRAY), F("detail", O_OBJECT),
	F("result", O_TEXT), F("errno", O_TEXT), F("severity", O_TEXT),
	F("pseq", O_INT), F("image", O_TEXT), F("key_epoch", O_INT),
	F("prev_hash", O_HEX), F("hash", O_HEX), F("mac", O_HEX),
#undef F
};
#define NFIELDS ((int)(sizeof fields / sizeof fields[0]))

/*
 * Length of the well-formed UTF-8 sequence at S (N bytes left), or 0 if
 * the byte at S does not start one (overlongs, surrogates and code points
 * above U+10FFFF are not well-formed).
 */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f))
			return 0;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))
			return 0;
		return 4;
	}
	return 0;
}

/*
 * A strict JSON syntax check (RFC 8259, well-formed UTF-8, bounded depth)
 * of stored argv/detail text, so that a damaged or tampered value cannot
 * break the surrounding NDJSON line.  P advances over what was accepted.
 */
struct jscan {
	const unsigned char *p;		/* next byte */
	const unsigned char *end;	/* one past the last byte */
	int depth;			/* nesting level */
};

static void
js_ws(struct jscan *j)
{
	while (j->p < j->end &&
	       (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static bool
js_hex4(struct jscan *j)
{
	for (int i = 0; i < 4; i++, j->p++) {
		unsigned c = j->p < j->end ? *j->p : 0;
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		      (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

static bool
js_string(struct jscan *j)
{
	j->p++;		/* opening quote */
	while (j->p < j->end) {
		unsigned c = *j->p;
		if (c == '"') {
			j->p++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c == '\\') {
			j->p++;
			if (j->p >= j->end)
				return false;
			c = *j->p;
			if (c == 'u') {
				j->p++;
				if (!js_hex4(j))
					return false;
				continue;
			}
			if (!strchr("\"\\/bfnrt", (int)c) || c == '\0')
				return false;
			j->p++;
			continue;
		}
		size_t k = utf8_len(j->p, (size_t)(j->end - j->p));
		if (k == 0)
			return false;
		j->p += k;
	}
	return false;
}

static bool
js_digits(struct jscan *j)
{
	const unsigned char *s = j->p;
	while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
		j->p++;
	return j->p > s;
}

static bool
js_number(struct jscan *j)
{
	if (*j->p == '-')
		j->p++;
	if (j->p < j->end && *j->p == '0')
		j->p++;
	else if (!js_digits(j))
		return false;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (!js_digits(j))
			return false;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (!js_digits(j))
			return false;
	}
	return true;
}

static bool
js_lit(struct jscan *j, const char *w)
{
	size_t n = strlen(w);
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0)
		return false;
	j->p += n;
	return true;
}

static bool js_value(struct jscan *j);

/* An array or object; OPEN is '[' or '{'. */
static bool
js_container(struct jscan *j, unsigned char open)
{
	unsigned char close = open == '[' ? ']' : '}';

	if (++j->depth > 64)
		return false;
	j->p++;
	js_ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		j->depth--;
		return true;
	}
	for (;;) {
		if (open == '{') {
			if (j->p >= j->end || *j->p != '"' || !js_string(j))
				return false;
			js_ws(j);
			if (j->p >= j->end || *j->p != ':')
				return false;
			j->p++;
		}
		if (!js_value(j))
			return false;
		js_ws(j);
		if (j->p >= j->end)
			return false;
		if (*j->p == close) {
			j->p++;
			j->depth--;
			return true;
		}
		if (*j->p != ',')
			return false;
		j->p++;
		js_ws(j);
	}
}

static bool
js_value(struct jscan *j)
{
	js_ws(j);
	if (j->p >= j->end)
		return false;
	switch (*j->p) {
	case '[':
	case '{':
		return js_container(j, *j->p);
	case '"':
		return js_string(j);
	case 't':
		return js_lit(j, "true");
	case 'f':
		return js_lit(j, "false");
	case 'n':
		return js_lit(j, "null");
	default:
		if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9'))
			return js_number(j);
		return false;
	}
}

bool
ctl_json_is(const unsigned char *s, size_t n, unsigned char open)
{
	struct jscan j = { s, s + n, 0 };

	js_ws(&j);
	if (j.p >= j.end || *j.p != open || !js_value(&j))
		return false;
	js_ws(&j);
	return j.p == j.end;
}

void
ctl_add_hex(struct jbuf *b, const unsigned char *p, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	char tmp[128];

	while (n > 0) {
		size_t k = n > sizeof tmp / 2 ? sizeof tmp / 2 : n;
		for (size_t i = 0; i < k; i++) {
			tmp[2 * i] = hx[p[i] >> 4];
			tmp[2 * i + 1] = hx[p[i] & 15];
		}
		jbuf_add(b, tmp, 2 * k);
		p += k;
		n -= k;
	}
}

/* Appends column I of the current row as a JSON value. */
static void
json_field(struct jbuf *b, sqlite3_stmt *st, int i, int64_t seq)
{
	int t = sqlite3_column_type(st, i);

	if (t == SQLITE_NULL) {
		jbuf_add(b, "null", 4);
		return;
	}
	switch (fields[i].kind) {
	case O_INT:
		if (t == SQLITE_INTEGER) {
			jbuf_i64(b, sqlite3_column_int64(st, i));
			return;
		}
		break;
	case O_HEX:
		if (t == SQLITE_BLOB) {
			const unsigned char *p = sqlite3_column_blob(st, i);
			size_t n = (size_t)sqlite3_column_bytes(st, i);
			jbuf_add(b, "\"", 1);
			ctl_add_hex(b, p, n);
			jbuf_add(b, "\"", 1);
			return;
		}
		break;
	case O_ARRAY:
	case O_OBJECT:
		if (t == SQLITE_TEXT) {
			const unsigned char *s = sqlite3_column_text(st, i);
			size_t n = (size_t)sqlite3_column_bytes(st, i);
			if (ctl_json_is(s, n, fields[i].kind == O_ARRAY ? '[' : '{')) {
				jbuf_add(b, (const char *)s, n);
				return;
			}
		}
		warnx("entry %" PRId64 ": %s is not a JSON %s; exported as a "
		      "string", seq, fields[i].name,
		      fields[i].kind == O_ARRAY ? "array" : "object");
		break;
	case O_TEXT:
		break;
	}
	/* Text, or a value stored with an unexpected type: as a string. */
	const char *s = (const char *)sqlite3_column_text(st, i);
	jbuf_str(b, s ? s : "", (size_t)sqlite3_column_bytes(st, i));
}

void
ctl_csv_text(struct jbuf *b, const unsigned char *s, size_t n)
{
	bool quote = n == 0;	/* "" is the empty string; nothing is NULL */
	bool clean = true;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
			quote = true;
		if (s[i] >= 0x80 || s[i] == '\0')
			clean = false;
	}
	if (quote)
		jbuf_add(b, "\"", 1);
	if (clean && !quote) {
		jbuf_add(b, (const char *)s, n);
	} else {
		/*
		 * Double quotes; write bytes that are not well-formed UTF-8
		 * (and NUL) as the text \xNN, as the JSON export does.
		 */
		size_t i = 0, run = 0;
		while (i < n) {
			size_t k = s[i] == '\0' ? 0 : utf8_len(s + i, n - i);
			if (k == 1 && s[i] == '"') {
				jbuf_add(b, (const char *)s + run, i + 1 - run);
				jbuf_add(b, "\"", 1);
				i++;
				run = i;
			} else if (k == 0) {
				char tmp[5];
				jbuf_add(b, (const char *)s + run, i - run);
				snprintf(tmp, sizeof tmp, "\\x%02x", s[i]);
				jbuf_add(b, tmp, 4);
				i++;
				run = i;
			} else {
				i += k;
			}
		}
		jbuf_add(b, (const char *)s + run, n - run);
	}
	if (quote)
		jbuf_add(b, "\"", 1);
}

/* Appends column I of the current row as a CSV field. */

/* Appends column I of the current row as a CSV field. */
static void
csv_field(struct jbuf *b, sqlite3_stmt *st, int i)
{
	int t = sqlite3_column_type(st, i);

	if (t == SQLITE_NULL)
		return;
	if (t == SQLITE_INTEGER) {
		jbuf_i64(b, sqlite3_column_int64(st, i));
		return;
	}
	if (t == SQLITE_BLOB && fields[i].kind == O_HEX) {
		ctl_add_hex(b, sqlite3_column_blob(st, i),
			    (size_t)sqlite3_column_bytes(st, i));
		return;
	}
	const unsigned char *s = sqlite3_column_text(st, i);
	ctl_csv_text(b, s ? s : (const unsigned char *)"",
		     (size_t)sqlite3_column_bytes(st, i));
}

void
ctl_add_printable(struct jbuf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, run = 0;

	while (i < n) {
		size_t k = u[i] < 0x20 || u[i] == 0x7f ? 0 : utf8_len(u + i, n - i);
		if (k == 0) {
			char tmp[5];
			jbuf_add(b, s + run, i - run);
			snprintf(tmp, sizeof tmp, "\\x%02x", u[i]);
			jbuf_add(b, tmp, 4);
			run = ++i;
		} else {
			i += k;
		}
	}
	jbuf_add(b, s + run, n - run);
}

/* Appends column I as text for a terminal, "-" for NULL, padded to W. */
static void
line_col(struct jbuf *b, sqlite3_stmt *st, int i, int w, bool right)
{
	const char *s = (const char *)sqlite3_column_text(st, i);
	size_t n = s ? (size_t)sqlite3_column_bytes(st, i) : 1;
	size_t before = b->len;

	if (!s)
		s = "-";
	if (right)
		for (int k = (int)n; k < w; k++)
			jbuf_add(b, " ", 1);
	ctl_add_printable(b, s, n);
	if (!right)
		for (int k = (int)(b->len - before); k < w; k++)
			jbuf_add(b, " ", 1);
}

void
ctl_out_header(struct jbuf *b)
{
	jbuf_adds(b, "     SEQ TIME (UTC)           SESSION      PID EVENT       "
		  "CLASS         RESULT  SEVERITY TARGET");
}

void
ctl_out_line(struct jbuf *b, sqlite3_stmt *st)
{
	/* seq, time to the second, session, pid, event, class, result,
	 * severity, then target (or the argument vector of an exec). */
	line_col(b, st, 0, 8, true);
	jbuf_add(b, " ", 1);
	const char *t = (const char *)sqlite3_column_text(st, 1);
	if (t && sqlite3_column_bytes(st, 1) >= 19) {
		jbuf_add(b, t, 10);
		jbuf_add(b, " ", 1);
		jbuf_add(b, t + 11, 8);
		jbuf_add(b, "Z", 1);
	} else {
		line_col(b, st, 1, 20, false);
	}
	jbuf_add(b, " ", 1);
	line_col(b, st, 4, 8, false);
	jbuf_add(b, " ", 1);
	line_col(b, st, 6, 7, true);
	jbuf_add(b, " ", 1);
	line_col(b, st, 11, 11, false);
	jbuf_add(b, " ", 1);
	line_col(b, st, 12, 13, false);
	jbuf_add(b, " ", 1);
	line_col(b, st, 16, 7, false);
	jbuf_add(b, " ", 1);
	line_col(b, st, 18, 8, false);
	jbuf_add(b, " ", 1);
	line_col(b, st, 13, 0, false);
	const char *errn = (const char *)sqlite3_column_text(st, 17);
	if (errn) {
		jbuf_add(b, " (", 2);
		ctl_add_printable(b, errn, (size_t)sqlite3_column_bytes(st, 17));
		jbuf_add(b, ")", 1);
	}
	const char *argv = (const char *)sqlite3_column_text(st, 14);
	if (argv) {
		jbuf_add(b, " ", 1);
		size_t n = (size_t)sqlite3_column_bytes(st, 14);
		ctl_add_printable(b, argv, n > 200 ? 200 : n);
		if (n > 200)
			jbuf_adds(b, "...");
	}
}

int
ctl_format_parse(const char *s, bool allow_table, enum ctl_format *f)
{
	if (allow_table && strcmp(s, "table") == 0)
		*f = CTL_FMT_TABLE;
	else if (strcmp(s, "ndjson") == 0 || strcmp(s, "json") == 0)
		*f = CTL_FMT_NDJSON;
	else if (strcmp(s, "csv") == 0)
		*f = CTL_FMT_CSV;
	else if (strcmp(s, "ocsf") == 0)
		*f = CTL_FMT_OCSF;
	else
		return -1;
	return 0;
}

/* RECORDS_SELECT's column list (without "SELECT " and " FROM records"). */
#define COLS_ALL \
	"seq, time, recv_time, host, session, agent, pid, ppid, uid," \
	" gid, exe, event, class, target, argv, detail, result, errno," \
	" severity, pseq, image, key_epoch, prev_hash, hash, mac"

const char *
ctl_format_columns(enum ctl_format f)
{
	static char ocsf[1024];

	if (f != CTL_FMT_OCSF)
		return COLS_ALL;
	if (!ocsf[0])
		snprintf(ocsf, sizeof ocsf, "%s, %s", COLS_ALL,
			 ctl_ocsf_extra_cols);
	return ocsf;
}

struct ctl_out {
	enum ctl_format fmt;	/* what to write */
	struct jbuf b;		/* the row being built, reused */
	bool started;		/* header written */
	int64_t rows;		/* rows written */
};

int64_t
ctl_out_rows(const struct ctl_out *o)
{
	return o->rows;
}

int
ctl_out_csv_header(void)
{
	for (int i = 0; i < NFIELDS; i++)
		if (fputs(fields[i].name, stdout) == EOF ||
		    fputs(i + 1 < NFIELDS ? "," : "\r\n", stdout) == EOF) {
			warn("stdout");
			return -1;
		}
	return 0;
}

struct ctl_out *
ctl_out_new(enum ctl_format f)
{
	struct ctl_out *o = calloc(1, sizeof *o);

	if (o)
		o->fmt = f;
	return o;
}

void
ctl_out_free(struct ctl_out *o)
{
	if (!o)
		return;
	jbuf_free(&o->b);
	free(o);
}

int
ctl_out_row(struct ctl_out *o, sqlite3_stmt *st)
{
	struct jbuf *b = &o->b;
	int64_t seq = sqlite3_column_int64(st, 0);

	jbuf_reset(b);
	if (!o->started) {
		o->started = true;
		if (o->fmt == CTL_FMT_CSV) {
			for (int i = 0; i < NFIELDS; i++) {
				jbuf_adds(b, fields[i].name);
				jbuf_adds(b, i + 1 < NFIELDS ? "," : "\r\n");
			}
		} else if (o->fmt == CTL_FMT_TABLE) {
			ctl_out_header(b);
			jbuf_add(b, "\n", 1);
		}
	}
	switch (o->fmt) {
	case CTL_FMT_CSV:
		for (int i = 0; i < NFIELDS; i++) {
			if (i > 0)
				jbuf_add(b, ",", 1);
			csv_field(b, st, i);
		}
		jbuf_adds(b, "\r\n");
		break;
	case CTL_FMT_NDJSON:
		for (int i = 0; i < NFIELDS; i++) {
			jbuf_add(b, i == 0 ? "{" : ",", 1);
			jbuf_add(b, fields[i].key, fields[i].keylen);
			json_field(b, st, i, seq);
		}
		jbuf_adds(b, "}\n");
		break;
	case CTL_FMT_OCSF:
		ctl_ocsf_row(b, st);
		jbuf_add(b, "\n", 1);
		break;
	case CTL_FMT_TABLE:
		ctl_out_line(b, st);
		jbuf_add(b, "\n", 1);
		break;
	}
	if (b->oom) {
		warnx("out of memory (entry %" PRId64 ")", seq);
		return -1;
	}
	if (fwrite(b->p, 1, b->len, stdout) != b->len) {
		warn("stdout");
		return -1;
	}
	o->rows++;
	return 0;
}
