/*
 * crdt: unit behaviour of each merge rule and the seed examples.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "proto/schema.h"
#include "proto/sig.h"
#include "proto/vclock.h"
#include "store/crdt.h"

#define MIN(h, m)	((uint64_t)((h) * 60 + (m)) * 60000)	/* ms */
#define TS(ms)		((uint64_t)(ms) << 16)		/* hlc */

enum { A = 1, B = 2, C = 3 };

static void
setup(void)
{
	cr_assert_eq(sig_init(), 0);
}

TestSuite(crdt, .init = setup);

static void
dev_of(uint8_t dev[ID_LEN], int d)
{
	memset(dev, 0, ID_LEN);
	dev[0] = 0xd0;
	dev[ID_LEN - 1] = (uint8_t)d;
}

static struct crdt_stamp
stamp(uint64_t hlc, int d, uint64_t seq)
{
	struct crdt_stamp	st;

	memset(&st, 0, sizeof(st));
	st.hlc = hlc;
	dev_of(st.dev, d);
	st.seq = seq;
	return st;
}

static void
vv_put(struct vclock *vv, int d, uint64_t seq)
{
	uint8_t	dev[ID_LEN];

	dev_of(dev, d);
	cr_assert_eq(vclock_set(vv, dev, seq), 0);
}

/* An MV write of value by (d, seq) that has seen the (dev, seq) pairs in
 * deps (terminated by 0). */
static void
mv_write(struct crdt_mv_entry *e, uint64_t hlc, int d, uint64_t seq,
    const char *value, const int *deps)
{
	memset(e, 0, sizeof(*e));
	e->st = stamp(hlc, d, seq);
	vclock_init(&e->vv);
	vv_put(&e->vv, d, seq);
	for (; deps != NULL && deps[0] != 0; deps += 2)
		vv_put(&e->vv, deps[0], (uint64_t)deps[1]);
	e->value_len = (uint32_t)strlen(value);
	memcpy(e->value, value, e->value_len);
}

static int
mv_has_value(const struct crdt_mv *mv, const char *value)
{
	uint32_t	i;

	for (i = 0; i < mv->n; i++)
		if (mv->e[i].value_len == strlen(value) &&
		    memcmp(mv->e[i].value, value, mv->e[i].value_len) == 0)
			return 1;
	return 0;
}

static int
mv_eq(const struct crdt_mv *a, const struct crdt_mv *b)
{
	uint32_t	i;

	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++) {
		if (crdt_stamp_cmp(&a->e[i].st, &b->e[i].st) != 0 ||
		    a->e[i].value_len != b->e[i].value_len ||
		    memcmp(a->e[i].value, b->e[i].value, a->e[i].value_len))
			return 0;
	}
	return 1;
}

/* --- stamps ------------------------------------------------------------- */

Test(crdt, stamp_order_is_hlc_then_device_then_seq)
{
	struct crdt_stamp	a = stamp(TS(100), B, 1);
	struct crdt_stamp	b = stamp(TS(101), A, 1);
	struct crdt_stamp	c = stamp(TS(100), A, 9);
	struct crdt_stamp	d = stamp(TS(100), A, 10);

	cr_assert_lt(crdt_stamp_cmp(&a, &b), 0);
	cr_assert_gt(crdt_stamp_cmp(&b, &a), 0);
	cr_assert_lt(crdt_stamp_cmp(&c, &a), 0);	/* same hlc: device */
	cr_assert_lt(crdt_stamp_cmp(&c, &d), 0);	/* same device: seq */
	cr_assert_eq(crdt_stamp_cmp(&d, &d), 0);
}

Test(crdt, happened_before_reads_the_version_vector)
{
	struct crdt_stamp	a3 = stamp(TS(1), A, 3);
	struct crdt_stamp	a4 = stamp(TS(2), A, 4);
	struct vclock		vv;

	vclock_init(&vv);
	vv_put(&vv, B, 7);
	vv_put(&vv, A, 3);
	cr_assert_eq(crdt_happened_before(&a3, &vv), 1);
	cr_assert_eq(crdt_happened_before(&a4, &vv), 0);
}

