/*
 * gossip: anti-entropy bookkeeping (see gossip.h).
 *
 * The rules, in the order gossip_wants() applies them to each device the
 * peer holds past us:
 *  1. A device past its limit (revoked up to a seq) is not asked further.
 *  2. A device waiting out a retry backoff is not asked.
 *  3. A device being fetched from another peer, which made progress within
 *     GOSSIP_FETCH_TIMEOUT_MS (events of it arrived from that peer, or our
 *     clock moved) or has not read our ask yet (no PING sent since
 *     answered), and still has asks outstanding, is left to it (a refusal
 *     leaves them outstanding: the same peer is asked again).
 *  4. Otherwise this peer takes the device, from our head; the fetch's own
 *     peer starts again from our head after a refusal, or when it timed
 *     out. If more than half a window is still outstanding nothing more is
 *     asked.
 *  5. The ask runs from the highest seq asked + 1 to the smallest of: what
 *     the peer holds, the window, the limit.
 *
 * An ask that starts from our head (4) makes the peer drop what it was
 * still sending of the device (unless it happens to start where that
 * ends): until the run starting at our head + 1 arrives from it, its runs
 * of the device that reach past our head are dropped (gossip_take_run()).
 * An ask that continues the last one (5) continues the peer's pending
 * range. A fetch refused GOSSIP_RETRY_MAX_MS deep in backoff without
 * progress is released: another peer's copy may pass.
 */
#include <string.h>

#include "agent/gossip.h"

void
gossip_init(struct gossip *g)
{
	memset(g, 0, sizeof(*g));
}

void
gossip_peer_init(struct gossip_peer *p)
{
	memset(p, 0, sizeof(*p));
	vclock_init(&p->have);
	vclock_init(&p->told);
	vclock_init(&p->acked_have);
	vclock_init(&p->acked_told);
}

int
gossip_on_hello(struct gossip_peer *p, const struct vclock *vc)
{
	p->sum_in = 0;
	return vclock_merge(&p->have, vc);
}

int
gossip_on_summary(struct gossip_peer *p, uint64_t seq,
    const struct vclock *delta, int *gap)
{
	*gap = seq != p->sum_in + 1;
	p->sum_in = seq;
	return vclock_merge(&p->have, delta);
}

int
gossip_peer_has(struct gossip_peer *p, const uint8_t dev[ID_LEN],
    uint64_t seq)
{
	if (vclock_get(&p->have, dev) >= seq)
		return 0;
	return vclock_set(&p->have, dev, seq);
}

void
gossip_hello_sent(struct gossip_peer *p, const struct vclock *ours)
{
	p->told = *ours;
	p->sum_out = 0;
}

size_t
gossip_summary(struct gossip_peer *p, const struct vclock *ours,
    struct vclock *delta, uint64_t *seq)
{
	const struct vclock_entry	*e;
	uint32_t			 i;

	vclock_init(delta);
	for (i = 0; i < ours->n; i++) {
		e = &ours->e[i];
		if (e->seq <= vclock_get(&p->told, e->dev) ||
		    e->seq <= vclock_get(&p->have, e->dev))
			continue;
		/* ours has at most VCLOCK_MAX entries: fits */
		if (vclock_set(delta, e->dev, e->seq) != 0)
			break;
	}
	/* What it holds need not be said, but it is now "told". */
	if (vclock_merge(&p->told, ours) != 0)
		p->told = *ours;
	if (delta->n == 0)
		return 0;
	*seq = ++p->sum_out;
	return delta->n;
}

int
gossip_on_acked(struct gossip_peer *p, const struct vclock *acked)
{
	return vclock_merge(&p->acked_have, acked);
}

void
gossip_acked_sent(struct gossip_peer *p, const struct vclock *acked)
{
	if (acked != NULL)
		p->acked_told = *acked;
	else
		vclock_init(&p->acked_told);
}

