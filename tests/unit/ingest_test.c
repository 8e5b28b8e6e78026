/*
 * ingest: replication between data dirs through export files: the seed
 * examples converge to one digest; tampered, forged, revoked and forked
 * events are refused by name and the rest is kept.
 */
#define _GNU_SOURCE
#include <sys/stat.h>

#include "proto/event.h"
#include "proto/schema.h"
#include "proto/sig.h"
#include "store_fixture.h"

TestSuite(ingest, .init = fx_setup, .fini = fx_teardown);

static void
assert_same(struct store *a, struct store *b)
{
	char	da[HASH_HEX], db[HASH_HEX];

	fx_digest(a, da);
	fx_digest(b, db);
	cr_assert_str_eq(da, db, "digests differ");
}

/* Two registers that know each other: a (admin) and b (joined). */
static void
pair(struct store **a, struct store **b)
{
	*a = fx_create(fx_path("a"), "caja-1");
	*b = fx_join(*a, fx_path("b"), "caja-2", T0 + 100);
	fx_sync(*a, *b, "a0.exp", T0 + 200);
	fx_sync(*b, *a, "b0.exp", T0 + 200);
	assert_same(*a, *b);
}

Test(ingest, join_and_exchange)
{
	struct store	*a, *b;
	json_t		*d;

	pair(&a, &b);
	cr_assert_eq(store_devices_json(a, &d), 0);
	cr_assert_eq(json_array_size(d), 2);
	json_decref(d);
	cr_assert_eq(store_devices_json(b, &d), 0);
	cr_assert_eq(json_array_size(d), 2);
	json_decref(d);
	cr_assert_eq(fx_count(a), 3, "genesis, invite, join");
	cr_assert(!store_is_admin(b));
	store_close(&a);
	store_close(&b);
}

