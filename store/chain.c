/* SPDX-License-Identifier: MIT */
/*
 * chain.c - canonical encoding, SHA-256 chain and HMAC seal of records
 * (docs/record-format.md).  The only file that calls OpenSSL: its
 * 1-is-success convention is turned into 0 / -errno here.
 */
#include "chain.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

const char *const chain_field_names[CHAIN_NFIELDS] = {
	"seq", "time", "recv_time", "host", "session", "agent",
	"pid", "ppid", "uid", "gid", "exe", "event", "class", "target",
	"argv", "detail", "result", "errno", "severity", "pseq", "image",
	"key_epoch",
};

struct canon_out {
	unsigned char *buf;	/* destination */
	size_t cap;		/* its size */
	size_t len;		/* bytes needed so far */
};

static void
out_bytes(struct canon_out *o, const void *p, size_t n)
{
	if (o->len < o->cap) {
		size_t k = o->cap - o->len < n ? o->cap - o->len : n;
		memcpy(o->buf + o->len, p, k);
	}
	o->len += n;
}

static void
out_field(struct canon_out *o, const char *s, size_t n, bool null)
{
	unsigned char l[4];
	uint32_t v = null ? 0xffffffffu : (uint32_t)n;
	for (int i = 0; i < 4; i++)
		l[i] = (unsigned char)(v >> (8 * i));
	out_bytes(o, l, 4);
	if (!null)
		out_bytes(o, s, n);
}

static void
out_str(struct canon_out *o, const char *s)
{
	out_field(o, s, s ? strlen(s) : 0, s == NULL);
}

/* Decimal ASCII of V; snprintf was a quarter of verify's time. */
static void
out_int(struct canon_out *o, int64_t v, bool present)
{
	char tmp[24];
	char *p = tmp + sizeof tmp;
	/* Negate in unsigned arithmetic so INT64_MIN works. */
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	if (!present) {
		out_field(o, NULL, 0, true);
		return;
	}
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	out_field(o, p, (size_t)(tmp + sizeof tmp - p), false);
}

size_t
chain_canonical(const struct chain_record *r, unsigned char *buf, size_t cap)
{
	struct canon_out o = { buf, cap, 0 };

	out_bytes(&o, CHAIN_CANON_MAGIC, sizeof CHAIN_CANON_MAGIC - 1);
	out_int(&o, r->seq, true);
	out_str(&o, r->time);
	out_str(&o, r->recv_time);
	out_str(&o, r->host);
	out_str(&o, r->session);
	out_str(&o, r->agent);
	out_int(&o, r->pid, r->has_pid);
	out_int(&o, r->ppid, r->has_ppid);
	out_int(&o, r->uid, r->has_uid);
	out_int(&o, r->gid, r->has_gid);
	out_str(&o, r->exe);
	out_str(&o, r->event);
	out_str(&o, r->klass);
	out_str(&o, r->target);
	out_str(&o, r->argv);
	out_str(&o, r->detail);
	out_str(&o, r->result);
	out_str(&o, r->errno_name);
	out_str(&o, r->severity);
	out_int(&o, r->pseq, r->has_pseq);
	out_str(&o, r->image);
	out_int(&o, r->key_epoch, true);
	return o.len;
}

struct chain_ctx {
	EVP_MD *sha256;		/* fetched once */
	EVP_MD_CTX *md;		/* reused digest context */
	EVP_MAC *hmac;		/* fetched once, NULL without a key */
	EVP_MAC_CTX *mac;	/* keyed HMAC context, re-initialised per MAC */
	bool has_key;		/* a key was given */
};

