/* SPDX-License-Identifier: MIT */
/*
 * rules.h - classification rules, policies and redaction patterns from the
 * INI configuration ([classify:NAME], [policy:NAME], [policy], [redact]),
 * compiled once with PCRE2 (JIT) and matched per record by auditshimd and
 * by `auditctl classify`.  docs/policy.md is the operator's reference.
 * Not thread-safe: one match-data block is shared by all matches.
 */
#ifndef AUDITSHIM_RULES_H
#define AUDITSHIM_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jbuf;
struct chain_ctx;
struct peers;

/* The record field a pattern runs over. */
enum rules_field {
	RF_TARGET,		/* target column */
	RF_ARGV,		/* argv elements joined by one space */
	RF_EXE,			/* exe column (writer's view) */
	RF_EVENT,		/* event name */
};

/* Severities, in increasing order; RS_INFO is "no policy matched". */
enum rules_severity { RS_INFO, RS_LOW, RS_MEDIUM, RS_HIGH, RS_CRITICAL };

/* What a rule or policy says about itself (stable while its set lives). */
struct rule_info {
	const char *name;	/* NAME of [classify:NAME] / [policy:NAME] */
	const char *file;	/* file it came from ("... (built in)" for defaults) */
	unsigned line;		/* line of its section header */
	const char *klass;	/* classify: the class it assigns */
	enum rules_severity severity;	/* policy: its severity */
	const char *message;	/* policy: its message */
};

/* One record as the rules see it; NULL strings are absent fields. */
struct rules_input {
	const char *event;	/* event name (required) */
	const char *klass;	/* class (policies only; NULL before classification) */
	const char *target;	/* target, or NULL */
	size_t target_len;	/* its length */
	const char *argv;	/* argv joined by spaces, or NULL */
	size_t argv_len;	/* its length */
	const char *exe;	/* exe, or NULL */
	struct peers *peers;	/* resolved-address cache ("peer = unlisted"),
				 * or NULL: no address is explained by a lookup */
	uint64_t now_ms;	/* CLOCK_MONOTONIC ms for the cache's lifetimes;
				 * 0: read the clock when a lookup needs it */
};

/* The set: every rule of the configuration. */
struct rules;

/* New empty set, or NULL (ENOMEM). */
struct rules *rules_new(void);
/* Frees RS and its compiled patterns; NULL is a no-op. */
void rules_free(struct rules *rs);

/* Families of sections; a family defined in a file replaces the default. */
enum {
	RULES_FAM_CLASSIFY = 1,		/* [classify:NAME] */
	RULES_FAM_POLICY = 2,		/* [policy:NAME] */
	RULES_FAM_REDACT = 4,		/* [redact] */
};

/*
 * Configuration hook: NAME = VALUE in SECTION ("classify:x", "policy:x",
 * "policy" or "redact") at FILE:LINE, the section's header being at
 * SECTION_LINE (FILE must outlive RS: one of the strings RS interns
 * through rules_file()).  Returns 0, or -EINVAL /
 * -ENOMEM with a reason in WHY (without file and line).
 */
int rules_conf_key(struct rules *rs, const char *section, const char *name,
		   const char *value, const char *file, unsigned section_line,
		   unsigned line, char *why, size_t whylen);
/* A copy of FILE owned by RS (for rule_info.file), or NULL. */
const char *rules_file(struct rules *rs, const char *file);
/* Families that some loaded file defined (RULES_FAM_* bits). */
unsigned rules_families(const struct rules *rs);
/*
 * Checks every rule (required keys present) and compiles every pattern
 * (JIT where the CPU allows), substituting ${workspace}.  Returns 0, or
 * -EINVAL with "FILE:LINE: reason" in ERR.  Call once, after loading.
 */
int rules_compile(struct rules *rs, char *err, size_t errlen);

/* Counts, for messages. */
size_t rules_count_classify(const struct rules *rs);
size_t rules_count_policy(const struct rules *rs);
size_t rules_count_redact(const struct rules *rs);
/* The i-th rule of a family (for tests and auditctl); NULL past the end. */
const struct rule_info *rules_classify_at(const struct rules *rs, size_t i);
const struct rule_info *rules_policy_at(const struct rules *rs, size_t i);
/* The workspace directories (space-separated), never NULL. */
const char *rules_workspace(const struct rules *rs);
/* [policy] resolved_cache (entries) and resolved_ttl (as ms). */
size_t rules_resolved_cache(const struct rules *rs);
uint64_t rules_resolved_ttl_ms(const struct rules *rs);
/*
 * True if host NAME (N bytes, a final dot ignored, any case) is in
 * [policy] allowed_hosts or a subdomain of one.  Allocates nothing.
 */
bool rules_host_allowed(const struct rules *rs, const char *name, size_t n);

/*
 * The class of IN: the first classify rule that matches, else "other".
 * *RULE is that rule, or NULL.  Allocates nothing.
 */
const char *rules_classify(struct rules *rs, const struct rules_input *in,
			   const struct rule_info **rule);
/*
 * Every policy that IN breaks, in file order, up to MAX of them into OUT.
 * Returns how many.  Allocates nothing.  A "peer = unlisted" policy only
 * sees records whose target is a host name outside allowed_hosts, or an
 * address that is not loopback, not in allowed_addresses and not in
 * IN->peers under an allowed name (a hit there counts as recently used).
 */
size_t rules_policies(struct rules *rs, const struct rules_input *in,
		      const struct rule_info **out, size_t max);
/*
 * Applies every [redact] pattern to S (N bytes): each match (its first
 * capture group when the pattern has one) becomes "[REDACTED:xxxxxxxx]",
 * the first 8 hex digits of HMAC(KEY, "auditshim-redact" NUL secret).
 * Returns the number of replacements; when > 0, OUT (reset first) holds
 * the new text.  A matcher failure (limits) redacts the whole value.
 * -ENOMEM or -EIO (HMAC) on failure.
 */
int rules_redact(struct rules *rs, struct chain_ctx *key, const char *s,
		 size_t n, struct jbuf *out);

/*
 * rules_redact for argv element S (N bytes) of a command whose argv[0] is
 * ARGV0 and whose previous element is PREV (NULL for the first): first
 * [redact] secret_flags -- the whole element when PREV is a secret flag,
 * the value of a program-scoped "-pVALUE" / "--flag=VALUE" -- and
 * otherwise every pattern.  Returns as rules_redact.
 */
int rules_redact_arg(struct rules *rs, struct chain_ctx *key,
		     const char *argv0, size_t argv0_len, const char *prev,
		     size_t prevlen, const char *s, size_t n, struct jbuf *out);

/* "low".."critical" ("info" for RS_INFO). */
const char *rules_severity_name(enum rules_severity s);
/* Parses a severity name (low..critical); -1 if unknown. */
int rules_severity_parse(const char *s);

#endif
