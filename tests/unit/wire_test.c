/*
 * wire: round trips of every kind, golden bytes, hostile frames.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "proto/codec.h"
#include "proto/event.h"
#include "proto/sig.h"
#include "proto/wire.h"

/* Decoded messages are about 17 KiB: keep them off the stack. */
static struct wire_msg	M, M2;
static struct buf	B, B2;

static void
setup(void)
{
	buf_init(&B, 0);
	buf_init(&B2, 0);
	memset(&M, 0xa5, sizeof(M));
	memset(&M2, 0xa5, sizeof(M2));
}

static void
teardown(void)
{
	buf_reset(&B);
	buf_reset(&B2);
}

TestSuite(wire, .init = setup, .fini = teardown);

static void
id_fill(uint8_t id[ID_LEN], uint8_t v)
{
	memset(id, v, ID_LEN);
}

static void
vc_add(struct vclock *vc, uint8_t dev, uint64_t seq)
{
	uint8_t	id[ID_LEN];

	id_fill(id, dev);
	cr_assert_eq(vclock_set(vc, id, seq), 0);
}

/* decode(b) must give a message whose encoding is b again. */
static void
assert_canonical(const uint8_t *p, size_t len)
{
	buf_clear(&B2);
	cr_assert_eq(wire_decode(&M2, p, len), 0);
	cr_assert_eq(wire_encode(&B2, &M2), 0);
	cr_assert_eq(B2.len, len);
	cr_assert(memcmp(B2.p, p, len) == 0, "re-encoding differs");
}

/* HELLO */

static const uint8_t golden_hello[] = {
	0x97, 0x01, 0x01,
	0xc4, 0x10, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
	0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
	0xc4, 0x10, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	0x92,
	0x92, 0xc4, 0x10, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x05,
	0x92, 0xc4, 0x10, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33,
	0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0xcd, 0x01, 0x2c,
	0x91,
	0x92, 0xc4, 0x10, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x03,
	0xb3, 't', 'c', 'p', ':', '/', '/', '1', '0', '.', '0', '.', '0',
	'.', '2', ':', '7', '7', '0', '0',
};

static void
hello_fixture(struct vclock *vc, struct vclock *acked, uint8_t store[ID_LEN],
    uint8_t dev[ID_LEN])
{
	vclock_init(vc);
	vclock_init(acked);
	vc_add(vc, 0x33, 300);
	vc_add(vc, 0x22, 5);
	vc_add(acked, 0x22, 3);
	id_fill(store, 0x11);
	id_fill(dev, 0x22);
}

Test(wire, hello_golden_bytes)
{
	struct vclock	vc, acked;
	uint8_t		store[ID_LEN], dev[ID_LEN];

	hello_fixture(&vc, &acked, store, dev);
	cr_assert_eq(wire_encode_hello(&B, store, dev, &vc, &acked,
	    "tcp://10.0.0.2:7700"), 0);
	cr_assert_eq(B.len, sizeof(golden_hello));
	cr_assert(memcmp(B.p, golden_hello, sizeof(golden_hello)) == 0);
}

Test(wire, hello_round_trip)
{
	struct wire_hello	*h = &M.u.hello;
	uint8_t			 id[ID_LEN];

	cr_assert_eq(wire_decode(&M, golden_hello, sizeof(golden_hello)), 0);
	cr_assert_eq(M.kind, WIRE_HELLO);
	cr_assert_eq(h->version, WIRE_VERSION);
	id_fill(id, 0x11);
	cr_assert(memcmp(h->store, id, ID_LEN) == 0);
	id_fill(id, 0x22);
	cr_assert(memcmp(h->dev, id, ID_LEN) == 0);
	cr_assert_eq(h->vc.n, 2);
	cr_assert_eq(vclock_get(&h->vc, id), 5);
	cr_assert_eq(h->vc.e[1].seq, 300);
	cr_assert_eq(h->vc.e[1].dev[0], 0x33);
	cr_assert_eq(h->acked.n, 1);
	cr_assert_eq(vclock_get(&h->acked, id), 3);
	cr_assert_str_eq(h->endpoint, "tcp://10.0.0.2:7700");
	assert_canonical(golden_hello, sizeof(golden_hello));
}

Test(wire, hello_defaults_and_full_clocks)
{
	struct vclock	vc;
	uint8_t		store[ID_LEN], dev[ID_LEN];
	int		i;

	id_fill(store, 1);
	id_fill(dev, 2);
	vclock_init(&vc);
	for (i = 0; i < VCLOCK_MAX; i++)
		vc_add(&vc, (uint8_t)(i * 3), (uint64_t)1 << (i % 63));
	cr_assert_eq(wire_encode_hello(&B, store, dev, &vc, NULL, NULL), 0);
	cr_assert_eq(wire_decode(&M, B.p, B.len), 0);
	cr_assert_eq(M.kind, WIRE_HELLO);
	cr_assert_eq(M.u.hello.vc.n, VCLOCK_MAX);
	cr_assert_eq(vclock_cmp(&M.u.hello.vc, &vc), VCLOCK_EQUAL);
	cr_assert_eq(M.u.hello.vc.e[62].seq, (uint64_t)1 << 62);
	cr_assert_eq(M.u.hello.acked.n, 0);
	cr_assert_str_eq(M.u.hello.endpoint, "");
	assert_canonical(B.p, B.len);
}

