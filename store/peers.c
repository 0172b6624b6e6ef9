/* SPDX-License-Identifier: MIT */
/*
 * peers.c - IP address parsing for record targets and the bounded cache of
 * addresses that allowlisted host names resolved to (peers.h).  The cache
 * is a hash table over a slot array that grows on demand up to its limit,
 * with one LRU list through the slots; indexes, not pointers, so growing
 * is one realloc.
 */
#include "peers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "No slot" in the chains and the LRU list. */
#define NONE UINT32_MAX

/* One cached address. */
struct peer_slot {
	struct peer_addr a;	/* the address */
	uint64_t expires_ms;	/* monotonic time it stops explaining connects */
	uint32_t hnext;		/* next slot in its hash bucket, or NONE */
	uint32_t prev, next;	/* LRU neighbours (prev: more recent), or NONE */
	bool used;		/* holds an entry (else on the free list via hnext) */
	char host[PEERS_HOST_MAX + 1];	/* the allowlisted name, NUL-terminated */
};

struct peers {
	struct peer_slot *s;	/* slots, owned */
	uint32_t nalloc;	/* slots allocated (grows to cap) */
	uint32_t n;		/* entries held */
	uint32_t cap;		/* most entries */
	uint32_t *bucket;	/* first slot per bucket, or NONE; owned */
	uint32_t nbucket;	/* power of two >= cap */
	uint32_t head, tail;	/* LRU: most and least recently used */
	uint32_t free;		/* first free slot, chained through hnext */
	uint64_t ttl_ms;	/* lifetime of a learned entry */
	uint64_t evicted;	/* entries dropped to make room */
};

int
peers_parse(const char *s, size_t n, struct peer_addr *out)
{
	char buf[INET6_ADDRSTRLEN + 16];
	const char *a = s;
	size_t alen = n;

	if (n == 0 || n >= sizeof buf)
		return -EINVAL;
	if (s[0] == '[') {
		const char *e = memchr(s, ']', n);
		/* "]" then nothing, or ":port". */
		if (!e || (e + 1 != s + n && e[1] != ':'))
			return -EINVAL;
		a = s + 1;
		alen = (size_t)(e - a);
	} else {
		const char *c1 = memchr(s, ':', n);
		const char *c2 = c1 ? memchr(c1 + 1, ':', n - (size_t)(c1 + 1 - s))
				    : NULL;
		/* One colon: IPv4 with a port; two or more: bare IPv6. */
		if (c1 && !c2)
			alen = (size_t)(c1 - s);
	}
	/* An IPv6 zone ("%eth0", "%2") does not change the address. */
	const char *pct = memchr(a, '%', alen);
	if (pct)
		alen = (size_t)(pct - a);
	if (alen == 0 || alen >= sizeof buf)
		return -EINVAL;
	memcpy(buf, a, alen);
	buf[alen] = '\0';
	unsigned char v4[4];
	if (inet_pton(AF_INET, buf, v4) == 1) {
		memset(out->b, 0, 10);
		out->b[10] = out->b[11] = 0xff;
		memcpy(out->b + 12, v4, 4);
		return 0;
	}
	if (inet_pton(AF_INET6, buf, out->b) == 1)
		return 0;
	return -EINVAL;
}

static bool
is_mapped(const struct peer_addr *a)
{
	static const unsigned char pfx[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					       0xff, 0xff };
	return memcmp(a->b, pfx, 12) == 0;
}

bool
peers_is_local(const struct peer_addr *a)
{
	static const unsigned char zero[16];

	if (is_mapped(a))
		return a->b[12] == 127 || memcmp(a->b + 12, zero, 4) == 0;
	/* :: and ::1 */
	return memcmp(a->b, zero, 15) == 0 && a->b[15] <= 1;
}

bool
peers_in_net(const struct peer_addr *a, const struct peer_addr *net,
	     unsigned prefix)
{
	unsigned full = prefix / 8, rest = prefix % 8;

	if (prefix > 128)
		return false;
	if (memcmp(a->b, net->b, full) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (a->b[full] & mask) == (net->b[full] & mask);
}

void
peers_format(const struct peer_addr *a, char *out, size_t outlen)
{
	if (is_mapped(a)) {
		if (!inet_ntop(AF_INET, a->b + 12, out, (socklen_t)outlen))
			snprintf(out, outlen, "?");
	} else if (!inet_ntop(AF_INET6, a->b, out, (socklen_t)outlen)) {
		snprintf(out, outlen, "?");
	}
}

/* FNV-1a over the 16 bytes. */
static uint32_t
hash(const struct peer_addr *a)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < 16; i++) {
		h ^= a->b[i];
		h *= 16777619u;
	}
	return h;
}

static uint32_t
buckets_for(uint32_t cap)
{
	uint32_t nb = 16;
	while (nb < cap)
		nb <<= 1;
	return nb;
}

struct peers *
peers_new(size_t cap, uint64_t ttl_ms)
{
	struct peers *p;

	if (cap == 0 || cap > PEERS_CAP_MAX)
		return NULL;
	p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->cap = (uint32_t)cap;
	p->ttl_ms = ttl_ms;
	p->nbucket = buckets_for(p->cap);
	p->bucket = malloc(p->nbucket * sizeof *p->bucket);
	if (!p->bucket) {
		free(p);
		return NULL;
	}
	memset(p->bucket, 0xff, p->nbucket * sizeof *p->bucket);
	p->head = p->tail = p->free = NONE;
	return p;
}