/* --- 1. LWW ------------------------------------------------------------- */

struct lww {
	struct crdt_stamp	st;
	const char		*value;
};

static void
lww_put(struct lww *r, const struct crdt_stamp *st, const char *value)
{
	if (crdt_lww_wins(&r->st, st)) {
		r->st = *st;
		r->value = value;
	}
}

Test(crdt, lww_seed_product_name_in_both_orders)
{
	struct crdt_stamp	a = stamp(TS(MIN(10, 0)), A, 1);
	struct crdt_stamp	b = stamp(TS(MIN(10, 5)), B, 1);
	struct lww		r1, r2;

	memset(&r1, 0, sizeof(r1));
	memset(&r2, 0, sizeof(r2));
	lww_put(&r1, &a, "Coca Cola 1L");
	lww_put(&r1, &b, "Coca-Cola 1000ml");
	lww_put(&r2, &b, "Coca-Cola 1000ml");
	lww_put(&r2, &a, "Coca Cola 1L");
	lww_put(&r2, &b, "Coca-Cola 1000ml");	/* duplicate */
	cr_assert_str_eq(r1.value, "Coca-Cola 1000ml");
	cr_assert_str_eq(r2.value, "Coca-Cola 1000ml");
	cr_assert_eq(crdt_stamp_cmp(&r1.st, &b), 0);
}

Test(crdt, lww_ties_go_to_the_greater_device_and_duplicates_lose)
{
	struct crdt_stamp	zero, a = stamp(TS(5), A, 1);
	struct crdt_stamp	b = stamp(TS(5), B, 1);

	memset(&zero, 0, sizeof(zero));
	cr_assert_eq(crdt_lww_wins(&zero, &a), 1);	/* empty register */
	cr_assert_eq(crdt_lww_wins(&a, &b), 1);
	cr_assert_eq(crdt_lww_wins(&b, &a), 0);
	cr_assert_eq(crdt_lww_wins(&b, &b), 0);
}

/* --- counters ----------------------------------------------------------- */

Test(crdt, counter_stock_received_and_adjusted)
{
	int64_t	s1 = 0, s2 = 0, big = INT64_MAX;

	crdt_counter_add(&s1, 10);	/* StockReceived qty 10 */
	crdt_counter_add(&s1, -5);	/* StockAdjusted delta -5 */
	crdt_counter_add(&s2, -5);
	crdt_counter_add(&s2, 10);
	cr_assert_eq(s1, 5);
	cr_assert_eq(s2, 5);
	/* Wraps instead of undefined behaviour; and comes back. */
	crdt_counter_add(&big, 1);
	crdt_counter_add(&big, -1);
	cr_assert_eq(big, INT64_MAX);
}

/* --- 2. MV register ----------------------------------------------------- */

Test(crdt, mv_concurrent_prices_make_a_conflict_with_both_values)
{
	struct crdt_mv_entry	a, b;
	struct crdt_mv		m1, m2;
	uint8_t			id1[ID_LEN], id2[ID_LEN], zero[ID_LEN];

	mv_write(&a, TS(MIN(9, 0)), A, 1, "5.00", NULL);
	mv_write(&b, TS(MIN(9, 1)), B, 1, "5.50", NULL);
	memset(&m1, 0, sizeof(m1));
	memset(&m2, 0, sizeof(m2));
	cr_assert_eq(crdt_mv_apply(&m1, &a), 0);
	cr_assert_eq(crdt_mv_apply(&m1, &b), 0);
	cr_assert_eq(crdt_mv_apply(&m2, &b), 0);
	cr_assert_eq(crdt_mv_apply(&m2, &a), 0);
	cr_assert_eq(crdt_mv_apply(&m2, &a), 0);	/* duplicate */

	cr_assert_eq(m1.n, 2);
	cr_assert(mv_has_value(&m1, "5.00") && mv_has_value(&m1, "5.50"));
	cr_assert(mv_eq(&m1, &m2));
	cr_assert_eq(crdt_mv_is_conflict(&m1), 1);
	/* Provisional value: the greatest stamp (B, written later). */
	cr_assert_eq(memcmp(crdt_mv_winner(&m1)->value, "5.50", 4), 0);

	crdt_mv_conflict_id(&m1, "product", "p1", "price_bs", id1);
	crdt_mv_conflict_id(&m2, "product", "p1", "price_bs", id2);
	memset(zero, 0, sizeof(zero));
	cr_assert_eq(memcmp(id1, id2, ID_LEN), 0);
	cr_assert_neq(memcmp(id1, zero, ID_LEN), 0);
	crdt_mv_conflict_id(&m1, "product", "p1", "price_usd", id2);
	cr_assert_neq(memcmp(id1, id2, ID_LEN), 0);
	crdt_mv_conflict_id(&m1, "product", "p2", "price_bs", id2);
	cr_assert_neq(memcmp(id1, id2, ID_LEN), 0);
}