Test(wire, hello_of_another_version_gives_its_identity)
{
	struct codec_wr	w;
	uint8_t		id[ID_LEN];

	/* A future HELLO: same first four elements, anything after. */
	codec_wr_init(&w, &B);
	codec_write_array(&w, 6);
	codec_write_uint(&w, WIRE_HELLO);
	codec_write_uint(&w, 2);
	id_fill(id, 0x44);
	codec_write_bin(&w, id, ID_LEN);
	id_fill(id, 0x55);
	codec_write_bin(&w, id, ID_LEN);
	codec_write_cstr(&w, "new");
	codec_write_map(&w, 0);
	cr_assert_eq(codec_wr_error(&w), 0);
	cr_assert_eq(wire_decode(&M, B.p, B.len), 0);
	cr_assert_eq(M.kind, WIRE_HELLO);
	cr_assert_eq(M.u.hello.version, 2);
	cr_assert_eq(M.u.hello.store[0], 0x44);
	cr_assert_eq(M.u.hello.dev[15], 0x55);
	cr_assert_eq(M.u.hello.vc.n, 0);
	cr_assert_str_eq(M.u.hello.endpoint, "");
	/* It cannot be re-encoded as if it were ours. */
	cr_assert_eq(wire_encode(&B2, &M), CAJA_EINVAL);

	/* Version 0 and a HELLO shorter than four elements are refused. */
	buf_clear(&B);
	codec_wr_init(&w, &B);
	codec_write_array(&w, 4);
	codec_write_uint(&w, WIRE_HELLO);
	codec_write_uint(&w, 0);
	codec_write_bin(&w, id, ID_LEN);
	codec_write_bin(&w, id, ID_LEN);
	cr_assert_eq(codec_wr_error(&w), 0);
	cr_assert_eq(wire_decode(&M, B.p, B.len), CAJA_EDECODE);
	cr_assert_eq(M.kind, WIRE_NONE);
	buf_clear(&B);
	codec_wr_init(&w, &B);
	codec_write_array(&w, 3);
	codec_write_uint(&w, WIRE_HELLO);
	codec_write_uint(&w, 2);
	codec_write_bin(&w, id, ID_LEN);
	cr_assert_eq(codec_wr_error(&w), 0);
	cr_assert_eq(wire_decode(&M, B.p, B.len), CAJA_EDECODE);
	/* Our version with a field too many or too few: refused. */
	buf_clear(&B);
	codec_wr_init(&w, &B);
	codec_write_array(&w, 6);
	codec_write_uint(&w, WIRE_HELLO);
	codec_write_uint(&w, WIRE_VERSION);
	codec_write_bin(&w, id, ID_LEN);
	codec_write_bin(&w, id, ID_LEN);
	codec_write_array(&w, 0);
	codec_write_array(&w, 0);
	cr_assert_eq(codec_wr_error(&w), 0);
	cr_assert_eq(wire_decode(&M, B.p, B.len), CAJA_EDECODE);
}

Test(wire, hello_endpoint_limits)
{
	struct vclock	vc;
	uint8_t		id[ID_LEN];
	char		ep[WIRE_ENDPOINT_MAX + 2];

	vclock_init(&vc);
	id_fill(id, 9);
	memset(ep, 'a', sizeof(ep));
	ep[WIRE_ENDPOINT_MAX] = '\0';
	cr_assert_eq(wire_encode_hello(&B, id, id, &vc, NULL, ep), 0);
	cr_assert_eq(wire_decode(&M, B.p, B.len), 0);
	cr_assert_eq(strlen(M.u.hello.endpoint), WIRE_ENDPOINT_MAX);
	buf_clear(&B);
	ep[WIRE_ENDPOINT_MAX] = 'a';
	ep[WIRE_ENDPOINT_MAX + 1] = '\0';
	cr_assert_eq(wire_encode_hello(&B, id, id, &vc, NULL, ep),
	    CAJA_ETOOBIG);
	cr_assert_eq(B.len, 0);
	cr_assert_eq(wire_encode_hello(&B, id, id, &vc, NULL, "tcp://a b"),
	    CAJA_EINVAL);
	cr_assert_eq(wire_encode_hello(&B, id, id, &vc, NULL, "tcp://a\n"),
	    CAJA_EINVAL);
	cr_assert_eq(B.len, 0);
}

/* SUMMARY */

Test(wire, summary_round_trip)
{
	struct vclock	delta, acked;
	uint8_t		id[ID_LEN];

	vclock_init(&delta);
	vclock_init(&acked);
	vc_add(&delta, 0x01, 1);
	vc_add(&delta, 0xff, WIRE_SEQ_MAX);
	vc_add(&acked, 0x80, 70000);
	cr_assert_eq(wire_encode_summary(&B, 42, &delta, &acked), 0);
	cr_assert_eq(wire_decode(&M, B.p, B.len), 0);
	cr_assert_eq(M.kind, WIRE_SUMMARY);
	cr_assert_eq(M.u.summary.seq, 42);
	cr_assert_eq(M.u.summary.delta.n, 2);
	id_fill(id, 0xff);
	cr_assert_eq(vclock_get(&M.u.summary.delta, id), WIRE_SEQ_MAX);
	id_fill(id, 0x01);
	cr_assert_eq(vclock_get(&M.u.summary.delta, id), 1);
	cr_assert_eq(M.u.summary.acked.n, 1);
	id_fill(id, 0x80);
	cr_assert_eq(vclock_get(&M.u.summary.acked, id), 70000);
	assert_canonical(B.p, B.len);

	/* Empty deltas are fine; seq 0 (HELLO's) and seqs > max are not. */
	buf_clear(&B);
	vclock_init(&delta);
	cr_assert_eq(wire_encode_summary(&B, 1, &delta, NULL), 0);
	cr_assert_eq(wire_decode(&M, B.p, B.len), 0);
	cr_assert_eq(M.u.summary.delta.n, 0);
	cr_assert_eq(M.u.summary.acked.n, 0);
	buf_clear(&B);
	cr_assert_eq(wire_encode_summary(&B, 0, &delta, NULL), CAJA_EINVAL);
	delta.n = 1;
	id_fill(delta.e[0].dev, 7);
	delta.e[0].seq = WIRE_SEQ_MAX + 1;
	cr_assert_eq(wire_encode_summary(&B, 1, &delta, NULL), CAJA_EINVAL);
	delta.e[0].seq = 0;
	cr_assert_eq(wire_encode_summary(&B, 1, &delta, NULL), CAJA_EINVAL);
	cr_assert_eq(B.len, 0);
}

/* WANT */

