/* SPDX-License-Identifier: MIT */
/*
 * rules.c - classification rules, policies and redaction patterns (rules.h):
 * the configuration keys of their sections, compilation with PCRE2 (JIT,
 * once at start), and the per-record matchers, which allocate nothing.
 * Patterns run in byte mode over the stored (valid UTF-8) text, with match
 * limits: the subject comes from the agent, the pattern from the operator.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "rules.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <time.h>

#include <pcre2.h>

#include "chain.h"
#include "json.h"
#include "peers.h"

/* Backtracking budget per match: a hostile subject cannot stall ingest. */
#define RULES_MATCH_LIMIT 200000
#define RULES_DEPTH_LIMIT 20000
/* Compiled-in workspace (docs/policy.md). */
#define RULES_DEFAULT_WORKSPACE "/home /srv /tmp /var/tmp"
/* Compiled-in host allowlist: each name and its subdomains. */
#define RULES_DEFAULT_HOSTS "localhost localhost.localdomain ip6-localhost " \
	"anthropic.com claude.ai openai.com github.com githubusercontent.com " \
	"pypi.org pythonhosted.org npmjs.org npmjs.com crates.io debian.org"
/* Compiled-in resolved-address cache: entries, and seconds each lives. */
#define RULES_DEFAULT_CACHE 4096
#define RULES_DEFAULT_TTL 3600
#define RULES_MAX_TTL 604800
/* The [redact] key that lists secret flags instead of naming a pattern. */
#define SECRET_FLAGS "secret_flags"
/* What follows a secret flag: quoted strings or non-space bytes. */
#define SECRET_VALUE "((?:'[^']*'|\"[^\"]*\"|\\S)+)"
/* What a redacted secret becomes: "[REDACTED:" 8 hex "]". */
#define REDACT_PREFIX "[REDACTED:"

/* Event names the rules know; a record's event is one bit of a mask. */
static const char *const event_names[] = {
	"exec", "spawn", "image_start", "open", "rename", "unlink", "rmdir",
	"mkdir", "truncate", "chmod", "chown", "link", "symlink", "connect",
	"bind", "listen", "sendto", "resolve", "blind_spot", "gap", "mknod",
	"approval", "writer_start", "writer_stop", "policy_violation",
	"writer_reload",
};
#define NEVENTS (sizeof event_names / sizeof event_names[0])
/* Bit of an event the table does not know (only "any event" rules see it). */
#define EV_UNKNOWN (1u << 31)

/* Named groups of events usable in "events =". */
static const struct {
	const char *name;	/* "@file" */
	const char *members;	/* space-separated event names */
} event_groups[] = {
	{ "@exec", "exec spawn" },
	{ "@file", "open rename unlink rmdir mkdir truncate chmod chown link "
		   "symlink mknod" },
	{ "@net", "connect bind listen sendto resolve" },
};

static const char *const class_names[] = {
	"tool_call", "memory_write", "config_change", "other",
};
#define NCLASSES 4

static const char *const severity_names[] = {
	"info", "low", "medium", "high", "critical",
};

static const char *const field_names[] = { "target", "argv", "exe", "event" };

/* Keys a rule may set (bits of rule.seen). */
enum {
	K_CLASS = 1, K_FIELD = 2, K_PATTERN = 4, K_EVENTS = 8, K_CLASSES = 16,
	K_UNLESS = 32, K_SEVERITY = 64, K_MESSAGE = 128, K_PEER = 256,
};

/* One [classify:NAME], [policy:NAME] or [redact] entry. */
struct rule {
	struct rule_info info;	/* public view; info.name is name */
	char *name;		/* owned */
	char *message;		/* owned (policy) */
	uint32_t events;	/* event bits it applies to; 0 = any */
	unsigned classes;	/* class bits it applies to; 0 = any (policy) */
	enum rules_field field;	/* subject */
	char *pattern;		/* source, owned */
	unsigned pattern_line;	/* where it was set */
	char *unless;		/* exemption source (policy), or NULL */
	unsigned unless_line;	/* where it was set */
	pcre2_code *re;		/* compiled pattern */
	pcre2_code *re_unless;	/* compiled exemption, or NULL */
	bool group;		/* redact: the pattern has a capture group */
	bool peer_unlisted;	/* policy: "peer = unlisted" */
	bool argv_only;		/* redact: secret_flags, for argv elements only */
	unsigned seen;		/* K_* bits set */
};

/* One allowed_addresses entry. */
struct rules_net {
	struct peer_addr a;	/* network (host bits zero) */
	unsigned prefix;	/* bits of the 16-byte form */
};

/* One [redact] secret_flags entry. */
struct secret_flag {
	char *prog;		/* program basename it is limited to, or NULL */
	char *flag;		/* "--password", "-p"; '*' stands for [A-Za-z0-9_-]* */
	bool attach;		/* a single-letter flag: "-pVALUE" too */
};

/* A growable array of rules. */
struct rule_list {
	struct rule **v;	/* owned */
	size_t n, cap;		/* used, allocated */
};

struct rules {
	struct rule_list classify;	/* [classify:NAME], file order */
	struct rule_list policy;	/* [policy:NAME], file order */
	struct rule_list redact;	/* [redact] keys, file order */
	char *workspace;	/* [policy] workspace, or NULL for the default */
	bool workspace_set;	/* set by a file (dedup) */
	char **hosts;		/* [policy] allowed_hosts: lower case, no final dot */
	size_t nhosts;		/* how many */
	bool hosts_set;		/* set by a file (dedup; else the default) */
	struct rules_net *nets;	/* [policy] allowed_addresses */
	size_t nnets;		/* how many */
	bool nets_set;		/* set by a file (dedup) */
	unsigned cache;		/* [policy] resolved_cache: entries */
	bool cache_set;		/* set by a file (dedup) */
	unsigned ttl;		/* [policy] resolved_ttl: seconds */
	bool ttl_set;		/* set by a file (dedup) */
	struct secret_flag *sflags;	/* [redact] secret_flags */
	size_t nsflags;		/* how many */
	unsigned families;	/* RULES_FAM_* defined by some file */
	char **files;		/* interned file names */
	size_t nfiles;		/* how many */
	size_t ntext;		/* [redact] patterns for any text (all but
				 * secret_flags, which sees argv elements only) */
	struct rule *sflag_rule;	/* the secret_flags entry, or NULL */
	pcre2_match_data *md;	/* shared by every match */
	pcre2_match_context *mctx;	/* limits */
	pcre2_jit_stack *jstack;	/* JIT stack for deep patterns */
	struct jbuf rb[2];	/* redaction ping-pong buffers */
	struct jbuf hb;		/* HMAC input */
};

