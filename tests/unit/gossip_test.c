/*
 * gossip_test: what to ask which peer for, the credit window, timeouts,
 * retries, limits, summary deltas and the serve queue (agent/gossip.c).
 */
#include <string.h>

#include <criterion/criterion.h>

#include "agent/gossip.h"

static uint8_t	DA[ID_LEN] = { 0x0a };
static uint8_t	DB[ID_LEN] = { 0x0b };
static uint8_t	DC[ID_LEN] = { 0x0c };

static void
vc_set(struct vclock *v, const uint8_t *dev, uint64_t seq)
{
	cr_assert_eq(vclock_set(v, dev, seq), 0);
}

/* A peer that holds dev up to seq. */
static void
peer_with(struct gossip_peer *p, const uint8_t *dev, uint64_t seq)
{
	struct vclock	v;

	gossip_peer_init(p);
	vclock_init(&v);
	vc_set(&v, dev, seq);
	cr_assert_eq(gossip_on_hello(p, &v), 0);
}

/* A and B (ids 1 and 2) hold DA up to 1000, we hold none: A is asked. */
static void
a_fetching(struct gossip *g, struct gossip_peer *a, struct gossip_peer *b,
    struct vclock *ours, uint64_t now)
{
	struct wire_range	r[4];

	gossip_init(g);
	peer_with(a, DA, 1000);
	peer_with(b, DA, 1000);
	vclock_init(ours);
	cr_assert_eq(gossip_wants(g, 1, a, ours, now, r, 4), 1);
	cr_assert_eq(r[0].from_seq, 1);
	cr_assert_eq(r[0].max_count, 1000);
}

Test(gossip, asks_from_our_head_up_to_what_the_peer_holds)
{
	struct gossip		g;
	struct gossip_peer	p;
	struct vclock		ours;
	struct wire_range	r[4];

	gossip_init(&g);
	peer_with(&p, DA, 100);
	vclock_init(&ours);
	vc_set(&ours, DA, 10);
	cr_assert_eq(gossip_wants(&g, 1, &p, &ours, 1000, r, 4), 1);
	cr_assert_eq(memcmp(r[0].dev, DA, ID_LEN), 0);
	cr_assert_eq(r[0].from_seq, 11);
	cr_assert_eq(r[0].max_count, 90);
	/* Asked already: nothing more until something arrives. */
	cr_assert_eq(gossip_wants(&g, 1, &p, &ours, 1001, r, 4), 0);
	/* Nothing to ask of a peer that holds no more than we do. */
	vc_set(&ours, DA, 100);
	gossip_progress(&g, &ours, 1002);
	cr_assert_eq(gossip_wants(&g, 1, &p, &ours, 1003, r, 4), 0);
	cr_assert_eq(gossip_fetch_get(&g, DA)->peer, GOSSIP_NO_PEER,
	    "a finished fetch frees the device");
}

Test(gossip, window_bounds_what_is_in_flight)
{
	struct gossip		g;
	struct gossip_peer	p;
	struct vclock		ours;
	struct wire_range	r[4];

	gossip_init(&g);
	peer_with(&p, DA, 100000);
	vclock_init(&ours);
	cr_assert_eq(gossip_wants(&g, 7, &p, &ours, 0, r, 4), 1);
	cr_assert_eq(r[0].from_seq, 1);
	cr_assert_eq(r[0].max_count, GOSSIP_WINDOW);
	cr_assert_eq(gossip_wants(&g, 7, &p, &ours, 1, r, 4), 0,
	    "more than half the window outstanding");
	/* 9000 arrived: 7384 outstanding, topped up to the window. */
	vc_set(&ours, DA, 9000);
	gossip_progress(&g, &ours, 2);
	cr_assert_eq(gossip_wants(&g, 7, &p, &ours, 3, r, 4), 1);
	cr_assert_eq(r[0].from_seq, GOSSIP_WINDOW + 1);
	cr_assert_eq(r[0].max_count, 9000);
	cr_assert_eq(gossip_fetch_get(&g, DA)->asked - 9000,
	    (uint64_t)GOSSIP_WINDOW, "in flight is exactly the window");
}

