/* SPDX-License-Identifier: MIT */
/*
 * test_wire.c - cmocka tests for the wire codec: round trips and every
 * malformed-length and malformed-field case the decoder must refuse.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "wire.h"

static unsigned char buf[WIRE_MAX_MSG + 64];
static struct wire_msg msg;

/* A minimal valid record: the four required fields. */
static size_t
make_min(void)
{
	struct wire_enc e;
	wire_enc_init(&e, buf, sizeof buf, WIRE_T_RECORD);
	assert_int_equal(wire_put_u64(&e, WT_EVENT, WE_OPEN), 0);
	assert_int_equal(wire_put_u64(&e, WT_PSEQ, 1), 0);
	assert_int_equal(wire_put_u64(&e, WT_IMAGE, 0x1122334455667788ull), 0);
	assert_int_equal(wire_put_u64(&e, WT_TIME, 1700000000123456789ull), 0);
	return wire_enc_finish(&e);
}

/* Rewrites the header's field count and length after hand edits. */
static void
set_hdr(size_t nfields, size_t len)
{
	wire_le16(buf + 6, (uint16_t)nfields);
	wire_le32(buf + 8, (uint32_t)len);
}

/* Appends a raw field at LEN; returns the new length. */
static size_t
append_field(size_t len, uint16_t tag, const void *v, uint16_t vlen)
{
	wire_le16(buf + len, tag);
	wire_le16(buf + len + 2, vlen);
	memcpy(buf + len + 4, v, vlen);
	return len + 4 + vlen;
}

static void
test_roundtrip_full(void **state)
{
	(void)state;
	struct wire_enc e;
	wire_enc_init(&e, buf, sizeof buf, WIRE_T_RECORD);
	assert_int_equal(wire_put_u64(&e, WT_EVENT, WE_EXEC), 0);
	assert_int_equal(wire_put_u64(&e, WT_PSEQ, 42), 0);
	assert_int_equal(wire_put_u64(&e, WT_IMAGE, 7), 0);
	assert_int_equal(wire_put_u64(&e, WT_TIME, 99), 0);
	assert_int_equal(wire_put_u64(&e, WT_RESULT, (uint64_t)-1), 0);
	assert_int_equal(wire_put_u64(&e, WT_OUTCOME, WO_ERROR), 0);
	assert_int_equal(wire_put_str(&e, WT_TARGET, "/bin/ls", 7), 0);
	assert_int_equal(wire_put_str(&e, WT_ARG, "ls", 2), 0);
	assert_int_equal(wire_put_str(&e, WT_ARG, "-l", 2), 0);
	assert_int_equal(wire_put_str(&e, WT_ARG, "", 0), 0);
	assert_int_equal(wire_put_str(&e, WT_ADDR, "127.0.0.1", 9), 0);
	size_t n = wire_enc_finish(&e);

	assert_int_equal(wire_decode(buf, n, &msg), 0);
	assert_int_equal(msg.type, WIRE_T_RECORD);
	assert_int_equal(msg.u[WT_EVENT], WE_EXEC);
	assert_int_equal(msg.u[WT_PSEQ], 42);
	assert_true(msg.u[WT_RESULT] == (uint64_t)-1);
	assert_true(wire_has(&msg, WT_TARGET));
	assert_false(wire_has(&msg, WT_CWD));
	assert_int_equal(msg.s[WT_TARGET].len, 7);
	assert_memory_equal(msg.s[WT_TARGET].p, "/bin/ls", 7);
	assert_int_equal(msg.nargs, 3);
	assert_memory_equal(msg.args[1].p, "-l", 2);
	assert_int_equal(msg.args[2].len, 0);
	assert_int_equal(msg.naddrs, 1);
	assert_string_equal(wire_event_name(WE_EXEC), "exec");
	assert_null(wire_event_name(WE__MAX + 1));
}

static void
test_little_endian_layout(void **state)
{
	(void)state;
	size_t n = make_min();
	/* Header bytes are fixed by docs/wire.md. */
	assert_memory_equal(buf, "ASHM\x01\x01", 6);
	assert_int_equal(buf[6], 4);
	assert_int_equal(buf[7], 0);
	assert_int_equal(wire_rd32(buf + 8), n);
	/* First field: tag 1 (event), len 8, value 4 (open) little-endian. */
	assert_memory_equal(buf + 12, "\x01\x00\x08\x00\x04\x00\x00\x00\x00\x00\x00\x00", 12);
	/* Image nonce byte order. */
	assert_int_equal(wire_rd64(buf + 12 + 2 * 12 + 4), 0x1122334455667788ull);
	assert_int_equal(buf[12 + 2 * 12 + 4], 0x88);
}