const char *
rules_severity_name(enum rules_severity s)
{
	return (unsigned)s < 5 ? severity_names[s] : "info";
}

int
rules_severity_parse(const char *s)
{
	for (int i = RS_LOW; i <= RS_CRITICAL; i++)
		if (strcmp(s, severity_names[i]) == 0)
			return i;
	return -1;
}

struct rules *
rules_new(void)
{
	return calloc(1, sizeof(struct rules));
}

static void
rule_free(struct rule *r)
{
	if (!r)
		return;
	free(r->name);
	free(r->message);
	free(r->pattern);
	free(r->unless);
	pcre2_code_free(r->re);
	pcre2_code_free(r->re_unless);
	free(r);
}

static void
list_free(struct rule_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		rule_free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

void
rules_free(struct rules *rs)
{
	if (!rs)
		return;
	list_free(&rs->classify);
	list_free(&rs->policy);
	list_free(&rs->redact);
	free(rs->workspace);
	for (size_t i = 0; i < rs->nhosts; i++)
		free(rs->hosts[i]);
	free(rs->hosts);
	free(rs->nets);
	for (size_t i = 0; i < rs->nsflags; i++) {
		free(rs->sflags[i].prog);
		free(rs->sflags[i].flag);
	}
	free(rs->sflags);
	for (size_t i = 0; i < rs->nfiles; i++)
		free(rs->files[i]);
	free(rs->files);
	pcre2_match_data_free(rs->md);
	pcre2_match_context_free(rs->mctx);
	pcre2_jit_stack_free(rs->jstack);
	jbuf_free(&rs->rb[0]);
	jbuf_free(&rs->rb[1]);
	jbuf_free(&rs->hb);
	free(rs);
}

const char *
rules_file(struct rules *rs, const char *file)
{
	for (size_t i = 0; i < rs->nfiles; i++)
		if (strcmp(rs->files[i], file) == 0)
			return rs->files[i];
	char **v = realloc(rs->files, (rs->nfiles + 1) * sizeof *v);
	if (!v)
		return NULL;
	rs->files = v;
	if (!(v[rs->nfiles] = strdup(file)))
		return NULL;
	return v[rs->nfiles++];
}

unsigned
rules_families(const struct rules *rs)
{
	return rs->families;
}

size_t rules_count_classify(const struct rules *rs) { return rs->classify.n; }
size_t rules_count_policy(const struct rules *rs) { return rs->policy.n; }
size_t rules_count_redact(const struct rules *rs) { return rs->redact.n; }

const struct rule_info *
rules_classify_at(const struct rules *rs, size_t i)
{
	return i < rs->classify.n ? &rs->classify.v[i]->info : NULL;
}

const struct rule_info *
rules_policy_at(const struct rules *rs, size_t i)
{
	return i < rs->policy.n ? &rs->policy.v[i]->info : NULL;
}

const char *
rules_workspace(const struct rules *rs)
{
	return rs->workspace ? rs->workspace : RULES_DEFAULT_WORKSPACE;
}

size_t
rules_resolved_cache(const struct rules *rs)
{
	return rs->cache_set ? rs->cache : RULES_DEFAULT_CACHE;
}

uint64_t
rules_resolved_ttl_ms(const struct rules *rs)
{
	return (uint64_t)(rs->ttl_set ? rs->ttl : RULES_DEFAULT_TTL) * 1000u;
}

/* The rule named NAME in L, created (at FILE:LINE) if new; NULL on ENOMEM. */
static struct rule *
list_get(struct rule_list *l, const char *name, const char *file,
	 unsigned line, bool *fresh)
{
	*fresh = false;
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i]->name, name) == 0)
			return l->v[i];
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct rule **v = realloc(l->v, cap * sizeof *v);
		if (!v)
			return NULL;
		l->v = v;
		l->cap = cap;
	}
	struct rule *r = calloc(1, sizeof *r);
	if (!r || !(r->name = strdup(name))) {
		free(r);
		return NULL;
	}
	r->info.name = r->name;
	r->info.file = file;
	r->info.line = line;
	r->info.klass = "other";
	l->v[l->n++] = r;
	*fresh = true;
	return r;
}

/* Parses "a b, c @file" into event bits; false with WHY on an unknown name. */
static bool
parse_events(const char *value, uint32_t *out, char *why, size_t whylen)
{
	char buf[512];
	uint32_t m = 0;

	if (strlen(value) >= sizeof buf) {
		snprintf(why, whylen, "events list too long");
		return false;
	}
	strcpy(buf, value);
	for (char *save, *tok = strtok_r(buf, " ,\t", &save); tok;
	     tok = strtok_r(NULL, " ,\t", &save)) {
		bool found = false;
		if (tok[0] == '@') {
			for (size_t g = 0; g < sizeof event_groups / sizeof event_groups[0]; g++) {
				if (strcmp(tok, event_groups[g].name) != 0)
					continue;
				uint32_t gm;
				parse_events(event_groups[g].members, &gm, why, whylen);
				m |= gm;
				found = true;
			}
		} else {
			for (size_t i = 0; i < NEVENTS; i++)
				if (strcmp(tok, event_names[i]) == 0) {
					m |= 1u << i;
					found = true;
				}
		}
		if (!found) {
			snprintf(why, whylen, "unknown event '%s' (want event names or "
				 "@exec, @file, @net)", tok);
			return false;
		}
	}
	if (!m) {
		snprintf(why, whylen, "empty events list");
		return false;
	}
	*out = m;
	return true;
}

