/*
 * rogue_peer: an enrolled device that misbehaves on the LAN (integration
 * tests: tests/integ/lan_malformed.sh).
 *
 * It loads an enrolled data dir's device key (store_open read-write, so no
 * cajad may run on that dir), converts it to Curve25519 as cajad does
 * (crypto_sign_ed25519_{pk,sk}_to_curve25519), connects a ZeroMQ DEALER
 * with CURVE to a target agent whose Ed25519 public key it is given (or
 * finds in its own store), says a valid HELLO and then sends the attacks
 * named on the command line, each followed by a PING whose PONG proves
 * that the target read past it on the same session.
 *
 * usage: rogue_peer --dir DIR --connect tcp://IP:PORT
 *            (--server-pk HEX | --server-device ID) [--foreign-device ID]
 *            [--listen tcp://IP:PORT] [--wait-ms N] [--no-hello]
 *            [--after CMD] [--random-key] ATTACK...
 *
 * --random-key: CURVE with a fresh key that no store enrolled instead of
 * the device key (the handshake must be refused: exit 3).
 *
 * --after CMD: run CMD (sh -c) after each attack's PING was answered or
 * timed out, with ROGUE_ATTACK set to the attack's name (the test reads
 * the target's counters there).
 *
 * cajad sends nothing back on the connection a peer dialled (peer.h: each
 * direction is its own connection): to get the target's HELLO and PONGs,
 * give --listen; the HELLO then names that endpoint, the target dials it
 * (a ROUTER, CURVE server with our transport key) and the PONGs prove that
 * the target read past each attack. Without --listen, "pong ... no" is
 * expected. The target's transport key is the store key for the admin
 * device (the store's first device), else the device key: give the right
 * Ed25519 public key as --server-pk (--server-device looks up a device
 * key in our store).
 *
 * Attacks (frames are one ZeroMQ message each, as proto/wire.h says):
 *   hello           a valid HELLO (sent first anyway unless --no-hello)
 *   ping            a valid PING
 *   garbage         256 random bytes
 *   flood           64 garbage frames of 64 bytes in a row
 *   truncated       a valid SUMMARY cut in the middle
 *   trailing        a valid PING followed by one extra byte
 *   noncanonical    a PING whose nonce is a uint64 where a fixint fits
 *   unknown-kind    [99]
 *   bomb            array32 declaring 2^32-1 elements, nothing after it
 *   bomb-nested     EVENTS whose run declares 2^32-1 frames
 *   bomb-map        map32 declaring 2^32-1 pairs inside a HELLO's slot
 *   oversized       WIRE_MAX_FRAME + 1 bytes (ZMQ_MAXMSGSIZE: the target's
 *                   ZeroMQ drops the connection; we reconnect)
 *   events-badsig   EVENTS: 3 new events of ours, the first one's signature
 *                   flipped (so no event of the run is valid: the rogue
 *                   holds the real key, and what it signs is genuine)
 *   events-tampered EVENTS: 3 new events, the first one's HLC altered
 *                   after signing
 *   events-badlink  EVENTS: 2 new events, well signed, the first one's
 *                   prev not the event the target holds before it
 *   events-wrongkey EVENTS: 2 new events of ours signed with a random key
 *   events-mislabel EVENTS announcing our device carrying another
 *                   device's (well-signed by us) event
 *   push-badsig     PUSH of a new event of ours with a flipped signature
 *   push-foreign    PUSH of the next event of another device (the
 *                   --foreign-device, else any device that is neither us
 *                   nor the target) signed with our key
 *   push-valid      PUSH of a correct new event of ours (a control: the
 *                   target must accept it)
 *
 * "New events of ours" continue our own chain from our store's head: seq
 * head+1.., prev linked, HLC after the head's, same type, entity and
 * payload as our last event (make sure it is a business event, e.g. a
 * ProductUpdated), an empty causal context.
 *
 * Output, stdout, one line each: "sent ATTACK BYTES", "recv KIND" for what
 * the target sends, "pong ATTACK yes|no", "event ID DEV SEQ" for the
 * control event, "monitor EVENT" for connection events; last a JSON line
 * {"handshake":"ok"|"failed"|"none","disconnects":N,"pongs":N,
 *  "attacks":N,"bad_pongs":[...]}.
 * Exit: 0 done (whatever the target did); 1 usage; 2 setup failed; 3 the
 * CURVE handshake never succeeded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "proto/buf.h"
#include "proto/codec.h"
#include "proto/event.h"
#include "proto/ids.h"
#include "proto/sig.h"
#include "proto/vclock.h"
#include "proto/wire.h"
#include "store/store.h"

#define ROGUE_MON_EP	"inproc://rogue-monitor"
#define ROGUE_MAX_NEW	4

struct rogue {
	struct store		*st;
	const struct sig_key	*key;
	struct store_ids	 ids;
	struct vclock		 vc;
	uint8_t			 server_pk[SIG_PK_LEN];
	uint8_t			 server_dev[ID_LEN];
	uint8_t			 foreign_dev[ID_LEN];
	int			 have_foreign;
	void			*ctx;
	void			*sock;		/* DEALER to the target */
	void			*rsock;		/* ROUTER it dials back */
	void			*mon;
	int			 handshakes;
	int			 auth_failures;
	int			 disconnects;
	int			 pongs;
	uint64_t		 nonce;
	int			 wait_ms;
	/* our last event and the chain continued from it */
	uint8_t			*last;		/* malloc'd copy */
	size_t			 last_len;
	/* another device's last event */
	uint8_t			*flast;
	size_t			 flast_len;
	char			 bad_pongs[1024];
	const char		*listen;	/* "" when none */
};

