/*
 * apply: puts one verified event into the log and applies it to the read
 * models with the merge rules of crdt.c, in the caller's transaction.
 *
 * The one code path for local appends, received events and replays after
 * map growth. Effects are functions of the event and the state only (never
 * of arrival time), so that every register ends with the same records.
 * An event whose payload does not decode or whose rule does not apply (a
 * DeviceInvited from a non-admin, a revocation of an unknown device) stays
 * in the log and changes nothing else: its chain must not stall.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/rec.h"
#include "store/sdb.h"

#define FORK_DOMAIN	"caja-fork-v1"

struct actx {
	struct store		*s;
	MDB_txn			*txn;
	const struct event	*ev;
	const uint8_t		*id;
	struct crdt_stamp	 st;
	struct vclock		 vv;
	struct payload		 pl;
	struct sdb_dev		 author;
	uint8_t			*state;
};

static const char *const price_field[REC_PRICES] = { "price_bs",
    "price_usd" };

int
apply_full_vv(const struct sdb_dev *author, const struct event *ev,
    struct vclock *out)
{
	int	rc;

	vclock_init(out);
	if (author != NULL) {
		vclock_copy(out, &author->vv);
		if ((rc = vclock_set(out, ev->dev, 0)) != 0)
			return rc;
	}
	if ((rc = vclock_apply_delta(out, &ev->ctx)) != 0)
		return rc;
	return vclock_set(out, ev->dev, ev->seq);
}

static int
put_record(struct actx *a, int db, const char *key, size_t klen,
    const struct buf *b)
{
	if (a->state != NULL)
		sig_hash(a->state, b->p, b->len);
	return cache_put(a->s, a->txn, db, key, klen, b->p, b->len);
}

/* Loads a record's bytes into raw (a copy: LMDB pages move on write). */
static int
load_raw(struct actx *a, int db, const void *key, size_t klen,
    struct buf *raw)
{
	MDB_val	v;
	int	rc;

	buf_clear(raw);
	if ((rc = cache_get(a->s, a->txn, db, key, klen, &v)) != 0)
		return rc;
	return buf_add(raw, v.mv_data, v.mv_size);
}

/* ---- conflicts ---- */

static void
conflict_from_mv(struct actx *a, const struct crdt_mv *mv,
    const struct vclock *only, const char *kind, const char *entity,
    const char *field, struct rec_conflict *c)
{
	uint32_t	i;

	rec_conflict_init(c);
	rec_strlcpy(c->type, sizeof(c->type), "concurrent_update", 17);
	rec_strlcpy(c->entity_type, sizeof(c->entity_type), kind,
	    strlen(kind));
	rec_strlcpy(c->entity_id, sizeof(c->entity_id), entity,
	    strlen(entity));
	rec_strlcpy(c->field, sizeof(c->field), field, strlen(field));
	rec_strlcpy(c->strategy, sizeof(c->strategy), "manual", 6);
	rec_strlcpy(c->status, sizeof(c->status), "pending", 7);
	rec_strlcpy(c->priority, sizeof(c->priority), "high", 4);
	for (i = 0; i < mv->n && c->nvalues < REC_VALUES_MAX; i++) {
		const struct crdt_mv_entry	*e = &mv->e[i];
		struct rec_cval			*v = &c->values[c->nvalues];

		if (only != NULL && !crdt_happened_before(&e->st, only))
			continue;
		memcpy(v->value, e->value, e->value_len);
		v->value_len = e->value_len;
		if (e->st.seq == a->st.seq &&
		    memcmp(e->st.dev, a->st.dev, ID_LEN) == 0)
			memcpy(v->event_id, a->id, HASH_LEN);
		else if (sdb_log_id(a->txn, a->s, e->st.dev, e->st.seq,
		    v->event_id) != 0)
			memset(v->event_id, 0, HASH_LEN);
		memcpy(v->dev, e->st.dev, ID_LEN);
		v->hlc = e->st.hlc;
		v->seq = e->st.seq;
		c->nvalues++;
	}
}

static int
conflict_put(struct actx *a, const uint8_t cid[ID_LEN],
    const struct rec_conflict *c)
{
	struct buf	b;
	int		rc;

	buf_init(&b, 0);
	if ((rc = rec_conflict_encode(c, &b)) == 0)
		rc = cache_put(a->s, a->txn, DB_CONFLICTS, cid, ID_LEN,
		    b.p, b.len);
	buf_reset(&b);
	return rc;
}

static int
conflict_get(struct actx *a, const uint8_t cid[ID_LEN],
    struct rec_conflict *c)
{
	MDB_val	v;
	int	rc;

	if ((rc = cache_get(a->s, a->txn, DB_CONFLICTS, cid, ID_LEN,
	    &v)) != 0)
		return rc;
	return rec_conflict_decode(v.mv_data, v.mv_size, c);
}

/*
 * Marks c resolved by the ConflictResolved being applied. Of two
 * resolutions of one conflict, the greater (hlc, event id) settles the
 * record, whatever their order (crdt.c rule 8).
 */
static void
mark_resolved(struct actx *a, struct rec_conflict *c)
{
	if (c->resolved_at != 0 && (a->ev->hlc < c->resolved_at ||
	    (a->ev->hlc == c->resolved_at &&
	    memcmp(a->id, c->resolved_event, HASH_LEN) < 0)))
		return;
	rec_strlcpy(c->status, sizeof(c->status), "resolved", 8);
	if (a->pl.value_len <= CRDT_VALUE_MAX) {
		memcpy(c->res_value, a->pl.value, a->pl.value_len);
		c->res_value_len = a->pl.value_len;
	}
	rec_strlcpy(c->resolved_by, sizeof(c->resolved_by), a->pl.by.p,
	    a->pl.by.len);
	c->resolved_at = a->ev->hlc;
	memcpy(c->resolved_event, a->id, HASH_LEN);
}

/* Resolves an existing record (any kind). 0 when absent. */
static int
resolve_existing(struct actx *a, const uint8_t cid[ID_LEN], int *found)
{
	struct rec_conflict	*c;
	int			 rc;

	*found = 0;
	if ((c = malloc(sizeof(*c))) == NULL)
		return CAJA_ENOMEM;
	rc = conflict_get(a, cid, c);
	if (rc == CAJA_ENOTFOUND) {
		rc = 0;
		goto out;
	}
	if (rc != 0)
		goto out;
	*found = 1;
	mark_resolved(a, c);
	rc = conflict_put(a, cid, c);
out:
	free(c);
	return rc;
}

