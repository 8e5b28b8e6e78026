/*
 * cache: the batch write-back cache of store/cache.c must be invisible.
 * The same events merged in one ingest call (records read and written
 * once, sales' stock kept as pending deltas), one event per batch, by
 * local appends, and into a store whose map must grow in the middle of a
 * run (the batch replayed with the cache dropped) all give one digest and
 * the same stock and balances.
 */
#define _GNU_SOURCE
#include <sys/stat.h>

#include "proto/event.h"
#include "store_fixture.h"

TestSuite(cache, .init = fx_setup, .fini = fx_teardown);

/* A POS day that touches the same records many times. */
static const struct {
	const char	*type;
	const char	*json;
} day[] = {
	{ "StockReceived", "{\"product_id\":\"p1\",\"qty\":50}" },
	{ "SaleCreated", "{\"sale_id\":\"s1\",\"items\":[{\"product_id\":"
	    "\"p1\",\"qty\":2,\"price_bs\":\"4\"},{\"product_id\":\"p2\","
	    "\"qty\":1,\"price_bs\":\"3.50\"}]}" },
	/* read-modify-write of p1 with stock pending in the cache */
	{ "PriceChanged", "{\"product_id\":\"p1\",\"price_bs\":\"4.20\"}" },
	{ "SaleCreated", "{\"sale_id\":\"s2\",\"items\":[{\"product_id\":"
	    "\"p1\",\"qty\":3,\"price_bs\":\"4.20\"}]}" },
	{ "ProductUpdated", "{\"product_id\":\"p1\",\"name\":\"Harina\"}" },
	{ "SaleCreated", "{\"sale_id\":\"s3\",\"items\":[{\"product_id\":"
	    "\"p1\",\"qty\":1,\"price_bs\":\"4.20\"}]}" },
	{ "StockAdjusted", "{\"product_id\":\"p2\",\"delta\":-4}" },
	{ "SaleVoided", "{\"sale_id\":\"s1\"}" },
	{ "CustomerUpdated", "{\"customer_id\":\"c1\",\"name\":\"Ana\"}" },
	{ "SaleCreated", "{\"sale_id\":\"s4\",\"items\":[{\"product_id\":"
	    "\"p3\",\"qty\":2,\"price_bs\":\"10\"}],\"customer_id\":\"c1\","
	    "\"on_credit\":true}" },
	{ "DebtPaymentAdded", "{\"customer_id\":\"c1\",\"amount_bs\":\"5\"}" },
	/* p3: sold only, its record comes from the pending stock alone */
	{ "SaleCreated", "{\"sale_id\":\"s5\",\"items\":[{\"product_id\":"
	    "\"p3\",\"qty\":1,\"price_bs\":\"10\"}]}" },
	{ "NoteEdited", "{\"sale_id\":\"s4\",\"ops\":[{\"type\":\"INSERT\","
	    "\"position\":0,\"text\":\"fiado\"}]}" },
};
#define NDAY	(sizeof(day) / sizeof(day[0]))

/* Appends the day `rounds` times on s, in one batch. */
static void
append_days(struct store *s, int rounds, uint64_t now)
{
	struct store_batch	*b = NULL;
	struct store_appended	 a;
	char			 msg[STORE_ERRMSG] = "", text[512], *p;
	json_t			*j;
	size_t			 i;
	int			 r, rc;

	cr_assert_eq(store_batch_begin(s, &b), 0);
	for (r = 0; r < rounds; r++)
		for (i = 0; i < NDAY; i++) {
			/* sale ids of each round are new: s1 -> s1-r2 */
			snprintf(text, sizeof(text), "%s", day[i].json);
			if (r > 0 && (p = strstr(text, "\"sale_id\":\"s")) !=
			    NULL) {
				char	rest[512];

				p += 12;
				while (*p >= '0' && *p <= '9')
					p++;
				snprintf(rest, sizeof(rest), "%s", p);
				snprintf(p, sizeof(text) - (size_t)(p - text),
				    "-r%d%s", r, rest);
			}
			j = json_loads(text, 0, NULL);
			cr_assert_not_null(j, "%s", text);
			rc = store_append_json(b, day[i].type, j,
			    now + (uint64_t)(r * NDAY + i), &a, msg);
			cr_assert_eq(rc, 0, "%s %s: %s (%s)", day[i].type, text,
			    err_str(rc), msg);
			json_decref(j);
		}
	cr_assert_eq(store_batch_commit(&b), 0);
}

