/*
 * store: create, open, append, read back; refusals leave nothing; a full
 * map is a clean error.
 */
#include "store_fixture.h"

#include <fcntl.h>

TestSuite(store, .init = fx_setup, .fini = fx_teardown);

Test(store, create_open_append_get)
{
	struct store		*s, *ro;
	struct store_opts	 o;
	struct store_ids	 ids;
	json_t			*p, *st;
	char			 hex[ID_HEX];

	s = fx_create(fx_path("a"), "caja-1");
	cr_assert(store_is_admin(s));
	cr_assert_eq(fx_count(s), 1, "genesis enrollment only");
	cr_assert_eq(fx_append(s, "ProductUpdated",
	    "{\"product_id\":\"p1\",\"name\":\"Coca Cola 1L\","
	    "\"barcode\":\"7591\"}", T0 + 10), 2);
	cr_assert_eq(fx_append(s, "PriceChanged",
	    "{\"product_id\":\"p1\",\"price_bs\":\"5.00\"}", T0 + 20), 3);
	cr_assert_eq(fx_append(s, "StockReceived",
	    "{\"product_id\":\"p1\",\"qty\":10}", T0 + 30), 4);
	cr_assert_eq(fx_append(s, "CustomerUpdated",
	    "{\"customer_id\":\"c1\",\"name\":\"Ana\"}", T0 + 40), 5);
	cr_assert_eq(fx_append(s, "SaleCreated",
	    "{\"sale_id\":\"s1\",\"items\":[{\"product_id\":\"p1\","
	    "\"qty\":2,\"price_bs\":\"5.00\"}],\"customer_id\":\"c1\","
	    "\"on_credit\":true}", T0 + 50), 6);

	p = fx_get(s, "product", "p1");
	cr_assert_str_eq(fx_str(p, "name"), "Coca Cola 1L");
	cr_assert_str_eq(fx_str(p, "barcode"), "7591");
	cr_assert_str_eq(fx_str(p, "price_bs"), "5.00");
	cr_assert(json_is_null(json_object_get(p, "price_usd")));
	cr_assert_eq(json_integer_value(json_object_get(p, "stock")), 8);
	cr_assert_eq(json_array_size(json_object_get(p, "conflicts")), 0);
	json_decref(p);
	p = fx_get(s, "customer", "c1");
	cr_assert_str_eq(fx_str(p, "balance_bs"), "10.00");
	json_decref(p);
	p = fx_get(s, "sale", "s1");
	cr_assert_str_eq(fx_str(p, "status"), "open");
	cr_assert_str_eq(fx_str(p, "total_bs"), "10.00");
	json_decref(p);

	/* void: stock and credit reversed */
	fx_append(s, "SaleVoided", "{\"sale_id\":\"s1\"}", T0 + 60);
	p = fx_get(s, "product", "p1");
	cr_assert_eq(json_integer_value(json_object_get(p, "stock")), 10);
	json_decref(p);
	p = fx_get(s, "customer", "c1");
	cr_assert_str_eq(fx_str(p, "balance_bs"), "0.00");
	json_decref(p);
	cr_assert_eq(store_totals_json(s, NULL, &p), 0);
	st = json_object_get(p, "store");
	cr_assert_eq(json_integer_value(json_object_get(st, "count")), 1);
	cr_assert_str_eq(fx_str(st, "total_bs"), "10.00");
	cr_assert_eq(json_integer_value(json_object_get(st, "voided")), 1);
	json_decref(p);
	cr_assert_eq(store_get_json(s, "product", "nope", &p),
	    CAJA_ENOTFOUND);

	store_ids(s, &ids);
	cr_assert_eq(store_status_json(s, &st), 0);
	ids_hex(hex, ids.device_id, ID_LEN);
	cr_assert_str_eq(fx_str(st, "device_id"), hex);
	cr_assert_str_eq(fx_str(st, "store_name"), "Tienda Centro");
	cr_assert_eq(json_integer_value(json_object_get(st, "events")), 7);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(st,
	    "vector_clock"), hex)), 7);
	json_decref(st);

	/* a read-only open, while the writer is open */
	memset(&o, 0, sizeof(o));
	o.rdonly = 1;
	cr_assert_eq(store_open(&ro, fx_path("a"), &o), 0);
	p = fx_get(ro, "product", "p1");
	cr_assert_str_eq(fx_str(p, "name"), "Coca Cola 1L");
	json_decref(p);
	cr_assert_eq(store_log_json(ro, NULL, 0, 0, &p), 0);
	cr_assert_eq(json_array_size(p), 7);
	cr_assert_str_eq(fx_str(json_array_get(p, 0), "type"),
	    "DeviceEnrolled");
	json_decref(p);
	cr_assert_eq(store_devices_json(ro, &p), 0);
	cr_assert_eq(json_array_size(p), 1);
	cr_assert_str_eq(fx_str(json_array_get(p, 0), "role"), "admin");
	json_decref(p);
	store_close(&ro);
	cr_assert_null(ro);
	store_close(&s);

	/* reopen: the HLC never goes backwards, seq goes on */
	s = fx_open(fx_path("a"));
	cr_assert_eq(fx_append(s, "StockAdjusted",
	    "{\"product_id\":\"p1\",\"delta\":-1}", T0), 8);
	cr_assert_eq(store_log_json(s, NULL, 6, 0, &p), 0);
	cr_assert_eq(json_array_size(p), 2);
	cr_assert(json_integer_value(json_object_get(json_array_get(p, 1),
	    "hlc")) > json_integer_value(json_object_get(json_array_get(p, 0),
	    "hlc")));
	json_decref(p);
	store_close(&s);

	/* a used dir is refused */
	cr_assert_eq(store_create(fx_path("a"), "X", NULL, T0, &ids),
	    CAJA_EEXIST);
}

