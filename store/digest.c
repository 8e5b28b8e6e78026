/*
 * digest: one hash of the store's replicated content.
 *
 * BLAKE2b-256 over a domain string, then the log's keys and event ids in
 * key order, then each replicated database (devices, invites, products,
 * customers, sales, conflicts, totals) by name, its keys and values in key
 * order, every piece length-prefixed. Records are canonical, so two
 * registers with the same events give the same digest; meta (keys, this
 * device, HLC, counters) is local and left out. So is fork evidence (the
 * forks database and the values of `fork` conflicts): which second branch
 * of a forked device a register happened to see is its own observation,
 * not accepted content; that the device is forked (its device record) and
 * how the fork was resolved (a ConflictResolved event) are in.
 */
#include <stdlib.h>
#include <string.h>

#include "store/rec.h"
#include "store/sdb.h"

#define DIGEST_DOMAIN	"caja-digest-v1"

static const int digest_dbs[] = { DB_DEVICES, DB_INVITES, DB_PRODUCTS,
    DB_CUSTOMERS, DB_SALES, DB_CONFLICTS, DB_TOTALS };

static void
put_len(struct sig_hasher *h, size_t len)
{
	uint8_t	b[8];

	sdb_be64_put(b, (uint64_t)len);
	sig_hasher_update(h, b, sizeof(b));
}

/* 1 for a `fork` conflict record (left out: see above). */
static int
is_fork_record(const MDB_val *v, struct rec_conflict *c)
{
	return rec_conflict_decode(v->mv_data, v->mv_size, c) == 0 &&
	    strcmp(c->type, "fork") == 0;
}

static int
hash_db(MDB_txn *txn, struct store *s, int db, struct sig_hasher *h)
{
	struct rec_conflict	*rc_buf = NULL;
	MDB_cursor		*c;
	MDB_val			 k, v;
	uint8_t			 id[HASH_LEN];
	int			 rc, op = MDB_FIRST;

	put_len(h, strlen(sdb_names[db]));
	sig_hasher_update(h, (const uint8_t *)sdb_names[db],
	    strlen(sdb_names[db]));
	if (db == DB_CONFLICTS && (rc_buf = malloc(sizeof(*rc_buf))) == NULL)
		return CAJA_ENOMEM;
	if ((rc = sdb_err(mdb_cursor_open(txn, s->dbi[db], &c))) != 0) {
		free(rc_buf);
		return rc;
	}
	while ((rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if (rc_buf != NULL && is_fork_record(&v, rc_buf))
			continue;
		put_len(h, k.mv_size);
		sig_hasher_update(h, k.mv_data, k.mv_size);
		if (db == DB_LOG) {
			sig_hash(id, v.mv_data, v.mv_size);
			sig_hasher_update(h, id, sizeof(id));
		} else {
			put_len(h, v.mv_size);
			sig_hasher_update(h, v.mv_data, v.mv_size);
		}
	}
	mdb_cursor_close(c);
	free(rc_buf);
	return rc == MDB_NOTFOUND ? 0 : sdb_err(rc);
}

int
store_digest(struct store *s, uint8_t out[HASH_LEN])
{
	struct sig_hasher	h;
	MDB_txn			*txn;
	size_t			 i;
	int			 rc;

	if ((rc = sdb_rtxn(s, &txn)) != 0)
		return rc;
	sig_hasher_init(&h);
	sig_hasher_update(&h, (const uint8_t *)DIGEST_DOMAIN,
	    sizeof(DIGEST_DOMAIN) - 1);
	rc = hash_db(txn, s, DB_LOG, &h);
	for (i = 0; rc == 0 && i < sizeof(digest_dbs) / sizeof(digest_dbs[0]);
	    i++)
		rc = hash_db(txn, s, digest_dbs[i], &h);
	mdb_txn_abort(txn);
	if (rc == 0)
		sig_hasher_final(&h, out);
	return rc;
}

int
store_vclock(struct store *s, struct vclock *vc)
{
	MDB_txn	*txn;
	int	 rc;

	if ((rc = sdb_rtxn(s, &txn)) != 0)
		return rc;
	rc = sdb_vclock(txn, s, vc);
	mdb_txn_abort(txn);
	return rc;
}

int
store_count(struct store *s, uint64_t *n)
{
	MDB_txn		*txn;
	MDB_stat	 st;
	int		 rc;

	*n = 0;
	if ((rc = sdb_rtxn(s, &txn)) != 0)
		return rc;
	rc = sdb_err(mdb_stat(txn, s->dbi[DB_LOG], &st));
	mdb_txn_abort(txn);
	if (rc == 0)
		*n = st.ms_entries;
	return rc;
}