/*
 * Keeps the conflict records of one register in step with it, old -> new.
 * A pending record whose live set changed is replaced by the new one; a
 * record closed by the resolution being applied is marked resolved; one
 * that a later write made moot is deleted. A resolution of a conflict this
 * register never had (or already replaced) writes it resolved, with the
 * values the resolution covered: every register ends with the same set.
 */
static int
conflict_update(struct actx *a, const char *kind, const char *entity,
    const char *field, const struct crdt_mv *old, const struct crdt_mv *cur,
    const uint8_t *resolving)
{
	struct rec_conflict	*c = NULL;
	uint8_t			 oid[ID_LEN], nid[ID_LEN];
	int			 had, has, rc = 0, found, done = 0;

	had = crdt_mv_is_conflict(old);
	has = crdt_mv_is_conflict(cur);
	if (had)
		crdt_mv_conflict_id(old, kind, entity, field, oid);
	if (has)
		crdt_mv_conflict_id(cur, kind, entity, field, nid);
	if ((c = malloc(sizeof(*c))) == NULL)
		return CAJA_ENOMEM;
	if (had && (!has || memcmp(oid, nid, ID_LEN) != 0)) {
		if (resolving != NULL && memcmp(resolving, oid, ID_LEN) == 0) {
			if ((rc = resolve_existing(a, oid, &found)) != 0)
				goto out;
			done = found;
		} else {
			rc = conflict_get(a, oid, c);
			if (rc == 0 && strcmp(c->status, "pending") == 0)
				rc = cache_del(a->s, a->txn, DB_CONFLICTS,
				    oid, ID_LEN);
			else if (rc == CAJA_ENOTFOUND)
				rc = 0;
			if (rc != 0)
				goto out;
		}
	}
	if (resolving != NULL && !done) {
		if ((rc = resolve_existing(a, resolving, &found)) != 0)
			goto out;
		if (!found) {
			conflict_from_mv(a, old, &a->vv, kind, entity, field,
			    c);
			mark_resolved(a, c);
			if ((rc = conflict_put(a, resolving, c)) != 0)
				goto out;
		}
	}
	if (has && (!had || memcmp(oid, nid, ID_LEN) != 0)) {
		rc = conflict_get(a, nid, c);
		if (rc == CAJA_ENOTFOUND) {
			conflict_from_mv(a, cur, NULL, kind, entity, field, c);
			rc = conflict_put(a, nid, c);
		}
	}
out:
	free(c);
	return rc;
}

/* ---- competing creations (crdt.c rule 7) ---- */

/* The one conflict id of an entity's field (rule 7). */
static void
rival_id(const char *kind, const char *entity, const char *field,
    uint8_t cid[ID_LEN])
{
	struct crdt_mv	none;

	none.n = 0;
	crdt_mv_conflict_id(&none, kind, entity, field, cid);
}

/*
 * Adds `in` to the competing creations of (kind, entity, field). `first`
 * is the creation held so far, for when there is no record yet. The
 * record is rewritten (pending, resolution cleared: a new value was not
 * in any resolution's past) when the set changed and holds more than one
 * distinct value.
 */
static int
rival_add(struct actx *a, const char *type, const char *kind,
    const char *entity, const char *field, const char *strategy,
    const struct crdt_mv_entry *first, const struct crdt_mv_entry *in)
{
	struct crdt_mv		*set = NULL;
	struct rec_conflict	*c = NULL;
	uint8_t			 cid[ID_LEN];
	uint32_t		 i;
	int			 rc;

	set = calloc(1, sizeof(*set));
	c = malloc(sizeof(*c));
	if (set == NULL || c == NULL) {
		rc = CAJA_ENOMEM;
		goto out;
	}
	rival_id(kind, entity, field, cid);
	rc = conflict_get(a, cid, c);
	if (rc == CAJA_ENOTFOUND) {
		set->e[0] = *first;
		set->n = 1;
	} else if (rc == 0) {
		for (i = 0; i < c->nvalues && i < CRDT_MV_MAX; i++) {
			set->e[i].st.hlc = c->values[i].hlc;
			memcpy(set->e[i].st.dev, c->values[i].dev, ID_LEN);
			set->e[i].st.seq = c->values[i].seq;
			memcpy(set->e[i].value, c->values[i].value,
			    c->values[i].value_len);
			set->e[i].value_len = c->values[i].value_len;
		}
		set->n = i;
	} else
		goto out;
	rc = 0;
	if (!crdt_rival_add(set, in) || !crdt_mv_is_conflict(set))
		goto out;
	conflict_from_mv(a, set, NULL, kind, entity, field, c);
	rec_strlcpy(c->type, sizeof(c->type), type, strlen(type));
	rec_strlcpy(c->strategy, sizeof(c->strategy), strategy,
	    strlen(strategy));
	rc = conflict_put(a, cid, c);
out:
	free(set);
	free(c);
	return rc;
}

/* A ConflictResolved of competing creations: closes the conflict iff it
 * covers every value listed (rule 8). */
static int
rival_resolve(struct actx *a)
{
	struct rec_conflict	*c;
	struct crdt_stamp	 st;
	uint32_t		 i;
	int			 rc;

	if ((c = malloc(sizeof(*c))) == NULL)
		return CAJA_ENOMEM;
	rc = conflict_get(a, a->pl.conflict_id, c);
	if (rc == CAJA_ENOTFOUND) {
		rc = 0;
		goto out;
	}
	if (rc != 0)
		goto out;
	for (i = 0; i < c->nvalues; i++) {
		st.hlc = c->values[i].hlc;
		memcpy(st.dev, c->values[i].dev, ID_LEN);
		st.seq = c->values[i].seq;
		if (!crdt_happened_before(&st, &a->vv))
			goto out;
	}
	mark_resolved(a, c);
	rc = conflict_put(a, a->pl.conflict_id, c);
out:
	free(c);
	return rc;
}

/* A text value of a rival entry (canonical msgpack str). */
static int
rival_value(struct crdt_mv_entry *e, const char *text)
{
	struct buf	b;
	struct codec_wr	w;
	int		rc;

	buf_init(&b, CRDT_VALUE_MAX);
	codec_wr_init(&w, &b);
	codec_write_cstr(&w, text);
	if ((rc = codec_wr_error(&w)) == 0 && b.len > CRDT_VALUE_MAX)
		rc = CAJA_ETOOBIG;
	if (rc == 0) {
		memcpy(e->value, b.p, b.len);
		e->value_len = (uint32_t)b.len;
	}
	buf_reset(&b);
	return rc;
}

/* ---- products ---- */