Test(wire, want_round_trip)
{
	struct wire_range	r[3];

	memset(r, 0, sizeof(r));
	id_fill(r[0].dev, 0x10);
	r[0].from_seq = 1;
	r[0].max_count = 1;
	id_fill(r[1].dev, 0x20);
	r[1].from_seq = 123456789;
	r[1].max_count = WIRE_WANT_COUNT_MAX;
	id_fill(r[2].dev, 0x30);
	r[2].from_seq = WIRE_SEQ_MAX;
	r[2].max_count = 1024;
	cr_assert_eq(wire_encode_want(&B, r, 3), 0);
	cr_assert_eq(wire_decode(&M, B.p, B.len), 0);
	cr_assert_eq(M.kind, WIRE_WANT);
	cr_assert_eq(M.u.want.n, 3);
	cr_assert_eq(M.u.want.r[0].dev[0], 0x10);
	cr_assert_eq(M.u.want.r[0].from_seq, 1);
	cr_assert_eq(M.u.want.r[0].max_count, 1);
	cr_assert_eq(M.u.want.r[1].dev[15], 0x20);
	cr_assert_eq(M.u.want.r[1].from_seq, 123456789);
	cr_assert_eq(M.u.want.r[1].max_count, WIRE_WANT_COUNT_MAX);
	cr_assert_eq(M.u.want.r[2].from_seq, WIRE_SEQ_MAX);
	cr_assert_eq(M.u.want.r[2].max_count, 1024);
	assert_canonical(B.p, B.len);
}

Test(wire, want_limits)
{
	struct wire_range	r[WIRE_MAX_WANT + 1];
	int			i;

	memset(r, 0, sizeof(r));
	for (i = 0; i <= WIRE_MAX_WANT; i++) {
		id_fill(r[i].dev, (uint8_t)(i + 1));
		r[i].from_seq = (uint64_t)i + 1;
		r[i].max_count = 10;
	}
	cr_assert_eq(wire_encode_want(&B, r, WIRE_MAX_WANT), 0);
	cr_assert_eq(wire_decode(&M, B.p, B.len), 0);
	cr_assert_eq(M.u.want.n, WIRE_MAX_WANT);
	cr_assert_eq(M.u.want.r[WIRE_MAX_WANT - 1].from_seq, WIRE_MAX_WANT);
	buf_clear(&B);
	cr_assert_eq(wire_encode_want(&B, r, WIRE_MAX_WANT + 1),
	    CAJA_ETOOBIG);
	cr_assert_eq(wire_encode_want(&B, r, 0), CAJA_EINVAL);
	r[1].max_count = 0;
	cr_assert_eq(wire_encode_want(&B, r, 2), CAJA_EINVAL);
	r[1].max_count = WIRE_WANT_COUNT_MAX + 1;
	cr_assert_eq(wire_encode_want(&B, r, 2), CAJA_EINVAL);
	r[1].max_count = 1;
	r[1].from_seq = 0;
	cr_assert_eq(wire_encode_want(&B, r, 2), CAJA_EINVAL);
	r[1].from_seq = 5;
	memcpy(r[1].dev, r[0].dev, ID_LEN);	/* one device twice */
	cr_assert_eq(wire_encode_want(&B, r, 2), CAJA_EINVAL);
	id_fill(r[1].dev, 0);			/* descending */
	cr_assert_eq(wire_encode_want(&B, r, 2), CAJA_EINVAL);
	cr_assert_eq(B.len, 0);
}

/* EVENTS and PUSH */

static uint8_t	*big;	/* frame bodies for the run tests */

static void
make_frames(struct wire_frame *f, size_t n, size_t len)
{
	size_t	i;

	big = realloc(big, n * len);
	cr_assert_not_null(big);
	for (i = 0; i < n * len; i++)
		big[i] = (uint8_t)(i * 7 + i / len);
	for (i = 0; i < n; i++) {
		f[i].p = big + i * len;
		f[i].len = len;
	}
}

Test(wire, events_round_trip_zero_copy)
{
	struct wire_frame	f[3];
	static const uint8_t	a[] = { 0x9c, 1, 2 };
	uint8_t			b[300], dev[ID_LEN];
	uint32_t		i;

	memset(b, 0xee, sizeof(b));
	f[0].p = a;
	f[0].len = sizeof(a);
	f[1].p = b;
	f[1].len = sizeof(b);
	f[2].p = a;
	f[2].len = 1;
	id_fill(dev, 0x5a);
	cr_assert_eq(wire_encode_events(&B, dev, 1000, f, 3), 0);
	cr_assert_eq(wire_decode(&M, B.p, B.len), 0);
	cr_assert_eq(M.kind, WIRE_EVENTS);
	cr_assert(memcmp(M.u.events.dev, dev, ID_LEN) == 0);
	cr_assert_eq(M.u.events.first_seq, 1000);
	cr_assert_eq(M.u.events.n, 3);
	for (i = 0; i < 3; i++) {
		cr_assert_eq(M.u.events.f[i].len, f[i].len);
		cr_assert(memcmp(M.u.events.f[i].p, f[i].p, f[i].len) == 0);
		/* Zero-copy: the frame lies inside the received buffer. */
		cr_assert(M.u.events.f[i].p > B.p &&
		    M.u.events.f[i].p + f[i].len <= B.p + B.len);
	}
	/* The last frame is the last byte of the message. */
	cr_assert_eq(M.u.events.f[2].p, B.p + B.len - 1);
	assert_canonical(B.p, B.len);
}