Test(gossip, one_peer_per_device_until_it_stalls)
{
	struct gossip		g;
	struct gossip_peer	a, b;
	struct vclock		ours;
	struct wire_range	r[4];

	gossip_init(&g);
	peer_with(&a, DA, 100);
	peer_with(&b, DA, 100);
	vclock_init(&ours);
	cr_assert_eq(gossip_wants(&g, 1, &a, &ours, 0, r, 4), 1);
	cr_assert_eq(gossip_wants(&g, 2, &b, &ours, 10, r, 4), 0,
	    "B must not be asked for what A is sending");
	/* Progress keeps it with A. */
	vc_set(&ours, DA, 20);
	gossip_progress(&g, &ours, GOSSIP_FETCH_TIMEOUT_MS);
	cr_assert_eq(gossip_wants(&g, 2, &b, &ours,
	    GOSSIP_FETCH_TIMEOUT_MS + 10, r, 4), 0);
	/* A stalls (it answers PINGs): after the timeout B takes over. */
	gossip_heard(&g, 1, GOSSIP_FETCH_TIMEOUT_MS + 500);
	cr_assert_eq(gossip_wants(&g, 2, &b, &ours,
	    2 * GOSSIP_FETCH_TIMEOUT_MS + 1, r, 4), 1);
	cr_assert_eq(r[0].from_seq, 21);
	cr_assert_eq(r[0].max_count, 80);
	cr_assert_eq(gossip_fetch_get(&g, DA)->peer, 2);
}

/*
 * A register short of CPU: A keeps sending the range, our commits lag.
 * Arrivals from A are progress: B does not take the device (and get
 * asked for what is already queued here) until A is silent for the
 * timeout. Arrivals from another peer, or past what was asked, are not.
 */
Test(gossip, arrivals_are_progress_while_commits_lag)
{
	struct gossip		g;
	struct gossip_peer	a, b;
	struct vclock		ours;
	struct wire_range	r[4];
	const uint64_t		T = GOSSIP_FETCH_TIMEOUT_MS;

	a_fetching(&g, &a, &b, &ours, 0);
	/* runs from A arrive; nothing is committed yet */
	gossip_arrived(&g, 1, DA, 300, T - 100);
	gossip_arrived(&g, 1, DA, 600, 2 * T - 100);
	/* not counted: from B, not new, past the ask */
	gossip_arrived(&g, 2, DA, 900, 3 * T - 100);
	gossip_arrived(&g, 1, DA, 600, 3 * T - 100);
	gossip_arrived(&g, 1, DA, 5000, 3 * T - 100);
	cr_assert_eq(gossip_wants(&g, 2, &b, &ours, 2 * T + 100, r, 4), 0,
	    "A is sending: B must not be asked");
	cr_assert_eq(gossip_fetch_get(&g, DA)->peer, 1);
	/* A silent since 2T - 100 (though it answers PINGs): B takes over */
	gossip_heard(&g, 1, 2 * T);
	cr_assert_eq(gossip_wants(&g, 2, &b, &ours, 3 * T - 100, r, 4), 1);
	cr_assert_eq(r[0].from_seq, 1);
	cr_assert_eq(gossip_fetch_get(&g, DA)->peer, 2);
	cr_assert_eq(gossip_take_run(&g, 2, DA, 301, 400), 0,
	    "B's answer starts at our head: a run of B past it is stale");
	cr_assert_eq(gossip_take_run(&g, 2, DA, 1, 100), 1);
	/* A's late runs no longer count */
	gossip_arrived(&g, 1, DA, 700, 3 * T);
	cr_assert_eq(gossip_fetch_get(&g, DA)->arrived, 0);
}

/*
 * A peer short of CPU has not read our WANT yet: were B asked, A's answer
 * would still come and everything would come twice. A is stalled only
 * once it answered a PING we sent after our ask and still sent nothing.
 */
