/*
 * apply: the effects of events on the read models come out the same on
 * every register, whatever the order events arrive in: a sale id created
 * by two registers, an invite used by two devices, concurrent resolutions
 * of one conflict, a sale voided before its creation arrives.
 *
 * Each test makes its events on real registers (a is the admin, b and c
 * joined), then delivers all of them to fresh copies of a's genesis in
 * several orders and demands one digest.
 */
#define _GNU_SOURCE
#include "store_fixture.h"

TestSuite(apply, .init = fx_setup, .fini = fx_teardown);

static void
assert_same(struct store *a, struct store *b, const char *what)
{
	char	da[HASH_HEX], db[HASH_HEX];

	fx_digest(a, da);
	fx_digest(b, db);
	cr_assert_str_eq(da, db, "digests differ: %s", what);
}

/*
 * a (admin), b and c joined and known to everyone. Copies of a's genesis
 * are left in g0..g3 for deliveries.
 */
static void
trio(struct store **a, struct store **b, struct store **c)
{
	char	name[8];
	int	i;

	*a = fx_create(fx_path("a"), "caja-1");
	store_close(a);
	for (i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "g%d", i);
		fx_clone(fx_path("a"), fx_path(name));
	}
	*a = fx_open(fx_path("a"));
	*b = fx_join(*a, fx_path("b"), "caja-2", T0 + 100);
	*c = fx_join(*a, fx_path("c"), "caja-3", T0 + 150);
	fx_sync(*a, *b, "t1.exp", T0 + 200);
	fx_sync(*a, *c, "t2.exp", T0 + 200);
	fx_sync(*b, *c, "t3.exp", T0 + 200);
	fx_sync(*c, *a, "t4.exp", T0 + 200);
	fx_sync(*c, *b, "t5.exp", T0 + 200);
}

/* Everything x holds delivered to the genesis copies in four orders:
 * forward, reverse, shuffled one by one, shuffled in chunks of 3. */
static void
deliver_all_orders(struct store *x)
{
	struct fx_frames	 f;
	struct store		*g;
	size_t			 order[FX_FRAMES_MAX], i;
	char			 name[8];
	int			 k;

	fx_frames_all(x, &f);
	for (k = 0; k < 4; k++) {
		for (i = 0; i < f.n; i++)
			order[i] = k == 1 ? f.n - 1 - i : i;
		if (k >= 2)
			fx_shuffle(order, f.n, 777u * (uint32_t)k);
		snprintf(name, sizeof(name), "g%d", k);
		g = fx_open(fx_path(name));
		fx_deliver(g, &f, order, k == 3 ? 3 : 1);
		assert_same(x, g, name);
		store_close(&g);
	}
	fx_frames_free(&f);
}

static int64_t
stock_of(struct store *s, const char *pid)
{
	json_t	*p = fx_get(s, "product", pid);
	int64_t	 v = json_integer_value(json_object_get(p, "stock"));

	json_decref(p);
	return v;
}

/* The pending conflicts of type t; returns how many, first one in *out. */
static size_t
conflicts_of(struct store *s, const char *t, int all, json_t **out)
{
	json_t	*k = fx_conflicts(s, all), *c;
	size_t	 i, n = 0;

	*out = NULL;
	json_array_foreach(k, i, c) {
		if (strcmp(fx_str(c, "conflict_type"), t) != 0)
			continue;
		if (n++ == 0)
			*out = json_incref(c);
	}
	json_decref(k);
	return n;
}

