/*
 * cache: the write-back cache of one batch's hot records, so that merging
 * a run of received events reads and writes each record in LMDB once per
 * run, not once per event.
 *
 * What it holds: device records (decoded: each event reads its author
 * several times and rewrites it), the read-model records of products,
 * customers, sales and totals (their canonical bytes: a product is read
 * and rewritten by every sale of it) and conflict records (a price
 * written concurrently replaces its pending conflict at every write), and
 * the ids of the events merged (conflict records name them). A record
 * absent from LMDB is cached as absent, so a miss costs one lookup.
 *
 * When it is active: only inside ingest_frames() (cache_begin() ...
 * cache_end()), and only for the batch's own transaction. Outside it, or
 * in a nested transaction (local appends), sdb_dev_*() and cache_get/put/
 * del() go straight to LMDB. So nothing else ever sees LMDB without the
 * cached writes: cache_end() writes them back before ingest_frames()
 * returns, and sdb_dev_foreach() writes the devices back before walking
 * them.
 *
 * Stock: a sale changes only the stock counter of each of its products,
 * so cache_stock_add() adds the change to the cached product as a pending
 * delta, without decoding it; the sum goes into the record when it is next
 * read or written back. Counters commute and wrap (crdt.c rule 3): the
 * result is the same bytes as adding one event at a time.
 *
 * Aborted transactions: sdb_batch_grow() drops the cache (cache_drop())
 * before it replays the batch, with the cache off, into a new transaction.
 *
 * Bounds: CACHE_BYTES_MAX of record bytes and CACHE_DEVS_MAX devices; past
 * either, cache_trim() writes everything back and starts empty. Dirty
 * records are written in (database, key) order, through the batch's
 * cursors (sdb_bput): LMDB's writes stay local and mostly skip the search
 * from the root.
 */
#include <stdlib.h>
#include <string.h>

#include "store/rec.h"
#include "store/sdb.h"

#define CACHE_BYTES_MAX	(32u << 20)
#define CACHE_DEVS_MAX	256
#define CACHE_SLOTS_MIN	1024	/* power of two */
#define CACHE_KPRE	24	/* key bytes kept in the slot: most ids */
#define CACHE_IDS	4096	/* event ids remembered (power of two) */
#define CACHE_IDS_FROM	64	/* ... once a batch merged this many */

enum { E_FREE, E_CLEAN, E_DIRTY };

struct centry {
	uint8_t		 state;		/* E_* */
	uint8_t		 db;
	uint8_t		 loaded;	/* LMDB asked, or value set */
	uint8_t		 absent;	/* no record (miss, deleted) */
	uint8_t		 pending;	/* products: stock delta to add */
	int64_t		 delta;
	uint16_t	 klen;
	uint32_t	 vlen, cap;	/* value bytes, room after the key */
	uint64_t	 hash;
	uint8_t		 kpre[CACHE_KPRE];	/* the key's first bytes */
	uint8_t		*mem;		/* key, then value */
};

struct cdev {
	int		absent;
	int		dirty;
	struct sdb_dev	d;
};

/* The id of the event at (dev, seq) of the log, as merged by this batch. */
struct cid {
	uint64_t	seq;		/* 0: empty */
	uint8_t		dev[ID_LEN];
	uint8_t		id[HASH_LEN];
};

struct sdb_cache {
	int		 on;
	struct cid	*ids;		/* CACHE_IDS, direct-mapped */
	struct centry	*slot;
	size_t		 nslots, used;	/* used: non-free slots */
	size_t		 bytes;
	struct cdev	*dev;
	size_t		 ndev, capdev;
	struct rec_product *prod;	/* scratch of materialize() */
	struct buf	 enc;		/* scratch of materialize() */
};

static int
is_cached_db(int db)
{
	return db == DB_PRODUCTS || db == DB_CUSTOMERS || db == DB_SALES ||
	    db == DB_TOTALS || db == DB_CONFLICTS;
}

