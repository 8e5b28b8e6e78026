/*
 * codec: canonical writer, bounded scanner (hostile vectors), reader.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "proto/codec.h"

static struct buf	b;
static struct codec_wr	w;

static void
setup(void)
{
	buf_init(&b, 0);
	codec_wr_init(&w, &b);
}

static void
teardown(void)
{
	buf_reset(&b);
}

TestSuite(codec, .init = setup, .fini = teardown);

#define EXPECT_BYTES(...) do {						\
	static const uint8_t want_[] = { __VA_ARGS__ };			\
	cr_assert_eq(codec_wr_error(&w), 0);				\
	cr_assert_eq(b.len, sizeof(want_), "len %zu want %zu", b.len,	\
	    sizeof(want_));						\
	cr_assert(memcmp(b.p, want_, sizeof(want_)) == 0);		\
} while (0)

Test(codec, ints_are_smallest)
{
	codec_write_uint(&w, 0);
	codec_write_uint(&w, 127);
	codec_write_uint(&w, 128);
	codec_write_uint(&w, 256);
	codec_write_uint(&w, 65536);
	codec_write_uint(&w, UINT64_C(4294967296));
	EXPECT_BYTES(0x00, 0x7f, 0xcc, 0x80, 0xcd, 0x01, 0x00,
	    0xce, 0x00, 0x01, 0x00, 0x00,
	    0xcf, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00);
	cr_assert_eq(codec_scan_flags(b.p, b.len, CODEC_CANONICAL, NULL),
	    CAJA_EDECODE, "six values are not one object");
}

Test(codec, signed_nonnegative_packs_as_uint)
{
	codec_write_int(&w, 5);
	codec_write_int(&w, 200);
	codec_write_int(&w, -1);
	codec_write_int(&w, -33);
	codec_write_int(&w, -129);
	EXPECT_BYTES(0x05, 0xcc, 0xc8, 0xff, 0xd0, 0xdf, 0xd1, 0xff, 0x7f);
}

Test(codec, str_bin_headers)
{
	char	s[40];

	memset(s, 'a', sizeof(s));
	codec_write_str(&w, s, 3);
	codec_write_str(&w, s, 32);
	cr_assert_eq(b.len, 4 + 2 + 32);
	cr_assert_eq(b.p[0], 0xa3);
	cr_assert_eq(b.p[4], 0xd9);
	cr_assert_eq(b.p[5], 32);
	buf_clear(&b);
	codec_write_bin(&w, s, 2);
	EXPECT_BYTES(0xc4, 0x02, 'a', 'a');
}

Test(codec, writer_output_scans_canonical)
{
	codec_write_map(&w, 2);
	codec_write_cstr(&w, "a");
	codec_write_array(&w, 3);
	codec_write_int(&w, -5);
	codec_write_bool(&w, 1);
	codec_write_bin(&w, "xy", 2);
	codec_write_cstr(&w, "b");
	codec_write_uint(&w, 1000);
	cr_assert_eq(codec_wr_error(&w), 0);
	cr_assert_eq(codec_scan(b.p, b.len), 0);
	cr_assert_eq(codec_scan_flags(b.p, b.len, CODEC_CANONICAL, NULL), 0);
}

Test(codec, writer_respects_buf_max)
{
	struct buf	small;
	struct codec_wr	w2;

	buf_init(&small, 4);
	codec_wr_init(&w2, &small);
	codec_write_str(&w2, "hello world", 11);
	cr_assert_eq(codec_wr_error(&w2), CAJA_ETOOBIG);
	buf_reset(&small);
}

/* Hostile vectors: each must be refused without allocating. */
struct hostile {
	const char	*what;
	uint8_t		 bytes[16];
	size_t		 len;
};