Test(apply, sale_id_created_twice_is_defined_by_the_smallest_stamp)
{
	struct store	*a, *b, *c;
	json_t		*s, *k, *v, *t;
	char		 hc[ID_HEX];
	struct store_ids ids;

	trio(&a, &b, &c);
	fx_append(a, "StockReceived", "{\"product_id\":\"p1\",\"qty\":100}",
	    T0 + 1000);
	fx_sync(a, b, "a1.exp", T0 + 1100);
	fx_sync(a, c, "a2.exp", T0 + 1100);
	/* the same sale id on two registers, offline; c's is earlier */
	fx_append(b, "SaleCreated", "{\"sale_id\":\"S-1\",\"items\":"
	    "[{\"product_id\":\"p1\",\"qty\":2,\"price_bs\":\"5\"}]}",
	    T0 + 5000);
	fx_append(c, "SaleCreated", "{\"sale_id\":\"S-1\",\"items\":"
	    "[{\"product_id\":\"p1\",\"qty\":7,\"price_bs\":\"5\"},"
	    "{\"product_id\":\"p2\",\"qty\":1,\"price_bs\":\"1\"}],"
	    "\"customer_id\":\"c1\",\"on_credit\":true}", T0 + 4000);
	cr_assert_eq(stock_of(b, "p1"), 98);
	cr_assert_eq(stock_of(c, "p1"), 93);
	/* each learns of the other's after its own */
	fx_sync(b, c, "b1.exp", T0 + 6000);
	fx_sync(c, b, "c1.exp", T0 + 6000);
	fx_sync(b, a, "b2.exp", T0 + 6000);
	fx_sync(c, a, "c2.exp", T0 + 6000);
	assert_same(a, b, "a, b");
	assert_same(a, c, "a, c");
	cr_assert_eq(stock_of(b, "p1"), 93, "c's creation defines the sale");
	cr_assert_eq(stock_of(b, "p2"), -1);
	s = fx_get(b, "sale", "S-1");
	store_ids(c, &ids);
	ids_hex(hc, ids.device_id, ID_LEN);
	cr_assert_str_eq(fx_str(s, "device_id"), hc);
	cr_assert_str_eq(fx_str(s, "total_bs"), "36.00");
	json_decref(s);
	s = fx_get(b, "customer", "c1");
	cr_assert_str_eq(fx_str(s, "balance_bs"), "36.00");
	json_decref(s);
	/* totals: the sale counts once, on c */
	cr_assert_eq(store_totals_json(b, NULL, &t), 0);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(t,
	    "store"), "count")), 1);
	cr_assert_str_eq(fx_str(json_object_get(t, "store"), "total_bs"),
	    "36.00");
	cr_assert_eq(json_array_size(json_object_get(t, "devices")), 1);
	cr_assert_str_eq(fx_str(json_array_get(json_object_get(t, "devices"),
	    0), "device_id"), hc);
	json_decref(t);
	/* and a person is told: one conflict with both creations */
	cr_assert_eq(conflicts_of(b, "duplicate_id", 0, &k), 1);
	cr_assert_str_eq(fx_str(k, "entity_type"), "sale");
	cr_assert_str_eq(fx_str(k, "entity_id"), "S-1");
	cr_assert_str_eq(fx_str(k, "resolution_status"), "pending");
	v = json_object_get(k, "values");
	cr_assert_eq(json_array_size(v), 2);
	cr_assert_str_eq(fx_str(json_array_get(v, 0), "device_id"), hc,
	    "values in stamp order: the defining one first");
	cr_assert(strstr(fx_str(json_array_get(v, 0), "value"), "36.00") !=
	    NULL, "value: %s", fx_str(json_array_get(v, 0), "value"));
	json_decref(k);

	/* voiding it reverses the defining creation's effects, once */
	fx_append(a, "SaleVoided", "{\"sale_id\":\"S-1\"}", T0 + 7000);
	cr_assert_eq(stock_of(a, "p1"), 100);
	cr_assert_eq(stock_of(a, "p2"), 0);
	/* a third creation, identical to b's, from a: no new value */
	fx_append(a, "SaleCreated", "{\"sale_id\":\"S-1\",\"items\":"
	    "[{\"product_id\":\"p1\",\"qty\":2,\"price_bs\":\"5\"}]}",
	    T0 + 7100);
	cr_assert_eq(stock_of(a, "p1"), 100);
	cr_assert_eq(conflicts_of(a, "duplicate_id", 0, &k), 1);
	cr_assert_eq(json_array_size(json_object_get(k, "values")), 2);
	json_decref(k);
	deliver_all_orders(a);
	store_close(&a);
	store_close(&b);
	store_close(&c);
}