void
peers_free(struct peers *p)
{
	if (!p)
		return;
	free(p->s);
	free(p->bucket);
	free(p);
}

static void
lru_unlink(struct peers *p, uint32_t i)
{
	struct peer_slot *e = &p->s[i];

	if (e->prev != NONE)
		p->s[e->prev].next = e->next;
	else
		p->head = e->next;
	if (e->next != NONE)
		p->s[e->next].prev = e->prev;
	else
		p->tail = e->prev;
	e->prev = e->next = NONE;
}

static void
lru_front(struct peers *p, uint32_t i)
{
	struct peer_slot *e = &p->s[i];

	e->prev = NONE;
	e->next = p->head;
	if (p->head != NONE)
		p->s[p->head].prev = i;
	p->head = i;
	if (p->tail == NONE)
		p->tail = i;
}

/* Slot holding A, or NONE. */
static uint32_t
find(const struct peers *p, const struct peer_addr *a)
{
	for (uint32_t i = p->bucket[hash(a) & (p->nbucket - 1)]; i != NONE;
	     i = p->s[i].hnext)
		if (memcmp(p->s[i].a.b, a->b, 16) == 0)
			return i;
	return NONE;
}

/* Drops entry I: out of its bucket and the LRU list, onto the free list. */
static void
drop(struct peers *p, uint32_t i)
{
	uint32_t *link = &p->bucket[hash(&p->s[i].a) & (p->nbucket - 1)];

	while (*link != i)
		link = &p->s[*link].hnext;
	*link = p->s[i].hnext;
	lru_unlink(p, i);
	p->s[i].used = false;
	p->s[i].hnext = p->free;
	p->free = i;
	p->n--;
}

int
peers_set_limits(struct peers *p, size_t cap, uint64_t ttl_ms)
{
	if (cap == 0 || cap > PEERS_CAP_MAX)
		return -EINVAL;
	uint32_t nb = buckets_for((uint32_t)cap);
	if (nb != p->nbucket) {
		uint32_t *b = malloc(nb * sizeof *b);
		if (!b)
			return -ENOMEM;
		memset(b, 0xff, nb * sizeof *b);
		for (uint32_t i = 0; i < p->nalloc; i++) {
			if (!p->s[i].used)
				continue;
			uint32_t h = hash(&p->s[i].a) & (nb - 1);
			p->s[i].hnext = b[h];
			b[h] = i;
		}
		free(p->bucket);
		p->bucket = b;
		p->nbucket = nb;
	}
	p->cap = (uint32_t)cap;
	p->ttl_ms = ttl_ms;
	while (p->n > p->cap) {
		drop(p, p->tail);
		p->evicted++;
	}
	return 0;
}

/* A free slot, growing the array (up to cap) or evicting the LRU entry;
 * NONE on ENOMEM. */
static uint32_t
take_slot(struct peers *p)
{
	if (p->n >= p->cap) {
		/* Full: the least recently used entry makes room. */
		drop(p, p->tail);
		p->evicted++;
	} else if (p->free == NONE) {
		/* Every slot holds an entry, so nalloc == n < cap. */
		uint32_t na = p->nalloc ? p->nalloc * 2 : 64;
		if (na > p->cap)
			na = p->cap;
		struct peer_slot *s = realloc(p->s, na * sizeof *s);
		if (!s)
			return NONE;
		p->s = s;
		/* The new slots go onto the free list, lowest first. */
		for (uint32_t i = na; i-- > p->nalloc;) {
			s[i].used = false;
			s[i].hnext = p->free;
			p->free = i;
		}
		p->nalloc = na;
	}
	uint32_t i = p->free;
	p->free = p->s[i].hnext;
	return i;
}

int
peers_learn(struct peers *p, const struct peer_addr *a, const char *host,
	    size_t n, uint64_t now_ms)
{
	if (n > PEERS_HOST_MAX)
		return -ENAMETOOLONG;
	uint32_t i = find(p, a);
	if (i == NONE) {
		i = take_slot(p);
		if (i == NONE)
			return -ENOMEM;
		struct peer_slot *e = &p->s[i];
		e->a = *a;
		e->used = true;
		uint32_t h = hash(a) & (p->nbucket - 1);
		e->hnext = p->bucket[h];
		p->bucket[h] = i;
		e->prev = e->next = NONE;
		p->n++;
	} else {
		lru_unlink(p, i);
	}
	struct peer_slot *e = &p->s[i];
	memcpy(e->host, host, n);
	e->host[n] = '\0';
	e->expires_ms = now_ms + p->ttl_ms;
	lru_front(p, i);
	return 0;
}

const char *
peers_lookup(struct peers *p, const struct peer_addr *a, uint64_t now_ms)
{
	if (!p)
		return NULL;
	uint32_t i = find(p, a);
	if (i == NONE)
		return NULL;
	if (now_ms >= p->s[i].expires_ms) {
		drop(p, i);
		return NULL;
	}
	lru_unlink(p, i);
	lru_front(p, i);
	return p->s[i].host;
}

size_t peers_count(const struct peers *p) { return p ? p->n : 0; }
size_t peers_cap(const struct peers *p) { return p ? p->cap : 0; }
uint64_t peers_evicted(const struct peers *p) { return p ? p->evicted : 0; }
