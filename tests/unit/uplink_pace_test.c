/*
 * uplink_pace_test: the adaptive batch size (agent/pace.h), rule by rule,
 * and its bounds under random outcomes (seed printed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <criterion/criterion.h>

#include "agent/pace.h"

Test(pace, starts_and_clamps)
{
	struct pace	p;

	pace_init(&p, 10, 1000);
	cr_assert_eq(pace_size(&p), PACE_START);
	pace_init(&p, 200, 1000);
	cr_assert_eq(pace_size(&p), 200);
	pace_init(&p, 1, 50);
	cr_assert_eq(pace_size(&p), 50);
	pace_init(&p, 0, 0);
	cr_assert_eq(p.min, 1);
	cr_assert_eq(p.max, 1);
	pace_init(&p, 500, 100000);
	cr_assert_eq(p.max, PACE_LIMIT);
}

Test(pace, slow_start_doubles_then_additive)
{
	struct pace	p;

	pace_init(&p, 10, 1000);
	pace_success(&p, 100, 50);
	cr_assert_eq(pace_size(&p), 200);
	pace_success(&p, 200, 50);
	pace_success(&p, 400, 50);
	cr_assert_eq(pace_size(&p), 800);
	pace_success(&p, 800, 50);
	cr_assert_eq(pace_size(&p), 1000, "clamped at max");
	pace_failure(&p);
	cr_assert_eq(pace_size(&p), 500, "a failure halves");
	pace_success(&p, 500, 50);
	cr_assert_eq(pace_size(&p), 562, "after a loss: + size/8");
	pace_init(&p, 10, 1000);
	pace_failure(&p);
	pace_failure(&p);
	pace_failure(&p);
	cr_assert_eq(pace_size(&p), 12);
	pace_success(&p, 12, 10);
	cr_assert_eq(pace_size(&p), 22, "at least PACE_STEP_MIN");
}

Test(pace, partial_batches_say_nothing)
{
	struct pace	p;

	pace_init(&p, 10, 1000);
	pace_success(&p, 7, 20);
	cr_assert_eq(pace_size(&p), PACE_START);
	cr_assert_gt(p.rate, 0.0);
}

Test(pace, slow_answers_shrink_to_the_target)
{
	struct pace	p;

	pace_init(&p, 10, 1000);
	pace_success(&p, 100, 50);
	pace_success(&p, 200, 8000);	/* 4x the target */
	cr_assert_eq(pace_size(&p), 50);
	pace_success(&p, 50, 100000);
	cr_assert_eq(pace_size(&p), 10, "never below min");
}

Test(pace, too_big_and_rate_limited)
{
	struct pace	p;

	pace_init(&p, 10, 1000);
	pace_too_big(&p, 100);
	cr_assert_eq(pace_size(&p), 50);
	pace_rate_limited(&p);
	cr_assert_eq(pace_size(&p), 100);
	pace_too_big(&p, 3);
	cr_assert_eq(pace_size(&p), 10);
}

Test(pace, stays_in_bounds_under_any_outcomes)
{
	struct pace	p;
	unsigned int	seed = (unsigned int)time(NULL);
	int		i, k;

	printf("pace seed %u\n", seed);
	for (k = 0; k < 50; k++) {
		uint32_t	min = 1 + rand_r(&seed) % 100;
		uint32_t	max = min + rand_r(&seed) % 2000;

		pace_init(&p, min, max);
		for (i = 0; i < 1000; i++) {
			uint32_t	n = pace_size(&p);

			switch (rand_r(&seed) % 5) {
			case 0:
				pace_failure(&p);
				break;
			case 1:
				pace_too_big(&p, n);
				break;
			case 2:
				pace_rate_limited(&p);
				break;
			default:
				pace_success(&p, rand_r(&seed) % (n + 1),
				    rand_r(&seed) % 10000);
				break;
			}
			cr_assert(pace_size(&p) >= p.min &&
			    pace_size(&p) <= p.max, "seed %u: size %u not in "
			    "%u..%u", seed, pace_size(&p), p.min, p.max);
		}
	}
}
