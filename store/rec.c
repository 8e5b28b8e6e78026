/*
 * rec: canonical records of the read models.
 *
 * Layouts (msgpack arrays; a stamp is hlc, device bin16, seq; a vv is an
 * array of [device bin16, seq] pairs sorted by device):
 *   product   [name lww, barcode lww, active lww, price_bs mv, price_usd mv,
 *              stock]
 *   customer  [name lww, phone lww, address lww, balance]
 *   sale      [created, voided, create stamp, items, total_bs, customer_id,
 *              on_credit, edits, note]
 *   conflict  [type, entity_type, entity_id, field, values, strategy,
 *              status, priority, resolution_value, resolved_by,
 *              resolved_at, resolved_event]
 *   totals    [count, total_bs, voided, voided_bs]
 *   invite    [role, expires_ms, inviter, used_by (empty bin: unused)]
 * with lww = [stamp..., value], mv = array of [stamp..., vv, value bin],
 * edit = [stamp..., vv, ops], op = [type, pos, len, text].
 */
#include <stdlib.h>
#include <string.h>

#include "proto/codec.h"
#include "store/rec.h"

void
rec_strlcpy(char *dst, size_t cap, const char *src, size_t len)
{
	if (cap == 0)
		return;
	if (len >= cap)
		len = cap - 1;
	if (len > 0)
		memcpy(dst, src, len);
	dst[len] = '\0';
}

/* ---- helpers ---- */

static void
wr_stamp(struct codec_wr *w, const struct crdt_stamp *st)
{
	codec_write_uint(w, st->hlc);
	codec_write_bin(w, st->dev, ID_LEN);
	codec_write_uint(w, st->seq);
}

static int
rd_stamp(struct codec_rd *r, struct crdt_stamp *st)
{
	if (codec_read_uint(r, &st->hlc) || codec_read_fixbin(r, st->dev,
	    ID_LEN) || codec_read_uint(r, &st->seq))
		return CAJA_ECORRUPT;
	return 0;
}

static void
wr_vv(struct codec_wr *w, const struct vclock *vv)
{
	uint32_t	i;

	codec_write_array(w, vv->n);
	for (i = 0; i < vv->n; i++) {
		codec_write_array(w, 2);
		codec_write_bin(w, vv->e[i].dev, ID_LEN);
		codec_write_uint(w, vv->e[i].seq);
	}
}

static int
rd_vv(struct codec_rd *r, struct vclock *vv)
{
	uint32_t	n, k, i;

	if (codec_read_array(r, &n) || n > VCLOCK_MAX)
		return CAJA_ECORRUPT;
	for (i = 0; i < n; i++) {
		if (codec_read_array(r, &k) || k != 2 ||
		    codec_read_fixbin(r, vv->e[i].dev, ID_LEN) ||
		    codec_read_uint(r, &vv->e[i].seq))
			return CAJA_ECORRUPT;
	}
	vv->n = n;
	return 0;
}

static int
rd_str(struct codec_rd *r, struct rec_str *s)
{
	if (codec_read_str(r, &s->p, &s->len))
		return CAJA_ECORRUPT;
	return 0;
}

static int
rd_cstr(struct codec_rd *r, char *out, size_t cap)
{
	const char	*p;
	uint32_t	 len;

	if (codec_read_str(r, &p, &len) || len >= cap)
		return CAJA_ECORRUPT;
	rec_strlcpy(out, cap, p, len);
	return 0;
}

static int
rd_binmax(struct codec_rd *r, uint8_t *out, uint32_t cap, uint32_t *len)
{
	const uint8_t	*p;
	uint32_t	 n;

	if (codec_read_bin(r, &p, &n) || n > cap)
		return CAJA_ECORRUPT;
	if (n > 0)
		memcpy(out, p, n);
	*len = n;
	return 0;
}

static void
wr_lww(struct codec_wr *w, const struct rec_lww *l, int isbool)
{
	codec_write_array(w, 4);
	wr_stamp(w, &l->st);
	if (isbool)
		codec_write_bool(w, l->b);
	else
		codec_write_str(w, l->s.p != NULL ? l->s.p : "", l->s.len);
}