Test(store, refused_append_leaves_nothing)
{
	struct store		*s;
	struct store_batch	*b = NULL;
	struct store_appended	 a;
	char			 msg[STORE_ERRMSG], d0[HASH_HEX], d1[HASH_HEX];
	json_t			*j;
	int			 rc;

	s = fx_create(fx_path("a"), "caja-1");
	fx_digest(s, d0);
	cr_assert_eq(store_batch_begin(s, &b), 0);
	j = json_loads("{\"name\":\"x\"}", 0, NULL);
	msg[0] = '\0';
	rc = store_append_json(b, "ProductUpdated", j, T0 + 1, &a, msg);
	cr_assert_eq(rc, CAJA_EFIELD, "got %s", err_str(rc));
	cr_assert(strstr(msg, "product_id") != NULL, "msg: %s", msg);
	json_decref(j);
	j = json_loads("{\"product_id\":\"p1\",\"qty\":-3}", 0, NULL);
	rc = store_append_json(b, "StockReceived", j, T0 + 2, &a, msg);
	cr_assert_neq(rc, 0);
	json_decref(j);
	j = json_loads("{\"product_id\":\"p1\"}", 0, NULL);
	cr_assert_eq(store_append_json(b, "NoSuchType", j, T0 + 3, &a, msg),
	    CAJA_ETYPE);
	cr_assert_eq(store_append_json(b, "DeviceRevoked", j, T0 + 3, &a,
	    msg), CAJA_ETYPE);
	json_decref(j);
	cr_assert_eq(store_batch_commit(&b), 0);
	fx_digest(s, d1);
	cr_assert_str_eq(d0, d1, "refusals changed the store");
	cr_assert_eq(fx_count(s), 1);

	/* in one batch: a refusal between two good appends */
	cr_assert_eq(store_batch_begin(s, &b), 0);
	j = json_loads("{\"product_id\":\"p1\",\"qty\":4}", 0, NULL);
	cr_assert_eq(store_append_json(b, "StockReceived", j, T0 + 4, &a,
	    msg), 0);
	cr_assert_eq(a.seq, 2);
	json_decref(j);
	j = json_loads("{\"product_id\":\"p1\",\"qty\":\"x\"}", 0, NULL);
	cr_assert_neq(store_append_json(b, "StockReceived", j, T0 + 5, &a,
	    msg), 0);
	json_decref(j);
	j = json_loads("{\"product_id\":\"p1\",\"qty\":1}", 0, NULL);
	cr_assert_eq(store_append_json(b, "StockReceived", j, T0 + 6, &a,
	    msg), 0);
	cr_assert_eq(a.seq, 3, "the refused append took a seq");
	json_decref(j);
	cr_assert_eq(store_batch_commit(&b), 0);
	j = fx_get(s, "product", "p1");
	cr_assert_eq(json_integer_value(json_object_get(j, "stock")), 5);
	json_decref(j);

	/* an aborted batch leaves nothing */
	fx_digest(s, d0);
	cr_assert_eq(store_batch_begin(s, &b), 0);
	j = json_loads("{\"product_id\":\"p1\",\"qty\":1}", 0, NULL);
	cr_assert_eq(store_append_json(b, "StockReceived", j, T0 + 7, &a,
	    msg), 0);
	json_decref(j);
	store_batch_abort(&b);
	cr_assert_null(b);
	fx_digest(s, d1);
	cr_assert_str_eq(d0, d1);
	store_close(&s);
}