Test(crdt, mv_agreeing_concurrent_values_are_no_conflict)
{
	struct crdt_mv_entry	a, b;
	struct crdt_mv		m;

	mv_write(&a, TS(10), A, 1, "5.00", NULL);
	mv_write(&b, TS(11), B, 1, "5.00", NULL);
	memset(&m, 0, sizeof(m));
	cr_assert_eq(crdt_mv_apply(&m, &a), 0);
	cr_assert_eq(crdt_mv_apply(&m, &b), 0);
	cr_assert_eq(m.n, 2);
	cr_assert_eq(crdt_mv_is_conflict(&m), 0);
}

Test(crdt, mv_causally_ordered_values_are_no_conflict)
{
	static const int	saw_a1[] = { A, 1, 0 };
	struct crdt_mv_entry	a, b;
	struct crdt_mv		m1, m2;

	mv_write(&a, TS(10), A, 1, "5.00", NULL);
	/* B saw A's price, then wrote its own: B follows A. */
	mv_write(&b, TS(20), B, 1, "5.50", saw_a1);
	memset(&m1, 0, sizeof(m1));
	memset(&m2, 0, sizeof(m2));
	cr_assert_eq(crdt_mv_apply(&m1, &a), 0);
	cr_assert_eq(crdt_mv_apply(&m1, &b), 0);
	cr_assert_eq(crdt_mv_apply(&m2, &b), 0);
	cr_assert_eq(crdt_mv_apply(&m2, &a), 0);	/* late, overwritten */
	cr_assert_eq(m1.n, 1);
	cr_assert(mv_eq(&m1, &m2));
	cr_assert_eq(crdt_mv_is_conflict(&m1), 0);
	cr_assert_eq(memcmp(crdt_mv_winner(&m2)->value, "5.50", 4), 0);
}

Test(crdt, mv_causal_order_wins_over_a_greater_stamp)
{
	static const int	saw_a1[] = { A, 1, 0 };
	struct crdt_mv_entry	a, b;
	struct crdt_mv		m;

	/* A's clock runs ahead: B's later write still replaces it. */
	mv_write(&a, TS(500), A, 1, "5.00", NULL);
	mv_write(&b, TS(20), B, 1, "6.00", saw_a1);
	memset(&m, 0, sizeof(m));
	cr_assert_eq(crdt_mv_apply(&m, &b), 0);
	cr_assert_eq(crdt_mv_apply(&m, &a), 0);
	cr_assert_eq(m.n, 1);
	cr_assert_eq(memcmp(crdt_mv_winner(&m)->value, "6.00", 4), 0);
}