static struct sdb_cache *
active(struct store *s, MDB_txn *txn)
{
	struct store_batch	*b = s->batch;

	if (b == NULL || b->cache == NULL || !b->cache->on || txn != b->txn)
		return NULL;
	return b->cache;
}

static uint64_t
hash_of(int db, const uint8_t *k, size_t kl)
{
	uint64_t	h = 0xcbf29ce484222325ull ^ (uint64_t)db, w;
	size_t		i = 0;

	/* 8 bytes a step (keys are ids of a few to 64 bytes) */
	for (; i + 8 <= kl; i += 8) {
		memcpy(&w, k + i, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ull;
		h ^= h >> 32;
	}
	for (; i < kl; i++)
		h = (h ^ k[i]) * 0x100000001b3ull;
	/* murmur3's finalizer: the table uses the low bits */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 33);
}

static void
entries_free(struct sdb_cache *c)
{
	size_t	i;

	for (i = 0; i < c->nslots; i++)
		free(c->slot[i].mem);
	free(c->slot);
	c->slot = NULL;
	c->nslots = c->used = c->bytes = 0;
	c->ndev = 0;
}

static struct centry *
lookup(struct sdb_cache *c, int db, const uint8_t *k, size_t kl,
    uint64_t h)
{
	struct centry	*e;
	size_t		 i;

	if (c->nslots == 0)
		return NULL;
	for (i = h & (c->nslots - 1);; i = (i + 1) & (c->nslots - 1)) {
		e = &c->slot[i];
		if (e->state == E_FREE)
			return e;
		/* the slot holds short keys whole: no miss on e->mem */
		if (e->hash == h && e->db == db && e->klen == kl &&
		    memcmp(e->kpre, k, kl < CACHE_KPRE ? kl : CACHE_KPRE) ==
		    0 && (kl <= CACHE_KPRE || memcmp(e->mem + CACHE_KPRE,
		    k + CACHE_KPRE, kl - CACHE_KPRE) == 0))
			return e;
	}
}

static int
grow_table(struct sdb_cache *c)
{
	struct centry	*old = c->slot, *e;
	size_t		 n = c->nslots, i;

	c->nslots = n == 0 ? CACHE_SLOTS_MIN : n * 2;
	if ((c->slot = calloc(c->nslots, sizeof(*c->slot))) == NULL) {
		c->slot = old;
		c->nslots = n;
		return CAJA_ENOMEM;
	}
	for (i = 0; i < n; i++) {
		if (old[i].state == E_FREE)
			continue;
		e = lookup(c, old[i].db, old[i].mem, old[i].klen, old[i].hash);
		*e = old[i];
	}
	free(old);
	return 0;
}

/* The slot of (db, key), claimed when new (state E_CLEAN, absent, empty). */
static int
claim(struct sdb_cache *c, int db, const uint8_t *k, size_t kl,
    struct centry **out)
{
	struct centry	*e;
	uint64_t	 h = hash_of(db, k, kl);
	int		 rc;

	if (kl > UINT16_MAX)
		return CAJA_ETOOBIG;
	if ((c->used + 1) * 4 > c->nslots * 3 && (rc = grow_table(c)) != 0)
		return rc;
	e = lookup(c, db, k, kl, h);
	if (e->state == E_FREE) {
		if ((e->mem = malloc(kl + 64)) == NULL)
			return CAJA_ENOMEM;
		memcpy(e->mem, k, kl);
		memcpy(e->kpre, k, kl < CACHE_KPRE ? kl : CACHE_KPRE);
		e->state = E_CLEAN;
		e->db = (uint8_t)db;
		e->loaded = 0;
		e->absent = 1;
		e->pending = 0;
		e->delta = 0;
		e->klen = (uint16_t)kl;
		e->vlen = 0;
		e->cap = 64;
		e->hash = h;
		c->used++;
		c->bytes += kl + 64;
	}
	*out = e;
	return 0;
}

