/*
 * event: the signed, hash-chained business fact and its wire form.
 *
 * Decoding demands the canonical form (codec_scan_flags CODEC_CANONICAL),
 * so that one event has exactly one encoding and hence one id.
 */
#include <string.h>

#include "proto/codec.h"
#include "proto/event.h"

#define EVENT_FIELDS	12

static const char *const type_names[EV_TYPE_MAX] = {
	[EV_DEVICE_ENROLLED] = "DeviceEnrolled",
	[EV_DEVICE_INVITED] = "DeviceInvited",
	[EV_DEVICE_REVOKED] = "DeviceRevoked",
	[EV_PRODUCT_UPDATED] = "ProductUpdated",
	[EV_PRICE_CHANGED] = "PriceChanged",
	[EV_STOCK_RECEIVED] = "StockReceived",
	[EV_STOCK_ADJUSTED] = "StockAdjusted",
	[EV_SALE_CREATED] = "SaleCreated",
	[EV_SALE_VOIDED] = "SaleVoided",
	[EV_CUSTOMER_UPDATED] = "CustomerUpdated",
	[EV_DEBT_PAYMENT_ADDED] = "DebtPaymentAdded",
	[EV_NOTE_EDITED] = "NoteEdited",
	[EV_CONFLICT_RESOLVED] = "ConflictResolved",
};

const char *
event_type_name(int type)
{
	if (type <= EV_NONE || type >= EV_TYPE_MAX)
		return NULL;
	return type_names[type];
}

int
event_type_from_name(const char *name)
{
	int	t;

	if (name == NULL)
		return EV_NONE;
	for (t = EV_NONE + 1; t < EV_TYPE_MAX; t++)
		if (strcmp(name, type_names[t]) == 0)
			return t;
	return EV_NONE;
}