static int
rd_lww(struct codec_rd *r, struct rec_lww *l, int isbool)
{
	uint32_t	n;

	memset(l, 0, sizeof(*l));
	if (codec_read_array(r, &n) || n != 4 || rd_stamp(r, &l->st))
		return CAJA_ECORRUPT;
	if (isbool)
		return codec_read_bool(r, &l->b) ? CAJA_ECORRUPT : 0;
	return rd_str(r, &l->s);
}

static void
wr_mv(struct codec_wr *w, const struct crdt_mv *mv)
{
	uint32_t	i;

	codec_write_array(w, mv->n);
	for (i = 0; i < mv->n; i++) {
		codec_write_array(w, 5);
		codec_write_uint(w, mv->e[i].st.hlc);
		codec_write_bin(w, mv->e[i].st.dev, ID_LEN);
		codec_write_uint(w, mv->e[i].st.seq);
		wr_vv(w, &mv->e[i].vv);
		codec_write_bin(w, mv->e[i].value, mv->e[i].value_len);
	}
}

static int
rd_mv(struct codec_rd *r, struct crdt_mv *mv)
{
	uint32_t	n, k, i;

	mv->n = 0;
	if (codec_read_array(r, &n) || n > CRDT_MV_MAX)
		return CAJA_ECORRUPT;
	for (i = 0; i < n; i++) {
		if (codec_read_array(r, &k) || k != 5 ||
		    rd_stamp(r, &mv->e[i].st) || rd_vv(r, &mv->e[i].vv) ||
		    rd_binmax(r, mv->e[i].value, CRDT_VALUE_MAX,
		    &mv->e[i].value_len))
			return CAJA_ECORRUPT;
	}
	mv->n = n;
	return 0;
}

static int
wr_done(struct codec_wr *w)
{
	return codec_wr_error(w);
}

/* ---- product ---- */

void
rec_product_init(struct rec_product *p)
{
	/* not the whole struct: the registers are large and n bounds them */
	memset(&p->name, 0, sizeof(p->name));
	memset(&p->barcode, 0, sizeof(p->barcode));
	memset(&p->active, 0, sizeof(p->active));
	p->price[REC_PRICE_BS].n = 0;
	p->price[REC_PRICE_USD].n = 0;
	p->stock = 0;
}

int
rec_product_decode(const uint8_t *b, size_t len, struct rec_product *p)
{
	struct codec_rd	r;
	uint32_t	n;

	rec_product_init(p);
	codec_rd_init(&r, b, len);
	if (codec_read_array(&r, &n) || n != 6 ||
	    rd_lww(&r, &p->name, 0) || rd_lww(&r, &p->barcode, 0) ||
	    rd_lww(&r, &p->active, 1) ||
	    rd_mv(&r, &p->price[REC_PRICE_BS]) ||
	    rd_mv(&r, &p->price[REC_PRICE_USD]) ||
	    codec_read_int(&r, &p->stock) || r.p != r.end)
		return CAJA_ECORRUPT;
	return 0;
}

int
rec_product_encode(const struct rec_product *p, struct buf *out)
{
	struct codec_wr	w;

	codec_wr_init(&w, out);
	codec_write_array(&w, 6);
	wr_lww(&w, &p->name, 0);
	wr_lww(&w, &p->barcode, 0);
	wr_lww(&w, &p->active, 1);
	wr_mv(&w, &p->price[REC_PRICE_BS]);
	wr_mv(&w, &p->price[REC_PRICE_USD]);
	codec_write_int(&w, p->stock);
	return wr_done(&w);
}

/* ---- customer ---- */

void
rec_customer_init(struct rec_customer *c)
{
	memset(c, 0, sizeof(*c));
}

int
rec_customer_decode(const uint8_t *b, size_t len, struct rec_customer *c)
{
	struct codec_rd	r;
	uint32_t	n;

	rec_customer_init(c);
	codec_rd_init(&r, b, len);
	if (codec_read_array(&r, &n) || n != 4 ||
	    rd_lww(&r, &c->name, 0) || rd_lww(&r, &c->phone, 0) ||
	    rd_lww(&r, &c->address, 0) || codec_read_int(&r, &c->balance) ||
	    r.p != r.end)
		return CAJA_ECORRUPT;
	return 0;
}