Test(gossip, a_peer_that_has_not_read_our_ask_is_not_stalled)
{
	struct gossip		g;
	struct gossip_peer	a, b;
	struct vclock		ours;
	struct wire_range	r[4];
	const uint64_t		T = GOSSIP_FETCH_TIMEOUT_MS;

	a_fetching(&g, &a, &b, &ours, 100);
	gossip_heard(&g, 1, 99);	/* a PING sent before the ask */
	gossip_heard(&g, 1, 100);	/* or in the same millisecond */
	gossip_heard(&g, 2, 5000);	/* B's PONGs say nothing of A */
	cr_assert_eq(gossip_wants(&g, 2, &b, &ours, 100 + 2 * T, r, 4), 0,
	    "A has not read our ask: B must not be asked");
	gossip_heard(&g, 1, 150);	/* it read the ask, sent nothing */
	cr_assert_eq(gossip_wants(&g, 2, &b, &ours, 100 + 2 * T, r, 4), 1);
	cr_assert_eq(gossip_fetch_get(&g, DA)->peer, 2);
	/* B's PONGs never come (lost, or past the ring): stalled anyway at
	 * the deadline */
	cr_assert_eq(gossip_wants(&g, 1, &a, &ours,
	    100 + 2 * T + GOSSIP_FETCH_DEADLINE_MS - 1, r, 4), 0);
	cr_assert_eq(gossip_wants(&g, 1, &a, &ours,
	    100 + 2 * T + GOSSIP_FETCH_DEADLINE_MS, r, 4), 1);
	cr_assert_eq(gossip_fetch_get(&g, DA)->peer, 1);
	/* A lost peer forgets what it was heard at. */
	gossip_peer_gone(&g, 2);
	cr_assert_eq(g.heard[2], 0);
}

/*
 * PINGs once a second to a peer that answers late: a PONG for any of the
 * last GOSSIP_PINGS counts, says when its PING left, and settles the
 * ones before it; older or unknown nonces, and a second PONG, do not.
 */
Test(gossip, late_pongs_answer_the_pings_still_awaited)
{
	struct gossip_peer	p;
	uint64_t		i;

	gossip_peer_init(&p);
	for (i = 1; i <= GOSSIP_PINGS + 2; i++)
		gossip_ping_sent(&p, 100 + i, i * 1000);
	/* PINGs 1 and 2 fell out of the ring */
	cr_assert_eq(gossip_pong(&p, 101), 0);
	cr_assert_eq(gossip_pong(&p, 102), 0);
	cr_assert_eq(gossip_pong(&p, 999), 0, "not a nonce of ours");
	cr_assert_eq(gossip_pong(&p, 104), 4000, "answered 2 PINGs late");
	cr_assert_eq(gossip_pong(&p, 103), 0, "settled by the later one");
	cr_assert_eq(gossip_pong(&p, 104), 0, "answered already");
	cr_assert_eq(gossip_pong(&p, 106), 6000);
	cr_assert_eq(gossip_pong(&p, 105), 0);
}

Test(gossip, a_lost_peer_frees_its_devices_at_once)
{
	struct gossip		g;
	struct gossip_peer	a, b;
	struct vclock		ours;
	struct wire_range	r[4];

	gossip_init(&g);
	peer_with(&a, DB, 50);
	peer_with(&b, DB, 50);
	vclock_init(&ours);
	cr_assert_eq(gossip_wants(&g, 1, &a, &ours, 0, r, 4), 1);
	gossip_peer_gone(&g, 1);
	cr_assert_eq(gossip_wants(&g, 2, &b, &ours, 1, r, 4), 1);
	cr_assert_eq(r[0].from_seq, 1);
	cr_assert_eq(r[0].max_count, 50);
}

