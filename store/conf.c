/* SPDX-License-Identifier: MIT */
/*
 * conf.c - the INI configuration (conf.h), parsed with inih.  Sections are
 * dispatched through a table (exact names, or "prefix:" for families such
 * as [policy:NAME]); each section owns a key table, so adding a section is
 * one table entry and one handler.
 */
#include "conf.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "auditshim_config.h"
#include "rules.h"

/* Longest configuration line accepted (inih's compiled default is 200). */
#define CONF_MAX_LINE 8192

/* Parser state handed through inih to the handlers. */
struct conf_parse {
	struct conf *c;		/* destination */
	int rc;			/* first error (0 while none) */
	char why[256];		/* its reason, without file and line */
	unsigned seen_writer;	/* bit per [writer] key already set */
	unsigned seen_alerts;	/* bit per [alerts] key already set */
	const char *file;	/* file name for rule messages (interned) */
	unsigned only;		/* built-in pass: RULES_FAM_* to take, else 0 */
	struct conf_reader *rd;	/* line counter */
};

/* An ini_reader over a FILE or a string that counts lines: Debian 12's
 * inih passes no line number to the handler, and rules need theirs. */
struct conf_reader {
	FILE *f;		/* source, or NULL for S */
	const char *s;		/* rest of the string source */
	unsigned nl;		/* newlines returned so far */
	bool partial;		/* the last chunk did not end its line */
	unsigned section_line;	/* line of the last "[section]" header */
};

/* How one key's value is stored. */
enum conf_type {
	CT_STRING,		/* char * member, replaced */
	CT_UINT,		/* unsigned member within [min, max] */
	CT_BOOL,		/* bool member: yes/no, true/false, on/off, 1/0 */
	CT_SEVERITY,		/* unsigned member: low, medium, high, critical */
	CT_DISK_FULL,		/* unsigned member: hold, exec, stop */
};

struct conf_key {
	const char *name;	/* key name */
	enum conf_type type;	/* value syntax */
	size_t offset;		/* member in struct conf */
	unsigned long min, max;	/* CT_UINT range */
};

static const struct conf_key writer_keys[] = {
	{ "socket", CT_STRING, offsetof(struct conf, socket), 0, 0 },
	{ "database", CT_STRING, offsetof(struct conf, database), 0, 0 },
	{ "key", CT_STRING, offsetof(struct conf, key), 0, 0 },
	{ "commit_interval_ms", CT_UINT,
	  offsetof(struct conf, commit_interval_ms), 1, 60000 },
	{ "commit_max", CT_UINT, offsetof(struct conf, commit_max), 1, 100000 },
	{ "disk_full_action", CT_DISK_FULL,
	  offsetof(struct conf, disk_full_action), 0, 0 },
	{ "disk_full_command", CT_STRING,
	  offsetof(struct conf, disk_full_command), 0, 0 },
	{ "priority_boost", CT_UINT, offsetof(struct conf, priority_boost), 0, 20 },
	{ "read_delay_ms", CT_UINT, offsetof(struct conf, read_delay_ms), 0, 1000 },
};

static const struct conf_key alerts_keys[] = {
	{ "syslog", CT_BOOL, offsetof(struct conf, alert_syslog), 0, 0 },
	{ "syslog_socket", CT_STRING, offsetof(struct conf, alert_syslog_socket),
	  0, 0 },
	{ "file", CT_STRING, offsetof(struct conf, alert_file), 0, 0 },
	{ "command", CT_STRING, offsetof(struct conf, alert_command), 0, 0 },
	{ "min_severity", CT_SEVERITY,
	  offsetof(struct conf, alert_min_severity), 0, 0 },
	{ "rate", CT_UINT, offsetof(struct conf, alert_rate), 1, 100000 },
	{ "burst", CT_UINT, offsetof(struct conf, alert_burst), 1, 100000 },
	{ "queue", CT_UINT, offsetof(struct conf, alert_queue), 1, 1000000 },
	{ "summary_interval", CT_UINT, offsetof(struct conf, alert_summary_s),
	  1, 86400 },
};

/* A section handler: 0, or -EINVAL with a reason written to WHY. */
typedef int (*conf_section_fn)(struct conf_parse *p, const char *section,
			       const char *name, const char *value,
			       char *why, size_t whylen);