static uint64_t
mono_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t
wall_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
hexid(char out[ID_HEX], const uint8_t id[ID_LEN])
{
	ids_hex(out, id, ID_LEN);
}

static const char *
mon_name(uint16_t ev)
{
	switch (ev) {
	case ZMQ_EVENT_CONNECTED:
		return "connected";
	case ZMQ_EVENT_CONNECT_DELAYED:
		return "connect_delayed";
	case ZMQ_EVENT_CONNECT_RETRIED:
		return "connect_retried";
	case ZMQ_EVENT_CLOSED:
		return "closed";
	case ZMQ_EVENT_DISCONNECTED:
		return "disconnected";
	case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
		return "handshake_succeeded";
	case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
		return "handshake_failed_auth";
	case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
		return "handshake_failed_protocol";
	case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
		return "handshake_failed";
	default:
		return NULL;
	}
}

/* Reads every pending monitor event. */
static void
drain_monitor(struct rogue *r)
{
	zmq_msg_t	 m;
	uint16_t	 ev;
	const char	*name;

	for (;;) {
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, r->mon, ZMQ_DONTWAIT) == -1) {
			zmq_msg_close(&m);
			return;
		}
		ev = 0;
		if (zmq_msg_size(&m) >= 2)
			memcpy(&ev, zmq_msg_data(&m), 2);
		zmq_msg_close(&m);
		/* second frame: the endpoint */
		zmq_msg_init(&m);
		(void)zmq_msg_recv(&m, r->mon, 0);
		zmq_msg_close(&m);
		if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
			r->handshakes++;
		else if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ||
		    ev == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
		    ev == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
			r->auth_failures++;
		else if (ev == ZMQ_EVENT_DISCONNECTED)
			r->disconnects++;
		if ((name = mon_name(ev)) != NULL &&
		    ev != ZMQ_EVENT_CONNECT_RETRIED &&
		    ev != ZMQ_EVENT_CONNECT_DELAYED)
			printf("monitor %s\n", name);
	}
}

/*
 * Receives for up to ms; returns 1 when a PONG with nonce arrived (0: look
 * for none, just drain).
 */
/* Reads one message (all its parts) from s; the last part is decoded. */
static int
recv_one(void *s, int *got, uint64_t nonce)
{
	static struct wire_msg	wm;
	zmq_msg_t		m;
	int			more;

	zmq_msg_init(&m);
	if (zmq_msg_recv(&m, s, ZMQ_DONTWAIT) == -1) {
		zmq_msg_close(&m);
		return 0;
	}
	while ((more = zmq_msg_more(&m))) {
		zmq_msg_close(&m);
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, s, 0) == -1) {
			zmq_msg_close(&m);
			return 1;
		}
	}
	if (wire_decode(&wm, zmq_msg_data(&m), zmq_msg_size(&m)) != 0)
		printf("recv undecodable %zu bytes\n", zmq_msg_size(&m));
	else {
		if (wm.kind == WIRE_BYE)
			printf("recv BYE %s\n", wire_bye_name(wm.u.bye));
		else if (wm.kind != WIRE_EVENTS && wm.kind != WIRE_PUSH &&
		    wm.kind != WIRE_PING)
			printf("recv %s\n", wire_kind_name(wm.kind));
		if (wm.kind == WIRE_PONG && nonce != 0 &&
		    wm.u.ping.nonce == nonce)
			*got = 1;
	}
	zmq_msg_close(&m);
	return 1;
}

/*
 * Receives for up to ms (from the DEALER, and from the ROUTER the target
 * dials back); returns 1 when a PONG with nonce arrived (0: look for
 * none, just drain).
 */