Test(gossip, retry_refusal_backs_off_then_asks_again)
{
	struct gossip		g;
	struct gossip_peer	p;
	struct vclock		ours;
	struct wire_range	r[4];

	gossip_init(&g);
	peer_with(&p, DA, 100);
	vclock_init(&ours);
	cr_assert_eq(gossip_wants(&g, 1, &p, &ours, 1000, r, 4), 1);
	cr_assert_eq(gossip_take_run(&g, 1, DA, 1, 100), 1);
	gossip_arrived(&g, 1, DA, 100, 1000);
	/* 1..49 went in, 50 waits for something else (and 51.. with it). */
	vc_set(&ours, DA, 49);
	gossip_progress(&g, &ours, 1001);
	gossip_refused(&g, 1, DA, 50, 1001);
	gossip_refused(&g, 1, DA, 51, 1001);
	cr_assert_eq(gossip_fetch_get(&g, DA)->retry_at,
	    1001 + GOSSIP_RETRY_MIN_MS, "one backoff for the whole run");
	cr_assert_eq(gossip_wants(&g, 1, &p, &ours, 1001 + 50, r, 4), 0,
	    "asked again inside the backoff");
	cr_assert_eq(gossip_wants(&g, 1, &p, &ours,
	    1001 + GOSSIP_RETRY_MIN_MS, r, 4), 1);
	cr_assert_eq(r[0].from_seq, 50);
	cr_assert_eq(r[0].max_count, 51);
	/* A second refusal without progress doubles the backoff. */
	cr_assert_eq(gossip_take_run(&g, 1, DA, 50, 100), 1);
	gossip_arrived(&g, 1, DA, 100, 2000);
	gossip_refused(&g, 1, DA, 50, 2000);
	cr_assert_eq(gossip_fetch_get(&g, DA)->retry_at,
	    2000 + 2 * GOSSIP_RETRY_MIN_MS);
	/* A refused push of a device we fetch nothing of changes nothing. */
	gossip_refused(&g, 1, DC, 500, 2000);
	cr_assert_null(gossip_fetch_get(&g, DC));
}

/*
 * 101 waits for another device's event. The rest of A's answer is still
 * on its way; were it merged once the re-asked 101.. filled the hole, the
 * second answer would bring it again. A is asked again (not B, which would
 * not stop A's first answer), and A's runs are dropped unread until the
 * one that starts the new answer.
 */
Test(gossip, refusal_asks_the_same_peer_again_and_drops_the_old_answer)
{
	struct gossip		g;
	struct gossip_peer	a, b;
	struct vclock		ours;
	struct wire_range	r[4];
	const uint64_t		t = 5000, again = t + GOSSIP_RETRY_MIN_MS;

	a_fetching(&g, &a, &b, &ours, 0);
	cr_assert_eq(gossip_take_run(&g, 1, DA, 1, 100), 1);
	cr_assert_eq(gossip_take_run(&g, 1, DA, 101, 200), 1);
	gossip_arrived(&g, 1, DA, 200, t);
	vc_set(&ours, DA, 100);
	gossip_progress(&g, &ours, t);
	/* B's copy of 150 refused, or A's 900 not sent yet: not A's answer */
	gossip_refused(&g, 2, DA, 150, t);
	gossip_refused(&g, 1, DA, 900, t);
	cr_assert_eq(gossip_fetch_get(&g, DA)->retry_at, 0);
	cr_assert_eq(gossip_fetch_get(&g, DA)->again, 0);
	gossip_refused(&g, 1, DA, 101, t);
	cr_assert_eq(gossip_take_run(&g, 1, DA, 201, 300), 0,
	    "the rest of the first answer is dropped");
	cr_assert_eq(gossip_take_run(&g, 1, DA, 51, 100), 1,
	    "what ends before the hole is the store's to judge");
	cr_assert_eq(gossip_take_run(&g, 1, DA, 102, 110), 0,
	    "and still, what starts past it is dropped");
	cr_assert_eq(gossip_take_run(&g, 2, DA, 201, 300), 1,
	    "what B sends is not A's answer");
	vc_set(&ours, DA, 150);		/* B's run merged meanwhile */
	gossip_progress(&g, &ours, t + 1);
	cr_assert_eq(gossip_fetch_get(&g, DA)->peer, 1,
	    "the fetch stays with A while it waits");
	cr_assert_eq(gossip_wants(&g, 2, &b, &ours, again, r, 4), 0,
	    "B must not be asked");
	cr_assert_eq(gossip_wants(&g, 1, &a, &ours, again, r, 4), 1);
	cr_assert_eq(r[0].from_seq, 151);
	cr_assert_eq(r[0].max_count, 850);
	/* in flight before A read the new WANT (one holds 151 too), then
	 * the new answer, which starts where we asked */
	cr_assert_eq(gossip_take_run(&g, 1, DA, 141, 180), 0,
	    "an old run across 151 is not the new answer");
	cr_assert_eq(gossip_take_run(&g, 1, DA, 181, 220), 0);
	cr_assert_eq(gossip_take_run(&g, 1, DA, 151, 250), 1);
	cr_assert_eq(gossip_take_run(&g, 1, DA, 251, 350), 1);
	gossip_arrived(&g, 1, DA, 350, again + 1);
	cr_assert_eq(gossip_fetch_get(&g, DA)->arrived, 350);
	/* refused again; B's copies then bring us to what A was asked: the
	 * fetch is done and forgets the refusal */
	gossip_refused(&g, 1, DA, 151, again + 2);
	cr_assert_eq(gossip_fetch_get(&g, DA)->again, 1);
	vc_set(&ours, DA, 1000);
	gossip_progress(&g, &ours, again + 3);
	cr_assert_eq(gossip_fetch_get(&g, DA)->peer, GOSSIP_NO_PEER);
	cr_assert_eq(gossip_fetch_get(&g, DA)->again, 0);
	cr_assert_eq(gossip_fetch_get(&g, DA)->resync, 0);
	cr_assert_eq(gossip_take_run(&g, 1, DA, 901, 1000), 1);
}