static int
class_index(const char *s)
{
	for (int i = 0; i < NCLASSES; i++)
		if (strcmp(s, class_names[i]) == 0)
			return i;
	return -1;
}

static bool
parse_classes(const char *value, unsigned *out, char *why, size_t whylen)
{
	char buf[256];
	unsigned m = 0;

	if (strlen(value) >= sizeof buf) {
		snprintf(why, whylen, "classes list too long");
		return false;
	}
	strcpy(buf, value);
	for (char *save, *tok = strtok_r(buf, " ,\t", &save); tok;
	     tok = strtok_r(NULL, " ,\t", &save)) {
		int c = class_index(tok);
		if (c < 0) {
			snprintf(why, whylen, "unknown class '%s' (want tool_call, "
				 "memory_write, config_change or other)", tok);
			return false;
		}
		m |= 1u << c;
	}
	if (!m) {
		snprintf(why, whylen, "empty classes list");
		return false;
	}
	*out = m;
	return true;
}

/* Marks KEY set on R; false (duplicate) with WHY. */
static bool
mark(struct rule *r, unsigned key, const char *name, const char *section,
     char *why, size_t whylen)
{
	if (r->seen & key) {
		snprintf(why, whylen, "duplicate key '%s' in [%s]", name, section);
		return false;
	}
	r->seen |= key;
	return true;
}

static int
set_str(char **dst, const char *v, char *why, size_t whylen)
{
	char *s = strdup(v);
	if (!s) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	free(*dst);
	*dst = s;
	return 0;
}

/* A key of [classify:NAME] (POLICY false) or [policy:NAME]. */
static int
rule_key(struct rule *r, bool policy, const char *section, const char *name,
	 const char *value, unsigned line, char *why, size_t whylen)
{
	if (*value == '\0') {
		snprintf(why, whylen, "empty value for '%s'", name);
		return -EINVAL;
	}
	if (strcmp(name, "pattern") == 0) {
		if (!mark(r, K_PATTERN, name, section, why, whylen))
			return -EINVAL;
		r->pattern_line = line;
		return set_str(&r->pattern, value, why, whylen);
	}
	if (strcmp(name, "events") == 0) {
		if (!mark(r, K_EVENTS, name, section, why, whylen))
			return -EINVAL;
		return parse_events(value, &r->events, why, whylen) ? 0 : -EINVAL;
	}
	if (strcmp(name, "field") == 0) {
		if (!mark(r, K_FIELD, name, section, why, whylen))
			return -EINVAL;
		for (size_t i = 0; i < 4; i++)
			if (strcmp(value, field_names[i]) == 0) {
				r->field = (enum rules_field)i;
				return 0;
			}
		snprintf(why, whylen, "bad field '%s' (want target, argv, exe or "
			 "event)", value);
		return -EINVAL;
	}
	if (!policy && strcmp(name, "class") == 0) {
		if (!mark(r, K_CLASS, name, section, why, whylen))
			return -EINVAL;
		int c = class_index(value);
		if (c < 0) {
			snprintf(why, whylen, "bad class '%s' (want tool_call, "
				 "memory_write, config_change or other)", value);
			return -EINVAL;
		}
		r->info.klass = class_names[c];
		return 0;
	}
	if (policy && strcmp(name, "classes") == 0) {
		if (!mark(r, K_CLASSES, name, section, why, whylen))
			return -EINVAL;
		return parse_classes(value, &r->classes, why, whylen) ? 0 : -EINVAL;
	}
	if (policy && strcmp(name, "unless") == 0) {
		if (!mark(r, K_UNLESS, name, section, why, whylen))
			return -EINVAL;
		r->unless_line = line;
		return set_str(&r->unless, value, why, whylen);
	}
	if (policy && strcmp(name, "severity") == 0) {
		if (!mark(r, K_SEVERITY, name, section, why, whylen))
			return -EINVAL;
		int s = rules_severity_parse(value);
		if (s < 0) {
			snprintf(why, whylen, "bad severity '%s' (want low, medium, "
				 "high or critical)", value);
			return -EINVAL;
		}
		r->info.severity = (enum rules_severity)s;
		return 0;
	}
	if (policy && strcmp(name, "peer") == 0) {
		if (!mark(r, K_PEER, name, section, why, whylen))
			return -EINVAL;
		if (strcmp(value, "unlisted") != 0) {
			snprintf(why, whylen, "bad peer '%s' (want unlisted)", value);
			return -EINVAL;
		}
		r->peer_unlisted = true;
		return 0;
	}
	if (policy && strcmp(name, "message") == 0) {
		if (!mark(r, K_MESSAGE, name, section, why, whylen))
			return -EINVAL;
		int rc = set_str(&r->message, value, why, whylen);
		r->info.message = r->message;
		return rc;
	}
	snprintf(why, whylen, "unknown key '%s' in [%s]", name, section);
	return -EINVAL;
}

static void quote_literal(struct jbuf *b, const char *s, size_t n);

/* Next item of a list separated by spaces, tabs or commas: its start and
 * length, *P moved past it; NULL at the end. */
static const char *
list_next(const char **p, size_t *n)
{
	const char *s = *p + strspn(*p, " \t,");
	*n = strcspn(s, " \t,");
	*p = s + *n;
	return *n ? s : NULL;
}