static int
recv_for(struct rogue *r, int ms, uint64_t nonce)
{
	zmq_pollitem_t		pi[3];
	uint64_t		end = mono_ms() + (uint64_t)ms, now;
	int			got = 0, n;

	while ((now = mono_ms()) < end) {
		n = 0;
		pi[n].socket = r->mon;
		pi[n++].events = ZMQ_POLLIN;
		pi[n].socket = r->sock;
		pi[n++].events = ZMQ_POLLIN;
		if (r->rsock != NULL) {
			pi[n].socket = r->rsock;
			pi[n++].events = ZMQ_POLLIN;
		}
		if (zmq_poll(pi, n, (long)(end - now)) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pi[0].revents & ZMQ_POLLIN)
			drain_monitor(r);
		if (pi[1].revents & ZMQ_POLLIN)
			while (recv_one(r->sock, &got, nonce))
				;
		if (n > 2 && (pi[2].revents & ZMQ_POLLIN))
			while (recv_one(r->rsock, &got, nonce))
				;
		if (got)
			return 1;
	}
	return got;
}

static int
send_bytes(struct rogue *r, const char *what, const void *p, size_t len)
{
	if (zmq_send(r->sock, p, len, 0) == -1) {
		printf("send %s failed: %s\n", what, zmq_strerror(errno));
		return -1;
	}
	printf("sent %s %zu\n", what, len);
	fflush(stdout);
	return 0;
}

static int
send_buf(struct rogue *r, const char *what, struct buf *b)
{
	return send_bytes(r, what, b->p, b->len);
}

static int
send_hello(struct rogue *r)
{
	struct buf	b;
	int		rc;

	buf_init(&b, 0);
	if (wire_encode_hello(&b, r->ids.store_id, r->ids.device_id, &r->vc,
	    NULL, r->listen) != 0) {
		buf_reset(&b);
		return -1;
	}
	rc = send_buf(r, "hello", &b);
	buf_reset(&b);
	return rc;
}

/* A PING after an attack; its PONG says the session still reads. */
static int
ping_after(struct rogue *r, const char *what)
{
	struct buf	b;
	int		got;
	size_t		n;

	buf_init(&b, 0);
	r->nonce++;
	if (wire_encode_ping(&b, r->nonce, wall_ms()) != 0) {
		buf_reset(&b);
		return -1;
	}
	if (zmq_send(r->sock, b.p, b.len, 0) == -1) {
		buf_reset(&b);
		return -1;
	}
	buf_reset(&b);
	got = recv_for(r, r->wait_ms, r->nonce);
	printf("pong %s %s\n", what, got ? "yes" : "no");
	fflush(stdout);
	if (got)
		r->pongs++;
	else {
		n = strlen(r->bad_pongs);
		snprintf(r->bad_pongs + n, sizeof(r->bad_pongs) - n, "%s\"%s\"",
		    n ? "," : "", what);
	}
	return got;
}

/* Copies our own (or dev's) last event out of the store. */
struct copy_arg {
	uint8_t	*p;
	size_t	 len;
};

static int
copy_frame(void *arg, const uint8_t *p, size_t len)
{
	struct copy_arg	*c = arg;

	free(c->p);
	if ((c->p = malloc(len)) == NULL)
		return CAJA_ENOMEM;
	memcpy(c->p, p, len);
	c->len = len;
	return 0;
}

static int
last_event_of(struct rogue *r, const uint8_t dev[ID_LEN], uint8_t **p,
    size_t *len)
{
	struct vclock	since = r->vc;
	struct copy_arg	c = { NULL, 0 };
	uint64_t	head = vclock_get(&r->vc, dev);
	size_t		i;
	int		rc;

	if (head == 0)
		return CAJA_ENOTFOUND;
	/* Every other device at its head: only dev's last event is past. */
	for (i = 0; i < since.n; i++)
		if (memcmp(since.e[i].dev, dev, ID_LEN) == 0)
			since.e[i].seq = head - 1;
	if (head == 1) {
		struct vclock	s2;

		vclock_init(&s2);
		for (i = 0; i < since.n; i++)
			if (memcmp(since.e[i].dev, dev, ID_LEN) != 0 &&
			    vclock_set(&s2, since.e[i].dev, since.e[i].seq))
				return CAJA_ETOOBIG;
		since = s2;
	}
	rc = store_frames_since(r->st, &since, 1, copy_frame, &c);
	if (rc == 0 && c.p == NULL)
		rc = CAJA_ENOTFOUND;
	if (rc != 0) {
		free(c.p);
		return rc;
	}
	*p = c.p;
	*len = c.len;
	return 0;
}

