/*
 * gen_wire_corpus: writes the seed corpus of fuzz_wire (run once, by hand;
 * the output is committed):
 *
 *   cc -std=gnu11 -I. tests/fuzz/gen_wire_corpus.c build/libproto.a \
 *       $(pkg-config --cflags --libs msgpack libsodium jansson) -o /tmp/gen
 *   /tmp/gen tests/fuzz/corpus/fuzz_wire
 *
 * One valid message of every kind (EVENTS and PUSH carry real signed
 * events of a deterministic key), a HELLO of a future version, and hostile
 * frames (names starting "bad_").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/codec.h"
#include "proto/event.h"
#include "proto/sig.h"
#include "proto/wire.h"

#define CHECK(x)	do {						\
	if ((x) != 0) {							\
		fprintf(stderr, "gen_wire_corpus: %s failed\n", #x);	\
		exit(1);						\
	}								\
} while (0)

static const char	*dir;

static void
put(const char *name, const void *p, size_t len)
{
	char	 path[1024];
	FILE	*f;

	(void)snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL || fwrite(p, 1, len, f) != len) {
		perror(path);
		exit(1);
	}
	if (fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static void
put_buf(const char *name, struct buf *b)
{
	put(name, b->p, b->len);
	buf_clear(b);
}

/* Three chained events of one device, encoded into evb, referenced by f. */
static void
make_events(struct buf *evb, struct wire_frame f[3], struct sig_key *key)
{
	static const uint8_t	payload[] = { 0x82, 0xa4, 'n', 'a', 'm', 'e',
	    0xa1, 'x', 0xa3, 'q', 't', 'y', 0x02 };
	struct event		ev;
	size_t			off[3];
	int			i;

	for (i = 0; i < 3; i++) {
		memset(&ev, 0, sizeof(ev));
		memcpy(ev.dev, key->id, ID_LEN);
		ev.seq = 1 + (uint64_t)i;
		if (i > 0)
			sig_hash(ev.prev, evb->p + off[i - 1], f[i - 1].len);
		ev.hlc = 1000 + (uint64_t)i;
		ev.type = EV_PRODUCT_UPDATED;
		memcpy(ev.entity, "coca-1l", 8);
		ev.payload = payload;
		ev.payload_len = sizeof(payload);
		off[i] = evb->len;
		CHECK(event_encode(&ev, key, evb));
		f[i].len = evb->len - off[i];
	}
	for (i = 0; i < 3; i++)
		f[i].p = evb->p + off[i];
}