static int
product_load(struct actx *a, const char *id, struct rec_product *p,
    struct buf *raw)
{
	MDB_val	v;
	int64_t	pending;
	int	rc;

	/* Every caller stores the record after: the stock still pending in
	 * the batch cache (sales) goes in with it. */
	buf_clear(raw);
	rc = cache_product_get(a->s, a->txn, id, strlen(id), &v, &pending);
	if (rc == 0)
		rc = buf_add(raw, v.mv_data, v.mv_size);
	if (rc == CAJA_ENOTFOUND) {
		rec_product_init(p);
		rc = 0;
	} else if (rc == 0)
		rc = rec_product_decode(raw->p, raw->len, p);
	if (rc == 0)
		crdt_counter_add(&p->stock, pending);
	return rc;
}

static int
product_store(struct actx *a, const char *id, const struct rec_product *p)
{
	struct buf	b;
	int		rc;

	buf_init(&b, 0);
	if ((rc = rec_product_encode(p, &b)) == 0)
		rc = put_record(a, DB_PRODUCTS, id, strlen(id), &b);
	buf_reset(&b);
	return rc;
}

static void
lww_str(struct actx *a, struct rec_lww *l, const struct pl_str *v)
{
	if (crdt_lww_wins(&l->st, &a->st)) {
		l->st = a->st;
		l->s.p = v->p;
		l->s.len = v->len;
	}
}

/* *dst = *src, copying only what is in use (the struct is 13 KB). */
static void
mv_copy(struct crdt_mv *dst, const struct crdt_mv *src)
{
	uint32_t	i;

	dst->n = src->n;
	for (i = 0; i < src->n && i < CRDT_MV_MAX; i++) {
		dst->e[i].st = src->e[i].st;
		vclock_copy(&dst->e[i].vv, &src->e[i].vv);
		memcpy(dst->e[i].value, src->e[i].value, CRDT_VALUE_MAX);
		dst->e[i].value_len = src->e[i].value_len;
	}
}

/* Writes value (canonical msgpack) into a product's price register. */
static int
price_write(struct actx *a, struct rec_product *p, int f,
    const uint8_t *value, size_t len, const uint8_t *resolving)
{
	struct crdt_mv		*old = NULL;
	struct crdt_mv_entry	*e = NULL;
	int			 rc;

	if (len > CRDT_VALUE_MAX)
		return 0;
	old = malloc(sizeof(*old));
	e = malloc(sizeof(*e));
	if (old == NULL || e == NULL) {
		rc = CAJA_ENOMEM;
		goto out;
	}
	mv_copy(old, &p->price[f]);
	memset(e, 0, offsetof(struct crdt_mv_entry, vv));
	e->st = a->st;
	vclock_copy(&e->vv, &a->vv);
	memcpy(e->value, value, len);
	e->value_len = (uint32_t)len;
	/* ETOOBIG: more concurrent writes than kept; deterministic. */
	(void)crdt_mv_apply(&p->price[f], e);
	rc = conflict_update(a, "product", a->ev->entity, price_field[f], old,
	    &p->price[f], resolving);
out:
	free(old);
	free(e);
	return rc;
}

static int
money_value(int64_t v, uint8_t out[CRDT_VALUE_MAX], size_t *len)
{
	struct buf	b;
	struct codec_wr	w;
	int		rc;

	buf_init(&b, CRDT_VALUE_MAX);
	codec_wr_init(&w, &b);
	codec_write_int(&w, v);
	if ((rc = codec_wr_error(&w)) == 0) {
		memcpy(out, b.p, b.len);
		*len = b.len;
	}
	buf_reset(&b);
	return rc;
}

static int
apply_product(struct actx *a)
{
	struct rec_product	*p;
	struct buf		 raw;
	uint8_t			 val[CRDT_VALUE_MAX];
	size_t			 vlen;
	int			 rc;

	buf_init(&raw, 0);
	if ((p = malloc(sizeof(*p))) == NULL)
		return CAJA_ENOMEM;
	if ((rc = product_load(a, a->ev->entity, p, &raw)) != 0)
		goto out;
	switch (a->ev->type) {
	case EV_PRODUCT_UPDATED:
		if (a->pl.has & PL_NAME)
			lww_str(a, &p->name, &a->pl.name);
		if (a->pl.has & PL_BARCODE)
			lww_str(a, &p->barcode, &a->pl.barcode);
		if ((a->pl.has & PL_ACTIVE) &&
		    crdt_lww_wins(&p->active.st, &a->st)) {
			p->active.st = a->st;
			p->active.b = a->pl.active;
		}
		break;
	case EV_PRICE_CHANGED:
		if (a->pl.has & PL_PRICE_BS) {
			if ((rc = money_value(a->pl.price_bs, val, &vlen)) ||
			    (rc = price_write(a, p, REC_PRICE_BS, val, vlen,
			    NULL)))
				goto out;
		}
		if (a->pl.has & PL_PRICE_USD) {
			if ((rc = money_value(a->pl.price_usd, val, &vlen)) ||
			    (rc = price_write(a, p, REC_PRICE_USD, val, vlen,
			    NULL)))
				goto out;
		}
		break;
	case EV_STOCK_RECEIVED:
		crdt_counter_add(&p->stock, a->pl.qty);
		break;
	case EV_STOCK_ADJUSTED:
		crdt_counter_add(&p->stock, a->pl.delta);
		break;
	}
	rc = product_store(a, a->ev->entity, p);
out:
	buf_reset(&raw);
	free(p);
	return rc;
}

/* ---- customers ---- */

static int
customer_add(struct actx *a, const char *id, size_t idlen, int64_t delta,
    const struct pl_str *name, const struct pl_str *phone,
    const struct pl_str *address, int hash)
{
	struct rec_customer	c;
	struct buf		raw, b;
	int			rc;

	buf_init(&raw, 0);
	buf_init(&b, 0);
	rc = load_raw(a, DB_CUSTOMERS, id, idlen, &raw);
	if (rc == CAJA_ENOTFOUND) {
		rec_customer_init(&c);
		rc = 0;
	} else if (rc == 0)
		rc = rec_customer_decode(raw.p, raw.len, &c);
	if (rc != 0)
		goto out;
	crdt_counter_add(&c.balance, delta);
	if (name != NULL)
		lww_str(a, &c.name, name);
	if (phone != NULL)
		lww_str(a, &c.phone, phone);
	if (address != NULL)
		lww_str(a, &c.address, address);
	if ((rc = rec_customer_encode(&c, &b)) != 0)
		goto out;
	if (hash)
		rc = put_record(a, DB_CUSTOMERS, id, idlen, &b);
	else
		rc = cache_put(a->s, a->txn, DB_CUSTOMERS, id, idlen, b.p,
		    b.len);
out:
	buf_reset(&raw);
	buf_reset(&b);
	return rc;
}