/* Parses allowed_hosts into RS; false with WHY. */
static bool
parse_hosts(struct rules *rs, const char *value, char *why, size_t whylen)
{
	const char *p = value, *h;
	size_t n;

	while ((h = list_next(&p, &n))) {
		struct peer_addr a;
		bool ok = n <= PEERS_HOST_MAX && h[0] != '.';
		if (n > 1 && h[n - 1] == '.')
			n--;
		for (size_t i = 0; ok && i < n; i++)
			ok = isalnum((unsigned char)h[i]) || h[i] == '-' ||
			     h[i] == '_' || (h[i] == '.' && h[i + 1] != '.');
		if (ok && peers_parse(h, n, &a) == 0) {
			snprintf(why, whylen, "allowed_hosts: '%.*s' is an address "
				 "(list addresses in allowed_addresses)", (int)n, h);
			return false;
		}
		if (!ok) {
			snprintf(why, whylen, "allowed_hosts: bad host name '%.*s' "
				 "(a name covers its subdomains: write example.com, "
				 "not *.example.com)", (int)(n > 80 ? 80 : n), h);
			return false;
		}
		char **v = realloc(rs->hosts, (rs->nhosts + 1) * sizeof *v);
		if (!v || !(v[rs->nhosts] = strndup(h, n))) {
			if (v)
				rs->hosts = v;
			snprintf(why, whylen, "out of memory");
			return false;
		}
		for (char *c = v[rs->nhosts]; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		rs->hosts = v;
		rs->nhosts++;
	}
	return true;
}

/* Parses allowed_addresses ("10.0.0.0/8 2001:db8::/32 192.0.2.7"). */
static bool
parse_nets(struct rules *rs, const char *value, char *why, size_t whylen)
{
	const char *p = value, *e;
	size_t n;

	while ((e = list_next(&p, &n))) {
		struct rules_net net;
		const char *slash = memchr(e, '/', n);
		size_t alen = slash ? (size_t)(slash - e) : n;
		bool v4 = memchr(e, ':', alen) == NULL;
		unsigned long pfx = v4 ? 32 : 128;
		char *end;

		if (peers_parse(e, alen, &net.a) < 0 ||
		    (alen && (e[0] == '[' || memchr(e, '%', alen)))) {
			snprintf(why, whylen, "allowed_addresses: bad address '%.*s' "
				 "(want an IPv4 or IPv6 address, optionally /prefix)",
				 (int)(n > 80 ? 80 : n), e);
			return false;
		}
		if (slash) {
			errno = 0;
			pfx = strtoul(slash + 1, &end, 10);
			if (slash + 1 == end || end != e + n || errno ||
			    pfx > (v4 ? 32u : 128u) || !isdigit((unsigned char)slash[1])) {
				snprintf(why, whylen, "allowed_addresses: bad prefix "
					 "in '%.*s' (want /0../%u)", (int)n, e,
					 v4 ? 32u : 128u);
				return false;
			}
		}
		net.prefix = (unsigned)pfx + (v4 ? 96 : 0);
		/* Host bits set is a typo more often than not. */
		struct peer_addr masked = { { 0 } };
		for (unsigned i = 0; i < net.prefix; i++)
			masked.b[i / 8] |= net.a.b[i / 8] & (0x80 >> (i % 8));
		if (memcmp(masked.b, net.a.b, 16) != 0) {
			snprintf(why, whylen, "allowed_addresses: '%.*s' has host bits "
				 "set", (int)n, e);
			return false;
		}
		struct rules_net *v = realloc(rs->nets, (rs->nnets + 1) * sizeof *v);
		if (!v) {
			snprintf(why, whylen, "out of memory");
			return false;
		}
		v[rs->nnets++] = net;
		rs->nets = v;
	}
	return true;
}

/* A [policy] setting. */
static int
policy_setting(struct rules *rs, const char *name, const char *value,
	       char *why, size_t whylen)
{
	static const char *const keys[] = { "workspace", "allowed_hosts",
		"allowed_addresses", "resolved_cache", "resolved_ttl" };
	bool *seen[] = { &rs->workspace_set, &rs->hosts_set, &rs->nets_set,
			 &rs->cache_set, &rs->ttl_set };
	size_t k;

	for (k = 0; k < 5 && strcmp(name, keys[k]) != 0; k++)
		;
	if (k == 5) {
		snprintf(why, whylen, "unknown key '%s' in [policy]", name);
		return -EINVAL;
	}
	if (*seen[k]) {
		snprintf(why, whylen, "duplicate key '%s' in [policy]", name);
		return -EINVAL;
	}
	*seen[k] = true;
	switch (k) {
	case 0:
		if (value[0] != '/') {
			snprintf(why, whylen, "workspace: want absolute directories "
				 "separated by spaces");
			return -EINVAL;
		}
		return set_str(&rs->workspace, value, why, whylen);
	case 1:
		/* An empty list allows no host names at all. */
		return parse_hosts(rs, value, why, whylen) ? 0 : -EINVAL;
	case 2:
		return parse_nets(rs, value, why, whylen) ? 0 : -EINVAL;
	default: {
		unsigned long max = k == 3 ? PEERS_CAP_MAX : RULES_MAX_TTL, v;
		char *end;
		errno = 0;
		v = strtoul(value, &end, 10);
		if (!isdigit((unsigned char)value[0]) || *end || errno || v < 1 ||
		    v > max) {
			snprintf(why, whylen, "bad value for '%s': '%s' (want an "
				 "integer 1..%lu)", name, value, max);
			return -EINVAL;
		}
		*(k == 3 ? &rs->cache : &rs->ttl) = (unsigned)v;
		return 0;
	}
	}
}

/* True if FLAG is a valid secret_flags flag: '-' or '--', then name bytes. */
static bool
flag_ok(const char *f, size_t n)
{
	size_t i = f[0] == '-' ? (n > 1 && f[1] == '-' ? 2 : 1) : 0;
	bool alnum = false;

	if (i == 0 || i == n)
		return false;
	for (; i < n; i++) {
		if (isalnum((unsigned char)f[i]))
			alnum = true;
		else if (f[i] != '-' && f[i] != '_' && f[i] != '*')
			return false;
	}
	return alnum;
}

/* Appends FLAG as a pattern ('*' as [A-Za-z0-9_-]*). */
static void
flag_regex(struct jbuf *b, const char *f)
{
	for (; *f; f++) {
		if (*f == '*')
			jbuf_adds(b, "[A-Za-z0-9_-]*");
		else
			quote_literal(b, f, 1);
	}
}

/* Appends "(?:(?:LONG|...)(?:=|\s+)|(?:SHORT|...)\s*)" for the flags of
 * PROG (NULL: the unscoped ones). */
static void
flags_regex(struct jbuf *b, const struct rules *rs, const char *prog)
{
	bool alt = false;

	jbuf_adds(b, "(?:");
	for (int pass = 0; pass < 2; pass++) {
		bool any = false;
		for (size_t i = 0; i < rs->nsflags; i++) {
			const struct secret_flag *f = &rs->sflags[i];
			if ((f->prog == NULL) != (prog == NULL) ||
			    (prog && strcmp(f->prog, prog) != 0) ||
			    f->attach != (pass == 1))
				continue;
			jbuf_adds(b, any ? "|" : alt ? "|(?:" : "(?:");
			flag_regex(b, f->flag);
			any = true;
		}
		if (any) {
			/* Long flags take "=VALUE" or " VALUE"; "-p" also "-pVALUE". */
			jbuf_adds(b, pass == 0 ? ")(?:=|\\s+)" : ")\\s*");
			alt = true;
		}
	}
	jbuf_adds(b, ")");
}

/*
 * Parses secret_flags into RS and builds the pattern that finds their
 * values inside one argv element ("sh -c 'mysql -pX'", "--token=X",
 * "--token X"); the element after a flag is rules_redact_arg's part.
 */
static bool
parse_sflags(struct rules *rs, const char *value, struct jbuf *re, char *why,
	     size_t whylen)
{
	const char *p = value, *e;
	size_t n;

	while ((e = list_next(&p, &n))) {
		const char *colon = memchr(e, ':', n);
		const char *f = colon ? colon + 1 : e;
		size_t fl = colon ? n - (size_t)(colon + 1 - e) : n;
		bool ok = flag_ok(f, fl);
		for (const char *c = e; ok && colon && c < colon; c++)
			ok = isalnum((unsigned char)*c) || strchr("._+-", *c);
		if (!ok || colon == e) {
			snprintf(why, whylen, "secret_flags: bad entry '%.*s' (want "
				 "--flag, -f or program:--flag)",
				 (int)(n > 80 ? 80 : n), e);
			return false;
		}
		struct secret_flag *v = realloc(rs->sflags,
						(rs->nsflags + 1) * sizeof *v);
		if (!v) {
			snprintf(why, whylen, "out of memory");
			return false;
		}
		rs->sflags = v;
		struct secret_flag *sf = &v[rs->nsflags];
		sf->prog = colon ? strndup(e, (size_t)(colon - e)) : NULL;
		sf->flag = strndup(f, fl);
		sf->attach = fl == 2 && f[1] != '-' && f[1] != '*';
		if (!sf->flag || (colon && !sf->prog)) {
			free(sf->prog);
			free(sf->flag);
			snprintf(why, whylen, "out of memory");
			return false;
		}
		rs->nsflags++;
	}
	/* (?:(?<!\S)FLAGS|(?<![^\s/])PROG\s(?:[^|;&\n]*?\s)?FLAGS|...)VALUE:
	 * a scoped flag counts after its program's name in the same command
	 * (no | ; & between them).  Lookbehinds rather than (?:^|\s) keep
	 * the first byte of a match a '-' or a program's initial, which
	 * PCRE2 uses to skip ahead: most text has no secret. */
	bool alt = false;
	jbuf_reset(re);
	jbuf_adds(re, "(?:");
	for (size_t i = 0; i < rs->nsflags; i++) {
		if (rs->sflags[i].prog == NULL) {
			jbuf_adds(re, "(?<!\\S)");
			flags_regex(re, rs, NULL);
			alt = true;
			break;
		}
	}
	for (size_t i = 0; i < rs->nsflags; i++) {
		const char *prog = rs->sflags[i].prog;
		bool first = prog != NULL;
		for (size_t j = 0; j < i && first; j++)
			if (rs->sflags[j].prog && strcmp(rs->sflags[j].prog, prog) == 0)
				first = false;
		if (!first)
			continue;
		jbuf_adds(re, alt ? "|(?<![^\\s/])" : "(?<![^\\s/])");
		quote_literal(re, prog, strlen(prog));
		jbuf_adds(re, "\\s(?:[^|;&\\n]*?\\s)?");
		flags_regex(re, rs, prog);
		alt = true;
	}
	jbuf_adds(re, ")" SECRET_VALUE);
	if (re->oom) {
		snprintf(why, whylen, "out of memory");
		return false;
	}
	return true;
}

int
rules_conf_key(struct rules *rs, const char *section, const char *name,
	       const char *value, const char *file, unsigned section_line,
	       unsigned line, char *why, size_t whylen)
{
	struct rule *r;
	bool fresh;

	if (strcmp(section, "policy") == 0)
		return policy_setting(rs, name, value, why, whylen);
	if (strcmp(section, "redact") == 0) {
		if (*value == '\0') {
			snprintf(why, whylen, "empty pattern for '%s'", name);
			return -EINVAL;
		}
		r = list_get(&rs->redact, name, file, line, &fresh);
		if (!r) {
			snprintf(why, whylen, "out of memory");
			return -ENOMEM;
		}
		if (!fresh) {
			snprintf(why, whylen, "duplicate key '%s' in [redact]", name);
			return -EINVAL;
		}
		rs->families |= RULES_FAM_REDACT;
		r->seen = K_PATTERN;
		r->pattern_line = line;
		if (strcmp(name, SECRET_FLAGS) == 0) {
			/* Not a pattern: a list the pattern is built from. */
			r->argv_only = true;
			rs->sflag_rule = r;
			struct jbuf re = { 0 };
			int rc = parse_sflags(rs, value, &re, why, whylen)
				 ? set_str(&r->pattern, jbuf_text(&re), why, whylen)
				 : -EINVAL;
			jbuf_free(&re);
			return rc;
		}
		return set_str(&r->pattern, value, why, whylen);
	}
	bool policy = strncmp(section, "policy:", 7) == 0;
	if (!policy && strncmp(section, "classify:", 9) != 0) {
		snprintf(why, whylen, "unknown section [%s]", section);
		return -EINVAL;
	}
	const char *rname = section + (policy ? 7 : 9);
	r = list_get(policy ? &rs->policy : &rs->classify, rname, file,
		     section_line ? section_line : line, &fresh);
	if (!r) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	rs->families |= policy ? RULES_FAM_POLICY : RULES_FAM_CLASSIFY;
	return rule_key(r, policy, section, name, value, line, why, whylen);
}

/* Appends DIR to B with every ASCII punctuation byte escaped. */
static void
quote_literal(struct jbuf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x80 && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
				  (c >= 'A' && c <= 'Z') || c == '_'))
			jbuf_add(b, "\\", 1);
		jbuf_add(b, (const char *)&s[i], 1);
	}
}