Test(apply, sale_redefined_while_voided_converges)
{
	struct store	*a, *b, *c;
	json_t		*k;

	trio(&a, &b, &c);
	/* b: a sale, voided at once; c: the same id earlier, other items */
	fx_append(b, "SaleCreated", "{\"sale_id\":\"S-2\",\"items\":"
	    "[{\"product_id\":\"p1\",\"qty\":3,\"price_bs\":\"2\"}]}",
	    T0 + 5000);
	fx_append(b, "SaleVoided", "{\"sale_id\":\"S-2\"}", T0 + 5001);
	fx_append(c, "SaleCreated", "{\"sale_id\":\"S-2\",\"items\":"
	    "[{\"product_id\":\"p3\",\"qty\":4,\"price_bs\":\"2\"}]}",
	    T0 + 4000);
	/* a voided sale of a product nobody else mentions */
	fx_append(c, "SaleVoided", "{\"sale_id\":\"S-3\"}", T0 + 4001);
	fx_append(b, "SaleCreated", "{\"sale_id\":\"S-3\",\"items\":"
	    "[{\"product_id\":\"p9\",\"qty\":1,\"price_bs\":\"2\"}]}",
	    T0 + 5002);
	fx_sync(b, c, "b1.exp", T0 + 6000);
	fx_sync(c, b, "c1.exp", T0 + 6000);
	fx_sync(b, a, "b2.exp", T0 + 6000);
	fx_sync(c, a, "c2.exp", T0 + 6000);
	assert_same(b, c, "b, c");
	assert_same(a, c, "a, c");
	cr_assert_eq(stock_of(a, "p1"), 0);
	cr_assert_eq(stock_of(a, "p3"), 0);
	cr_assert_eq(stock_of(a, "p9"), 0);
	cr_assert_eq(conflicts_of(a, "duplicate_id", 0, &k), 1);
	json_decref(k);
	deliver_all_orders(a);
	store_close(&a);
	store_close(&b);
	store_close(&c);
}

Test(apply, concurrent_resolutions_of_one_conflict_converge)
{
	struct store	*a, *b, *c;
	char		 cid[64];
	json_t		*k, *v;
	size_t		 i;

	trio(&a, &b, &c);
	fx_append(a, "PriceChanged", "{\"product_id\":\"p1\","
	    "\"price_bs\":\"5.00\"}", T0 + 1000);
	fx_append(b, "PriceChanged", "{\"product_id\":\"p1\","
	    "\"price_bs\":\"5.50\"}", T0 + 1001);
	fx_sync(a, b, "a1.exp", T0 + 2000);
	fx_sync(b, a, "b1.exp", T0 + 2000);
	k = fx_conflicts(a, 0);
	cr_assert_eq(json_array_size(k), 1);
	snprintf(cid, sizeof(cid), "%s", fx_str(json_array_get(k, 0),
	    "conflict_id"));
	json_decref(k);
	/* both settle it, differently, before hearing of the other */
	fx_resolve(a, cid, "5.10", "ana", T0 + 3000);
	fx_resolve(b, cid, "5.20", "beto", T0 + 3001);
	fx_sync(a, b, "a2.exp", T0 + 4000);
	fx_sync(b, a, "b2.exp", T0 + 4000);
	assert_same(a, b, "a, b");
	k = fx_conflicts(a, 1);
	for (i = 0, v = NULL; i < json_array_size(k) && v == NULL; i++)
		if (strcmp(fx_str(json_array_get(k, i), "conflict_id"),
		    cid) == 0)
			v = json_array_get(k, i);
	cr_assert_not_null(v);
	cr_assert_str_eq(fx_str(v, "resolution_status"), "resolved");
	cr_assert_str_eq(fx_str(v, "resolved_by"), "beto",
	    "the greater stamp settles the record");
	json_decref(k);
	fx_sync(a, c, "a3.exp", T0 + 5000);
	deliver_all_orders(a);
	store_close(&a);
	store_close(&b);
	store_close(&c);
}

