/*
 * batchcut: bounded, causally closed batches of what a holder of a vector
 * clock lacks (store_frames_closed(), store.h). The cloud uplink cuts its
 * pushes with it; caja-cloud's pull cuts its responses the same way
 * (tools/caja-cloud/pull.c, where this walk was first written).
 *
 * Why causal: a receiver applies an event only once it holds the event's
 * causal context (ingest.c rule 5). A batch cut at N events in (device,
 * seq) order can hold events whose predecessors lie past the cut, on a
 * device later in that order: refused for retry, sent again, cut at the
 * same place: no progress, ever. So, per device, the next candidate is
 * taken only when every entry of its causal context is covered by what
 * the receiver holds (`since`) plus what the batch already carries. The
 * store holds a causally closed set (it applied every event that way), so
 * some device can always advance until the bound. An event's context is a
 * delta over its author's previous event, and the receiver holds the
 * author's events up to since[author] with their contexts, so checking
 * each candidate's own delta suffices.
 *
 * One dependency is not in the context: a joined device's enrollment needs
 * the admin's DeviceInvited of its invite key. It is looked up among the
 * candidates, or else (when a candidate window was cut) in the log.
 * Forked or revoked devices may leave contexts no one can fill: then the
 * first waiting device goes through anyway, as the store's catch-up does.
 *
 * Contexts are kept compactly (the entries of each candidate's delta in
 * one shared array), so a cut of N events over D devices costs about
 * D * N small records, not D * N vector clocks.
 */
#include <stdlib.h>
#include <string.h>

#include "proto/event.h"
#include "proto/schema.h"
#include "store/store.h"

#define CUT_STOP	(-9)		/* callback: stop the walk */
#define CUT_DEVS	(VCLOCK_MAX * 2)

enum { K_OTHER, K_ENROLL, K_INVITE };

struct cand {
	size_t		off, len;	/* frame in coll.data */
	uint32_t	ctx_off, ctx_n;	/* entries in coll.ctx */
	int		kind;		/* K_* */
	uint8_t		invite_pk[SIG_PK_LEN];
	uint8_t		dep_dev[ID_LEN];	/* enrollment: its invite */
	uint64_t	dep_seq;
};

struct devq {
	uint8_t		 dev[ID_LEN];
	struct cand	*c;
	size_t		 n, cap, next;
	uint64_t	 first;		/* seq of c[0] */
	uint64_t	 from;		/* since[dev] */
};

struct coll {
	struct buf		 data;	/* candidate frames */
	struct vclock_entry	*ctx;	/* candidate contexts */
	size_t			 nctx, capctx;
	struct devq		*q;
	struct event		*ev;
	struct payload		*pl;
};

/* The invite key of an identity event; K_OTHER for other events. */
static int
kind_of(struct coll *co, uint8_t pk[SIG_PK_LEN])
{
	int	t = co->ev->type;

	if (t != EV_DEVICE_ENROLLED && t != EV_DEVICE_INVITED)
		return K_OTHER;
	if (schema_decode(t, co->ev->payload, co->ev->payload_len,
	    co->pl) != 0 || !co->pl->has_invite_pk)
		return K_OTHER;		/* genesis: the store key */
	memcpy(pk, co->pl->invite_pk, SIG_PK_LEN);
	return t == EV_DEVICE_ENROLLED ? K_ENROLL : K_INVITE;
}

struct find {
	struct coll	*co;
	const uint8_t	*pk;
	uint8_t		 dev[ID_LEN];
	uint64_t	 seq;
};

static int
find_cb(void *arg, const uint8_t *p, size_t len)
{
	struct find	*f = arg;
	uint8_t		 pk[SIG_PK_LEN];

	if (event_decode(f->co->ev, p, len) != 0)
		return CAJA_ECORRUPT;
	if (f->co->ev->type != EV_DEVICE_INVITED ||
	    kind_of(f->co, pk) != K_INVITE ||
	    memcmp(pk, f->pk, SIG_PK_LEN) != 0)
		return 0;
	memcpy(f->dev, f->co->ev->dev, ID_LEN);
	f->seq = f->co->ev->seq;
	return CUT_STOP;
}

