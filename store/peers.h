/* SPDX-License-Identifier: MIT */
/*
 * peers.h - network peers as the policies see them: IP address parsing
 * for record targets ("1.2.3.4:80", "[::1]:443", bare resolver answers)
 * and the writer's bounded cache of addresses that allowlisted host names
 * resolved to, so a connect can be tied to the lookup that explains it.
 * docs/policy.md ("Connections and the host allowlist").  Not
 * thread-safe; allocates only when an entry is learned.
 */
#ifndef AUDITSHIM_PEERS_H
#define AUDITSHIM_PEERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An IP address; IPv4 is stored IPv4-mapped (::ffff:a.b.c.d). */
struct peer_addr {
	unsigned char b[16];	/* network order */
};

/* Longest host name the cache keeps (DNS names are at most 253). */
#define PEERS_HOST_MAX 255
/* Most entries a cache can hold (about 300 bytes each: 75 MiB). */
#define PEERS_CAP_MAX 262144

/*
 * Parses an address as records carry it: "a.b.c.d", "a.b.c.d:port",
 * "[v6]:port", "[v6]", bare "v6", with an optional "%scope" on v6.
 * Returns 0, or -EINVAL if S (N bytes) is not an IP address.
 */
int peers_parse(const char *s, size_t n, struct peer_addr *out);
/* True for loopback (127/8, ::1) and unspecified (0.0.0.0, ::) addresses:
 * a connect to one never leaves the host. */
bool peers_is_local(const struct peer_addr *a);
/* True if A lies in NET/PREFIX (PREFIX in bits of the 16-byte form). */
bool peers_in_net(const struct peer_addr *a, const struct peer_addr *net,
		  unsigned prefix);
/* Formats A as text (IPv4 dotted for mapped addresses) into OUT (46+). */
void peers_format(const struct peer_addr *a, char *out, size_t outlen);

/* The cache: address -> the allowlisted host name that resolved to it. */
struct peers;

/*
 * New empty cache of at most CAP entries, each valid TTL_MS after the
 * lookup that produced it.  NULL on ENOMEM or CAP == 0.
 */
struct peers *peers_new(size_t cap, uint64_t ttl_ms);
/* Frees P; NULL is a no-op. */
void peers_free(struct peers *p);
/*
 * Changes the limits (a reload).  Shrinking evicts the least recently
 * used entries down to CAP.  Returns 0, or -ENOMEM with P unchanged.
 */
int peers_set_limits(struct peers *p, size_t cap, uint64_t ttl_ms);
/*
 * Records that HOST (N bytes, at most PEERS_HOST_MAX, else -ENAMETOOLONG)
 * resolved to A at NOW_MS (monotonic): a known address gets the new host
 * and a fresh lifetime; a new one evicts the least recently used entry
 * when the cache is full.  Returns 0, or -ENOMEM (nothing learned).
 */
int peers_learn(struct peers *p, const struct peer_addr *a, const char *host,
		size_t n, uint64_t now_ms);
/*
 * The host name A was learned from, or NULL if unknown or expired (an
 * expired entry is dropped).  A hit becomes the most recently used.  The
 * string is valid until the next call that changes P.
 */
const char *peers_lookup(struct peers *p, const struct peer_addr *a,
			 uint64_t now_ms);
/* Entries held, the limit, and entries evicted to make room so far. */
size_t peers_count(const struct peers *p);
size_t peers_cap(const struct peers *p);
uint64_t peers_evicted(const struct peers *p);

#endif