/* SRC with ${workspace} expanded into OUT; false with WHY. */
static bool
expand(const struct rules *rs, const char *src, struct jbuf *out, char *why,
       size_t whylen)
{
	jbuf_reset(out);
	for (const char *p = src; *p;) {
		const char *v = strstr(p, "${");
		if (!v) {
			jbuf_adds(out, p);
			break;
		}
		jbuf_add(out, p, (size_t)(v - p));
		if (strncmp(v, "${workspace}", 12) != 0) {
			const char *e = strchr(v, '}');
			snprintf(why, whylen, "unknown variable '%.*s' (only "
				 "${workspace} is defined)",
				 e ? (int)(e - v + 1) : (int)strlen(v), v);
			return false;
		}
		/* (?:dir1|dir2...) without trailing slashes. */
		const char *ws = rules_workspace(rs);
		bool first = true;
		jbuf_adds(out, "(?:");
		while (*ws) {
			size_t k = strcspn(ws, " \t");
			size_t m = k;
			while (m > 1 && ws[m - 1] == '/')
				m--;
			if (k) {
				if (!first)
					jbuf_add(out, "|", 1);
				quote_literal(out, ws, m);
				first = false;
			}
			ws += k;
			ws += strspn(ws, " \t");
		}
		jbuf_adds(out, ")");
		p = v + 12;
	}
	if (out->oom) {
		snprintf(why, whylen, "out of memory");
		return false;
	}
	return true;
}