static int64_t
stock_of(struct store *s, const char *pid)
{
	json_t	*p = fx_get(s, "product", pid);
	int64_t	 v = json_integer_value(json_object_get(p, "stock"));

	json_decref(p);
	return v;
}

static void
assert_same(struct store *a, struct store *b, const char *what)
{
	char	da[HASH_HEX], db[HASH_HEX];

	fx_digest(a, da);
	fx_digest(b, db);
	cr_assert_str_eq(da, db, "%s: digests differ", what);
	cr_assert_eq(stock_of(a, "p1"), stock_of(b, "p1"), "%s", what);
	cr_assert_eq(stock_of(a, "p3"), stock_of(b, "p3"), "%s", what);
}

/* Every frame of b, delivered to s in chunks of `chunk` (one batch each). */
static void
deliver_all(struct store *s, const struct fx_frames *f, size_t chunk)
{
	size_t	order[FX_FRAMES_MAX], i;

	for (i = 0; i < f->n; i++)
		order[i] = i;
	fx_deliver(s, f, order, chunk);
}

Test(cache, batched_merge_equals_event_by_event)
{
	struct store		*a, *b, *one, *each, *two;
	struct store_batch	*bt = NULL;
	struct store_report	 rep;
	struct fx_frames	 f;
	const uint8_t		*cp[FX_FRAMES_MAX];
	size_t			 cl[FX_FRAMES_MAX], i, half;
	json_t			*c;

	a = fx_create(fx_path("a"), "caja-1");
	b = fx_join(a, fx_path("b"), "caja-2", T0 + 100);
	fx_sync(a, b, "a.exp", T0 + 200);
	store_close(&a);
	fx_clone(fx_path("a"), fx_path("one"));
	fx_clone(fx_path("a"), fx_path("each"));
	fx_clone(fx_path("a"), fx_path("two"));
	a = fx_open(fx_path("a"));

	append_days(b, 3, T0 + 1000);
	/* by local appends (the cache is never active there) */
	cr_assert_eq(stock_of(b, "p1"), 3 * 50 - 3 * (3 + 1));
	cr_assert_eq(stock_of(b, "p3"), -3 * 3);
	c = fx_get(b, "customer", "c1");
	cr_assert_str_eq(fx_str(c, "balance_bs"), "45.00");
	json_decref(c);

	fx_frames_all(b, &f);
	cr_assert_gt(f.n, 3 * NDAY);
	/* all of it in one ingest call */
	one = fx_open(fx_path("one"));
	deliver_all(one, &f, f.n);
	assert_same(b, one, "one call");
	/* one event per batch */
	each = fx_open(fx_path("each"));
	deliver_all(each, &f, 1);
	assert_same(b, each, "one by one");
	/* two ingest calls in one batch: the second sees the first */
	two = fx_open(fx_path("two"));
	half = f.n / 2;
	for (i = 0; i < f.n; i++) {
		cp[i] = f.p[i];
		cl[i] = f.len[i];
	}
	cr_assert_eq(store_batch_begin(two, &bt), 0);
	cr_assert_eq(store_ingest(bt, cp, cl, half, T0 + 5000, &rep), 0);
	cr_assert_eq(rep.refused, 0);
	cr_assert_eq(store_ingest(bt, cp + half, cl + half, f.n - half,
	    T0 + 5000, &rep), 0);
	cr_assert_eq(rep.refused, 0);
	cr_assert_eq(store_batch_commit(&bt), 0);
	assert_same(b, two, "two calls, one batch");
	/* and through export/import */
	fx_sync(b, a, "b.exp", T0 + 6000);
	assert_same(b, a, "import");

	fx_frames_free(&f);
	store_close(&a);
	store_close(&b);
	store_close(&one);
	store_close(&each);
	store_close(&two);
}

/*
 * Prices written concurrently on two registers: every write replaces the
 * pending conflict, which names the events it holds. Through the cache
 * (conflict records and event ids remembered in one call) or not (one
 * event per batch), the conflict records come out the same, and name the
 * events by their real ids.
 */