static void
test_approval(void **state)
{
	(void)state;
	struct wire_enc e;
	wire_enc_init(&e, buf, sizeof buf, WIRE_T_APPROVAL);
	wire_put_str(&e, WT_TASK, "T-1", 3);
	size_t n = wire_enc_finish(&e);
	assert_int_equal(wire_decode(buf, n, &msg), WIRE_EMISSING);
	wire_enc_init(&e, buf, sizeof buf, WIRE_T_APPROVAL);
	wire_put_str(&e, WT_TASK, "T-1", 3);
	wire_put_str(&e, WT_DECISION, "approve", 7);
	n = wire_enc_finish(&e);
	assert_int_equal(wire_decode(buf, n, &msg), 0);
	assert_int_equal(msg.type, WIRE_T_APPROVAL);
}

static void
test_short_and_header(void **state)
{
	(void)state;
	size_t n = make_min();
	for (size_t k = 0; k < WIRE_HDR_LEN; k++)
		assert_int_equal(wire_decode(buf, k, &msg), WIRE_ESHORT);
	buf[0] = 'X';
	assert_int_equal(wire_decode(buf, n, &msg), WIRE_EMAGIC);
	n = make_min();
	buf[4] = 2;
	assert_int_equal(wire_decode(buf, n, &msg), WIRE_EVERSION);
	n = make_min();
	buf[5] = 0;
	assert_int_equal(wire_decode(buf, n, &msg), WIRE_ETYPE);
	n = make_min();
	buf[5] = 3;
	assert_int_equal(wire_decode(buf, n, &msg), WIRE_ETYPE);
}

static void
test_length_mismatch(void **state)
{
	(void)state;
	size_t n = make_min();
	/* Received fewer bytes than the header claims, and more. */
	assert_int_equal(wire_decode(buf, n - 1, &msg), WIRE_ELEN);
	assert_int_equal(wire_decode(buf, n + 1, &msg), WIRE_ELEN);
	/* Header claims more than the maximum. */
	wire_le32(buf + 8, WIRE_MAX_MSG + 1);
	assert_int_equal(wire_decode(buf, n, &msg), WIRE_ETOOBIG);
	wire_le32(buf + 8, 0xffffffffu);
	assert_int_equal(wire_decode(buf, n, &msg), WIRE_ETOOBIG);
	/* Received more than the maximum, whatever the header says. */
	n = make_min();
	assert_int_equal(wire_decode(buf, WIRE_MAX_MSG + 1, &msg), WIRE_ETOOBIG);
	/* Header length smaller than the header itself. */
	n = make_min();
	wire_le32(buf + 8, 4);
	assert_int_equal(wire_decode(buf, n, &msg), WIRE_ELEN);
}

static void
test_field_overrun(void **state)
{
	(void)state;
	size_t n = make_min();
	/* A field header cut short: 1..3 stray bytes after the last field. */
	for (size_t extra = 1; extra < WIRE_FIELD_HDR_LEN; extra++) {
		n = make_min();
		memset(buf + n, 0, extra);
		set_hdr(5, n + extra);
		assert_int_equal(wire_decode(buf, n + extra, &msg), WIRE_EFIELD);
	}
	/* A field whose length runs past the end. */
	n = make_min();
	size_t m = append_field(n, WT_TARGET, "/tmp/x", 6);
	wire_le16(buf + n + 2, 7);
	set_hdr(5, m);
	assert_int_equal(wire_decode(buf, m, &msg), WIRE_EFIELD);
	/* Maximal bogus length. */
	wire_le16(buf + n + 2, 0xffff);
	assert_int_equal(wire_decode(buf, m, &msg), WIRE_EFIELD);
}

static void
test_bad_fields(void **state)
{
	(void)state;
	size_t n, m;
	unsigned char eight[8] = {0};

	n = make_min();
	m = append_field(n, 999, "x", 1);
	set_hdr(5, m);
	assert_int_equal(wire_decode(buf, m, &msg), WIRE_ETAG);

	n = make_min();
	m = append_field(n, 0, "x", 1);
	set_hdr(5, m);
	assert_int_equal(wire_decode(buf, m, &msg), WIRE_ETAG);

	n = make_min();
	m = append_field(n, WT_PPID, eight, 4);
	set_hdr(5, m);
	assert_int_equal(wire_decode(buf, m, &msg), WIRE_EINTLEN);

	n = make_min();
	eight[0] = 2;
	m = append_field(n, WT_PSEQ, eight, 8);
	set_hdr(5, m);
	assert_int_equal(wire_decode(buf, m, &msg), WIRE_EDUP);

	n = make_min();
	m = append_field(n, WT_TARGET, "/a", 2);
	m = append_field(m, WT_TARGET, "/b", 2);
	set_hdr(6, m);
	assert_int_equal(wire_decode(buf, m, &msg), WIRE_EDUP);

	n = make_min();
	m = append_field(n, WT_TARGET, "/a\0b", 4);
	set_hdr(5, m);
	assert_int_equal(wire_decode(buf, m, &msg), WIRE_ENUL);

	n = make_min();
	m = append_field(n, WT_ARG, "a\0", 2);
	set_hdr(5, m);
	assert_int_equal(wire_decode(buf, m, &msg), WIRE_ENUL);
}