Test(store, full_map_is_a_clean_error)
{
	struct store		*s;
	struct store_batch	*b = NULL;
	struct store_appended	 a;
	struct store_opts	 o;
	char			 msg[STORE_ERRMSG], json[256], d0[HASH_HEX];
	char			 d1[HASH_HEX], name[600];
	uint64_t		 committed, n;
	json_t			*j;
	int			 rc = 0, i, k;

	s = fx_create(fx_path("a"), "caja-1");
	store_close(&s);
	memset(&o, 0, sizeof(o));
	o.map_size = 256 * 1024;
	o.map_max = 1024 * 1024;
	cr_assert_eq(store_open(&s, fx_path("a"), &o), 0);
	memset(name, 'x', 500);
	name[500] = '\0';
	for (i = 0; i < 100000 && rc == 0; i++) {
		cr_assert_eq(store_batch_begin(s, &b), 0);
		for (k = 0; k < 20 && rc == 0; k++) {
			snprintf(json, sizeof(json), "{\"product_id\":"
			    "\"p%d-%d\",\"name\":\"%.100s\"}", i, k, name);
			j = json_loads(json, 0, NULL);
			rc = store_append_json(b, "ProductUpdated", j,
			    T0 + (uint64_t)i * 100 + k, &a, msg);
			json_decref(j);
		}
		if (rc == 0)
			rc = store_batch_commit(&b);
		else
			store_batch_abort(&b);
	}
	cr_assert_eq(rc, CAJA_EFULL, "got %s after %d batches", err_str(rc),
	    i);
	cr_assert_null(b);
	/* still readable; the failed batch left nothing */
	committed = fx_count(s);
	cr_assert_eq((committed - 1) % 20, 0, "half a batch: %llu",
	    (unsigned long long)committed);
	j = fx_get(s, "product", "p0-0");
	cr_assert_eq(strlen(fx_str(j, "name")), 100);
	json_decref(j);
	fx_digest(s, d0);
	store_close(&s);

	/* reopens cleanly, same content; a bigger map takes writes again */
	cr_assert_eq(store_open(&s, fx_path("a"), &o), 0);
	cr_assert_eq(store_count(s, &n), 0);
	cr_assert_eq(n, committed);
	fx_digest(s, d1);
	cr_assert_str_eq(d0, d1);
	store_close(&s);
	o.map_max = 64ull << 20;
	cr_assert_eq(store_open(&s, fx_path("a"), &o), 0);
	fx_append(s, "StockReceived", "{\"product_id\":\"p0-0\",\"qty\":1}",
	    T0 + 100000000);
	cr_assert_eq(fx_count(s), committed + 1);
	store_close(&s);
}

Test(store, export_parse_is_bounded)
{
	static const uint8_t	ok[] = "CAJAEXP1";
	uint8_t			buf[32];
	size_t			n = 0;

	cr_assert_eq(store_export_parse(ok, 8, NULL, NULL), 0);
	cr_assert_eq(store_export_parse(ok, 7, NULL, &n), CAJA_EDECODE);
	memcpy(buf, "CAJAEXP1", 8);
	/* a length past the end */
	buf[8] = 0; buf[9] = 0; buf[10] = 0; buf[11] = 20;
	memset(buf + 12, 0, 4);
	cr_assert_eq(store_export_parse(buf, 16, NULL, NULL), CAJA_EDECODE);
	/* a huge length */
	buf[8] = 0xff;
	cr_assert_eq(store_export_parse(buf, 16, NULL, NULL), CAJA_EDECODE);
	/* a truncated header */
	cr_assert_eq(store_export_parse(buf, 10, NULL, NULL), CAJA_EDECODE);
}