Test(crdt, mv_resolution_that_follows_both_collapses_the_conflict)
{
	static const int	saw_both[] = { A, 1, B, 1, 0 };
	struct crdt_mv_entry	a, b, r;
	struct crdt_mv		m1, m2;
	uint8_t			id_before[ID_LEN], id_after[ID_LEN];

	mv_write(&a, TS(10), A, 1, "5.00", NULL);
	mv_write(&b, TS(11), B, 1, "5.50", NULL);
	mv_write(&r, TS(30), C, 1, "5.25", saw_both);
	memset(&m1, 0, sizeof(m1));
	memset(&m2, 0, sizeof(m2));
	cr_assert_eq(crdt_mv_apply(&m1, &a), 0);
	cr_assert_eq(crdt_mv_apply(&m1, &b), 0);
	cr_assert_eq(crdt_mv_is_conflict(&m1), 1);
	crdt_mv_conflict_id(&m1, "product", "p1", "price_bs", id_before);
	cr_assert_eq(crdt_mv_apply(&m1, &r), 0);
	cr_assert_eq(m1.n, 1);
	cr_assert_eq(crdt_mv_is_conflict(&m1), 0);
	cr_assert_eq(memcmp(crdt_mv_winner(&m1)->value, "5.25", 4), 0);
	crdt_mv_conflict_id(&m1, "product", "p1", "price_bs", id_after);
	cr_assert_neq(memcmp(id_before, id_after, ID_LEN), 0);

	/* The resolution arrives first somewhere else. */
	cr_assert_eq(crdt_mv_apply(&m2, &r), 0);
	cr_assert_eq(crdt_mv_apply(&m2, &b), 0);
	cr_assert_eq(crdt_mv_apply(&m2, &a), 0);
	cr_assert(mv_eq(&m1, &m2));
}

Test(crdt, mv_resolution_seeing_one_side_leaves_the_conflict)
{
	static const int	saw_a[] = { A, 1, 0 };
	struct crdt_mv_entry	a, b, r;
	struct crdt_mv		m;

	mv_write(&a, TS(10), A, 1, "5.00", NULL);
	mv_write(&b, TS(11), B, 1, "5.50", NULL);
	mv_write(&r, TS(30), C, 1, "5.25", saw_a);
	memset(&m, 0, sizeof(m));
	cr_assert_eq(crdt_mv_apply(&m, &a), 0);
	cr_assert_eq(crdt_mv_apply(&m, &b), 0);
	cr_assert_eq(crdt_mv_apply(&m, &r), 0);
	cr_assert_eq(m.n, 2);
	cr_assert(mv_has_value(&m, "5.50") && mv_has_value(&m, "5.25"));
	cr_assert_eq(crdt_mv_is_conflict(&m), 1);
}

Test(crdt, mv_overflow_drops_the_smallest_stamp_in_any_order)
{
	struct crdt_mv_entry	w[CRDT_MV_MAX + 1];
	struct crdt_mv		m1, m2;
	char			v[8];
	int			i, rc, toobig = 0;

	for (i = 0; i <= CRDT_MV_MAX; i++) {
		v[0] = (char)('a' + i);
		v[1] = '\0';
		mv_write(&w[i], TS(100 + i), 1 + i, 1, v, NULL);
	}
	memset(&m1, 0, sizeof(m1));
	memset(&m2, 0, sizeof(m2));
	for (i = 0; i <= CRDT_MV_MAX; i++) {
		rc = crdt_mv_apply(&m1, &w[i]);
		cr_assert(rc == 0 || rc == CAJA_ETOOBIG);
		toobig += rc == CAJA_ETOOBIG;
	}
	cr_assert_eq(toobig, 1);
	for (i = CRDT_MV_MAX; i >= 0; i--)
		(void)crdt_mv_apply(&m2, &w[i]);
	cr_assert_eq(m1.n, CRDT_MV_MAX);
	cr_assert(mv_eq(&m1, &m2));
	cr_assert_eq(mv_has_value(&m1, "a"), 0);	/* the smallest went */
	cr_assert_eq(mv_has_value(&m1, "i"), 1);
	for (i = 1; i < (int)m1.n; i++)
		cr_assert_lt(crdt_stamp_cmp(&m1.e[i - 1].st, &m1.e[i].st), 0);
}

/* --- 3. Sales ----------------------------------------------------------- */