static void
test_count_mismatch(void **state)
{
	(void)state;
	size_t n = make_min();
	set_hdr(3, n);
	assert_int_equal(wire_decode(buf, n, &msg), WIRE_ECOUNT);
	set_hdr(5, n);
	assert_int_equal(wire_decode(buf, n, &msg), WIRE_ECOUNT);
	set_hdr(WIRE_MAX_FIELDS + 1, n);
	assert_int_equal(wire_decode(buf, n, &msg), WIRE_ECOUNT);
}

static void
test_required_and_values(void **state)
{
	(void)state;
	struct wire_enc e;
	size_t n;

	/* Each required field missing in turn. */
	const enum wire_tag req[4] = { WT_EVENT, WT_PSEQ, WT_IMAGE, WT_TIME };
	for (int skip = 0; skip < 4; skip++) {
		wire_enc_init(&e, buf, sizeof buf, WIRE_T_RECORD);
		for (int i = 0; i < 4; i++)
			if (i != skip)
				wire_put_u64(&e, req[i], i == 0 ? WE_OPEN : 1);
		n = wire_enc_finish(&e);
		assert_int_equal(wire_decode(buf, n, &msg), WIRE_EMISSING);
	}
	/* Unknown event codes. */
	n = make_min();
	wire_le64(buf + 12 + 4, 0);
	assert_int_equal(wire_decode(buf, n, &msg), WIRE_EEVENT);
	wire_le64(buf + 12 + 4, WE__MAX + 1);
	assert_int_equal(wire_decode(buf, n, &msg), WIRE_EEVENT);
	wire_le64(buf + 12 + 4, 0xffffffffffffffffull);
	assert_int_equal(wire_decode(buf, n, &msg), WIRE_EEVENT);
	/* pseq 0 is not a sequence number. */
	n = make_min();
	wire_le64(buf + 12 + 12 + 4, 0);
	assert_int_equal(wire_decode(buf, n, &msg), WIRE_EVALUE);
	/* Outcome out of range. */
	wire_enc_init(&e, buf, sizeof buf, WIRE_T_RECORD);
	wire_put_u64(&e, WT_EVENT, WE_OPEN);
	wire_put_u64(&e, WT_PSEQ, 1);
	wire_put_u64(&e, WT_IMAGE, 1);
	wire_put_u64(&e, WT_TIME, 1);
	wire_put_u64(&e, WT_OUTCOME, 3);
	n = wire_enc_finish(&e);
	assert_int_equal(wire_decode(buf, n, &msg), WIRE_EVALUE);
	/* A gap report must say what was lost. */
	wire_enc_init(&e, buf, sizeof buf, WIRE_T_RECORD);
	wire_put_u64(&e, WT_EVENT, WE_GAP);
	wire_put_u64(&e, WT_PSEQ, 1);
	wire_put_u64(&e, WT_IMAGE, 1);
	wire_put_u64(&e, WT_TIME, 1);
	wire_put_u64(&e, WT_LOST_COUNT, 3);
	n = wire_enc_finish(&e);
	assert_int_equal(wire_decode(buf, n, &msg), WIRE_EMISSING);
}

static void
test_too_many_args(void **state)
{
	(void)state;
	struct wire_enc e;
	wire_enc_init(&e, buf, sizeof buf, WIRE_T_RECORD);
	wire_put_u64(&e, WT_EVENT, WE_EXEC);
	wire_put_u64(&e, WT_PSEQ, 1);
	wire_put_u64(&e, WT_IMAGE, 1);
	wire_put_u64(&e, WT_TIME, 1);
	for (int i = 0; i < WIRE_MAX_ARGS; i++)
		assert_int_equal(wire_put_str(&e, WT_ARG, "a", 1), 0);
	size_t n = wire_enc_finish(&e);
	assert_int_equal(wire_decode(buf, n, &msg), 0);
	assert_int_equal(msg.nargs, WIRE_MAX_ARGS);
	assert_int_equal(wire_put_str(&e, WT_ARG, "a", 1), 0);
	n = wire_enc_finish(&e);
	assert_int_equal(wire_decode(buf, n, &msg), WIRE_ETOOMANY);
}