int
rec_customer_encode(const struct rec_customer *c, struct buf *out)
{
	struct codec_wr	w;

	codec_wr_init(&w, out);
	codec_write_array(&w, 4);
	wr_lww(&w, &c->name, 0);
	wr_lww(&w, &c->phone, 0);
	wr_lww(&w, &c->address, 0);
	codec_write_int(&w, c->balance);
	return wr_done(&w);
}

/* ---- sale ---- */

void
rec_sale_init(struct rec_sale *s)
{
	/* not items[] (6 KiB): nitems bounds them */
	memset(s, 0, offsetof(struct rec_sale, items));
	memset(&s->total_bs, 0, sizeof(*s) -
	    offsetof(struct rec_sale, total_bs));
}

void
rec_sale_reset(struct rec_sale *s)
{
	free(s->edits);
	rec_sale_init(s);
}

int
rec_sale_grow(struct rec_sale *s)
{
	struct crdt_edit	*e;
	uint32_t		 cap;

	if (s->nedits < s->capedits)
		return 0;
	if (s->capedits >= CRDT_NOTE_EDITS_MAX + 1)
		return CAJA_ETOOBIG;
	cap = s->capedits == 0 ? 4 : s->capedits * 2;
	if (cap > CRDT_NOTE_EDITS_MAX + 1)
		cap = CRDT_NOTE_EDITS_MAX + 1;
	e = realloc(s->edits, cap * sizeof(*e));
	if (e == NULL)
		return CAJA_ENOMEM;
	s->edits = e;
	s->capedits = cap;
	return 0;
}

static int
rd_edit(struct codec_rd *r, struct crdt_edit *e)
{
	uint32_t	n, k, i;
	uint64_t	v;

	if (codec_read_array(r, &n) || n != 5 || rd_stamp(r, &e->st) ||
	    rd_vv(r, &e->vv) || codec_read_array(r, &k) ||
	    k > CRDT_NOTE_OPS_MAX)
		return CAJA_ECORRUPT;
	for (i = 0; i < k; i++) {
		struct crdt_op	*op = &e->ops[i];

		if (codec_read_array(r, &n) || n != 4 ||
		    codec_read_uint(r, &v) || v > 2)
			return CAJA_ECORRUPT;
		op->type = (int)v;
		if (codec_read_uint(r, &v) || v > UINT32_MAX)
			return CAJA_ECORRUPT;
		op->pos = (uint32_t)v;
		if (codec_read_uint(r, &v) || v > UINT32_MAX)
			return CAJA_ECORRUPT;
		op->len = (uint32_t)v;
		if (codec_read_str(r, &op->text, &op->text_len))
			return CAJA_ECORRUPT;
	}
	e->nops = k;
	return 0;
}

static void
wr_edit(struct codec_wr *w, const struct crdt_edit *e)
{
	uint32_t	i;

	codec_write_array(w, 5);
	codec_write_uint(w, e->st.hlc);
	codec_write_bin(w, e->st.dev, ID_LEN);
	codec_write_uint(w, e->st.seq);
	wr_vv(w, &e->vv);
	codec_write_array(w, e->nops);
	for (i = 0; i < e->nops; i++) {
		codec_write_array(w, 4);
		codec_write_uint(w, (uint64_t)e->ops[i].type);
		codec_write_uint(w, e->ops[i].pos);
		codec_write_uint(w, e->ops[i].len);
		codec_write_str(w, e->ops[i].text != NULL ? e->ops[i].text :
		    "", e->ops[i].text_len);
	}
}

