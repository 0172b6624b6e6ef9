/* SPDX-License-Identifier: MIT */
/*
 * ctl_ocsf.c - records as OCSF 1.1.0 events (one JSON object per line):
 * Process Activity (1007), File System Activity (1001), Network Activity
 * (4001) and DNS Activity (4003); anything else (approvals, gaps, writer
 * lifecycle) as a Base Event (0) so the exported chain stays complete.
 * The chain hash is metadata.uid and the seq metadata.sequence.  The
 * mapping is documented in docs/auditctl.md ("OCSF").
 */
#include "cmd.h"

#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auditshim_config.h"

#define OCSF_VERSION "1.1.0"

/* Columns after RECORDS_SELECT's 25 (0..24): detail members. */
enum { X_FROM = 25, X_PID, X_ADDRS, X_CMDLINE };
#define XJ(k) "CASE WHEN json_valid(detail) THEN json_extract(detail, '$." k "') END"
const char ctl_ocsf_extra_cols[] =
	XJ("from") ", " XJ("pid") ", " XJ("addresses") ", "
	"CASE WHEN json_valid(argv) AND json_type(argv) = 'array' THEN"
	" (SELECT group_concat(value, ' ') FROM json_each(argv)) END";
#undef XJ

/* How one event name maps. */
struct ocsf_map {
	const char *event;	/* records.event */
	int class_uid;		/* OCSF class */
	int activity_id;	/* OCSF activity within the class */
	const char *activity;	/* its caption */
	int file_type;		/* file.type_id for file events (1 file, 2 folder, 7 link) */
};

static const struct ocsf_map maps[] = {
	{ "exec", 1007, 1, "Launch", 0 },
	{ "spawn", 1007, 1, "Launch", 0 },
	{ "image_start", 1007, 1, "Launch", 0 },
	{ "blind_spot", 1007, 1, "Launch", 0 },
	{ "open", 1001, 14, "Open", 1 },
	{ "mkdir", 1001, 1, "Create", 2 },
	{ "link", 1001, 1, "Create", 1 },
	{ "symlink", 1001, 1, "Create", 7 },
	{ "mknod", 1001, 1, "Create", 0 },
	{ "truncate", 1001, 3, "Update", 1 },
	{ "unlink", 1001, 4, "Delete", 0 },
	{ "rmdir", 1001, 4, "Delete", 2 },
	{ "rename", 1001, 5, "Rename", 0 },
	{ "chmod", 1001, 7, "Set Security", 0 },
	{ "chown", 1001, 7, "Set Security", 0 },
	{ "connect", 4001, 1, "Open", 0 },
	{ "bind", 4001, 99, "Other", 0 },
	{ "listen", 4001, 7, "Listen", 0 },
	{ "sendto", 4001, 6, "Traffic", 0 },
	{ "resolve", 4003, 2, "Response", 0 },
};

static const char *
class_name(int uid)
{
	switch (uid) {
	case 1001: return "File System Activity";
	case 1007: return "Process Activity";
	case 4001: return "Network Activity";
	case 4003: return "DNS Activity";
	default: return "Base Event";
	}
}

/* Column I as an int64_t (sqlite3_int64 is long long). */
static int64_t
ci(sqlite3_stmt *st, int i)
{
	return (int64_t)sqlite3_column_int64(st, i);
}

static const char *
col(sqlite3_stmt *st, int i, size_t *n)
{
	const char *s = (const char *)sqlite3_column_text(st, i);
	*n = s ? (size_t)sqlite3_column_bytes(st, i) : 0;
	return s;
}

/* "key": and a string (or nothing at all when the column is NULL). */
static void
kcol(struct jbuf *b, const char *key, sqlite3_stmt *st, int i)
{
	size_t n;
	const char *s = col(st, i, &n);

	if (!s)
		return;
	jbuf_printf(b, ",\"%s\":", key);
	jbuf_str(b, s, n);
}

static void
kstr(struct jbuf *b, const char *key, const char *s, size_t n)
{
	jbuf_printf(b, ",\"%s\":", key);
	jbuf_str(b, s, n);
}

/* Base name of PATH (N bytes). */
static const char *
base(const char *path, size_t n, size_t *bn)
{
	const char *s = path + n;
	while (s > path && s[-1] != '/')
		s--;
	*bn = n - (size_t)(s - path);
	return s;
}

/* A file object for PATH (N bytes). */
static void
file_obj(struct jbuf *b, const char *key, const char *path, size_t n,
	 int type_id)
{
	size_t bn;
	const char *nm = base(path, n, &bn);
	static const char *const tn[] = { "Unknown", "Regular File", "Folder",
					  "Character Device", "Block Device",
					  "Local Socket", "Named Pipe",
					  "Symbolic Link" };

	jbuf_printf(b, ",\"%s\":{\"name\":", key);
	jbuf_str(b, nm, bn);
	jbuf_adds(b, ",\"path\":");
	jbuf_str(b, path, n);
	jbuf_printf(b, ",\"type_id\":%d,\"type\":\"%s\"}", type_id, tn[type_id]);
}

