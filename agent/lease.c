/*
 * lease: the uploader rule (see lease.h).
 */
#include <string.h>

#include "agent/lease.h"

#define TICK_MAX	((UINT64_C(1) << (63 - LEASE_TAG_BITS)) - 1)

uint32_t
lease_tag(const uint8_t dev[ID_LEN])
{
	return (uint32_t)dev[0] << 16 | (uint32_t)dev[1] << 8 | dev[2];
}

const uint8_t *
lease_key(void)
{
	return (const uint8_t *)LEASE_KEY;
}

void
lease_init(struct lease *l, const uint8_t me[ID_LEN])
{
	memset(l, 0, sizeof(*l));
	l->me = lease_tag(me);
}

/* Records a renewal by tag at now (the oldest entry makes room). */
static void
seen(struct lease *l, uint32_t tag, uint64_t now)
{
	uint32_t	i, old = 0;

	for (i = 0; i < l->n; i++)
		if (l->h[i].tag == tag) {
			l->h[i].seen_at = now;
			return;
		}
	if (l->n < LEASE_HOLDERS)
		old = l->n++;
	else
		for (i = 1; i < l->n; i++)
			if (l->h[i].seen_at < l->h[old].seen_at)
				old = i;
	l->h[old].tag = tag;
	l->h[old].seen_at = now;
}

void
lease_observe(struct lease *l, uint64_t value, uint64_t now)
{
	if (value <= l->value)
		return;
	l->value = value;
	l->grew_at = now;
	seen(l, LEASE_TAG_MASK - (uint32_t)(value & LEASE_TAG_MASK), now);
}

int
lease_held(const struct lease *l, uint64_t now, uint32_t *tag)
{
	uint32_t	i;
	int		found = 0;

	for (i = 0; i < l->n; i++) {
		if (now >= l->h[i].seen_at + LEASE_TTL_MS)
			continue;
		if (!found || l->h[i].tag < *tag)
			*tag = l->h[i].tag;
		found = 1;
	}
	return found;
}

int
lease_may_upload(const struct lease *l, uint64_t now)
{
	uint32_t	holder = 0;

	if (!lease_held(l, now, &holder))
		return 1;
	return holder >= l->me;
}

uint64_t
lease_renew(struct lease *l, uint64_t wall_ms, uint64_t now)
{
	uint64_t	tick = l->value >> LEASE_TAG_BITS, t = wall_ms / 100;

	tick = t > tick ? t : tick + 1;
	if (tick > TICK_MAX)
		tick = TICK_MAX;
	l->value = tick << LEASE_TAG_BITS | (LEASE_TAG_MASK - l->me);
	l->grew_at = now;
	seen(l, l->me, now);
	return l->value;
}