/* Joins dir with a token minted earlier (the same token twice). */
static struct store *
join_with(const char *dir, const char *token, const char *name,
    uint64_t now)
{
	struct store_ids	ids;
	int			rc;

	rc = store_join(dir, token, name, now, &ids);
	cr_assert_eq(rc, 0, "join: %s", err_str(rc));
	return fx_open(dir);
}

static int
has_device(struct store *s, struct store *d)
{
	struct store_ids	ids;
	struct store_device	dev;

	store_ids(d, &ids);
	return store_device_get(s, ids.device_id, &dev) == 0;
}

Test(apply, invite_used_twice_converges_and_raises_a_conflict)
{
	struct store		*a, *b, *c, *x, *y;
	struct store_batch	*bt = NULL;
	struct store_ids	 ib;
	struct store_device	 d;
	char			 token[IDENT_TOKEN_MAX], msg[STORE_ERRMSG];
	char			 hb[ID_HEX];
	json_t			*k, *v;

	a = fx_create(fx_path("a"), "caja-1");
	cr_assert_eq(store_batch_begin(a, &bt), 0);
	cr_assert_eq(store_invite(bt, "register", T0 + 86400000, T0 + 10,
	    token, sizeof(token), msg), 0, "%s", msg);
	cr_assert_eq(store_batch_commit(&bt), 0);
	store_close(&a);
	/* x and y: two registers that hold the invite (copies of a) */
	fx_clone(fx_path("a"), fx_path("x"));
	fx_clone(fx_path("a"), fx_path("y"));
	fx_clone(fx_path("a"), fx_path("g0"));
	a = fx_open(fx_path("a"));
	/* the token copied onto two boxes: b joins first (by its clock) */
	b = join_with(fx_path("b"), token, "caja-2", T0 + 100);
	c = join_with(fx_path("c"), token, "caja-3", T0 + 200);
	fx_append(b, "StockReceived", "{\"product_id\":\"p1\",\"qty\":5}",
	    T0 + 300);
	fx_append(c, "StockReceived", "{\"product_id\":\"p1\",\"qty\":7}",
	    T0 + 300);
	x = fx_open(fx_path("x"));
	y = fx_open(fx_path("y"));
	fx_sync(b, x, "b1.exp", T0 + 400);
	fx_sync(c, x, "c1.exp", T0 + 400);
	fx_sync(c, y, "c2.exp", T0 + 400);
	fx_sync(b, y, "b2.exp", T0 + 400);
	assert_same(x, y, "x, y");
	/* the same enrolled set on both: the events happened, they stay */
	cr_assert(has_device(x, b) && has_device(x, c));
	cr_assert(has_device(y, b) && has_device(y, c));
	cr_assert_eq(stock_of(x, "p1"), 12);
	store_ids(c, &ib);
	cr_assert_eq(store_device_get(y, ib.device_id, &d), 0);
	cr_assert_str_eq(d.role, "register", "the invite's role");
	/* an admin is asked to check: one conflict naming both devices */
	cr_assert_eq(conflicts_of(y, "invite_reused", 0, &k), 1);
	cr_assert_str_eq(fx_str(k, "entity_type"), "invite");
	cr_assert_str_eq(fx_str(k, "resolution_status"), "pending");
	v = json_object_get(k, "values");
	cr_assert_eq(json_array_size(v), 2);
	store_ids(b, &ib);
	ids_hex(hb, ib.device_id, ID_LEN);
	cr_assert_str_eq(fx_str(json_array_get(v, 0), "device_id"), hb,
	    "the earliest enrollment first");
	json_decref(k);
	/* every order of everything gives the same */
	fx_sync(x, a, "x1.exp", T0 + 500);
	assert_same(a, x, "a, x");
	store_close(&x);
	store_close(&y);
	{
		struct fx_frames	 f;
		struct store		*g;
		size_t			 order[FX_FRAMES_MAX], i;

		fx_frames_all(a, &f);
		for (i = 0; i < f.n; i++)
			order[i] = f.n - 1 - i;
		g = fx_open(fx_path("g0"));
		fx_deliver(g, &f, order, 1);
		assert_same(a, g, "reverse");
		store_close(&g);
		fx_frames_free(&f);
	}
	store_close(&a);
	store_close(&b);
	store_close(&c);
}