size_t
gossip_summary_acked(struct gossip_peer *p, const struct vclock *ours,
    const struct vclock *acked, struct vclock *delta,
    struct vclock *acked_delta, uint64_t *seq)
{
	const struct vclock_entry	*e;
	size_t				 n;
	uint32_t			 i;

	n = gossip_summary(p, ours, delta, seq);
	vclock_init(acked_delta);
	if (acked == NULL)
		return n;
	for (i = 0; i < acked->n; i++) {
		e = &acked->e[i];
		if (e->seq <= vclock_get(&p->acked_told, e->dev) ||
		    e->seq <= vclock_get(&p->acked_have, e->dev))
			continue;
		if (vclock_set(acked_delta, e->dev, e->seq) != 0)
			break;
	}
	if (vclock_merge(&p->acked_told, acked) != 0)
		p->acked_told = *acked;
	if (acked_delta->n == 0)
		return n;
	if (n == 0)
		*seq = ++p->sum_out;
	return n + acked_delta->n;
}

static struct gossip_fetch *
fetch_find(struct gossip *g, const uint8_t dev[ID_LEN], int create)
{
	struct gossip_fetch	*f;
	uint32_t		 i;

	for (i = 0; i < g->nfetch; i++)
		if (memcmp(g->fetch[i].dev, dev, ID_LEN) == 0)
			return &g->fetch[i];
	if (!create || g->nfetch >= VCLOCK_MAX)
		return NULL;
	f = &g->fetch[g->nfetch++];
	memset(f, 0, sizeof(*f));
	memcpy(f->dev, dev, ID_LEN);
	f->peer = GOSSIP_NO_PEER;
	f->limit = GOSSIP_NO_LIMIT;
	return f;
}

const struct gossip_fetch *
gossip_fetch_get(const struct gossip *g, const uint8_t dev[ID_LEN])
{
	return fetch_find((struct gossip *)g, dev, 0);
}

int
gossip_set_limit(struct gossip *g, const uint8_t dev[ID_LEN], uint64_t limit)
{
	struct gossip_fetch	*f;

	if ((f = fetch_find(g, dev, 1)) == NULL)
		return CAJA_ETOOBIG;
	f->limit = limit;
	return 0;
}

/*
 * No progress for the timeout, although the fetch's peer read what we
 * sent it (the ask among it) since the last progress or ask; or none for
 * the deadline, whatever it read (its PONGs lost, or late past the ring).
 */
static int
stalled(const struct gossip *g, const struct gossip_fetch *f, uint64_t now)
{
	if (now < f->since_ms + GOSSIP_FETCH_TIMEOUT_MS)
		return 0;
	return now >= f->since_ms + GOSSIP_FETCH_DEADLINE_MS ||
	    f->peer < 0 || f->peer >= GOSSIP_PEERS ||
	    g->heard[f->peer] > f->since_ms;
}

/* The fetch's peer is asked again from our head (mine + 1). */
static void
restart(struct gossip_fetch *f, uint64_t mine)
{
	f->asked = mine;
	f->arrived = mine;
	f->resync = mine + 1;
	f->again = 0;
}