/*
 * A's copy is refused at the same place again and again (its first event
 * refused for good, the rest waiting behind it): once the backoff is at
 * its longest, the fetch is let go and B may take it; a lost peer's
 * refusal is forgotten too.
 */
Test(gossip, a_fetch_refused_at_the_longest_backoff_is_let_go)
{
	struct gossip		g;
	struct gossip_peer	a, b;
	struct vclock		ours;
	struct wire_range	r[4];
	uint64_t		now = 0;
	int			rounds = 0;

	a_fetching(&g, &a, &b, &ours, now);
	while (gossip_fetch_get(&g, DA)->peer == 1 && rounds++ < 20) {
		cr_assert_eq(gossip_take_run(&g, 1, DA, 1, 100), 1);
		gossip_arrived(&g, 1, DA, 100, now);
		gossip_refused(&g, 1, DA, 2, now);
		cr_assert_eq(gossip_wants(&g, 2, &b, &ours, now, r, 4), 0,
		    "B is not asked while A is being asked again");
		now = gossip_fetch_get(&g, DA)->retry_at;
		if (gossip_fetch_get(&g, DA)->peer == 1)
			cr_assert_eq(gossip_wants(&g, 1, &a, &ours, now, r, 4),
			    1);
	}
	cr_assert_eq(gossip_fetch_get(&g, DA)->peer, GOSSIP_NO_PEER);
	cr_assert_lt(rounds, 10, "let go after %d rounds", rounds);
	cr_assert_eq(gossip_wants(&g, 2, &b, &ours, now, r, 4), 1);
	cr_assert_eq(r[0].from_seq, 1);
	cr_assert_eq(gossip_fetch_get(&g, DA)->peer, 2);
	cr_assert_eq(gossip_fetch_get(&g, DA)->resync, 1,
	    "B's answer starts at our head");
	cr_assert_eq(gossip_take_run(&g, 2, DA, 1, 100), 1);
	gossip_arrived(&g, 2, DA, 100, now);
	gossip_refused(&g, 2, DA, 2, now);
	cr_assert_eq(gossip_fetch_get(&g, DA)->again, 1);
	gossip_peer_gone(&g, 2);
	cr_assert_eq(gossip_fetch_get(&g, DA)->again, 0);
	cr_assert_eq(gossip_fetch_get(&g, DA)->resync, 0);
}

