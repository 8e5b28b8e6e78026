/*
 * crdt property tests: the merge rules converge for every delivery order,
 * with duplicates, and over random partitioned histories.
 *
 * A "view" below is what one register derives from the events it was
 * handed, through the rules of store/crdt.h only: a product name (LWW), a
 * price (MV register), stock and a customer balance (counters), sales
 * (add-wins set with voids) and a note (OT). Plain counter events are
 * applied once per (device, seq), as the store's log deduplicates them;
 * everything else is handed every copy, so that the rules' own handling of
 * duplicates is tested too.
 *
 * Randomized tests print their seed; rerun one with CAJA_SEED=<seed>.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "proto/schema.h"
#include "proto/sig.h"
#include "proto/vclock.h"
#include "store/crdt.h"

#define NDEV_MAX	5
#define SEQ_MAX		64
#define NSALE		16
#define OPS_MAX		4
#define TEXT_MAX	16
#define HELD_MAX	512
#define NOTE_CAP	1024

enum pk { P_NAME, P_PRICE, P_STOCK, P_SALE, P_VOID, P_NOTE };

struct pev {
	int			kind;
	int			dev;		/* 0 .. NDEV_MAX-1 */
	struct crdt_stamp	st;
	struct vclock		vv;
	char			value[TEXT_MAX];	/* name, price */
	int64_t			delta;		/* stock */
	int			sale;
	int64_t			qty, credit;
	struct crdt_edit	edit;
	char			text[OPS_MAX][TEXT_MAX];
};

struct view {
	struct crdt_stamp	name_st;
	char			name[TEXT_MAX];
	struct crdt_mv		price;
	int64_t			stock, balance;
	struct crdt_sale	sale[NSALE];
	int64_t			sale_qty[NSALE], sale_credit[NSALE];
	int			applied[NSALE], reversed[NSALE];
	uint8_t			seen[NDEV_MAX][SEQ_MAX + 1];
	size_t			nedits;
	const struct crdt_edit	*edits[HELD_MAX];
};

static uint64_t	seed_now;

static void
setup(void)
{
	cr_assert_eq(sig_init(), 0);
}

TestSuite(crdt_prop, .init = setup);

static void
dev_of(uint8_t dev[ID_LEN], int d)
{
	memset(dev, 0, ID_LEN);
	dev[0] = 0x5a;
	dev[ID_LEN - 1] = (uint8_t)(d + 1);
}

static void
vv_put(struct vclock *vv, int d, uint64_t seq)
{
	uint8_t	dev[ID_LEN];

	dev_of(dev, d);
	cr_assert_eq(vclock_set(vv, dev, seq), 0);
}

/* A new event by device d, seq, hlc, that saw deps ((dev, seq), -1 ends). */
static void
ev_init(struct pev *e, int kind, int d, uint64_t seq, uint64_t hlc,
    const int *deps)
{
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->dev = d;
	e->st.hlc = hlc;
	dev_of(e->st.dev, d);
	e->st.seq = seq;
	vclock_init(&e->vv);
	for (; deps != NULL && deps[0] >= 0; deps += 2)
		vv_put(&e->vv, deps[0], (uint64_t)deps[1]);
	vv_put(&e->vv, d, seq);
	e->edit.st = e->st;
	e->edit.vv = e->vv;
}

static void
ev_ins(struct pev *e, uint32_t pos, const char *text)
{
	struct crdt_op	*op = &e->edit.ops[e->edit.nops];

	cr_assert_lt(e->edit.nops, OPS_MAX);
	cr_assert_lt(strlen(text), TEXT_MAX);
	memcpy(e->text[e->edit.nops], text, strlen(text) + 1);
	op->type = PL_OP_INSERT;
	op->pos = pos;
	op->text = e->text[e->edit.nops];
	op->text_len = (uint32_t)strlen(text);
	e->edit.nops++;
}

static void
ev_del(struct pev *e, uint32_t pos, uint32_t len)
{
	struct crdt_op	*op = &e->edit.ops[e->edit.nops];

	cr_assert_lt(e->edit.nops, OPS_MAX);
	op->type = PL_OP_DELETE;
	op->pos = pos;
	op->len = len;
	e->edit.nops++;
}

static void
view_reset(struct view *v)
{
	memset(v, 0, sizeof(*v));
}