size_t
gossip_wants(struct gossip *g, int id, const struct gossip_peer *p,
    const struct vclock *ours, uint64_t now, struct wire_range *out,
    size_t cap)
{
	struct gossip_fetch		*f;
	const struct vclock_entry	*e;
	uint64_t			 mine, upto, from, outstanding;
	size_t				 n = 0;
	uint32_t			 i;
	int				 stale;

	for (i = 0; i < p->have.n && n < cap; i++) {
		e = &p->have.e[i];
		mine = vclock_get(ours, e->dev);
		if (e->seq <= mine)
			continue;
		if ((f = fetch_find(g, e->dev, 1)) == NULL)
			continue;
		if (mine >= f->limit)
			continue;				/* 1 */
		if (f->retry_at > now)
			continue;				/* 2 */
		if (f->asked < mine)
			f->asked = mine;
		stale = stalled(g, f, now);
		if (f->peer != id) {
			if (f->peer != GOSSIP_NO_PEER && f->asked > mine &&
			    !stale)
				continue;			/* 3 */
			f->peer = id;				/* 4 */
			f->seen = mine;
			f->since_ms = now;
			restart(f, mine);
		} else if (f->again || (stale && f->asked > mine))
			restart(f, mine);	/* refused, lost asks: again */
		outstanding = f->asked - mine;
		if (outstanding > GOSSIP_WINDOW / 2)
			continue;
		from = f->asked + 1;				/* 5 */
		upto = e->seq;
		if (upto > from + (GOSSIP_WINDOW - outstanding) - 1)
			upto = from + (GOSSIP_WINDOW - outstanding) - 1;
		if (upto > f->limit)
			upto = f->limit;
		if (upto < from)
			continue;
		memcpy(out[n].dev, e->dev, ID_LEN);
		out[n].from_seq = from;
		out[n].max_count = upto - from + 1;
		n++;
		f->asked = upto;
		f->since_ms = now;
	}
	return n;
}

void
gossip_arrived(struct gossip *g, int id, const uint8_t dev[ID_LEN],
    uint64_t seq, uint64_t now)
{
	struct gossip_fetch	*f;

	if ((f = fetch_find(g, dev, 0)) == NULL || f->peer != id ||
	    seq <= f->arrived || seq > f->asked)
		return;		/* not the fetch's peer, or nothing new */
	f->arrived = seq;
	f->since_ms = now;
}

int
gossip_take_run(struct gossip *g, int id, const uint8_t dev[ID_LEN],
    uint64_t first, uint64_t last)
{
	struct gossip_fetch	*f;

	if ((f = fetch_find(g, dev, 0)) == NULL || f->peer != id ||
	    f->resync == 0)
		return 1;
	if (first == f->resync) {
		f->resync = 0;	/* the new answer starts where asked */
		return 1;
	}
	/* Wholly before it: the store tells. Past or across it: the rest of
	 * an answer superseded. */
	return last < f->resync;
}

void
gossip_ping_sent(struct gossip_peer *p, uint64_t nonce, uint64_t now)
{
	uint32_t	k = p->ping_next % GOSSIP_PINGS;

	p->ping_nonce[k] = nonce;
	p->ping_sent[k] = now;
	p->ping_next = (k + 1) % GOSSIP_PINGS;
}

uint64_t
gossip_pong(struct gossip_peer *p, uint64_t nonce)
{
	uint64_t	sent = 0;
	uint32_t	k;

	for (k = 0; k < GOSSIP_PINGS; k++)
		if (p->ping_sent[k] != 0 && p->ping_nonce[k] == nonce)
			sent = p->ping_sent[k];
	if (sent == 0)
		return 0;
	for (k = 0; k < GOSSIP_PINGS; k++)
		if (p->ping_sent[k] <= sent)
			p->ping_sent[k] = 0;
	return sent;
}

void
gossip_heard(struct gossip *g, int id, uint64_t sent_ms)
{
	if (id >= 0 && id < GOSSIP_PEERS && sent_ms > g->heard[id])
		g->heard[id] = sent_ms;
}

void
gossip_progress(struct gossip *g, const struct vclock *ours, uint64_t now)
{
	struct gossip_fetch	*f;
	uint64_t		 mine;
	uint32_t		 i;

	for (i = 0; i < g->nfetch; i++) {
		f = &g->fetch[i];
		mine = vclock_get(ours, f->dev);
		if (mine > f->seen) {
			f->seen = mine;
			f->since_ms = now;
			f->backoff = 0;
		}
		if (mine >= f->asked && f->peer != GOSSIP_NO_PEER) {
			f->peer = GOSSIP_NO_PEER;	/* done */
			f->asked = mine;
			f->resync = 0;
			f->again = 0;
		}
	}
}

