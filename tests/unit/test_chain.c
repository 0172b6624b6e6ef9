/* SPDX-License-Identifier: MIT */
/*
 * test_chain.c - cmocka tests for the canonical encoding, the SHA-256 chain
 * and the HMAC seal, against vectors computed independently (Python's
 * hashlib/hmac, see the comment on each), plus key-file handling.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "chain.h"

static void
fill(struct chain_record *r)
{
	memset(r, 0, sizeof *r);
	r->seq = 7;
	r->time = "2026-11-23T13:24:42.123456Z";
	r->recv_time = "2026-11-23T13:24:42.123999Z";
	r->host = "host1";
	r->session = "S1";
	r->agent = "agentx";
	r->pid = 1234; r->has_pid = true;
	r->ppid = 1; r->has_ppid = true;
	r->uid = 1000; r->has_uid = true;
	r->gid = 1000; r->has_gid = true;
	r->exe = "/usr/bin/python3";
	r->event = "open";
	r->klass = "other";
	r->target = "/tmp/a b";
	r->argv = NULL;
	r->detail = "{\"flags\":\"O_WRONLY|O_CREAT\"}";
	r->result = "ok";
	r->errno_name = NULL;
	r->severity = "info";
	r->pseq = 5; r->has_pseq = true;
	r->image = "00000000000000ff";
	r->key_epoch = 1;
}

static void
unhex(const char *h, unsigned char *out)
{
	for (size_t i = 0; i < strlen(h) / 2; i++) {
		unsigned v;
		sscanf(h + 2 * i, "%2x", &v);
		out[i] = (unsigned char)v;
	}
}

/*
 * Vector from an independent implementation of docs/record-format.md:
 *   canon = b"auditshim-record-v1\n" + items (u32le len + bytes, NULL=0xffffffff)
 *   len(canon) = 274, sha256(canon) = 25547f07...
 *   prev = bytes(range(32)); hash = sha256(prev + canon) = 569d6ad6...
 *   key = b"\x42" * 32; mac = hmac_sha256(key, hash) = 9f5a8b41...
 */
static void
test_known_vector(void **state)
{
	(void)state;
	struct chain_record r;
	unsigned char canon[1024], prev[32], hash[32], mac[32], want[32];
	unsigned char key[32];
	fill(&r);
	size_t n = chain_canonical(&r, canon, sizeof canon);
	assert_int_equal(n, 274);
	assert_memory_equal(canon, "auditshim-record-v1\n", 20);
	/* seq item: length 1, "7". */
	assert_memory_equal(canon + 20, "\x01\x00\x00\x00" "7", 5);

	for (int i = 0; i < 32; i++)
		prev[i] = (unsigned char)i;
	memset(key, 0x42, sizeof key);
	struct chain_ctx *c = chain_ctx_new(key);
	assert_non_null(c);
	assert_true(chain_has_key(c));
	assert_int_equal(chain_seal(c, prev, canon, n, hash, mac), 0);
	unhex("569d6ad694f2071fffe50946cd796d3f2890bafe3f14fd478b7ef6d66387326b", want);
	assert_memory_equal(hash, want, 32);
	unhex("9f5a8b41bbcd69fe00f660695b8b802deb73546d7004a02a995b0bdb923390ba", want);
	assert_memory_equal(mac, want, 32);
	/* The reused HMAC context gives the same answer a second time. */
	memset(mac, 0, sizeof mac);
	assert_int_equal(chain_seal(c, prev, canon, n, hash, mac), 0);
	assert_memory_equal(mac, want, 32);
	assert_true(chain_equal(mac, want));
	want[31] ^= 1;
	assert_false(chain_equal(mac, want));
	chain_ctx_free(c);

	char hex[65];
	chain_hex(hash, 32, hex);
	assert_string_equal(hex, "569d6ad694f2071fffe50946cd796d3f2890bafe3f14fd478b7ef6d66387326b");
}

static void
test_null_differs_from_empty(void **state)
{
	(void)state;
	struct chain_record r;
	unsigned char a[1024], b[1024];
	fill(&r);
	r.agent = NULL;
	size_t na = chain_canonical(&r, a, sizeof a);
	r.agent = "";
	size_t nb = chain_canonical(&r, b, sizeof b);
	assert_int_equal(na, nb);
	assert_memory_not_equal(a, b, na);
	/* Integer NULL too. */
	fill(&r);
	r.has_ppid = false;
	na = chain_canonical(&r, a, sizeof a);
	fill(&r);
	r.ppid = 0;
	nb = chain_canonical(&r, b, sizeof b);
	assert_int_not_equal(na, nb);
}

static void
test_field_boundaries_unambiguous(void **state)
{
	(void)state;
	struct chain_record r;
	unsigned char a[1024], b[1024];
	/* Moving a byte between adjacent fields changes the encoding. */
	fill(&r);
	r.host = "ab";
	r.session = "c";
	size_t na = chain_canonical(&r, a, sizeof a);
	r.host = "a";
	r.session = "bc";
	size_t nb = chain_canonical(&r, b, sizeof b);
	assert_int_equal(na, nb);
	assert_memory_not_equal(a, b, na);
}