Test(crdt, sale_create_then_void_reverses_once)
{
	struct crdt_sale	s;

	memset(&s, 0, sizeof(s));
	cr_assert_eq(crdt_sale_create(&s), CRDT_APPLY);
	cr_assert_eq(crdt_sale_create(&s), CRDT_NONE);	/* duplicate */
	cr_assert_eq(crdt_sale_void(&s), CRDT_REVERSE);
	cr_assert_eq(crdt_sale_void(&s), CRDT_NONE);	/* second void */
	cr_assert_eq(crdt_sale_create(&s), CRDT_NONE);
	cr_assert(s.created && s.voided);
}

Test(crdt, sale_void_before_create_applies_nothing)
{
	struct crdt_sale	s;
	int64_t			stock = 10;

	memset(&s, 0, sizeof(s));
	crdt_counter_add(&stock, -3 * (int64_t)crdt_sale_void(&s));
	crdt_counter_add(&stock, -3 * (int64_t)crdt_sale_void(&s));
	crdt_counter_add(&stock, -3 * (int64_t)crdt_sale_create(&s));
	crdt_counter_add(&stock, -3 * (int64_t)crdt_sale_create(&s));
	cr_assert_eq(stock, 10);
	cr_assert(s.created && s.voided);
}

Test(crdt, sale_smallest_creation_defines_it)
{
	struct crdt_sale	s;
	struct crdt_stamp	a = stamp(TS(30), A, 2), b = stamp(TS(20), B, 1);
	struct crdt_stamp	c = stamp(TS(40), C, 1);
	int			def;

	memset(&s, 0, sizeof(s));
	cr_assert_eq(crdt_sale_create_at(&s, &a, &def), CRDT_APPLY);
	cr_assert(def);
	cr_assert_eq(crdt_sale_create_at(&s, &a, &def), CRDT_NONE);
	cr_assert(!def, "a duplicate defines nothing");
	cr_assert_eq(crdt_sale_create_at(&s, &c, &def), CRDT_NONE);
	cr_assert(!def, "a later creation defines nothing");
	cr_assert_eq(crdt_sale_create_at(&s, &b, &def), CRDT_REPLACE);
	cr_assert(def);
	cr_assert_eq(crdt_stamp_cmp(&s.def, &b), 0);
	cr_assert_eq(crdt_sale_void(&s), CRDT_REVERSE);
	/* voided: a smaller one still defines it, with no effect */
	a = stamp(TS(10), C, 2);
	cr_assert_eq(crdt_sale_create_at(&s, &a, &def), CRDT_NONE);
	cr_assert(def);
	cr_assert_eq(crdt_stamp_cmp(&s.def, &a), 0);
}

static void
rival(struct crdt_mv_entry *e, uint64_t hlc, int d, uint64_t seq,
    const char *value)
{
	mv_write(e, hlc, d, seq, value, NULL);
	vclock_init(&e->vv);
}

