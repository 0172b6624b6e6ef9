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

/* Element I of the NULL-terminated ARGV, redacted as the writer does. */
static const char *
red_arg(const char *const *argv, size_t i, int *count)
{
	static char buf[4096];
	const char *prev = i ? argv[i - 1] : NULL;
	int n = rules_redact_arg(c.rules, key, argv[0], strlen(argv[0]), prev,
				 prev ? strlen(prev) : 0, argv[i], strlen(argv[i]),
				 &out);

	assert_true(n >= 0);
	if (count)
		*count = n;
	snprintf(buf, sizeof buf, "%s", n ? jbuf_text(&out) : argv[i]);
	return buf;
}

/* Element I of ARGV becomes PREFIX TAG(SECRET). */
static void
expect_arg(const char *const *argv, size_t i, const char *prefix,
	   const char *secret)
{
	char tag[96], want[1024];
	int n;

	tag_of(secret, tag);
	snprintf(want, sizeof want, "%s%s", prefix, tag);
	const char *got = red_arg(argv, i, &n);
	if (strcmp(got, want) != 0 || n != 1)
		fail_msg("%s ... '%s': got '%s' (%d), want '%s'", argv[0], argv[i],
			 got, n, want);
}

/* Every element of ARGV is kept as it is. */
static void
expect_args_kept(const char *const *argv)
{
	for (size_t i = 0; argv[i]; i++) {
		int n;
		const char *got = red_arg(argv, i, &n);
		if (n != 0 || strcmp(got, argv[i]) != 0)
			fail_msg("%s ... '%s' should be kept, got '%s'", argv[0],
				 argv[i], got);
	}
}

static void
test_secret_flags(void **state)
{
	(void)state;
	/* The element after a secret flag, whole. */
	const char *const a1[] = { "mysql", "--password", "hunter2", "db", NULL };
	expect_arg(a1, 2, "", "hunter2");
	assert_string_equal(red_arg(a1, 3, NULL), "db");
	const char *const a2[] = { "kubectl", "--token", "abc.def", "get", NULL };
	expect_arg(a2, 2, "", "abc.def");
	const char *const a3[] = { "app", "--db-password", "p w", NULL };
	expect_arg(a3, 2, "", "p w");
	const char *const a4[] = { "aws", "--aws-secret-key", "K3y", NULL };
	expect_arg(a4, 2, "", "K3y");
	const char *const a5[] = { "tool", "--api-key", "12345", "--passwd", "x", NULL };
	expect_arg(a5, 2, "", "12345");
	expect_arg(a5, 4, "", "x");
	/* The same secret, separate or attached: the same tag. */
	const char *const a6[] = { "app", "--password=hunter2", NULL };
	expect_arg(a6, 1, "--password=", "hunter2");
	/* Program-scoped flags: after that program only. */
	const char *const a7[] = { "/usr/bin/sshpass", "-p", "s3cret", "ssh", "h", NULL };
	expect_arg(a7, 2, "", "s3cret");
	const char *const a8[] = { "mysql", "-uroot", "-pS3cret", "db", NULL };
	expect_arg(a8, 2, "-p", "S3cret");
	assert_string_equal(red_arg(a8, 1, NULL), "-uroot");
	const char *const a9[] = { "curl", "-u", "bob:pw", "https://x/", NULL };
	expect_arg(a9, 2, "", "bob:pw");
	const char *const a10[] = { "curl", "--user=bob:pw", NULL };
	expect_arg(a10, 1, "--user=", "bob:pw");
	const char *const a11[] = { "redis-cli", "-a", "pw", "ping", NULL };
	expect_arg(a11, 2, "", "pw");
	const char *const a12[] = { "openssl", "enc", "-passin", "pass:pw", NULL };
	expect_arg(a12, 3, "", "pass:pw");

	/* -p and -u mean other things to most tools: kept. */
	const char *const k1[] = { "mkdir", "-p", "/home/a/proj/src", NULL };
	const char *const k2[] = { "ssh", "-p", "2222", "host", NULL };
	const char *const k3[] = { "docker", "run", "-p", "8080:80", "-u",
				   "1000", "img", NULL };
	const char *const k4[] = { "git", "add", "-p", "file", NULL };
	const char *const k5[] = { "sort", "-u", "list.txt", NULL };
	const char *const k6[] = { "cp", "-pr", "a", "b", NULL };
	const char *const k7[] = { "llm", "--max-tokens", "100", "--passwords-file",
				   "/etc/pw", "--token-file", "/run/t", NULL };
	const char *const k8[] = { "mysqlx", "-pfoo", NULL };
	const char *const k9[] = { "app", "--password", NULL };
	expect_args_kept(k1);
	expect_args_kept(k2);
	expect_args_kept(k3);
	expect_args_kept(k4);
	expect_args_kept(k5);
	expect_args_kept(k6);
	expect_args_kept(k7);
	expect_args_kept(k8);
	expect_args_kept(k9);

	/* -H 'Authorization: ...' is one element: auth_header has it. */
	const char *const h1[] = { "curl", "-H", "Authorization: Bearer tok9", NULL };
	expect_arg(h1, 2, "Authorization: Bearer ", "tok9");
}