/* Entity text: 1..EVENT_ENTITY_MAX bytes of UTF-8, no control characters. */
static int
entity_ok(const char *s, size_t len)
{
	size_t	i;

	if (len == 0 || len > EVENT_ENTITY_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return codec_is_utf8((const uint8_t *)s, len);
}

/* Sorted, unique, non-zero, at most VCLOCK_MAX, not the author's own. */
static int
ctx_ok(const struct vclock *ctx, const uint8_t dev[ID_LEN])
{
	uint32_t	i;

	if (ctx->n > VCLOCK_MAX)
		return 0;
	for (i = 0; i < ctx->n; i++) {
		if (ctx->e[i].seq == 0)
			return 0;
		if (memcmp(ctx->e[i].dev, dev, ID_LEN) == 0)
			return 0;
		if (i > 0 && memcmp(ctx->e[i - 1].dev, ctx->e[i].dev,
		    ID_LEN) >= 0)
			return 0;
	}
	return 1;
}

/* scan: 0 when these bytes passed this check before (event_decode_again) */
static int
payload_check(const uint8_t *p, size_t len, int scan)
{
	if (len == 0 || len > EVENT_PAYLOAD_MAX)
		return 0;
	if (!((p[0] >= 0x80 && p[0] <= 0x8f) || p[0] == 0xde || p[0] == 0xdf))
		return 0;
	return !scan || codec_scan_flags(p, len, CODEC_CANONICAL, NULL) == 0;
}

static int
payload_ok(const uint8_t *p, size_t len)
{
	return payload_check(p, len, 1);
}

int
event_encode(struct event *ev, const struct sig_key *key, struct buf *out)
{
	struct codec_wr	w;
	size_t		start, slen;
	uint32_t	i;
	int		rc;

	if (ev->type <= EV_NONE || ev->type >= EV_TYPE_MAX || ev->seq == 0)
		return CAJA_EINVAL;
	if (!entity_ok(ev->entity, strnlen(ev->entity, EVENT_ENTITY_MAX + 1)))
		return CAJA_EINVAL;
	if (!ctx_ok(&ev->ctx, ev->dev))
		return CAJA_EINVAL;
	if (ev->payload_len > EVENT_PAYLOAD_MAX)
		return CAJA_ETOOBIG;
	if (ev->payload == NULL || !payload_ok(ev->payload, ev->payload_len))
		return CAJA_EINVAL;
	start = out->len;
	codec_wr_init(&w, out);
	codec_write_array(&w, EVENT_FIELDS);
	codec_write_uint(&w, EVENT_VERSION);
	codec_write_bin(&w, ev->store, ID_LEN);
	codec_write_bin(&w, ev->dev, ID_LEN);
	codec_write_uint(&w, ev->seq);
	codec_write_bin(&w, ev->prev, HASH_LEN);
	codec_write_uint(&w, ev->hlc);
	codec_write_array(&w, ev->ctx.n);
	for (i = 0; i < ev->ctx.n; i++) {
		codec_write_array(&w, 2);
		codec_write_bin(&w, ev->ctx.e[i].dev, ID_LEN);
		codec_write_uint(&w, ev->ctx.e[i].seq);
	}
	codec_write_uint(&w, ev->type);
	codec_write_cstr(&w, ev->entity);
	codec_write_bin(&w, ev->payload, ev->payload_len);
	codec_write_bin(&w, ev->state, HASH_LEN);
	if ((rc = codec_wr_error(&w)) != 0)
		goto fail;
	slen = out->len - start;
	if (key != NULL)
		sig_sign(key, out->p + start, slen, ev->sig);
	else
		memset(ev->sig, 0, SIG_LEN);	/* a trial: never stored */
	codec_write_bin(&w, ev->sig, SIG_LEN);
	if ((rc = codec_wr_error(&w)) != 0)
		goto fail;
	if (out->len - start > EVENT_FRAME_MAX) {
		rc = CAJA_ETOOBIG;
		goto fail;
	}
	ev->frame = out->p + start;
	ev->frame_len = out->len - start;
	ev->signed_len = slen;
	return 0;
fail:
	out->len = start;
	return rc;
}

static int
decode(struct event *ev, const uint8_t *frame, size_t len, int scan)
{
	struct codec_rd	 rd;
	const char	*s;
	const uint8_t	*b;
	uint64_t	 v;
	uint32_t	 n, i, k, slen, blen;
	int		 rc;

	if (frame == NULL || len > EVENT_FRAME_MAX) {
		memset(ev, 0, sizeof(*ev));
		return frame == NULL ? CAJA_EDECODE : CAJA_ETOOBIG;
	}
	if (scan && (rc = codec_scan_flags(frame, len, CODEC_CANONICAL,
	    NULL)) != 0) {
		memset(ev, 0, sizeof(*ev));
		return rc;
	}
	/*
	 * Not a memset of the whole struct (its ctx alone is 1.6 KB, and
	 * this runs for every event received): every field is set below, and
	 * ctx entries past ctx.n are never read.
	 */
	ev->ctx.n = 0;
	ev->payload = NULL;
	ev->frame = NULL;
	codec_rd_init(&rd, frame, len);
	if (codec_read_array(&rd, &n) != 0 || n != EVENT_FIELDS)
		goto bad;
	if (codec_read_uint(&rd, &v) != 0 || v != EVENT_VERSION)
		goto bad;
	if (codec_read_fixbin(&rd, ev->store, ID_LEN) != 0 ||
	    codec_read_fixbin(&rd, ev->dev, ID_LEN) != 0)
		goto bad;
	if (codec_read_uint(&rd, &ev->seq) != 0 || ev->seq == 0)
		goto bad;
	if (codec_read_fixbin(&rd, ev->prev, HASH_LEN) != 0 ||
	    codec_read_uint(&rd, &ev->hlc) != 0)
		goto bad;
	if (codec_read_array(&rd, &n) != 0 || n > VCLOCK_MAX)
		goto bad;
	for (i = 0; i < n; i++) {
		if (codec_read_array(&rd, &k) != 0 || k != 2)
			goto bad;
		if (codec_read_fixbin(&rd, ev->ctx.e[i].dev, ID_LEN) != 0 ||
		    codec_read_uint(&rd, &ev->ctx.e[i].seq) != 0)
			goto bad;
	}
	ev->ctx.n = n;
	if (!ctx_ok(&ev->ctx, ev->dev))
		goto bad;
	if (codec_read_uint(&rd, &v) != 0 || v <= EV_NONE || v >= EV_TYPE_MAX)
		goto bad;
	ev->type = (uint8_t)v;
	if (codec_read_str(&rd, &s, &slen) != 0 || !entity_ok(s, slen))
		goto bad;
	memcpy(ev->entity, s, slen);
	ev->entity[slen] = '\0';
	if (codec_read_bin(&rd, &b, &blen) != 0 ||
	    !payload_check(b, blen, scan))
		goto bad;
	ev->payload = b;
	ev->payload_len = blen;
	if (codec_read_fixbin(&rd, ev->state, HASH_LEN) != 0)
		goto bad;
	ev->signed_len = (size_t)(rd.p - frame);
	if (codec_read_fixbin(&rd, ev->sig, SIG_LEN) != 0 || rd.p != rd.end)
		goto bad;
	ev->frame = frame;
	ev->frame_len = len;
	return 0;
bad:
	memset(ev, 0, sizeof(*ev));
	return CAJA_EDECODE;
}

int
event_decode(struct event *ev, const uint8_t *frame, size_t len)
{
	return decode(ev, frame, len, 1);
}

int
event_decode_again(struct event *ev, const uint8_t *frame, size_t len)
{
	return decode(ev, frame, len, 0);
}

int
event_verify(const struct event *ev, const uint8_t pk[SIG_PK_LEN])
{
	if (ev->frame == NULL || ev->signed_len > ev->frame_len)
		return CAJA_ESIG;
	return sig_verify(pk, ev->frame, ev->signed_len, ev->sig);
}

void
event_id(const struct event *ev, uint8_t out[HASH_LEN])
{
	sig_hash(out, ev->frame, ev->frame_len);
}
