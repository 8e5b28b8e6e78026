/*
 * view: JSON read models (CONTRACT.md "State", "Conflicts", "Observing").
 *
 * Each read runs in its own read transaction: it sees the last committed
 * state, whether or not a writer (the agent) is running. Money goes out as
 * decimal strings with two decimals, ids as lowercase hex, times as
 * ISO-8601 UTC with milliseconds.
 */
#include <stdlib.h>
#include <string.h>

#include "proto/evjson.h"
#include "store/rec.h"
#include "store/sdb.h"

static int
jset(json_t *o, const char *k, json_t *v)
{
	if (v == NULL)
		return CAJA_ENOMEM;
	return json_object_set_new(o, k, v) == 0 ? 0 : CAJA_ENOMEM;
}

static int
japp(json_t *a, json_t *v)
{
	if (v == NULL)
		return CAJA_ENOMEM;
	return json_array_append_new(a, v) == 0 ? 0 : CAJA_ENOMEM;
}

static json_t *
jmoney(int64_t v)
{
	char	b[24];

	schema_money_format(v, b);
	return json_string(b);
}

static json_t *
jstrn(const char *p, size_t len)
{
	return json_stringn(p != NULL ? p : "", len);
}


static json_t *
jlww(const struct rec_lww *l)
{
	if (l->st.hlc == 0)
		return json_null();
	return jstrn(l->s.p, l->s.len);
}

static int
is_money_field(const char *f)
{
	return strcmp(f, "price_bs") == 0 || strcmp(f, "price_usd") == 0;
}

/* ---- products, customers, sales ---- */

static json_t *
jprice(const struct crdt_mv *mv)
{
	const struct crdt_mv_entry	*w;
	struct codec_rd			 r;
	int64_t				 v;

	if ((w = crdt_mv_winner(mv)) == NULL)
		return json_null();
	codec_rd_init(&r, w->value, w->value_len);
	if (codec_read_int(&r, &v) != 0)
		return json_null();
	return jmoney(v);
}

static int
product_json(const char *id, size_t idlen, const uint8_t *b, size_t len,
    json_t **out)
{
	struct rec_product	*p;
	json_t			*o = NULL, *c = NULL;
	uint8_t			 cid[ID_LEN];
	char			 sid[EVENT_ENTITY_MAX + 1];
	int			 rc, f;
	static const char *const fields[REC_PRICES] = { "price_bs",
	    "price_usd" };

	if ((p = malloc(sizeof(*p))) == NULL)
		return CAJA_ENOMEM;
	if ((rc = rec_product_decode(b, len, p)) != 0)
		goto out;
	rec_strlcpy(sid, sizeof(sid), id, idlen);
	o = json_object();
	c = json_array();
	if (o == NULL || c == NULL) {
		rc = CAJA_ENOMEM;
		goto out;
	}
	for (f = 0; f < REC_PRICES; f++) {
		if (!crdt_mv_is_conflict(&p->price[f]))
			continue;
		crdt_mv_conflict_id(&p->price[f], "product", sid, fields[f],
		    cid);
		if ((rc = japp(c, evjson_hex(cid, ID_LEN))) != 0)
			goto out;
	}
	if ((rc = jset(o, "product_id", jstrn(id, idlen))) ||
	    (rc = jset(o, "name", jlww(&p->name))) ||
	    (rc = jset(o, "barcode", jlww(&p->barcode))) ||
	    (rc = jset(o, "active", json_boolean(p->active.st.hlc == 0 ||
	    p->active.b))) ||
	    (rc = jset(o, "price_bs", jprice(&p->price[REC_PRICE_BS]))) ||
	    (rc = jset(o, "price_usd", jprice(&p->price[REC_PRICE_USD]))) ||
	    (rc = jset(o, "stock", json_integer(p->stock))))
		goto out;
	rc = jset(o, "conflicts", c);
	c = NULL;
out:
	free(p);
	json_decref(c);
	if (rc != 0) {
		json_decref(o);
		o = NULL;
	}
	*out = o;
	return rc;
}