Test(crdt, rivals_keep_the_smallest_stamp_per_value)
{
	struct crdt_mv		set, other;
	struct crdt_mv_entry	e[5];
	int			order[5] = { 4, 2, 0, 3, 1 }, i;

	rival(&e[0], TS(50), A, 1, "x");
	rival(&e[1], TS(40), B, 1, "x");	/* same value, smaller */
	rival(&e[2], TS(60), C, 1, "y");
	rival(&e[3], TS(70), A, 2, "x");	/* same value, larger */
	rival(&e[4], TS(45), C, 2, "y");
	memset(&set, 0, sizeof(set));
	for (i = 0; i < 5; i++)
		(void)crdt_rival_add(&set, &e[i]);
	cr_assert_eq(set.n, 2);
	cr_assert_eq(crdt_stamp_cmp(&set.e[0].st, &e[1].st), 0);
	cr_assert_eq(crdt_stamp_cmp(&set.e[1].st, &e[4].st), 0);
	cr_assert(crdt_mv_is_conflict(&set));
	cr_assert_eq(crdt_rival_add(&set, &e[3]), 0, "no change");
	memset(&other, 0, sizeof(other));
	for (i = 0; i < 5; i++)
		(void)crdt_rival_add(&other, &e[order[i]]);
	cr_assert_eq(other.n, set.n);
	for (i = 0; i < (int)set.n; i++)
		cr_assert_eq(crdt_stamp_cmp(&other.e[i].st, &set.e[i].st), 0);
	/* past CRDT_MV_MAX values, the smallest stamps stay */
	memset(&set, 0, sizeof(set));
	for (i = 0; i < CRDT_MV_MAX + 3; i++) {
		char	v[8];

		snprintf(v, sizeof(v), "v%d", i);
		rival(&e[0], TS(100 - i), A, (uint64_t)i + 1, v);
		(void)crdt_rival_add(&set, &e[0]);
	}
	cr_assert_eq(set.n, CRDT_MV_MAX);
	cr_assert_eq(set.e[0].st.hlc, TS(100 - CRDT_MV_MAX - 2));
	cr_assert_eq(set.e[CRDT_MV_MAX - 1].st.hlc, TS(100 - 3));
}

/* --- 4. Notes ----------------------------------------------------------- */

static void
edit_init(struct crdt_edit *e, uint64_t hlc, int d, uint64_t seq)
{
	memset(e, 0, sizeof(*e));
	e->st = stamp(hlc, d, seq);
	vclock_init(&e->vv);
	vv_put(&e->vv, d, seq);
}

static void
edit_ins(struct crdt_edit *e, uint32_t pos, const char *text)
{
	struct crdt_op	*op = &e->ops[e->nops++];

	op->type = PL_OP_INSERT;
	op->pos = pos;
	op->text = text;
	op->text_len = (uint32_t)strlen(text);
}

static void
edit_del(struct crdt_edit *e, uint32_t pos, uint32_t len)
{
	struct crdt_op	*op = &e->ops[e->nops++];

	op->type = PL_OP_DELETE;
	op->pos = pos;
	op->len = len;
}

/* Merges edits given in the order of idx (n of them, repeats allowed). */
static void
merge_idx(struct crdt_edit *const *all, const int *idx, size_t n, char *out,
    size_t cap)
{
	const struct crdt_edit	*list[16];
	size_t			 i, len = 99;

	cr_assert_leq(n, 16);
	for (i = 0; i < n; i++)
		list[i] = all[idx[i]];
	cr_assert_eq(crdt_note_merge(list, n, out, cap, &len), 0);
	cr_assert_eq(len, strlen(out));
}

Test(crdt, note_seed_concurrent_appends_in_every_order)
{
	static const int	orders[][5] = {
		{ 0, 1, 2, 0, 0 }, { 0, 2, 1, 0, 0 }, { 2, 1, 0, 0, 0 },
		{ 1, 0, 2, 0, 0 }, { 2, 0, 1, 1, 2 }, { 1, 2, 0, 2, 1 },
	};
	static const int	saw_base[] = { C, 1 };
	struct crdt_edit	base, a, b;
	struct crdt_edit	*all[3] = { &base, &a, &b };
	char			out[128];
	size_t			i;

	edit_init(&base, TS(MIN(8, 0)), C, 1);
	edit_ins(&base, 0, "Entrega mañana");
	edit_init(&a, TS(MIN(8, 1)), A, 1);
	vv_put(&a.vv, saw_base[0], saw_base[1]);
	edit_ins(&a, 14, " 8am");		/* 14 code points, 15 bytes */
	edit_init(&b, TS(MIN(8, 2)), B, 1);
	vv_put(&b.vv, saw_base[0], saw_base[1]);
	edit_ins(&b, 14, " a domicilio");

	for (i = 0; i < sizeof(orders) / sizeof(orders[0]); i++) {
		merge_idx(all, orders[i], i < 4 ? 3 : 5, out, sizeof(out));
		cr_assert_str_eq(out, "Entrega mañana 8am a domicilio",
		    "order %zu gave \"%s\"", i, out);
	}
	/* With only the base and B's edit. */
	merge_idx(all, (const int[]){ 2, 0 }, 2, out, sizeof(out));
	cr_assert_str_eq(out, "Entrega mañana a domicilio");
}

