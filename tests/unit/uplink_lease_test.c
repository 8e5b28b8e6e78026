/*
 * uplink_lease_test: the one-uploader rule (agent/lease.h). Registers are
 * simulated with their own struct lease and their own copy of the lease
 * value in the acked clock, exchanged by pointwise maximum as gossip does,
 * in every order; the smallest reachable register must end up the only
 * one uploading, and take over when the holder stops.
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "agent/lease.h"

static void
dev(uint8_t d[ID_LEN], uint8_t first)
{
	memset(d, 0x5a, ID_LEN);
	d[0] = first;
}

Test(lease, free_lease_allows)
{
	struct lease	l;
	uint8_t		me[ID_LEN];
	uint32_t	tag;

	dev(me, 0x80);
	lease_init(&l, me);
	cr_assert_eq(l.me, 0x805a5a);
	cr_assert(lease_may_upload(&l, 0));
	cr_assert_not(lease_held(&l, 0, &tag));
	cr_assert_eq(memcmp(lease_key(), LEASE_KEY, ID_LEN), 0);
}

Test(lease, smaller_fresh_holder_defers_until_ttl)
{
	struct lease	big, small;
	uint8_t		a[ID_LEN], b[ID_LEN];
	uint64_t	v;
	uint32_t	tag;

	dev(a, 0x10);
	dev(b, 0x90);
	lease_init(&small, a);
	lease_init(&big, b);
	v = lease_renew(&small, 1700000000000ull, 1000);
	lease_observe(&big, v, 1005);
	cr_assert(lease_held(&big, 1005, &tag));
	cr_assert_eq(tag, small.me);
	cr_assert_not(lease_may_upload(&big, 1005));
	cr_assert_not(lease_may_upload(&big, 1005 + LEASE_TTL_MS - 1));
	cr_assert(lease_may_upload(&big, 1005 + LEASE_TTL_MS),
	    "expired: take over");
	/* The small one never defers to a larger holder. */
	v = lease_renew(&big, 1700000000100ull, 2000);
	lease_observe(&small, v, 2001);
	cr_assert(lease_may_upload(&small, 2001));
}

Test(lease, renewals_grow_and_ties_favour_the_smaller_tag)
{
	struct lease	x, y;
	uint8_t		a[ID_LEN], b[ID_LEN];
	uint64_t	v1, v2, vx, vy;

	dev(a, 0x10);
	dev(b, 0x90);
	lease_init(&x, a);
	lease_init(&y, b);
	v1 = lease_renew(&x, 1700000000000ull, 0);
	v2 = lease_renew(&x, 1700000000000ull, 1);	/* same wall clock */
	cr_assert_gt(v2, v1, "a renewal always grows");
	/* Same tick on both: the smaller tag's value is the larger. */
	vx = lease_renew(&x, 1800000000000ull, 2);
	vy = lease_renew(&y, 1800000000000ull, 2);
	cr_assert_eq(vx >> LEASE_TAG_BITS, vy >> LEASE_TAG_BITS);
	cr_assert_gt(vx, vy);
	cr_assert_lt(vx, (uint64_t)INT64_MAX, "fits a wire seq");
}

/*
 * n registers, each with a lease and its copy of the lease value; those
 * in `up` (reachable) renew after each of their requests. Delivery:
 * order[k] says which register's value reaches every other register at
 * step k (gossip is pointwise max), as if its SUMMARY went out then.
 * Returns the bitmask of registers that may upload at the end.
 */
#define NREG	4

static unsigned
simulate(unsigned up, const int *order, int steps, uint64_t t0,
    struct lease *l, uint64_t *val)
{
	uint64_t	now = t0;
	unsigned	may = 0;
	int		i, j, k;

	for (k = 0; k < steps; k++, now += 40) {
		for (i = 0; i < NREG; i++) {
			/* A request (about every 40 ms) by each uploader;
			 * what was merged this turn is seen first. */
			lease_observe(&l[i], val[i], now);
			if ((up >> i & 1) && lease_may_upload(&l[i], now))
				val[i] = lease_renew(&l[i], 1700000000000ull +
				    now / 3, now);
		}
		i = order[k];
		for (j = 0; j < NREG; j++)
			if (val[i] > val[j])
				val[j] = val[i];
	}
	for (i = 0; i < NREG; i++) {
		lease_observe(&l[i], val[i], now);
		if ((up >> i & 1) && lease_may_upload(&l[i], now))
			may |= 1u << i;
	}
	return may;
}

Test(lease, one_uploader_emerges_in_any_delivery_order)
{
	static const uint8_t	firsts[NREG] = { 0x70, 0x30, 0xc0, 0x50 };
	struct lease		l[NREG];
	uint64_t		val[NREG];
	uint8_t			d[ID_LEN];
	int			order[200];
	unsigned		seed, may, up;
	int			i, k;

	for (seed = 1; seed <= 300; seed++) {
		unsigned	s = seed;

		/* Reachable: any non-empty subset of the registers. */
		up = 1 + rand_r(&s) % ((1u << NREG) - 1);
		for (i = 0; i < NREG; i++) {
			dev(d, firsts[i]);
			lease_init(&l[i], d);
			val[i] = 0;
		}
		for (k = 0; k < 200; k++)
			order[k] = rand_r(&s) % NREG;
		may = simulate(up, order, 200, 100000, l, val);
		/* The smallest reachable one alone. */
		{
			int	best = -1;

			for (i = 0; i < NREG; i++)
				if ((up >> i & 1) && (best < 0 ||
				    firsts[i] < firsts[best]))
					best = i;
			cr_assert_eq(may, 1u << best, "seed %u up %x: may %x, "
			    "want %x", seed, up, may, 1u << best);
		}
	}
}

Test(lease, failover_after_the_holder_stops)
{
	static const uint8_t	firsts[NREG] = { 0x70, 0x30, 0xc0, 0x50 };
	struct lease		l[NREG];
	uint64_t		val[NREG];
	uint8_t			d[ID_LEN];
	int			order[400];
	unsigned		may;
	int			i, k;

	for (i = 0; i < NREG; i++) {
		dev(d, firsts[i]);
		lease_init(&l[i], d);
		val[i] = 0;
	}
	for (k = 0; k < 400; k++)
		order[k] = k % NREG;
	may = simulate(0xf, order, 100, 0, l, val);
	cr_assert_eq(may, 1u << 1, "0x30 uploads");
	/* 0x30 dies: nothing of it is heard any more. Within the TTL the
	 * others stand by; after it, 0x50 (the next smallest) uploads. */
	may = simulate(0xf & ~(1u << 1), order, 10, 100 * 40, l, val);
	cr_assert_eq(may, 0, "standby within the TTL");
	may = simulate(0xf & ~(1u << 1), order,
	    LEASE_TTL_MS / 40 + 100, 110 * 40, l, val);
	cr_assert_eq(may, 1u << 3, "0x50 took over: may %x", may);
}