static int
apply_customer(struct actx *a)
{
	const struct payload	*pl = &a->pl;

	if (a->ev->type == EV_DEBT_PAYMENT_ADDED)
		return customer_add(a, a->ev->entity, strlen(a->ev->entity),
		    -pl->amount_bs, NULL, NULL, NULL, 1);
	return customer_add(a, a->ev->entity, strlen(a->ev->entity), 0,
	    (pl->has & PL_NAME) ? &pl->name : NULL,
	    (pl->has & PL_PHONE) ? &pl->phone : NULL,
	    (pl->has & PL_ADDRESS) ? &pl->address : NULL, 1);
}

/* ---- sales ---- */

/*
 * Stock and credit effects of a sale, sign +1 (apply) or -1 (reverse); 0
 * only touches the records (they exist, unchanged: crdt.c rule 4).
 */
static int
sale_effects(struct actx *a, const struct rec_sale *s, int sign)
{
	struct rec_product	*p = NULL;
	struct buf		 raw, b;
	char			 pid[SCHEMA_ID_MAX + 1];
	uint32_t		 i;
	int			 rc = 0, done;

	buf_init(&raw, 0);
	buf_init(&b, 0);
	for (i = 0; i < s->nitems; i++) {
		rec_strlcpy(pid, sizeof(pid), s->items[i].product_id.p,
		    s->items[i].product_id.len);
		/* merging a run: the batch cache adds it without decoding */
		if ((rc = cache_stock_add(a->s, a->txn, pid, strlen(pid),
		    -sign * s->items[i].qty, &done)) != 0)
			goto out;
		if (done)
			continue;
		if (p == NULL && (p = malloc(sizeof(*p))) == NULL) {
			rc = CAJA_ENOMEM;
			goto out;
		}
		if ((rc = product_load(a, pid, p, &raw)) != 0)
			goto out;
		crdt_counter_add(&p->stock, -sign * s->items[i].qty);
		buf_clear(&b);
		if ((rc = rec_product_encode(p, &b)) != 0 ||
		    (rc = cache_put(a->s, a->txn, DB_PRODUCTS, pid,
		    strlen(pid), b.p, b.len)) != 0)
			goto out;
	}
	if (s->on_credit && s->customer_id.len > 0)
		rc = customer_add(a, s->customer_id.p, s->customer_id.len,
		    sign * s->total_bs, NULL, NULL, NULL, 0);
out:
	buf_reset(&raw);
	buf_reset(&b);
	free(p);
	return rc;
}

/*
 * Counts a sale into (created +1) or out of (created -1) the totals of its
 * device and day, and its void (voided +1 / -1). A record back to zero is
 * deleted: which records exist must not depend on the order events came.
 */
static int
totals_add(struct actx *a, const struct rec_sale *s, int created,
    int voided)
{
	struct rec_totals	t;
	struct buf		b;
	uint8_t			key[SDB_TOTKEY_LEN];
	char			day[11];
	MDB_val			v;
	int			rc;

	sdb_day(day, s->create_st.hlc);
	memcpy(key, day, 10);
	memcpy(key + 10, s->create_st.dev, ID_LEN);
	rc = cache_get(a->s, a->txn, DB_TOTALS, key, sizeof(key), &v);
	if (rc == CAJA_ENOTFOUND) {
		memset(&t, 0, sizeof(t));
		rc = 0;
	} else if (rc == 0)
		rc = rec_totals_decode(v.mv_data, v.mv_size, &t);
	if (rc != 0)
		return rc;
	t.count += (uint64_t)(int64_t)created;
	crdt_counter_add(&t.total_bs, created * s->total_bs);
	t.voided += (uint64_t)(int64_t)voided;
	crdt_counter_add(&t.voided_bs, voided * s->total_bs);
	if (t.count == 0 && t.total_bs == 0 && t.voided == 0 &&
	    t.voided_bs == 0)
		return cache_del(a->s, a->txn, DB_TOTALS, key, sizeof(key));
	buf_init(&b, 0);
	if ((rc = rec_totals_encode(&t, &b)) == 0)
		rc = cache_put(a->s, a->txn, DB_TOTALS, key, sizeof(key),
		    b.p, b.len);
	buf_reset(&b);
	return rc;
}

static int
edit_qcmp(const void *x, const void *y)
{
	const struct crdt_edit	*a = x, *b = y;

	return crdt_stamp_cmp(&a->st, &b->st);
}

static int
sale_note(struct actx *a, struct rec_sale *s, char *note)
{
	const struct crdt_edit	**ptr = NULL;
	struct crdt_edit	 *e;
	uint32_t		  i;
	size_t			  len = 0;
	int			  rc;

	for (i = 0; i < s->nedits; i++)
		if (s->edits[i].st.seq == a->st.seq &&
		    memcmp(s->edits[i].st.dev, a->st.dev, ID_LEN) == 0)
			return 0;	/* already held */
	if ((rc = rec_sale_grow(s)) != 0)
		return rc;
	e = &s->edits[s->nedits];
	memset(e, 0, sizeof(*e));
	e->st = a->st;
	e->vv = a->vv;
	for (i = 0; i < a->pl.nops && i < CRDT_NOTE_OPS_MAX; i++) {
		e->ops[i].type = a->pl.ops[i].type;
		e->ops[i].pos = a->pl.ops[i].position;
		e->ops[i].len = a->pl.ops[i].length;
		e->ops[i].text = a->pl.ops[i].text.p;
		e->ops[i].text_len = a->pl.ops[i].text.len;
	}
	e->nops = i;
	s->nedits++;
	qsort(s->edits, s->nedits, sizeof(s->edits[0]), edit_qcmp);
	/* Past the bound, the greatest stamp goes: the same everywhere. */
	if (s->nedits > CRDT_NOTE_EDITS_MAX)
		s->nedits = CRDT_NOTE_EDITS_MAX;
	if ((ptr = calloc(s->nedits, sizeof(*ptr))) == NULL)
		return CAJA_ENOMEM;
	for (i = 0; i < s->nedits; i++)
		ptr[i] = &s->edits[i];
	rc = crdt_note_merge(ptr, s->nedits, note, CRDT_NOTE_MAX + 1, &len);
	free(ptr);
	if (rc == CAJA_ENOMEM)
		return rc;
	if (rc != 0)
		len = 0;	/* an unmergeable history: empty, everywhere */
	note[len] = '\0';
	s->note.p = note;
	s->note.len = (uint32_t)len;
	return 0;
}

