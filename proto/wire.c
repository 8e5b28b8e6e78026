/*
 * wire: the peer-to-peer messages of LAN replication.
 *
 * The decoder trusts nothing: the frame is bounded by WIRE_MAX_FRAME, then
 * scanned in canonical mode (bounded containers, no floats, no nil, no
 * trailing bytes, smallest encodings) before the first field is read, and
 * then every field is checked against its own limit. The encoders apply
 * the same checks to their arguments, so that a frame we send is a frame
 * the peer accepts; the tests and the fuzz target hold both to
 * decode(encode(x)) == x and encode(decode(b)) == b.
 */
#include <string.h>

#include "proto/codec.h"
#include "proto/event.h"
#include "proto/wire.h"

/* Elements of each kind's top-level array, the kind included. */
#define HELLO_FIELDS	7
#define HELLO_FIXED	4	/* kept by every protocol version */
#define SUMMARY_FIELDS	4
#define WANT_FIELDS	2
#define RANGE_FIELDS	3
#define EVENTS_FIELDS	4
#define PUSH_FIELDS	2
#define PING_FIELDS	3
#define BYE_FIELDS	2

_Static_assert(WIRE_MAX_RUN + 8 < CODEC_MAX_ITEMS,
    "an EVENTS run must fit the scanner's item limit");
_Static_assert(2 * (1 + 3 * VCLOCK_MAX) + 8 < CODEC_MAX_ITEMS,
    "a HELLO must fit the scanner's item limit");
_Static_assert(1 + WIRE_MAX_WANT * (1 + RANGE_FIELDS) + 4 < CODEC_MAX_ITEMS,
    "a WANT must fit the scanner's item limit");
_Static_assert(EVENT_FRAME_MAX <= WIRE_MAX_FRAME - WIRE_EVENTS_HDR_MAX -
    WIRE_BIN_HDR_MAX, "one event must fit a frame");

static const char *const kind_names[WIRE_KIND_MAX] = {
	[WIRE_HELLO] = "HELLO",
	[WIRE_SUMMARY] = "SUMMARY",
	[WIRE_WANT] = "WANT",
	[WIRE_EVENTS] = "EVENTS",
	[WIRE_PUSH] = "PUSH",
	[WIRE_PING] = "PING",
	[WIRE_PONG] = "PONG",
	[WIRE_BYE] = "BYE",
};

static const char *const bye_names[WIRE_BYE_MAX] = {
	[WIRE_BYE_NONE] = "none",
	[WIRE_BYE_SHUTDOWN] = "shutdown",
	[WIRE_BYE_VERSION] = "version",
	[WIRE_BYE_STORE] = "store",
	[WIRE_BYE_DEVICE] = "device",
	[WIRE_BYE_SELF] = "self",
	[WIRE_BYE_DUPLICATE] = "duplicate",
	[WIRE_BYE_PROTOCOL] = "protocol",
	[WIRE_BYE_TIMEOUT] = "timeout",
};

const char *
wire_kind_name(int kind)
{
	if (kind <= WIRE_NONE || kind >= WIRE_KIND_MAX)
		return "unknown";
	return kind_names[kind];
}

const char *
wire_bye_name(uint32_t reason)
{
	if (reason >= WIRE_BYE_MAX)
		return "unknown";
	return bye_names[reason];
}

/* Field checks, shared by the decoder and the encoders. */

static int
seq_ok(uint64_t seq)
{
	return seq >= 1 && seq <= WIRE_SEQ_MAX;
}

/* 0, CAJA_ETOOBIG or CAJA_EINVAL (the caller maps it to its error). */
static int
vclock_check(const struct vclock *vc)
{
	uint32_t	i;

	if (vc->n > VCLOCK_MAX)
		return CAJA_ETOOBIG;
	for (i = 0; i < vc->n; i++) {
		if (!seq_ok(vc->e[i].seq))
			return CAJA_EINVAL;
		if (i > 0 && memcmp(vc->e[i - 1].dev, vc->e[i].dev,
		    ID_LEN) >= 0)
			return CAJA_EINVAL;
	}
	return 0;
}

/* Printable ASCII without space: an endpoint is safe to log as it is. */
static int
endpoint_ok(const char *s, size_t len)
{
	size_t	i;

	if (len > WIRE_ENDPOINT_MAX)
		return CAJA_ETOOBIG;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return CAJA_EINVAL;
	return 0;
}