struct chain_ctx *
chain_ctx_new(const unsigned char *key)
{
	struct chain_ctx *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	c->md = EVP_MD_CTX_new();
	if (!c->sha256 || !c->md)
		goto fail;
	if (key) {
		OSSL_PARAM params[2];
		params[0] = OSSL_PARAM_construct_utf8_string(
			OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
		params[1] = OSSL_PARAM_construct_end();
		c->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
		if (!c->hmac)
			goto fail;
		c->mac = EVP_MAC_CTX_new(c->hmac);
		if (!c->mac ||
		    EVP_MAC_init(c->mac, key, CHAIN_KEY_LEN, params) != 1)
			goto fail;
		c->has_key = true;
	}
	return c;
fail:
	chain_ctx_free(c);
	return NULL;
}

void
chain_ctx_free(struct chain_ctx *c)
{
	if (!c)
		return;
	EVP_MAC_CTX_free(c->mac);
	EVP_MAC_free(c->hmac);
	EVP_MD_CTX_free(c->md);
	EVP_MD_free(c->sha256);
	free(c);
}

bool
chain_has_key(const struct chain_ctx *c)
{
	return c->has_key;
}

int
chain_hmac(struct chain_ctx *c, const void *data, size_t len,
	   unsigned char out[CHAIN_HASH_LEN])
{
	size_t outl = 0;

	if (!c->has_key)
		return -EINVAL;
	/* Re-initialising with a NULL key keeps the key schedule: ~3x
	 * cheaper than a one-shot HMAC(). */
	if (EVP_MAC_init(c->mac, NULL, 0, NULL) != 1 ||
	    EVP_MAC_update(c->mac, data, len) != 1 ||
	    EVP_MAC_final(c->mac, out, &outl, CHAIN_HASH_LEN) != 1 ||
	    outl != CHAIN_HASH_LEN)
		return -EIO;
	return 0;
}

int
chain_seal(struct chain_ctx *c, const unsigned char prev[CHAIN_HASH_LEN],
	   const unsigned char *canon, size_t canon_len,
	   unsigned char hash[CHAIN_HASH_LEN], unsigned char mac[CHAIN_HASH_LEN])
{
	unsigned int hl = 0;

	if (EVP_DigestInit_ex(c->md, c->sha256, NULL) != 1 ||
	    EVP_DigestUpdate(c->md, prev, CHAIN_HASH_LEN) != 1 ||
	    EVP_DigestUpdate(c->md, canon, canon_len) != 1 ||
	    EVP_DigestFinal_ex(c->md, hash, &hl) != 1 || hl != CHAIN_HASH_LEN)
		return -EIO;
	if (mac && c->has_key)
		return chain_hmac(c, hash, CHAIN_HASH_LEN, mac);
	return 0;
}

bool
chain_equal(const unsigned char *a, const unsigned char *b)
{
	return CRYPTO_memcmp(a, b, CHAIN_HASH_LEN) == 0;
}

void
chain_hex(const unsigned char *in, size_t len, char *out)
{
	static const char hx[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hx[in[i] >> 4];
		out[2 * i + 1] = hx[in[i] & 15];
	}
	out[2 * len] = '\0';
}

void
chain_wipe(void *p, size_t len)
{
	OPENSSL_cleanse(p, len);
}

int
chain_key_load(const char *path, unsigned char key[CHAIN_KEY_LEN])
{
	struct stat st;
	int rc = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out_close;
	}
	if (!S_ISREG(st.st_mode) || st.st_size != CHAIN_KEY_LEN) {
		rc = -EINVAL;
		goto out_close;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		rc = -EPERM;
		goto out_close;
	}
	size_t got = 0;
	while (got < CHAIN_KEY_LEN) {
		ssize_t n = read(fd, key + got, CHAIN_KEY_LEN - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -EINVAL;
			chain_wipe(key, CHAIN_KEY_LEN);
			goto out_close;
		}
		got += (size_t)n;
	}
out_close:
	close(fd);
	return rc;
}

int
chain_key_create(const char *path, unsigned char key[CHAIN_KEY_LEN])
{
	int rc = 0;

	if (RAND_priv_bytes(key, CHAIN_KEY_LEN) != 1)
		return -EIO;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		      0600);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0600) < 0) {
		rc = -errno;
		goto out_unlink;
	}
	size_t put = 0;
	while (put < CHAIN_KEY_LEN) {
		ssize_t n = write(fd, key + put, CHAIN_KEY_LEN - put);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			goto out_unlink;
		}
		put += (size_t)n;
	}
	if (fsync(fd) < 0) {
		rc = -errno;
		goto out_unlink;
	}
	close(fd);
	return 0;
out_unlink:
	close(fd);
	unlink(path);
	chain_wipe(key, CHAIN_KEY_LEN);
	return rc;
}