/* A fetch that starts over from our head drops the stale answer too. */
Test(gossip, a_timed_out_ask_starts_over_and_drops_the_old_answer)
{
	struct gossip		g;
	struct gossip_peer	a;
	struct vclock		ours;
	struct wire_range	r[4];
	const uint64_t		T = GOSSIP_FETCH_TIMEOUT_MS;

	gossip_init(&g);
	peer_with(&a, DA, 1000);
	vclock_init(&ours);
	cr_assert_eq(gossip_wants(&g, 1, &a, &ours, 0, r, 4), 1);
	cr_assert_eq(gossip_take_run(&g, 1, DA, 1, 100), 1,
	    "a first answer is taken from its first run");
	cr_assert_eq(gossip_take_run(&g, 1, DA, 201, 300), 1,
	    "a hole in an answer is the store's to see");
	gossip_arrived(&g, 1, DA, 300, 10);
	gossip_heard(&g, 1, 20);
	cr_assert_eq(gossip_wants(&g, 1, &a, &ours, 10 + T, r, 4), 1);
	cr_assert_eq(r[0].from_seq, 1);
	cr_assert_eq(r[0].max_count, 1000);
	cr_assert_eq(gossip_take_run(&g, 1, DA, 301, 400), 0);
	cr_assert_eq(gossip_take_run(&g, 1, DA, 1, 100), 1);
	/* a lost peer's fetch forgets it */
	gossip_peer_gone(&g, 1);
	cr_assert_eq(gossip_fetch_get(&g, DA)->resync, 0);
	cr_assert_eq(gossip_take_run(&g, 1, DA, 501, 600), 1);
}

Test(gossip, limits_stop_asks_at_a_revocation)
{
	struct gossip		g;
	struct gossip_peer	p;
	struct vclock		ours;
	struct wire_range	r[4];

	gossip_init(&g);
	peer_with(&p, DA, 100);
	vclock_init(&ours);
	cr_assert_eq(gossip_set_limit(&g, DA, 30), 0);
	cr_assert_eq(gossip_wants(&g, 1, &p, &ours, 0, r, 4), 1);
	cr_assert_eq(r[0].max_count, 30);
	vc_set(&ours, DA, 30);
	gossip_progress(&g, &ours, 1);
	cr_assert_eq(gossip_wants(&g, 1, &p, &ours, 2, r, 4), 0);
}

Test(gossip, several_devices_in_one_want)
{
	struct gossip		g;
	struct gossip_peer	p;
	struct vclock		ours, v;
	struct wire_range	r[4];

	gossip_init(&g);
	gossip_peer_init(&p);
	vclock_init(&v);
	vc_set(&v, DA, 5);
	vc_set(&v, DB, 7);
	vc_set(&v, DC, 2);
	cr_assert_eq(gossip_on_hello(&p, &v), 0);
	vclock_init(&ours);
	vc_set(&ours, DB, 7);
	vc_set(&ours, DC, 1);
	cr_assert_eq(gossip_wants(&g, 3, &p, &ours, 0, r, 4), 2);
	cr_assert_eq(memcmp(r[0].dev, DA, ID_LEN), 0);
	cr_assert_eq(r[0].from_seq, 1);
	cr_assert_eq(r[0].max_count, 5);
	cr_assert_eq(memcmp(r[1].dev, DC, ID_LEN), 0);
	cr_assert_eq(r[1].from_seq, 2);
	cr_assert_eq(r[1].max_count, 1);
	/* cap respected */
	gossip_init(&g);
	cr_assert_eq(gossip_wants(&g, 3, &p, &ours, 0, r, 1), 1);
}

Test(gossip, summaries_carry_only_what_changed)
{
	struct gossip_peer	p;
	struct vclock		ours, d;
	uint64_t		seq = 0;

	gossip_peer_init(&p);
	vclock_init(&ours);
	vc_set(&ours, DA, 5);
	vc_set(&ours, DB, 3);
	/* It holds B 3 already (it sent them): not worth saying. */
	cr_assert_eq(gossip_peer_has(&p, DB, 3), 0);
	cr_assert_eq(gossip_summary(&p, &ours, &d, &seq), 1);
	cr_assert_eq(seq, 1);
	cr_assert_eq(vclock_get(&d, DA), 5);
	cr_assert_eq(vclock_get(&d, DB), 0);
	cr_assert_eq(gossip_summary(&p, &ours, &d, &seq), 0,
	    "nothing changed, nothing to send");
	vc_set(&ours, DA, 6);
	vc_set(&ours, DC, 1);
	cr_assert_eq(gossip_summary(&p, &ours, &d, &seq), 2);
	cr_assert_eq(seq, 2);
	cr_assert_eq(vclock_get(&d, DA), 6);
	cr_assert_eq(vclock_get(&d, DC), 1);
	/* A HELLO says everything: summaries start over at 1. */
	gossip_hello_sent(&p, &ours);
	cr_assert_eq(gossip_summary(&p, &ours, &d, &seq), 0);
	vc_set(&ours, DB, 4);
	cr_assert_eq(gossip_summary(&p, &ours, &d, &seq), 1);
	cr_assert_eq(seq, 1);
}