static int
set_value(struct sdb_cache *c, struct centry *e, const void *v, size_t vl)
{
	uint8_t	*m;
	size_t	 cap;

	if (vl > UINT32_MAX / 2)
		return CAJA_ETOOBIG;
	if (vl > e->cap) {
		cap = vl + vl / 2;
		if ((m = realloc(e->mem, e->klen + cap)) == NULL)
			return CAJA_ENOMEM;
		c->bytes += cap - e->cap;
		e->mem = m;
		e->cap = (uint32_t)cap;
	}
	if (vl > 0)
		memcpy(e->mem + e->klen, v, vl);
	e->vlen = (uint32_t)vl;
	e->absent = 0;
	e->loaded = 1;
	return 0;
}

/* Loads an entry from LMDB unless done already. */
static int
load(struct store *s, MDB_txn *txn, struct sdb_cache *c, struct centry *e)
{
	MDB_val	v;
	int	rc;

	if (e->loaded)
		return 0;
	rc = sdb_bget(s, txn, e->db, e->mem, e->klen, &v);
	if (rc == 0)
		return set_value(c, e, v.mv_data, v.mv_size);
	if (rc == CAJA_ENOTFOUND) {
		e->loaded = 1;
		return 0;
	}
	return rc;
}

/* Adds a product's pending stock delta into its record (created when
 * absent, as the direct path does). */
static int
materialize(struct store *s, MDB_txn *txn, struct sdb_cache *c,
    struct centry *e)
{
	int	rc;

	if (!e->pending)
		return 0;
	if ((rc = load(s, txn, c, e)) != 0)
		return rc;
	if (c->prod == NULL && (c->prod = malloc(sizeof(*c->prod))) == NULL)
		return CAJA_ENOMEM;
	if (e->absent)
		rec_product_init(c->prod);
	else if ((rc = rec_product_decode(e->mem + e->klen, e->vlen,
	    c->prod)) != 0)
		return rc;
	crdt_counter_add(&c->prod->stock, e->delta);
	buf_clear(&c->enc);
	if ((rc = rec_product_encode(c->prod, &c->enc)) != 0 ||
	    (rc = set_value(c, e, c->enc.p, c->enc.len)) != 0)
		return rc;
	e->pending = 0;
	e->delta = 0;
	e->state = E_DIRTY;
	return 0;
}

int
cache_begin(struct store_batch *b)
{
	if (b->cache == NULL && (b->cache = calloc(1, sizeof(*b->cache))) ==
	    NULL)
		return CAJA_ENOMEM;
	b->cache->on = 1;
	return 0;
}

int
cache_is_on(const struct store_batch *b)
{
	return b->cache != NULL && b->cache->on;
}

void
cache_set_on(struct store_batch *b, int on)
{
	if (b->cache != NULL)
		b->cache->on = on;
}

void
cache_drop(struct store_batch *b)
{
	if (b->cache == NULL)
		return;
	entries_free(b->cache);
	if (b->cache->ids != NULL)
		memset(b->cache->ids, 0, CACHE_IDS * sizeof(*b->cache->ids));
}

void
cache_free(struct store_batch *b)
{
	if (b->cache == NULL)
		return;
	entries_free(b->cache);
	free(b->cache->ids);
	free(b->cache->dev);
	free(b->cache->prod);
	buf_reset(&b->cache->enc);
	free(b->cache);
	b->cache = NULL;
}

static int
ent_cmp(const void *x, const void *y)
{
	const struct centry	*a = *(const struct centry *const *)x;
	const struct centry	*b = *(const struct centry *const *)y;
	size_t			 m;
	int			 c;

	if (a->db != b->db)
		return a->db < b->db ? -1 : 1;
	m = a->klen < b->klen ? a->klen : b->klen;
	if ((c = memcmp(a->kpre, b->kpre, m < CACHE_KPRE ? m :
	    CACHE_KPRE)) != 0)
		return c;
	if (m > CACHE_KPRE && (c = memcmp(a->mem + CACHE_KPRE,
	    b->mem + CACHE_KPRE, m - CACHE_KPRE)) != 0)
		return c;
	return (a->klen > b->klen) - (a->klen < b->klen);
}

