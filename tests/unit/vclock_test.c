/*
 * vclock: ordering, merge, compact deltas.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "proto/ids.h"
#include "proto/vclock.h"

static void
dev(uint8_t out[ID_LEN], char c)
{
	memset(out, c, ID_LEN);
}

static struct vclock
vc2(uint64_t a, uint64_t b)
{
	struct vclock	v;
	uint8_t		d[ID_LEN];

	vclock_init(&v);
	dev(d, 'A');
	cr_assert_eq(vclock_set(&v, d, a), 0);
	dev(d, 'B');
	cr_assert_eq(vclock_set(&v, d, b), 0);
	return v;
}

Test(vclock, seed_example_is_concurrent)
{
	struct vclock	x = vc2(42, 10), y = vc2(40, 17);

	cr_assert_eq(vclock_cmp(&x, &y), VCLOCK_CONCURRENT);
	cr_assert_eq(vclock_cmp(&y, &x), VCLOCK_CONCURRENT);
	cr_assert(!vclock_covers(&x, &y));
	cr_assert(!vclock_covers(&y, &x));
}

Test(vclock, orders)
{
	struct vclock	x = vc2(1, 2), y = vc2(1, 3), e;

	cr_assert_eq(vclock_cmp(&x, &y), VCLOCK_BEFORE);
	cr_assert_eq(vclock_cmp(&y, &x), VCLOCK_AFTER);
	cr_assert_eq(vclock_cmp(&x, &x), VCLOCK_EQUAL);
	vclock_init(&e);
	cr_assert_eq(vclock_cmp(&e, &x), VCLOCK_BEFORE);
	cr_assert(vclock_covers(&y, &x));
	cr_assert(vclock_covers(&x, &e));
}

Test(vclock, set_keeps_sorted_and_zero_removes)
{
	struct vclock	v;
	uint8_t		d[ID_LEN];
	const char	*order = "MZAQB";
	uint32_t	i;

	vclock_init(&v);
	for (i = 0; order[i]; i++) {
		dev(d, order[i]);
		cr_assert_eq(vclock_set(&v, d, i + 1), 0);
	}
	cr_assert_eq(v.n, 5);
	for (i = 1; i < v.n; i++)
		cr_assert_lt(memcmp(v.e[i - 1].dev, v.e[i].dev, ID_LEN), 0);
	dev(d, 'Q');
	cr_assert_eq(vclock_get(&v, d), 4);
	cr_assert_eq(vclock_set(&v, d, 0), 0);
	cr_assert_eq(vclock_get(&v, d), 0);
	cr_assert_eq(v.n, 4);
	dev(d, 'x');
	cr_assert_eq(vclock_get(&v, d), 0);
}

Test(vclock, full)
{
	struct vclock	v;
	uint8_t		d[ID_LEN];
	uint32_t	i;

	vclock_init(&v);
	memset(d, 0, sizeof(d));
	for (i = 0; i < VCLOCK_MAX; i++) {
		d[0] = (uint8_t)i;
		cr_assert_eq(vclock_set(&v, d, 1), 0);
	}
	d[0] = 0xff;
	cr_assert_eq(vclock_set(&v, d, 1), CAJA_ETOOBIG);
	d[0] = 3;
	cr_assert_eq(vclock_set(&v, d, 9), 0, "updating works when full");
}

Test(vclock, merge_is_pointwise_max)
{
	struct vclock	x = vc2(42, 10), y = vc2(40, 17), z;
	uint8_t		d[ID_LEN];

	cr_assert_eq(vclock_merge(&x, &y), 0);
	dev(d, 'A');
	cr_assert_eq(vclock_get(&x, d), 42);
	dev(d, 'B');
	cr_assert_eq(vclock_get(&x, d), 17);
	vclock_init(&z);
	dev(d, 'C');
	cr_assert_eq(vclock_set(&z, d, 5), 0);
	cr_assert_eq(vclock_merge(&x, &z), 0);
	cr_assert_eq(x.n, 3);
	cr_assert_eq(vclock_get(&x, d), 5);
}

Test(vclock, delta_round_trip)
{
	struct vclock	base = vc2(42, 10), cur = vc2(42, 17), delta, back;
	uint8_t		d[ID_LEN];

	dev(d, 'C');
	cr_assert_eq(vclock_set(&cur, d, 3), 0);
	cr_assert_eq(vclock_delta(&base, &cur, &delta), 0);
	cr_assert_eq(delta.n, 2, "B and C grew, A did not");
	dev(d, 'A');
	cr_assert_eq(vclock_get(&delta, d), 0);
	dev(d, 'B');
	cr_assert_eq(vclock_get(&delta, d), 17);
	back = base;
	cr_assert_eq(vclock_apply_delta(&back, &delta), 0);
	cr_assert_eq(vclock_cmp(&back, &cur), VCLOCK_EQUAL);
	cr_assert_eq(vclock_delta(&cur, &cur, &delta), 0);
	cr_assert_eq(delta.n, 0);
}

/* The compact text (API.md): device hex ':' seq, in device order, ','. */
Test(vclock, compact_text)
{
	struct vclock	v;
	struct buf	b;
	uint8_t		d[ID_LEN];

	buf_init(&b, 0);
	vclock_init(&v);
	cr_assert_eq(vclock_compact(&v, &b), 0);
	cr_assert_eq(b.len, 1, "the NUL alone");
	cr_assert_str_eq((const char *)b.p, "");
	cr_assert_eq(ids_unhex(d, ID_LEN, "74f510067d5f683ba7eb61a7cea0cc34"),
	    0);
	cr_assert_eq(vclock_set(&v, d, 9), 0);
	cr_assert_eq(ids_unhex(d, ID_LEN, "2553e8edbd9dc75b7569f5749c101354"),
	    0);
	cr_assert_eq(vclock_set(&v, d, UINT64_MAX), 0);
	cr_assert_eq(vclock_compact(&v, &b), 0);
	cr_assert_str_eq((const char *)b.p,
	    "2553e8edbd9dc75b7569f5749c101354:18446744073709551615,"
	    "74f510067d5f683ba7eb61a7cea0cc34:9");
	cr_assert_eq(b.len, strlen((const char *)b.p) + 1);
	buf_reset(&b);
}