static void
view_apply(struct view *v, const struct pev *e)
{
	struct crdt_mv_entry	me;
	enum crdt_effect	eff;
	int			first, rc, defines, s = e->sale;

	cr_assert_leq(e->st.seq, SEQ_MAX);
	first = !v->seen[e->dev][e->st.seq];
	v->seen[e->dev][e->st.seq] = 1;
	switch (e->kind) {
	case P_NAME:
		if (crdt_lww_wins(&v->name_st, &e->st)) {
			v->name_st = e->st;
			memcpy(v->name, e->value, sizeof(v->name));
		}
		break;
	case P_PRICE:
		memset(&me, 0, sizeof(me));
		me.st = e->st;
		me.vv = e->vv;
		me.value_len = (uint32_t)strlen(e->value);
		memcpy(me.value, e->value, me.value_len);
		rc = crdt_mv_apply(&v->price, &me);
		cr_assert(rc == 0 || rc == CAJA_ETOOBIG, "mv_apply: %d", rc);
		break;
	case P_STOCK:
		if (first)
			crdt_counter_add(&v->stock, e->delta);
		break;
	case P_SALE:
		eff = crdt_sale_create_at(&v->sale[s], &e->st, &defines);
		if (eff == CRDT_REPLACE) {
			/* a smaller stamp redefines the sale */
			crdt_counter_add(&v->stock, v->sale_qty[s]);
			crdt_counter_add(&v->balance, -v->sale_credit[s]);
			v->reversed[s]++;
		}
		if (defines) {
			v->sale_qty[s] = e->qty;
			v->sale_credit[s] = e->credit;
		}
		if (eff == CRDT_APPLY || eff == CRDT_REPLACE) {
			crdt_counter_add(&v->stock, -e->qty);
			crdt_counter_add(&v->balance, e->credit);
			v->applied[s]++;
		} else
			cr_assert_eq(eff, CRDT_NONE);
		cr_assert(defines || eff == CRDT_NONE);
		break;
	case P_VOID:
		eff = crdt_sale_void(&v->sale[s]);
		if (eff == CRDT_REVERSE) {
			crdt_counter_add(&v->stock, v->sale_qty[s]);
			crdt_counter_add(&v->balance, -v->sale_credit[s]);
			v->reversed[s]++;
		} else
			cr_assert_eq(eff, CRDT_NONE);
		break;
	case P_NOTE:
		cr_assert_lt(v->nedits, HELD_MAX);
		v->edits[v->nedits++] = &e->edit;
		break;
	}
	cr_assert(v->applied[s] - v->reversed[s] == 0 ||
	    v->applied[s] - v->reversed[s] == 1, "sale %d in force %d times",
	    s, v->applied[s] - v->reversed[s]);
}