static int
cand_cb(void *arg, uint64_t seq, const uint8_t *p, size_t len)
{
	struct coll	*co = arg;
	struct devq	*q = co->q;
	struct cand	*c;
	size_t		 need;
	int		 rc;

	(void)seq;
	if (event_decode(co->ev, p, len) != 0)
		return CAJA_ECORRUPT;
	if (q->n == q->cap) {
		size_t	cap = q->cap ? q->cap * 2 : 16;

		if ((c = realloc(q->c, cap * sizeof(*c))) == NULL)
			return CAJA_ENOMEM;
		q->c = c;
		q->cap = cap;
	}
	need = co->nctx + co->ev->ctx.n;
	if (need > co->capctx) {
		size_t			 cap = co->capctx ? co->capctx : 256;
		struct vclock_entry	*e;

		while (cap < need)
			cap *= 2;
		if ((e = realloc(co->ctx, cap * sizeof(*e))) == NULL)
			return CAJA_ENOMEM;
		co->ctx = e;
		co->capctx = cap;
	}
	c = &q->c[q->n];
	c->off = co->data.len;
	c->len = len;
	c->ctx_off = (uint32_t)co->nctx;
	c->ctx_n = co->ev->ctx.n;
	memcpy(co->ctx + co->nctx, co->ev->ctx.e,
	    co->ev->ctx.n * sizeof(*co->ctx));
	co->nctx += co->ev->ctx.n;
	c->kind = kind_of(co, c->invite_pk);
	c->dep_seq = 0;
	if ((rc = buf_add(&co->data, p, len)) != 0)
		return rc;
	q->n++;
	return 0;
}

struct devs {
	struct store_device	*d;
	size_t			 n;
};

static int
dev_cb(void *arg, const struct store_device *d)
{
	struct devs	*l = arg;

	if (l->n == CUT_DEVS)
		return CAJA_ETOOBIG;
	l->d[l->n++] = *d;
	return 0;
}

static int
covered(const struct coll *co, const struct cand *c,
    const struct vclock *have)
{
	const struct vclock_entry	*e = co->ctx + c->ctx_off;
	uint32_t			 i;

	for (i = 0; i < c->ctx_n; i++)
		if (vclock_get(have, e[i].dev) < e[i].seq)
			return 0;
	return c->dep_seq == 0 || vclock_get(have, c->dep_dev) >= c->dep_seq;
}

/* Finds the invite of each enrollment candidate (see the top). */
static int
link_invites(struct store *s, struct coll *co, struct devq *qs, size_t nq,
    int cut)
{
	struct find	 f;
	struct cand	*c;
	size_t		 i, j, a, b;
	int		 found, rc;

	for (i = 0; i < nq; i++) {
		for (j = 0; j < qs[i].n; j++) {
			c = &qs[i].c[j];
			if (c->kind != K_ENROLL)
				continue;
			found = 0;
			for (a = 0; a < nq && !found; a++)
				for (b = 0; b < qs[a].n; b++)
					if (qs[a].c[b].kind == K_INVITE &&
					    memcmp(qs[a].c[b].invite_pk,
					    c->invite_pk, SIG_PK_LEN) == 0) {
						memcpy(c->dep_dev, qs[a].dev,
						    ID_LEN);
						c->dep_seq = qs[a].first + b;
						found = 1;
						break;
					}
			if (found || !cut)
				continue;	/* else the receiver holds it */
			memset(&f, 0, sizeof(f));
			f.co = co;
			f.pk = c->invite_pk;
			rc = store_frames_since(s, NULL, 0, find_cb, &f);
			if (rc != 0 && rc != CUT_STOP)
				return rc;
			if (f.seq != 0) {
				memcpy(c->dep_dev, f.dev, ID_LEN);
				c->dep_seq = f.seq;
			}
		}
	}
	return 0;
}

static int
emit(struct buf *out, const uint8_t *p, size_t len)
{
	uint8_t	hdr[4];
	int	rc;

	hdr[0] = (uint8_t)(len >> 24);
	hdr[1] = (uint8_t)(len >> 16);
	hdr[2] = (uint8_t)(len >> 8);
	hdr[3] = (uint8_t)len;
	if ((rc = buf_add(out, hdr, 4)) != 0)
		return rc;
	return buf_add(out, p, len);
}