/* The definition a SaleCreated gives (pointers into the payload). */
static void
sale_define(struct rec_sale *d, const struct actx *a)
{
	const struct payload	*pl = &a->pl;
	uint32_t		 i;

	d->create_st = a->st;
	d->nitems = pl->nitems;
	for (i = 0; i < pl->nitems && i < SCHEMA_ITEMS_MAX; i++) {
		d->items[i].product_id.p = pl->items[i].product_id.p;
		d->items[i].product_id.len = pl->items[i].product_id.len;
		d->items[i].qty = pl->items[i].qty;
		d->items[i].price_bs = pl->items[i].price_bs;
		d->items[i].price_usd = pl->items[i].has_usd ?
		    pl->items[i].price_usd : 0;
		d->items[i].has_usd = pl->items[i].has_usd;
	}
	d->total_bs = pl->total_bs;
	d->customer_id.p = NULL;
	d->customer_id.len = 0;
	if (pl->has & PL_CUSTOMER) {
		d->customer_id.p = pl->customer_id.p;
		d->customer_id.len = pl->customer_id.len;
	}
	d->on_credit = (pl->has & PL_ON_CREDIT) ? pl->on_credit : 0;
}

static void
sale_take(struct rec_sale *s, const struct rec_sale *d)
{
	s->create_st = d->create_st;
	s->nitems = d->nitems;
	memcpy(s->items, d->items, d->nitems * sizeof(s->items[0]));
	s->total_bs = d->total_bs;
	s->customer_id = d->customer_id;
	s->on_credit = d->on_credit;
}

/*
 * The rival value of a SaleCreated (rule 7): its total, its number of
 * items and a fingerprint of its payload, so that equal values mean the
 * same sale.
 */
static int
sale_rival(const struct payload *pl, const uint8_t *p, size_t len,
    const struct crdt_stamp *st, struct crdt_mv_entry *e)
{
	uint8_t	h[HASH_LEN];
	char	money[24], text[CRDT_VALUE_MAX - 2];

	memset(e, 0, sizeof(*e));
	e->st = *st;
	sig_hash(h, p, len);
	schema_money_format(pl->total_bs, money);
	snprintf(text, sizeof(text), "%s, %u item%s, #%02x%02x%02x%02x%02x%02x",
	    money, pl->nitems, pl->nitems == 1 ? "" : "s", h[0], h[1], h[2],
	    h[3], h[4], h[5]);
	return rival_value(e, text);
}

/* Rule 7 for a sale id created again; def is the definition so far. */
static int
sale_rivals(struct actx *a, const struct rec_sale *def)
{
	struct crdt_mv_entry	*first = NULL, *in = NULL;
	struct event		*ev = NULL;
	struct payload		*pl = NULL;
	uint8_t			 key[SDB_LOGKEY_LEN];
	MDB_val			 v;
	int			 rc;

	first = malloc(sizeof(*first));
	in = malloc(sizeof(*in));
	ev = malloc(sizeof(*ev));
	pl = malloc(sizeof(*pl));
	if (first == NULL || in == NULL || ev == NULL || pl == NULL) {
		rc = CAJA_ENOMEM;
		goto out;
	}
	if ((rc = sale_rival(&a->pl, a->ev->payload, a->ev->payload_len,
	    &a->st, in)) != 0)
		goto out;
	/* The defining creation, from the log (a log we wrote: it decodes). */
	sdb_log_key(key, def->create_st.dev, def->create_st.seq);
	if ((rc = sdb_get(a->txn, a->s->dbi[DB_LOG], key, sizeof(key),
	    &v)) != 0)
		goto out;
	if (event_decode(ev, v.mv_data, v.mv_size) != 0 ||
	    schema_decode(ev->type, ev->payload, ev->payload_len, pl) != 0) {
		rc = CAJA_ECORRUPT;
		goto out;
	}
	if ((rc = sale_rival(pl, ev->payload, ev->payload_len,
	    &def->create_st, first)) != 0)
		goto out;
	rc = rival_add(a, "duplicate_id", "sale", a->ev->entity, "sale_id",
	    "keep_earliest", first, in);
out:
	free(first);
	free(in);
	free(ev);
	free(pl);
	return rc;
}

/*
 * SaleCreated (crdt.c rule 4): the smallest stamp defines the sale; the
 * products and credit customer of every creation are touched.
 */
static int
sale_create(struct actx *a, struct rec_sale *s)
{
	struct rec_sale		*n;
	struct crdt_sale	 cs;
	int			 was_created = s->created;
	int			 was_voided = s->voided, defines, eff, rc;

	if ((n = malloc(sizeof(*n))) == NULL)
		return CAJA_ENOMEM;
	rec_sale_init(n);
	sale_define(n, a);
	cs.created = s->created;
	cs.voided = s->voided;
	cs.def = s->create_st;
	eff = crdt_sale_create_at(&cs, &a->st, &defines);
	if (was_created && (rc = sale_rivals(a, s)) != 0)
		goto out;
	if (eff == CRDT_REPLACE && (rc = sale_effects(a, s, -1)) != 0)
		goto out;
	if (was_created && defines &&
	    (rc = totals_add(a, s, -1, was_voided ? -1 : 0)) != 0)
		goto out;
	if ((rc = sale_effects(a, n, eff == CRDT_APPLY ||
	    eff == CRDT_REPLACE ? 1 : 0)) != 0)
		goto out;
	if (defines)
		sale_take(s, n);
	s->created = cs.created;
	s->voided = cs.voided;
	if (defines)
		rc = totals_add(a, s, 1, was_voided);
out:
	free(n);
	return rc;
}