/* Writes the dirty devices and records into the batch's transaction. */
static int
write_back(struct store_batch *b)
{
	struct sdb_cache	 *c = b->cache;
	struct store		 *s = b->s;
	struct centry		**dirty = NULL, *e;
	size_t			  i, n = 0;
	int			  rc = 0, on = c->on;

	c->on = 0;	/* so that sdb_dev_put() writes through */
	for (i = 0; i < c->ndev; i++) {
		if (!c->dev[i].dirty)
			continue;
		if ((rc = sdb_dev_put(b->txn, s, &c->dev[i].d)) != 0)
			goto out;
		c->dev[i].dirty = 0;
	}
	for (i = 0; i < c->nslots; i++) {
		if ((rc = materialize(s, b->txn, c, &c->slot[i])) != 0)
			goto out;
		n += c->slot[i].state == E_DIRTY;
	}
	if (n == 0)
		goto out;
	if ((dirty = malloc(n * sizeof(*dirty))) == NULL) {
		rc = CAJA_ENOMEM;
		goto out;
	}
	for (i = 0, n = 0; i < c->nslots; i++)
		if (c->slot[i].state == E_DIRTY)
			dirty[n++] = &c->slot[i];
	qsort(dirty, n, sizeof(*dirty), ent_cmp);
	for (i = 0; i < n; i++) {
		e = dirty[i];
		/* in key order, through the batch's cursor (sdb_bput) */
		if (e->absent)
			rc = sdb_del(b->txn, s->dbi[e->db], e->mem, e->klen);
		else
			rc = sdb_bput(s, b->txn, e->db, e->mem, e->klen,
			    e->mem + e->klen, e->vlen);
		if (rc != 0)
			goto out;
		e->state = E_CLEAN;
	}
out:
	free(dirty);
	c->on = on;
	return rc;
}

int
cache_end(struct store_batch *b)
{
	int	rc;

	if (b->cache == NULL || !b->cache->on)
		return 0;
	for (;;) {
		if (b->dead || b->txn == NULL) {
			rc = CAJA_EFULL;
			break;
		}
		rc = write_back(b);
		if (rc != SDB_EMAPFULL)
			break;
		/* drops the cache and replays the batch, cache off */
		if ((rc = sdb_batch_grow(b)) != 0)
			break;
	}
	b->cache->on = 0;
	entries_free(b->cache);
	if (rc != 0)
		b->dead = 1;
	return rc;
}

int
cache_trim(struct store_batch *b)
{
	struct sdb_cache	*c = b->cache;
	int			 rc;

	if (c == NULL || !c->on || (c->bytes < CACHE_BYTES_MAX &&
	    c->ndev < CACHE_DEVS_MAX))
		return 0;
	if ((rc = cache_end(b)) != 0)
		return rc;
	c->on = 1;
	return 0;
}

int
cache_get(struct store *s, MDB_txn *txn, int db, const void *k, size_t kl,
    MDB_val *v)
{
	struct sdb_cache	*c;
	struct centry		*e;
	int			 rc;

	if (!is_cached_db(db) || (c = active(s, txn)) == NULL)
		return sdb_get(txn, s->dbi[db], k, kl, v);
	if ((rc = claim(c, db, k, kl, &e)) != 0)
		return rc;
	/* first sight: ask LMDB once (a miss stays cached); then add what
	 * stock is pending */
	if ((rc = load(s, txn, c, e)) != 0 ||
	    (rc = materialize(s, txn, c, e)) != 0)
		return rc;
	if (e->absent)
		return CAJA_ENOTFOUND;
	v->mv_data = e->mem + e->klen;
	v->mv_size = e->vlen;
	return 0;
}

