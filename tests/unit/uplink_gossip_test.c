/*
 * uplink_gossip_test: the cloud-acknowledged clock in SUMMARY
 * (gossip_summary_acked, agent/gossip.h): deltas of what grew, nothing
 * the peer said it has, a seq for acked-only summaries, HELLO resets.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "agent/gossip.h"

static void
set(struct vclock *vc, uint8_t d, uint64_t seq)
{
	uint8_t	id[ID_LEN];

	memset(id, d, ID_LEN);
	cr_assert_eq(vclock_set(vc, id, seq), 0);
}

static uint64_t
get(const struct vclock *vc, uint8_t d)
{
	uint8_t	id[ID_LEN];

	memset(id, d, ID_LEN);
	return vclock_get(vc, id);
}

Test(gossip_acked, deltas_and_seqs)
{
	struct gossip_peer	p;
	struct vclock		ours, acked, delta, adelta, said;
	uint64_t		seq = 0;

	gossip_peer_init(&p);
	vclock_init(&ours);
	vclock_init(&acked);
	set(&ours, 1, 10);
	set(&acked, 1, 4);
	gossip_hello_sent(&p, &ours);
	gossip_acked_sent(&p, &acked);
	/* Nothing grew: nothing to say. */
	cr_assert_eq(gossip_summary_acked(&p, &ours, &acked, &delta, &adelta,
	    &seq), 0);
	/* Only the acked clock grew: a summary with a seq of its own. */
	set(&acked, 1, 7);
	set(&acked, 2, 3);
	cr_assert_eq(gossip_summary_acked(&p, &ours, &acked, &delta, &adelta,
	    &seq), 2);
	cr_assert_eq(seq, 1);
	cr_assert_eq(delta.n, 0);
	cr_assert_eq(get(&adelta, 1), 7);
	cr_assert_eq(get(&adelta, 2), 3);
	/* Told: not again. */
	cr_assert_eq(gossip_summary_acked(&p, &ours, &acked, &delta, &adelta,
	    &seq), 0);
	/* What the peer said it has is left out. */
	vclock_init(&said);
	set(&said, 1, 9);
	cr_assert_eq(gossip_on_acked(&p, &said), 0);
	set(&acked, 1, 9);
	set(&acked, 3, 1);
	set(&ours, 1, 11);
	cr_assert_eq(gossip_summary_acked(&p, &ours, &acked, &delta, &adelta,
	    &seq), 2);
	cr_assert_eq(seq, 2, "one seq for both deltas");
	cr_assert_eq(get(&delta, 1), 11);
	cr_assert_eq(adelta.n, 1);
	cr_assert_eq(get(&adelta, 3), 1);
	/* No acked clock at all: as gossip_summary. */
	set(&ours, 1, 12);
	cr_assert_eq(gossip_summary_acked(&p, &ours, NULL, &delta, &adelta,
	    &seq), 1);
	cr_assert_eq(adelta.n, 0);
	cr_assert_eq(seq, 3);
	/* A HELLO starts over. */
	gossip_acked_sent(&p, NULL);
	cr_assert_eq(p.acked_told.n, 0);
}
