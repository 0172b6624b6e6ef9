/* SPDX-License-Identifier: MIT */
/*
 * test_peers.c - cmocka tests for peers.c: address parsing in every shape
 * records carry, loopback and network tests, and the resolved-address
 * cache's bounds: LRU eviction at its limit, lifetimes, a refresh on a
 * new lookup, and shrinking on a reload.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "peers.h"

static struct peer_addr
addr(const char *s)
{
	struct peer_addr a;
	if (peers_parse(s, strlen(s), &a) != 0)
		fail_msg("'%s' should parse", s);
	return a;
}

static void
test_parse(void **state)
{
	(void)state;
	static const struct { const char *in, *out; } ok[] = {
		{ "203.0.113.7", "203.0.113.7" },
		{ "203.0.113.7:443", "203.0.113.7" },
		{ "203.0.113.7:0", "203.0.113.7" },
		{ "[2001:db8::1]:443", "2001:db8::1" },
		{ "[2001:db8::1]", "2001:db8::1" },
		{ "2001:db8::1", "2001:db8::1" },
		{ "[fe80::1%2]:22", "fe80::1" },
		{ "fe80::1%eth0", "fe80::1" },
		{ "[::ffff:198.51.100.9]:80", "198.51.100.9" },
		{ "::1", "::1" },
	};
	static const char *const bad[] = {
		"", "/run/dbus/system_bus_socket", "@/tmp/.X11-unix/X0",
		"family:16", "github.com", "localhost", "1.2.3", "1.2.3.4.5",
		"[2001:db8::1", "[2001:db8::1]x", "256.1.1.1", "1.2.3.4:80:1x",
	};
	char buf[64];

	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		struct peer_addr a = addr(ok[i].in);
		peers_format(&a, buf, sizeof buf);
		if (strcmp(buf, ok[i].out) != 0)
			fail_msg("'%s': got '%s', want '%s'", ok[i].in, buf, ok[i].out);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct peer_addr a;
		if (peers_parse(bad[i], strlen(bad[i]), &a) != -EINVAL)
			fail_msg("'%s' should not parse", bad[i]);
	}
	/* IPv4 and its mapped IPv6 form are one address. */
	struct peer_addr a = addr("198.51.100.9:1"), b = addr("[::ffff:198.51.100.9]:2");
	assert_memory_equal(a.b, b.b, 16);
}

static void
test_local_and_nets(void **state)
{
	(void)state;
	static const char *const local[] = { "127.0.0.1:80", "127.8.9.1",
		"0.0.0.0:8080", "[::1]:443", "[::]:80", "[::ffff:127.0.0.1]:5" };
	static const char *const remote[] = { "203.0.113.7:80", "128.0.0.1",
		"[2001:db8::1]:443", "[::2]:1", "10.0.0.1", "[::ffff:8.8.8.8]:53" };

	for (size_t i = 0; i < sizeof local / sizeof local[0]; i++) {
		struct peer_addr a = addr(local[i]);
		if (!peers_is_local(&a))
			fail_msg("%s should be local", local[i]);
	}
	for (size_t i = 0; i < sizeof remote / sizeof remote[0]; i++) {
		struct peer_addr a = addr(remote[i]);
		if (peers_is_local(&a))
			fail_msg("%s should not be local", remote[i]);
	}
	struct peer_addr net = addr("10.0.0.0"), in = addr("10.255.1.2:80"),
			 out = addr("11.0.0.1");
	/* /8 on the IPv4-mapped form is 96 + 8 bits. */
	assert_true(peers_in_net(&in, &net, 104));
	assert_false(peers_in_net(&out, &net, 104));
	struct peer_addr n6 = addr("2001:db8::"), i6 = addr("[2001:db8:ff::1]:1"),
			 o6 = addr("2001:db9::1");
	assert_true(peers_in_net(&i6, &n6, 32));
	assert_false(peers_in_net(&o6, &n6, 32));
	assert_true(peers_in_net(&o6, &n6, 0));
	struct peer_addr h = addr("192.0.2.7");
	assert_true(peers_in_net(&h, &h, 128));
	struct peer_addr h2 = addr("192.0.2.8");
	assert_false(peers_in_net(&h2, &h, 128));
	assert_true(peers_in_net(&h2, &h, 124));	/* /28 */
}