Test(wire, events_run_limits)
{
	static struct wire_frame	f[WIRE_MAX_RUN + 1];
	uint8_t				dev[ID_LEN];
	size_t				n;

	id_fill(dev, 1);
	make_frames(f, WIRE_MAX_RUN + 1, 100);
	cr_assert_eq(wire_encode_events(&B, dev, 1, f, WIRE_MAX_RUN), 0);
	cr_assert_eq(wire_decode(&M, B.p, B.len), 0);
	cr_assert_eq(M.u.events.n, WIRE_MAX_RUN);
	cr_assert(memcmp(M.u.events.f[WIRE_MAX_RUN - 1].p,
	    f[WIRE_MAX_RUN - 1].p, 100) == 0);
	assert_canonical(B.p, B.len);
	buf_clear(&B);
	cr_assert_eq(wire_encode_events(&B, dev, 1, f, WIRE_MAX_RUN + 1),
	    CAJA_ETOOBIG);
	cr_assert_eq(wire_encode_events(&B, dev, 1, f, 0), CAJA_EINVAL);
	cr_assert_eq(wire_encode_events(&B, dev, 0, f, 1), CAJA_EINVAL);
	/* The run's last seq must stay within WIRE_SEQ_MAX. */
	cr_assert_eq(wire_encode_events(&B, dev, WIRE_SEQ_MAX, f, 2),
	    CAJA_EINVAL);
	cr_assert_eq(wire_encode_events(&B, dev, WIRE_SEQ_MAX, f, 1), 0);
	cr_assert_eq(wire_decode(&M, B.p, B.len), 0);
	cr_assert_eq(M.u.events.first_seq, WIRE_SEQ_MAX);
	buf_clear(&B);
	f[0].len = 0;
	cr_assert_eq(wire_encode_events(&B, dev, 1, f, 1), CAJA_EINVAL);
	f[0].len = EVENT_FRAME_MAX + 1;
	cr_assert_eq(wire_encode_events(&B, dev, 1, f, 1), CAJA_ETOOBIG);
	cr_assert_eq(B.len, 0);

	/* Bytes: as many largest events as the header's bound allows fit. */
	n = (WIRE_MAX_FRAME - WIRE_EVENTS_HDR_MAX) /
	    (EVENT_FRAME_MAX + WIRE_BIN_HDR_MAX);
	make_frames(f, n + 1, EVENT_FRAME_MAX);
	cr_assert_eq(wire_encode_events(&B, dev, 7, f, n), 0);
	cr_assert_leq(B.len, WIRE_MAX_FRAME);
	cr_assert_eq(wire_decode(&M, B.p, B.len), 0);
	cr_assert_eq(M.u.events.n, n);
	buf_clear(&B);
	cr_assert_eq(wire_encode_events(&B, dev, 7, f, n + 1), CAJA_ETOOBIG);
	cr_assert_eq(B.len, 0);
	free(big);
	big = NULL;
}

Test(wire, push_carries_a_real_event)
{
	struct sig_key	*key = NULL;
	struct event	 ev, got;
	struct buf	 evb;
	uint8_t		 seed[SIG_SEED_LEN];
	static const uint8_t payload[] = { 0x81, 0xa1, 'q', 0x02 };

	cr_assert_eq(sig_init(), 0);
	memset(seed, 3, sizeof(seed));
	cr_assert_eq(sig_key_from_seed(&key, seed), 0);
	memset(&ev, 0, sizeof(ev));
	memcpy(ev.dev, key->id, ID_LEN);
	ev.seq = 1;
	ev.hlc = 12345;
	ev.type = EV_STOCK_RECEIVED;
	memcpy(ev.entity, "coca-1l", 8);
	ev.payload = payload;
	ev.payload_len = sizeof(payload);
	buf_init(&evb, 0);
	cr_assert_eq(event_encode(&ev, key, &evb), 0);

	cr_assert_eq(wire_encode_push(&B, evb.p, evb.len), 0);
	cr_assert_eq(wire_decode(&M, B.p, B.len), 0);
	cr_assert_eq(M.kind, WIRE_PUSH);
	cr_assert_eq(M.u.push.len, evb.len);
	cr_assert(M.u.push.p > B.p && M.u.push.p + evb.len == B.p + B.len);
	cr_assert_eq(event_decode(&got, M.u.push.p, M.u.push.len), 0);
	cr_assert_eq(got.seq, 1);
	cr_assert_str_eq(got.entity, "coca-1l");
	cr_assert_eq(event_verify(&got, key->pk), 0);
	assert_canonical(B.p, B.len);

	buf_clear(&B);
	cr_assert_eq(wire_encode_push(&B, evb.p, 0), CAJA_EINVAL);
	cr_assert_eq(wire_encode_push(&B, NULL, 5), CAJA_EINVAL);
	cr_assert_eq(wire_encode_push(&B, evb.p, EVENT_FRAME_MAX + 1),
	    CAJA_ETOOBIG);
	cr_assert_eq(B.len, 0);
	buf_reset(&evb);
	sig_key_destroy(&key);
}

/* PING, PONG, BYE */

static const uint8_t golden_ping[] = {
	0x93, 0x06,
	0xcf, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
	0xcf, 0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00,
};

Test(wire, ping_golden_bytes_and_pong)
{
	cr_assert_eq(wire_encode_ping(&B, 0x0102030405060708ull,
	    1700000000000ull), 0);
	cr_assert_eq(B.len, sizeof(golden_ping));
	cr_assert(memcmp(B.p, golden_ping, sizeof(golden_ping)) == 0);
	cr_assert_eq(wire_decode(&M, golden_ping, sizeof(golden_ping)), 0);
	cr_assert_eq(M.kind, WIRE_PING);
	cr_assert_eq(M.u.ping.nonce, 0x0102030405060708ull);
	cr_assert_eq(M.u.ping.wall_ms, 1700000000000ull);

	buf_clear(&B);
	cr_assert_eq(wire_encode_pong(&B, 7, 0), 0);
	cr_assert_eq(B.len, 4);
	cr_assert(memcmp(B.p, "\x93\x07\x07\x00", 4) == 0);
	cr_assert_eq(wire_decode(&M, B.p, B.len), 0);
	cr_assert_eq(M.kind, WIRE_PONG);
	cr_assert_eq(M.u.ping.nonce, 7);
	cr_assert_eq(M.u.ping.wall_ms, 0);
	assert_canonical(B.p, B.len);
}

Test(wire, bye)
{
	cr_assert_eq(wire_encode_bye(&B, WIRE_BYE_STORE), 0);
	cr_assert_eq(B.len, 3);
	cr_assert(memcmp(B.p, "\x92\x08\x03", 3) == 0);
	cr_assert_eq(wire_decode(&M, B.p, B.len), 0);
	cr_assert_eq(M.kind, WIRE_BYE);
	cr_assert_eq(M.u.bye, WIRE_BYE_STORE);
	cr_assert_str_eq(wire_bye_name(M.u.bye), "store");
	/* A code this version does not name is still a BYE. */
	buf_clear(&B);
	cr_assert_eq(wire_encode_bye(&B, 200), 0);
	cr_assert_eq(wire_decode(&M, B.p, B.len), 0);
	cr_assert_eq(M.u.bye, 200);
	cr_assert_str_eq(wire_bye_name(200), "unknown");
	buf_clear(&B);
	cr_assert_eq(wire_encode_bye(&B, WIRE_BYE_CODE_MAX + 1), CAJA_EINVAL);
	cr_assert_eq(wire_decode(&M, (const uint8_t *)"\x92\x08\xcd\x01\x00",
	    5), CAJA_EDECODE);
}

