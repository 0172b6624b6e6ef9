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

/* Longest configuration line accepted (inih's compiled default is 200). */
#define CONF_MAX_LINE 8192

/* Parser state handed through inih to the handlers. */
struct conf_parse {
	struct conf *c;		/* destination */
	int rc;			/* first error (0 while none) */
	char why[256];		/* its reason, without file and line */
	unsigned seen_writer;	/* bit per [writer] key already set */
};

/* How one key's value is stored. */
enum conf_type {
	CT_STRING,		/* char * member, replaced */
	CT_UINT,		/* unsigned member within [min, max] */
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

/* Known sections.  Issue 5 adds [classify], [policy:] (prefix), [redact],
 * [alerts] here. */
static const struct conf_section conf_sections[] = {
	{ "writer", false, section_writer },
};

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

int
conf_defaults(struct conf *c)
{
	memset(c, 0, sizeof *c);
	c->commit_interval_ms = 10;
	c->commit_max = 1000;
	if (conf_set(&c->socket, AUDITSHIM_DEFAULT_SOCKET) < 0 ||
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
	int rc = 0;

	if (errlen)
		err[0] = '\0';
	FILE *f = fopen(path, "re");
	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	/* Long lines whole (never split into two keys); no continuation
	 * lines; stop at the first problem. */
	ini_use_stack = false;
	ini_allow_realloc = true;
	ini_max_line = CONF_MAX_LINE;
	ini_allow_multiline = false;
	ini_stop_on_first_error = true;
	int line = ini_parse_file(f, conf_handler, &p);
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

void
conf_free(struct conf *c)
{
	free(c->socket);
	free(c->database);
	free(c->key);
	free(c->source);
	c->socket = c->database = c->key = c->source = NULL;
}