Test(vclock, compact_text_is_bounded)
{
	struct vclock	v;
	struct buf	b;
	uint8_t		d[ID_LEN];
	uint32_t	i;

	vclock_init(&v);
	memset(d, 0, sizeof(d));
	for (i = 0; i < VCLOCK_MAX; i++) {
		d[ID_LEN - 1] = (uint8_t)i;
		cr_assert_eq(vclock_set(&v, d, 1000 + i), 0);
	}
	buf_init(&b, 0);
	cr_assert_eq(vclock_compact(&v, &b), 0);
	/* 64 entries of 32 + 1 + 4 characters, 63 commas, the NUL */
	cr_assert_eq(b.len, VCLOCK_MAX * 37 + VCLOCK_MAX - 1 + 1);
	cr_assert_eq(memcmp(b.p, "00000000000000000000000000000000:1000,"
	    "00000000000000000000000000000001:1001,", 76), 0);
	buf_reset(&b);
	buf_init(&b, 100);
	cr_assert_eq(vclock_compact(&v, &b), CAJA_ETOOBIG);
	buf_reset(&b);
}

/* vclock_parse_compact(): what vclock_compact() writes, and nothing else. */
#define XA	"74f510067d5f683ba7eb61a7cea0cc34"
#define XB	"2553e8edbd9dc75b7569f5749c101354"

Test(vclock, compact_text_reads_back)
{
	struct vclock	vc, back;
	struct buf	b;
	uint8_t		id[ID_LEN];

	buf_init(&b, 0);
	vclock_init(&vc);
	cr_assert_eq(vclock_compact(&vc, &b), 0);
	cr_assert_str_eq((char *)b.p, "");
	cr_assert_eq(ids_unhex(id, ID_LEN, XA), 0);
	cr_assert_eq(vclock_set(&vc, id, 9), 0);
	cr_assert_eq(ids_unhex(id, ID_LEN, XB), 0);
	cr_assert_eq(vclock_set(&vc, id, 2), 0);
	cr_assert_eq(vclock_compact(&vc, &b), 0);
	cr_assert_str_eq((char *)b.p, XB ":2," XA ":9", "sorted by device");
	cr_assert_eq(vclock_parse_compact((char *)b.p, &back), 0);
	cr_assert_eq(vclock_cmp(&vc, &back), VCLOCK_EQUAL);
	cr_assert_eq(vclock_parse_compact(XA ":9," XB ":2", &back), 0,
	    "any order");
	cr_assert_eq(vclock_cmp(&vc, &back), VCLOCK_EQUAL);
	cr_assert_eq(vclock_parse_compact("", &back), 0);
	cr_assert_eq(back.n, 0);
	cr_assert_eq(vclock_parse_compact(NULL, &back), 0);
	buf_reset(&b);
}

Test(vclock, compact_text_refuses_garbage)
{
	static const char *const bad[] = {
		XA,				/* no seq */
		XA ":",				/* empty seq */
		XA ":x1",
		XA ":1,",			/* trailing comma */
		"74f5:3",			/* short id */
		XA "00:3",			/* long id */
		"zz" XA ":3",
		XA ":1," XA ":2",		/* twice */
		XA ":9223372036854775808",	/* past the wire's seq */
		XA ":99999999999999999999",
		",",
	};
	struct vclock	vc;
	size_t		i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(vclock_parse_compact(bad[i], &vc), CAJA_EDECODE,
		    "accepted '%s'", bad[i]);
	cr_assert_eq(vclock_parse_compact(XA ":9223372036854775807", &vc),
	    0);
}