/* Compiles SRC into *RE; false with "FILE:LINE: reason" in ERR. */
static bool
compile_one(struct rules *rs, const struct rule *r, const char *what,
	    const char *src, unsigned line, pcre2_code **re, uint32_t *groups,
	    char *err, size_t errlen)
{
	struct jbuf x = { 0 };
	char why[256];
	int ec;
	PCRE2_SIZE off;
	bool ok = false;

	if (!expand(rs, src, &x, why, sizeof why)) {
		snprintf(err, errlen, "%s:%u: %s: %s", r->info.file, line, what, why);
		goto out;
	}
	*re = pcre2_compile((PCRE2_SPTR)jbuf_text(&x), x.len, 0, &ec, &off, NULL);
	if (!*re) {
		PCRE2_UCHAR msg[160];
		pcre2_get_error_message(ec, msg, sizeof msg);
		snprintf(err, errlen, "%s:%u: %s: bad pattern at offset %zu: %s",
			 r->info.file, line, what, (size_t)off, (char *)msg);
		goto out;
	}
	/* Without JIT support (rare CPUs) pcre2_match interprets instead. */
	(void)pcre2_jit_compile(*re, PCRE2_JIT_COMPLETE);
	uint32_t cap = 0;
	pcre2_pattern_info(*re, PCRE2_INFO_CAPTURECOUNT, &cap);
	if (groups)
		*groups = cap;
	ok = true;
out:
	jbuf_free(&x);
	return ok;
}

static bool
compile_list(struct rules *rs, struct rule_list *l, const char *family,
	     bool policy, uint32_t *maxcap, char *err, size_t errlen)
{
	for (size_t i = 0; i < l->n; i++) {
		struct rule *r = l->v[i];
		char what[160];
		uint32_t cap = 0;
		unsigned need = !family ? K_PATTERN
				: policy ? K_PATTERN | K_SEVERITY | K_MESSAGE
				: K_PATTERN | K_CLASS;

		if (family)
			snprintf(what, sizeof what, "[%s:%s]", family, r->name);
		else
			snprintf(what, sizeof what, "[redact] %s", r->name);
		if ((r->seen & need) != need) {
			static const struct { unsigned k; const char *n; } keys[] = {
				{ K_PATTERN, "pattern" }, { K_CLASS, "class" },
				{ K_SEVERITY, "severity" }, { K_MESSAGE, "message" },
			};
			for (size_t k = 0; k < 4; k++)
				if ((need & keys[k].k) && !(r->seen & keys[k].k)) {
					snprintf(err, errlen, "%s:%u: %s has no '%s'",
						 r->info.file, r->info.line, what,
						 keys[k].n);
					break;
				}
			return false;
		}
		if (!compile_one(rs, r, what, r->pattern, r->pattern_line, &r->re,
				 &cap, err, errlen))
			return false;
		r->group = cap > 0;
		if (cap > *maxcap)
			*maxcap = cap;
		char uwhat[176];
		snprintf(uwhat, sizeof uwhat, "%s unless", what);
		if (r->unless && !compile_one(rs, r, uwhat, r->unless,
					      r->unless_line, &r->re_unless, &cap,
					      err, errlen))
			return false;
		if (cap > *maxcap)
			*maxcap = cap;
	}
	return true;
}

int
rules_compile(struct rules *rs, char *err, size_t errlen)
{
	uint32_t maxcap = 0;

	if (!rs->hosts_set && !rs->nhosts &&
	    !parse_hosts(rs, RULES_DEFAULT_HOSTS, err, errlen))
		return -ENOMEM;

	if (!compile_list(rs, &rs->classify, "classify", false, &maxcap, err,
			  errlen) ||
	    !compile_list(rs, &rs->policy, "policy", true, &maxcap, err, errlen) ||
	    !compile_list(rs, &rs->redact, NULL, false, &maxcap, err, errlen))
		return -EINVAL;
	/*
	 * No pre-check joining the patterns into one alternation: that hides
	 * each pattern's first and required characters from PCRE2, so it
	 * runs at every position.  With the shipped patterns it cost 3-8x
	 * the patterns run one by one, on paths, commands and JSON alike.
	 */
	rs->ntext = 0;
	for (size_t i = 0; i < rs->redact.n; i++)
		if (!rs->redact.v[i]->argv_only)
			rs->ntext++;
	pcre2_match_data_free(rs->md);
	rs->md = pcre2_match_data_create(maxcap + 1, NULL);
	if (!rs->mctx)
		rs->mctx = pcre2_match_context_create(NULL);
	if (!rs->jstack)
		rs->jstack = pcre2_jit_stack_create(32 * 1024, 512 * 1024, NULL);
	if (!rs->md || !rs->mctx || !rs->jstack) {
		snprintf(err, errlen, "out of memory compiling the rules");
		return -ENOMEM;
	}
	pcre2_set_match_limit(rs->mctx, RULES_MATCH_LIMIT);
	pcre2_set_depth_limit(rs->mctx, RULES_DEPTH_LIMIT);
	pcre2_jit_stack_assign(rs->mctx, NULL, rs->jstack);
	return 0;
}