Test(cache, concurrent_prices_same_conflicts_as_event_by_event)
{
	struct store		*a, *b, *one, *each;
	struct fx_frames	 f;
	json_t			*ca, *c1, *ce, *v;
	char			 json[128], da[HASH_HEX], d1[HASH_HEX];
	char			 de[HASH_HEX];
	size_t			 i, k;
	int			 r;

	a = fx_create(fx_path("a"), "caja-1");
	b = fx_join(a, fx_path("b"), "caja-2", T0 + 100);
	fx_sync(a, b, "a.exp", T0 + 200);
	store_close(&b);
	fx_clone(fx_path("b"), fx_path("one"));
	fx_clone(fx_path("b"), fx_path("each"));
	b = fx_open(fx_path("b"));
	for (r = 0; r < 80; r++) {	/* past CACHE_IDS_FROM */
		snprintf(json, sizeof(json), "{\"product_id\":\"p1\","
		    "\"price_bs\":\"5.%02d\"}", r);
		fx_append(a, "PriceChanged", json, T0 + 1000 + (uint64_t)r);
		snprintf(json, sizeof(json), "{\"product_id\":\"p1\","
		    "\"price_bs\":\"6.%02d\"}", r);
		fx_append(b, "PriceChanged", json, T0 + 1000 + (uint64_t)r);
	}
	fx_sync(b, a, "b.exp", T0 + 2000);
	fx_frames_all(a, &f);
	one = fx_open(fx_path("one"));
	deliver_all(one, &f, f.n);
	each = fx_open(fx_path("each"));
	deliver_all(each, &f, 1);
	fx_digest(a, da);
	fx_digest(one, d1);
	fx_digest(each, de);
	cr_assert_str_eq(da, d1);
	cr_assert_str_eq(da, de);

	cr_assert_eq(store_conflicts_json(a, 0, &ca), 0);
	cr_assert_eq(store_conflicts_json(one, 0, &c1), 0);
	cr_assert_eq(store_conflicts_json(each, 0, &ce), 0);
	cr_assert_eq(json_array_size(ca), 1, "one pending price conflict");
	cr_assert(json_equal(ca, c1));
	cr_assert(json_equal(ca, ce));
	/* the last write of each register, named by its event id */
	v = json_object_get(json_array_get(ca, 0), "values");
	cr_assert_eq(json_array_size(v), 2);
	for (k = 0; k < json_array_size(v); k++) {
		const char	*id = json_string_value(json_object_get(
		    json_array_get(v, k), "event_id"));
		int		 found = 0;

		cr_assert_not_null(id);
		for (i = 0; i < f.n; i++) {
			uint8_t	h[HASH_LEN];
			char	hex[HASH_HEX];

			sig_hash(h, f.p[i], f.len[i]);
			ids_hex(hex, h, HASH_LEN);
			found += strcmp(hex, id) == 0;
		}
		cr_assert_eq(found, 1, "event id %s names no event", id);
	}
	json_decref(ca);
	json_decref(c1);
	json_decref(ce);
	fx_frames_free(&f);
	store_close(&a);
	store_close(&b);
	store_close(&one);
	store_close(&each);
}

Test(cache, map_growth_in_a_run_replays_without_the_cache)
{
	struct store		*a, *b, *t;
	struct store_opts	 o;
	struct fx_frames	 f;
	int			 rc;

	a = fx_create(fx_path("a"), "caja-1");
	b = fx_join(a, fx_path("b"), "caja-2", T0 + 100);
	fx_sync(a, b, "a.exp", T0 + 200);
	store_close(&a);
	fx_clone(fx_path("a"), fx_path("t"));
	a = fx_open(fx_path("a"));
	append_days(b, 15, T0 + 1000);	/* about 200 events */
	fx_frames_all(b, &f);
	cr_assert_gt(f.n, 150);

	/* a map too small for the run: it grows (and replays) mid-ingest */
	memset(&o, 0, sizeof(o));
	o.map_size = 64 * 1024;
	rc = store_open(&t, fx_path("t"), &o);
	cr_assert_eq(rc, 0, "open: %s", err_str(rc));
	deliver_all(t, &f, f.n);
	assert_same(b, t, "after map growth");

	fx_frames_free(&f);
	store_close(&a);
	store_close(&b);
	store_close(&t);
}