/*
 * A network_endpoint for ADDR ("1.2.3.4:80", "[::1]:443", "/path",
 * "@name", a host name).
 */
static void
endpoint(struct jbuf *b, const char *key, const char *a, size_t n)
{
	jbuf_printf(b, ",\"%s\":{", key);
	const char *colon = n ? memrchr(a, ':', n) : NULL;
	if (n && (a[0] == '/' || a[0] == '@')) {
		jbuf_adds(b, "\"name\":");
		jbuf_str(b, a, n);
	} else if (colon && a[0] == '[' && colon > a && colon[-1] == ']') {
		jbuf_adds(b, "\"ip\":");
		jbuf_str(b, a + 1, (size_t)(colon - a) - 2);
		jbuf_printf(b, ",\"port\":%d", atoi(colon + 1));
	} else if (colon && memchr(a, ':', (size_t)(colon - a)) == NULL) {
		jbuf_adds(b, "\"ip\":");
		jbuf_str(b, a, (size_t)(colon - a));
		jbuf_printf(b, ",\"port\":%d", atoi(colon + 1));
	} else {
		jbuf_adds(b, "\"hostname\":");
		jbuf_str(b, a, n);
	}
	jbuf_add(b, "}", 1);
}

/* The host part of an address text, for DNS answers. */
static void
host_part(const char *a, size_t n, const char **h, size_t *hn)
{
	const char *colon = n ? memrchr(a, ':', n) : NULL;
	*h = a;
	*hn = n;
	if (colon && a[0] == '[' && colon > a && colon[-1] == ']') {
		*h = a + 1;
		*hn = (size_t)(colon - a) - 2;
	} else if (colon && memchr(a, ':', (size_t)(colon - a)) == NULL) {
		*hn = (size_t)(colon - a);
	}
}

/* User name of UID, cached for the last one asked. */
static const char *
user_name(int64_t uid)
{
	static int64_t last = -1;
	static char name[64];

	if (uid != last) {
		struct passwd *pw = getpwuid((uid_t)uid);
		snprintf(name, sizeof name, "%s", pw ? pw->pw_name : "");
		last = uid;
	}
	return name[0] ? name : NULL;
}

/* Milliseconds since the epoch of a stored time column, or -1. */
static int64_t
col_ms(sqlite3_stmt *st, int i)
{
	size_t n;
	const char *s = col(st, i, &n);
	int64_t us;

	if (!s || timespec_parse_stored(s, n, &us) < 0)
		return -1;
	return us / 1000 - (us % 1000 < 0);
}