static int
frame_ok(const uint8_t *p, size_t len)
{
	if (len > EVENT_FRAME_MAX)
		return CAJA_ETOOBIG;
	if (len == 0 || p == NULL)
		return CAJA_EINVAL;
	return 0;
}

static int
range_ok(const struct wire_range *r)
{
	if (!seq_ok(r->from_seq))
		return CAJA_EINVAL;
	if (r->max_count < 1 || r->max_count > WIRE_WANT_COUNT_MAX)
		return CAJA_EINVAL;
	return 0;
}

/* The decoder reports bad arguments of the peer as bad bytes. */
static int
as_decode(int rc)
{
	return rc == CAJA_EINVAL ? CAJA_EDECODE : rc;
}

/* Decoder */

static int
rd_vclock(struct codec_rd *rd, struct vclock *vc)
{
	uint32_t	n, k, i;

	vc->n = 0;
	if (codec_read_array(rd, &n) != 0)
		return CAJA_EDECODE;
	if (n > VCLOCK_MAX)
		return CAJA_ETOOBIG;
	for (i = 0; i < n; i++) {
		if (codec_read_array(rd, &k) != 0 || k != 2)
			return CAJA_EDECODE;
		if (codec_read_fixbin(rd, vc->e[i].dev, ID_LEN) != 0 ||
		    codec_read_uint(rd, &vc->e[i].seq) != 0)
			return CAJA_EDECODE;
	}
	vc->n = n;
	return as_decode(vclock_check(vc));
}

static int
rd_frame(struct codec_rd *rd, struct wire_frame *f)
{
	const uint8_t	*p;
	uint32_t	 len;

	if (codec_read_bin(rd, &p, &len) != 0)
		return CAJA_EDECODE;
	f->p = p;
	f->len = len;
	return as_decode(frame_ok(p, len));
}

static int
dec_hello(struct codec_rd *rd, uint32_t n, struct wire_hello *h)
{
	const char	*s;
	uint32_t	 slen;
	int		 rc;

	if (n < HELLO_FIXED)
		return CAJA_EDECODE;
	if (codec_read_uint(rd, &h->version) != 0 || h->version == 0)
		return CAJA_EDECODE;
	if (codec_read_fixbin(rd, h->store, ID_LEN) != 0 ||
	    codec_read_fixbin(rd, h->dev, ID_LEN) != 0)
		return CAJA_EDECODE;
	h->vc.n = 0;
	h->acked.n = 0;
	h->endpoint[0] = '\0';
	if (h->version != WIRE_VERSION) {
		/* The scan vouched for the rest; the caller says BYE. */
		rd->p = rd->end;
		return 0;
	}
	if (n != HELLO_FIELDS)
		return CAJA_EDECODE;
	if ((rc = rd_vclock(rd, &h->vc)) != 0 ||
	    (rc = rd_vclock(rd, &h->acked)) != 0)
		return rc;
	if (codec_read_str(rd, &s, &slen) != 0)
		return CAJA_EDECODE;
	if ((rc = endpoint_ok(s, slen)) != 0)
		return as_decode(rc);
	memcpy(h->endpoint, s, slen);
	h->endpoint[slen] = '\0';
	return 0;
}

static int
dec_summary(struct codec_rd *rd, uint32_t n, struct wire_summary *s)
{
	int	rc;

	if (n != SUMMARY_FIELDS)
		return CAJA_EDECODE;
	if (codec_read_uint(rd, &s->seq) != 0 || s->seq == 0)
		return CAJA_EDECODE;
	if ((rc = rd_vclock(rd, &s->delta)) != 0 ||
	    (rc = rd_vclock(rd, &s->acked)) != 0)
		return rc;
	return 0;
}

static int
dec_want(struct codec_rd *rd, uint32_t n, struct wire_want *w)
{
	struct wire_range	*r;
	uint32_t		 cnt, k, i;

	w->n = 0;
	if (n != WANT_FIELDS)
		return CAJA_EDECODE;
	if (codec_read_array(rd, &cnt) != 0 || cnt == 0)
		return CAJA_EDECODE;
	if (cnt > WIRE_MAX_WANT)
		return CAJA_ETOOBIG;
	for (i = 0; i < cnt; i++) {
		r = &w->r[i];
		if (codec_read_array(rd, &k) != 0 || k != RANGE_FIELDS)
			return CAJA_EDECODE;
		if (codec_read_fixbin(rd, r->dev, ID_LEN) != 0 ||
		    codec_read_uint(rd, &r->from_seq) != 0 ||
		    codec_read_uint(rd, &r->max_count) != 0)
			return CAJA_EDECODE;
		if (range_ok(r) != 0)
			return CAJA_EDECODE;
		if (i > 0 && memcmp(w->r[i - 1].dev, r->dev, ID_LEN) >= 0)
			return CAJA_EDECODE;
	}
	w->n = cnt;
	return 0;
}