/*
 * Appends to out (cleared first) n events continuing base's chain (base:
 * the device's last event, whose id is the first prev), signed by key.
 * Each frame's offset and length go to offs/lens.
 */
static int
make_chain_prev(const uint8_t *base, size_t base_len,
    const struct sig_key *key, size_t n, struct buf *out, size_t offs[],
    size_t lens[], int bogus_prev)
{
	struct event	ev, prev;
	uint8_t		id[HASH_LEN];
	size_t		i, before;
	int		rc;

	buf_clear(out);
	/* No reallocation while ev.payload points into out's own bytes. */
	if ((rc = buf_reserve(out, n * (base_len + 256))) != 0)
		return rc;
	if ((rc = event_decode(&prev, base, base_len)) != 0)
		return rc;
	event_id(&prev, id);
	if (bogus_prev)
		randombytes_buf(id, sizeof(id));
	for (i = 0; i < n; i++) {
		ev = prev;
		ev.seq = prev.seq + 1;
		memcpy(ev.prev, id, HASH_LEN);
		ev.hlc = prev.hlc + 1000;
		vclock_init(&ev.ctx);
		before = out->len;
		if ((rc = event_encode(&ev, key, out)) != 0)
			return rc;
		offs[i] = before;
		lens[i] = out->len - before;
		/* ev.frame points into out->p: re-decode from the copy. */
		if ((rc = event_decode(&prev, out->p + before,
		    out->len - before)) != 0)
			return rc;
		event_id(&prev, id);
	}
	return 0;
}

static int
make_chain(const uint8_t *base, size_t base_len, const struct sig_key *key,
    size_t n, struct buf *out, size_t offs[], size_t lens[])
{
	return make_chain_prev(base, base_len, key, n, out, offs, lens, 0);
}

/* Offset of the HLC's 0xcf marker in an event frame of this seq. */
static size_t
hlc_offset(uint64_t seq)
{
	size_t	seqlen;

	if (seq < 128)
		seqlen = 1;
	else if (seq < 256)
		seqlen = 2;
	else if (seq < 65536)
		seqlen = 3;
	else if (seq < 4294967296ull)
		seqlen = 5;
	else
		seqlen = 9;
	/* fixarray, version, store bin16, device bin16, seq, prev bin32 */
	return 1 + 1 + (2 + ID_LEN) + (2 + ID_LEN) + seqlen + (2 + HASH_LEN);
}

static int
send_events(struct rogue *r, const char *what, const uint8_t dev[ID_LEN],
    uint64_t first_seq, const uint8_t *base, const size_t *offs,
    const size_t *lens, size_t n)
{
	struct wire_frame	f[ROGUE_MAX_NEW];
	struct buf		b;
	size_t			i;
	int			rc;

	for (i = 0; i < n; i++) {
		f[i].p = base + offs[i];
		f[i].len = lens[i];
	}
	buf_init(&b, 0);
	if ((rc = wire_encode_events(&b, dev, first_seq, f, n)) == 0)
		rc = send_buf(r, what, &b);
	buf_reset(&b);
	return rc;
}

static int
send_push(struct rogue *r, const char *what, const uint8_t *p, size_t len)
{
	struct buf	b;
	int		rc;

	buf_init(&b, 0);
	if ((rc = wire_encode_push(&b, p, len)) == 0)
		rc = send_buf(r, what, &b);
	buf_reset(&b);
	return rc;
}

