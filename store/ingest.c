/*
 * ingest: verification and merge of events received from elsewhere (peers,
 * import files, the cloud).
 *
 * Rules, in the order they are checked:
 *  1. A frame must decode (canonical, bounded) and belong to this store.
 *  2. Frames are grouped by device and sorted by seq. A seq we hold with the
 *     same event id is a duplicate; a different, correctly signed event at
 *     a seq we hold is a fork: both are kept as evidence, a `fork` conflict
 *     is raised and the device's later events wait for its resolution.
 *  3. The events past the device's head must form a contiguous run whose
 *     prev links reach back to the event we hold (a gap is refused: it
 *     comes again). The run is authenticated by the signature of its last
 *     event (DESIGN.md decision 2); when that fails, event by event, and the
 *     run stops before the first bad one.
 *  4. A device we do not know yet must start with DeviceEnrolled, signed by
 *     the store key (genesis) or by an invite key that an admin device's
 *     DeviceInvited authorised, unexpired at the enrollment's HLC. An
 *     invite used by a second device does not refuse it (that would make
 *     the enrolled set depend on arrival order): apply raises an
 *     invite_reused conflict instead (store/crdt.c rule 7). Its invite may
 *     come in the same batch from another device: devices are processed in
 *     rounds while any progresses.
 *  5. Causal delivery: an event is applied only once every event in its
 *     causal context is held (so every register sees a concurrent pair as a
 *     pair, and conflicts come out the same everywhere). Revoked devices are
 *     only waited for up to their revocation, forked ones not at all.
 *  6. Events of a revoked device past upto_seq are refused.
 * What cannot pass now (gap, causal wait, unknown enrollment) is refused
 * with retry set; it passes when it comes again with what it waited for.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/rec.h"
#include "store/sdb.h"

#define ENROLL_PENDING	(-2)

enum { ST_NEW, ST_RUN, ST_DONE, ST_LATE };

struct item {
	size_t		idx;
	uint8_t		dev[ID_LEN];
	uint64_t	seq;
	uint8_t		id[HASH_LEN];
	uint8_t		prev[HASH_LEN];
	int		st;
};

struct group {
	size_t		 first, n;	/* in order[] */
	size_t		*run;		/* indices into items */
	size_t		 nrun, next;
};

struct ing {
	struct store_batch	*b;
	struct store		*s;
	const uint8_t *const	*frames;
	const size_t		*lens;
	uint64_t		 now_ms;
	struct store_report	*rep;
	int			*verdict;
	uint8_t			*retry;
	struct store_refusal	*detail;
	struct item		*items;
	struct event		*ev;		/* scratch */
	struct sdb_dev		*dev;		/* scratch */
	struct sdb_dev		*dep;		/* scratch */
	struct payload		*pl;		/* scratch */
	struct vclock		 vc;		/* the store's, kept current */
	struct vclock		 vv;		/* scratch */
};

void
ingest_refusal(struct store_report *rep, const uint8_t dev[ID_LEN],
    uint64_t seq, int err, int retry, const char *msg)
{
	struct store_refusal	*r;

	rep->refused++;
	if (rep->nrefusals >= STORE_REFUSED_MAX)
		return;
	r = &rep->refusals[rep->nrefusals++];
	memset(r, 0, sizeof(*r));
	memcpy(r->dev, dev, ID_LEN);
	r->seq = seq;
	r->err = err;
	r->retry = retry;
	snprintf(r->msg, sizeof(r->msg), "%s", msg);
}

static void
refuse(struct ing *g, struct item *it, int err, int retry, const char *msg)
{
	char	m[STORE_ERRMSG];

	snprintf(m, sizeof(m), "%s", msg != NULL ? msg : err_str(err));
	ingest_refusal(g->rep, it->dev, it->seq, err, retry, m);
	if (g->verdict != NULL)
		g->verdict[it->idx] = err;
	if (g->retry != NULL)
		g->retry[it->idx] = (uint8_t)retry;
	if (g->detail != NULL) {
		memcpy(g->detail[it->idx].dev, it->dev, ID_LEN);
		g->detail[it->idx].seq = it->seq;
		g->detail[it->idx].err = err;
		g->detail[it->idx].retry = retry;
		memcpy(g->detail[it->idx].msg, m, sizeof(m));
	}
	if (err > 0 && err < CAJA_ERR_MAX)
		g->b->refused[err]++;
	it->st = ST_DONE;
}

