/*
 * gzip: what the uplink pushes and caja-cloud serves (proto/gzip.h) is a
 * gzip member that zlib (and so curl, libmicrohttpd's clients, gunzip)
 * reads back byte for byte.
 */
#include <string.h>

#include <criterion/criterion.h>
#include <zlib.h>

#include "proto/gzip.h"

/* Inflates a gzip member (and only gzip: windowBits 15 + 16). */
static size_t
gunzip(const struct buf *in, uint8_t *out, size_t cap)
{
	z_stream	z;
	int		zr;

	memset(&z, 0, sizeof(z));
	cr_assert_eq(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = in->p;
	z.avail_in = (uInt)in->len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	zr = inflate(&z, Z_FINISH);
	cr_assert_eq(zr, Z_STREAM_END, "inflate: %d", zr);
	cr_assert_eq(z.avail_in, 0, "trailing bytes");
	inflateEnd(&z);
	return cap - z.avail_out;
}

Test(gzip, round_trip_and_header)
{
	static uint8_t	in[200000], back[sizeof(in) + 1];
	struct buf	b;
	size_t		i;

	/* a push body: the magic, then repetitive frames */
	memcpy(in, "CAJAEXP1", 8);
	for (i = 8; i < sizeof(in); i++)
		in[i] = (uint8_t)("0123456789abcdef"[(i * 7) % 16] ^ (i >> 12));
	buf_init(&b, 0);
	cr_assert_eq(gzip_encode(in, sizeof(in), &b), 0);
	cr_assert_geq(b.len, 18);
	cr_assert_eq(b.p[0], 0x1f, "gzip magic");
	cr_assert_eq(b.p[1], 0x8b, "gzip magic");
	cr_assert_eq(b.p[2], 8, "deflate");
	cr_assert_lt(b.len, sizeof(in) / 10, "%zu bytes: not compressed",
	    b.len);
	/* the trailer: ISIZE, the input length mod 2^32, little-endian */
	cr_assert_eq((uint32_t)b.p[b.len - 4] | (uint32_t)b.p[b.len - 3] << 8 |
	    (uint32_t)b.p[b.len - 2] << 16 | (uint32_t)b.p[b.len - 1] << 24,
	    (uint32_t)sizeof(in));
	cr_assert_eq(gunzip(&b, back, sizeof(back)), sizeof(in));
	cr_assert_eq(memcmp(back, in, sizeof(in)), 0);
	buf_reset(&b);
}

Test(gzip, empty_and_deterministic)
{
	struct buf	a, b;
	uint8_t		back[16];

	buf_init(&a, 0);
	buf_init(&b, 0);
	cr_assert_eq(gzip_encode((const uint8_t *)"", 0, &a), 0);
	cr_assert_eq(gunzip(&a, back, sizeof(back)), 0);
	/* the same input, the same bytes (no time or name in the header) */
	cr_assert_eq(gzip_encode((const uint8_t *)"hola hola hola", 14, &a),
	    0);
	cr_assert_eq(buf_add(&b, "stale", 5), 0);
	cr_assert_eq(gzip_encode((const uint8_t *)"hola hola hola", 14, &b),
	    0);
	cr_assert_eq(a.len, b.len);
	cr_assert_eq(memcmp(a.p, b.p, a.len), 0);
	cr_assert_eq(gunzip(&b, back, sizeof(back)), 14);
	cr_assert_eq(memcmp(back, "hola hola hola", 14), 0);
	buf_reset(&a);
	buf_reset(&b);
}

Test(gzip, bounded_by_the_buffer)
{
	struct buf	b;

	buf_init(&b, 16);	/* below any gzip member's bound */
	cr_assert_eq(gzip_encode((const uint8_t *)"abc", 3, &b), CAJA_ETOOBIG);
	cr_assert_eq(b.len, 0);
	buf_reset(&b);
}