static void
test_encoder_bounds(void **state)
{
	(void)state;
	struct wire_enc e;
	unsigned char small[40];
	char big[WIRE_MAX_MSG];
	memset(big, 'x', sizeof big);

	wire_enc_init(&e, small, sizeof small, WIRE_T_RECORD);
	/* 12 header + 2 ints (24) = 36; a third int needs 12 more. */
	assert_int_equal(wire_put_u64(&e, WT_EVENT, WE_OPEN), 0);
	assert_int_equal(wire_put_u64(&e, WT_PSEQ, 1), 0);
	assert_int_equal(wire_put_u64(&e, WT_IMAGE, 1), WIRE_ENOSPC);
	assert_int_equal(e.len, 36);
	assert_int_equal(wire_enc_room(&e), 0);

	/* Capacity is capped at the protocol maximum. */
	wire_enc_init(&e, buf, sizeof buf, WIRE_T_RECORD);
	assert_true(e.cap == WIRE_MAX_MSG);
	assert_int_equal(wire_put_str(&e, WT_TARGET, big, sizeof big), WIRE_ENOSPC);
	assert_int_equal(e.nfields, 0);

	/* Truncating put leaves MINROOM bytes and reports the cut. */
	assert_int_equal(wire_put_str_trunc(&e, WT_TARGET, big, sizeof big, 100), 1);
	assert_int_equal(WIRE_MAX_MSG - e.len, 100);
	assert_int_equal(wire_put_str_trunc(&e, WT_CWD, "/", 1, 0), 0);
}

static void
test_trunc_utf8_boundary(void **state)
{
	(void)state;
	struct wire_enc e;
	unsigned char small[12 + 4 + 5];
	/* "ab" + U+00E9 (2 bytes) + "\xe2\x82\xac" (euro, 3 bytes). */
	const char s[] = "ab\xc3\xa9\xe2\x82\xac";
	wire_enc_init(&e, small, sizeof small, WIRE_T_RECORD);
	/* Room for 5 bytes: cutting at 5 would split the euro sign. */
	assert_int_equal(wire_put_str_trunc(&e, WT_TARGET, s, sizeof s - 1, 0), 1);
	assert_int_equal(wire_rd16(small + 12 + 2), 4);
	assert_memory_equal(small + 16, "ab\xc3\xa9", 4);
}

static void
test_strerror(void **state)
{
	(void)state;
	for (int e = 0; e >= WIRE_EVALUE; e--)
		assert_string_not_equal(wire_strerror(e), "unknown wire error");
	assert_string_equal(wire_strerror(-1000), "unknown wire error");
}

/* Every prefix and every single-byte corruption of a valid message must be
 * handled without reading out of bounds (ASan checks the reads). */
static void
test_prefixes_and_flips(void **state)
{
	(void)state;
	struct wire_enc e;
	static unsigned char orig[512];
	wire_enc_init(&e, orig, sizeof orig, WIRE_T_RECORD);
	wire_put_u64(&e, WT_EVENT, WE_RENAME);
	wire_put_u64(&e, WT_PSEQ, 3);
	wire_put_u64(&e, WT_IMAGE, 3);
	wire_put_u64(&e, WT_TIME, 3);
	wire_put_str(&e, WT_TARGET, "/etc/passwd", 11);
	wire_put_str(&e, WT_TARGET2, "/tmp/p", 6);
	size_t n = wire_enc_finish(&e);
	for (size_t k = 0; k < n; k++) {
		unsigned char *copy = test_malloc(k ? k : 1);
		memcpy(copy, orig, k);
		assert_int_not_equal(wire_decode(copy, k, &msg), 0);
		test_free(copy);
	}
	for (size_t i = 0; i < n; i++) {
		for (int bit = 0; bit < 8; bit++) {
			unsigned char *copy = test_malloc(n);
			memcpy(copy, orig, n);
			copy[i] ^= (unsigned char)(1u << bit);
			(void)wire_decode(copy, n, &msg);
			test_free(copy);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_full),
		cmocka_unit_test(test_little_endian_layout),
		cmocka_unit_test(test_approval),
		cmocka_unit_test(test_short_and_header),
		cmocka_unit_test(test_length_mismatch),
		cmocka_unit_test(test_field_overrun),
		cmocka_unit_test(test_bad_fields),
		cmocka_unit_test(test_count_mismatch),
		cmocka_unit_test(test_required_and_values),
		cmocka_unit_test(test_too_many_args),
		cmocka_unit_test(test_encoder_bounds),
		cmocka_unit_test(test_trunc_utf8_boundary),
		cmocka_unit_test(test_strerror),
		cmocka_unit_test(test_prefixes_and_flips),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