Test(wire, names)
{
	cr_assert_str_eq(wire_kind_name(WIRE_HELLO), "HELLO");
	cr_assert_str_eq(wire_kind_name(WIRE_EVENTS), "EVENTS");
	cr_assert_str_eq(wire_kind_name(WIRE_BYE), "BYE");
	cr_assert_str_eq(wire_kind_name(WIRE_NONE), "unknown");
	cr_assert_str_eq(wire_kind_name(WIRE_KIND_MAX), "unknown");
	cr_assert_str_eq(wire_kind_name(-1), "unknown");
	cr_assert_str_eq(wire_bye_name(WIRE_BYE_TIMEOUT), "timeout");
}

Test(wire, encoders_append_and_keep_what_was_there)
{
	struct vclock	bad;

	cr_assert_eq(buf_add(&B, "xy", 2), 0);
	cr_assert_eq(wire_encode_ping(&B, 1, 2), 0);
	cr_assert_eq(B.len, 6);
	cr_assert(memcmp(B.p, "xy\x93\x06\x01\x02", 6) == 0);
	vclock_init(&bad);
	vc_add(&bad, 5, 1);
	bad.e[1] = bad.e[0];		/* a duplicate device */
	bad.n = 2;
	cr_assert_eq(wire_encode_summary(&B, 1, &bad, NULL), CAJA_EINVAL);
	cr_assert_eq(B.len, 6);
	cr_assert(memcmp(B.p, "xy\x93\x06\x01\x02", 6) == 0);
	/* A buffer too small for the frame: ETOOBIG, nothing left behind. */
	buf_reset(&B);
	buf_init(&B, 4);
	cr_assert_eq(wire_encode_bye(&B, 1), 0);
	cr_assert_eq(wire_encode_bye(&B, 1), CAJA_ETOOBIG);
	cr_assert_eq(B.len, 3);
}

/* Hostile frames */

static int
dec(const void *p, size_t len)
{
	return wire_decode(&M, p, len);
}

Test(wire, every_truncation_refused)
{
	struct wire_frame	f[2];
	struct wire_range	r;
	struct vclock		vc;
	uint8_t			id[ID_LEN];
	size_t			cut, start, k;
	size_t			ends[8];
	int			nm = 0;

	id_fill(id, 4);
	vclock_init(&vc);
	vc_add(&vc, 4, 99);
	f[0].p = id;
	f[0].len = 16;
	f[1] = f[0];
	memset(&r, 0, sizeof(r));
	memcpy(r.dev, id, ID_LEN);
	r.from_seq = 3;
	r.max_count = 300;
	cr_assert_eq(wire_encode_hello(&B, id, id, &vc, &vc, "tcp://x:1"), 0);
	ends[nm++] = B.len;
	cr_assert_eq(wire_encode_summary(&B, 300, &vc, &vc), 0);
	ends[nm++] = B.len;
	cr_assert_eq(wire_encode_want(&B, &r, 1), 0);
	ends[nm++] = B.len;
	cr_assert_eq(wire_encode_events(&B, id, 70000, f, 2), 0);
	ends[nm++] = B.len;
	cr_assert_eq(wire_encode_push(&B, id, 16), 0);
	ends[nm++] = B.len;
	cr_assert_eq(wire_encode_ping(&B, 1ull << 40, 1), 0);
	ends[nm++] = B.len;
	cr_assert_eq(wire_encode_pong(&B, 0, 1ull << 40), 0);
	ends[nm++] = B.len;
	cr_assert_eq(wire_encode_bye(&B, 1), 0);
	ends[nm++] = B.len;
	start = 0;
	for (k = 0; k < (size_t)nm; k++) {
		cr_assert_eq(dec(B.p + start, ends[k] - start), 0,
		    "message %zu", k);
		cr_assert_eq(M.kind, (int)k + 1);
		for (cut = 0; cut < ends[k] - start; cut++) {
			cr_assert_neq(dec(B.p + start, cut), 0,
			    "message %zu cut at %zu accepted", k, cut);
			cr_assert_eq(M.kind, WIRE_NONE);
		}
		/* Two messages in one frame: trailing bytes. */
		if (k + 1 < (size_t)nm)
			cr_assert_eq(dec(B.p + start, ends[k + 1] - start),
			    CAJA_EDECODE);
		start = ends[k];
	}
}

Test(wire, trailing_byte_refused)
{
	uint8_t	b[sizeof(golden_ping) + 1];

	memcpy(b, golden_ping, sizeof(golden_ping));
	b[sizeof(golden_ping)] = 0x00;
	cr_assert_eq(dec(b, sizeof(b)), CAJA_EDECODE);
	cr_assert_eq(M.kind, WIRE_NONE);
	cr_assert_eq(dec(b, sizeof(golden_ping)), 0);
}

Test(wire, wrong_kinds_refused)
{
	cr_assert_eq(dec("\x92\x00\x00", 3), CAJA_EDECODE);	/* kind 0 */
	cr_assert_eq(dec("\x92\x09\x00", 3), CAJA_EDECODE);	/* kind 9 */
	cr_assert_eq(dec("\x92\xcc\xff\x00", 4), CAJA_EDECODE);
	cr_assert_eq(dec("\x92\xff\x00", 3), CAJA_EDECODE);	/* -1 */
	cr_assert_eq(dec("\x92\xa1" "a\x00", 4), CAJA_EDECODE);	/* "a" */
	cr_assert_eq(dec("\x92\xc3\x00", 3), CAJA_EDECODE);	/* true */
	cr_assert_eq(dec("\x91\x06", 2), CAJA_EDECODE);		/* no fields */
	cr_assert_eq(dec("\x90", 1), CAJA_EDECODE);
	cr_assert_eq(dec("\x06", 1), CAJA_EDECODE);		/* no array */
	cr_assert_eq(dec("\x81\xa1k\x06", 4), CAJA_EDECODE);	/* a map */
	/* PING with a field too many or too few. */
	cr_assert_eq(dec("\x94\x06\x01\x02\x03", 5), CAJA_EDECODE);
	cr_assert_eq(dec("\x92\x06\x01", 3), CAJA_EDECODE);
	cr_assert_eq(dec("\x93\x06\x01\x02", 4), 0);
	cr_assert_eq(dec("", 0), CAJA_EDECODE);
	cr_assert_eq(dec(NULL, 4), CAJA_EDECODE);
}