static const struct hostile hostile[] = {
	{ "array32 claims 4G elements", { 0xdd, 0xff, 0xff, 0xff, 0xff }, 5 },
	{ "map32 claims 4G pairs", { 0xdf, 0xff, 0xff, 0xff, 0xff }, 5 },
	{ "array16 claims 65535", { 0xdc, 0xff, 0xff, 0x01 }, 4 },
	{ "str32 claims 4G bytes", { 0xdb, 0xff, 0xff, 0xff, 0xff, 'a' }, 6 },
	{ "bin32 claims 4G bytes", { 0xc6, 0xff, 0xff, 0xff, 0xff }, 5 },
	{ "truncated str", { 0xa5, 'a', 'b' }, 3 },
	{ "truncated str8 header", { 0xd9 }, 1 },
	{ "truncated uint32", { 0xce, 0x00, 0x01 }, 3 },
	{ "trailing byte", { 0x01, 0x02 }, 2 },
	{ "array short of elements", { 0x93, 0x01, 0x02 }, 3 },
	{ "float64", { 0xcb, 0, 0, 0, 0, 0, 0, 0, 0 }, 9 },
	{ "float32", { 0xca, 0, 0, 0, 0 }, 5 },
	{ "fixext1", { 0xd4, 0x01, 0x00 }, 3 },
	{ "ext8", { 0xc7, 0x01, 0x01, 0x00 }, 4 },
	{ "nil", { 0xc0 }, 1 },
	{ "never used 0xc1", { 0xc1 }, 1 },
	{ "empty", { 0 }, 0 },
	{ "nested map value truncated", { 0x81, 0xa1, 'k' }, 3 },
};

Test(codec, hostile_vectors_refused)
{
	size_t	i, used;

	for (i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		cr_assert_neq(codec_scan(hostile[i].bytes, hostile[i].len), 0,
		    "accepted: %s", hostile[i].what);
	}
	/* A trailing byte is fine for the prefix scanner. */
	cr_assert_eq(codec_scan_prefix((const uint8_t *)"\x01\x02", 2, &used),
	    0);
	cr_assert_eq(used, 1);
	/* nil only when allowed */
	cr_assert_eq(codec_scan_flags((const uint8_t *)"\xc0", 1,
	    CODEC_ALLOW_NIL, NULL), 0);
}

Test(codec, depth_limit)
{
	uint8_t	deep[64];
	size_t	i, d;

	/* CODEC_MAX_DEPTH nested arrays of one element around 0: accepted */
	for (d = CODEC_MAX_DEPTH; d <= CODEC_MAX_DEPTH + 1; d++) {
		for (i = 0; i < d; i++)
			deep[i] = 0x91;
		deep[d] = 0x00;
		if (d == CODEC_MAX_DEPTH)
			cr_assert_eq(codec_scan(deep, d + 1), 0);
		else
			cr_assert_eq(codec_scan(deep, d + 1), CAJA_ETOOBIG);
	}
	/* an empty container one level too deep is refused too */
	for (i = 0; i < CODEC_MAX_DEPTH; i++)
		deep[i] = 0x91;
	deep[CODEC_MAX_DEPTH] = 0x90;
	cr_assert_eq(codec_scan(deep, CODEC_MAX_DEPTH + 1), CAJA_ETOOBIG);
}

Test(codec, items_limit)
{
	struct buf	big;
	struct codec_wr	w2;
	uint32_t	i;

	buf_init(&big, 0);
	codec_wr_init(&w2, &big);
	codec_write_array(&w2, CODEC_MAX_ITEMS);
	for (i = 0; i < CODEC_MAX_ITEMS; i++)
		codec_write_uint(&w2, 1);
	cr_assert_eq(codec_wr_error(&w2), 0);
	/* the array itself counts as one item */
	cr_assert_eq(codec_scan(big.p, big.len), CAJA_ETOOBIG);
	buf_clear(&big);
	codec_write_array(&w2, CODEC_MAX_ITEMS - 1);
	for (i = 0; i < CODEC_MAX_ITEMS - 1; i++)
		codec_write_uint(&w2, 1);
	cr_assert_eq(codec_scan(big.p, big.len), 0);
	buf_reset(&big);
}

