/*
 * event: the signed, hash-chained business fact and its wire form.
 *
 * Wire form (canonical msgpack, DESIGN.md decisions 1-3), a fixarray of 12:
 *
 *   0 version   uint (EVENT_VERSION)
 *   1 store     bin 16      store id
 *   2 device    bin 16      author device id
 *   3 seq       uint        1, 2, 3, ... per device
 *   4 prev      bin 32      event id of (device, seq-1); zeros for seq 1
 *   5 hlc       uint        hybrid logical clock (proto/hlc.h)
 *   6 ctx       array of [bin 16, uint] pairs, sorted by device: the
 *               author's vector clock entries (other devices only) that
 *               grew since its previous event (delta causal context)
 *   7 type      uint        enum event_type
 *   8 entity    str <= EVENT_ENTITY_MAX: the entity the event is about
 *   9 payload   bin         canonical msgpack map, only the changed fields
 *  10 state     bin 32      BLAKE2b-256 of the author's full entity state
 *                           after the event (zeros where none)
 *  11 sig       bin 64      Ed25519 over bytes [0, offset of field 11)
 *
 * The event id is BLAKE2b-256 of the whole frame. Decoding is zero-copy:
 * pointers in struct event point into the decoded buffer and are valid as
 * long as it is. Pure; any thread.
 */
#ifndef CAJA_EVENT_H
#define CAJA_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "proto/buf.h"
#include "proto/err.h"
#include "proto/ids.h"
#include "proto/sig.h"
#include "proto/vclock.h"

#define EVENT_VERSION		1
#define EVENT_ENTITY_MAX	64
#define EVENT_PAYLOAD_MAX	(32 * 1024)
#define EVENT_FRAME_MAX		(EVENT_PAYLOAD_MAX + 4096)

enum event_type {
	EV_NONE = 0,
	EV_DEVICE_ENROLLED,	/* identity: a device's first event */
	EV_DEVICE_INVITED,	/* identity: admin authorises an invite key */
	EV_DEVICE_REVOKED,	/* identity: admin revokes a device */
	EV_PRODUCT_UPDATED,
	EV_PRICE_CHANGED,
	EV_STOCK_RECEIVED,
	EV_STOCK_ADJUSTED,
	EV_SALE_CREATED,
	EV_SALE_VOIDED,
	EV_CUSTOMER_UPDATED,
	EV_DEBT_PAYMENT_ADDED,
	EV_NOTE_EDITED,
	EV_CONFLICT_RESOLVED,
	EV_TYPE_MAX
};

struct event {
	uint8_t		 store[ID_LEN];
	uint8_t		 dev[ID_LEN];
	uint64_t	 seq;
	uint8_t		 prev[HASH_LEN];
	uint64_t	 hlc;
	struct vclock	 ctx;		/* delta causal context, as encoded */
	uint8_t		 type;
	char		 entity[EVENT_ENTITY_MAX + 1];
	const uint8_t	*payload;
	size_t		 payload_len;
	uint8_t		 state[HASH_LEN];
	uint8_t		 sig[SIG_LEN];
	/* Set by event_decode() and event_encode(). */
	const uint8_t	*frame;
	size_t		 frame_len;
	size_t		 signed_len;	/* bytes covered by sig */
};

/*
 * Encodes ev (all fields but sig and frame), signs with key and appends the
 * frame to out. On success ev->sig, ev->frame (into out->p: valid until out
 * changes), frame_len and signed_len are set. key NULL: a trial encoding
 * with a zero signature (no Ed25519 work), for a frame that is never
 * stored nor sent.
 */
int	event_encode(struct event *ev, const struct sig_key *key,
	    struct buf *out) CAJA_WUR;
/*
 * Scans and decodes exactly len bytes (<= EVENT_FRAME_MAX). Refuses, with
 * CAJA_EDECODE / CAJA_ETOOBIG: non-canonical msgpack (so one event has one
 * encoding and one id), a version other than EVENT_VERSION, bins of the
 * wrong length, seq 0, a ctx that is not strictly sorted by device, holds
 * seq 0, the author's own device or more than VCLOCK_MAX entries, a type
 * outside (EV_NONE, EV_TYPE_MAX), an entity that is empty, longer than
 * EVENT_ENTITY_MAX, not UTF-8 or holds control characters, a payload that
 * is not one canonical msgpack map of at most EVENT_PAYLOAD_MAX bytes, and
 * trailing bytes. The payload's fields are schema_decode()'s business.
 * event_encode() refuses (CAJA_EINVAL) what event_decode() would.
 */
int	event_decode(struct event *ev, const uint8_t *frame, size_t len)
	    CAJA_WUR;
/*
 * event_decode() of bytes that event_decode() accepted before (decoding
 * the same frame again, e.g. in a later pass over a batch): the same
 * result without the canonical scans, which are most of its cost. Never
 * for bytes that have not passed event_decode().
 */
int	event_decode_again(struct event *ev, const uint8_t *frame,
	    size_t len) CAJA_WUR;
/* Verifies ev->sig over the exact received bytes. 0 or CAJA_ESIG. */
int	event_verify(const struct event *ev, const uint8_t pk[SIG_PK_LEN])
	    CAJA_WUR;
/* BLAKE2b-256 of the frame. */
void	event_id(const struct event *ev, uint8_t out[HASH_LEN]);

/* "SaleCreated" etc.; NULL for an unknown type. */
const char	*event_type_name(int type);
/* EV_NONE when unknown. */
int		 event_type_from_name(const char *);

#endif