/* A HELLO of ours whose store is a str or a bin of len bytes. */
static int
raw_hello(int as_str, size_t len)
{
	struct codec_wr	w;
	uint8_t		id[ID_LEN + 1];

	memset(id, 0x61, sizeof(id));
	buf_clear(&B);
	codec_wr_init(&w, &B);
	codec_write_array(&w, 7);
	codec_write_uint(&w, WIRE_HELLO);
	codec_write_uint(&w, WIRE_VERSION);
	if (as_str)
		codec_write_str(&w, (const char *)id, len);
	else
		codec_write_bin(&w, id, len);
	codec_write_bin(&w, id, ID_LEN);
	codec_write_array(&w, 0);
	codec_write_array(&w, 0);
	codec_write_str(&w, "", 0);
	cr_assert_eq(codec_wr_error(&w), 0);
	return dec(B.p, B.len);
}

Test(wire, wrong_types_refused)
{
	uint8_t	b[sizeof(golden_hello)];

	/* PING: nonce as a negative int, a bool, a string, a float, nil. */
	cr_assert_eq(dec("\x93\x06\xff\x02", 4), CAJA_EDECODE);
	cr_assert_eq(dec("\x93\x06\xc2\x02", 4), CAJA_EDECODE);
	cr_assert_eq(dec("\x93\x06\xa0\x02", 4), CAJA_EDECODE);
	cr_assert_eq(dec("\x93\x06\xca\x00\x00\x00\x00\x02", 8),
	    CAJA_EDECODE);
	cr_assert_eq(dec("\x93\x06\xc0\x02", 4), CAJA_EDECODE);
	/* Not canonical: 5 as uint8, as int8; an array16 of 3. */
	cr_assert_eq(dec("\x93\x06\xcc\x05\x02", 5), CAJA_EDECODE);
	cr_assert_eq(dec("\x93\x06\xd0\x05\x02", 5), CAJA_EDECODE);
	cr_assert_eq(dec("\xdc\x00\x03\x06\x05\x02", 6), CAJA_EDECODE);
	/* PUSH of a str, not a bin; of an empty bin. */
	cr_assert_eq(dec("\x92\x05\xa1x", 4), CAJA_EDECODE);
	cr_assert_eq(dec("\x92\x05\xc4\x00", 4), CAJA_EDECODE);
	cr_assert_eq(dec("\x92\x05\xc4\x01x", 5), 0);
	cr_assert_eq(M.u.push.len, 1);

	/* HELLO: store as a str of 16, as a bin of 15; version as a str. */
	cr_assert_eq(raw_hello(0, ID_LEN), 0);
	cr_assert_eq(raw_hello(1, ID_LEN), CAJA_EDECODE);
	cr_assert_eq(raw_hello(0, ID_LEN - 1), CAJA_EDECODE);
	cr_assert_eq(raw_hello(0, ID_LEN + 1), CAJA_EDECODE);
	memcpy(b, golden_hello, sizeof(b));
	b[2] = 0xa0;
	cr_assert_eq(dec(b, sizeof(b)), CAJA_EDECODE);
	/* Endpoint as a bin; with a space; with a control character. */
	memcpy(b, golden_hello, sizeof(b));
	b[sizeof(b) - 20] = 0xc4;
	cr_assert_eq(dec(b, sizeof(b)), CAJA_EDECODE);
	memcpy(b, golden_hello, sizeof(b));
	b[sizeof(b) - 1] = ' ';
	cr_assert_eq(dec(b, sizeof(b)), CAJA_EDECODE);
	b[sizeof(b) - 1] = 0x07;
	cr_assert_eq(dec(b, sizeof(b)), CAJA_EDECODE);
	b[sizeof(b) - 1] = 0xc3;	/* not ASCII */
	cr_assert_eq(dec(b, sizeof(b)), CAJA_EDECODE);
	b[sizeof(b) - 1] = '1';
	cr_assert_eq(dec(b, sizeof(b)), 0);
	cr_assert_str_eq(M.u.hello.endpoint, "tcp://10.0.0.2:7701");
}

/* Offsets in golden_hello: its vclock's pairs start at 40 and 60. */
#define GH_PAIR0	40
#define GH_PAIR1	60

Test(wire, bad_vclocks_refused)
{
	uint8_t	b[sizeof(golden_hello)];

	memcpy(b, golden_hello, sizeof(b));
	cr_assert_eq(b[GH_PAIR0], 0x92);
	cr_assert_eq(b[GH_PAIR0 + 3], 0x22);
	cr_assert_eq(b[GH_PAIR1], 0x92);
	cr_assert_eq(b[GH_PAIR1 + 3], 0x33);
	cr_assert_eq(dec(b, sizeof(b)), 0);
	/* Unsorted: the second device below the first. */
	memset(b + GH_PAIR1 + 3, 0x21, ID_LEN);
	cr_assert_eq(dec(b, sizeof(b)), CAJA_EDECODE);
	/* Duplicate device. */
	memset(b + GH_PAIR1 + 3, 0x22, ID_LEN);
	cr_assert_eq(dec(b, sizeof(b)), CAJA_EDECODE);
	/* Seq 0. */
	memcpy(b, golden_hello, sizeof(b));
	b[GH_PAIR0 + 19] = 0x00;
	cr_assert_eq(dec(b, sizeof(b)), CAJA_EDECODE);
	/* A pair of three, a pair with a str device. */
	memcpy(b, golden_hello, sizeof(b));
	b[GH_PAIR0] = 0x93;
	cr_assert_eq(dec(b, sizeof(b)), CAJA_EDECODE);
	memcpy(b, golden_hello, sizeof(b));
	b[GH_PAIR0 + 1] = 0xd9;
	cr_assert_eq(dec(b, sizeof(b)), CAJA_EDECODE);
}