int
rec_sale_decode(const uint8_t *b, size_t len, struct rec_sale *s)
{
	struct codec_rd	r;
	uint32_t	n, k, i;
	int		rc;

	rec_sale_reset(s);
	codec_rd_init(&r, b, len);
	if (codec_read_array(&r, &n) || n != 9 ||
	    codec_read_bool(&r, &s->created) ||
	    codec_read_bool(&r, &s->voided) ||
	    codec_read_array(&r, &k) || k != 3 ||
	    rd_stamp(&r, &s->create_st) ||
	    codec_read_array(&r, &k) || k > SCHEMA_ITEMS_MAX)
		return CAJA_ECORRUPT;
	for (i = 0; i < k; i++) {
		struct rec_item	*it = &s->items[i];

		if (codec_read_array(&r, &n) || n != 5 ||
		    rd_str(&r, &it->product_id) ||
		    codec_read_int(&r, &it->qty) ||
		    codec_read_int(&r, &it->price_bs) ||
		    codec_read_int(&r, &it->price_usd) ||
		    codec_read_bool(&r, &it->has_usd))
			return CAJA_ECORRUPT;
	}
	s->nitems = k;
	if (codec_read_int(&r, &s->total_bs) ||
	    rd_str(&r, &s->customer_id) ||
	    codec_read_bool(&r, &s->on_credit) ||
	    codec_read_array(&r, &k) || k > CRDT_NOTE_EDITS_MAX)
		return CAJA_ECORRUPT;
	for (i = 0; i < k; i++) {
		if ((rc = rec_sale_grow(s)) != 0)
			return rc;
		if (rd_edit(&r, &s->edits[i]))
			return CAJA_ECORRUPT;
		s->nedits = i + 1;
	}
	if (rd_str(&r, &s->note) || r.p != r.end)
		return CAJA_ECORRUPT;
	return 0;
}

int
rec_sale_encode(const struct rec_sale *s, struct buf *out)
{
	struct codec_wr	w;
	uint32_t	i;

	codec_wr_init(&w, out);
	codec_write_array(&w, 9);
	codec_write_bool(&w, s->created);
	codec_write_bool(&w, s->voided);
	codec_write_array(&w, 3);
	wr_stamp(&w, &s->create_st);
	codec_write_array(&w, s->nitems);
	for (i = 0; i < s->nitems; i++) {
		const struct rec_item	*it = &s->items[i];

		codec_write_array(&w, 5);
		codec_write_str(&w, it->product_id.p, it->product_id.len);
		codec_write_int(&w, it->qty);
		codec_write_int(&w, it->price_bs);
		codec_write_int(&w, it->price_usd);
		codec_write_bool(&w, it->has_usd);
	}
	codec_write_int(&w, s->total_bs);
	codec_write_str(&w, s->customer_id.p != NULL ? s->customer_id.p : "",
	    s->customer_id.len);
	codec_write_bool(&w, s->on_credit);
	codec_write_array(&w, s->nedits);
	for (i = 0; i < s->nedits; i++)
		wr_edit(&w, &s->edits[i]);
	codec_write_str(&w, s->note.p != NULL ? s->note.p : "", s->note.len);
	return wr_done(&w);
}

/* ---- conflict ---- */

void
rec_conflict_init(struct rec_conflict *c)
{
	memset(c, 0, sizeof(*c));
}

int
rec_conflict_decode(const uint8_t *b, size_t len, struct rec_conflict *c)
{
	struct codec_rd	 r;
	const uint8_t	*bp;
	uint32_t	 n, k, i;

	rec_conflict_init(c);
	codec_rd_init(&r, b, len);
	if (codec_read_array(&r, &n) || n != 12 ||
	    rd_cstr(&r, c->type, sizeof(c->type)) ||
	    rd_cstr(&r, c->entity_type, sizeof(c->entity_type)) ||
	    rd_cstr(&r, c->entity_id, sizeof(c->entity_id)) ||
	    rd_cstr(&r, c->field, sizeof(c->field)) ||
	    codec_read_array(&r, &k) || k > REC_VALUES_MAX)
		return CAJA_ECORRUPT;
	for (i = 0; i < k; i++) {
		struct rec_cval	*v = &c->values[i];

		if (codec_read_array(&r, &n) || n != 5 ||
		    rd_binmax(&r, v->value, CRDT_VALUE_MAX, &v->value_len) ||
		    codec_read_fixbin(&r, v->event_id, HASH_LEN) ||
		    codec_read_fixbin(&r, v->dev, ID_LEN) ||
		    codec_read_uint(&r, &v->hlc) ||
		    codec_read_uint(&r, &v->seq))
			return CAJA_ECORRUPT;
	}
	c->nvalues = k;
	if (rd_cstr(&r, c->strategy, sizeof(c->strategy)) ||
	    rd_cstr(&r, c->status, sizeof(c->status)) ||
	    rd_cstr(&r, c->priority, sizeof(c->priority)) ||
	    rd_binmax(&r, c->res_value, CRDT_VALUE_MAX, &c->res_value_len) ||
	    rd_cstr(&r, c->resolved_by, sizeof(c->resolved_by)) ||
	    codec_read_uint(&r, &c->resolved_at) ||
	    codec_read_bin(&r, &bp, &k) || (k != 0 && k != HASH_LEN) ||
	    r.p != r.end)
		return CAJA_ECORRUPT;
	if (k == HASH_LEN)
		memcpy(c->resolved_event, bp, HASH_LEN);
	return 0;
}