void
ctl_ocsf_row(struct jbuf *b, sqlite3_stmt *st)
{
	size_t evn, tn, n;
	const char *ev = col(st, 11, &evn);
	const char *target = col(st, 13, &tn);
	const struct ocsf_map *m = NULL;
	static const struct ocsf_map other = { NULL, 0, 99, "Other", 0 };

	for (size_t i = 0; ev && i < sizeof maps / sizeof maps[0]; i++)
		if (strcmp(ev, maps[i].event) == 0)
			m = &maps[i];
	if (!m)
		m = &other;
	int activity = m->activity_id;
	const char *activity_name = m->activity;
	const char *result = (const char *)sqlite3_column_text(st, 16);
	bool failed = result && strcmp(result, "error") == 0;
	if (m->class_uid == 4001 && activity == 1 && failed) {
		activity = 4;
		activity_name = "Fail";
	}
	int category = m->class_uid / 1000;

	jbuf_printf(b, "{\"class_uid\":%d,\"class_name\":\"%s\","
		    "\"category_uid\":%d,\"category_name\":\"%s\","
		    "\"activity_id\":%d,\"activity_name\":\"%s\","
		    "\"type_uid\":%d,\"type_name\":\"%s: %s\"",
		    m->class_uid, class_name(m->class_uid), category,
		    category == 1 ? "System Activity" :
		    category == 4 ? "Network Activity" : "Uncategorized",
		    activity, activity_name, m->class_uid * 100 + activity,
		    class_name(m->class_uid), activity_name);

	int64_t t = col_ms(st, 1), lt = col_ms(st, 2);
	jbuf_printf(b, ",\"time\":%" PRId64, t >= 0 ? t : lt >= 0 ? lt : 0);

	static const char *const sev[] = { "info", "low", "medium", "high",
					   "critical" };
	static const char *const sevcap[] = { "Informational", "Low", "Medium",
					      "High", "Critical" };
	const char *s = (const char *)sqlite3_column_text(st, 18);
	int sid = 0;
	for (int i = 0; s && i < 5; i++)
		if (strcmp(s, sev[i]) == 0)
			sid = i + 1;
	jbuf_printf(b, ",\"severity_id\":%d,\"severity\":\"%s\"", sid,
		    sid ? sevcap[sid - 1] : "Unknown");
	if (result && strcmp(result, "ok") == 0)
		jbuf_adds(b, ",\"status_id\":1,\"status\":\"Success\"");
	else if (failed)
		jbuf_adds(b, ",\"status_id\":2,\"status\":\"Failure\"");
	else
		jbuf_adds(b, ",\"status_id\":99,\"status\":\"Attempt\"");
	kcol(b, "status_detail", st, 17);

	/* message: "event target" */
	jbuf_adds(b, ",\"message\":");
	{
		struct jbuf msg = { 0 };
		jbuf_add(&msg, ev ? ev : "?", ev ? evn : 1);
		if (target) {
			jbuf_add(&msg, " ", 1);
			jbuf_add(&msg, target, tn);
		}
		jbuf_str(b, msg.p ? msg.p : "", msg.len);
		jbuf_free(&msg);
	}

	/* metadata: the chain hash is the event's uid. */
	jbuf_printf(b, ",\"metadata\":{\"version\":\"" OCSF_VERSION "\","
		    "\"product\":{\"name\":\"auditshim\",\"vendor_name\":"
		    "\"auditshim\",\"version\":\"%s\"},\"log_name\":\"records\"",
		    AUDITSHIM_VERSION);
	if (sqlite3_column_type(st, 23) == SQLITE_BLOB) {
		jbuf_adds(b, ",\"uid\":\"");
		ctl_add_hex(b, sqlite3_column_blob(st, 23),
			    (size_t)sqlite3_column_bytes(st, 23));
		jbuf_adds(b, "\"");
	}
	jbuf_printf(b, ",\"sequence\":%" PRId64, ci(st, 0));
	kcol(b, "correlation_uid", st, 4);
	kcol(b, "original_time", st, 1);
	if (lt >= 0)
		jbuf_printf(b, ",\"logged_time\":%" PRId64, lt);
	jbuf_adds(b, ",\"labels\":[");
	{
		size_t cn;
		const char *c = col(st, 12, &cn);
		struct jbuf tmp = { 0 };
		jbuf_adds(&tmp, "class:");
		jbuf_add(&tmp, c ? c : "", cn);
		jbuf_str(b, tmp.p ? tmp.p : "", tmp.len);
		jbuf_free(&tmp);
	}
	jbuf_adds(b, "]}");

	/* device: the host the writer ran on. */
	jbuf_adds(b, ",\"device\":{\"type_id\":0,\"type\":\"Unknown\"");
	kcol(b, "hostname", st, 3);
	jbuf_adds(b, "}");

	/* actor: the kernel-attested process and user. */
	int64_t uid = ci(st, 8);
	bool has_uid = sqlite3_column_type(st, 8) == SQLITE_INTEGER;
	jbuf_adds(b, ",\"actor\":{\"process\":{");
	jbuf_printf(b, "\"pid\":%" PRId64, ci(st, 6));
	const char *exe = col(st, 10, &n);
	if (exe)
		file_obj(b, "file", exe, n, 1);
	if (sqlite3_column_type(st, 7) == SQLITE_INTEGER)
		jbuf_printf(b, ",\"parent_process\":{\"pid\":%" PRId64 "}",
			    ci(st, 7));
	jbuf_adds(b, "}");
	if (has_uid) {
		jbuf_printf(b, ",\"user\":{\"uid\":\"%" PRId64 "\"", uid);
		const char *un = user_name(uid);
		if (un)
			kstr(b, "name", un, strlen(un));
		jbuf_adds(b, "}");
	}
	if (sqlite3_column_type(st, 4) == SQLITE_TEXT) {
		/* Two statements: argument evaluation order is unspecified, so
		 * N could be read before col() sets it. */
		const char *sess = col(st, 4, &n);
		jbuf_adds(b, ",\"session\":{\"uid\":");
		jbuf_str(b, sess, n);
		jbuf_adds(b, "}");
	}
	kcol(b, "app_name", st, 5);
	jbuf_adds(b, "}");

	/* The class-specific objects. */
	switch (m->class_uid) {
	case 1007: {
		jbuf_adds(b, ",\"process\":{");
		if (strcmp(ev, "spawn") == 0 &&
		    sqlite3_column_type(st, X_PID) == SQLITE_INTEGER)
			jbuf_printf(b, "\"pid\":%" PRId64,
				    ci(st, X_PID));
		else
			jbuf_printf(b, "\"pid\":%" PRId64,
				    ci(st, 6));
		if (target)
			file_obj(b, "file", target, tn, 1);
		/* cmd_line: the stored argument vector joined by spaces
		 * (unquoted: the exact vector is unmapped.argv). */
		kcol(b, "cmd_line", st, X_CMDLINE);
		if (has_uid)
			jbuf_printf(b, ",\"user\":{\"uid\":\"%" PRId64 "\"}", uid);
		jbuf_adds(b, "}");
		break;
	}
	case 1001: {
		int ft = m->file_type;
		if (strcmp(ev, "rename") == 0) {
			const char *from = col(st, X_FROM, &n);
			if (from)
				file_obj(b, "file", from, n, ft);
			else if (target)
				file_obj(b, "file", target, tn, ft);
			if (target)
				file_obj(b, "file_result", target, tn, ft);
		} else if (target) {
			file_obj(b, "file", target, tn, ft);
		} else {
			jbuf_adds(b, ",\"file\":{\"name\":\"\",\"type_id\":0}");
		}
		break;
	}
	case 4001: {
		bool local = strcmp(ev, "bind") == 0 || strcmp(ev, "listen") == 0;
		if (local) {
			endpoint(b, "src_endpoint", target ? target : "", tn);
		} else {
			jbuf_adds(b, ",\"src_endpoint\":{");
			size_t hn;
			const char *h = col(st, 3, &hn);
			jbuf_adds(b, "\"hostname\":");
			jbuf_str(b, h ? h : "", hn);
			jbuf_adds(b, "}");
			endpoint(b, "dst_endpoint", target ? target : "", tn);
		}
		break;
	}
	case 4003: {
		jbuf_adds(b, ",\"query\":{\"hostname\":");
		jbuf_str(b, target ? target : "", tn);
		jbuf_adds(b, "},\"answers\":[");
		const char *addrs = col(st, X_ADDRS, &n);
		/* addresses is a JSON array of strings: walk its strings. */
		bool first = true;
		for (size_t i = 0; addrs && i < n; i++) {
			if (addrs[i] != '"')
				continue;
			size_t j = i + 1;
			while (j < n && addrs[j] != '"')
				j += addrs[j] == '\\' ? 2 : 1;
			if (j >= n)
				break;
			const char *h;
			size_t hn;
			host_part(addrs + i + 1, j - i - 1, &h, &hn);
			jbuf_adds(b, first ? "{\"rdata\":" : ",{\"rdata\":");
			jbuf_str(b, h, hn);
			jbuf_adds(b, "}");
			first = false;
			i = j;
		}
		jbuf_adds(b, "]");
		jbuf_printf(b, ",\"rcode_id\":%d,\"rcode\":\"%s\"",
			    failed ? 99 : 0, failed ? "Other" : "NoError");
		jbuf_adds(b, ",\"src_endpoint\":{\"hostname\":");
		size_t hn;
		const char *h = col(st, 3, &hn);
		jbuf_str(b, h ? h : "", hn);
		jbuf_adds(b, "}");
		break;
	}
	default:
		break;
	}

	/* unmapped: what OCSF has no place for, under the record's names. */
	jbuf_printf(b, ",\"unmapped\":{\"seq\":%" PRId64,
		    ci(st, 0));
	kcol(b, "event", st, 11);
	kcol(b, "class", st, 12);
	kcol(b, "target", st, 13);
	if (sqlite3_column_type(st, 9) == SQLITE_INTEGER)
		jbuf_printf(b, ",\"gid\":%" PRId64, ci(st, 9));
	const char *detail = col(st, 15, &n);
	if (detail && ctl_json_is((const unsigned char *)detail, n, '{')) {
		jbuf_adds(b, ",\"detail\":");
		jbuf_add(b, detail, n);
	} else if (detail) {
		kstr(b, "detail", detail, n);
	}
	const char *argv = col(st, 14, &n);
	if (argv && ctl_json_is((const unsigned char *)argv, n, '[')) {
		jbuf_adds(b, ",\"argv\":");
		jbuf_add(b, argv, n);
	}
	if (sqlite3_column_type(st, 19) == SQLITE_INTEGER)
		jbuf_printf(b, ",\"pseq\":%" PRId64, ci(st, 19));
	kcol(b, "image", st, 20);
	jbuf_printf(b, ",\"key_epoch\":%" PRId64, ci(st, 21));
	static const struct { int col; const char *name; } hx[] = {
		{ 22, "prev_hash" }, { 23, "hash" }, { 24, "mac" },
	};
	for (size_t i = 0; i < 3; i++) {
		if (sqlite3_column_type(st, hx[i].col) != SQLITE_BLOB)
			continue;
		jbuf_printf(b, ",\"%s\":\"", hx[i].name);
		ctl_add_hex(b, sqlite3_column_blob(st, hx[i].col),
			    (size_t)sqlite3_column_bytes(st, hx[i].col));
		jbuf_adds(b, "\"");
	}
	jbuf_adds(b, "}}");
}