static int
dec_events(struct codec_rd *rd, uint32_t n, struct wire_events *e)
{
	uint32_t	cnt, i;
	int		rc;

	e->n = 0;
	if (n != EVENTS_FIELDS)
		return CAJA_EDECODE;
	if (codec_read_fixbin(rd, e->dev, ID_LEN) != 0 ||
	    codec_read_uint(rd, &e->first_seq) != 0 ||
	    !seq_ok(e->first_seq))
		return CAJA_EDECODE;
	if (codec_read_array(rd, &cnt) != 0 || cnt == 0)
		return CAJA_EDECODE;
	if (cnt > WIRE_MAX_RUN)
		return CAJA_ETOOBIG;
	if (e->first_seq > WIRE_SEQ_MAX - (cnt - 1))
		return CAJA_EDECODE;
	for (i = 0; i < cnt; i++)
		if ((rc = rd_frame(rd, &e->f[i])) != 0)
			return rc;
	e->n = cnt;
	return 0;
}

static int
dec_ping(struct codec_rd *rd, uint32_t n, struct wire_ping *p)
{
	if (n != PING_FIELDS)
		return CAJA_EDECODE;
	if (codec_read_uint(rd, &p->nonce) != 0 ||
	    codec_read_uint(rd, &p->wall_ms) != 0)
		return CAJA_EDECODE;
	return 0;
}

int
wire_decode(struct wire_msg *m, const uint8_t *buf, size_t len)
{
	struct codec_rd	rd;
	uint64_t	kind, v;
	uint32_t	n;
	int		rc;

	m->kind = WIRE_NONE;
	if (buf == NULL || len == 0)
		return CAJA_EDECODE;
	if (len > WIRE_MAX_FRAME)
		return CAJA_ETOOBIG;
	if ((rc = codec_scan_flags(buf, len, CODEC_CANONICAL, NULL)) != 0)
		return rc;
	codec_rd_init(&rd, buf, len);
	if (codec_read_array(&rd, &n) != 0 || n < 2)
		return CAJA_EDECODE;
	if (codec_read_uint(&rd, &kind) != 0)
		return CAJA_EDECODE;
	switch (kind) {
	case WIRE_HELLO:
		rc = dec_hello(&rd, n, &m->u.hello);
		break;
	case WIRE_SUMMARY:
		rc = dec_summary(&rd, n, &m->u.summary);
		break;
	case WIRE_WANT:
		rc = dec_want(&rd, n, &m->u.want);
		break;
	case WIRE_EVENTS:
		rc = dec_events(&rd, n, &m->u.events);
		break;
	case WIRE_PUSH:
		if (n != PUSH_FIELDS)
			return CAJA_EDECODE;
		rc = rd_frame(&rd, &m->u.push);
		break;
	case WIRE_PING:
	case WIRE_PONG:
		rc = dec_ping(&rd, n, &m->u.ping);
		break;
	case WIRE_BYE:
		if (n != BYE_FIELDS)
			return CAJA_EDECODE;
		if (codec_read_uint(&rd, &v) != 0 || v > WIRE_BYE_CODE_MAX)
			return CAJA_EDECODE;
		m->u.bye = (uint32_t)v;
		rc = 0;
		break;
	default:
		return CAJA_EDECODE;
	}
	if (rc != 0)
		return rc;
	if (rd.p != rd.end)
		return CAJA_EDECODE;
	m->kind = (int)kind;
	return 0;
}

/* Encoders */

static void
wr_vclock(struct codec_wr *w, const struct vclock *vc)
{
	uint32_t	i;

	codec_write_array(w, vc->n);
	for (i = 0; i < vc->n; i++) {
		codec_write_array(w, 2);
		codec_write_bin(w, vc->e[i].dev, ID_LEN);
		codec_write_uint(w, vc->e[i].seq);
	}
}

/* Bytes of a canonical uint. */
static size_t
uint_len(uint64_t v)
{
	if (v <= 0x7f)
		return 1;
	if (v <= 0xff)
		return 2;
	if (v <= 0xffff)
		return 3;
	if (v <= 0xffffffffu)
		return 5;
	return 9;
}