static void
view_note(const struct view *v, char *out, size_t cap)
{
	const struct crdt_edit	*list[HELD_MAX];
	size_t			 len;
	int			 rc;

	memcpy(list, v->edits, v->nedits * sizeof(list[0]));
	rc = crdt_note_merge(list, v->nedits, out, cap, &len);
	cr_assert_eq(rc, 0, "note merge: %s", err_str(rc));
	cr_assert_eq(len, strlen(out), "seed %" PRIu64 ": len %zu, strlen %zu",
	    seed_now, len, strlen(out));
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

/* Empty string when equal, else what differs. */
static const char *
view_diff(const struct view *a, const struct view *b)
{
	static char	na[NOTE_CAP], nb[NOTE_CAP];
	uint8_t		ia[ID_LEN], ib[ID_LEN];
	int		s;

	if (crdt_stamp_cmp(&a->name_st, &b->name_st) != 0 ||
	    strcmp(a->name, b->name) != 0)
		return "name";
	if (!mv_eq(&a->price, &b->price))
		return "price entries";
	if (crdt_mv_is_conflict(&a->price) != crdt_mv_is_conflict(&b->price))
		return "price conflict";
	crdt_mv_conflict_id(&a->price, "product", "p1", "price_bs", ia);
	crdt_mv_conflict_id(&b->price, "product", "p1", "price_bs", ib);
	if (memcmp(ia, ib, ID_LEN) != 0)
		return "conflict id";
	if (a->stock != b->stock)
		return "stock";
	if (a->balance != b->balance)
		return "balance";
	for (s = 0; s < NSALE; s++)
		if (a->sale[s].created != b->sale[s].created ||
		    a->sale[s].voided != b->sale[s].voided ||
		    crdt_stamp_cmp(&a->sale[s].def, &b->sale[s].def) != 0 ||
		    a->sale_qty[s] != b->sale_qty[s] ||
		    a->sale_credit[s] != b->sale_credit[s] ||
		    a->applied[s] - a->reversed[s] !=
		    b->applied[s] - b->reversed[s])
			return "sale";
	view_note(a, na, sizeof(na));
	view_note(b, nb, sizeof(nb));
	if (strcmp(na, nb) != 0)
		return "note";
	return "";
}

/* Next permutation in lexicographic order; 0 after the last. */
static int
next_perm(int *p, int n)
{
	int	i, j, t;

	for (i = n - 2; i >= 0 && p[i] >= p[i + 1]; i--)
		;
	if (i < 0)
		return 0;
	for (j = n - 1; p[j] <= p[i]; j--)
		;
	t = p[i];
	p[i] = p[j];
	p[j] = t;
	for (i++, j = n - 1; i < j; i++, j--) {
		t = p[i];
		p[i] = p[j];
		p[j] = t;
	}
	return 1;
}

/* Apply the events in the order given by perm, each one twice. */
static void
replay(struct view *v, const struct pev *ev, const int *perm, int n)
{
	int	i, k;

	view_reset(v);
	for (k = 0; k < 2; k++)
		for (i = 0; i < n; i++)
			view_apply(v, &ev[perm[i]]);
}

/* Every order of ev[0..n) gives first's state; returns orders tried. */
static int
all_orders_agree(const struct pev *ev, int n, struct view *first)
{
	static struct view	got;
	int			perm[8], i, count = 1;
	const char		*d;

	cr_assert_leq(n, 8);
	for (i = 0; i < n; i++)
		perm[i] = i;
	replay(first, ev, perm, n);
	while (next_perm(perm, n)) {
		replay(&got, ev, perm, n);
		d = view_diff(&got, first);
		cr_assert_str_empty(d, "order %d%d%d%d%d%d%d diverged: %s",
		    perm[0], perm[1], perm[2], perm[3], perm[4],
		    n > 5 ? perm[5] : 0, n > 6 ? perm[6] : 0, d);
		count++;
	}
	return count;
}

static int
mv_has(const struct crdt_mv *mv, const char *value)
{
	uint32_t	i;

	for (i = 0; i < mv->n; i++)
		if (mv->e[i].value_len == strlen(value) &&
		    memcmp(mv->e[i].value, value, mv->e[i].value_len) == 0)
			return 1;
	return 0;
}

enum { A, B, C, D };

Test(crdt_prop, lww_name_converges_in_every_order)
{
	static struct pev	ev[5];
	static struct view	first;
	static const int	a1[] = { A, 1, -1 };

	ev_init(&ev[0], P_NAME, A, 1, 100, NULL);
	memcpy(ev[0].value, "Coca Cola 1L", 13);
	ev_init(&ev[1], P_NAME, B, 1, 105, NULL);
	memcpy(ev[1].value, "Coca-Cola 1000ml", 17);
	ev_init(&ev[2], P_NAME, C, 1, 105, NULL);	/* hlc tie: C > B */
	memcpy(ev[2].value, "Coca-Cola 1 L", 14);
	ev_init(&ev[3], P_NAME, A, 2, 90, a1);		/* own clock behind */
	memcpy(ev[3].value, "Coca", 5);
	ev_init(&ev[4], P_NAME, D, 1, 104, NULL);
	memcpy(ev[4].value, "Cola", 5);
	cr_assert_eq(all_orders_agree(ev, 5, &first), 120);
	cr_assert_str_eq(first.name, "Coca-Cola 1 L");
}

Test(crdt_prop, price_register_with_conflict_converges_in_every_order)
{
	static struct pev	ev[7];
	static struct view	first;
	static const int	a1[] = { A, 1, -1 }, b1[] = { B, 1, -1 };
	static const int	c1[] = { C, 1, -1 };
	static const int	r[] = { A, 2, B, 1, C, 1, -1 };
	uint8_t			id[ID_LEN];
	static uint8_t		id0[ID_LEN];

	ev_init(&ev[0], P_PRICE, A, 1, 10, NULL);
	memcpy(ev[0].value, "5.00", 5);
	ev_init(&ev[1], P_PRICE, B, 1, 11, NULL);
	memcpy(ev[1].value, "5.50", 5);
	ev_init(&ev[2], P_PRICE, C, 1, 12, NULL);	/* agrees with B */
	memcpy(ev[2].value, "5.50", 5);
	ev_init(&ev[3], P_PRICE, A, 2, 20, a1);
	memcpy(ev[3].value, "6.00", 5);
	ev_init(&ev[4], P_PRICE, D, 1, 30, r);	/* resolves a2, b1, c1 */
	memcpy(ev[4].value, "5.75", 5);
	ev_init(&ev[5], P_PRICE, B, 2, 25, b1);	/* concurrent with D */
	memcpy(ev[5].value, "7.00", 5);
	ev_init(&ev[6], P_PRICE, C, 2, 26, c1);	/* concurrent, agrees D */
	memcpy(ev[6].value, "5.75", 5);
	cr_assert_eq(all_orders_agree(ev, 7, &first), 5040);
	cr_assert_eq(first.price.n, 3);
	cr_assert(mv_has(&first.price, "5.75") && mv_has(&first.price, "7.00"));
	cr_assert_eq(crdt_mv_is_conflict(&first.price), 1);
	cr_assert_eq(memcmp(crdt_mv_winner(&first.price)->value, "5.75", 4),
	    0);	/* D at 30 */
	crdt_mv_conflict_id(&first.price, "product", "p1", "price_bs", id);
	cr_assert_neq(memcmp(id, id0, ID_LEN), 0);
}

Test(crdt_prop, price_register_resolution_converges_in_every_order)
{
	static struct pev	ev[6];
	static struct view	first;
	static const int	a1[] = { A, 1, -1 };
	static const int	all[] = { A, 2, B, 1, C, 1, -1 };
	static const int	d1[] = { A, 2, B, 1, C, 1, D, 1, -1 };

	ev_init(&ev[0], P_PRICE, A, 1, 10, NULL);
	memcpy(ev[0].value, "5.00", 5);
	ev_init(&ev[1], P_PRICE, B, 1, 11, NULL);
	memcpy(ev[1].value, "5.50", 5);
	ev_init(&ev[2], P_PRICE, C, 1, 9, NULL);
	memcpy(ev[2].value, "4.00", 5);
	ev_init(&ev[3], P_PRICE, A, 2, 20, a1);
	memcpy(ev[3].value, "6.00", 5);
	ev_init(&ev[4], P_PRICE, D, 1, 30, all);	/* ConflictResolved */
	memcpy(ev[4].value, "5.75", 5);
	ev_init(&ev[5], P_PRICE, B, 2, 31, d1);		/* after it */
	memcpy(ev[5].value, "5.80", 5);
	cr_assert_eq(all_orders_agree(ev, 6, &first), 720);
	cr_assert_eq(first.price.n, 1);
	cr_assert_eq(crdt_mv_is_conflict(&first.price), 0);
	cr_assert(mv_has(&first.price, "5.80"));
}

Test(crdt_prop, sales_stock_and_credit_converge_in_every_order)
{
	static struct pev	ev[7];
	static struct view	first;
	static const int	a2[] = { A, 2, -1 }, b1[] = { B, 1, -1 };
	static const int	b2[] = { B, 2, -1 };

	ev_init(&ev[0], P_STOCK, A, 1, 10, NULL);	/* StockReceived */
	ev[0].delta = 10;
	ev_init(&ev[1], P_SALE, A, 2, 11, NULL);	/* on credit */
	ev[1].sale = 1;
	ev[1].qty = 2;
	ev[1].credit = 300;
	ev_init(&ev[2], P_SALE, B, 1, 12, NULL);
	ev[2].sale = 2;
	ev[2].qty = 3;
	ev_init(&ev[3], P_VOID, B, 2, 20, a2);		/* voids sale 1 */
	ev[3].sale = 1;
	ev_init(&ev[4], P_VOID, C, 1, 21, a2);		/* voids it again */
	ev[4].sale = 1;
	ev_init(&ev[5], P_SALE, C, 2, 22, b2);		/* on credit */
	ev[5].sale = 3;
	ev[5].qty = 4;
	ev[5].credit = 450;
	ev_init(&ev[6], P_STOCK, B, 3, 23, b1);		/* StockAdjusted */
	ev[6].delta = -1;
	cr_assert_eq(all_orders_agree(ev, 7, &first), 5040);
	cr_assert_eq(first.stock, 10 - 3 - 4 - 1);
	cr_assert_eq(first.balance, 450);
	cr_assert(first.sale[1].created && first.sale[1].voided);
	cr_assert(first.sale[2].created && !first.sale[2].voided);
	cr_assert_eq(first.applied[1] - first.reversed[1], 0);
}

Test(crdt_prop, sale_void_before_create_in_every_order)
{
	static struct pev	ev[5];
	static struct view	first;
	static const int	a1[] = { A, 1, -1 };

	ev_init(&ev[0], P_STOCK, A, 1, 1, NULL);
	ev[0].delta = 5;
	ev_init(&ev[1], P_SALE, A, 2, 2, a1);
	ev[1].sale = 0;
	ev[1].qty = 5;
	ev[1].credit = 1000;
	ev_init(&ev[2], P_VOID, B, 1, 3, (const int[]){ A, 2, -1 });
	ev[2].sale = 0;
	ev_init(&ev[3], P_VOID, C, 1, 3, (const int[]){ A, 2, -1 });
	ev[3].sale = 0;
	ev_init(&ev[4], P_STOCK, D, 1, 4, NULL);
	ev[4].delta = 1;
	cr_assert_eq(all_orders_agree(ev, 5, &first), 120);
	cr_assert_eq(first.stock, 6);
	cr_assert_eq(first.balance, 0);
}

Test(crdt_prop, sale_id_created_twice_converges_in_every_order)
{
	static struct pev	ev[6];
	static struct view	first;

	ev_init(&ev[0], P_STOCK, A, 1, 1, NULL);
	ev[0].delta = 50;
	/* sale 0 created on three registers offline; B's stamp is smallest */
	ev_init(&ev[1], P_SALE, A, 2, 30, (const int[]){ A, 1, -1 });
	ev[1].sale = 0;
	ev[1].qty = 2;
	ev_init(&ev[2], P_SALE, B, 1, 20, NULL);
	ev[2].sale = 0;
	ev[2].qty = 7;
	ev[2].credit = 700;
	ev_init(&ev[3], P_SALE, C, 1, 40, NULL);
	ev[3].sale = 0;
	ev[3].qty = 1;
	/* sale 1: created on A, voided on D before D saw it, created on C */
	ev_init(&ev[4], P_SALE, C, 2, 10, (const int[]){ C, 1, -1 });
	ev[4].sale = 1;
	ev[4].qty = 3;
	ev[4].credit = 90;
	ev_init(&ev[5], P_VOID, D, 1, 50, NULL);
	ev[5].sale = 1;
	cr_assert_eq(all_orders_agree(ev, 6, &first), 720);
	cr_assert_eq(first.sale_qty[0], 7, "B's creation defines sale 0");
	cr_assert_eq(crdt_stamp_cmp(&first.sale[0].def, &ev[2].st), 0);
	cr_assert_eq(first.stock, 50 - 7);
	cr_assert_eq(first.balance, 700);
	cr_assert(first.sale[1].voided);
	cr_assert_eq(first.applied[1] - first.reversed[1], 0);
}

Test(crdt_prop, note_converges_in_every_order)
{
	static struct pev	ev[6];
	static struct view	first;
	static const int	c1[] = { C, 1, -1 };
	static const int	a2[] = { C, 1, A, 1, -1 };
	static const int	b2[] = { C, 1, B, 1, -1 };
	static const int	c2[] = { A, 2, B, 2, -1 };
	char			note[NOTE_CAP];

	ev_init(&ev[0], P_NOTE, C, 1, 1, NULL);
	ev_ins(&ev[0], 0, "Entrega mañana");
	ev_init(&ev[1], P_NOTE, A, 1, 2, c1);
	ev_ins(&ev[1], 14, " 8am");
	ev_init(&ev[2], P_NOTE, B, 1, 3, c1);
	ev_ins(&ev[2], 14, " a domicilio");
	ev_init(&ev[3], P_NOTE, A, 2, 4, a2);
	ev_del(&ev[3], 0, 8);				/* "Entrega " */
	ev_init(&ev[4], P_NOTE, B, 2, 5, b2);
	ev_ins(&ev[4], 26, "!");
	ev_init(&ev[5], P_NOTE, C, 2, 6, c2);
	ev_ins(&ev[5], 0, "Hoy: ");
	cr_assert_eq(all_orders_agree(ev, 6, &first), 720);
	view_note(&first, note, sizeof(note));
	cr_assert_str_eq(note, "Hoy: mañana 8am a domicilio!");
}

/* --- randomized partitioned histories ----------------------------------- */

static uint64_t	rng;

static uint64_t
rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * UINT64_C(2685821657736338717);
}

