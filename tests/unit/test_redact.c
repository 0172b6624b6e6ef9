/* SPDX-License-Identifier: MIT */
/*
 * test_redact.c - cmocka tests for the shipped [redact] patterns: each
 * secret shape is replaced by a keyed tag, equal secrets get equal tags,
 * near misses are left alone, and the tag is the HMAC prefix it claims.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "chain.h"
#include "conf.h"
#include "json.h"
#include "rules.h"

static struct conf c;
static struct chain_ctx *key;
static struct jbuf out;

static int
setup(void **state)
{
	unsigned char k[CHAIN_KEY_LEN];
	char err[512];

	(void)state;
	memset(k, 0x42, sizeof k);
	key = chain_ctx_new(k);
	if (!key || conf_defaults(&c) < 0 || conf_finish(&c, err, sizeof err) < 0)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	conf_free(&c);
	chain_ctx_free(key);
	jbuf_free(&out);
	return 0;
}

/* S redacted (or S itself), as a C string in a static buffer. */
static const char *
red(const char *s, int *count)
{
	static char buf[4096];
	int n = rules_redact(c.rules, key, s, strlen(s), &out);

	assert_true(n >= 0);
	if (count)
		*count = n;
	snprintf(buf, sizeof buf, "%s", n ? jbuf_text(&out) : s);
	return buf;
}

/* The tag the writer must produce for SECRET. */
static void
tag_of(const char *secret, char tag[96])
{
	unsigned char data[512], mac[CHAIN_HASH_LEN];
	char hex[65];
	size_t n = strlen(secret);

	memcpy(data, "auditshim-redact", 17);
	memcpy(data + 17, secret, n);
	assert_int_equal(chain_hmac(key, data, 17 + n, mac), 0);
	chain_hex(mac, 4, hex);
	snprintf(tag, 96, "[REDACTED:%s]", hex);
}

/* IN becomes PREFIX TAG(SECRET) SUFFIX. */
static void
expect(const char *in, const char *prefix, const char *secret,
       const char *suffix)
{
	char tag[96], want[1024];
	int n;

	tag_of(secret, tag);
	snprintf(want, sizeof want, "%s%s%s", prefix, tag, suffix);
	const char *got = red(in, &n);
	if (strcmp(got, want) != 0 || n != 1)
		fail_msg("'%s': got '%s' (%d), want '%s'", in, got, n, want);
}

static void
expect_kept(const char *in)
{
	int n;
	const char *got = red(in, &n);
	if (n != 0 || strcmp(got, in) != 0)
		fail_msg("'%s' should be kept, got '%s'", in, got);
}

static void
test_api_keys(void **state)
{
	(void)state;
	expect("sk-abcdefghijklmnopqrstuvwx", "", "sk-abcdefghijklmnopqrstuvwx", "");
	expect("OPENAI_API_KEY=sk-proj-AbCdEf0123456789_xyz rest",
	       "OPENAI_API_KEY=", "sk-proj-AbCdEf0123456789_xyz", " rest");
	expect("--key sk-ant-api03-AAAAAAAAAAAAAAAAAAAAAAAA", "--key ",
	       "sk-ant-api03-AAAAAAAAAAAAAAAAAAAAAAAA", "");
	expect_kept("sk-short");
	expect_kept("task-0123456789abcdefghijklmnop");
	expect("AKIAIOSFODNN7EXAMPLE", "", "AKIAIOSFODNN7EXAMPLE", "");
	expect("aws ASIAABCDEFGHIJKLMNOP x", "aws ", "ASIAABCDEFGHIJKLMNOP", " x");
	expect_kept("AKIAshort");
	expect_kept("XAKIAIOSFODNN7EXAMPLEX");
	expect("ghp_0123456789abcdefghijABCDEFGHIJ012345", "",
	       "ghp_0123456789abcdefghijABCDEFGHIJ012345", "");
	expect("github_pat_11ABCDEFG0123456789_abcdefghij", "",
	       "github_pat_11ABCDEFG0123456789_abcdefghij", "");
	expect_kept("ghp_short");
}