Test(crdt, note_sequential_edits_follow_positions)
{
	struct crdt_edit	e1, e2, e3;
	struct crdt_edit	*all[3] = { &e1, &e2, &e3 };
	char			out[64];

	edit_init(&e1, TS(1), A, 1);
	edit_ins(&e1, 0, "hola mundo");
	edit_init(&e2, TS(2), A, 2);
	edit_del(&e2, 0, 5);			/* "mundo" */
	edit_ins(&e2, 5, "!");			/* "mundo!" */
	edit_ins(&e2, 0, "¡");			/* "¡mundo!" */
	edit_init(&e3, TS(3), B, 1);
	vv_put(&e3.vv, A, 2);
	edit_del(&e3, 1, 1);			/* "¡undo!" */
	edit_ins(&e3, 1, "M");			/* "¡Mundo!" */
	merge_idx(all, (const int[]){ 2, 1, 0 }, 3, out, sizeof(out));
	cr_assert_str_eq(out, "¡Mundo!");
}

Test(crdt, note_text_inserted_inside_a_concurrently_deleted_range_survives)
{
	struct crdt_edit	base, del, ins;
	struct crdt_edit	*all[3] = { &base, &del, &ins };
	char			out[64];

	edit_init(&base, TS(1), A, 1);
	edit_ins(&base, 0, "abcdef");
	edit_init(&del, TS(2), A, 2);
	edit_del(&del, 1, 4);			/* "af" */
	edit_init(&ins, TS(3), B, 1);
	vv_put(&ins.vv, A, 1);
	edit_ins(&ins, 3, "XY");		/* "abcXYdef" */
	merge_idx(all, (const int[]){ 0, 1, 2 }, 3, out, sizeof(out));
	cr_assert_str_eq(out, "aXYf");
	merge_idx(all, (const int[]){ 2, 1, 0 }, 3, out, sizeof(out));
	cr_assert_str_eq(out, "aXYf");
}

Test(crdt, note_overlapping_concurrent_deletes_delete_once)
{
	struct crdt_edit	base, d1, d2;
	struct crdt_edit	*all[3] = { &base, &d1, &d2 };
	char			out[64];

	edit_init(&base, TS(1), A, 1);
	edit_ins(&base, 0, "0123456789");
	edit_init(&d1, TS(2), A, 2);
	edit_del(&d1, 2, 4);			/* 2345 */
	edit_init(&d2, TS(3), B, 1);
	vv_put(&d2.vv, A, 1);
	edit_del(&d2, 4, 4);			/* 4567 */
	merge_idx(all, (const int[]){ 1, 2, 0 }, 3, out, sizeof(out));
	cr_assert_str_eq(out, "0189");
	merge_idx(all, (const int[]){ 2, 0, 1 }, 3, out, sizeof(out));
	cr_assert_str_eq(out, "0189");
}

Test(crdt, note_delete_after_a_concurrent_insert_keeps_its_target)
{
	struct crdt_edit	base, ins, del;
	struct crdt_edit	*all[3] = { &base, &ins, &del };
	char			out[64];

	/* ins comes first in the order, del must still delete "world". */
	edit_init(&base, TS(1), A, 1);
	edit_ins(&base, 0, "hello world");
	edit_init(&ins, TS(2), A, 2);
	edit_ins(&ins, 0, ">> ");
	edit_init(&del, TS(3), B, 1);
	vv_put(&del.vv, A, 1);
	edit_del(&del, 5, 6);
	merge_idx(all, (const int[]){ 2, 1, 0 }, 3, out, sizeof(out));
	cr_assert_str_eq(out, ">> hello");
}

