/* SPDX-License-Identifier: MIT */
/*
 * chain.c - canonical encoding, SHA-256 chain and HMAC seal of records
 * (docs/record-format.md).  The only file that calls OpenSSL: its
 * 1-is-success convention is turned into 0 / -errno here.
 */
/*
 * SHA-256 through OpenSSL's low-level functions (SHA256_Init/Update/Final,
 * deprecated since 3.0 in favour of EVP, present in every 3.x release):
 * per record, EVP's provider dispatch, context copies and cleansing cost
 * more than the compression of the record itself -- a third of verify's
 * time went there, against a fifth now.  HMAC is RFC 2104 over the same
 * functions, from the key's inner and outer states computed once per
 * context.  The bytes are the same; FIPS-provider routing is not used.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "chain.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

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
	uint32_t *lens;		/* field lengths, or NULL */
	unsigned field;		/* fields written */
};

static inline void
out_bytes(struct canon_out *o, const void *p, size_t n)
{
	if (o->len <= o->cap && n <= o->cap - o->len)
		memcpy(o->buf + o->len, p, n);
	else if (o->len < o->cap)
		memcpy(o->buf + o->len, p, o->cap - o->len);
	o->len += n;
}

static inline void
out_field(struct canon_out *o, const char *s, size_t n, bool null)
{
	uint32_t v = null ? 0xffffffffu : (uint32_t)n;

	if (o->lens)
		o->lens[o->field++] = v;
	unsigned char l[4] = { (unsigned char)v, (unsigned char)(v >> 8),
			       (unsigned char)(v >> 16), (unsigned char)(v >> 24) };

	out_bytes(o, l, 4);
	if (!null)
		out_bytes(o, s, n);
}

static inline void
out_str(struct canon_out *o, const char *s)
{
	out_field(o, s, s ? strlen(s) : 0, s == NULL);
}

/*
 * Decimal ASCII of V, two digits per division; snprintf was a quarter of
 * verify's time.
 */
static void
out_int(struct canon_out *o, int64_t v, bool present)
{
	static const char pairs[201] =
		"00010203040506070809101112131415161718192021222324"
		"25262728293031323334353637383940414243444546474849"
		"50515253545556575859606162636465666768697071727374"
		"75767778798081828384858687888990919293949596979899";
	char tmp[24];
	char *p = tmp + sizeof tmp;
	/* Negate in unsigned arithmetic so INT64_MIN works. */
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	if (!present) {
		out_field(o, NULL, 0, true);
		return;
	}
	while (u >= 100) {
		unsigned d = (unsigned)(u % 100);
		u /= 100;
		p -= 2;
		memcpy(p, pairs + 2 * d, 2);
	}
	if (u >= 10) {
		p -= 2;
		memcpy(p, pairs + 2 * u, 2);
	} else {
		*--p = (char)('0' + u);
	}
	if (v < 0)
		*--p = '-';
	out_field(o, p, (size_t)(tmp + sizeof tmp - p), false);
}

size_t
chain_canonical(const struct chain_record *r, unsigned char *buf, size_t cap)
{
	return chain_canonical_lens(r, buf, cap, NULL);
}

size_t
chain_canonical_lens(const struct chain_record *r, unsigned char *buf,
		     size_t cap, uint32_t lens[CHAIN_NFIELDS])
{
	struct canon_out o = { buf, cap, 0, lens, 0 };

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

/* SHA-256's block size: the length of HMAC's padded key. */
#define SHA256_BLOCK 64

struct chain_ctx {
	SHA256_CTX inner;	/* after (key ^ ipad): HMAC's inner hash so far */
	SHA256_CTX outer;	/* after (key ^ opad): HMAC's outer hash so far */
	bool has_key;		/* a key was given */
};

struct chain_ctx *
chain_ctx_new(const unsigned char *key)
{
	unsigned char pad[SHA256_BLOCK] = { 0 };
	struct chain_ctx *c = calloc(1, sizeof *c);

	if (!c)
		return NULL;
	if (!key)
		return c;
	/* RFC 2104: a key shorter than the block is padded with zeros. */
	memcpy(pad, key, CHAIN_KEY_LEN);
	for (size_t i = 0; i < sizeof pad; i++)
		pad[i] ^= 0x36;
	int ok = SHA256_Init(&c->inner) == 1 &&
		 SHA256_Update(&c->inner, pad, sizeof pad) == 1;
	for (size_t i = 0; i < sizeof pad; i++)
		pad[i] ^= 0x36 ^ 0x5c;
	ok = ok && SHA256_Init(&c->outer) == 1 &&
	     SHA256_Update(&c->outer, pad, sizeof pad) == 1;
	OPENSSL_cleanse(pad, sizeof pad);
	if (!ok) {
		chain_ctx_free(c);
		return NULL;
	}
	c->has_key = true;
	return c;
}

void
chain_ctx_free(struct chain_ctx *c)
{
	if (!c)
		return;
	OPENSSL_cleanse(c, sizeof *c);
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
	unsigned char ih[CHAIN_HASH_LEN];
	SHA256_CTX x;
	int rc = 0;

	if (!c->has_key)
		return -EINVAL;
	/*
	 * Copies of the key's states: the key schedule is never redone.
	 * After SHA256_Final, X holds the output only (OpenSSL clears the
	 * block buffer), so there is nothing of the key to wipe.
	 */
	x = c->inner;
	if (SHA256_Update(&x, data, len) != 1 || SHA256_Final(ih, &x) != 1)
		rc = -EIO;
	x = c->outer;
	if (rc == 0 && (SHA256_Update(&x, ih, sizeof ih) != 1 ||
			SHA256_Final(out, &x) != 1))
		rc = -EIO;
	return rc;
}

int
chain_seal(struct chain_ctx *c, const unsigned char prev[CHAIN_HASH_LEN],
	   const unsigned char *canon, size_t canon_len,
	   unsigned char hash[CHAIN_HASH_LEN], unsigned char mac[CHAIN_HASH_LEN])
{
	SHA256_CTX x;

	if (SHA256_Init(&x) != 1 ||
	    SHA256_Update(&x, prev, CHAIN_HASH_LEN) != 1 ||
	    SHA256_Update(&x, canon, canon_len) != 1 ||
	    SHA256_Final(hash, &x) != 1)
		return -EIO;
	if (mac && c->has_key)
		return chain_hmac(c, hash, CHAIN_HASH_LEN, mac);
	return 0;
}

/*
 * Word-wise and without an early exit, like CRYPTO_memcmp() but without
 * its byte loop: three compares per record were 2% of verify's time.
 */
bool
chain_equal(const unsigned char *a, const unsigned char *b)
{
	uint64_t d = 0;

	for (size_t i = 0; i < CHAIN_HASH_LEN; i += 8) {
		uint64_t x, y;
		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		d |= x ^ y;
	}
	return d == 0;
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