static int
attack(struct rogue *r, const char *a)
{
	struct buf	 b, chain;
	struct codec_wr	 w;
	struct sig_key	*other = NULL;
	size_t		 offs[ROGUE_MAX_NEW], lens[ROGUE_MAX_NEW];
	uint64_t	 head = vclock_get(&r->vc, r->ids.device_id);
	uint8_t		*big = NULL;
	int		 rc = -1;

	buf_init(&b, 0);
	buf_init(&chain, 0);
	if (strcmp(a, "hello") == 0) {
		rc = send_hello(r);
	} else if (strcmp(a, "ping") == 0) {
		rc = 0;		/* ping_after does it */
	} else if (strcmp(a, "garbage") == 0) {
		uint8_t	g[256];

		randombytes_buf(g, sizeof(g));
		g[0] = 0xc1;	/* never-used msgpack byte: surely invalid */
		rc = send_bytes(r, a, g, sizeof(g));
	} else if (strcmp(a, "flood") == 0) {
		uint8_t	g[64];
		int	k;

		/* more bad frames than a peer may send (peer.h's limit) */
		rc = 0;
		for (k = 0; k < 64 && rc == 0; k++) {
			randombytes_buf(g, sizeof(g));
			g[0] = 0xc1;
			rc = zmq_send(r->sock, g, sizeof(g), 0) == -1 ? -1 : 0;
		}
		printf("sent flood %d x %zu\n", k, sizeof(g));
	} else if (strcmp(a, "truncated") == 0) {
		if (wire_encode_summary(&b, 1, &r->vc, NULL) == 0)
			rc = send_bytes(r, a, b.p, b.len / 2);
	} else if (strcmp(a, "trailing") == 0) {
		if (wire_encode_ping(&b, 77, wall_ms()) == 0 &&
		    buf_add(&b, "\x00", 1) == 0)
			rc = send_buf(r, a, &b);
	} else if (strcmp(a, "noncanonical") == 0) {
		/* [6, uint64 5, uint64 wall]: 5 fits in a positive fixint */
		uint8_t	 nc[1 + 1 + 9 + 9];
		uint64_t now = wall_ms();
		int	 k;

		nc[0] = 0x93;
		nc[1] = 0x06;
		nc[2] = 0xcf;
		for (k = 0; k < 8; k++)
			nc[3 + k] = (uint8_t)(k == 7 ? 5 : 0);
		nc[11] = 0xcf;
		for (k = 0; k < 8; k++)
			nc[12 + k] = (uint8_t)(now >> (56 - 8 * k));
		rc = send_bytes(r, a, nc, sizeof(nc));
	} else if (strcmp(a, "unknown-kind") == 0) {
		uint8_t	uk[2] = { 0x91, 0x63 };

		rc = send_bytes(r, a, uk, sizeof(uk));
	} else if (strcmp(a, "bomb") == 0) {
		uint8_t	bo[5] = { 0xdd, 0xff, 0xff, 0xff, 0xff };

		rc = send_bytes(r, a, bo, sizeof(bo));
	} else if (strcmp(a, "bomb-nested") == 0) {
		/* [4, bin16 dev, 1, array32 0xffffffff ...] */
		codec_wr_init(&w, &b);
		codec_write_array(&w, 4);
		codec_write_uint(&w, WIRE_EVENTS);
		codec_write_bin(&w, r->ids.device_id, ID_LEN);
		codec_write_uint(&w, head + 1);
		codec_write_raw(&w, "\xdd\xff\xff\xff\xff\xc4\x01\x00", 8);
		if (codec_wr_error(&w) == 0)
			rc = send_buf(r, a, &b);
	} else if (strcmp(a, "bomb-map") == 0) {
		/* HELLO whose vclock slot is a map32 of 2^32-1 pairs */
		codec_wr_init(&w, &b);
		codec_write_array(&w, 7);
		codec_write_uint(&w, WIRE_HELLO);
		codec_write_uint(&w, WIRE_VERSION);
		codec_write_bin(&w, r->ids.store_id, ID_LEN);
		codec_write_bin(&w, r->ids.device_id, ID_LEN);
		codec_write_raw(&w, "\xdf\xff\xff\xff\xff\x01\x02", 7);
		if (codec_wr_error(&w) == 0)
			rc = send_buf(r, a, &b);
	} else if (strcmp(a, "oversized") == 0) {
		size_t	n = (size_t)WIRE_MAX_FRAME + 1;

		if ((big = malloc(n)) != NULL) {
			/* a PUSH header claiming a huge bin, then filler */
			memset(big, 0x61, n);
			big[0] = 0x92;
			big[1] = 0x05;
			big[2] = 0xc6;
			big[3] = (uint8_t)((n - 7) >> 24);
			big[4] = (uint8_t)((n - 7) >> 16);
			big[5] = (uint8_t)((n - 7) >> 8);
			big[6] = (uint8_t)(n - 7);
			rc = send_bytes(r, a, big, n);
		}
	} else if (strcmp(a, "events-badsig") == 0) {
		/* Nothing of the run may be valid: the FIRST event's
		 * signature is flipped (the next ones then link to an
		 * event that does not verify). */
		if (make_chain(r->last, r->last_len, r->key, 3, &chain, offs,
		    lens) == 0) {
			chain.p[offs[0] + lens[0] - 1] ^= 0x01;
			rc = send_events(r, a, r->ids.device_id, head + 1,
			    chain.p, offs, lens, 3);
		}
	} else if (strcmp(a, "events-tampered") == 0) {
		/* The first event's HLC altered after signing. */
		size_t	at;

		if (make_chain(r->last, r->last_len, r->key, 3, &chain, offs,
		    lens) == 0 && (at = hlc_offset(head + 1)) < lens[0]) {
			chain.p[offs[0] + at + 8] ^= 0x01;
			rc = send_events(r, a, r->ids.device_id, head + 1,
			    chain.p, offs, lens, 3);
		}
	} else if (strcmp(a, "events-badlink") == 0) {
		/* Well signed by the device's key, but the first event's
		 * prev is not the event the target holds before it. */
		if (make_chain_prev(r->last, r->last_len, r->key, 2, &chain,
		    offs, lens, 1) == 0)
			rc = send_events(r, a, r->ids.device_id, head + 1,
			    chain.p, offs, lens, 2);
	} else if (strcmp(a, "events-wrongkey") == 0) {
		if (sig_key_new(&other) == 0 &&
		    make_chain(r->last, r->last_len, other, 2, &chain, offs,
		    lens) == 0)
			rc = send_events(r, a, r->ids.device_id, head + 1,
			    chain.p, offs, lens, 2);
	} else if (strcmp(a, "events-mislabel") == 0) {
		if (r->flast != NULL && make_chain(r->flast, r->flast_len,
		    r->key, 1, &chain, offs, lens) == 0)
			rc = send_events(r, a, r->ids.device_id, head + 1,
			    chain.p, offs, lens, 1);
	} else if (strcmp(a, "push-badsig") == 0) {
		if (make_chain(r->last, r->last_len, r->key, 1, &chain, offs,
		    lens) == 0) {
			chain.p[lens[0] - 1] ^= 0x01;
			rc = send_push(r, a, chain.p, lens[0]);
		}
	} else if (strcmp(a, "push-foreign") == 0) {
		if (r->flast != NULL && make_chain(r->flast, r->flast_len,
		    r->key, 1, &chain, offs, lens) == 0)
			rc = send_push(r, a, chain.p, lens[0]);
	} else if (strcmp(a, "push-valid") == 0) {
		if (make_chain(r->last, r->last_len, r->key, 1, &chain, offs,
		    lens) == 0) {
			struct event	ev;
			uint8_t		id[HASH_LEN];
			char		hid[HASH_HEX], hdev[ID_HEX];

			if (event_decode(&ev, chain.p, lens[0]) == 0) {
				event_id(&ev, id);
				ids_hex(hid, id, HASH_LEN);
				hexid(hdev, ev.dev);
				printf("event %s %s %llu\n", hid, hdev,
				    (unsigned long long)ev.seq);
				rc = send_push(r, a, chain.p, lens[0]);
			}
		}
	} else {
		fprintf(stderr, "rogue_peer: unknown attack '%s'\n", a);
		rc = -2;
	}
	if (rc == -1)
		printf("attack %s could not be built\n", a);
	sig_key_destroy(&other);
	free(big);
	buf_reset(&b);
	buf_reset(&chain);
	return rc;
}