Test(crdt, note_causal_order_beats_a_clock_that_runs_behind)
{
	struct crdt_edit	e1, e2;
	struct crdt_edit	*all[2] = { &e1, &e2 };
	char			out[64];

	/* e2 follows e1 though its hlc is smaller (a clamped clock). */
	edit_init(&e1, TS(100), A, 1);
	edit_ins(&e1, 0, "abc");
	edit_init(&e2, TS(5), B, 1);
	vv_put(&e2.vv, A, 1);
	edit_del(&e2, 0, 1);
	edit_ins(&e2, 2, "d");
	merge_idx(all, (const int[]){ 1, 0 }, 2, out, sizeof(out));
	cr_assert_str_eq(out, "bcd");
}

Test(crdt, note_positions_past_the_end_are_clamped)
{
	struct crdt_edit	e1, e2;
	struct crdt_edit	*all[2] = { &e1, &e2 };
	char			out[64];

	edit_init(&e1, TS(1), A, 1);
	edit_ins(&e1, 7, "ab");
	edit_init(&e2, TS(2), A, 2);
	edit_del(&e2, 1, UINT32_MAX);
	edit_ins(&e2, 99, "z");
	merge_idx(all, (const int[]){ 0, 1 }, 2, out, sizeof(out));
	cr_assert_str_eq(out, "az");
}

Test(crdt, note_invalid_utf8_counts_one_point_per_byte)
{
	struct crdt_edit	e1;
	const struct crdt_edit	*list[1] = { &e1 };
	char			out[64];
	size_t			len;

	edit_init(&e1, TS(1), A, 1);
	edit_ins(&e1, 0, "a\xff" "b");
	edit_del(&e1, 2, 1);			/* the "b" */
	cr_assert_eq(crdt_note_merge(list, 1, out, sizeof(out), &len), 0);
	cr_assert_str_eq(out, "a\xef\xbf\xbd");
	cr_assert_eq(len, 4);
}

Test(crdt, note_refuses_bad_ops_and_small_buffers)
{
	struct crdt_edit	e1;
	const struct crdt_edit	*list[1] = { &e1 };
	char			out[8];
	size_t			len;

	edit_init(&e1, TS(1), A, 1);
	edit_ins(&e1, 0, "12345678");
	cr_assert_eq(crdt_note_merge(list, 1, out, sizeof(out), &len),
	    CAJA_ETOOBIG);
	cr_assert_str_eq(out, "");
	edit_init(&e1, TS(1), A, 1);
	edit_ins(&e1, 0, "1234567");
	cr_assert_eq(crdt_note_merge(list, 1, out, sizeof(out), &len), 0);
	cr_assert_str_eq(out, "1234567");
	e1.ops[0].type = 77;
	cr_assert_eq(crdt_note_merge(list, 1, out, sizeof(out), &len),
	    CAJA_EINVAL);
	cr_assert_eq(crdt_note_merge(list, 0, out, sizeof(out), &len), 0);
	cr_assert_str_eq(out, "");
	cr_assert_eq(len, 0);
}

Test(crdt, note_too_many_edits_is_refused)
{
	static struct crdt_edit	e[CRDT_NOTE_EDITS_MAX + 1];
	static const struct crdt_edit *list[CRDT_NOTE_EDITS_MAX + 1];
	static char		out[CRDT_NOTE_MAX];
	size_t			i, len;

	for (i = 0; i <= CRDT_NOTE_EDITS_MAX; i++) {
		edit_init(&e[i], TS(i + 1), A, i + 1);
		vv_put(&e[i].vv, A, i + 1);
		edit_ins(&e[i], 0, "x");
		list[i] = &e[i];
	}
	cr_assert_eq(crdt_note_merge(list, CRDT_NOTE_EDITS_MAX, out,
	    sizeof(out), &len), 0);
	cr_assert_eq(len, CRDT_NOTE_EDITS_MAX);
	cr_assert_eq(crdt_note_merge(list, CRDT_NOTE_EDITS_MAX + 1, out,
	    sizeof(out), &len), CAJA_ETOOBIG);
}