static uint32_t
rndn(uint32_t n)
{
	return (uint32_t)(rnd() % n);
}

#define REV_MAX		(SEQ_MAX * 2)

/*
 * Random notes insert characters that are all different (code point
 * CHAR_BASE + n, alternately 3 and 4 bytes of UTF-8) so that the test can
 * follow each one: which edit typed it, who deleted it, what came before it
 * in each author's text.
 */
#define CHARS_MAX	4096
#define CHAR_BASE3	0x4e00
#define CHAR_BASE4	0x20000

static uint32_t
char_cp(uint32_t n)
{
	return (n % 2 ? CHAR_BASE4 : CHAR_BASE3) + n;
}

/* The n of a code point, or -1 when it is not one of ours. */
static int
char_id(uint32_t cp)
{
	if (cp >= CHAR_BASE4 && cp < CHAR_BASE4 + CHARS_MAX &&
	    (cp - CHAR_BASE4) % 2 == 1)
		return (int)(cp - CHAR_BASE4);
	if (cp >= CHAR_BASE3 && cp < CHAR_BASE3 + CHARS_MAX &&
	    (cp - CHAR_BASE3) % 2 == 0)
		return (int)(cp - CHAR_BASE3);
	return -1;
}

static size_t
utf8_put(char *p, uint32_t cp)
{
	if (cp < 0x10000) {
		p[0] = (char)(0xe0 | (cp >> 12));
		p[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		p[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	p[0] = (char)(0xf0 | (cp >> 18));
	p[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	p[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	p[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Our characters' ids in text t, in order; returns how many. */
static size_t
text_ids(const char *t, int *ids, size_t cap)
{
	const unsigned char	*p = (const unsigned char *)t;
	uint32_t		 cp;
	size_t			 n = 0;
	int			 id;

	while (*p != '\0') {
		if ((*p & 0xf0) == 0xe0) {
			cp = ((uint32_t)(p[0] & 0x0f) << 12) |
			    ((uint32_t)(p[1] & 0x3f) << 6) | (p[2] & 0x3f);
			p += 3;
		} else if ((*p & 0xf8) == 0xf0) {
			cp = ((uint32_t)(p[0] & 0x07) << 18) |
			    ((uint32_t)(p[1] & 0x3f) << 12) |
			    ((uint32_t)(p[2] & 0x3f) << 6) | (p[3] & 0x3f);
			p += 4;
		} else
			cr_assert_fail("unexpected byte %#x in note", *p);
		id = char_id(cp);
		cr_assert_geq(id, 0, "foreign code point U+%X", cp);
		cr_assert_lt(n, cap);
		ids[n++] = id;
	}
	return n;
}

static const char *const prices[] = { "5.00", "5.50", "6.00" };

struct sim {
	int		ndev;
	int		nev;
	struct pev	ev[REV_MAX];
	struct pev	*log[NDEV_MAX][SEQ_MAX + 1];
	uint64_t	vc[NDEV_MAX][NDEV_MAX];		/* held, per device */
	uint64_t	hlc[NDEV_MAX];
	struct view	v[NDEV_MAX];
	int		group[NDEV_MAX];
	int		nsale;
	int		sale_dev[NSALE];
	uint64_t	sale_seq[NSALE];
	uint64_t	wall;
	int		sync_all;	/* full sync after every event */
	uint32_t	nchars;		/* characters typed */
	uint8_t		deleted[CHARS_MAX];	/* by some author */
	char		snap[REV_MAX][NOTE_CAP];	/* author's text */
};


/* Hands event e to device d (the device then holds it). */
static void
sim_deliver(struct sim *s, int d, struct pev *e)
{
	view_apply(&s->v[d], e);
	if (s->hlc[d] < e->st.hlc)
		s->hlc[d] = e->st.hlc;
}

/* 1 when b holds the causal past of event e (the store applies an event
 * only then: causal delivery, so that version vectors stay transitive). */
static int
sim_ready(const struct sim *s, int b, const struct pev *e)
{
	uint8_t	dev[ID_LEN];
	int	y;

	for (y = 0; y < s->ndev; y++) {
		if (y == e->dev)
			continue;
		dev_of(dev, y);
		if (vclock_get(&e->vv, dev) > s->vc[b][y])
			return 0;
	}
	return 1;
}

/*
 * b receives from a, per device, a random prefix of what a has and b
 * lacks (per-device logs are contiguous, as the store's chain demands),
 * runs interleaved at random; an event whose causal past b lacks waits
 * (and is dropped with the rest of its run if that past is not coming).
 */
static void
sim_sync(struct sim *s, int a, int b, int everything)
{
	uint64_t	to[NDEV_MAX], q;
	int		x, ready, k;

	for (x = 0; x < s->ndev; x++) {
		to[x] = s->vc[b][x];
		if (s->vc[a][x] > s->vc[b][x])
			to[x] = everything ? s->vc[a][x] : s->vc[b][x] +
			    rndn((uint32_t)(s->vc[a][x] - s->vc[b][x] + 1));
	}
	for (;;) {
		ready = 0;
		for (x = 0; x < s->ndev; x++)
			ready += s->vc[b][x] < to[x] && sim_ready(s, b,
			    s->log[x][s->vc[b][x] + 1]);
		if (ready == 0)
			break;
		k = (int)rndn((uint32_t)ready);
		for (x = 0; x < s->ndev; x++) {
			if (s->vc[b][x] >= to[x] || !sim_ready(s, b,
			    s->log[x][s->vc[b][x] + 1]))
				continue;
			if (k-- > 0)
				continue;
			q = ++s->vc[b][x];
			sim_deliver(s, b, s->log[x][q]);
			break;
		}
		/* Now and then a duplicate of something b already has. */
		if (rndn(8) == 0) {
			x = (int)rndn((uint32_t)s->ndev);
			if (s->vc[b][x] > 0)
				sim_deliver(s, b, s->log[x][1 +
				    rndn((uint32_t)s->vc[b][x])]);
		}
	}
}

/* Decodes UTF-8 text into code point boundaries: offs[i] = byte offset of
 * code point i, offs[n] = len. Returns n. */
static size_t
cp_split(const char *t, size_t len, size_t *offs, size_t cap)
{
	size_t	n = 0, i = 0;

	while (i < len) {
		cr_assert_lt(n, cap);
		offs[n++] = i;
		i++;
		while (i < len && ((unsigned char)t[i] & 0xc0) == 0x80)
			i++;
	}
	offs[n] = len;
	return n;
}

/* Applies one op to a plain string: the sequential meaning of an op. */
static void
naive_apply(char *t, size_t cap, const struct crdt_op *op)
{
	size_t	offs[NOTE_CAP + 1], n, len = strlen(t), a, b, p, l;

	n = cp_split(t, len, offs, NOTE_CAP);
	if (op->type == PL_OP_INSERT) {
		p = op->pos > n ? n : op->pos;
		a = offs[p];
		cr_assert_lt(len + op->text_len, cap);
		memmove(t + a + op->text_len, t + a, len - a + 1);
		memcpy(t + a, op->text, op->text_len);
		return;
	}
	p = op->pos > n ? n : op->pos;
	l = op->len > n - p ? n - p : op->len;
	a = offs[p];
	b = offs[p + l];
	memmove(t + a, t + b, len - b + 1);
}

static void
sim_note_edit(struct sim *s, struct pev *e, int d)
{
	char		cur[NOTE_CAP], got[NOTE_CAP];
	size_t		offs[NOTE_CAP + 1], n, j, k, tl;
	struct crdt_op	*op;
	int		nops;

	view_note(&s->v[d], cur, sizeof(cur));
	nops = 1 + (int)rndn(3);
	for (k = 0; k < (size_t)nops; k++) {
		n = cp_split(cur, strlen(cur), offs, NOTE_CAP);
		if (n > 0 && (rndn(3) == 0 || n > 60)) {
			int	ids[NOTE_CAP];
			size_t	l;

			j = rndn((uint32_t)n);
			l = 1 + rndn(n - j < 4 ? (uint32_t)(n - j) : 4);
			ev_del(e, (uint32_t)j, (uint32_t)l);
			cr_assert_eq(text_ids(cur, ids, NOTE_CAP), n);
			while (l-- > 0)
				s->deleted[ids[j + l]] = 1;
		} else {
			char	txt[TEXT_MAX];
			size_t	m = 1 + rndn(3), i;

			for (i = 0, tl = 0; i < m; i++) {
				cr_assert_lt(s->nchars, CHARS_MAX);
				tl += utf8_put(txt + tl, char_cp(s->nchars++));
			}
			txt[tl] = '\0';
			ev_ins(e, rndn((uint32_t)n + 2), txt);	/* may clamp */
		}
		op = &e->edit.ops[e->edit.nops - 1];
		naive_apply(cur, sizeof(cur), op);
	}
	memcpy(s->snap[e - s->ev], cur, sizeof(cur));
	/* The author's own result: its held edits plus this one, merged,
	 * is what it typed (the edit is last in causal order). */
	view_apply(&s->v[d], e);
	view_note(&s->v[d], got, sizeof(got));
	cr_assert_str_eq(got, cur, "seed %" PRIu64 ": author %d sees \"%s\","
	    " typed \"%s\"", seed_now, d, got, cur);
}

/* Device d writes one random event. */
static void
sim_event(struct sim *s, int d)
{
	struct pev	*e;
	uint64_t	seq = s->vc[d][d] + 1;
	int		x, kind, sl;

	if (s->nev == REV_MAX || seq > SEQ_MAX)
		return;
	e = &s->ev[s->nev++];
	s->wall += 1 + rndn(3);
	s->hlc[d] = s->hlc[d] + 1 > (s->wall << 16) ? s->hlc[d] + 1 :
	    (s->wall << 16);
	kind = (int)rndn(6);
	/* Now and then a clock far behind: a stamp that contradicts
	 * causality (as a clamped or wrong clock gives). */
	ev_init(e, kind, d, seq, rndn(12) == 0 ? (uint64_t)rndn(1000) << 16 :
	    s->hlc[d], NULL);
	for (x = 0; x < s->ndev; x++)
		if (x != d && s->vc[d][x] > 0)
			vv_put(&e->vv, x, s->vc[d][x]);
	e->edit.vv = e->vv;
	switch (kind) {
	case P_NAME:
		(void)snprintf(e->value, sizeof(e->value), "n%d.%" PRIu64, d,
		    seq);
		break;
	case P_PRICE:
		memcpy(e->value, prices[rndn(3)], 5);
		break;
	case P_STOCK:
		e->delta = (int64_t)rndn(21) - 10;
		break;
	case P_SALE:
		if (s->nsale > 0 && (s->nsale == NSALE || rndn(4) == 0)) {
			/* the same sale id again (another register, or keyed
			 * in twice): the smallest stamp must define it */
			e->sale = (int)rndn((uint32_t)s->nsale);
		} else {
			e->sale = s->nsale++;
			s->sale_dev[e->sale] = d;
			s->sale_seq[e->sale] = seq;
		}
		e->qty = 1 + rndn(5);
		e->credit = rndn(2) ? 100 * (1 + rndn(9)) : 0;
		break;
	case P_VOID:
		if (s->nsale == 0) {
			e->kind = P_STOCK;
			e->delta = 2;
			break;
		}
		/* Usually a sale it has seen; sometimes one it has not. */
		sl = (int)rndn((uint32_t)s->nsale);
		e->sale = sl;
		break;
	case P_NOTE:
		sim_note_edit(s, e, d);
		break;
	}
	s->log[d][seq] = e;
	s->vc[d][d] = seq;
	if (kind != P_NOTE)
		view_apply(&s->v[d], e);
}

/* The state every device must reach, from the whole set of events. */
static void
sim_expect(const struct sim *s, const struct view *got)
{
	const struct pev	*e, *f, *best = NULL;
	struct crdt_mv		mv;
	int64_t			stock = 0, balance = 0;
	int			i, j, dominated, created[NSALE], voided[NSALE];
	int64_t			qty[NSALE], credit[NSALE];
	struct crdt_stamp	def[NSALE];
	uint32_t		k;

	memset(&mv, 0, sizeof(mv));
	memset(qty, 0, sizeof(qty));
	memset(credit, 0, sizeof(credit));
	memset(created, 0, sizeof(created));
	memset(voided, 0, sizeof(voided));
	for (i = 0; i < s->nev; i++) {
		e = &s->ev[i];
		switch (e->kind) {
		case P_NAME:
			if (best == NULL || crdt_stamp_cmp(&e->st,
			    &best->st) > 0)
				best = e;
			break;
		case P_PRICE:
			/* Maximal under happened-before, by brute force. */
			dominated = 0;
			for (j = 0; j < s->nev; j++) {
				f = &s->ev[j];
				if (f->kind == P_PRICE && j != i &&
				    crdt_happened_before(&e->st, &f->vv))
					dominated = 1;
			}
			if (dominated)
				break;
			for (k = mv.n; k > 0 && crdt_stamp_cmp(
			    &mv.e[k - 1].st, &e->st) > 0; k--)
				mv.e[k] = mv.e[k - 1];
			memset(&mv.e[k], 0, sizeof(mv.e[k]));
			mv.e[k].st = e->st;
			mv.e[k].value_len = (uint32_t)strlen(e->value);
			memcpy(mv.e[k].value, e->value, mv.e[k].value_len);
			mv.n++;
			cr_assert_leq(mv.n, CRDT_MV_MAX);
			break;
		case P_STOCK:
			stock += e->delta;
			break;
		case P_SALE:
			/* the creation with the smallest stamp defines it */
			if (created[e->sale] && crdt_stamp_cmp(&e->st,
			    &def[e->sale]) >= 0)
				break;
			created[e->sale] = 1;
			def[e->sale] = e->st;
			qty[e->sale] = e->qty;
			credit[e->sale] = e->credit;
			break;
		case P_VOID:
			voided[e->sale] = 1;
			break;
		}
	}
	for (i = 0; i < NSALE; i++) {
		if (created[i] && !voided[i]) {
			stock -= qty[i];
			balance += credit[i];
		}
		cr_assert_eq(got->sale[i].created, created[i], "seed %" PRIu64,
		    seed_now);
		cr_assert_eq(got->sale[i].voided, voided[i], "seed %" PRIu64,
		    seed_now);
	}
	if (best != NULL)
		cr_assert_str_eq(got->name, best->value, "seed %" PRIu64,
		    seed_now);
	cr_assert(mv_eq(&got->price, &mv), "seed %" PRIu64 ": price", seed_now);
	cr_assert_eq(got->stock, stock, "seed %" PRIu64, seed_now);
	cr_assert_eq(got->balance, balance, "seed %" PRIu64, seed_now);
}

/*
 * Intent: the merged note holds exactly the characters typed and deleted
 * by nobody, each once; and any two of them that an author had in its text
 * keep that author's order.
 */
static void
sim_check_note(const struct sim *s, const char *note)
{
	static int	ids[NOTE_CAP], sids[NOTE_CAP], at[CHARS_MAX];
	size_t		n, sn, i, j;
	int		last;
	uint32_t	c;

	n = text_ids(note, ids, NOTE_CAP);
	for (c = 0; c < CHARS_MAX; c++)
		at[c] = -1;
	for (i = 0; i < n; i++) {
		cr_assert_eq(at[ids[i]], -1, "seed %" PRIu64 ": char %d twice",
		    seed_now, ids[i]);
		cr_assert_eq(s->deleted[ids[i]], 0, "seed %" PRIu64
		    ": deleted char %d is back", seed_now, ids[i]);
		at[ids[i]] = (int)i;
	}
	for (c = 0; c < s->nchars; c++)
		cr_assert(s->deleted[c] || at[c] >= 0, "seed %" PRIu64
		    ": char %u lost", seed_now, c);
	for (j = 0; j < (size_t)s->nev; j++) {
		if (s->ev[j].kind != P_NOTE)
			continue;
		sn = text_ids(s->snap[j], sids, NOTE_CAP);
		for (i = 0, last = -1; i < sn; i++) {
			if (at[sids[i]] < 0)
				continue;
			cr_assert_gt(at[sids[i]], last, "seed %" PRIu64
			    ": edit %zu's order not kept", seed_now, j);
			last = at[sids[i]];
		}
	}
}

/* How much a run exercised, so that the tests can tell they tested. */
struct sim_stats {
	int	conflicts;		/* runs ending with a price conflict */
	int	concurrent_edits;	/* pairs of concurrent note edits */
	int	notes;			/* runs ending with a non-empty note */
	int	voided;			/* sales voided */
};

static void
sim_count(const struct sim *s, struct sim_stats *st)
{
	const struct pev	*e, *f;
	int			i, j;

	st->conflicts += crdt_mv_is_conflict(&s->v[0].price);
	for (i = 0; i < s->nev; i++) {
		e = &s->ev[i];
		if (e->kind == P_VOID)
			st->voided++;
		if (e->kind != P_NOTE)
			continue;
		for (j = i + 1; j < s->nev; j++) {
			f = &s->ev[j];
			if (f->kind == P_NOTE &&
			    !crdt_happened_before(&e->st, &f->vv) &&
			    !crdt_happened_before(&f->st, &e->vv))
				st->concurrent_edits++;
		}
	}
}

static void
sim_run(struct sim *s, uint64_t seed, int ndev, int steps, int sync_all,
    struct sim_stats *st)
{
	static char	n0[NOTE_CAP], ni[NOTE_CAP];
	int		i, a, b, d;
	const char	*diff;

	memset(s, 0, sizeof(*s));
	seed_now = seed;
	rng = seed * UINT64_C(0x9e3779b97f4a7c15) + 1;
	s->ndev = ndev;
	s->sync_all = sync_all;
	s->wall = 1000;
	for (i = 0; i < steps; i++) {
		if (rndn(10) == 0)	/* a new partition */
			for (d = 0; d < ndev; d++)
				s->group[d] = (int)rndn(2);
		if (sync_all || rndn(2) == 0) {
			d = (int)rndn((uint32_t)ndev);
			sim_event(s, d);
			if (sync_all)
				for (b = 0; b < ndev; b++)
					if (b != d)
						sim_sync(s, d, b, 1);
			continue;
		}
		a = (int)rndn((uint32_t)ndev);
		b = (int)rndn((uint32_t)ndev);
		if (a != b && s->group[a] == s->group[b])
			sim_sync(s, a, b, 0);
	}
	/* Heal: everyone gets everything, in random orders. */
	for (a = 0; a < ndev; a++)
		for (b = 0; b < ndev; b++)
			if (a != b)
				sim_sync(s, a, b, 1);
	for (a = 0; a < ndev; a++)
		for (b = 0; b < ndev; b++)
			if (a != b)
				sim_sync(s, a, b, 1);
	for (d = 0; d < ndev; d++)
		for (a = 0; a < ndev; a++)
			cr_assert_eq(s->vc[d][a], s->vc[a][a],
			    "seed %" PRIu64 ": not healed", seed);
	sim_expect(s, &s->v[0]);
	view_note(&s->v[0], n0, sizeof(n0));
	for (d = 1; d < ndev; d++) {
		diff = view_diff(&s->v[0], &s->v[d]);
		cr_assert_str_empty(diff, "seed %" PRIu64 ": device %d "
		    "diverged: %s", seed, d, diff);
		view_note(&s->v[d], ni, sizeof(ni));
		cr_assert_str_eq(ni, n0, "seed %" PRIu64, seed);
	}
	sim_count(s, st);
	st->notes += n0[0] != '\0';
	sim_check_note(s, n0);
}

static uint64_t
base_seed(void)
{
	const char	*env = getenv("CAJA_SEED");
	char		*end;
	uint64_t	v;

	if (env == NULL || *env == '\0')
		return 0;
	v = strtoull(env, &end, 10);
	cr_assert(*end == '\0', "CAJA_SEED: not a number");
	return v;
}

Test(crdt_prop, random_partitioned_histories_converge, .timeout = 240)
{
	static struct sim	s;
	struct sim_stats	st;
	uint64_t		seed, base = base_seed();
	int			i, runs = base != 0 ? 1 : 2000;

	memset(&st, 0, sizeof(st));
	for (i = 0; i < runs; i++) {
		seed = base != 0 ? base : UINT64_C(1000) + (uint64_t)i;
		sim_run(&s, seed, 3 + (int)(seed % 2), 120, 0, &st);
	}
	if (base == 0) {
		/* The histories did have what the rules are about. */
		cr_assert_gt(st.conflicts, runs / 10, "%d", st.conflicts);
		cr_assert_gt(st.concurrent_edits, runs, "%d",
		    st.concurrent_edits);
		cr_assert_gt(st.notes, runs / 2, "%d", st.notes);
		cr_assert_gt(st.voided, runs, "%d", st.voided);
	}
	cr_log_info("%d runs: %d conflicts, %d concurrent note edit pairs, "
	    "%d notes, %d voids", runs, st.conflicts, st.concurrent_edits,
	    st.notes, st.voided);
}

Test(crdt_prop, random_synchronous_histories_match_plain_text_edits,
    .timeout = 120)
{
	static struct sim	s;
	static char		want[NOTE_CAP], got[NOTE_CAP];
	struct sim_stats	st;
	uint64_t		seed, base = base_seed();
	int			i, j, k, runs = base != 0 ? 1 : 100;

	memset(&st, 0, sizeof(st));
	for (i = 0; i < runs; i++) {
		seed = base != 0 ? base : UINT64_C(5000) + (uint64_t)i;
		sim_run(&s, seed, 3, 60, 1, &st);
		/* Fully synchronous: the note is the plain sequential
		 * application of every edit in creation order. */
		want[0] = '\0';
		for (j = 0; j < s.nev; j++)
			if (s.ev[j].kind == P_NOTE)
				for (k = 0; k < (int)s.ev[j].edit.nops; k++)
					naive_apply(want, sizeof(want),
					    &s.ev[j].edit.ops[k]);
		view_note(&s.v[0], got, sizeof(got));
		cr_assert_str_eq(got, want, "seed %" PRIu64, seed);
	}
	cr_assert_eq(st.concurrent_edits, 0);
	cr_assert_eq(st.conflicts, 0);
	if (base == 0)
		cr_assert_gt(st.notes, runs / 2, "%d", st.notes);
}