static int
apply_sale(struct actx *a)
{
	struct rec_sale		*s = NULL;
	struct crdt_sale	 cs;
	struct buf		 raw, b;
	char			*note = NULL;
	const char		*id = a->ev->entity;
	int			 was_voided, eff, rc;

	buf_init(&raw, 0);
	buf_init(&b, 0);
	if ((s = malloc(sizeof(*s))) == NULL)
		return CAJA_ENOMEM;
	rec_sale_init(s);
	rc = load_raw(a, DB_SALES, id, strlen(id), &raw);
	if (rc == 0)
		rc = rec_sale_decode(raw.p, raw.len, s);
	else if (rc == CAJA_ENOTFOUND)
		rc = 0;
	if (rc != 0)
		goto out;
	was_voided = s->voided;
	cs.created = s->created;
	cs.voided = s->voided;
	switch (a->ev->type) {
	case EV_SALE_CREATED:
		if ((rc = sale_create(a, s)) != 0)
			goto out;
		break;
	case EV_SALE_VOIDED:
		eff = crdt_sale_void(&cs);
		s->created = cs.created;
		s->voided = cs.voided;
		if (eff == CRDT_REVERSE && (rc = sale_effects(a, s, -1)) != 0)
			goto out;
		if (!was_voided && s->created &&
		    (rc = totals_add(a, s, 0, 1)) != 0)
			goto out;
		break;
	case EV_NOTE_EDITED:
		if ((note = malloc(CRDT_NOTE_MAX + 1)) == NULL) {
			rc = CAJA_ENOMEM;
			goto out;
		}
		if ((rc = sale_note(a, s, note)) != 0)
			goto out;
		break;
	}
	if ((rc = rec_sale_encode(s, &b)) != 0)
		goto out;
	rc = put_record(a, DB_SALES, id, strlen(id), &b);
out:
	rec_sale_reset(s);
	free(s);
	free(note);
	buf_reset(&raw);
	buf_reset(&b);
	return rc;
}

/* ---- identity ---- */

static int
is_admin(const struct sdb_dev *d)
{
	return strcmp(d->role, "admin") == 0;
}

struct used_arg {
	const uint8_t	*pk;
	int		 found;
	uint8_t		 dev[ID_LEN];
};

static int
used_cb(void *arg, const struct sdb_dev *d)
{
	struct used_arg	*u = arg;

	if (!u->found && d->has_invite &&
	    memcmp(d->invite_pk, u->pk, SIG_PK_LEN) == 0) {
		u->found = 1;
		memcpy(u->dev, d->id, ID_LEN);
	}
	return 0;
}

static int
invite_put(struct actx *a, const uint8_t pk[SIG_PK_LEN],
    const struct rec_invite *iv)
{
	struct buf	b;
	int		rc;

	buf_init(&b, 0);
	if ((rc = rec_invite_encode(iv, &b)) == 0)
		rc = sdb_put(a->txn, a->s->dbi[DB_INVITES], pk, SIG_PK_LEN,
		    b.p, b.len);
	buf_reset(&b);
	return rc;
}

/*
 * A second device enrolled with an invite another used (a token copied
 * onto two boxes): both stay enrolled, the earliest enrollment is the
 * invite's user, and an invite_reused conflict asks an admin to check
 * (crdt.c rule 7).
 */
static int
invite_reused(struct actx *a, struct rec_invite *iv)
{
	struct sdb_dev		*u = NULL;
	struct crdt_mv_entry	*first = NULL, *in = NULL;
	uint8_t			 iid[ID_LEN];
	char			 hex[ID_HEX], ent[ID_HEX];
	int			 rc;

	u = malloc(sizeof(*u));
	first = calloc(1, sizeof(*first));
	in = calloc(1, sizeof(*in));
	if (u == NULL || first == NULL || in == NULL) {
		rc = CAJA_ENOMEM;
		goto out;
	}
	if ((rc = sdb_dev_get(a->txn, a->s, iv->used_by, u)) != 0)
		goto out;
	first->st.hlc = u->enrolled_hlc;
	memcpy(first->st.dev, u->id, ID_LEN);
	first->st.seq = 1;
	ids_hex(hex, u->id, ID_LEN);
	if ((rc = rival_value(first, hex)) != 0)
		goto out;
	in->st = a->st;
	ids_hex(hex, a->ev->dev, ID_LEN);
	if ((rc = rival_value(in, hex)) != 0)
		goto out;
	if (crdt_stamp_cmp(&in->st, &first->st) < 0)
		memcpy(iv->used_by, a->ev->dev, ID_LEN);
	sig_id_of_pk(iid, a->pl.invite_pk);
	ids_hex(ent, iid, ID_LEN);
	rc = rival_add(a, "invite_reused", "invite", ent, "device_id",
	    "manual", first, in);
out:
	free(u);
	free(first);
	free(in);
	return rc;
}

static int
apply_identity(struct actx *a)
{
	struct rec_invite	 iv;
	struct used_arg		 u;
	struct sdb_dev		*t = NULL;
	MDB_val			 v;
	int			 rc = 0;

	switch (a->ev->type) {
	case EV_DEVICE_ENROLLED:
		if (a->ev->seq != 1)
			break;
		if (a->pl.has_store_pk &&
		    memcmp(a->pl.store_pk, a->s->store_pk, SIG_PK_LEN) == 0)
			rc = sdb_meta_put(a->txn, a->s, "store_name",
			    a->pl.store_name.p, a->pl.store_name.len);
		if (rc != 0 || !a->pl.has_invite_pk)
			break;
		rc = sdb_get(a->txn, a->s->dbi[DB_INVITES], a->pl.invite_pk,
		    SIG_PK_LEN, &v);
		if (rc == CAJA_ENOTFOUND) {
			rc = 0;	/* our own enrollment, before its invite */
			break;
		}
		if (rc != 0 || (rc = rec_invite_decode(v.mv_data, v.mv_size,
		    &iv)) != 0)
			break;
		/* The role is the invite's, whatever the device claimed. */
		rec_strlcpy(a->author.role, sizeof(a->author.role), iv.role,
		    strlen(iv.role));
		if ((rc = sdb_dev_put(a->txn, a->s, &a->author)) != 0)
			break;
		if (iv.used && memcmp(iv.used_by, a->ev->dev, ID_LEN) != 0)
			rc = invite_reused(a, &iv);
		else {
			iv.used = 1;
			memcpy(iv.used_by, a->ev->dev, ID_LEN);
		}
		if (rc == 0)
			rc = invite_put(a, a->pl.invite_pk, &iv);
		break;
	case EV_DEVICE_INVITED:
		if (!is_admin(&a->author) || !a->pl.has_invite_pk)
			break;
		rc = sdb_get(a->txn, a->s->dbi[DB_INVITES], a->pl.invite_pk,
		    SIG_PK_LEN, &v);
		if (rc != CAJA_ENOTFOUND)
			break;	/* already invited: the first stays */
		memset(&iv, 0, sizeof(iv));
		rec_strlcpy(iv.role, sizeof(iv.role), a->pl.role.p,
		    a->pl.role.len);
		iv.expires_ms = a->pl.expires_ms;
		memcpy(iv.inviter, a->ev->dev, ID_LEN);
		memset(&u, 0, sizeof(u));
		u.pk = a->pl.invite_pk;
		if ((rc = sdb_dev_foreach(a->txn, a->s, used_cb, &u)) != 0)
			break;
		if (u.found) {
			iv.used = 1;
			memcpy(iv.used_by, u.dev, ID_LEN);
			if ((t = malloc(sizeof(*t))) == NULL)
				return CAJA_ENOMEM;
			if ((rc = sdb_dev_get(a->txn, a->s, u.dev, t)) != 0)
				break;
			rec_strlcpy(t->role, sizeof(t->role), iv.role,
			    strlen(iv.role));
			if ((rc = sdb_dev_put(a->txn, a->s, t)) != 0)
				break;
		}
		rc = invite_put(a, a->pl.invite_pk, &iv);
		break;
	case EV_DEVICE_REVOKED:
		if (!is_admin(&a->author))
			break;
		if ((t = malloc(sizeof(*t))) == NULL)
			return CAJA_ENOMEM;
		rc = sdb_dev_get(a->txn, a->s, a->pl.target, t);
		if (rc == CAJA_ENOTFOUND) {
			rc = 0;
			break;
		}
		if (rc != 0)
			break;
		if (!t->revoked || a->pl.upto_seq < t->revoked_upto)
			t->revoked_upto = a->pl.upto_seq;
		t->revoked = 1;
		rc = sdb_dev_put(a->txn, a->s, t);
		break;
	}
	free(t);
	return rc;
}