Test(wire, oversized_vclock_refused)
{
	struct codec_wr	w;
	uint8_t		id[ID_LEN];
	int		i;

	codec_wr_init(&w, &B);
	codec_write_array(&w, 4);
	codec_write_uint(&w, WIRE_SUMMARY);
	codec_write_uint(&w, 1);
	codec_write_array(&w, VCLOCK_MAX + 1);
	for (i = 0; i <= VCLOCK_MAX; i++) {
		memset(id, 0, sizeof(id));
		id[0] = (uint8_t)i;
		codec_write_array(&w, 2);
		codec_write_bin(&w, id, ID_LEN);
		codec_write_uint(&w, 1);
	}
	codec_write_array(&w, 0);
	cr_assert_eq(codec_wr_error(&w), 0);
	cr_assert_eq(dec(B.p, B.len), CAJA_ETOOBIG);
	cr_assert_eq(M.kind, WIRE_NONE);
}

/* EVENTS frame by hand: n frames of len bytes each, first_seq. */
static void
raw_events(struct buf *b, uint64_t first, uint32_t n, uint32_t len)
{
	struct codec_wr	w;
	uint8_t		id[ID_LEN], *body;
	uint32_t	i;

	body = calloc(1, len + 1);
	cr_assert_not_null(body);
	id_fill(id, 8);
	buf_clear(b);
	codec_wr_init(&w, b);
	codec_write_array(&w, 4);
	codec_write_uint(&w, WIRE_EVENTS);
	codec_write_bin(&w, id, ID_LEN);
	codec_write_uint(&w, first);
	codec_write_array(&w, n);
	for (i = 0; i < n; i++)
		codec_write_bin(&w, body, len);
	cr_assert_eq(codec_wr_error(&w), 0);
	free(body);
}

Test(wire, hostile_runs_refused)
{
	raw_events(&B, 1, WIRE_MAX_RUN, 1);
	cr_assert_eq(dec(B.p, B.len), 0);
	cr_assert_eq(M.u.events.n, WIRE_MAX_RUN);
	raw_events(&B, 1, WIRE_MAX_RUN + 1, 1);
	cr_assert_eq(dec(B.p, B.len), CAJA_ETOOBIG);
	raw_events(&B, 1, 0, 1);
	cr_assert_eq(dec(B.p, B.len), CAJA_EDECODE);
	raw_events(&B, 0, 1, 1);
	cr_assert_eq(dec(B.p, B.len), CAJA_EDECODE);
	raw_events(&B, WIRE_SEQ_MAX - 1, 2, 1);
	cr_assert_eq(dec(B.p, B.len), 0);
	raw_events(&B, WIRE_SEQ_MAX - 1, 3, 1);
	cr_assert_eq(dec(B.p, B.len), CAJA_EDECODE);
	raw_events(&B, UINT64_MAX, 1, 1);
	cr_assert_eq(dec(B.p, B.len), CAJA_EDECODE);
	raw_events(&B, 1, 1, 0);
	cr_assert_eq(dec(B.p, B.len), CAJA_EDECODE);
	raw_events(&B, 1, 1, EVENT_FRAME_MAX);
	cr_assert_eq(dec(B.p, B.len), 0);
	raw_events(&B, 1, 1, EVENT_FRAME_MAX + 1);
	cr_assert_eq(dec(B.p, B.len), CAJA_ETOOBIG);
	/* 4 MiB and a bit: refused before it is scanned. */
	raw_events(&B, 1, WIRE_MAX_FRAME / EVENT_FRAME_MAX + 1,
	    EVENT_FRAME_MAX);
	cr_assert_gt(B.len, WIRE_MAX_FRAME);
	cr_assert_eq(dec(B.p, B.len), CAJA_ETOOBIG);
	cr_assert_eq(M.kind, WIRE_NONE);
}

Test(wire, container_bombs_refused)
{
	/* Each declares 4 G elements or bytes in a handful of bytes. */
	cr_assert_neq(dec("\xdd\xff\xff\xff\xff", 5), 0);
	cr_assert_neq(dec("\xdf\xff\xff\xff\xff", 5), 0);
	cr_assert_neq(dec("\xc6\xff\xff\xff\xff", 5), 0);
	cr_assert_neq(dec("\xdb\xff\xff\xff\xff", 5), 0);
	cr_assert_neq(dec("\x94\x04\xc4\x10" "0123456789abcdef\x01"
	    "\xdd\xff\xff\xff\xff", 26), 0);
	cr_assert_neq(dec("\x92\x03\xdd\xff\xff\xff\xff", 7), 0);
	cr_assert_neq(dec("\x94\x02\x01\xdd\x7f\xff\xff\xff\x90", 9), 0);
	/* Deep nesting. */
	cr_assert_neq(dec("\x92\x06\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91"
	    "\x91\x91\x01", 15), 0);
	/* Ext types. */
	cr_assert_neq(dec("\x93\x06\xd4\x01\x01\x02", 6), 0);
	cr_assert_eq(M.kind, WIRE_NONE);
}

/*
 * Every value of every byte of valid frames: refused, or a message whose
 * encoding is exactly the changed bytes (no second encoding of anything).
 * A HELLO of another version is the documented exception.
 */
static size_t
flip_all(const uint8_t *msg, size_t len)
{
	uint8_t	*b;
	size_t	 i, v, accepted = 0;

	b = malloc(len);
	cr_assert_not_null(b);
	memcpy(b, msg, len);
	for (i = 0; i < len; i++) {
		for (v = 0; v < 256; v++) {
			b[i] = (uint8_t)v;
			if (wire_decode(&M, b, len) != 0) {
				cr_assert_eq(M.kind, WIRE_NONE);
				continue;
			}
			accepted++;
			if (M.kind == WIRE_HELLO &&
			    M.u.hello.version != WIRE_VERSION)
				continue;
			assert_canonical(b, len);
		}
		b[i] = msg[i];
	}
	free(b);
	return accepted;
}