static void
duplicate(struct ing *g, struct item *it)
{
	g->rep->duplicate++;
	if (g->verdict != NULL)
		g->verdict[it->idx] = INGEST_DUPLICATE;
	it->st = ST_DONE;
}

/* Decodes an item again: its frame passed event_decode() in the first pass
 * of ingest_frames(). */
static int
decode(struct ing *g, const struct item *it)
{
	return event_decode_again(g->ev, g->frames[it->idx],
	    g->lens[it->idx]);
}

/*
 * Applies (event or fork, id its event id) with map growth; fatal errors
 * kill the batch.
 */
static int
put(struct ing *g, int kind, const uint8_t *held, const uint8_t *id)
{
	struct store_batch	*b = g->b;
	int			 rc;

	for (;;) {
		if (kind == SDB_OP_EVENT)
			rc = apply_event(b, b->txn, g->ev, id, NULL);
		else
			rc = apply_fork(b, b->txn, g->ev, id, held);
		if (rc != SDB_EMAPFULL)
			break;
		if ((rc = sdb_batch_grow(b)) != 0)
			return rc;
		/* the replay left the txn as it was before this event */
	}
	if (rc == 0)
		rc = sdb_batch_record(b, kind, g->ev->frame, g->ev->frame_len);
	if (rc == 0)
		rc = cache_trim(b);
	if (rc != 0)
		b->dead = 1;
	return rc;
}