int
rec_conflict_encode(const struct rec_conflict *c, struct buf *out)
{
	struct codec_wr	w;
	uint32_t	i;
	static const uint8_t zero[HASH_LEN];

	codec_wr_init(&w, out);
	codec_write_array(&w, 12);
	codec_write_cstr(&w, c->type);
	codec_write_cstr(&w, c->entity_type);
	codec_write_cstr(&w, c->entity_id);
	codec_write_cstr(&w, c->field);
	codec_write_array(&w, c->nvalues);
	for (i = 0; i < c->nvalues; i++) {
		const struct rec_cval	*v = &c->values[i];

		codec_write_array(&w, 5);
		codec_write_bin(&w, v->value, v->value_len);
		codec_write_bin(&w, v->event_id, HASH_LEN);
		codec_write_bin(&w, v->dev, ID_LEN);
		codec_write_uint(&w, v->hlc);
		codec_write_uint(&w, v->seq);
	}
	codec_write_cstr(&w, c->strategy);
	codec_write_cstr(&w, c->status);
	codec_write_cstr(&w, c->priority);
	codec_write_bin(&w, c->res_value, c->res_value_len);
	codec_write_cstr(&w, c->resolved_by);
	codec_write_uint(&w, c->resolved_at);
	if (memcmp(c->resolved_event, zero, HASH_LEN) == 0)
		codec_write_bin(&w, zero, 0);
	else
		codec_write_bin(&w, c->resolved_event, HASH_LEN);
	return wr_done(&w);
}

/* ---- totals ---- */

int
rec_totals_decode(const uint8_t *b, size_t len, struct rec_totals *t)
{
	struct codec_rd	r;
	uint32_t	n;

	memset(t, 0, sizeof(*t));
	codec_rd_init(&r, b, len);
	if (codec_read_array(&r, &n) || n != 4 ||
	    codec_read_uint(&r, &t->count) ||
	    codec_read_int(&r, &t->total_bs) ||
	    codec_read_uint(&r, &t->voided) ||
	    codec_read_int(&r, &t->voided_bs) || r.p != r.end)
		return CAJA_ECORRUPT;
	return 0;
}

int
rec_totals_encode(const struct rec_totals *t, struct buf *out)
{
	struct codec_wr	w;

	codec_wr_init(&w, out);
	codec_write_array(&w, 4);
	codec_write_uint(&w, t->count);
	codec_write_int(&w, t->total_bs);
	codec_write_uint(&w, t->voided);
	codec_write_int(&w, t->voided_bs);
	return wr_done(&w);
}

/* ---- invite ---- */

int
rec_invite_decode(const uint8_t *b, size_t len, struct rec_invite *iv)
{
	struct codec_rd	 r;
	const uint8_t	*p;
	uint32_t	 n, k;

	memset(iv, 0, sizeof(*iv));
	codec_rd_init(&r, b, len);
	if (codec_read_array(&r, &n) || n != 4 ||
	    rd_cstr(&r, iv->role, sizeof(iv->role)) ||
	    codec_read_uint(&r, &iv->expires_ms) ||
	    codec_read_fixbin(&r, iv->inviter, ID_LEN) ||
	    codec_read_bin(&r, &p, &k) || (k != 0 && k != ID_LEN) ||
	    r.p != r.end)
		return CAJA_ECORRUPT;
	if (k == ID_LEN) {
		iv->used = 1;
		memcpy(iv->used_by, p, ID_LEN);
	}
	return 0;
}

int
rec_invite_encode(const struct rec_invite *iv, struct buf *out)
{
	struct codec_wr	w;

	codec_wr_init(&w, out);
	codec_write_array(&w, 4);
	codec_write_cstr(&w, iv->role);
	codec_write_uint(&w, iv->expires_ms);
	codec_write_bin(&w, iv->inviter, ID_LEN);
	codec_write_bin(&w, iv->used_by, iv->used ? ID_LEN : 0);
	return wr_done(&w);
}