/* n StockReceived events on s, of products prefix0 .. prefix(n-1). */
static void
receive_stock(struct store *s, int n, const char *prefix)
{
	char	json[160];
	int	i;

	for (i = 0; i < n; i++) {
		snprintf(json, sizeof(json), "{\"product_id\":\"%s%d\","
		    "\"qty\":%d}", prefix, i, i + 1);
		fx_append(s, "StockReceived", json, T0 + 1000 + (uint64_t)i);
	}
}

/*
 * An import in steps (store_import_open/step/close, as the agent runs it):
 * each step merges a committed batch and the report adds up; a file cut
 * short or rewritten while it is being imported stops the import with a
 * clear error (never a SIGBUS, never bytes other than those verified),
 * and what was merged before stays.
 */
Test(store, import_in_steps_and_a_file_cut_short)
{
	struct store		*a, *b;
	struct store_import	*im = NULL;
	char			 msg[STORE_ERRMSG] = "";
	size_t			 frames, pending, n;
	const char		*path;
	uint64_t		 before;
	int			 done = 0, steps = 0, rc;

	a = fx_create(fx_path("a"), "caja-1");
	b = fx_join(a, fx_path("b"), "caja-2", T0 + 100);
	receive_stock(a, 50, "p");
	n = fx_export(a, fx_path("a.exp"));
	cr_assert_gt(n, 50);
	before = fx_count(b);

	/* in steps of 8 */
	cr_assert_eq(store_import_open(b, fx_path("a.exp"), &im, msg), 0,
	    "%s", msg);
	store_import_progress(im, &frames, &pending, &path);
	cr_assert_eq(frames, n);
	cr_assert_eq(pending, n);
	cr_assert_str_eq(path, fx_path("a.exp"));
	while (!done) {
		cr_assert_eq(store_import_step(im, 8, T0 + 5000, &done, msg), 0,
		    "%s", msg);
		steps++;
		store_import_progress(im, &frames, &pending, &path);
		if (!done)
			cr_assert_gt(pending, 0);
	}
	cr_assert_geq(steps, (int)(n / 8));
	cr_assert_eq(pending, 0);
	cr_assert_eq(store_import_report(im)->refused, 0);
	cr_assert_eq(store_import_report(im)->accepted +
	    store_import_report(im)->duplicate, n);
	store_import_close(&im);
	cr_assert_null(im);
	/* all of a's events, and b's own enrollment */
	cr_assert_eq(fx_count(b), fx_count(a) + 1, "b %llu, a %llu",
	    (unsigned long long)fx_count(b), (unsigned long long)fx_count(a));

	/* a file cut short between two steps */
	store_close(&b);
	b = fx_join(a, fx_path("c"), "caja-3", T0 + 200);
	before = fx_count(b);
	cr_assert_eq(store_import_open(b, fx_path("a.exp"), &im, msg), 0);
	cr_assert_eq(store_import_step(im, 8, T0 + 5000, &done, msg), 0);
	cr_assert_eq(done, 0);
	cr_assert_gt(fx_count(b), before);
	before = fx_count(b);
	cr_assert_eq(truncate(fx_path("a.exp"), 64), 0);
	cr_assert_eq(store_import_step(im, 8, T0 + 5000, &done, msg),
	    CAJA_EIO);
	cr_assert(strstr(msg, "shrank") != NULL, "%s", msg);
	store_import_close(&im);
	cr_assert_eq(fx_count(b), before, "what was merged before stays");

	/* a file rewritten in place between two steps */
	store_close(&b);
	n = fx_export(a, fx_path("a.exp"));
	b = fx_join(a, fx_path("d"), "caja-4", T0 + 300);
	cr_assert_eq(store_import_open(b, fx_path("a.exp"), &im, msg), 0);
	cr_assert_eq(store_import_step(im, 8, T0 + 5000, &done, msg), 0);
	before = fx_count(b);
	{
		uint8_t	junk[512];
		int	fd = open(fx_path("a.exp"), O_WRONLY);

		memset(junk, 0xab, sizeof(junk));
		cr_assert_geq(fd, 0);
		cr_assert_eq(pwrite(fd, junk, sizeof(junk), 2048),
		    (ssize_t)sizeof(junk));
		close(fd);
	}
	rc = 0;
	while (!done && (rc = store_import_step(im, 8, T0 + 5000, &done,
	    msg)) == 0)
		;
	cr_assert_eq(rc, CAJA_EIO, "%s", err_str(rc));
	cr_assert(strstr(msg, "changed") != NULL, "%s", msg);
	store_import_close(&im);
	cr_assert_lt(fx_count(b), before + n);
	store_close(&a);
	store_close(&b);
}