Test(codec, canonical_refuses_long_forms)
{
	static const struct hostile nc[] = {
		{ "uint8 for 5", { 0xcc, 0x05 }, 2 },
		{ "uint16 for 200", { 0xcd, 0x00, 0xc8 }, 3 },
		{ "uint32 for 300", { 0xce, 0x00, 0x00, 0x01, 0x2c }, 5 },
		{ "uint64 for 1", { 0xcf, 0, 0, 0, 0, 0, 0, 0, 1 }, 9 },
		{ "int8 for 5", { 0xd0, 0x05 }, 2 },
		{ "int8 for -1", { 0xd0, 0xff }, 2 },
		{ "int16 for -100", { 0xd1, 0xff, 0x9c }, 3 },
		{ "str8 for 1 byte", { 0xd9, 0x01, 'a' }, 3 },
		{ "bin16 for 1 byte", { 0xc5, 0x00, 0x01, 'a' }, 4 },
		{ "array16 for 1", { 0xdc, 0x00, 0x01, 0x00 }, 4 },
		{ "map16 for 1", { 0xde, 0x00, 0x01, 0xa1, 'a', 0x00 }, 6 },
		{ "map keys unsorted", { 0x82, 0xa1, 'b', 0x00, 0xa1, 'a',
		    0x00 }, 7 },
		{ "map keys duplicate", { 0x82, 0xa1, 'a', 0x00, 0xa1, 'a',
		    0x00 }, 7 },
		{ "longer key first", { 0x82, 0xa2, 'a', 'b', 0x00, 0xa1, 'a',
		    0x00 }, 8 },
		{ "int map key", { 0x81, 0x01, 0x00 }, 3 },
	};
	size_t	i;

	for (i = 0; i < sizeof(nc) / sizeof(nc[0]); i++) {
		cr_assert_eq(codec_scan(nc[i].bytes, nc[i].len), 0,
		    "plain scan refused: %s", nc[i].what);
		cr_assert_eq(codec_scan_flags(nc[i].bytes, nc[i].len,
		    CODEC_CANONICAL, NULL), CAJA_EDECODE,
		    "canonical accepted: %s", nc[i].what);
	}
	/* "a" < "ab" < "b": accepted */
	cr_assert_eq(codec_scan_flags((const uint8_t *)
	    "\x83\xa1" "a\x00\xa2" "ab\x00\xa1" "b\x00", 11, CODEC_CANONICAL,
	    NULL), 0);
}

Test(codec, reader)
{
	struct codec_rd	 rd;
	const char	*s;
	const uint8_t	*bin;
	uint8_t		 fix[2];
	uint32_t	 n, len;
	uint64_t	 u;
	int64_t		 i;
	int		 bo;

	codec_write_array(&w, 7);
	codec_write_uint(&w, 300);
	codec_write_int(&w, -300);
	codec_write_bool(&w, 0);
	codec_write_cstr(&w, "hey");
	codec_write_bin(&w, "\x01\x02", 2);
	codec_write_bin(&w, "\x03\x04", 2);
	codec_write_map(&w, 1);
	codec_write_cstr(&w, "k");
	codec_write_array(&w, 1);
	codec_write_uint(&w, 9);
	cr_assert_eq(codec_wr_error(&w), 0);
	cr_assert_eq(codec_scan(b.p, b.len), 0);

	codec_rd_init(&rd, b.p, b.len);
	cr_assert_eq(codec_peek(&rd), MSGPACK_OBJECT_ARRAY);
	cr_assert_eq(codec_read_array(&rd, &n), 0);
	cr_assert_eq(n, 7);
	cr_assert_eq(codec_read_uint(&rd, &u), 0);
	cr_assert_eq(u, 300);
	cr_assert_eq(codec_peek(&rd), MSGPACK_OBJECT_NEGATIVE_INTEGER);
	cr_assert_eq(codec_read_int(&rd, &i), 0);
	cr_assert_eq(i, -300);
	cr_assert_eq(codec_read_bool(&rd, &bo), 0);
	cr_assert_eq(bo, 0);
	cr_assert_eq(codec_read_str(&rd, &s, &len), 0);
	cr_assert_eq(len, 3);
	cr_assert(memcmp(s, "hey", 3) == 0);
	cr_assert_eq(codec_read_bin(&rd, &bin, &len), 0);
	cr_assert_eq(len, 2);
	cr_assert_eq(bin[1], 2);
	cr_assert_eq(codec_read_fixbin(&rd, fix, 3), CAJA_EDECODE,
	    "wrong fixbin length must fail");
	/* the cursor is now unusable */
	cr_assert_eq(codec_peek(&rd), -1);
	cr_assert_eq(codec_read_uint(&rd, &u), CAJA_EDECODE);

	codec_rd_init(&rd, b.p, b.len);
	cr_assert_eq(codec_read_array(&rd, &n), 0);
	for (n = 0; n < 6; n++)
		cr_assert_eq(codec_skip(&rd), 0);
	cr_assert_eq(codec_skip(&rd), 0);	/* the nested map */
	cr_assert(rd.p == rd.end);
	cr_assert_eq(codec_peek(&rd), -1);
}