static int
customer_json(const char *id, size_t idlen, const uint8_t *b, size_t len,
    json_t **out)
{
	struct rec_customer	c;
	json_t			*o;
	int			 rc;

	*out = NULL;
	if ((rc = rec_customer_decode(b, len, &c)) != 0)
		return rc;
	if ((o = json_object()) == NULL)
		return CAJA_ENOMEM;
	if ((rc = jset(o, "customer_id", jstrn(id, idlen))) ||
	    (rc = jset(o, "name", jlww(&c.name))) ||
	    (rc = jset(o, "phone", jlww(&c.phone))) ||
	    (rc = jset(o, "address", jlww(&c.address))) ||
	    (rc = jset(o, "balance_bs", jmoney(c.balance)))) {
		json_decref(o);
		return rc;
	}
	*out = o;
	return 0;
}

static int
sale_json(const char *id, size_t idlen, const uint8_t *b, size_t len,
    json_t **out)
{
	struct rec_sale	*s;
	json_t		*o = NULL, *items = NULL, *it;
	uint32_t	 i;
	int		 rc;

	*out = NULL;
	if ((s = malloc(sizeof(*s))) == NULL)
		return CAJA_ENOMEM;
	rec_sale_init(s);
	if ((rc = rec_sale_decode(b, len, s)) != 0)
		goto out;
	o = json_object();
	items = json_array();
	if (o == NULL || items == NULL) {
		rc = CAJA_ENOMEM;
		goto out;
	}
	for (i = 0; i < s->nitems; i++) {
		const struct rec_item	*ri = &s->items[i];

		if ((it = json_object()) == NULL || (rc = japp(items, it))) {
			rc = CAJA_ENOMEM;
			goto out;
		}
		if ((rc = jset(it, "product_id", jstrn(ri->product_id.p,
		    ri->product_id.len))) ||
		    (rc = jset(it, "qty", json_integer(ri->qty))) ||
		    (rc = jset(it, "price_bs", jmoney(ri->price_bs))))
			goto out;
		if (ri->has_usd &&
		    (rc = jset(it, "price_usd", jmoney(ri->price_usd))))
			goto out;
	}
	if ((rc = jset(o, "sale_id", jstrn(id, idlen))) ||
	    (rc = jset(o, "device_id", s->created ?
	    evjson_hex(s->create_st.dev, ID_LEN) : json_null())) ||
	    (rc = jset(o, "items", json_incref(items))) ||
	    (rc = jset(o, "total_bs", jmoney(s->total_bs))) ||
	    (rc = jset(o, "status", json_string(s->voided ? "voided" :
	    "open"))) ||
	    (rc = jset(o, "created", json_boolean(s->created))) ||
	    (rc = jset(o, "time", s->created ? evjson_time(s->create_st.hlc) :
	    json_null())) ||
	    (rc = jset(o, "note", jstrn(s->note.p, s->note.len))) ||
	    (rc = jset(o, "customer_id", s->customer_id.len > 0 ?
	    jstrn(s->customer_id.p, s->customer_id.len) : json_null())) ||
	    (rc = jset(o, "on_credit", json_boolean(s->on_credit))))
		goto out;
out:
	rec_sale_reset(s);
	free(s);
	json_decref(items);
	if (rc != 0) {
		json_decref(o);
		o = NULL;
	}
	*out = o;
	return rc;
}

static int
kind_db(const char *kind, int *db,
    int (**fn)(const char *, size_t, const uint8_t *, size_t, json_t **))
{
	if (kind == NULL)
		return CAJA_EINVAL;
	if (strcmp(kind, "product") == 0) {
		*db = DB_PRODUCTS;
		*fn = product_json;
	} else if (strcmp(kind, "customer") == 0) {
		*db = DB_CUSTOMERS;
		*fn = customer_json;
	} else if (strcmp(kind, "sale") == 0) {
		*db = DB_SALES;
		*fn = sale_json;
	} else
		return CAJA_EINVAL;
	return 0;
}