struct pick_arg {
	struct rogue	*r;
};

static int
pick_foreign(void *arg, const struct store_device *d)
{
	struct rogue	*r = ((struct pick_arg *)arg)->r;

	if (memcmp(d->id, r->ids.device_id, ID_LEN) == 0 ||
	    memcmp(d->id, r->server_dev, ID_LEN) == 0 || d->revoked ||
	    vclock_get(&r->vc, d->id) == 0)
		return 0;
	memcpy(r->foreign_dev, d->id, ID_LEN);
	r->have_foreign = 1;
	return 1;
}

static void
usage(void)
{
	fprintf(stderr, "usage: rogue_peer --dir DIR --connect tcp://IP:PORT "
	    "(--server-pk HEX | --server-device ID)\n"
	    "           [--foreign-device ID] [--listen EP] [--wait-ms N] "
	    "[--no-hello] [--after CMD] [--random-key] ATTACK...\n");
	exit(1);
}

int
main(int argc, char *argv[])
{
	static const struct option	lo[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "connect", required_argument, NULL, 'c' },
		{ "server-pk", required_argument, NULL, 'p' },
		{ "server-device", required_argument, NULL, 's' },
		{ "foreign-device", required_argument, NULL, 'f' },
		{ "wait-ms", required_argument, NULL, 'w' },
		{ "no-hello", no_argument, NULL, 'n' },
		{ "listen", required_argument, NULL, 'l' },
		{ "after", required_argument, NULL, 'a' },
		{ "random-key", no_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 }
	};
	static struct rogue	 r;
	struct store_opts	 opts;
	struct store_device	 dev;
	struct pick_arg		 pa;
	const char		*dir = NULL, *ep = NULL, *spk = NULL;
	const char		*sdev = NULL, *fdev = NULL, *after = NULL;
	uint8_t			 cpk[32], csk[32], spk_c[32];
	char			 h[ID_HEX];
	uint64_t		 end;
	int			 ch, hello = 1, i, rc, linger = 2000;
	int			 attacks = 0, random_key = 0;
	struct sig_key		*stranger = NULL;

	r.wait_ms = 2000;
	r.listen = "";
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'd': dir = optarg; break;
		case 'c': ep = optarg; break;
		case 'p': spk = optarg; break;
		case 's': sdev = optarg; break;
		case 'f': fdev = optarg; break;
		case 'w': r.wait_ms = (int)strtol(optarg, NULL, 10); break;
		case 'n': hello = 0; break;
		case 'l': r.listen = optarg; break;
		case 'a': after = optarg; break;
		case 'r': random_key = 1; break;
		default: usage();
		}
	}
	if (dir == NULL || ep == NULL || (spk == NULL && sdev == NULL))
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (sig_init() != 0 || sodium_init() < 0) {
		fprintf(stderr, "rogue_peer: libsodium\n");
		return 2;
	}
	memset(&opts, 0, sizeof(opts));
	if ((rc = store_open(&r.st, dir, &opts)) != 0) {
		fprintf(stderr, "rogue_peer: store_open %s: %s (is cajad "
		    "running on it?)\n", dir, err_str(rc));
		return 2;
	}
	store_ids(r.st, &r.ids);
	if ((r.key = store_device_key(r.st)) == NULL ||
	    store_vclock(r.st, &r.vc) != 0) {
		fprintf(stderr, "rogue_peer: no device key / vclock\n");
		return 2;
	}
	if (spk != NULL) {
		if (ids_unhex(r.server_pk, SIG_PK_LEN, spk) != 0) {
			fprintf(stderr, "rogue_peer: bad --server-pk\n");
			return 1;
		}
		sig_id_of_pk(r.server_dev, r.server_pk);
	} else {
		if (ids_unhex(r.server_dev, ID_LEN, sdev) != 0 ||
		    store_device_get(r.st, r.server_dev, &dev) != 0) {
			fprintf(stderr, "rogue_peer: --server-device %s not "
			    "enrolled in %s (full 32-digit id)\n", sdev, dir);
			return 1;
		}
		memcpy(r.server_pk, dev.pk, SIG_PK_LEN);
	}
	if (fdev != NULL) {
		if (ids_unhex(r.foreign_dev, ID_LEN, fdev) != 0) {
			fprintf(stderr, "rogue_peer: bad --foreign-device\n");
			return 1;
		}
		r.have_foreign = 1;
	} else {
		pa.r = &r;
		/* 1: found one (the walk stops); else none, or an error */
		rc = store_device_foreach(r.st, pick_foreign, &pa);
		if (rc != 0 && rc != 1)
			r.have_foreign = 0;
		if (!r.have_foreign &&
		    vclock_get(&r.vc, r.server_dev) > 0) {
			memcpy(r.foreign_dev, r.server_dev, ID_LEN);
			r.have_foreign = 1;
		}
	}
	if (last_event_of(&r, r.ids.device_id, &r.last, &r.last_len) != 0) {
		fprintf(stderr, "rogue_peer: no event of our own device\n");
		return 2;
	}
	if (r.have_foreign && last_event_of(&r, r.foreign_dev, &r.flast,
	    &r.flast_len) == 0) {
		hexid(h, r.foreign_dev);
		printf("foreign %s %llu\n", h, (unsigned long long)
		    vclock_get(&r.vc, r.foreign_dev));
	}
	hexid(h, r.ids.device_id);
	printf("device %s head %llu\n", h, (unsigned long long)
	    vclock_get(&r.vc, r.ids.device_id));

	if (random_key) {
		/* A key no store ever enrolled (the target's ZAP must
		 * refuse it unless an invite is open). */
		if (sig_key_new(&stranger) != 0) {
			fprintf(stderr, "rogue_peer: sig_key_new\n");
			return 2;
		}
		r.key = stranger;
		printf("stranger key\n");
	}
	if (crypto_sign_ed25519_pk_to_curve25519(cpk, r.key->pk) != 0 ||
	    crypto_sign_ed25519_sk_to_curve25519(csk, r.key->sk) != 0 ||
	    crypto_sign_ed25519_pk_to_curve25519(spk_c, r.server_pk) != 0) {
		fprintf(stderr, "rogue_peer: key conversion\n");
		return 2;
	}
	if ((r.ctx = zmq_ctx_new()) == NULL ||
	    (r.sock = zmq_socket(r.ctx, ZMQ_DEALER)) == NULL ||
	    zmq_setsockopt(r.sock, ZMQ_CURVE_SERVERKEY, spk_c, 32) != 0 ||
	    zmq_setsockopt(r.sock, ZMQ_CURVE_PUBLICKEY, cpk, 32) != 0 ||
	    zmq_setsockopt(r.sock, ZMQ_CURVE_SECRETKEY, csk, 32) != 0 ||
	    zmq_setsockopt(r.sock, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
	    zmq_socket_monitor(r.sock, ROGUE_MON_EP, ZMQ_EVENT_ALL) != 0 ||
	    (r.mon = zmq_socket(r.ctx, ZMQ_PAIR)) == NULL ||
	    zmq_connect(r.mon, ROGUE_MON_EP) != 0 ||
	    zmq_connect(r.sock, ep) != 0) {
		fprintf(stderr, "rogue_peer: zmq setup: %s\n",
		    zmq_strerror(errno));
		return 2;
	}
	if (r.listen[0] != '\0') {
		int	one = 1;

		/* CURVE server with our own transport key, no ZAP handler
		 * in this context: the target that dials back is let in. */
		if ((r.rsock = zmq_socket(r.ctx, ZMQ_ROUTER)) == NULL ||
		    zmq_setsockopt(r.rsock, ZMQ_CURVE_SERVER, &one,
		    sizeof(one)) != 0 ||
		    zmq_setsockopt(r.rsock, ZMQ_CURVE_SECRETKEY, csk, 32) != 0 ||
		    zmq_setsockopt(r.rsock, ZMQ_LINGER, &linger,
		    sizeof(linger)) != 0 ||
		    zmq_bind(r.rsock, r.listen) != 0) {
			fprintf(stderr, "rogue_peer: bind %s: %s\n", r.listen,
			    zmq_strerror(errno));
			return 2;
		}
	}
	/* Wait for the CURVE handshake (or its failure). */
	end = mono_ms() + (uint64_t)r.wait_ms + 3000;
	while (r.handshakes == 0 && r.auth_failures == 0 && mono_ms() < end)
		(void)recv_for(&r, 100, 0);
	if (r.handshakes == 0) {
		printf("{\"handshake\":\"%s\",\"disconnects\":%d,\"pongs\":0,"
		    "\"attacks\":0,\"bad_pongs\":[]}\n",
		    r.auth_failures ? "failed" : "none", r.disconnects);
		rc = 3;
		goto out;
	}
	if (hello) {
		if (send_hello(&r) != 0)
			return 2;
		(void)recv_for(&r, 300, 0);
		(void)ping_after(&r, "hello");
	}
	for (i = optind; i < argc; i++) {
		int	before = r.handshakes;

		rc = attack(&r, argv[i]);
		if (rc == -2) {
			rc = 1;
			goto out;
		}
		attacks++;
		if (strcmp(argv[i], "oversized") == 0) {
			/* The target's ZeroMQ drops us; wait for the
			 * reconnection, then say HELLO again. */
			end = mono_ms() + (uint64_t)r.wait_ms + 3000;
			while (r.handshakes == before && mono_ms() < end)
				(void)recv_for(&r, 100, 0);
			printf("reconnected %s\n",
			    r.handshakes > before ? "yes" : "no");
			if (r.handshakes > before && hello) {
				(void)send_hello(&r);
				(void)recv_for(&r, 300, 0);
			}
		}
		(void)ping_after(&r, argv[i]);
		if (after != NULL) {
			/* the test looks at the target between attacks */
			fflush(stdout);
			if (setenv("ROGUE_ATTACK", argv[i], 1) == 0 &&
			    system(after) != 0)
				printf("after %s: command failed\n", argv[i]);
			fflush(stdout);
		}
	}
	(void)recv_for(&r, 200, 0);
	printf("{\"handshake\":\"ok\",\"disconnects\":%d,\"pongs\":%d,"
	    "\"attacks\":%d,\"bad_pongs\":[%s]}\n", r.disconnects, r.pongs,
	    attacks, r.bad_pongs);
	rc = 0;
out:
	sodium_memzero(csk, sizeof(csk));
	if (r.sock != NULL) {
		zmq_socket_monitor(r.sock, NULL, 0);
		zmq_close(r.sock);
	}
	if (r.rsock != NULL)
		zmq_close(r.rsock);
	if (r.mon != NULL)
		zmq_close(r.mon);
	if (r.ctx != NULL)
		zmq_ctx_term(r.ctx);
	free(r.last);
	free(r.flast);
	sig_key_destroy(&stranger);
	store_close(&r.st);
	return rc;
}