Test(gossip, summary_gaps_are_seen_and_knowledge_only_grows)
{
	struct gossip_peer	p;
	struct vclock		d, h;
	int			gap;

	gossip_peer_init(&p);
	vclock_init(&d);
	vc_set(&d, DA, 3);
	cr_assert_eq(gossip_on_summary(&p, 1, &d, &gap), 0);
	cr_assert_eq(gap, 0);
	vc_set(&d, DA, 9);
	cr_assert_eq(gossip_on_summary(&p, 3, &d, &gap), 0);
	cr_assert_eq(gap, 1, "summary 2 was lost");
	cr_assert_eq(vclock_get(&p.have, DA), 9, "a gapped delta still counts");
	/* A HELLO with less (stale) does not shrink what we know. */
	vclock_init(&h);
	vc_set(&h, DA, 4);
	cr_assert_eq(gossip_on_hello(&p, &h), 0);
	cr_assert_eq(vclock_get(&p.have, DA), 9);
	vclock_init(&d);
	vc_set(&d, DB, 1);
	cr_assert_eq(gossip_on_summary(&p, 1, &d, &gap), 0);
	cr_assert_eq(gap, 0, "after a HELLO summaries start at 1");
}

Test(gossip, serve_queue_round_robin_and_replacement)
{
	struct gossip_peer	p;
	struct wire_want	w;
	struct wire_range	r;

	gossip_peer_init(&p);
	memset(&w, 0, sizeof(w));
	w.n = 2;
	memcpy(w.r[0].dev, DA, ID_LEN);
	w.r[0].from_seq = 1;
	w.r[0].max_count = 10;
	memcpy(w.r[1].dev, DB, ID_LEN);
	w.r[1].from_seq = 5;
	w.r[1].max_count = 3;
	gossip_serve_want(&p, &w);
	cr_assert_eq(gossip_serve_pending(&p), 13);
	cr_assert_eq(gossip_serve_next(&p, &r), 1);
	cr_assert_eq(memcmp(r.dev, DA, ID_LEN), 0);
	gossip_serve_done(&p, DA, 1, 4);
	cr_assert_eq(gossip_serve_pending(&p), 9);
	/* Round robin: B's turn now. */
	cr_assert_eq(gossip_serve_next(&p, &r), 1);
	cr_assert_eq(memcmp(r.dev, DB, ID_LEN), 0);
	cr_assert_eq(r.from_seq, 5);
	gossip_serve_done(&p, DB, 5, 3);
	cr_assert_eq(gossip_serve_next(&p, &r), 1);
	cr_assert_eq(memcmp(r.dev, DA, ID_LEN), 0);
	cr_assert_eq(r.from_seq, 5);
	cr_assert_eq(r.max_count, 6);
	/* The next window continues A's range (5..10, then 11..14). */
	w.n = 1;
	w.r[0].from_seq = 11;
	w.r[0].max_count = 4;
	gossip_serve_want(&p, &w);
	cr_assert_eq(gossip_serve_pending(&p), 10);
	cr_assert_eq(gossip_serve_next(&p, &r), 1);
	cr_assert_eq(r.from_seq, 5);
	cr_assert_eq(r.max_count, 10);
	/* A newer WANT replaces A's range; a stale completion is ignored. */
	w.n = 1;
	w.r[0].from_seq = 20;
	w.r[0].max_count = 2;
	gossip_serve_want(&p, &w);
	gossip_serve_done(&p, DA, 5, 6);
	cr_assert_eq(gossip_serve_pending(&p), 2);
	/* Nothing held: the range is dropped. */
	gossip_serve_done(&p, DA, 20, 0);
	cr_assert_eq(gossip_serve_next(&p, &r), 0);
	cr_assert_eq(p.nserve, 0);
}