/* ---- resolutions ---- */

static int
apply_resolved(struct actx *a)
{
	struct rec_product	*p = NULL;
	struct sdb_dev		*d = NULL;
	struct buf		 raw;
	uint8_t			 dev[ID_LEN];
	int			 rc = 0, f, found;
	size_t			 tlen = a->pl.entity_type.len;

	buf_init(&raw, 0);
	if ((tlen == 4 && memcmp(a->pl.entity_type.p, "sale", 4) == 0 &&
	    a->pl.field.len == 7 && memcmp(a->pl.field.p, "sale_id", 7) == 0) ||
	    (tlen == 6 && memcmp(a->pl.entity_type.p, "invite", 6) == 0 &&
	    a->pl.field.len == 9 &&
	    memcmp(a->pl.field.p, "device_id", 9) == 0)) {
		rc = rival_resolve(a);
		goto out;
	}
	if (tlen == 7 && memcmp(a->pl.entity_type.p, "product", 7) == 0) {
		for (f = 0; f < REC_PRICES; f++)
			if (a->pl.field.len == strlen(price_field[f]) &&
			    memcmp(a->pl.field.p, price_field[f],
			    a->pl.field.len) == 0)
				break;
		if (f == REC_PRICES)
			goto plain;
		if ((p = malloc(sizeof(*p))) == NULL) {
			rc = CAJA_ENOMEM;
			goto out;
		}
		if ((rc = product_load(a, a->ev->entity, p, &raw)) != 0 ||
		    (rc = price_write(a, p, f, a->pl.value, a->pl.value_len,
		    a->pl.conflict_id)) != 0)
			goto out;
		rc = product_store(a, a->ev->entity, p);
		goto out;
	}
	if (tlen == 6 && memcmp(a->pl.entity_type.p, "device", 6) == 0 &&
	    ids_unhex(dev, ID_LEN, a->ev->entity) == 0) {
		if ((d = malloc(sizeof(*d))) == NULL) {
			rc = CAJA_ENOMEM;
			goto out;
		}
		rc = sdb_dev_get(a->txn, a->s, dev, d);
		if (rc == 0 && d->forked) {
			d->forked = 0;
			rc = sdb_dev_put(a->txn, a->s, d);
		} else if (rc == CAJA_ENOTFOUND)
			rc = 0;
		if (rc != 0)
			goto out;
	}
plain:
	rc = resolve_existing(a, a->pl.conflict_id, &found);
out:
	buf_reset(&raw);
	free(p);
	free(d);
	return rc;
}

/* ---- the event ---- */

static int
new_author(struct actx *a)
{
	const struct payload	*pl = &a->pl;
	uint8_t			 id[ID_LEN];

	if (a->ev->seq != 1 || a->ev->type != EV_DEVICE_ENROLLED)
		return CAJA_EUNENROLLED;
	sig_id_of_pk(id, pl->device_pk);
	if (memcmp(id, a->ev->dev, ID_LEN) != 0)
		return CAJA_EUNENROLLED;
	memset(&a->author, 0, sizeof(a->author));
	memcpy(a->author.id, id, ID_LEN);
	memcpy(a->author.pk, pl->device_pk, SIG_PK_LEN);
	rec_strlcpy(a->author.name, sizeof(a->author.name), pl->name.p,
	    pl->name.len);
	rec_strlcpy(a->author.role, sizeof(a->author.role), pl->role.p,
	    pl->role.len);
	a->author.enrolled_hlc = a->ev->hlc;
	if (pl->has_invite_pk) {
		a->author.has_invite = 1;
		memcpy(a->author.invite_pk, pl->invite_pk, SIG_PK_LEN);
	}
	return 0;
}

int
apply_event(struct store_batch *b, MDB_txn *txn, const struct event *ev,
    const uint8_t id[HASH_LEN], uint8_t state[HASH_LEN])
{
	struct actx	*a;
	uint8_t		 key[SDB_LOGKEY_LEN];
	int		 rc, decoded, known;

	/* not calloc: the payload and author are filled before use */
	if ((a = malloc(sizeof(*a))) == NULL)
		return CAJA_ENOMEM;
	a->s = b->s;
	a->txn = txn;
	a->ev = ev;
	a->id = id;
	a->state = state;
	memset(&a->st, 0, sizeof(a->st));
	if (state != NULL)
		memset(state, 0, HASH_LEN);
	a->st.hlc = ev->hlc;
	memcpy(a->st.dev, ev->dev, ID_LEN);
	a->st.seq = ev->seq;
	/* ev came from event_decode() or event_encode(): payload scanned */
	decoded = schema_decode_scanned(ev->type, ev->payload,
	    ev->payload_len, &a->pl) == 0;
	rc = sdb_dev_get(txn, a->s, ev->dev, &a->author);
	known = rc == 0;
	if (rc == CAJA_ENOTFOUND) {
		if (!decoded) {
			rc = CAJA_EUNENROLLED;
			goto out;
		}
		rc = new_author(a);
	} else if (rc == 0 && ev->seq != a->author.head_seq + 1)
		rc = CAJA_ECHAIN;
	if (rc != 0)
		goto out;
	if ((rc = apply_full_vv(known ? &a->author : NULL, ev, &a->vv)) != 0)
		goto out;
	sdb_log_key(key, ev->dev, ev->seq);
	/* No index by event id (sdb.h): nothing needs one, and its random
	 * keys made every merge several times slower. */
	/* through the batch's cursor: a run's keys follow each other */
	if ((rc = sdb_bput(a->s, txn, DB_LOG, key, sizeof(key), ev->frame,
	    ev->frame_len)) != 0)
		goto out;
	a->author.head_seq = ev->seq;
	memcpy(a->author.head_id, id, HASH_LEN);
	vclock_copy(&a->author.vv, &a->vv);
	if ((rc = sdb_dev_put(txn, a->s, &a->author)) != 0)
		goto out;
	if (!decoded)
		goto out;	/* held, without effect */
	switch (ev->type) {
	case EV_DEVICE_ENROLLED:
	case EV_DEVICE_INVITED:
	case EV_DEVICE_REVOKED:
		rc = apply_identity(a);
		break;
	case EV_PRODUCT_UPDATED:
	case EV_PRICE_CHANGED:
	case EV_STOCK_RECEIVED:
	case EV_STOCK_ADJUSTED:
		rc = apply_product(a);
		break;
	case EV_SALE_CREATED:
	case EV_SALE_VOIDED:
	case EV_NOTE_EDITED:
		rc = apply_sale(a);
		break;
	case EV_CUSTOMER_UPDATED:
	case EV_DEBT_PAYMENT_ADDED:
		rc = apply_customer(a);
		break;
	case EV_CONFLICT_RESOLVED:
		rc = apply_resolved(a);
		break;
	}
out:
	free(a);
	return rc;
}