/* Bytes of a canonical bin header for len bytes. */
static size_t
bin_hdr_len(size_t len)
{
	return len <= 0xff ? 2 : len <= 0xffff ? 3 : 5;
}

/* Bytes of a canonical array header for n elements. */
static size_t
array_hdr_len(size_t n)
{
	return n <= 15 ? 1 : n <= 0xffff ? 3 : 5;
}

/* Ends an encoder: checks the writer and the frame limit, undoes on error. */
static int
wr_finish(struct codec_wr *w, struct buf *out, size_t start)
{
	int	rc;

	if ((rc = codec_wr_error(w)) != 0)
		goto fail;
	if (out->len - start > WIRE_MAX_FRAME) {
		rc = CAJA_ETOOBIG;
		goto fail;
	}
	return 0;
fail:
	out->len = start;
	return rc;
}

int
wire_encode_hello(struct buf *out, const uint8_t store[ID_LEN],
    const uint8_t dev[ID_LEN], const struct vclock *vc,
    const struct vclock *acked, const char *endpoint)
{
	static const struct vclock	empty = { .n = 0 };
	struct codec_wr			w;
	size_t				start, elen;
	int				rc;

	if (store == NULL || dev == NULL || vc == NULL)
		return CAJA_EINVAL;
	if (acked == NULL)
		acked = &empty;
	if (endpoint == NULL)
		endpoint = "";
	elen = strnlen(endpoint, WIRE_ENDPOINT_MAX + 1);
	if ((rc = vclock_check(vc)) != 0 ||
	    (rc = vclock_check(acked)) != 0 ||
	    (rc = endpoint_ok(endpoint, elen)) != 0)
		return rc;
	start = out->len;
	codec_wr_init(&w, out);
	codec_write_array(&w, HELLO_FIELDS);
	codec_write_uint(&w, WIRE_HELLO);
	codec_write_uint(&w, WIRE_VERSION);
	codec_write_bin(&w, store, ID_LEN);
	codec_write_bin(&w, dev, ID_LEN);
	wr_vclock(&w, vc);
	wr_vclock(&w, acked);
	codec_write_str(&w, endpoint, elen);
	return wr_finish(&w, out, start);
}

int
wire_encode_summary(struct buf *out, uint64_t seq,
    const struct vclock *delta, const struct vclock *acked_delta)
{
	static const struct vclock	empty = { .n = 0 };
	struct codec_wr			w;
	size_t				start;
	int				rc;

	if (delta == NULL || seq == 0)
		return CAJA_EINVAL;
	if (acked_delta == NULL)
		acked_delta = &empty;
	if ((rc = vclock_check(delta)) != 0 ||
	    (rc = vclock_check(acked_delta)) != 0)
		return rc;
	start = out->len;
	codec_wr_init(&w, out);
	codec_write_array(&w, SUMMARY_FIELDS);
	codec_write_uint(&w, WIRE_SUMMARY);
	codec_write_uint(&w, seq);
	wr_vclock(&w, delta);
	wr_vclock(&w, acked_delta);
	return wr_finish(&w, out, start);
}

int
wire_encode_want(struct buf *out, const struct wire_range *r, size_t n)
{
	struct codec_wr	w;
	size_t		start, i;
	int		rc;

	if (n > WIRE_MAX_WANT)
		return CAJA_ETOOBIG;
	if (r == NULL || n == 0)
		return CAJA_EINVAL;
	for (i = 0; i < n; i++) {
		if ((rc = range_ok(&r[i])) != 0)
			return rc;
		if (i > 0 && memcmp(r[i - 1].dev, r[i].dev, ID_LEN) >= 0)
			return CAJA_EINVAL;
	}
	start = out->len;
	codec_wr_init(&w, out);
	codec_write_array(&w, WANT_FIELDS);
	codec_write_uint(&w, WIRE_WANT);
	codec_write_array(&w, (uint32_t)n);
	for (i = 0; i < n; i++) {
		codec_write_array(&w, RANGE_FIELDS);
		codec_write_bin(&w, r[i].dev, ID_LEN);
		codec_write_uint(&w, r[i].from_seq);
		codec_write_uint(&w, r[i].max_count);
	}
	return wr_finish(&w, out, start);
}