static int
item_cmp(const void *x, const void *y)
{
	const struct item	*a = x, *b = y;
	int			 c;

	if ((c = memcmp(a->dev, b->dev, ID_LEN)) != 0)
		return c;
	if (a->seq != b->seq)
		return a->seq < b->seq ? -1 : 1;
	if ((c = memcmp(a->id, b->id, HASH_LEN)) != 0)
		return c;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/*
 * A different event at a seq we hold: verify it with the device's key;
 * keep it and raise the fork unless known already.
 */
static int
fork_or_dup(struct ing *g, struct item *it)
{
	uint8_t	held[HASH_LEN], key[SDB_FORKKEY_LEN];
	MDB_val	v;
	char	msg[STORE_ERRMSG];
	int	rc;

	rc = sdb_log_id(g->b->txn, g->s, it->dev, it->seq, held);
	if (rc == CAJA_ENOTFOUND) {
		refuse(g, it, CAJA_ECHAIN, 1, "gap: not linked to a held event");
		return 0;
	}
	if (rc != 0)
		return rc;
	if (memcmp(held, it->id, HASH_LEN) == 0) {
		duplicate(g, it);
		return 0;
	}
	if ((rc = sdb_dev_get(g->b->txn, g->s, it->dev, g->dev)) != 0)
		return rc;
	if (decode(g, it) != 0 || event_verify(g->ev, g->dev->pk) != 0) {
		g->rep->sig_checks++;
		refuse(g, it, CAJA_ESIG, 0, "bad signature");
		return 0;
	}
	g->rep->sig_checks++;
	memcpy(key, it->dev, ID_LEN);
	sdb_be64_put(key + ID_LEN, it->seq);
	memcpy(key + ID_LEN + 8, it->id, HASH_LEN);
	rc = sdb_get(g->b->txn, g->s->dbi[DB_FORKS], key, sizeof(key), &v);
	if (rc == 0) {
		duplicate(g, it);	/* evidence already held */
		return 0;
	}
	if (rc != CAJA_ENOTFOUND)
		return rc;
	if ((rc = put(g, SDB_OP_FORK, held, it->id)) != 0)
		return rc;
	g->rep->forks++;
	snprintf(msg, sizeof(msg), "fork: another event holds seq %llu",
	    (unsigned long long)it->seq);
	refuse(g, it, CAJA_EFORK, 0, msg);
	return 0;
}

/* 1 when the device is now marked forked. */
static int
fork_seen(struct ing *g, const struct item *it)
{
	return sdb_dev_get(g->b->txn, g->s, it->dev, g->dep) == 0 &&
	    g->dep->forked;
}

/* Refuses the rest of a group's run from position k. */
static void
refuse_rest(struct ing *g, struct group *gr, size_t k, int err, int retry,
    const char *msg)
{
	for (; k < gr->nrun; k++)
		refuse(g, &g->items[gr->run[k]], err, retry, msg);
	gr->next = gr->nrun;
}

/* Builds and authenticates the run of one device's group (rules 2, 3, 6). */
static int
prepare(struct ing *g, struct group *gr, const size_t *order)
{
	struct item	*it, *last = NULL;
	uint64_t	 head = 0, expect;
	uint8_t		 prev[HASH_LEN], pk[SIG_PK_LEN];
	char		 msg[STORE_ERRMSG];
	size_t		 k, bad;
	int		 rc, known, forked = 0, revoked = 0, broken = 0;
	uint64_t	 upto = 0;

	memset(prev, 0, sizeof(prev));
	it = &g->items[order[gr->first]];
	rc = sdb_dev_get(g->b->txn, g->s, it->dev, g->dev);
	if (rc != 0 && rc != CAJA_ENOTFOUND)
		return rc;
	known = rc == 0;
	if (known) {
		head = g->dev->head_seq;
		memcpy(prev, g->dev->head_id, HASH_LEN);
		memcpy(pk, g->dev->pk, SIG_PK_LEN);
		forked = g->dev->forked;
		revoked = g->dev->revoked;
		upto = g->dev->revoked_upto;
	}
	if ((gr->run = calloc(gr->n, sizeof(*gr->run))) == NULL)
		return CAJA_ENOMEM;
	expect = head + 1;
	for (k = 0; k < gr->n; k++) {
		it = &g->items[order[gr->first + k]];
		if (it->seq <= head) {
			if ((rc = fork_or_dup(g, it)) != 0)
				return rc;
			if (g->verdict == NULL || g->verdict[it->idx] ==
			    CAJA_EFORK)
				forked = forked || fork_seen(g, it);
			continue;
		}
		if (it->seq < expect) {
			/* same seq twice in the input */
			if (last != NULL && memcmp(last->id, it->id,
			    HASH_LEN) == 0)
				duplicate(g, it);
			else
				it->st = ST_LATE;
			continue;
		}
		if (forked) {
			refuse(g, it, CAJA_EFORK, 0, "device forked: its "
			    "events wait for the fork's resolution");
			continue;
		}
		if (revoked && it->seq > upto) {
			snprintf(msg, sizeof(msg), "device revoked after "
			    "seq %llu", (unsigned long long)upto);
			refuse(g, it, CAJA_EREVOKED, 0, msg);
			continue;
		}
		if (broken || it->seq > expect) {
			snprintf(msg, sizeof(msg), "gap: have %llu, got %llu",
			    (unsigned long long)(expect - 1),
			    (unsigned long long)it->seq);
			refuse(g, it, CAJA_ECHAIN, 1, msg);
			continue;
		}
		if (memcmp(it->prev, prev, HASH_LEN) != 0) {
			refuse(g, it, CAJA_ECHAIN, 0, "prev does not link to "
			    "the event held before it");
			broken = 1;
			continue;
		}
		gr->run[gr->nrun++] = order[gr->first + k];
		it->st = ST_RUN;
		memcpy(prev, it->id, HASH_LEN);
		expect++;
		last = it;
	}
	if (gr->nrun == 0)
		return 0;
	if (!known) {
		/* The key comes with the enrollment; rule 4 checks it. */
		it = &g->items[gr->run[0]];
		if (decode(g, it) != 0 || g->ev->type != EV_DEVICE_ENROLLED ||
		    schema_decode(g->ev->type, g->ev->payload,
		    g->ev->payload_len, g->pl) != 0) {
			refuse_rest(g, gr, 0, CAJA_EUNENROLLED, 1,
			    "device not enrolled");
			return 0;
		}
		memcpy(pk, g->pl->device_pk, SIG_PK_LEN);
	}
	last = &g->items[gr->run[gr->nrun - 1]];
	g->rep->sig_checks++;
	if (decode(g, last) == 0 && event_verify(g->ev, pk) == 0)
		return 0;
	/* Find the first bad one; the chain before it stands. */
	for (bad = 0; bad < gr->nrun; bad++) {
		g->rep->sig_checks++;
		if (decode(g, &g->items[gr->run[bad]]) != 0 ||
		    event_verify(g->ev, pk) != 0)
			break;
	}
	if (bad < gr->nrun) {
		known = known || bad > 0;
		refuse(g, &g->items[gr->run[bad]], known ? CAJA_ESIG :
		    CAJA_EUNENROLLED, 0, known ? "bad signature" :
		    "bad signature (device not enrolled)");
		for (k = bad + 1; k < gr->nrun; k++)
			refuse(g, &g->items[gr->run[k]], CAJA_ECHAIN, 1,
			    "follows a refused event");
		gr->nrun = bad;
	}
	return 0;
}

/* Rule 4 for a device's first event (decoded in g->ev). */
static int
check_enroll(struct ing *g, char *msg, size_t cap)
{
	struct payload		*pl = g->pl;
	struct rec_invite	 iv;
	uint8_t			 id[ID_LEN], m[512];
	size_t			 mlen;
	MDB_val			 v;
	int			 rc;

	if (g->ev->seq != 1 || g->ev->type != EV_DEVICE_ENROLLED ||
	    schema_decode(g->ev->type, g->ev->payload, g->ev->payload_len,
	    pl) != 0) {
		snprintf(msg, cap, "device not enrolled");
		return CAJA_EUNENROLLED;
	}
	sig_id_of_pk(id, pl->device_pk);
	if (memcmp(id, g->ev->dev, ID_LEN) != 0 ||
	    !ident_role_is_valid(pl->role.p, pl->role.len)) {
		snprintf(msg, cap, "enrollment does not match its device");
		return CAJA_EUNENROLLED;
	}
	mlen = ident_enroll_msg(m, sizeof(m), g->s->ids.store_id,
	    pl->device_pk, pl->role.p, pl->role.len, pl->name.p, pl->name.len);
	if (mlen == 0) {
		snprintf(msg, cap, "enrollment too long");
		return CAJA_EUNENROLLED;
	}
	g->rep->sig_checks++;
	if (pl->has_store_pk) {
		if (memcmp(pl->store_pk, g->s->store_pk, SIG_PK_LEN) != 0 ||
		    sig_verify(pl->store_pk, m, mlen, pl->auth_sig) != 0) {
			snprintf(msg, cap, "enrollment not signed by the "
			    "store key");
			return CAJA_EUNENROLLED;
		}
		return 0;
	}
	if (!pl->has_invite_pk) {
		snprintf(msg, cap, "enrollment without authority");
		return CAJA_EUNENROLLED;
	}
	rc = sdb_get(g->b->txn, g->s->dbi[DB_INVITES], pl->invite_pk,
	    SIG_PK_LEN, &v);
	if (rc == CAJA_ENOTFOUND) {
		snprintf(msg, cap, "device not enrolled (its invite is not "
		    "known here yet)");
		return ENROLL_PENDING;
	}
	if (rc != 0)
		return rc;
	if ((rc = rec_invite_decode(v.mv_data, v.mv_size, &iv)) != 0)
		return rc;
	if (HLC_MS(g->ev->hlc) > iv.expires_ms) {
		snprintf(msg, cap, "invite expired");
		return CAJA_EEXPIRED;
	}
	if (sig_verify(pl->invite_pk, m, mlen, pl->auth_sig) != 0) {
		snprintf(msg, cap, "enrollment not signed by its invite key");
		return CAJA_ESIG;
	}
	return 0;
}

/*
 * Rule 5: 0 when every event in ev's causal context is held, else
 * CAJA_ECHAIN with what it waits for in msg.
 */
static int
causal_ready(struct ing *g, const struct sdb_dev *author, char *msg,
    size_t cap)
{
	char		hex[ID_HEX];
	uint32_t	i;
	uint64_t	have;
	int		rc;

	if ((rc = apply_full_vv(author, g->ev, &g->vv)) != 0)
		return rc;
	for (i = 0; i < g->vv.n; i++) {
		if (memcmp(g->vv.e[i].dev, g->ev->dev, ID_LEN) == 0)
			continue;
		have = vclock_get(&g->vc, g->vv.e[i].dev);
		if (have >= g->vv.e[i].seq)
			continue;
		rc = sdb_dev_get(g->b->txn, g->s, g->vv.e[i].dev, g->dep);
		if (rc == 0 && (g->dep->forked ||
		    (g->dep->revoked && have >= g->dep->revoked_upto)))
			continue;
		if (rc != 0 && rc != CAJA_ENOTFOUND)
			return rc;
		ids_hex(hex, g->vv.e[i].dev, ID_LEN);
		snprintf(msg, cap, "causal: waits for device %.16s seq %llu",
		    hex, (unsigned long long)g->vv.e[i].seq);
		return CAJA_ECHAIN;
	}
	return 0;
}

/* Applies what it can of one group; *progress set when any. */
static int
advance(struct ing *g, struct group *gr, int *progress, int final)
{
	struct item	*it;
	char		 msg[STORE_ERRMSG];
	int		 rc, known, clamped;

	while (gr->next < gr->nrun) {
		it = &g->items[gr->run[gr->next]];
		rc = sdb_dev_get(g->b->txn, g->s, it->dev, g->dev);
		if (rc != 0 && rc != CAJA_ENOTFOUND)
			return rc;
		known = rc == 0;
		if (known && g->dev->revoked && it->seq > g->dev->revoked_upto) {
			/* revoked by an event of this same batch */
			snprintf(msg, sizeof(msg), "device revoked after "
			    "seq %llu", (unsigned long long)
			    g->dev->revoked_upto);
			refuse_rest(g, gr, gr->next, CAJA_EREVOKED, 0, msg);
			return 0;
		}
		if ((rc = decode(g, it)) != 0)
			return CAJA_ECORRUPT;	/* decoded before */
		if (!known) {
			rc = check_enroll(g, msg, sizeof(msg));
			if (rc == ENROLL_PENDING) {
				if (final)
					refuse_rest(g, gr, gr->next,
					    CAJA_EUNENROLLED, 1, msg);
				return 0;
			}
			if (rc == CAJA_ECORRUPT || rc == CAJA_ENOMEM)
				return rc;
			if (rc != 0) {
				refuse(g, it, rc, 0, msg);
				refuse_rest(g, gr, gr->next + 1, CAJA_ECHAIN,
				    1, "follows a refused event");
				return 0;
			}
		}
		rc = causal_ready(g, known ? g->dev : NULL, msg, sizeof(msg));
		if (rc == CAJA_ECHAIN) {
			if (final)
				refuse_rest(g, gr, gr->next, CAJA_ECHAIN, 1,
				    msg);
			return 0;
		}
		if (rc != 0)
			return rc;
		if ((rc = put(g, SDB_OP_EVENT, NULL, it->id)) != 0)
			return rc;
		cache_log_id_note(g->b, it->dev, it->seq, it->id);
		(void)hlc_recv(&g->s->hlc, g->ev->hlc, g->now_ms,
		    g->s->max_skew_ms, &clamped);
		g->b->clamped += (uint64_t)clamped;
		if ((rc = vclock_set(&g->vc, it->dev, it->seq)) != 0)
			return rc;
		g->rep->accepted++;
		g->b->received = 1;
		if (g->verdict != NULL)
			g->verdict[it->idx] = INGEST_ACCEPTED;
		it->st = ST_DONE;
		gr->next++;
		*progress = 1;
	}
	return 0;
}

int
ingest_frames(struct store_batch *b, const uint8_t *const *frames,
    const size_t *lens, size_t n, uint64_t now_ms, struct store_report *rep,
    int *verdict, uint8_t *retry, struct store_refusal *detail)
{
	struct ing	*g = NULL;
	struct group	*groups = NULL;
	size_t		*order = NULL, norder = 0, ngroups = 0, i, j;
	struct item	*it;
	int		 rc = 0, progress, e;

	memset(rep, 0, sizeof(*rep));
	if (b == NULL || b->dead || b->txn == NULL)
		return b != NULL && b->dead ? CAJA_EFULL : CAJA_EINVAL;
	if (n == 0)
		return 0;
	if ((g = calloc(1, sizeof(*g))) == NULL)
		return CAJA_ENOMEM;
	g->b = b;
	g->s = b->s;
	g->frames = frames;
	g->lens = lens;
	g->now_ms = now_ms;
	g->rep = rep;
	g->verdict = verdict;
	g->retry = retry;
	g->detail = detail;
	g->items = calloc(n, sizeof(*g->items));
	g->ev = malloc(sizeof(*g->ev));
	g->dev = malloc(sizeof(*g->dev));
	g->dep = malloc(sizeof(*g->dep));
	g->pl = malloc(sizeof(*g->pl));
	order = calloc(n, sizeof(*order));
	if (g->items == NULL || g->ev == NULL || g->dev == NULL ||
	    g->dep == NULL || g->pl == NULL || order == NULL) {
		rc = CAJA_ENOMEM;
		goto out;
	}
	if (retry != NULL)
		memset(retry, 0, n);
	/* Records touched by this run are read and written once (cache.c). */
	if ((rc = cache_begin(b)) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		it = &g->items[i];
		it->idx = i;
		e = frames[i] == NULL ? CAJA_EDECODE :
		    event_decode(g->ev, frames[i], lens[i]);
		if (e == 0 && memcmp(g->ev->store, g->s->ids.store_id,
		    ID_LEN) != 0)
			e = CAJA_ESTORE;
		if (e != 0) {
			if (e == CAJA_ESTORE) {
				memcpy(it->dev, g->ev->dev, ID_LEN);
				it->seq = g->ev->seq;
			}
			refuse(g, it, e, 0, e == CAJA_ESTORE ?
			    "event of another store" : "malformed event");
			continue;
		}
		memcpy(it->dev, g->ev->dev, ID_LEN);
		it->seq = g->ev->seq;
		memcpy(it->prev, g->ev->prev, HASH_LEN);
		event_id(g->ev, it->id);
		it->st = ST_NEW;
		order[norder++] = i;
	}
	/* Sort indices by (device, seq, id), unless they come in that order
	 * already (export files and catch-up runs do). */
	for (i = 1; i < norder && item_cmp(&g->items[order[i - 1]],
	    &g->items[order[i]]) <= 0; i++)
		;
	if (i < norder) {
		struct item	*tmp;

		if ((tmp = malloc(norder * sizeof(*tmp) + 1)) == NULL) {
			rc = CAJA_ENOMEM;
			goto out;
		}
		for (i = 0; i < norder; i++)
			tmp[i] = g->items[order[i]];
		qsort(tmp, norder, sizeof(*tmp), item_cmp);
		for (i = 0; i < norder; i++)
			order[i] = tmp[i].idx;
		free(tmp);
	}
	if ((groups = calloc(norder + 1, sizeof(*groups))) == NULL) {
		rc = CAJA_ENOMEM;
		goto out;
	}
	for (i = 0; i < norder; i = j) {
		for (j = i + 1; j < norder && memcmp(g->items[order[i]].dev,
		    g->items[order[j]].dev, ID_LEN) == 0; j++)
			;
		groups[ngroups].first = i;
		groups[ngroups].n = j - i;
		ngroups++;
	}
	for (i = 0; i < ngroups; i++)
		if ((rc = prepare(g, &groups[i], order)) != 0)
			goto out;
	if ((rc = sdb_vclock(b->txn, g->s, &g->vc)) != 0)
		goto out;
	do {
		progress = 0;
		for (i = 0; i < ngroups; i++)
			if ((rc = advance(g, &groups[i], &progress, 0)) != 0)
				goto out;
	} while (progress);
	for (i = 0; i < ngroups; i++)
		if ((rc = advance(g, &groups[i], &progress, 1)) != 0)
			goto out;
	/* Same seq twice in the input: now compare with what is held. */
	for (i = 0; i < norder; i++) {
		it = &g->items[order[i]];
		if (it->st == ST_LATE && (rc = fork_or_dup(g, it)) != 0)
			goto out;
	}
	rc = cache_end(b);
out:
	if (rc != 0) {
		cache_drop(b);
		cache_set_on(b, 0);
	}
	if (rc != 0 && rc != CAJA_EFULL)
		b->dead = 1;
	for (i = 0; groups != NULL && i < ngroups; i++)
		free(groups[i].run);
	free(groups);
	free(order);
	if (g != NULL) {
		free(g->items);
		free(g->ev);
		free(g->dev);
		free(g->dep);
		free(g->pl);
	}
	free(g);
	return rc;
}

int
store_ingest(struct store_batch *b, const uint8_t *const *frames,
    const size_t *lens, size_t n, uint64_t now_ms, struct store_report *rep)
{
	return ingest_frames(b, frames, lens, n, now_ms, rep, NULL, NULL,
	    NULL);
}