int
store_get_json(struct store *s, const char *kind, const char *id,
    json_t **out)
{
	int	(*fn)(const char *, size_t, const uint8_t *, size_t, json_t **);
	MDB_txn	*txn = NULL;
	MDB_val	 v;
	int	 db, rc;

	*out = NULL;
	if ((rc = kind_db(kind, &db, &fn)) != 0 || id == NULL ||
	    strlen(id) == 0 || strlen(id) > EVENT_ENTITY_MAX)
		return rc != 0 ? rc : CAJA_EINVAL;
	if ((rc = sdb_rtxn(s, &txn)) != 0)
		return rc;
	if ((rc = sdb_get(txn, s->dbi[db], id, strlen(id), &v)) == 0)
		rc = fn(id, strlen(id), v.mv_data, v.mv_size, out);
	mdb_txn_abort(txn);
	return rc;
}

int
store_list_json(struct store *s, const char *kind, json_t **out)
{
	int		(*fn)(const char *, size_t, const uint8_t *, size_t,
			    json_t **);
	MDB_txn		*txn = NULL;
	MDB_cursor	*c = NULL;
	MDB_val		 k, v;
	json_t		*a = NULL, *o;
	int		 db, rc, op = MDB_FIRST;

	*out = NULL;
	if ((rc = kind_db(kind, &db, &fn)) != 0)
		return rc;
	if ((rc = sdb_rtxn(s, &txn)) != 0)
		return rc;
	if ((a = json_array()) == NULL) {
		rc = CAJA_ENOMEM;
		goto out;
	}
	if ((rc = sdb_err(mdb_cursor_open(txn, s->dbi[db], &c))) != 0)
		goto out;
	while ((rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if ((rc = fn(k.mv_data, k.mv_size, v.mv_data, v.mv_size,
		    &o)) != 0 || (rc = japp(a, o)) != 0)
			goto out;
	}
	rc = rc == MDB_NOTFOUND ? 0 : sdb_err(rc);
out:
	if (c != NULL)
		mdb_cursor_close(c);
	mdb_txn_abort(txn);
	if (rc != 0)
		json_decref(a);
	else
		*out = a;
	return rc;
}

/* ---- totals ---- */

static int
totals_obj(json_t *o, const struct rec_totals *t)
{
	int	rc;

	if ((rc = jset(o, "count", json_integer((json_int_t)t->count))) ||
	    (rc = jset(o, "total_bs", jmoney(t->total_bs))) ||
	    (rc = jset(o, "voided", json_integer((json_int_t)t->voided))) ||
	    (rc = jset(o, "voided_bs", jmoney(t->voided_bs))) ||
	    (rc = jset(o, "net_bs", jmoney(t->total_bs - t->voided_bs))))
		return rc;
	return 0;
}

int
store_totals_json(struct store *s, const char *day, json_t **out)
{
	MDB_txn			*txn = NULL;
	MDB_cursor		*c = NULL;
	MDB_val			 k, v;
	json_t			*o = NULL, *devs = NULL, *d;
	struct rec_totals	 t, sum, all;
	struct {
		uint8_t			dev[ID_LEN];
		struct rec_totals	t;
	}			*per = NULL;
	size_t			 nper = 0, i;
	int			 rc, op = MDB_FIRST;

	*out = NULL;
	if (day != NULL && strlen(day) != 10)
		return CAJA_EINVAL;
	if ((per = calloc(VCLOCK_MAX + 1, sizeof(*per))) == NULL)
		return CAJA_ENOMEM;
	memset(&all, 0, sizeof(all));
	if ((rc = sdb_rtxn(s, &txn)) != 0)
		goto out;
	if ((rc = sdb_err(mdb_cursor_open(txn, s->dbi[DB_TOTALS], &c))) != 0)
		goto out;
	while ((rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if (k.mv_size != SDB_TOTKEY_LEN) {
			rc = CAJA_ECORRUPT;
			goto out;
		}
		if (day != NULL && memcmp(k.mv_data, day, 10) != 0)
			continue;
		if ((rc = rec_totals_decode(v.mv_data, v.mv_size, &t)) != 0)
			goto out;
		for (i = 0; i < nper; i++)
			if (memcmp(per[i].dev, (uint8_t *)k.mv_data + 10,
			    ID_LEN) == 0)
				break;
		if (i == nper) {
			if (nper > VCLOCK_MAX) {
				rc = CAJA_ECORRUPT;
				goto out;
			}
			memcpy(per[nper].dev, (uint8_t *)k.mv_data + 10,
			    ID_LEN);
			nper++;
		}
		sum = per[i].t;
		sum.count += t.count;
		sum.total_bs += t.total_bs;
		sum.voided += t.voided;
		sum.voided_bs += t.voided_bs;
		per[i].t = sum;
		all.count += t.count;
		all.total_bs += t.total_bs;
		all.voided += t.voided;
		all.voided_bs += t.voided_bs;
	}
	if (rc != MDB_NOTFOUND) {
		rc = sdb_err(rc);
		goto out;
	}
	o = json_object();
	devs = json_array();
	if (o == NULL || devs == NULL) {
		rc = CAJA_ENOMEM;
		goto out;
	}
	/* devices in id order */
	for (i = 0; i < nper; i++) {
		size_t	j, m = i;

		for (j = i + 1; j < nper; j++)
			if (memcmp(per[j].dev, per[m].dev, ID_LEN) < 0)
				m = j;
		if (m != i) {
			per[VCLOCK_MAX] = per[i];
			per[i] = per[m];
			per[m] = per[VCLOCK_MAX];
		}
		if ((d = json_object()) == NULL || (rc = japp(devs, d)) != 0) {
			rc = CAJA_ENOMEM;
			goto out;
		}
		if ((rc = jset(d, "device_id", evjson_hex(per[i].dev, ID_LEN))) ||
		    (rc = totals_obj(d, &per[i].t)))
			goto out;
	}
	if ((rc = jset(o, "day", day != NULL ? json_string(day) :
	    json_null())) != 0)
		goto out;
	if ((rc = jset(o, "devices", devs)) != 0) {
		devs = NULL;
		goto out;
	}
	devs = NULL;
	if ((d = json_object()) == NULL || (rc = jset(o, "store", d)) != 0) {
		rc = CAJA_ENOMEM;
		goto out;
	}
	rc = totals_obj(d, &all);
out:
	if (c != NULL)
		mdb_cursor_close(c);
	if (txn != NULL)
		mdb_txn_abort(txn);
	free(per);
	json_decref(devs);
	if (rc != 0)
		json_decref(o);
	else
		*out = o;
	return rc;
}

/* ---- conflicts ---- */

static json_t *
jvalue(const uint8_t *v, size_t len, int money)
{
	json_t	*j = NULL;

	if (len == 0)
		return json_null();
	if (schema_value_to_json(v, len, money, &j) != 0)
		return json_null();
	return j;
}

static int
conflict_json(const uint8_t cid[ID_LEN], const struct rec_conflict *c,
    json_t **out)
{
	json_t		*o, *vals, *v;
	uint32_t	 i;
	int		 rc, money = is_money_field(c->field);

	*out = NULL;
	if ((o = json_object()) == NULL)
		return CAJA_ENOMEM;
	if ((vals = json_array()) == NULL || (rc = jset(o, "values",
	    vals)) != 0) {
		json_decref(o);
		return CAJA_ENOMEM;
	}
	for (i = 0; i < c->nvalues; i++) {
		const struct rec_cval	*cv = &c->values[i];

		if ((v = json_object()) == NULL || (rc = japp(vals, v)) != 0) {
			rc = CAJA_ENOMEM;
			goto fail;
		}
		if ((rc = jset(v, "value", jvalue(cv->value, cv->value_len,
		    money))) ||
		    (rc = jset(v, "event_id", evjson_hex(cv->event_id, HASH_LEN))) ||
		    (rc = jset(v, "device_id", evjson_hex(cv->dev, ID_LEN))) ||
		    (rc = jset(v, "seq", json_integer((json_int_t)cv->seq))) ||
		    (rc = jset(v, "hlc", json_integer((json_int_t)cv->hlc))) ||
		    (rc = jset(v, "time", evjson_time(cv->hlc))))
			goto fail;
	}
	if ((rc = jset(o, "conflict_id", evjson_hex(cid, ID_LEN))) ||
	    (rc = jset(o, "conflict_type", json_string(c->type))) ||
	    (rc = jset(o, "entity_type", json_string(c->entity_type))) ||
	    (rc = jset(o, "entity_id", json_string(c->entity_id))) ||
	    (rc = jset(o, "field", json_string(c->field))) ||
	    (rc = jset(o, "resolution_strategy", json_string(c->strategy))) ||
	    (rc = jset(o, "resolution_status", json_string(c->status))) ||
	    (rc = jset(o, "priority", json_string(c->priority))) ||
	    (rc = jset(o, "resolution_value", jvalue(c->res_value,
	    c->res_value_len, money))) ||
	    (rc = jset(o, "resolved_by", c->resolved_at != 0 ?
	    json_string(c->resolved_by) : json_null())) ||
	    (rc = jset(o, "resolved_at", c->resolved_at != 0 ?
	    evjson_time(c->resolved_at) : json_null())))
		goto fail;
	*out = o;
	return 0;
fail:
	json_decref(o);
	return rc;
}

int
store_conflicts_json(struct store *s, int all, json_t **out)
{
	MDB_txn			*txn = NULL;
	MDB_cursor		*c = NULL;
	MDB_val			 k, v;
	struct rec_conflict	*r = NULL;
	json_t			*a = NULL, *o;
	int			 rc, op = MDB_FIRST;

	*out = NULL;
	if ((r = malloc(sizeof(*r))) == NULL)
		return CAJA_ENOMEM;
	if ((rc = sdb_rtxn(s, &txn)) != 0)
		goto out;
	if ((a = json_array()) == NULL) {
		rc = CAJA_ENOMEM;
		goto out;
	}
	if ((rc = sdb_err(mdb_cursor_open(txn, s->dbi[DB_CONFLICTS],
	    &c))) != 0)
		goto out;
	while ((rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if (k.mv_size != ID_LEN) {
			rc = CAJA_ECORRUPT;
			goto out;
		}
		if ((rc = rec_conflict_decode(v.mv_data, v.mv_size, r)) != 0)
			goto out;
		if (!all && strcmp(r->status, "pending") != 0)
			continue;
		if ((rc = conflict_json(k.mv_data, r, &o)) != 0 ||
		    (rc = japp(a, o)) != 0)
			goto out;
	}
	rc = rc == MDB_NOTFOUND ? 0 : sdb_err(rc);
out:
	if (c != NULL)
		mdb_cursor_close(c);
	if (txn != NULL)
		mdb_txn_abort(txn);
	free(r);
	if (rc != 0)
		json_decref(a);
	else
		*out = a;
	return rc;
}

/* ---- devices ---- */

static void
dev_public(const struct sdb_dev *d, struct store_device *out)
{
	memset(out, 0, sizeof(*out));
	memcpy(out->id, d->id, ID_LEN);
	memcpy(out->pk, d->pk, SIG_PK_LEN);
	memcpy(out->name, d->name, sizeof(out->name));
	memcpy(out->role, d->role, sizeof(out->role));
	out->enrolled_hlc = d->enrolled_hlc;
	out->revoked = d->revoked;
	out->revoked_upto = d->revoked_upto;
	out->head_seq = d->head_seq;
	out->forked = d->forked;
}

static int
devices_cb(void *arg, const struct sdb_dev *d)
{
	json_t	*o;
	int	 rc;

	if ((o = json_object()) == NULL || (rc = japp(arg, o)) != 0)
		return CAJA_ENOMEM;
	if ((rc = jset(o, "device_id", evjson_hex(d->id, ID_LEN))) ||
	    (rc = jset(o, "name", json_string(d->name))) ||
	    (rc = jset(o, "role", json_string(d->role))) ||
	    (rc = jset(o, "enrolled_at", evjson_time(d->enrolled_hlc))) ||
	    (rc = jset(o, "revoked", json_boolean(d->revoked))) ||
	    (rc = jset(o, "revoked_upto_seq", d->revoked ?
	    json_integer((json_int_t)d->revoked_upto) : json_null())) ||
	    (rc = jset(o, "head_seq", json_integer((json_int_t)d->head_seq))) ||
	    (rc = jset(o, "forked", json_boolean(d->forked))))
		return rc;
	return 0;
}

int
store_devices_json(struct store *s, json_t **out)
{
	MDB_txn	*txn;
	json_t	*a;
	int	 rc;

	*out = NULL;
	if ((a = json_array()) == NULL)
		return CAJA_ENOMEM;
	if ((rc = sdb_rtxn(s, &txn)) != 0) {
		json_decref(a);
		return rc;
	}
	rc = sdb_dev_foreach(txn, s, devices_cb, a);
	mdb_txn_abort(txn);
	if (rc != 0)
		json_decref(a);
	else
		*out = a;
	return rc;
}

int
store_device_get(struct store *s, const uint8_t id[ID_LEN],
    struct store_device *out)
{
	struct sdb_dev	*d;
	MDB_txn		*txn;
	int		 rc;

	if ((d = malloc(sizeof(*d))) == NULL)
		return CAJA_ENOMEM;
	if ((rc = sdb_rtxn(s, &txn)) == 0) {
		if ((rc = sdb_dev_get(txn, s, id, d)) == 0)
			dev_public(d, out);
		mdb_txn_abort(txn);
	}
	free(d);
	return rc;
}

struct each_arg {
	int	(*fn)(void *, const struct store_device *);
	void	*arg;
	struct store_device	d;
};

static int
each_cb(void *arg, const struct sdb_dev *d)
{
	struct each_arg	*e = arg;

	dev_public(d, &e->d);
	return e->fn(e->arg, &e->d);
}

int
store_device_foreach(struct store *s,
    int (*fn)(void *, const struct store_device *), void *arg)
{
	struct each_arg	e;
	MDB_txn		*txn;
	int		 rc;

	e.fn = fn;
	e.arg = arg;
	if ((rc = sdb_rtxn(s, &txn)) != 0)
		return rc;
	rc = sdb_dev_foreach(txn, s, each_cb, &e);
	mdb_txn_abort(txn);
	return rc;
}

int
store_device_find(struct store *s, const char *hex, uint8_t out[ID_LEN])
{
	MDB_txn	*txn;
	int	 rc;

	if ((rc = sdb_rtxn(s, &txn)) != 0)
		return rc;
	rc = sdb_dev_find(txn, s, hex, out);
	mdb_txn_abort(txn);
	return rc;
}

/* ---- status ---- */

static int
count_pending(MDB_txn *txn, struct store *s, uint64_t *n)
{
	MDB_cursor		*c;
	MDB_val			 k, v;
	struct rec_conflict	*r;
	int			 rc, op = MDB_FIRST;

	*n = 0;
	if ((r = malloc(sizeof(*r))) == NULL)
		return CAJA_ENOMEM;
	if ((rc = sdb_err(mdb_cursor_open(txn, s->dbi[DB_CONFLICTS],
	    &c))) != 0) {
		free(r);
		return rc;
	}
	while ((rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if (rec_conflict_decode(v.mv_data, v.mv_size, r) == 0 &&
		    strcmp(r->status, "pending") == 0)
			(*n)++;
	}
	mdb_cursor_close(c);
	free(r);
	return rc == MDB_NOTFOUND ? 0 : sdb_err(rc);
}

int
store_status_json(struct store *s, json_t **out)
{
	MDB_txn		*txn = NULL;
	MDB_stat	 st;
	MDB_val		 v;
	struct vclock	*vc = NULL;
	json_t		*o = NULL, *j, *ref;
	char		 hex[ID_HEX];
	uint64_t	 clamped, pending, cnt;
	uint32_t	 i;
	int		 rc;

	*out = NULL;
	if ((vc = malloc(sizeof(*vc))) == NULL)
		return CAJA_ENOMEM;
	if ((rc = sdb_rtxn(s, &txn)) != 0)
		goto out;
	if ((rc = sdb_vclock(txn, s, vc)) != 0 ||
	    (rc = sdb_meta_get_u64(txn, s, "clamped", &clamped)) != 0 ||
	    (rc = count_pending(txn, s, &pending)) != 0 ||
	    (rc = sdb_err(mdb_stat(txn, s->dbi[DB_LOG], &st))) != 0)
		goto out;
	if ((o = json_object()) == NULL || (j = json_object()) == NULL ||
	    (rc = jset(o, "vector_clock", j)) != 0) {
		rc = CAJA_ENOMEM;
		goto out;
	}
	for (i = 0; i < vc->n; i++) {
		ids_hex(hex, vc->e[i].dev, ID_LEN);
		if ((rc = jset(j, hex, json_integer((json_int_t)
		    vc->e[i].seq))) != 0)
			goto out;
	}
	rc = sdb_get(txn, s->dbi[DB_META], "store_name", 10, &v);
	if (rc == 0)
		rc = jset(o, "store_name", jstrn(v.mv_data, v.mv_size));
	else if (rc == CAJA_ENOTFOUND)
		rc = jset(o, "store_name", json_null());
	if (rc != 0)
		goto out;
	if ((rc = jset(o, "device_id", evjson_hex(s->ids.device_id, ID_LEN))) ||
	    (rc = jset(o, "store_id", evjson_hex(s->ids.store_id, ID_LEN))) ||
	    (rc = jset(o, "admin", json_boolean(store_is_admin(s)))) ||
	    (rc = jset(o, "events", json_integer((json_int_t)
	    st.ms_entries))) ||
	    (rc = jset(o, "conflicts_pending", json_integer((json_int_t)
	    pending))) ||
	    (rc = jset(o, "clock_skew_clamped", json_integer((json_int_t)
	    clamped))))
		goto out;
	if ((ref = json_object()) == NULL || (rc = jset(o, "refused",
	    ref)) != 0) {
		rc = CAJA_ENOMEM;
		goto out;
	}
	rc = sdb_get(txn, s->dbi[DB_META], "refused", 7, &v);
	if (rc == CAJA_ENOTFOUND)
		rc = 0;
	else if (rc == 0 && v.mv_size == CAJA_ERR_MAX * 8) {
		for (i = 0; i < CAJA_ERR_MAX; i++) {
			cnt = sdb_be64_get((uint8_t *)v.mv_data + 8 * i);
			if (cnt != 0 && (rc = jset(ref, err_str((int)i),
			    json_integer((json_int_t)cnt))) != 0)
				goto out;
		}
	}
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	free(vc);
	if (rc != 0)
		json_decref(o);
	else
		*out = o;
	return rc;
}

/* ---- log ---- */

static int
log_entry(const uint8_t *frame, size_t len, json_t **out)
{
	int	rc = evjson_event(frame, len, 0, out);

	/* our own log: a frame that does not decode is damage */
	return rc == 0 || rc == CAJA_ENOMEM ? rc : CAJA_ECORRUPT;
}

int
store_log_json(struct store *s, const char *dev, uint64_t since,
    size_t limit, json_t **out)
{
	MDB_txn		*txn = NULL;
	MDB_cursor	*c = NULL;
	MDB_val		 k, v;
	json_t		*a = NULL, *o;
	uint8_t		 want[ID_LEN], key[SDB_LOGKEY_LEN];
	size_t		 n = 0;
	int		 rc, op;

	*out = NULL;
	if ((rc = sdb_rtxn(s, &txn)) != 0)
		return rc;
	if (dev != NULL && (rc = sdb_dev_find(txn, s, dev, want)) != 0)
		goto out;
	if ((a = json_array()) == NULL) {
		rc = CAJA_ENOMEM;
		goto out;
	}
	if ((rc = sdb_err(mdb_cursor_open(txn, s->dbi[DB_LOG], &c))) != 0)
		goto out;
	if (dev != NULL) {
		sdb_log_key(key, want, since + 1);
		k.mv_data = key;
		k.mv_size = sizeof(key);
		op = MDB_SET_RANGE;
	} else
		op = MDB_FIRST;
	while ((rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if (k.mv_size != SDB_LOGKEY_LEN) {
			rc = CAJA_ECORRUPT;
			goto out;
		}
		if (dev != NULL && memcmp(k.mv_data, want, ID_LEN) != 0)
			break;
		if (sdb_be64_get((uint8_t *)k.mv_data + ID_LEN) <= since)
			continue;
		if (limit != 0 && n >= limit)
			break;
		if ((rc = log_entry(v.mv_data, v.mv_size, &o)) != 0 ||
		    (rc = japp(a, o)) != 0)
			goto out;
		n++;
	}
	rc = rc == MDB_NOTFOUND || rc == 0 ? 0 : sdb_err(rc);
out:
	if (c != NULL)
		mdb_cursor_close(c);
	mdb_txn_abort(txn);
	if (rc != 0)
		json_decref(a);
	else
		*out = a;
	return rc;
}