int
cache_put(struct store *s, MDB_txn *txn, int db, const void *k, size_t kl,
    const void *v, size_t vl)
{
	struct sdb_cache	*c;
	struct centry		*e;
	int			 rc;

	if (!is_cached_db(db) || (c = active(s, txn)) == NULL)
		return sdb_put(txn, s->dbi[db], k, kl, v, vl);
	if ((rc = claim(c, db, k, kl, &e)) != 0 ||
	    (rc = set_value(c, e, v, vl)) != 0)
		return rc;
	/* a whole new value: what was pending is in it or overwritten, as
	 * it would be without the cache */
	e->pending = 0;
	e->delta = 0;
	e->state = E_DIRTY;
	return 0;
}

int
cache_del(struct store *s, MDB_txn *txn, int db, const void *k, size_t kl)
{
	struct sdb_cache	*c;
	struct centry		*e;
	int			 rc;

	if (!is_cached_db(db) || (c = active(s, txn)) == NULL)
		return sdb_del(txn, s->dbi[db], k, kl);
	if ((rc = claim(c, db, k, kl, &e)) != 0)
		return rc;
	e->absent = 1;
	e->loaded = 1;
	e->vlen = 0;
	e->pending = 0;
	e->delta = 0;
	e->state = E_DIRTY;
	return 0;
}

int
cache_product_get(struct store *s, MDB_txn *txn, const char *id,
    size_t len, MDB_val *v, int64_t *pending)
{
	struct sdb_cache	*c;
	struct centry		*e;
	int			 rc;

	*pending = 0;
	if ((c = active(s, txn)) == NULL)
		return sdb_get(txn, s->dbi[DB_PRODUCTS], id, len, v);
	if ((rc = claim(c, DB_PRODUCTS, (const uint8_t *)id, len, &e)) != 0 ||
	    (rc = load(s, txn, c, e)) != 0)
		return rc;
	/* left pending: the caller's cache_put() of the record includes it */
	if (e->pending)
		*pending = e->delta;
	if (e->absent)
		return CAJA_ENOTFOUND;
	v->mv_data = e->mem + e->klen;
	v->mv_size = e->vlen;
	return 0;
}

int
cache_stock_add(struct store *s, MDB_txn *txn, const char *id, size_t len,
    int64_t delta, int *done)
{
	struct sdb_cache	*c;
	struct centry		*e;
	int			 rc;

	*done = 0;
	if ((c = active(s, txn)) == NULL)
		return 0;
	if ((rc = claim(c, DB_PRODUCTS, (const uint8_t *)id, len, &e)) != 0)
		return rc;
	e->pending = 1;
	crdt_counter_add(&e->delta, delta);
	*done = 1;
	return 0;
}

/* ---- device records (sdb.c routes sdb_dev_get/put here) ---- */

/* *dst = *src without the unused tail of its vv (1.5 KB). */
static void
dev_copy(struct sdb_dev *dst, const struct sdb_dev *src)
{
	size_t	vo = offsetof(struct sdb_dev, vv);
	size_t	ve = vo + sizeof(src->vv);

	memcpy(dst, src, vo);
	vclock_copy(&dst->vv, &src->vv);
	memcpy((char *)dst + ve, (const char *)src + ve, sizeof(*src) - ve);
}

static struct cdev *
dev_find(struct sdb_cache *c, const uint8_t id[ID_LEN])
{
	size_t	i;

	for (i = 0; i < c->ndev; i++)
		if (memcmp(c->dev[i].d.id, id, ID_LEN) == 0)
			return &c->dev[i];
	return NULL;
}

static struct cdev *
dev_add(struct sdb_cache *c, const uint8_t id[ID_LEN])
{
	struct cdev	*n;
	size_t		 cap;

	if (c->ndev == CACHE_DEVS_MAX)
		return NULL;	/* full: LMDB's until cache_trim() */
	if (c->ndev == c->capdev) {
		cap = c->capdev == 0 ? 8 : c->capdev * 2;
		if ((n = realloc(c->dev, cap * sizeof(*n))) == NULL)
			return NULL;	/* then LMDB's */
		c->dev = n;
		c->capdev = cap;
	}
	n = &c->dev[c->ndev++];
	memset(n, 0, sizeof(*n));
	memcpy(n->d.id, id, ID_LEN);
	return n;
}