/* Takes q's next candidate into the batch. */
static int
take(struct coll *co, struct devq *q, struct buf *out, struct vclock *have,
    size_t *bytes, size_t *count)
{
	struct cand	*c = &q->c[q->next];
	int		 rc;

	if ((rc = emit(out, co->data.p + c->off, c->len)) != 0)
		return rc;
	*bytes += c->len + 4;
	(*count)++;
	q->next++;
	return vclock_set(have, q->dev, q->first + q->next - 1);
}

int
store_frames_closed(struct store *s, const struct vclock *since, size_t max,
    size_t max_bytes, struct buf *out, size_t *count, int *more)
{
	struct devs	 l;
	struct coll	 co;
	struct devq	*qs = NULL, *q;
	struct vclock	*have = NULL;
	size_t		 i, nq = 0, bytes, got;
	int		 rc, progress, forced, cut = 0;

	*count = 0;
	*more = 0;
	memset(&co, 0, sizeof(co));
	buf_init(&co.data, 0);
	l.n = 0;
	if (max == 0)
		return CAJA_EINVAL;
	l.d = calloc(CUT_DEVS, sizeof(*l.d));
	qs = calloc(CUT_DEVS, sizeof(*qs));
	have = malloc(sizeof(*have));
	co.ev = malloc(sizeof(*co.ev));
	co.pl = malloc(sizeof(*co.pl));
	if (l.d == NULL || qs == NULL || have == NULL || co.ev == NULL ||
	    co.pl == NULL) {
		rc = CAJA_ENOMEM;
		goto out;
	}
	buf_clear(out);
	if ((rc = buf_add(out, STORE_EXPORT_MAGIC,
	    sizeof(STORE_EXPORT_MAGIC) - 1)) != 0)
		goto out;
	if ((rc = store_device_foreach(s, dev_cb, &l)) != 0)
		goto out;
	/* Candidates: up to max events of each device past since. */
	for (i = 0; i < l.n; i++) {
		uint64_t	from = since != NULL ?
				    vclock_get(since, l.d[i].id) : 0;

		if (l.d[i].head_seq <= from)
			continue;
		q = &qs[nq++];
		memcpy(q->dev, l.d[i].id, ID_LEN);
		q->from = from;
		q->first = from + 1;
		co.q = q;
		rc = store_frames_range(s, q->dev, q->first, max, max_bytes,
		    cand_cb, &co, &got);
		if (rc != 0)
			goto out;
		if (l.d[i].head_seq > from + got)
			cut = 1;	/* held past the window, or a gap */
	}
	if ((rc = link_invites(s, &co, qs, nq, cut)) != 0)
		goto out;
	if (since != NULL)
		*have = *since;
	else
		vclock_init(have);
	bytes = 0;
	for (;;) {
		progress = 0;
		for (i = 0; i < nq && *count < max; i++) {
			q = &qs[i];
			while (q->next < q->n && *count < max) {
				if (!covered(&co, &q->c[q->next], have))
					break;
				if (*count > 0 && max_bytes != 0 && bytes +
				    q->c[q->next].len + 4 > max_bytes)
					goto full;
				if ((rc = take(&co, q, out, have, &bytes,
				    count)) != 0)
					goto out;
				progress = 1;
			}
		}
		if (*count >= max)
			break;
		if (progress)
			continue;
		/* Nothing can advance: contexts no one fills (fork or
		 * revocation). Let the first waiting device through. */
		forced = 0;
		for (i = 0; i < nq && !forced; i++) {
			q = &qs[i];
			if (q->next == q->n)
				continue;
			if (*count > 0 && max_bytes != 0 && bytes +
			    q->c[q->next].len + 4 > max_bytes)
				goto full;
			if ((rc = take(&co, q, out, have, &bytes, count)) != 0)
				goto out;
			forced = 1;
		}
		if (!forced)
			break;
	}
full:
	*more = cut;
	for (i = 0; i < nq; i++)
		if (qs[i].next < qs[i].n)
			*more = 1;
	rc = 0;
out:
	for (i = 0; qs != NULL && i < nq; i++)
		free(qs[i].c);
	free(qs);
	free(l.d);
	free(have);
	free(co.ev);
	free(co.pl);
	free(co.ctx);
	buf_reset(&co.data);
	if (rc != 0) {
		*count = 0;
		*more = 0;
	}
	return rc;
}