void
gossip_refused(struct gossip *g, int id, const uint8_t dev[ID_LEN],
    uint64_t seq, uint64_t now)
{
	struct gossip_fetch	*f;

	/*
	 * Only a refusal of what the fetch's peer sent counts: its answer
	 * brings (or brought) its own copy of anything another peer sent,
	 * pushes ahead were not asked for, and with no fetch there is
	 * nothing to ask again. Once per refusal: the rest of the run that
	 * follows it is refused too.
	 */
	if ((f = fetch_find(g, dev, 0)) == NULL || f->peer == GOSSIP_NO_PEER ||
	    id != f->peer || seq == 0 || seq > f->asked || seq > f->arrived ||
	    f->again)
		return;
	f->since_ms = now;
	if (f->backoff >= GOSSIP_RETRY_MAX_MS) {
		/* Refused again and again without progress: another peer's
		 * copy may pass where this one's does not (after one more
		 * backoff; that peer starts its own). */
		f->retry_at = now + f->backoff;
		f->backoff = 0;
		f->peer = GOSSIP_NO_PEER;
		f->resync = 0;
		return;
	}
	f->again = 1;
	f->resync = seq;	/* what follows on its way is dropped */
	f->backoff = f->backoff == 0 ? GOSSIP_RETRY_MIN_MS :
	    f->backoff * 2 > GOSSIP_RETRY_MAX_MS ? GOSSIP_RETRY_MAX_MS :
	    f->backoff * 2;
	f->retry_at = now + f->backoff;
}

void
gossip_peer_gone(struct gossip *g, int id)
{
	uint32_t	i;

	for (i = 0; i < g->nfetch; i++)
		if (g->fetch[i].peer == id) {
			g->fetch[i].peer = GOSSIP_NO_PEER;
			g->fetch[i].asked = 0;	/* clamped to ours */
			g->fetch[i].again = 0;
			g->fetch[i].resync = 0;
		}
	if (id >= 0 && id < GOSSIP_PEERS)
		g->heard[id] = 0;
}

void
gossip_serve_want(struct gossip_peer *p, const struct wire_want *w)
{
	uint32_t	i, j;

	for (i = 0; i < w->n; i++) {
		for (j = 0; j < p->nserve; j++)
			if (memcmp(p->serve[j].dev, w->r[i].dev, ID_LEN) == 0)
				break;
		if (j == p->nserve) {
			if (p->nserve >= WIRE_MAX_WANT)
				continue;	/* full: it asks again */
			p->nserve++;
		} else if (w->r[i].from_seq == p->serve[j].from_seq +
		    p->serve[j].max_count) {
			/* the next window: after what is pending */
			p->serve[j].max_count += w->r[i].max_count;
			continue;
		}
		p->serve[j] = w->r[i];
	}
}

int
gossip_serve_next(struct gossip_peer *p, struct wire_range *r)
{
	if (p->nserve == 0)
		return 0;
	if (p->serve_next >= p->nserve)
		p->serve_next = 0;
	*r = p->serve[p->serve_next];
	return 1;
}

void
gossip_serve_done(struct gossip_peer *p, const uint8_t dev[ID_LEN],
    uint64_t from, uint64_t sent)
{
	struct wire_range	*r;
	uint32_t		 j;

	for (j = 0; j < p->nserve; j++)
		if (memcmp(p->serve[j].dev, dev, ID_LEN) == 0)
			break;
	if (j == p->nserve)
		return;
	r = &p->serve[j];
	if (r->from_seq != from)
		return;		/* replaced by a newer WANT meanwhile */
	if (sent > 0 && sent < r->max_count) {
		r->from_seq += sent;
		r->max_count -= sent;
		p->serve_next = j + 1;	/* next device's turn */
		return;
	}
	p->serve[j] = p->serve[--p->nserve];
	if (p->serve_next > j)
		p->serve_next = j;
}

uint64_t
gossip_serve_pending(const struct gossip_peer *p)
{
	uint64_t	n = 0;
	uint32_t	j;

	for (j = 0; j < p->nserve; j++)
		n += p->serve[j].max_count;
	return n;
}