/* 1 when served from the cache (rc in *rc), 0 when LMDB must answer. */
int
cache_dev_get(struct store *s, MDB_txn *txn, const uint8_t id[ID_LEN],
    struct sdb_dev *d, int *rc)
{
	struct sdb_cache	*c;
	struct cdev		*e;

	if ((c = active(s, txn)) == NULL)
		return 0;
	if ((e = dev_find(c, id)) == NULL) {
		c->on = 0;
		*rc = sdb_dev_get(txn, s, id, d);
		c->on = 1;
		if (*rc != 0 && *rc != CAJA_ENOTFOUND)
			return 1;
		if ((e = dev_add(c, id)) == NULL)
			return 1;
		e->absent = *rc == CAJA_ENOTFOUND;
		if (!e->absent)
			dev_copy(&e->d, d);
		return 1;
	}
	if (e->absent) {
		*rc = CAJA_ENOTFOUND;
		return 1;
	}
	dev_copy(d, &e->d);
	*rc = 0;
	return 1;
}

int
cache_dev_put(struct store *s, MDB_txn *txn, const struct sdb_dev *d,
    int *rc)
{
	struct sdb_cache	*c;
	struct cdev		*e;

	if ((c = active(s, txn)) == NULL)
		return 0;
	if ((e = dev_find(c, d->id)) == NULL && (e = dev_add(c, d->id)) ==
	    NULL)
		return 0;	/* full: write through */
	dev_copy(&e->d, d);
	e->absent = 0;
	e->dirty = 1;
	*rc = 0;
	return 1;
}

int
cache_dev_sync(struct store *s, MDB_txn *txn)
{
	struct sdb_cache	*c;
	size_t			 i;
	int			 rc;

	if ((c = active(s, txn)) == NULL)
		return 0;
	c->on = 0;
	for (i = 0, rc = 0; i < c->ndev && rc == 0; i++) {
		if (!c->dev[i].dirty)
			continue;
		if ((rc = sdb_dev_put(txn, s, &c->dev[i].d)) == 0)
			c->dev[i].dirty = 0;
	}
	c->on = 1;
	return rc;
}

/* ---- event ids ---- */

static struct cid *
id_slot(struct sdb_cache *c, const uint8_t dev[ID_LEN], uint64_t seq)
{
	uint64_t	w;

	memcpy(&w, dev, sizeof(w));
	return &c->ids[(hash_of(DB_LOG, (const uint8_t *)&seq, sizeof(seq)) ^
	    w) & (CACHE_IDS - 1)];
}

void
cache_log_id_note(struct store_batch *b, const uint8_t dev[ID_LEN],
    uint64_t seq, const uint8_t id[HASH_LEN])
{
	struct sdb_cache	*c = b->cache;
	struct cid		*e;

	if (c == NULL || !c->on || seq == 0)
		return;
	/* Only for runs worth it (catch-ups, imports): a live event or two
	 * per batch reads its conflicts' ids from LMDB. */
	if (c->ids == NULL && (b->nops < CACHE_IDS_FROM ||
	    (c->ids = calloc(CACHE_IDS, sizeof(*c->ids))) == NULL))
		return;		/* a memo: LMDB answers instead */
	e = id_slot(c, dev, seq);
	e->seq = seq;
	memcpy(e->dev, dev, ID_LEN);
	memcpy(e->id, id, HASH_LEN);
}

int
cache_log_id(struct store *s, MDB_txn *txn, const uint8_t dev[ID_LEN],
    uint64_t seq, uint8_t id[HASH_LEN])
{
	struct sdb_cache	*c;
	struct cid		*e;

	if ((c = active(s, txn)) == NULL || c->ids == NULL)
		return 0;
	e = id_slot(c, dev, seq);
	if (e->seq != seq || memcmp(e->dev, dev, ID_LEN) != 0)
		return 0;
	memcpy(id, e->id, HASH_LEN);
	return 1;
}