static uint32_t
event_bit(const char *ev)
{
	for (size_t i = 0; i < NEVENTS; i++)
		if (strcmp(ev, event_names[i]) == 0)
			return 1u << i;
	return EV_UNKNOWN;
}

static const char *
subject(const struct rules_input *in, enum rules_field f, size_t *n)
{
	switch (f) {
	case RF_TARGET:
		*n = in->target_len;
		return in->target;
	case RF_ARGV:
		*n = in->argv_len;
		return in->argv;
	case RF_EXE:
		*n = in->exe ? strlen(in->exe) : 0;
		return in->exe;
	case RF_EVENT:
		*n = strlen(in->event);
		return in->event;
	}
	return NULL;
}

/* 1 match, 0 none, -1 matcher failure (limits). */
static int
match(struct rules *rs, const pcre2_code *re, const char *s, size_t n,
      size_t start)
{
	int rc = pcre2_match(re, (PCRE2_SPTR)s, n, start, 0, rs->md, rs->mctx);
	return rc >= 0 ? 1 : rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
}

const char *
rules_classify(struct rules *rs, const struct rules_input *in,
	       const struct rule_info **rule)
{
	uint32_t ev = event_bit(in->event);

	*rule = NULL;
	for (size_t i = 0; i < rs->classify.n; i++) {
		struct rule *r = rs->classify.v[i];
		size_t n;

		if (r->events && !(r->events & ev))
			continue;
		const char *s = subject(in, r->field, &n);
		if (!s || !r->re)
			continue;
		/* A pattern that hits its limit is no evidence: go on. */
		if (match(rs, r->re, s, n, 0) == 1) {
			*rule = &r->info;
			return r->info.klass;
		}
	}
	return "other";
}

bool
rules_host_allowed(const struct rules *rs, const char *name, size_t n)
{
	if (n > 1 && name[n - 1] == '.')
		n--;
	for (size_t i = 0; i < rs->nhosts; i++) {
		size_t hl = strlen(rs->hosts[i]);
		/* The name itself, or a subdomain: "x.NAME". */
		if (n < hl || (n > hl && name[n - hl - 1] != '.'))
			continue;
		if (strncasecmp(name + n - hl, rs->hosts[i], hl) == 0)
			return true;
	}
	return false;
}

/* True if IN's target names a peer the allowlist does not explain. */
static bool
peer_unlisted(const struct rules *rs, const struct rules_input *in)
{
	const char *t = in->target;
	size_t n = in->target_len;
	struct peer_addr a;

	if (!t || n == 0)
		return false;
	if (peers_parse(t, n, &a) == 0) {
		if (peers_is_local(&a))
			return false;
		for (size_t i = 0; i < rs->nnets; i++)
			if (peers_in_net(&a, &rs->nets[i].a, rs->nets[i].prefix))
				return false;
		/* Explained by a lookup of a name that is still allowed. */
		uint64_t now = in->now_ms;
		if (!now && in->peers) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			now = (uint64_t)ts.tv_sec * 1000u +
			      (uint64_t)ts.tv_nsec / 1000000u;
		}
		const char *host = peers_lookup(in->peers, &a, now);
		return !(host && rules_host_allowed(rs, host, strlen(host)));
	}
	/* Unix sockets (path, @abstract) and other families are not peers. */
	if (t[0] == '/' || t[0] == '@' || (n > 7 && memcmp(t, "family:", 7) == 0))
		return false;
	return !rules_host_allowed(rs, t, n);
}

size_t
rules_policies(struct rules *rs, const struct rules_input *in,
	       const struct rule_info **out, size_t max)
{
	uint32_t ev = event_bit(in->event);
	int ci = in->klass ? class_index(in->klass) : -1;
	int unlisted = -1;	/* peer_unlisted, once it is needed */
	size_t k = 0;

	for (size_t i = 0; i < rs->policy.n && k < max; i++) {
		struct rule *r = rs->policy.v[i];
		size_t n;

		if (r->events && !(r->events & ev))
			continue;
		if (r->classes && (ci < 0 || !(r->classes & (1u << ci))))
			continue;
		if (r->peer_unlisted) {
			if (unlisted < 0)
				unlisted = peer_unlisted(rs, in);
			if (!unlisted)
				continue;
		}
		const char *s = subject(in, r->field, &n);
		if (!s || !r->re)
			continue;
		/* A limit hit counts as a match: a subject built to defeat
		 * the policy is itself worth an alert. */
		if (match(rs, r->re, s, n, 0) == 0)
			continue;
		if (r->re_unless && match(rs, r->re_unless, s, n, 0) == 1)
			continue;
		out[k++] = &r->info;
	}
	return k;
}

/* Appends the tag of SECRET (N bytes) to B. */
static int
add_tag(struct rules *rs, struct chain_ctx *key, struct jbuf *b,
	const char *secret, size_t n)
{
	unsigned char mac[CHAIN_HASH_LEN];
	char hex[2 * CHAIN_HASH_LEN + 1];

	jbuf_adds(b, REDACT_PREFIX);
	if (!key) {
		jbuf_adds(b, "????????]");
		return 0;
	}
	jbuf_reset(&rs->hb);
	jbuf_add(&rs->hb, "auditshim-redact", 17);	/* with its NUL */
	jbuf_add(&rs->hb, secret, n);
	if (rs->hb.oom)
		return -ENOMEM;
	if (chain_hmac(key, rs->hb.p, rs->hb.len, mac) < 0)
		return -EIO;
	chain_hex(mac, 4, hex);
	chain_wipe(mac, sizeof mac);
	chain_wipe(rs->hb.p, rs->hb.len);
	jbuf_add(b, hex, 8);
	jbuf_add(b, "]", 1);
	return 0;
}