Test(ingest, seed_examples_converge)
{
	struct store		*a, *b;
	struct store_batch	*bt = NULL;
	struct store_report	 rep;
	struct store_appended	 ap;
	json_t			*p, *c, *v, *val;
	char			 cid[64], msg[STORE_ERRMSG];
	const char		*x, *y;

	pair(&a, &b);
	/* name LWW: b writes later */
	fx_append(a, "ProductUpdated", "{\"product_id\":\"p1\","
	    "\"name\":\"Coca Cola 1L\"}", T0 + 1000);
	fx_append(b, "ProductUpdated", "{\"product_id\":\"p1\","
	    "\"name\":\"Coca-Cola 1000ml\"}", T0 + 2000);
	/* stock counter */
	fx_append(a, "StockReceived", "{\"product_id\":\"p1\",\"qty\":10}",
	    T0 + 3000);
	fx_append(b, "StockAdjusted", "{\"product_id\":\"p1\",\"delta\":-5}",
	    T0 + 3000);
	/* concurrent prices */
	fx_append(a, "PriceChanged", "{\"product_id\":\"p1\","
	    "\"price_bs\":\"5.00\"}", T0 + 4000);
	fx_append(b, "PriceChanged", "{\"product_id\":\"p1\","
	    "\"price_bs\":\"5.50\"}", T0 + 4100);
	/* the note: a sale, then concurrent edits */
	fx_append(a, "SaleCreated", "{\"sale_id\":\"s1\",\"items\":"
	    "[{\"product_id\":\"p9\",\"qty\":1,\"price_bs\":\"3\"}]}",
	    T0 + 5000);
	fx_append(a, "NoteEdited", "{\"sale_id\":\"s1\",\"ops\":[{\"type\":"
	    "\"INSERT\",\"position\":0,\"text\":\"Entrega 8am\"}]}",
	    T0 + 5100);
	fx_sync(a, b, "a1.exp", T0 + 6000);
	fx_append(a, "NoteEdited", "{\"sale_id\":\"s1\",\"ops\":[{\"type\":"
	    "\"INSERT\",\"position\":7,\"text\":\" mañana\"}]}", T0 + 7000);
	fx_append(b, "NoteEdited", "{\"sale_id\":\"s1\",\"ops\":[{\"type\":"
	    "\"INSERT\",\"position\":11,\"text\":\" a domicilio\"}]}",
	    T0 + 7000);

	fx_sync(a, b, "a2.exp", T0 + 8000);
	fx_sync(b, a, "b2.exp", T0 + 8000);
	assert_same(a, b);

	p = fx_get(a, "product", "p1");
	cr_assert_str_eq(fx_str(p, "name"), "Coca-Cola 1000ml");
	cr_assert_eq(json_integer_value(json_object_get(p, "stock")), 5);
	cr_assert_str_eq(fx_str(p, "price_bs"), "5.50", "provisional: "
	    "latest HLC");
	cr_assert_eq(json_array_size(json_object_get(p, "conflicts")), 1);
	snprintf(cid, sizeof(cid), "%s", json_string_value(json_array_get(
	    json_object_get(p, "conflicts"), 0)));
	json_decref(p);
	p = fx_get(b, "sale", "s1");
	cr_assert_str_eq(fx_str(p, "note"), "Entrega mañana 8am a domicilio");
	json_decref(p);

	/* one pending conflict with both values, the same on both */
	c = fx_conflicts(a, 0);
	cr_assert_eq(json_array_size(c), 1);
	v = json_array_get(c, 0);
	cr_assert_str_eq(fx_str(v, "conflict_id"), cid);
	cr_assert_str_eq(fx_str(v, "conflict_type"), "concurrent_update");
	cr_assert_str_eq(fx_str(v, "entity_id"), "p1");
	cr_assert_str_eq(fx_str(v, "field"), "price_bs");
	cr_assert_str_eq(fx_str(v, "resolution_status"), "pending");
	val = json_object_get(v, "values");
	cr_assert_eq(json_array_size(val), 2);
	x = json_string_value(json_object_get(json_array_get(val, 0),
	    "value"));
	y = json_string_value(json_object_get(json_array_get(val, 1),
	    "value"));
	cr_assert_not_null(x);
	cr_assert_not_null(y);
	cr_assert((strcmp(x, "5.00") == 0 && strcmp(y, "5.50") == 0) ||
	    (strcmp(x, "5.50") == 0 && strcmp(y, "5.00") == 0));
	json_decref(c);
	c = fx_conflicts(b, 0);
	cr_assert_eq(json_array_size(c), 1);
	cr_assert_str_eq(fx_str(json_array_get(c, 0), "conflict_id"), cid);
	json_decref(c);

	/* resolve on b with a prefix, export: settled on both */
	cid[12] = '\0';
	cr_assert_eq(store_batch_begin(b, &bt), 0);
	val = json_string("5.25");
	msg[0] = '\0';
	cr_assert_eq(store_resolve(bt, cid, val, "gerente", T0 + 9000, &ap,
	    msg), 0, "resolve: %s", msg);
	json_decref(val);
	cr_assert_eq(store_batch_commit(&bt), 0);
	fx_export(b, fx_path("b3.exp"));
	fx_import(a, fx_path("b3.exp"), T0 + 9500, &rep);
	cr_assert_eq(rep.accepted, 1);
	cr_assert_eq(rep.refused, 0);
	assert_same(a, b);
	c = fx_conflicts(a, 0);
	cr_assert_eq(json_array_size(c), 0, "still pending on a");
	json_decref(c);
	c = fx_conflicts(a, 1);
	cr_assert_eq(json_array_size(c), 1);
	v = json_array_get(c, 0);
	cr_assert_str_eq(fx_str(v, "resolution_status"), "resolved");
	cr_assert_str_eq(fx_str(v, "resolution_value"), "5.25");
	cr_assert_str_eq(fx_str(v, "resolved_by"), "gerente");
	json_decref(c);
	p = fx_get(a, "product", "p1");
	cr_assert_str_eq(fx_str(p, "price_bs"), "5.25");
	cr_assert_eq(json_array_size(json_object_get(p, "conflicts")), 0);
	json_decref(p);
	/* resolving again is refused */
	cr_assert_eq(store_batch_begin(a, &bt), 0);
	val = json_string("6");
	cr_assert_eq(store_resolve(bt, cid, val, NULL, T0 + 9600, &ap, msg),
	    CAJA_EINVAL);
	json_decref(val);
	store_batch_abort(&bt);
	store_close(&a);
	store_close(&b);
}