Test(codec, reader_type_mismatch_and_bounds)
{
	struct codec_rd	rd;
	uint64_t	u;
	int64_t		i;

	codec_rd_init(&rd, (const uint8_t *)"\xff", 1);	/* -1 */
	cr_assert_eq(codec_read_uint(&rd, &u), CAJA_EDECODE);
	codec_rd_init(&rd, (const uint8_t *)"\xcf\xff\xff\xff\xff\xff\xff\xff"
	    "\xff", 9);
	cr_assert_eq(codec_read_int(&rd, &i), CAJA_EDECODE,
	    "UINT64_MAX does not fit int64");
	codec_rd_init(&rd, (const uint8_t *)"\xcd\x01", 2);
	cr_assert_eq(codec_read_uint(&rd, &u), CAJA_EDECODE, "truncated");
}

Test(codec, utf8)
{
	cr_assert(codec_is_utf8((const uint8_t *)"ñandú €", 11));
	cr_assert(codec_is_utf8((const uint8_t *)"\xf0\x9f\x98\x80", 4));
	cr_assert(!codec_is_utf8((const uint8_t *)"\xc0\xaf", 2), "overlong");
	cr_assert(!codec_is_utf8((const uint8_t *)"\xed\xa0\x80", 3),
	    "surrogate");
	cr_assert(!codec_is_utf8((const uint8_t *)"\xf4\x90\x80\x80", 4),
	    "> U+10FFFF");
	cr_assert(!codec_is_utf8((const uint8_t *)"\xe2\x82", 2), "truncated");
	cr_assert(!codec_is_utf8((const uint8_t *)"\xff", 1));
}

Test(codec, buf_limits)
{
	struct buf	x;

	buf_init(&x, 10);
	cr_assert_eq(buf_add(&x, "0123456789", 10), 0);
	cr_assert_eq(x.len, 10);
	cr_assert_eq(buf_add(&x, "a", 1), CAJA_ETOOBIG);
	cr_assert_eq(x.len, 10, "a refused add changes nothing");
	cr_assert_eq(buf_reserve(&x, SIZE_MAX), CAJA_ETOOBIG, "no overflow");
	buf_clear(&x);
	cr_assert_eq(x.len, 0);
	cr_assert_geq(x.cap, 10);
	cr_assert_eq(buf_add(&x, "abc", 3), 0);
	cr_assert(memcmp(x.p, "abc", 3) == 0);
	buf_reset(&x);
	cr_assert_null(x.p);
	cr_assert_eq(x.len, 0);
	buf_reset(&x);
	buf_init(&x, 0);	/* default maximum */
	cr_assert_eq(buf_reserve(&x, BUF_MAX_DEFAULT + 1), CAJA_ETOOBIG);
	cr_assert_eq(buf_add(&x, "", 0), 0);
	buf_reset(&x);
}