struct conf_section {
	const char *name;	/* "writer"; or "policy:" when prefix */
	bool prefix;		/* NAME matches any section starting with it */
	conf_section_fn fn;	/* key handler */
};

int
conf_set(char **dst, const char *val)
{
	char *s = strdup(val);
	if (!s)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

/* Parses a decimal unsigned in [MIN, MAX]; false on any junk. */
static bool
parse_uint(const char *s, unsigned long min, unsigned long max,
	   unsigned long *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* Applies NAME = VALUE from KEYS (N of them) to the struct; SEEN dedups. */
static int
apply_key(struct conf_parse *p, const struct conf_key *keys, size_t n,
	  unsigned *seen, const char *section, const char *name,
	  const char *value, char *why, size_t whylen)
{
	for (size_t i = 0; i < n; i++) {
		const struct conf_key *k = &keys[i];
		char *base = (char *)p->c;
		unsigned long v;

		if (strcmp(k->name, name) != 0)
			continue;
		if (*seen & (1u << i)) {
			snprintf(why, whylen, "duplicate key '%s' in [%s]",
				 name, section);
			return -EINVAL;
		}
		*seen |= 1u << i;
		switch (k->type) {
		case CT_STRING:
			if (*value == '\0') {
				snprintf(why, whylen, "empty value for '%s'", name);
				return -EINVAL;
			}
			if (conf_set((char **)(base + k->offset), value) < 0) {
				snprintf(why, whylen, "out of memory");
				return -ENOMEM;
			}
			return 0;
		case CT_UINT:
			if (!parse_uint(value, k->min, k->max, &v)) {
				snprintf(why, whylen,
					 "bad value for '%s': '%s' (want an integer %lu..%lu)",
					 name, value, k->min, k->max);
				return -EINVAL;
			}
			*(unsigned *)(base + k->offset) = (unsigned)v;
			return 0;
		case CT_BOOL: {
			static const char *const yes[] = { "yes", "true", "on", "1" };
			static const char *const no[] = { "no", "false", "off", "0" };
			for (size_t j = 0; j < 4; j++) {
				if (strcmp(value, yes[j]) == 0) {
					*(bool *)(base + k->offset) = true;
					return 0;
				}
				if (strcmp(value, no[j]) == 0) {
					*(bool *)(base + k->offset) = false;
					return 0;
				}
			}
			snprintf(why, whylen, "bad value for '%s': '%s' (want yes or no)",
				 name, value);
			return -EINVAL;
		}
		case CT_SEVERITY: {
			int sv = rules_severity_parse(value);
			if (sv < 0) {
				snprintf(why, whylen, "bad value for '%s': '%s' (want low, "
					 "medium, high or critical)", name, value);
				return -EINVAL;
			}
			*(unsigned *)(base + k->offset) = (unsigned)sv;
			return 0;
		}
		case CT_DISK_FULL: {
			static const char *const names[] = { "hold", "exec", "stop" };
			for (unsigned j = 0; j < 3; j++)
				if (strcmp(value, names[j]) == 0) {
					*(unsigned *)(base + k->offset) = j;
					return 0;
				}
			snprintf(why, whylen, "bad value for '%s': '%s' (want hold, "
				 "exec or stop)", name, value);
			return -EINVAL;
		}
		}
	}
	snprintf(why, whylen, "unknown key '%s' in [%s]", name, section);
	return -EINVAL;
}

static int
section_writer(struct conf_parse *p, const char *section, const char *name,
	       const char *value, char *why, size_t whylen)
{
	return apply_key(p, writer_keys, sizeof writer_keys / sizeof writer_keys[0],
			 &p->seen_writer, section, name, value, why, whylen);
}

static int
section_alerts(struct conf_parse *p, const char *section, const char *name,
	       const char *value, char *why, size_t whylen)
{
	return apply_key(p, alerts_keys, sizeof alerts_keys / sizeof alerts_keys[0],
			 &p->seen_alerts, section, name, value, why, whylen);
}

/* Current line: the handler runs once its line has been read whole. */
static unsigned
conf_line(const struct conf_parse *p)
{
	return p->rd->nl + (p->rd->partial ? 1 : 0);
}

/* [classify:NAME], [policy], [policy:NAME], [redact]: rules.c. */
static int
section_rules(struct conf_parse *p, const char *section, const char *name,
	      const char *value, char *why, size_t whylen)
{
	if (!p->c->rules) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	return rules_conf_key(p->c->rules, section, name, value, p->file,
			      p->rd->section_line, conf_line(p), why, whylen);
}

/* Known sections (docs/policy.md for the rule families). */
static const struct conf_section conf_sections[] = {
	{ "writer", false, section_writer },
	{ "alerts", false, section_alerts },
	{ "classify:", true, section_rules },
	{ "policy", false, section_rules },
	{ "policy:", true, section_rules },
	{ "redact", false, section_rules },
};

/* The RULES_FAM_* bit of SECTION, or 0 for settings sections. */
static unsigned
section_family(const char *section)
{
	if (strncmp(section, "classify:", 9) == 0)
		return RULES_FAM_CLASSIFY;
	if (strncmp(section, "policy:", 7) == 0)
		return RULES_FAM_POLICY;
	if (strcmp(section, "redact") == 0)
		return RULES_FAM_REDACT;
	return 0;
}

static const struct conf_section *
find_section(const char *name)
{
	for (size_t i = 0; i < sizeof conf_sections / sizeof conf_sections[0]; i++) {
		const struct conf_section *s = &conf_sections[i];
		if (s->prefix ? strncmp(name, s->name, strlen(s->name)) == 0 &&
					name[strlen(s->name)] != '\0'
			      : strcmp(name, s->name) == 0)
			return s;
	}
	return NULL;
}

/*
 * inih callback: returns 1 to go on, 0 to report an error on this line
 * (inih then returns the line number; Debian 12's r55 passes none here).
 */
static int
conf_handler(void *user, const char *section, const char *name,
	     const char *value)
{
	struct conf_parse *p = user;
	int rc;

	if (p->rc)
		return 0;
	/* Built-in pass: only the families the file left out. */
	if (p->only && !(section_family(section) & p->only))
		return 1;
	const struct conf_section *s = find_section(section);
	if (!s) {
		if (*section == '\0')
			snprintf(p->why, sizeof p->why,
				 "key '%s' outside any section", name);
		else
			snprintf(p->why, sizeof p->why, "unknown section [%s]",
				 section);
		rc = -EINVAL;
	} else {
		rc = s->fn(p, section, name, value, p->why, sizeof p->why);
	}
	if (rc < 0) {
		p->rc = rc;
		return 0;
	}
	return 1;
}

static char *
conf_read(char *str, int num, void *stream)
{
	struct conf_reader *r = stream;
	char *p = str;

	if (r->f) {
		p = fgets(str, num, r->f);
	} else {
		size_t k = 0;
		if (!*r->s)
			return NULL;
		while (k + 1 < (size_t)num && r->s[k]) {
			str[k] = r->s[k];
			if (r->s[k++] == '\n')
				break;
		}
		str[k] = '\0';
		r->s += k;
	}
	if (p) {
		size_t len = strlen(p);
		if (!r->partial && p[strspn(p, " \t")] == '[')
			r->section_line = r->nl + 1;
		r->partial = !(len && p[len - 1] == '\n');
		if (!r->partial)
			r->nl++;
	}
	return p;
}

/* Parses from RD into C; returns inih's result (0, line, or < 0). */
static int
conf_parse(struct conf_parse *p, struct conf_reader *rd)
{
	p->rd = rd;
	/* Long lines whole (never split into two keys); no continuation
	 * lines; stop at the first problem. */
	ini_use_stack = false;
	ini_allow_realloc = true;
	ini_max_line = CONF_MAX_LINE;
	ini_allow_multiline = false;
	ini_stop_on_first_error = true;
	return ini_parse_stream(conf_read, rd, conf_handler, p);
}

int
conf_defaults(struct conf *c)
{
	memset(c, 0, sizeof *c);
	c->commit_interval_ms = 10;
	c->commit_max = 1000;
	c->priority_boost = 10;
	c->read_delay_ms = 5;
	c->alert_syslog = true;
	c->alert_min_severity = RS_LOW;
	c->alert_rate = 10;
	c->alert_burst = 50;
	c->alert_queue = 1024;
	c->alert_summary_s = 60;
	c->rules = rules_new();
	if (!c->rules || conf_set(&c->socket, AUDITSHIM_DEFAULT_SOCKET) < 0 ||
	    conf_set(&c->alert_syslog_socket, "/dev/log") < 0 ||
	    conf_set(&c->database, AUDITSHIM_DEFAULT_DB) < 0 ||
	    conf_set(&c->key, AUDITSHIM_DEFAULT_KEY) < 0) {
		conf_free(c);
		return -ENOMEM;
	}
	return 0;
}

int
conf_load(struct conf *c, const char *path, char *err, size_t errlen)
{
	struct conf_parse p = { .c = c };
	struct conf_reader rd = { 0 };
	int rc = 0;

	if (errlen)
		err[0] = '\0';
	FILE *f = fopen(path, "re");
	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	p.file = c->rules ? rules_file(c->rules, path) : NULL;
	if (c->rules && !p.file) {
		rc = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", path);
		goto out_close;
	}
	rd.f = f;
	int line = conf_parse(&p, &rd);
	if (line < 0) {
		rc = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", path);
		goto out_close;
	}
	if (p.rc) {
		rc = p.rc;
		snprintf(err, errlen, "%s:%d: %s", path, line, p.why);
		goto out_close;
	}
	if (ferror(f)) {
		rc = -EIO;
		snprintf(err, errlen, "%s: read error", path);
		goto out_close;
	}
	if (line > 0) {
		rc = -EINVAL;
		snprintf(err, errlen,
			 "%s:%d: syntax error (expected [section] or key = value)",
			 path, line);
		goto out_close;
	}
	if (conf_set(&c->source, path) < 0) {
		rc = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", path);
	}
out_close:
	fclose(f);
	return rc;
}

int
conf_finish(struct conf *c, char *err, size_t errlen)
{
	struct conf_parse p = { .c = c };
	struct conf_reader rd = { .s = conf_default_ini };

	if (errlen)
		err[0] = '\0';
	if (!c->rules) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (c->disk_full_action == DF_EXEC && !c->disk_full_command) {
		snprintf(err, errlen, "%s: [writer] disk_full_action = exec needs "
			 "disk_full_command", c->source ? c->source : "defaults");
		return -EINVAL;
	}
	p.only = (RULES_FAM_CLASSIFY | RULES_FAM_POLICY | RULES_FAM_REDACT) &
		 ~rules_families(c->rules);
	if (p.only) {
		p.file = rules_file(c->rules, CONF_DEFAULT_NAME);
		if (!p.file) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		int line = conf_parse(&p, &rd);
		if (line != 0) {
			/* The shipped file is tested; this is a build problem. */
			snprintf(err, errlen, "%s:%d: %s", CONF_DEFAULT_NAME, line,
				 p.rc ? p.why : "syntax error");
			return p.rc ? p.rc : -EINVAL;
		}
	}
	return rules_compile(c->rules, err, errlen);
}

const char *
conf_writer_diff(const struct conf *a, const struct conf *b)
{
	for (size_t i = 0; i < sizeof writer_keys / sizeof writer_keys[0]; i++) {
		const struct conf_key *k = &writer_keys[i];
		const void *x = (const char *)a + k->offset;
		const void *y = (const char *)b + k->offset;
		bool same;

		if (k->type == CT_STRING) {
			const char *sx = *(char *const *)x, *sy = *(char *const *)y;
			same = sx == sy || (sx && sy && strcmp(sx, sy) == 0);
		} else {
			same = *(const unsigned *)x == *(const unsigned *)y;
		}
		if (!same)
			return k->name;
	}
	return NULL;
}

void
conf_free(struct conf *c)
{
	free(c->socket);
	free(c->database);
	free(c->key);
	free(c->source);
	free(c->alert_syslog_socket);
	free(c->alert_file);
	free(c->alert_command);
	free(c->disk_full_command);
	rules_free(c->rules);
	c->disk_full_command = NULL;
	c->socket = c->database = c->key = c->source = NULL;
	c->alert_syslog_socket = c->alert_file = c->alert_command = NULL;
	c->rules = NULL;
}