/*
 * rules_redact over S; ARGV: S is an argv element, which secret_flags'
 * pattern sees too (scripts); other text (paths, addresses) holds no flags.
 */
static int
redact_text(struct rules *rs, struct chain_ctx *key, const char *s, size_t n,
	    struct jbuf *out, bool argv)
{
	const char *cur = s;
	size_t curlen = n;
	int count = 0, which = 0, rc;

	if (!rs->ntext && !(argv && rs->sflag_rule && rs->sflag_rule->re))
		return 0;

	for (size_t i = 0; i < rs->redact.n; i++) {
		struct rule *r = rs->redact.v[i];
		struct jbuf *b = &rs->rb[which];
		size_t pos = 0, last = 0;
		bool any = false;

		if (!r->re || (r->argv_only && !argv))
			continue;
		jbuf_reset(b);
		while (pos <= curlen) {
			int m = match(rs, r->re, cur, curlen, pos);
			if (m == 0)
				break;
			if (m < 0) {
				/* Cannot tell where the secret is: hide it all. */
				jbuf_reset(out);
				if ((rc = add_tag(rs, key, out, s, n)) < 0)
					return rc;
				return out->oom ? -ENOMEM : count + 1;
			}
			PCRE2_SIZE *ov = pcre2_get_ovector_pointer(rs->md);
			size_t a = ov[0], e = ov[1];
			if (r->group && ov[2] != PCRE2_UNSET) {
				a = ov[2];
				e = ov[3];
			}
			size_t next = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
			/* Empty, or already a tag (an earlier pattern's). */
			if (e > a && !(e - a >= sizeof REDACT_PREFIX - 1 &&
				       memcmp(cur + a, REDACT_PREFIX,
					      sizeof REDACT_PREFIX - 1) == 0) &&
			    a >= last) {
				jbuf_add(b, cur + last, a - last);
				if ((rc = add_tag(rs, key, b, cur + a, e - a)) < 0)
					return rc;
				last = e;
				any = true;
				count++;
			}
			pos = next;
		}
		if (!any)
			continue;
		jbuf_add(b, cur + last, curlen - last);
		if (b->oom)
			return -ENOMEM;
		cur = b->p;
		curlen = b->len;
		which ^= 1;
	}
	if (count) {
		jbuf_reset(out);
		jbuf_add(out, cur, curlen);
		if (out->oom)
			return -ENOMEM;
	}
	return count;
}

int
rules_redact(struct rules *rs, struct chain_ctx *key, const char *s, size_t n,
	     struct jbuf *out)
{
	return redact_text(rs, key, s, n, out, false);
}

/* True if S (N bytes) matches FLAG, whose '*' stands for [A-Za-z0-9_-]*. */
static bool
flag_match(const char *flag, const char *s, size_t n)
{
	for (; *flag; flag++) {
		if (*flag != '*') {
			if (n == 0 || *s != *flag)
				return false;
			s++;
			n--;
			continue;
		}
		/* Try every extent the star can take. */
		for (size_t k = 0;; k++) {
			if (flag_match(flag + 1, s + k, n - k))
				return true;
			if (k == n || !(isalnum((unsigned char)s[k]) || s[k] == '-' ||
					s[k] == '_'))
				return false;
		}
	}
	return n == 0;
}

/* Where the secret starts in argv element S after PREV (see rules.h), or
 * -1 when no secret flag applies. */
static ssize_t
flag_secret(const struct rules *rs, const char *base, size_t baselen,
	    const char *prev, size_t prevlen, const char *s, size_t n)
{
	/* Every flag starts with '-': most elements need no more. */
	if (!(prev && prevlen > 1 && prev[0] == '-') && !(n > 1 && s[0] == '-'))
		return -1;
	for (size_t i = 0; i < rs->nsflags; i++) {
		const struct secret_flag *f = &rs->sflags[i];
		if (f->prog && (strlen(f->prog) != baselen ||
				memcmp(f->prog, base, baselen) != 0))
			continue;
		if (prev && flag_match(f->flag, prev, prevlen))
			return n ? 0 : -1;
		/* "-pVALUE", "--flag=VALUE" of a program-scoped flag (the
		 * unscoped ones are in the secret_flags pattern). */
		if (!f->prog)
			continue;
		size_t fl = strlen(f->flag);
		if (f->attach && n > fl && memcmp(s, f->flag, fl) == 0)
			return (ssize_t)fl;
		const char *eq = memchr(s, '=', n);
		if (!f->attach && eq && eq + 1 < s + n &&
		    flag_match(f->flag, s, (size_t)(eq - s)))
			return eq + 1 - s;
	}
	return -1;
}

int
rules_redact_arg(struct rules *rs, struct chain_ctx *key, const char *argv0,
		 size_t argv0_len, const char *prev, size_t prevlen,
		 const char *s, size_t n, struct jbuf *out)
{
	const char *base = argv0;
	size_t baselen = argv0 ? argv0_len : 0;
	int rc;

	if (argv0) {
		const char *slash = memrchr(argv0, '/', argv0_len);
		if (slash) {
			base = slash + 1;
			baselen = argv0_len - (size_t)(base - argv0);
		}
	}
	ssize_t off = rs->nsflags ? flag_secret(rs, base, baselen, prev, prevlen,
						s, n) : -1;
	if (off < 0)
		return redact_text(rs, key, s, n, out, true);
	jbuf_reset(out);
	jbuf_add(out, s, (size_t)off);
	if ((rc = add_tag(rs, key, out, s + off, n - (size_t)off)) < 0)
		return rc;
	return out->oom ? -ENOMEM : 1;
}