int
wire_encode_events(struct buf *out, const uint8_t dev[ID_LEN],
    uint64_t first_seq, const struct wire_frame *f, size_t n)
{
	struct codec_wr	w;
	size_t		start, i, total;
	int		rc;

	if (n > WIRE_MAX_RUN)
		return CAJA_ETOOBIG;
	if (dev == NULL || f == NULL || n == 0 || !seq_ok(first_seq) ||
	    first_seq > WIRE_SEQ_MAX - (n - 1))
		return CAJA_EINVAL;
	/* Size it exactly first: a run over the limit is refused uncopied. */
	total = array_hdr_len(EVENTS_FIELDS) + uint_len(WIRE_EVENTS) +
	    bin_hdr_len(ID_LEN) + ID_LEN + uint_len(first_seq) +
	    array_hdr_len(n);
	for (i = 0; i < n; i++) {
		if ((rc = frame_ok(f[i].p, f[i].len)) != 0)
			return rc;
		total += bin_hdr_len(f[i].len) + f[i].len;
	}
	if (total > WIRE_MAX_FRAME)
		return CAJA_ETOOBIG;
	start = out->len;
	codec_wr_init(&w, out);
	codec_write_array(&w, EVENTS_FIELDS);
	codec_write_uint(&w, WIRE_EVENTS);
	codec_write_bin(&w, dev, ID_LEN);
	codec_write_uint(&w, first_seq);
	codec_write_array(&w, (uint32_t)n);
	for (i = 0; i < n; i++)
		codec_write_bin(&w, f[i].p, f[i].len);
	return wr_finish(&w, out, start);
}

int
wire_encode_push(struct buf *out, const uint8_t *frame, size_t len)
{
	struct codec_wr	w;
	size_t		start;
	int		rc;

	if ((rc = frame_ok(frame, len)) != 0)
		return rc;
	start = out->len;
	codec_wr_init(&w, out);
	codec_write_array(&w, PUSH_FIELDS);
	codec_write_uint(&w, WIRE_PUSH);
	codec_write_bin(&w, frame, len);
	return wr_finish(&w, out, start);
}

static int
enc_ping(struct buf *out, int kind, uint64_t nonce, uint64_t wall_ms)
{
	struct codec_wr	w;
	size_t		start;

	start = out->len;
	codec_wr_init(&w, out);
	codec_write_array(&w, PING_FIELDS);
	codec_write_uint(&w, (uint64_t)kind);
	codec_write_uint(&w, nonce);
	codec_write_uint(&w, wall_ms);
	return wr_finish(&w, out, start);
}

int
wire_encode_ping(struct buf *out, uint64_t nonce, uint64_t wall_ms)
{
	return enc_ping(out, WIRE_PING, nonce, wall_ms);
}

int
wire_encode_pong(struct buf *out, uint64_t nonce, uint64_t wall_ms)
{
	return enc_ping(out, WIRE_PONG, nonce, wall_ms);
}

int
wire_encode_bye(struct buf *out, uint32_t reason)
{
	struct codec_wr	w;
	size_t		start;

	if (reason > WIRE_BYE_CODE_MAX)
		return CAJA_EINVAL;
	start = out->len;
	codec_wr_init(&w, out);
	codec_write_array(&w, BYE_FIELDS);
	codec_write_uint(&w, WIRE_BYE);
	codec_write_uint(&w, reason);
	return wr_finish(&w, out, start);
}

int
wire_encode(struct buf *out, const struct wire_msg *m)
{
	const struct wire_hello	*h;

	switch (m->kind) {
	case WIRE_HELLO:
		h = &m->u.hello;
		if (h->version != WIRE_VERSION)
			return CAJA_EINVAL;
		return wire_encode_hello(out, h->store, h->dev, &h->vc,
		    &h->acked, h->endpoint);
	case WIRE_SUMMARY:
		return wire_encode_summary(out, m->u.summary.seq,
		    &m->u.summary.delta, &m->u.summary.acked);
	case WIRE_WANT:
		return wire_encode_want(out, m->u.want.r, m->u.want.n);
	case WIRE_EVENTS:
		return wire_encode_events(out, m->u.events.dev,
		    m->u.events.first_seq, m->u.events.f, m->u.events.n);
	case WIRE_PUSH:
		return wire_encode_push(out, m->u.push.p, m->u.push.len);
	case WIRE_PING:
		return wire_encode_ping(out, m->u.ping.nonce,
		    m->u.ping.wall_ms);
	case WIRE_PONG:
		return wire_encode_pong(out, m->u.ping.nonce,
		    m->u.ping.wall_ms);
	case WIRE_BYE:
		return wire_encode_bye(out, m->u.bye);
	default:
		return CAJA_EINVAL;
	}
}