Test(wire, byte_changes_are_refused_or_canonical)
{
	struct wire_frame	f[2];
	struct wire_range	r[2];
	struct vclock		vc;
	uint8_t			id[ID_LEN];
	size_t			accepted;

	id_fill(id, 0x40);
	vclock_init(&vc);
	vc_add(&vc, 0x40, 1000);
	vc_add(&vc, 0x41, 3);
	f[0].p = id;
	f[0].len = 3;
	f[1].p = id;
	f[1].len = 1;
	memset(r, 0, sizeof(r));
	id_fill(r[0].dev, 1);
	id_fill(r[1].dev, 2);
	r[0].from_seq = r[1].from_seq = 200;
	r[0].max_count = r[1].max_count = 70000;

	cr_assert_eq(wire_encode_hello(&B, id, id, &vc, &vc, "ipc://s"), 0);
	accepted = flip_all(B.p, B.len);
	/* At least the id bytes, the seqs' low bits and the endpoint. */
	cr_assert_geq(accepted, 16 * 255 * 2);
	buf_clear(&B);
	cr_assert_eq(wire_encode_summary(&B, 9, &vc, NULL), 0);
	cr_assert_gt(flip_all(B.p, B.len), 0);
	buf_clear(&B);
	cr_assert_eq(wire_encode_want(&B, r, 2), 0);
	cr_assert_gt(flip_all(B.p, B.len), 0);
	buf_clear(&B);
	cr_assert_eq(wire_encode_events(&B, id, 5, f, 2), 0);
	cr_assert_gt(flip_all(B.p, B.len), 0);
	buf_clear(&B);
	cr_assert_eq(wire_encode_ping(&B, 300, 1ull << 33), 0);
	cr_assert_gt(flip_all(B.p, B.len), 0);
	buf_clear(&B);
	cr_assert_eq(wire_encode_bye(&B, 1), 0);
	cr_assert_gt(flip_all(B.p, B.len), 0);
}

/* Random messages of every kind: decode(encode(x)) == x, bytes stable. */
static uint64_t	rng_state;

static uint64_t
rnd(void)
{
	uint64_t	x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x;
}

static void
rnd_vclock(struct vclock *vc)
{
	uint8_t		id[ID_LEN];
	uint32_t	n, i, k;

	vclock_init(vc);
	n = (uint32_t)(rnd() % (VCLOCK_MAX + 1));
	for (i = 0; i < n; i++) {
		for (k = 0; k < ID_LEN; k++)
			id[k] = (uint8_t)rnd();
		cr_assert_eq(vclock_set(vc, id,
		    1 + (rnd() >> (1 + rnd() % 63)) % WIRE_SEQ_MAX), 0);
	}
}

Test(wire, random_round_trips)
{
	static struct wire_frame	f[64];
	static uint8_t			pool[4096];
	struct wire_range		r[WIRE_MAX_WANT];
	struct vclock			a, b;
	uint8_t				id[ID_LEN], id2[ID_LEN];
	uint64_t			seed = 0x9e3779b97f4a7c15ull, x, y;
	size_t				i, n, k;
	int				round, kind, rc;

	if (getenv("WIRE_SEED") != NULL)
		seed = strtoull(getenv("WIRE_SEED"), NULL, 0);
	fprintf(stderr, "wire random_round_trips seed %#llx\n",
	    (unsigned long long)seed);
	rng_state = seed;
	for (i = 0; i < sizeof(pool); i++)
		pool[i] = (uint8_t)rnd();
	for (round = 0; round < 3000; round++) {
		buf_clear(&B);
		kind = 1 + (int)(rnd() % (WIRE_KIND_MAX - 1));
		for (k = 0; k < ID_LEN; k++) {
			id[k] = (uint8_t)rnd();
			id2[k] = (uint8_t)rnd();
		}
		x = rnd() >> (rnd() % 64);
		y = rnd() >> (rnd() % 64);
		switch (kind) {
		case WIRE_HELLO:
			rnd_vclock(&a);
			rnd_vclock(&b);
			rc = wire_encode_hello(&B, id, id2, &a, &b,
			    rnd() % 2 ? "tcp://192.168.1.20:7700" : "");
			break;
		case WIRE_SUMMARY:
			rnd_vclock(&a);
			rnd_vclock(&b);
			rc = wire_encode_summary(&B, x | 1, &a, &b);
			break;
		case WIRE_WANT:
			n = 1 + rnd() % WIRE_MAX_WANT;
			for (i = 0; i < n; i++) {
				memset(r[i].dev, 0, ID_LEN);
				r[i].dev[0] = (uint8_t)(i * 2);
				r[i].dev[1] = (uint8_t)rnd();
				r[i].from_seq = 1 + x % WIRE_SEQ_MAX;
				r[i].max_count = 1 + rnd() %
				    WIRE_WANT_COUNT_MAX;
			}
			rc = wire_encode_want(&B, r, n);
			break;
		case WIRE_EVENTS:
			n = 1 + rnd() % 64;
			for (i = 0; i < n; i++) {
				k = rnd() % sizeof(pool);
				f[i].p = pool + k;
				f[i].len = 1 + rnd() % (sizeof(pool) - k);
			}
			rc = wire_encode_events(&B, id, 1 + x % (1u << 30),
			    f, n);
			break;
		case WIRE_PUSH:
			rc = wire_encode_push(&B, pool, 1 + rnd() % 4096);
			break;
		case WIRE_PING:
			rc = wire_encode_ping(&B, x, y);
			break;
		case WIRE_PONG:
			rc = wire_encode_pong(&B, x, y);
			break;
		default:
			rc = wire_encode_bye(&B, (uint32_t)(x % 256));
			break;
		}
		cr_assert_eq(rc, 0, "round %d kind %s", round,
		    wire_kind_name(kind));
		cr_assert_eq(wire_decode(&M, B.p, B.len), 0, "round %d", round);
		cr_assert_eq(M.kind, kind);
		if (kind == WIRE_HELLO) {
			cr_assert_eq(vclock_cmp(&M.u.hello.vc, &a),
			    VCLOCK_EQUAL);
			cr_assert_eq(vclock_cmp(&M.u.hello.acked, &b),
			    VCLOCK_EQUAL);
			cr_assert(memcmp(M.u.hello.dev, id2, ID_LEN) == 0);
		} else if (kind == WIRE_EVENTS) {
			cr_assert_eq(M.u.events.n, n);
			for (i = 0; i < n; i++)
				cr_assert(memcmp(M.u.events.f[i].p, f[i].p,
				    f[i].len) == 0);
		} else if (kind == WIRE_PING || kind == WIRE_PONG) {
			cr_assert_eq(M.u.ping.nonce, x);
			cr_assert_eq(M.u.ping.wall_ms, y);
		}
		assert_canonical(B.p, B.len);
	}
}