/* Writes f's frames in the given order as an export file. */
static void
write_export(const char *path, const struct fx_frames *f, const size_t *order,
    size_t n)
{
	FILE	*w = fopen(path, "wb");
	uint8_t	 h[4];
	size_t	 i, l;

	cr_assert_not_null(w);
	cr_assert_eq(fwrite(STORE_EXPORT_MAGIC, 1, 8, w), 8);
	for (i = 0; i < n; i++) {
		l = f->len[order[i]];
		h[0] = (uint8_t)(l >> 24);
		h[1] = (uint8_t)(l >> 16);
		h[2] = (uint8_t)(l >> 8);
		h[3] = (uint8_t)l;
		cr_assert_eq(fwrite(h, 1, 4, w), 4);
		cr_assert_eq(fwrite(f->p[order[i]], 1, l, w), l);
	}
	cr_assert_eq(fclose(w), 0);
}

/*
 * A later pass reads only the events still waiting, scattered through the
 * file (apart, or with a few others between them): they must be the bytes
 * of those events. Here the last five of a device's events wait, placed
 * at the front, after 30 events and at the end of the file.
 */
Test(store, import_later_pass_reads_scattered_events)
{
	struct store		*a, *b;
	struct store_report	 rep;
	struct fx_frames	 f;
	size_t			 order[FX_FRAMES_MAX], i, k = 0, span = 0, w;
	char			 msg[STORE_ERRMSG] = "";
	char			 da[HASH_HEX], db[HASH_HEX];
	struct store_import	*im = NULL;
	int			 done = 0;

	a = fx_create(fx_path("a"), "caja-1");
	b = fx_join(a, fx_path("b"), "caja-2", T0 + 100);
	receive_stock(a, 60, "product-with-a-long-name-");
	fx_frames_all(a, &f);
	cr_assert_gt(f.n, 60);
	w = f.n - 5;		/* frames w .. f.n - 1 wait */
	order[k++] = w;
	for (i = 0; i < 30; i++) {
		order[k++] = i;
		span += 4 + f.len[i];
	}
	cr_assert_gt(span, 4096, "the waiting events are %zu bytes apart",
	    span);
	order[k++] = w + 1;
	for (i = 30; i < w; i++)
		order[k++] = i;
	for (i = w + 2; i < f.n; i++)
		order[k++] = i;
	cr_assert_eq(k, f.n);
	write_export(fx_path("scattered.exp"), &f, order, k);

	cr_assert_eq(store_import_open(b, fx_path("scattered.exp"), &im, msg),
	    0, "%s", msg);
	while (!done)
		cr_assert_eq(store_import_step(im, 8, T0 + 5000, &done, msg), 0,
		    "%s", msg);
	rep = *store_import_report(im);
	store_import_close(&im);
	cr_assert_eq(rep.refused, 0, "%s", rep.nrefusals ?
	    rep.refusals[0].msg : "");
	cr_assert_eq(rep.accepted + rep.duplicate, f.n);
	cr_assert_eq(fx_count(b), fx_count(a) + 1);
	/* b's own enrollment aside, b now holds what a holds */
	fx_export(b, fx_path("back.exp"));
	fx_import(a, fx_path("back.exp"), T0 + 6000, &rep);
	fx_digest(a, da);
	fx_digest(b, db);
	cr_assert_str_eq(da, db);
	fx_frames_free(&f);
	store_close(&a);
	store_close(&b);
}