/* ---- forks ---- */

static int
fork_value(struct actx *a, struct rec_cval *v, const uint8_t *frame,
    size_t len, const uint8_t id[HASH_LEN])
{
	struct event	*ev;
	size_t		 vlen = 0;
	int		 rc;

	if ((ev = malloc(sizeof(*ev))) == NULL)
		return CAJA_ENOMEM;
	if ((rc = event_decode(ev, frame, len)) == 0) {
		memcpy(v->event_id, id, HASH_LEN);
		memcpy(v->dev, ev->dev, ID_LEN);
		v->hlc = ev->hlc;
		v->seq = ev->seq;
		rc = money_value((int64_t)ev->seq, v->value, &vlen);
		v->value_len = (uint32_t)vlen;
	}
	free(ev);
	return rc;
}

int
apply_fork(struct store_batch *b, MDB_txn *txn, const struct event *ev,
    const uint8_t id[HASH_LEN], const uint8_t held[HASH_LEN])
{
	struct actx		*a = NULL;
	struct rec_conflict	*c = NULL;
	struct sig_hasher	 h;
	uint8_t			 key[SDB_FORKKEY_LEN], full[HASH_LEN];
	uint8_t			 cid[ID_LEN], lk[SDB_LOGKEY_LEN];
	MDB_val			 v;
	struct buf		 hf;
	int			 rc, c0;

	buf_init(&hf, 0);
	a = calloc(1, sizeof(*a));
	c = malloc(sizeof(*c));
	if (a == NULL || c == NULL) {
		rc = CAJA_ENOMEM;
		goto out;
	}
	a->s = b->s;
	a->txn = txn;
	a->ev = ev;
	a->id = id;
	memcpy(key, ev->dev, ID_LEN);
	sdb_be64_put(key + ID_LEN, ev->seq);
	memcpy(key + ID_LEN + 8, id, HASH_LEN);
	if ((rc = sdb_put(txn, a->s->dbi[DB_FORKS], key, sizeof(key),
	    ev->frame, ev->frame_len)) != 0)
		goto out;
	if ((rc = sdb_dev_get(txn, a->s, ev->dev, &a->author)) != 0)
		goto out;
	a->author.forked = 1;
	if ((rc = sdb_dev_put(txn, a->s, &a->author)) != 0)
		goto out;
	c0 = memcmp(id, held, HASH_LEN);
	sig_hasher_init(&h);
	sig_hasher_update(&h, (const uint8_t *)FORK_DOMAIN,
	    sizeof(FORK_DOMAIN) - 1);
	/*
	 * One fork conflict per device: registers that saw the two branches
	 * differ at different seqs still name the same conflict. It shows the
	 * lowest forked seq seen; a fork seen again after a resolution (or at
	 * a lower seq) reopens it.
	 */
	sig_hasher_update(&h, key, ID_LEN);
	sig_hasher_final(&h, full);
	memcpy(cid, full, ID_LEN);
	rc = cache_get(a->s, txn, DB_CONFLICTS, cid, ID_LEN, &v);
	if (rc != 0 && rc != CAJA_ENOTFOUND)
		goto out;
	if (rc == 0) {
		if ((rc = rec_conflict_decode(v.mv_data, v.mv_size, c)) != 0)
			goto out;
		if (strcmp(c->status, "pending") == 0 && c->nvalues > 0 &&
		    c->values[0].seq <= ev->seq)
			goto out;	/* known fork */
	}
	rc = 0;
	rec_conflict_init(c);
	rec_strlcpy(c->type, sizeof(c->type), "fork", 4);
	rec_strlcpy(c->entity_type, sizeof(c->entity_type), "device", 6);
	ids_hex(c->entity_id, ev->dev, ID_LEN);
	rec_strlcpy(c->field, sizeof(c->field), "seq", 3);
	rec_strlcpy(c->strategy, sizeof(c->strategy), "keep_first", 10);
	rec_strlcpy(c->status, sizeof(c->status), "pending", 7);
	rec_strlcpy(c->priority, sizeof(c->priority), "high", 4);
	/* Both events, in event id order: the same record everywhere. */
	sdb_log_key(lk, ev->dev, ev->seq);
	if ((rc = sdb_get(txn, a->s->dbi[DB_LOG], lk, sizeof(lk), &v)) != 0 ||
	    (rc = buf_add(&hf, v.mv_data, v.mv_size)) != 0)
		goto out;
	if (c0 < 0) {
		rc = fork_value(a, &c->values[0], ev->frame, ev->frame_len,
		    id);
		if (rc == 0)
			rc = fork_value(a, &c->values[1], hf.p, hf.len, held);
	} else {
		rc = fork_value(a, &c->values[0], hf.p, hf.len, held);
		if (rc == 0)
			rc = fork_value(a, &c->values[1], ev->frame,
			    ev->frame_len, id);
	}
	if (rc != 0)
		goto out;
	c->nvalues = 2;
	rc = conflict_put(a, cid, c);
out:
	buf_reset(&hf);
	free(a);
	free(c);
	return rc;
}
