/*
 * peerview: what the agent's peer sessions need of the store, beyond the
 * general API: the transport identity of each device (how it enrolled),
 * open invites, per-device range reads for catch-up, and ingest with a
 * verdict per frame (so that refusals are counted against the peer that
 * sent them). Declarations at the end of store/store.h.
 */
#include <stdlib.h>
#include <string.h>

#include "store/rec.h"
#include "store/sdb.h"

void
store_public_key(const struct store *s, uint8_t out[SIG_PK_LEN])
{
	memcpy(out, s->store_pk, SIG_PK_LEN);
}

const struct sig_key *
store_admin_key(const struct store *s)
{
	return s->store_key;
}

struct pv_each {
	int			(*fn)(void *, const struct store_peer_dev *);
	void			*arg;
	struct store_peer_dev	 pd;
};

static int
pv_each_cb(void *arg, const struct sdb_dev *d)
{
	struct pv_each		*e = arg;
	struct store_device	*o = &e->pd.d;

	memset(&e->pd, 0, sizeof(e->pd));
	memcpy(o->id, d->id, ID_LEN);
	memcpy(o->pk, d->pk, SIG_PK_LEN);
	memcpy(o->name, d->name, sizeof(o->name));
	memcpy(o->role, d->role, sizeof(o->role));
	o->enrolled_hlc = d->enrolled_hlc;
	o->revoked = d->revoked;
	o->revoked_upto = d->revoked_upto;
	o->head_seq = d->head_seq;
	o->forked = d->forked;
	/* Enrolled by the store key itself: the store's first device. */
	e->pd.genesis = !d->has_invite;
	return e->fn(e->arg, &e->pd);
}

int
store_peer_foreach(struct store *s,
    int (*fn)(void *, const struct store_peer_dev *), void *arg)
{
	struct pv_each	*e;
	MDB_txn		*txn;
	int		 rc;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return CAJA_ENOMEM;
	e->fn = fn;
	e->arg = arg;
	if ((rc = sdb_rtxn(s, &txn)) == 0) {
		rc = sdb_dev_foreach(txn, s, pv_each_cb, e);
		mdb_txn_abort(txn);
	}
	free(e);
	return rc;
}

int
store_invites_open(struct store *s, uint64_t now_ms, size_t *n)
{
	struct rec_invite	 iv;
	MDB_txn			*txn = NULL;
	MDB_cursor		*c = NULL;
	MDB_val			 k, v;
	int			 rc, op = MDB_FIRST;

	*n = 0;
	if ((rc = sdb_rtxn(s, &txn)) != 0)
		return rc;
	if ((rc = sdb_err(mdb_cursor_open(txn, s->dbi[DB_INVITES], &c))) != 0)
		goto out;
	while ((rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if (rec_invite_decode(v.mv_data, v.mv_size, &iv) != 0)
			continue;
		if (!iv.used && iv.expires_ms >= now_ms)
			(*n)++;
	}
	rc = rc == MDB_NOTFOUND ? 0 : sdb_err(rc);
out:
	if (c != NULL)
		mdb_cursor_close(c);
	mdb_txn_abort(txn);
	return rc;
}

int
store_frames_range(struct store *s, const uint8_t dev[ID_LEN],
    uint64_t from_seq, size_t max_count, size_t max_bytes,
    int (*fn)(void *, uint64_t, const uint8_t *, size_t), void *arg,
    size_t *count)
{
	MDB_txn		*txn = NULL;
	MDB_cursor	*c = NULL;
	MDB_val		 k, v;
	uint8_t		 key[SDB_LOGKEY_LEN];
	uint64_t	 seq, expect = from_seq;
	size_t		 n = 0, bytes = 0;
	int		 rc, op = MDB_SET_RANGE;

	*count = 0;
	if (from_seq == 0 || max_count == 0)
		return CAJA_EINVAL;
	if ((rc = sdb_rtxn(s, &txn)) != 0)
		return rc;
	if ((rc = sdb_err(mdb_cursor_open(txn, s->dbi[DB_LOG], &c))) != 0)
		goto out;
	sdb_log_key(key, dev, from_seq);
	k.mv_data = key;
	k.mv_size = sizeof(key);
	while (n < max_count && (rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if (k.mv_size != SDB_LOGKEY_LEN) {
			rc = CAJA_ECORRUPT;
			goto out;
		}
		if (memcmp(k.mv_data, dev, ID_LEN) != 0)
			break;
		seq = sdb_be64_get((uint8_t *)k.mv_data + ID_LEN);
		if (seq != expect)
			break;		/* a gap ends the run */
		if (n > 0 && max_bytes != 0 && bytes + v.mv_size > max_bytes)
			break;
		if ((rc = fn(arg, seq, v.mv_data, v.mv_size)) != 0)
			goto out;
		bytes += v.mv_size;
		n++;
		expect++;
	}
	rc = rc == 0 || rc == MDB_NOTFOUND ? 0 : sdb_err(rc);
out:
	if (c != NULL)
		mdb_cursor_close(c);
	mdb_txn_abort(txn);
	*count = n;
	return rc;
}

int
store_ingest_verdicts(struct store_batch *b, const uint8_t *const *frames,
    const size_t *lens, size_t n, uint64_t now_ms, struct store_report *rep,
    int *verdict, uint8_t *retry)
{
	return ingest_frames(b, frames, lens, n, now_ms, rep, verdict, retry,
	    NULL);
}