/* SCRIPT as sh -c's argument becomes PREFIX TAG(SECRET) SUFFIX. */
static void
expect_script(const char *script, const char *prefix, const char *secret,
	      const char *suffix)
{
	const char *const argv[] = { "/bin/sh", "-c", script, NULL };
	char tag[96], want[1024];
	int n;

	tag_of(secret, tag);
	snprintf(want, sizeof want, "%s%s%s", prefix, tag, suffix);
	const char *got = red_arg(argv, 2, &n);
	if (strcmp(got, want) != 0 || n != 1)
		fail_msg("'%s': got '%s' (%d), want '%s'", script, got, n, want);
}

static void
expect_script_kept(const char *script)
{
	const char *const argv[] = { "/bin/sh", "-c", script, NULL };
	expect_args_kept(argv);
}

static void
test_secret_flags_in_scripts(void **state)
{
	(void)state;
	/* One argument holding a whole command: sh -c's script. */
	expect_script("mysql -uroot -pS3cret db", "mysql -uroot -p", "S3cret", " db");
	expect_script("cd /x && /usr/bin/mysql -h db -pS3cret", "cd /x && /usr/bin/mysql -h db -p",
	       "S3cret", "");
	expect_script("curl --token abc https://x", "curl --token ", "abc", " https://x");
	expect_script("kubectl --token=abc get pods", "kubectl --token=", "abc", " get pods");
	expect_script("app --password 'hunter 2' --v", "app --password ", "'hunter 2'", " --v");
	expect_script("app --client-secret \"a b\"c", "app --client-secret ", "\"a b\"c", "");
	expect_script("sshpass -p pw ssh host", "sshpass -p ", "pw", " ssh host");
	expect_script("curl -fsS -u bob:pw https://x", "curl -fsS -u ", "bob:pw", " https://x");
	expect_script("x\n--secret\tS\ny", "x\n--secret\t", "S", "\ny");
	expect_script_kept("mkdir -p /tmp/a && ssh -p 22 h && sort -u f");
	expect_script_kept("ls | mysqlsh -p 3306");
	expect_script_kept("echo mysql; other -pX");
	expect_script_kept("curl https://x | tool -u y");
	expect_script_kept("--passwords-file x --max-tokens 10 --token-file y");
	expect_script_kept("mycurl -u bob:pw");
	/* The separate and the in-script form give one secret one tag. */
	char t[96];
	const char *const a[] = { "mysql", "--password", "hunter2", NULL };
	tag_of("hunter2", t);
	const char *const sc[] = { "sh", "-c", "mysql --password hunter2", NULL };
	assert_non_null(strstr(red_arg(sc, 2, NULL), t));
	/* Flags are for argv: a path or a cwd is not a command line. */
	expect_kept("/srv/x --password hunter2");
	assert_string_equal(red_arg(a, 2, NULL), t);
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
		cmocka_unit_test(test_secret_flags),
		cmocka_unit_test(test_secret_flags_in_scripts),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