int
main(int argc, char **argv)
{
	struct buf		 b, evb;
	struct vclock		 vc, ack;
	struct wire_range	 r[2];
	struct wire_frame	 f[3];
	struct sig_key		*key = NULL;
	struct codec_wr		 w;
	uint8_t			 id[ID_LEN], id2[ID_LEN], seed[SIG_SEED_LEN];
	size_t			 i;

	if (argc != 2) {
		fprintf(stderr, "usage: gen_wire_corpus DIR\n");
		return 1;
	}
	dir = argv[1];
	buf_init(&b, 0);
	buf_init(&evb, 0);
	memset(id, 0x11, ID_LEN);
	memset(id2, 0x22, ID_LEN);
	vclock_init(&vc);
	vclock_init(&ack);
	CHECK(vclock_set(&vc, id, 5));
	CHECK(vclock_set(&vc, id2, 300));
	CHECK(vclock_set(&ack, id, 3));

	CHECK(wire_encode_hello(&b, id, id2, &vc, &ack,
	    "tcp://10.0.0.2:7700"));
	put_buf("hello", &b);
	CHECK(wire_encode_hello(&b, id, id2, &vc, NULL, NULL));
	put_buf("hello_noack", &b);
	CHECK(wire_encode_summary(&b, 7, &vc, &ack));
	put_buf("summary", &b);
	memset(r, 0, sizeof(r));
	memcpy(r[0].dev, id, ID_LEN);
	r[0].from_seq = 6;
	r[0].max_count = WIRE_MAX_RUN;
	memcpy(r[1].dev, id2, ID_LEN);
	r[1].from_seq = 1;
	r[1].max_count = 70000;
	CHECK(wire_encode_want(&b, r, 2));
	put_buf("want", &b);

	CHECK(sig_init());
	memset(seed, 7, sizeof(seed));
	CHECK(sig_key_from_seed(&key, seed));
	make_events(&evb, f, key);
	CHECK(wire_encode_events(&b, key->id, 1, f, 3));
	put_buf("events", &b);
	CHECK(wire_encode_push(&b, f[2].p, f[2].len));
	put_buf("push", &b);
	CHECK(wire_encode_ping(&b, 0x0102030405060708ull, 1700000000000ull));
	put_buf("ping", &b);
	CHECK(wire_encode_pong(&b, 7, 0));
	put_buf("pong", &b);
	CHECK(wire_encode_bye(&b, WIRE_BYE_SHUTDOWN));
	put_buf("bye", &b);

	/* A HELLO of version 2: the first four elements, then anything. */
	codec_wr_init(&w, &b);
	codec_write_array(&w, 6);
	codec_write_uint(&w, WIRE_HELLO);
	codec_write_uint(&w, 2);
	codec_write_bin(&w, id, ID_LEN);
	codec_write_bin(&w, id2, ID_LEN);
	codec_write_cstr(&w, "future");
	codec_write_map(&w, 0);
	CHECK(codec_wr_error(&w));
	put_buf("hello_v2", &b);

	/* Hostile. */
	CHECK(wire_encode_hello(&b, id, id2, &vc, &ack,
	    "tcp://10.0.0.2:7700"));
	put("bad_truncated_hello", b.p, b.len - 3);
	b.p[b.len - 1] = ' ';
	put_buf("bad_endpoint_space", &b);
	CHECK(wire_encode_summary(&b, 7, &vc, NULL));
	for (i = 0; i + 2 < b.len; i++)
		if (b.p[i] == 0xc4 && b.p[i + 1] == ID_LEN &&
		    b.p[i + 2] == 0x11) {
			memset(b.p + i + 2, 0x33, ID_LEN);	/* unsorted */
			break;
		}
	put_buf("bad_unsorted_vclock", &b);
	CHECK(wire_encode_ping(&b, 1, 2));
	CHECK(buf_add(&b, "", 1));
	put_buf("bad_trailing_ping", &b);
	codec_wr_init(&w, &b);
	codec_write_array(&w, 4);
	codec_write_uint(&w, WIRE_EVENTS);
	codec_write_bin(&w, id, ID_LEN);
	codec_write_uint(&w, 1);
	codec_write_array(&w, WIRE_MAX_RUN + 1);
	for (i = 0; i <= WIRE_MAX_RUN; i++)
		codec_write_bin(&w, "x", 1);
	CHECK(codec_wr_error(&w));
	put_buf("bad_run_1025", &b);
	put("bad_bomb_array32", "\xdd\xff\xff\xff\xff", 5);
	put("bad_bomb_map32", "\xdf\xff\xff\xff\xff", 5);
	put("bad_bomb_bin32", "\x92\x05\xc6\xff\xff\xff\xff", 7);
	put("bad_events_bomb", "\x94\x04\xc4\x10" "0123456789abcdef"
	    "\x01\xdd\xff\xff\xff\xff", 26);
	put("bad_kind9", "\x92\x09\x00", 3);
	put("bad_noncanonical_ping", "\x93\x06\xcc\x05\x02", 5);
	put("bad_float_ping", "\x93\x06\xca\x00\x00\x00\x00\x02", 8);
	put("bad_deep", "\x92\x06\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91"
	    "\x91\x91\x01", 15);

	buf_reset(&b);
	buf_reset(&evb);
	sig_key_destroy(&key);
	return 0;
}
