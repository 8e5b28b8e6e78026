/*
 * hlc: hybrid logical clock rules.
 */
#include <criterion/criterion.h>

#include "proto/hlc.h"

Test(hlc, tick_follows_wall_clock)
{
	struct hlc	h = { 0 };
	uint64_t	t;

	t = hlc_tick(&h, 1000);
	cr_assert_eq(t, HLC_MAKE(1000, 0));
	t = hlc_tick(&h, 1000);
	cr_assert_eq(t, HLC_MAKE(1000, 1));
	t = hlc_tick(&h, 1001);
	cr_assert_eq(t, HLC_MAKE(1001, 0));
	cr_assert_eq(HLC_MS(t), 1001);
	cr_assert_eq(HLC_LOGICAL(t), 0);
}

Test(hlc, tick_is_monotonic_when_wall_goes_back)
{
	struct hlc	h = { 0 };
	uint64_t	a, b;

	a = hlc_tick(&h, 5000);
	b = hlc_tick(&h, 4000);
	cr_assert_gt(b, a);
	cr_assert_eq(b, HLC_MAKE(5000, 1));
}

Test(hlc, logical_overflow_bumps_ms)
{
	struct hlc	h = { HLC_MAKE(7000, 0xffff) };
	uint64_t	t;

	t = hlc_tick(&h, 7000);
	cr_assert_eq(t, HLC_MAKE(7001, 0));
	t = hlc_tick(&h, 7000);
	cr_assert_eq(t, HLC_MAKE(7001, 1));
}

Test(hlc, recv_takes_max_plus_one)
{
	struct hlc	h = { HLC_MAKE(1000, 3) };
	uint64_t	r;
	int		cl = -1;

	/* remote ahead of both, same ms as nothing else */
	r = hlc_recv(&h, HLC_MAKE(2000, 7), 1500, HLC_MAX_SKEW_MS, &cl);
	cr_assert_eq(r, HLC_MAKE(2000, 7));
	cr_assert_eq(cl, 0);
	cr_assert_eq(h.last, HLC_MAKE(2000, 8));
	/* wall clock ahead of both: logical resets */
	r = hlc_recv(&h, HLC_MAKE(100, 9), 3000, HLC_MAX_SKEW_MS, NULL);
	cr_assert_eq(r, HLC_MAKE(100, 9));
	cr_assert_eq(h.last, HLC_MAKE(3000, 0));
	/* local ahead: local + 1 */
	r = hlc_recv(&h, HLC_MAKE(2999, 50), 10, HLC_MAX_SKEW_MS, NULL);
	cr_assert_eq(h.last, HLC_MAKE(3000, 1));
	/* the next tick is after everything seen */
	cr_assert_gt(hlc_tick(&h, 10), HLC_MAKE(3000, 1));
}

Test(hlc, recv_clamps_far_future)
{
	struct hlc	h = { 0 };
	uint64_t	r;
	int		cl = 0;
	uint64_t	now = 1700000000000ull;

	r = hlc_recv(&h, HLC_MAKE(now + 10 * 60 * 1000, 4), now,
	    HLC_MAX_SKEW_MS, &cl);
	cr_assert_eq(cl, 1);
	cr_assert_eq(r, HLC_MAKE(now + HLC_MAX_SKEW_MS, 0));
	cr_assert_eq(h.last, HLC_MAKE(now + HLC_MAX_SKEW_MS, 1));
	/* exactly at the bound: not clamped */
	r = hlc_recv(&h, HLC_MAKE(now + HLC_MAX_SKEW_MS, 2), now,
	    HLC_MAX_SKEW_MS, &cl);
	cr_assert_eq(cl, 0);
	cr_assert_eq(r, HLC_MAKE(now + HLC_MAX_SKEW_MS, 2));
}

Test(hlc, hostile_remote_saturates)
{
	struct hlc	h = { 0 };
	uint64_t	r;
	int		cl;

	r = hlc_recv(&h, UINT64_MAX, 1000, UINT64_MAX, &cl);
	cr_assert_eq(cl, 0);
	cr_assert_eq(r, UINT64_MAX);
	cr_assert_eq(h.last, UINT64_MAX);
	cr_assert_eq(hlc_tick(&h, 1000), UINT64_MAX, "saturates, no wrap");
}