Test(apply, rival_conflict_resolves_and_reopens_the_same_everywhere)
{
	struct store	*a, *b, *c;
	char		 cid[64];
	json_t		*k;

	trio(&a, &b, &c);
	fx_append(a, "SaleCreated", "{\"sale_id\":\"S-9\",\"items\":"
	    "[{\"product_id\":\"p1\",\"qty\":1,\"price_bs\":\"1\"}]}",
	    T0 + 1000);
	fx_append(b, "SaleCreated", "{\"sale_id\":\"S-9\",\"items\":"
	    "[{\"product_id\":\"p1\",\"qty\":2,\"price_bs\":\"1\"}]}",
	    T0 + 1001);
	fx_sync(a, b, "a1.exp", T0 + 2000);
	fx_sync(b, a, "b1.exp", T0 + 2000);
	cr_assert_eq(conflicts_of(a, "duplicate_id", 0, &k), 1);
	snprintf(cid, sizeof(cid), "%s", fx_str(k, "conflict_id"));
	json_decref(k);
	/* c creates it too, concurrently with a's resolution */
	fx_append(c, "SaleCreated", "{\"sale_id\":\"S-9\",\"items\":"
	    "[{\"product_id\":\"p1\",\"qty\":3,\"price_bs\":\"1\"}]}",
	    T0 + 2500);
	fx_resolve(a, cid, "void B's, key it in again", "ana", T0 + 3000);
	cr_assert_eq(conflicts_of(a, "duplicate_id", 0, &k), 0, "resolved");
	cr_assert_eq(conflicts_of(a, "duplicate_id", 1, &k), 1);
	cr_assert_str_eq(fx_str(k, "resolved_by"), "ana");
	json_decref(k);
	/* c's value was not in the resolution's past: open again */
	fx_sync(c, a, "c1.exp", T0 + 4000);
	cr_assert_eq(conflicts_of(a, "duplicate_id", 0, &k), 1, "reopened");
	cr_assert_str_eq(fx_str(k, "conflict_id"), cid, "the same conflict");
	cr_assert_eq(json_array_size(json_object_get(k, "values")), 3);
	json_decref(k);
	/* c, which made its value before, gets the resolution after it */
	fx_sync(a, c, "a2.exp", T0 + 4000);
	cr_assert_eq(conflicts_of(c, "duplicate_id", 0, &k), 1);
	json_decref(k);
	assert_same(a, c, "a, c");
	/* a resolution that covers all three closes it everywhere */
	fx_resolve(c, cid, "ok", "carla", T0 + 5000);
	fx_sync(c, a, "c2.exp", T0 + 6000);
	fx_sync(a, b, "a3.exp", T0 + 6000);
	cr_assert_eq(conflicts_of(b, "duplicate_id", 0, &k), 0);
	cr_assert_eq(conflicts_of(b, "duplicate_id", 1, &k), 1);
	cr_assert_str_eq(fx_str(k, "resolved_by"), "carla");
	json_decref(k);
	assert_same(a, b, "a, b");
	deliver_all_orders(a);
	store_close(&a);
	store_close(&b);
	store_close(&c);
}