static void
test_negative_and_short_buffer(void **state)
{
	(void)state;
	struct chain_record r;
	unsigned char a[1024], small[16];
	fill(&r);
	r.pid = -5;
	size_t n = chain_canonical(&r, a, sizeof a);
	assert_non_null(memmem(a, n, "\x02\x00\x00\x00-5", 6));
	/* Extremes of the integer range, and zero. */
	r.pid = INT64_MIN;
	n = chain_canonical(&r, a, sizeof a);
	assert_non_null(memmem(a, n, "\x14\x00\x00\x00" "-9223372036854775808", 24));
	r.pid = INT64_MAX;
	n = chain_canonical(&r, a, sizeof a);
	assert_non_null(memmem(a, n, "\x13\x00\x00\x00" "9223372036854775807", 23));
	r.pid = 0;
	n = chain_canonical(&r, a, sizeof a);
	assert_non_null(memmem(a, n, "\x01\x00\x00\x00" "0" "\x01\x00\x00\x00" "1", 10));
	r.pid = -5;
	n = chain_canonical(&r, a, sizeof a);
	/* A short buffer gets a prefix and the full length back. */
	size_t m = chain_canonical(&r, small, sizeof small);
	assert_int_equal(m, n);
	assert_memory_equal(small, a, sizeof small);
}

/* The pid field's bytes in R's encoding, as text, into OUT. */
static void
pid_text(const struct chain_record *r, char *out, size_t len)
{
	unsigned char a[1024];
	size_t n = chain_canonical(r, a, sizeof a);
	/* magic, seq, time, recv_time, host, session, agent, then pid */
	size_t off = sizeof CHAIN_CANON_MAGIC - 1;
	for (int f = 0; f < 6; f++) {
		uint32_t l = a[off] | a[off + 1] << 8 | a[off + 2] << 16 |
			     (uint32_t)a[off + 3] << 24;
		off += 4 + (l == 0xffffffffu ? 0 : l);
	}
	uint32_t l = a[off] | a[off + 1] << 8;
	assert_true(off + 4 + l <= n && l < len);
	memcpy(out, a + off + 4, l);
	out[l] = '\0';
}

static void
test_integers_as_printf(void **state)
{
	(void)state;
	struct chain_record r;
	char got[32], want[32];
	uint64_t x = 88172645463325252ull;	/* xorshift64 state */
	fill(&r);
	/* Every power of ten and its neighbours, both signs, then noise. */
	for (int i = 0; i < 2000; i++) {
		int64_t v;
		if (i < 19 * 6) {
			int64_t p = 1;
			for (int k = 0; k < i / 6; k++)
				p *= 10;
			v = p + (i % 3) - 1;
			if (i % 6 >= 3)
				v = -v;
		} else {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			v = (int64_t)(x >> (x % 64));
			if (x & 1)
				v = -v;
		}
		r.pid = v;
		pid_text(&r, got, sizeof got);
		snprintf(want, sizeof want, "%" PRId64, v);
		assert_string_equal(got, want);
	}
}

static void
test_hash_only_ctx(void **state)
{
	(void)state;
	unsigned char prev[32] = {0}, hash[32], mac[32];
	struct chain_ctx *c = chain_ctx_new(NULL);
	assert_non_null(c);
	assert_false(chain_has_key(c));
	assert_int_equal(chain_seal(c, prev, (const unsigned char *)"x", 1, hash, mac), 0);
	assert_int_equal(chain_hmac(c, "x", 1, mac), -EINVAL);
	chain_ctx_free(c);
	chain_ctx_free(NULL);
}

static void
test_key_files(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_chain.XXXXXX";
	char path[256];
	unsigned char k1[32], k2[32];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/key", dir);

	assert_int_equal(chain_key_load(path, k1), -ENOENT);
	assert_int_equal(chain_key_create(path, k1), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 32);
	/* Never overwrites an existing key. */
	assert_int_equal(chain_key_create(path, k2), -EEXIST);
	assert_int_equal(chain_key_load(path, k2), 0);
	assert_memory_equal(k1, k2, 32);
	/* Too open a mode is refused. */
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(chain_key_load(path, k2), -EPERM);
	assert_int_equal(chmod(path, 0600), 0);
	/* Wrong size is refused. */
	assert_int_equal(truncate(path, 31), 0);
	assert_int_equal(chain_key_load(path, k2), -EINVAL);
	unlink(path);
	/* A symlink is not followed. */
	assert_int_equal(symlink("/etc/hostname", path), 0);
	assert_int_equal(chain_key_load(path, k2), -ELOOP);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_vector),
		cmocka_unit_test(test_null_differs_from_empty),
		cmocka_unit_test(test_field_boundaries_unambiguous),
		cmocka_unit_test(test_negative_and_short_buffer),
		cmocka_unit_test(test_integers_as_printf),
		cmocka_unit_test(test_hash_only_ctx),
		cmocka_unit_test(test_key_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