static void
test_cache_lru(void **state)
{
	(void)state;
	struct peers *p = peers_new(3, 1000);
	char name[32];

	assert_non_null(p);
	assert_null(peers_new(0, 1000));
	for (int i = 1; i <= 3; i++) {
		snprintf(name, sizeof name, "h%d.example.com", i);
		char ip[32];
		snprintf(ip, sizeof ip, "192.0.2.%d", i);
		struct peer_addr a = addr(ip);
		assert_int_equal(peers_learn(p, &a, name, strlen(name), 0), 0);
	}
	assert_int_equal(peers_count(p), 3);
	struct peer_addr a1 = addr("192.0.2.1"), a2 = addr("192.0.2.2"),
			 a3 = addr("192.0.2.3"), a4 = addr("192.0.2.4");
	/* Using .1 makes .2 the least recently used ... */
	assert_string_equal(peers_lookup(p, &a1, 10), "h1.example.com");
	assert_int_equal(peers_learn(p, &a4, "h4", 2, 10), 0);
	assert_int_equal(peers_count(p), 3);
	assert_int_equal(peers_evicted(p), 1);
	/* ... so .2 is gone and the others are kept. */
	assert_null(peers_lookup(p, &a2, 10));
	assert_non_null(peers_lookup(p, &a1, 10));
	assert_non_null(peers_lookup(p, &a3, 10));
	assert_string_equal(peers_lookup(p, &a4, 10), "h4");

	/* A new lookup of a known address: new name, fresh lifetime. */
	assert_int_equal(peers_learn(p, &a1, "other.example.org", 17, 900), 0);
	assert_int_equal(peers_count(p), 3);
	assert_null(peers_lookup(p, &a3, 1000));	/* learned at 0: expired */
	assert_int_equal(peers_count(p), 2);
	assert_string_equal(peers_lookup(p, &a1, 1899), "other.example.org");
	assert_null(peers_lookup(p, &a1, 1900));
	/* Names longer than DNS allows are not kept. */
	char longname[PEERS_HOST_MAX + 2];
	memset(longname, 'a', sizeof longname);
	assert_int_equal(peers_learn(p, &a2, longname, sizeof longname, 0),
			 -ENAMETOOLONG);
	peers_free(p);
	peers_free(NULL);
}

static void
test_cache_bounds(void **state)
{
	(void)state;
	/* Many more lookups than room: never more than the limit, and the
	 * newest are the ones kept. */
	struct peers *p = peers_new(100, 60000);
	char ip[32];

	assert_non_null(p);
	for (int i = 0; i < 5000; i++) {
		snprintf(ip, sizeof ip, "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
		struct peer_addr a = addr(ip);
		assert_int_equal(peers_learn(p, &a, "x.example.com", 13, 0), 0);
		assert_true(peers_count(p) <= 100);
	}
	assert_int_equal(peers_count(p), 100);
	assert_int_equal(peers_evicted(p), 4900);
	for (int i = 4900; i < 5000; i++) {
		snprintf(ip, sizeof ip, "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
		struct peer_addr a = addr(ip);
		assert_non_null(peers_lookup(p, &a, 1));
	}
	struct peer_addr old = addr("10.0.0.1");
	assert_null(peers_lookup(p, &old, 1));
	/* Shrinking (a reload) keeps the most recently used. */
	struct peer_addr keep = addr("10.0.19.40");	/* 4904 */
	assert_non_null(peers_lookup(p, &keep, 2));
	assert_int_equal(peers_set_limits(p, 10, 60000), 0);
	assert_int_equal(peers_count(p), 10);
	assert_non_null(peers_lookup(p, &keep, 3));
	/* Growing again, then filling past the old array: still bounded. */
	assert_int_equal(peers_set_limits(p, 300, 60000), 0);
	for (int i = 0; i < 1000; i++) {
		snprintf(ip, sizeof ip, "172.16.%d.%d", i >> 8, i & 255);
		struct peer_addr a = addr(ip);
		assert_int_equal(peers_learn(p, &a, "y", 1, 5), 0);
	}
	assert_int_equal(peers_count(p), 300);
	assert_int_equal(peers_cap(p), 300);
	assert_int_equal(peers_set_limits(p, 0, 1), -EINVAL);
	assert_int_equal(peers_set_limits(p, PEERS_CAP_MAX + 1, 1), -EINVAL);
	peers_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_local_and_nets),
		cmocka_unit_test(test_cache_lru),
		cmocka_unit_test(test_cache_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
