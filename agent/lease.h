/*
 * lease: which register of a store uploads to the cloud (one at a time),
 * decided from what gossip carries. Pure: the caller passes the clocks.
 *
 * The rule. Any register configured with a cloud URL may upload; the
 * uploader is the register with the smallest device id among those that
 * reach the cloud now. No extra message is needed: the uploader renews a
 * lease that rides in the cloud-acknowledged vector clock that HELLO and
 * SUMMARY already carry (proto/wire.h), under a reserved pseudo-device id
 * (LEASE_KEY, not an id any device can have: device ids are BLAKE2b
 * hashes of keys). Its value is (tick << 24) | (0xffffff - tag): tag is
 * the first 24 bits of the holder's device id, tick grows with every
 * renewal (the holder's wall clock in tenths of a second, or the tick
 * seen + 1, whichever is larger). Acked clocks merge by pointwise maximum,
 * so the newest renewal wins and reaches every register, over any number
 * of hops; between two renewals of one tick the smaller tag wins, so that
 * a smaller holder is never hidden from a larger one that renews as often
 * (the larger one is the one that must see it and defer).
 *
 *  1. The holder renews after every successful request to the cloud (a
 *     push, a pull, or its idle poll every conf cloud_poll, 2 s).
 *  2. A holder is fresh while the lease keeps growing with its tag in it:
 *     LEASE_TTL_MS after the observer last saw a new value of that holder
 *     *by the observer's own clock* (no wall clocks are compared across
 *     registers), it has expired. The observer remembers the last
 *     LEASE_HOLDERS holders it saw, not only the current maximum: while
 *     two registers both renew, each one's renewal hides the other's in
 *     the merged clock, and the larger one must still see the smaller.
 *  3. A register defers (state "standby": no requests at all) while a
 *     holder with a smaller tag than its own is fresh. Otherwise it
 *     uploads; when it succeeds it renews, so it takes the lease from any
 *     larger holder, which then sees a smaller fresh holder and defers
 *     (after the request it has in flight).
 *  4. Failover: a holder that dies (kill -9, power, LAN loss) or stops
 *     reaching the cloud (no successful request: the cloud is down for
 *     it, it is rate-limited, hung) stops renewing; after LEASE_TTL_MS
 *     every other register with a cloud URL tries, and rule 3 leaves the
 *     smallest one that succeeds.
 * Two registers may upload at once for a moment (a lease crossing, a LAN
 * partition); pushes are idempotent by event id, so this costs bandwidth,
 * never correctness. Two devices whose ids share 24 bits would both
 * upload, harmlessly. A full acked clock (64 devices) leaves no room for
 * the lease: then every register that reaches the cloud uploads.
 *
 * Any thread; a struct lease belongs to one.
 */
#ifndef CAJA_LEASE_H
#define CAJA_LEASE_H

#include <stdint.h>

#include "proto/ids.h"

#define LEASE_TTL_MS	10000
#define LEASE_HOLDERS	8	/* holders remembered */
#define LEASE_TAG_BITS	24
#define LEASE_TAG_MASK	((1u << LEASE_TAG_BITS) - 1)
/* The pseudo-device id of the lease in acked clocks (16 bytes). */
#define LEASE_KEY	"caja/uplinklease"

struct lease_holder {
	uint32_t	tag;
	uint64_t	seen_at;	/* observer's ms of its last renewal */
};

struct lease {
	uint32_t		me;		/* our tag */
	uint64_t		value;		/* the highest value seen */
	uint64_t		grew_at;	/* observer's ms it last grew */
	uint32_t		n;
	struct lease_holder	h[LEASE_HOLDERS];
};

void		lease_init(struct lease *, const uint8_t me[ID_LEN]);
/* The first 24 bits of a device id. */
uint32_t	lease_tag(const uint8_t dev[ID_LEN]);
/* The key as a device id of a vector clock. */
const uint8_t	*lease_key(void);
/* The lease value in the (merged) acked clock, at now (observer's ms). */
void		lease_observe(struct lease *, uint64_t value, uint64_t now);
/* 1 when a holder is fresh; *tag: the smallest fresh one (the
 * uploader). */
int		lease_held(const struct lease *, uint64_t now, uint32_t *tag);
/* Rule 3: 1 when this register may make requests to the cloud now. */
int		lease_may_upload(const struct lease *, uint64_t now);
/*
 * Renewal after a successful request at wall_ms (Unix ms) and now: the
 * new value (to set in the acked clock), also observed.
 */
uint64_t	lease_renew(struct lease *, uint64_t wall_ms, uint64_t now);

#endif