static void
test_jwt(void **state)
{
	(void)state;
	const char *jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk";
	char in[512];

	snprintf(in, sizeof in, "cookie=%s;", jwt);
	/* credential_arg does not apply ("cookie" is no credential name). */
	expect(in, "cookie=", jwt, ";");
	expect_kept("eyJhbGciOiJIUzI1NiJ9.only-two");
}

static void
test_credential_args(void **state)
{
	(void)state;
	expect("--password=hunter2", "--password=", "hunter2", "");
	expect("--db-password=hunter2", "--db-password=", "hunter2", "");
	expect("token=abc123", "token=", "abc123", "");
	expect("GITHUB_TOKEN=xyz", "GITHUB_TOKEN=", "xyz", "");
	expect("https://h/x?api_key=AbC&y=1", "https://h/x?api_key=", "AbC", "&y=1");
	expect("client_secret=s3cr3t", "client_secret=", "s3cr3t", "");
	expect("https://bob:pa55@example.net/repo", "https://bob:", "pa55",
	       "@example.net/repo");
	expect_kept("--passwords-file=/etc/x");
	expect_kept("tokenizer=bpe");
	expect_kept("password");
}

static void
test_auth_headers(void **state)
{
	(void)state;
	expect("Authorization: Bearer abc.def", "Authorization: Bearer ", "abc.def", "");
	expect("authorization:basic dXNlcjpwYXNz", "authorization:basic ",
	       "dXNlcjpwYXNz", "");
	expect("X-Api-Key: 12345", "X-Api-Key: ", "12345", "");
	expect_kept("Authorization is required");
}

static void
test_email(void **state)
{
	(void)state;
	expect("mail alice.smith+x@example.co.uk now", "mail ",
	       "alice.smith+x@example.co.uk", " now");
	expect_kept("git@github.com:org/repo.git");
	expect_kept("user@localhost");
	expect_kept("a @ b.com");
}

static void
test_several_and_equal(void **state)
{
	(void)state;
	int n;
	char t1[96], t2[96];
	const char *got = red("curl -H 'Authorization: Bearer tok1' "
			      "https://x/?token=tok1 --user bob@example.com", &n);
	assert_int_equal(n, 3);
	tag_of("tok1", t1);
	tag_of("bob@example.com", t2);
	/* Equal secrets, equal tags: correlation without disclosure. */
	const char *a = strstr(got, t1);
	assert_non_null(a);
	assert_non_null(strstr(a + 1, t1));
	assert_non_null(strstr(got, t2));
	assert_null(strstr(got, "tok1"));
	/* A tag is never redacted again. */
	got = red("token=sk-abcdefghijklmnopqrstuvwx", &n);
	assert_int_equal(n, 1);
	tag_of("sk-abcdefghijklmnopqrstuvwx", t1);
	char want[160];
	snprintf(want, sizeof want, "token=%s", t1);
	assert_string_equal(got, want);
	/* Different keys, different tags. */
	unsigned char k2[CHAIN_KEY_LEN];
	memset(k2, 0x43, sizeof k2);
	struct chain_ctx *other = chain_ctx_new(k2);
	assert_non_null(other);
	assert_int_equal(rules_redact(c.rules, other, "token=tok1", 10, &out), 1);
	tag_of("tok1", t1);
	assert_null(strstr(jbuf_text(&out), t1));
	chain_ctx_free(other);
	/* Nothing to do: no copy. */
	assert_int_equal(rules_redact(c.rules, key, "/usr/bin/git", 12, &out), 0);
	assert_int_equal(rules_redact(c.rules, key, "", 0, &out), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_api_keys),
		cmocka_unit_test(test_jwt),
		cmocka_unit_test(test_credential_args),
		cmocka_unit_test(test_auth_headers),
		cmocka_unit_test(test_email),
		cmocka_unit_test(test_several_and_equal),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