Test(ingest, import_twice_is_all_duplicates)
{
	struct store		*a, *b;
	struct store_report	 rep;
	char			 d0[HASH_HEX], d1[HASH_HEX];
	size_t			 n;

	pair(&a, &b);
	fx_append(a, "StockReceived", "{\"product_id\":\"p1\",\"qty\":3}",
	    T0 + 1000);
	n = fx_export(a, fx_path("a.exp"));
	fx_import(b, fx_path("a.exp"), T0 + 2000, &rep);
	cr_assert_eq(rep.accepted, 1);
	cr_assert_eq(rep.duplicate, n - 1);
	fx_digest(b, d0);
	fx_import(b, fx_path("a.exp"), T0 + 3000, &rep);
	cr_assert_eq(rep.accepted, 0);
	cr_assert_eq(rep.duplicate, n);
	cr_assert_eq(rep.refused, 0);
	fx_digest(b, d1);
	cr_assert_str_eq(d0, d1);
	store_close(&a);
	store_close(&b);
}

static uint8_t *
slurp(const char *path, size_t *len)
{
	FILE	*f = fopen(path, "rb");
	uint8_t	*p;
	long	 n;

	cr_assert_not_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc((size_t)n);
	cr_assert_eq(fread(p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return p;
}

static void
spit(const char *path, const uint8_t *p, size_t len)
{
	FILE	*f = fopen(path, "wb");

	cr_assert_not_null(f);
	cr_assert_eq(fwrite(p, 1, len, f), len);
	fclose(f);
}

Test(ingest, tampered_event_is_refused_by_name)
{
	struct store		*a, *b, *c;
	struct store_report	 rep;
	struct store_ids	 ia, ib;
	const struct store_refusal *r;
	uint8_t			*f, *hit;
	size_t			 len;
	json_t			*p;

	pair(&a, &b);
	store_ids(a, &ia);
	store_ids(b, &ib);
	fx_append(a, "ProductUpdated", "{\"product_id\":\"p1\","
	    "\"name\":\"Coca Cola 1L\"}", T0 + 1000);	/* seq 3 */
	fx_append(a, "ProductUpdated", "{\"product_id\":\"p2\","
	    "\"name\":\"Pepsi\"}", T0 + 1100);		/* seq 4 */
	fx_append(b, "ProductUpdated", "{\"product_id\":\"p3\","
	    "\"name\":\"Malta\"}", T0 + 1200);		/* b seq 2 */
	fx_sync(b, a, "b.exp", T0 + 1300);
	fx_export(a, fx_path("a.exp"));
	f = slurp(fx_path("a.exp"), &len);
	hit = memmem(f, len, "Coca Cola", 9);
	cr_assert_not_null(hit);
	hit[0] = 'K';
	spit(fx_path("t.exp"), f, len);
	free(f);

	/* a third register, joined, gets the tampered file */
	c = fx_join(a, fx_path("c"), "caja-3", T0 + 1400);
	fx_import(c, fx_path("t.exp"), T0 + 1500, &rep);
	r = fx_refusal(&rep, ia.device_id, 3);
	cr_assert_not_null(r, "tampered event not named");
	cr_assert(r->err == CAJA_ESIG || r->err == CAJA_ECHAIN, "got %s",
	    err_str(r->err));
	cr_assert_eq(store_get_json(c, "product", "p1", &p), CAJA_ENOTFOUND);
	/* the rest is kept: a's events before it, b's events */
	p = fx_get(c, "product", "p3");
	cr_assert_str_eq(fx_str(p, "name"), "Malta");
	json_decref(p);
	cr_assert(rep.accepted >= 4, "accepted %zu", rep.accepted);
	/* the good copy later fills the hole */
	fx_sync(a, c, "a2.exp", T0 + 1600);
	p = fx_get(c, "product", "p1");
	cr_assert_str_eq(fx_str(p, "name"), "Coca Cola 1L");
	json_decref(p);
	p = fx_get(c, "product", "p2");
	json_decref(p);
	store_close(&a);
	store_close(&b);
	store_close(&c);
}

/* An event signed by key k claiming device dev, seq, prev. */
static void
forge(struct store *s, struct sig_key *k, const uint8_t dev[ID_LEN],
    uint64_t seq, const uint8_t prev[HASH_LEN], struct buf *out)
{
	struct store_ids	 ids;
	struct event		 ev;
	struct buf		 pl;
	json_t			*j;
	char			 msg[SCHEMA_ERRMSG];

	store_ids(s, &ids);
	buf_init(&pl, 0);
	j = json_loads("{\"product_id\":\"p1\",\"name\":\"evil\"}", 0, NULL);
	memset(&ev, 0, sizeof(ev));
	cr_assert_eq(schema_from_json(EV_PRODUCT_UPDATED, j, &pl, ev.entity,
	    msg), 0);
	json_decref(j);
	memcpy(ev.store, ids.store_id, ID_LEN);
	memcpy(ev.dev, dev, ID_LEN);
	ev.seq = seq;
	if (prev != NULL)
		memcpy(ev.prev, prev, HASH_LEN);
	ev.hlc = (T0 + 5000) << 16;
	ev.type = EV_PRODUCT_UPDATED;
	ev.payload = pl.p;
	ev.payload_len = pl.len;
	cr_assert_eq(event_encode(&ev, k, out), 0);
	buf_reset(&pl);
}

Test(ingest, forged_events_are_refused)
{
	struct store		*a;
	struct store_batch	*bt = NULL;
	struct store_report	 rep;
	struct store_ids	 ia;
	struct sig_key		*k = NULL;
	struct buf		 f1, f2;
	const uint8_t		*frames[2];
	size_t			 lens[2];
	uint8_t			 head[HASH_LEN];
	json_t			*l;
	char			 d0[HASH_HEX], d1[HASH_HEX];

	a = fx_create(fx_path("a"), "caja-1");
	store_ids(a, &ia);
	fx_digest(a, d0);
	cr_assert_eq(sig_key_new(&k), 0);
	buf_init(&f1, 0);
	buf_init(&f2, 0);
	/* a device nobody enrolled */
	forge(a, k, k->id, 1, NULL, &f1);
	/* claiming to be a's device, signed by the wrong key */
	cr_assert_eq(store_log_json(a, NULL, 0, 0, &l), 0);
	cr_assert_eq(ids_unhex(head, HASH_LEN, json_string_value(
	    json_object_get(json_array_get(l, 0), "event_id"))), 0);
	json_decref(l);
	forge(a, k, ia.device_id, 2, head, &f2);
	frames[0] = f1.p;
	lens[0] = f1.len;
	frames[1] = f2.p;
	lens[1] = f2.len;
	cr_assert_eq(store_batch_begin(a, &bt), 0);
	cr_assert_eq(store_ingest(bt, frames, lens, 2, T0 + 6000, &rep), 0);
	cr_assert_eq(store_batch_commit(&bt), 0);
	cr_assert_eq(rep.accepted, 0);
	cr_assert_eq(rep.refused, 2);
	cr_assert_not_null(fx_refusal(&rep, k->id, 1));
	cr_assert_eq(fx_refusal(&rep, k->id, 1)->err, CAJA_EUNENROLLED);
	cr_assert_not_null(fx_refusal(&rep, ia.device_id, 2));
	cr_assert_eq(fx_refusal(&rep, ia.device_id, 2)->err, CAJA_ESIG);
	fx_digest(a, d1);
	cr_assert_str_eq(d0, d1);
	buf_reset(&f1);
	buf_reset(&f2);
	sig_key_destroy(&k);
	store_close(&a);
}

Test(ingest, events_after_revocation_are_refused)
{
	struct store		*a, *b;
	struct store_batch	*bt = NULL;
	struct store_report	 rep;
	struct store_appended	 ap;
	struct store_ids	 ib;
	char			 hex[ID_HEX], msg[STORE_ERRMSG];
	json_t			*p, *d;
	size_t			 i;

	pair(&a, &b);
	store_ids(b, &ib);
	fx_append(b, "StockReceived", "{\"product_id\":\"p1\",\"qty\":7}",
	    T0 + 1000);					/* b seq 2 */
	fx_sync(b, a, "b1.exp", T0 + 1100);
	ids_hex(hex, ib.device_id, ID_LEN);
	hex[10] = '\0';
	cr_assert_eq(store_batch_begin(a, &bt), 0);
	msg[0] = '\0';
	cr_assert_eq(store_revoke(bt, hex, "stolen", T0 + 1200, &ap, msg), 0,
	    "revoke: %s", msg);
	cr_assert_eq(store_batch_commit(&bt), 0);
	/* b, not knowing, goes on */
	fx_append(b, "StockReceived", "{\"product_id\":\"p1\",\"qty\":100}",
	    T0 + 1300);					/* b seq 3 */
	fx_export(b, fx_path("b2.exp"));
	fx_import(a, fx_path("b2.exp"), T0 + 1400, &rep);
	cr_assert_not_null(fx_refusal(&rep, ib.device_id, 3));
	cr_assert_eq(fx_refusal(&rep, ib.device_id, 3)->err, CAJA_EREVOKED);
	p = fx_get(a, "product", "p1");
	cr_assert_eq(json_integer_value(json_object_get(p, "stock")), 7,
	    "earlier events stay valid");
	json_decref(p);
	cr_assert_eq(store_devices_json(a, &d), 0);
	for (i = 0; i < json_array_size(d); i++) {
		json_t	*o = json_array_get(d, i);

		if (strncmp(fx_str(o, "device_id"), hex, 10) == 0) {
			cr_assert(json_is_true(json_object_get(o, "revoked")));
			cr_assert_eq(json_integer_value(json_object_get(o,
			    "revoked_upto_seq")), 2);
		}
	}
	json_decref(d);
	/* b learns of it: its own appends are refused */
	fx_sync(a, b, "a2.exp", T0 + 1500);
	cr_assert_eq(store_batch_begin(b, &bt), 0);
	p = json_loads("{\"product_id\":\"p1\",\"qty\":1}", 0, NULL);
	cr_assert_eq(store_append_json(bt, "StockReceived", p, T0 + 1600, &ap,
	    msg), CAJA_EREVOKED);
	json_decref(p);
	store_batch_abort(&bt);
	store_close(&a);
	store_close(&b);
}

Test(ingest, fork_is_a_conflict_not_a_crash)
{
	struct store		*a, *a2, *b, *c;
	struct store_batch	*bt = NULL;
	struct store_appended	 ap;
	struct store_report	 rep;
	struct store_ids	 ia;
	char			 hex[ID_HEX], cid[64], msg[STORE_ERRMSG];
	json_t			*k, *p, *d, *v;
	size_t			 i;

	pair(&a, &b);
	c = fx_join(a, fx_path("c"), "caja-3", T0 + 300);
	fx_sync(a, c, "a0c.exp", T0 + 400);
	fx_sync(b, c, "b0c.exp", T0 + 400);
	store_ids(a, &ia);
	store_close(&a);
	/* a cloned register: same device.key, same log */
	fx_clone(fx_path("a"), fx_path("a2"));
	a = fx_open(fx_path("a"));
	a2 = fx_open(fx_path("a2"));
	fx_append(a, "ProductUpdated", "{\"product_id\":\"p1\","
	    "\"name\":\"one\"}", T0 + 1000);
	fx_append(a, "ProductUpdated", "{\"product_id\":\"p1\","
	    "\"name\":\"one more\"}", T0 + 1001);
	fx_append(a2, "ProductUpdated", "{\"product_id\":\"p1\","
	    "\"name\":\"two\"}", T0 + 1002);
	fx_sync(a, c, "a1.exp", T0 + 2000);
	fx_export(a2, fx_path("a2.exp"));
	fx_import(c, fx_path("a2.exp"), T0 + 2100, &rep);
	cr_assert_eq(rep.forks, 1);
	k = fx_conflicts(c, 0);
	cr_assert_eq(json_array_size(k), 1);
	cr_assert_str_eq(fx_str(json_array_get(k, 0), "conflict_type"),
	    "fork");
	ids_hex(hex, ia.device_id, ID_LEN);
	cr_assert_str_eq(fx_str(json_array_get(k, 0), "entity_id"), hex);
	cr_assert_eq(json_array_size(json_object_get(json_array_get(k, 0),
	    "values")), 2);
	json_decref(k);
	p = fx_get(c, "product", "p1");
	cr_assert_str_eq(fx_str(p, "name"), "one more");
	json_decref(p);
	cr_assert_eq(store_devices_json(c, &d), 0);
	for (i = 0; i < json_array_size(d); i++) {
		json_t	*o = json_array_get(d, i);

		if (strcmp(fx_str(o, "device_id"), hex) == 0)
			cr_assert(json_is_true(json_object_get(o, "forked")));
	}
	json_decref(d);
	/* the forked device's later events wait; others replicate */
	fx_append(a, "StockReceived", "{\"product_id\":\"p1\",\"qty\":1}",
	    T0 + 3000);
	fx_append(b, "StockReceived", "{\"product_id\":\"p1\",\"qty\":2}",
	    T0 + 3000);
	fx_export(a, fx_path("a3.exp"));
	fx_import(c, fx_path("a3.exp"), T0 + 3100, &rep);
	cr_assert_eq(rep.accepted, 0);
	fx_sync(b, c, "b3.exp", T0 + 3200);
	p = fx_get(c, "product", "p1");
	cr_assert_eq(json_integer_value(json_object_get(p, "stock")), 2);
	json_decref(p);
	/* importing the fork again: nothing new */
	fx_import(c, fx_path("a2.exp"), T0 + 3300, &rep);
	cr_assert_eq(rep.forks, 0);
	k = fx_conflicts(c, 0);
	cr_assert_eq(json_array_size(k), 1);
	json_decref(k);
	fx_append(c, "StockReceived", "{\"product_id\":\"p1\",\"qty\":4}",
	    T0 + 4000);
	/* resolving the fork lets the held branch go on */
	k = fx_conflicts(c, 0);
	snprintf(cid, sizeof(cid), "%s", fx_str(json_array_get(k, 0),
	    "conflict_id"));
	json_decref(k);
	cr_assert_eq(store_batch_begin(c, &bt), 0);
	v = json_string("keep");
	cr_assert_eq(store_resolve(bt, cid, v, NULL, T0 + 4100, &ap, msg), 0,
	    "%s", msg);
	json_decref(v);
	cr_assert_eq(store_batch_commit(&bt), 0);
	k = fx_conflicts(c, 0);
	cr_assert_eq(json_array_size(k), 0);
	json_decref(k);
	fx_import(c, fx_path("a3.exp"), T0 + 4200, &rep);
	cr_assert_eq(rep.accepted, 1, "the held branch goes on");
	p = fx_get(c, "product", "p1");
	cr_assert_eq(json_integer_value(json_object_get(p, "stock")), 7);
	json_decref(p);
	store_close(&a);
	store_close(&a2);
	store_close(&b);
	store_close(&c);
}

Test(ingest, any_delivery_order_converges)
{
	struct store		*a, *b, *c, *x, *y;
	struct fx_frames	 f;
	size_t			 order[FX_FRAMES_MAX], i;
	json_t			*k, *v;
	char			 cid[64];

	a = fx_create(fx_path("a"), "caja-1");
	store_close(&a);
	/* x and y start as copies of a's genesis: a's events come by ingest */
	fx_clone(fx_path("a"), fx_path("x"));
	fx_clone(fx_path("a"), fx_path("y"));
	a = fx_open(fx_path("a"));
	b = fx_join(a, fx_path("b"), "caja-2", T0 + 100);
	c = fx_join(a, fx_path("c"), "caja-3", T0 + 150);
	fx_sync(a, b, "1.exp", T0 + 200);
	fx_sync(a, c, "2.exp", T0 + 200);
	fx_sync(b, c, "3.exp", T0 + 200);
	fx_sync(c, a, "4.exp", T0 + 200);
	fx_sync(c, b, "5.exp", T0 + 200);
	/* three concurrent prices, a sale voided elsewhere, notes */
	fx_append(a, "PriceChanged", "{\"product_id\":\"p1\","
	    "\"price_bs\":\"1\"}", T0 + 1000);
	fx_append(b, "PriceChanged", "{\"product_id\":\"p1\","
	    "\"price_bs\":\"2\"}", T0 + 1001);
	fx_append(c, "PriceChanged", "{\"product_id\":\"p1\","
	    "\"price_bs\":\"3\"}", T0 + 1002);
	fx_append(a, "CustomerUpdated", "{\"customer_id\":\"c1\","
	    "\"name\":\"Ana\"}", T0 + 1003);
	fx_append(b, "SaleCreated", "{\"sale_id\":\"s1\",\"items\":"
	    "[{\"product_id\":\"p1\",\"qty\":2,\"price_bs\":\"4\"}],"
	    "\"customer_id\":\"c1\",\"on_credit\":true}", T0 + 1004);
	fx_append(b, "NoteEdited", "{\"sale_id\":\"s1\",\"ops\":[{\"type\":"
	    "\"INSERT\",\"position\":0,\"text\":\"hola\"}]}", T0 + 1005);
	fx_sync(a, b, "6.exp", T0 + 1100);
	fx_sync(b, a, "7.exp", T0 + 1100);
	/* a resolves the two-way conflict it sees; c's value is still out */
	k = fx_conflicts(a, 0);
	cr_assert_eq(json_array_size(k), 1);
	snprintf(cid, sizeof(cid), "%s", fx_str(json_array_get(k, 0),
	    "conflict_id"));
	json_decref(k);
	fx_resolve(a, cid, "1.50", "ana", T0 + 1200);
	fx_append(c, "SaleVoided", "{\"sale_id\":\"s1\"}", T0 + 1300);
	fx_append(a, "NoteEdited", "{\"sale_id\":\"s1\",\"ops\":[{\"type\":"
	    "\"INSERT\",\"position\":4,\"text\":\"!\"}]}", T0 + 1301);
	fx_append(a, "DebtPaymentAdded", "{\"customer_id\":\"c1\","
	    "\"amount_bs\":\"1\"}", T0 + 1302);
	/* everyone gets everything */
	fx_sync(c, a, "8.exp", T0 + 2000);
	fx_sync(a, b, "9.exp", T0 + 2000);
	fx_sync(a, c, "10.exp", T0 + 2000);
	assert_same(a, b);
	assert_same(a, c);
	k = fx_conflicts(a, 1);
	cr_assert_eq(json_array_size(k), 2, "the resolved one and the new "
	    "one with c's value");
	json_decref(k);
	v = fx_get(a, "customer", "c1");
	cr_assert_str_eq(fx_str(v, "balance_bs"), "-1.00");
	json_decref(v);

	fx_frames_all(a, &f);
	cr_assert_gt(f.n, 10);
	/* x: everything in reverse, one batch */
	for (i = 0; i < f.n; i++)
		order[i] = f.n - 1 - i;
	x = fx_open(fx_path("x"));
	fx_deliver(x, &f, order, f.n);
	assert_same(a, x);
	/* y: shuffled, in small batches, with retries */
	fx_shuffle(order, f.n, 12345);
	y = fx_open(fx_path("y"));
	fx_deliver(y, &f, order, 3);
	assert_same(a, y);
	fx_frames_free(&f);
	store_close(&a);
	store_close(&b);
	store_close(&c);
	store_close(&x);
	store_close(&y);
}
