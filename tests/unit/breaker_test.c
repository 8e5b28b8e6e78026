/*
 * breaker_test: the uplink's circuit breaker and backoff (agent/breaker.h):
 * every transition, the jitter bounds, Retry-After, and a simulated outage
 * that proves there is no busy loop.
 */
#include <criterion/criterion.h>

#include "agent/breaker.h"

#define S	1000ull		/* ms per s */

Test(breaker, opens_after_five_consecutive_failures)
{
	struct breaker	b;
	int		i;

	breaker_init(&b);
	for (i = 0; i < BREAKER_FAILS - 1; i++) {
		cr_assert(breaker_allow(&b, 0));
		breaker_failure(&b, 0);
		cr_assert_eq(b.state, BREAKER_CLOSED, "open after %d", i + 1);
	}
	/* A success in between starts the count over. */
	breaker_success(&b, 0);
	for (i = 0; i < BREAKER_FAILS - 1; i++)
		breaker_failure(&b, 10);
	cr_assert_eq(b.state, BREAKER_CLOSED);
	breaker_failure(&b, 10);
	cr_assert_eq(b.state, BREAKER_OPEN);
	cr_assert_eq(b.opens, 1);
	cr_assert_str_eq(breaker_state_name(b.state), "OPEN");
	cr_assert_eq(breaker_reopen_at(&b), 10 + BREAKER_OPEN_MS);
}

Test(breaker, open_refuses_then_probes_once)
{
	struct breaker	b;
	int		i;

	breaker_init(&b);
	for (i = 0; i < BREAKER_FAILS; i++)
		breaker_failure(&b, 1000);
	cr_assert_not(breaker_allow(&b, 1000));
	cr_assert_not(breaker_allow(&b, 1000 + BREAKER_OPEN_MS - 1));
	cr_assert(breaker_allow(&b, 1000 + BREAKER_OPEN_MS));
	cr_assert_eq(b.state, BREAKER_HALF_OPEN);
	breaker_started(&b);
	/* One probe at a time. */
	cr_assert_not(breaker_allow(&b, 1000 + BREAKER_OPEN_MS + 1));
	/* An answer that says nothing (429) frees the slot. */
	breaker_neutral(&b);
	cr_assert(breaker_allow(&b, 1000 + BREAKER_OPEN_MS + 2));
}

Test(breaker, half_open_failure_reopens_two_successes_close)
{
	struct breaker	b;
	uint64_t	t = 5000;
	int		i;

	breaker_init(&b);
	for (i = 0; i < BREAKER_FAILS; i++)
		breaker_failure(&b, t);
	t += BREAKER_OPEN_MS;
	cr_assert(breaker_allow(&b, t));
	breaker_started(&b);
	breaker_failure(&b, t);
	cr_assert_eq(b.state, BREAKER_OPEN);
	cr_assert_eq(b.opens, 2);
	cr_assert_not(breaker_allow(&b, t + BREAKER_OPEN_MS - 1));
	t += BREAKER_OPEN_MS;
	cr_assert(breaker_allow(&b, t));
	breaker_started(&b);
	breaker_success(&b, t);
	cr_assert_eq(b.state, BREAKER_HALF_OPEN, "one success is not enough");
	cr_assert(breaker_allow(&b, t));
	breaker_started(&b);
	breaker_success(&b, t);
	cr_assert_eq(b.state, BREAKER_CLOSED);
	cr_assert_eq(b.fails, 0);
}

Test(breaker, backoff_steps_with_twenty_percent_jitter)
{
	static const uint64_t	steps[] = { 1, 2, 4, 8, 16, 32, 60, 60, 60 };
	uint32_t		f;
	double			r;

	cr_assert_eq(backoff_delay_ms(0, 0.5), 0);
	for (f = 1; f <= 9; f++) {
		uint64_t	nominal = steps[f - 1] * S;

		cr_assert_eq(backoff_delay_ms(f, 0.5), nominal,
		    "fails %u: nominal", f);
		cr_assert_eq(backoff_delay_ms(f, 0.0), nominal * 8 / 10);
		for (r = 0.0; r < 1.0; r += 0.0137) {
			uint64_t	d = backoff_delay_ms(f, r);

			cr_assert(d >= nominal * 8 / 10 &&
			    d < nominal * 12 / 10, "fails %u r %f: %llu ms", f,
			    r, (unsigned long long)d);
		}
	}
	cr_assert_leq(backoff_delay_ms(UINT32_MAX, 0.999),
	    BACKOFF_MAX_MS * 12 / 10);
	/* Out-of-range randomness is clamped, never wild. */
	cr_assert_eq(backoff_delay_ms(1, -3.0), 800);
	cr_assert_leq(backoff_delay_ms(1, 7.0), 1200);
}

Test(breaker, retry_after_is_honoured)
{
	double	r;

	for (r = 0.0; r < 1.0; r += 0.05) {
		/* 429: what the server said, plus up to 20%, never less. */
		uint64_t	d = backoff_retry_after_ms(3, 1, 4, r);

		cr_assert(d >= 3000 && d <= 3600, "429: %llu",
		    (unsigned long long)d);
		/* 503: at least Retry-After, and at least the backoff. */
		cr_assert_geq(backoff_retry_after_ms(2, 0, 1, r), 2000);
		cr_assert_geq(backoff_retry_after_ms(1, 0, 5, r),
		    backoff_delay_ms(5, r));
	}
}

/*
 * A cloud that is down for 10 minutes, driven the way the uplink drives
 * the breaker: a request whenever the backoff and the breaker allow it.
 * Counted: requests in the whole outage, and in any 30 s window once the
 * breaker is open: no busy loop.
 */
Test(breaker, outage_makes_few_requests)
{
	struct breaker	b;
	uint64_t	t, next = 0, req[64];
	uint32_t	fails = 0, n = 0, i, j, win;
	unsigned int	seed = 12345;

	breaker_init(&b);
	for (t = 0; t < 600 * S; t += 10) {
		if (t < next || !breaker_allow(&b, t))
			continue;
		breaker_started(&b);
		cr_assert_lt(n, 64, "more than 64 requests in 10 minutes");
		req[n++] = t;
		breaker_failure(&b, t);
		fails++;
		next = t + backoff_delay_ms(fails,
		    (double)rand_r(&seed) / ((double)RAND_MAX + 1));
		if (breaker_reopen_at(&b) > next)
			next = breaker_reopen_at(&b);
	}
	/* 5 to open, then one probe every 30..72 s: about 15. */
	cr_assert(n >= 10 && n <= 25, "%u requests in a 10 minute outage", n);
	for (i = BREAKER_FAILS; i < n; i++) {
		for (j = i, win = 0; j < n && req[j] < req[i] + 30 * S; j++)
			win++;
		cr_assert_leq(win, 1, "%u requests within 30 s after %llu ms",
		    win, (unsigned long long)req[i]);
	}
	cr_assert_eq(b.state, BREAKER_OPEN);
}
