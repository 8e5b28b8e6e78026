/*
 * bench_cloud: ingestion rate of caja-cloud into PostgreSQL with full
 * verification, and bytes per uploaded event.
 *
 * usage: bench_cloud --db URL [--events N] [--devices D] [--batch B]
 *                    [--json]
 *
 * It builds a store of D registers (an admin and D-1 joined) with a
 * realistic POS mix, merges every register's events into the admin's
 * store, enrolls a cloud, and uploads the admin's store as an uplink
 * would: causally closed batches of B events past the cloud's vector
 * clock (store_frames_closed(), as the uplink cuts them), each handed
 * to caja-cloud's push handler (cpush_handle: verify into LMDB, rows
 * into PostgreSQL, commit both),
 * in process, so the figure is the server's, without HTTP. Then the bytes
 * per event of the same events as full JSON (cevent_to_json: every field,
 * payload as JSON), as signed frames (delta payload, canonical msgpack)
 * and as gzipped batches. Each run uses a new store: rows accumulate in
 * the database given (tests/support/pg.sh makes a throw-away one).
 */
#include <sys/stat.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto/sig.h"
#include "store/store.h"
#include "tools/bench/bench.h"
#include "tools/caja-cloud/cloud.h"

#define MAXDEV		16
#define NPRODUCTS	2000
#define NCUSTOMERS	500
#define FILL_BATCH	10000

static uint64_t	 rng = 0x9e3779b97f4a7c15ull;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void
die(const char *what, int rc, const char *msg)
{
	fprintf(stderr, "bench_cloud: %s: %s%s%s\n", what, err_str(rc),
	    msg && *msg ? ": " : "", msg ? msg : "");
	exit(2);
}

static const char *
money(char *buf, size_t cap, uint64_t cents)
{
	snprintf(buf, cap, "%" PRIu64 ".%02" PRIu64, cents / 100, cents % 100);
	return buf;
}

/* The POS mix of bench_import: 60% sales, 15% stock, 10% prices, 10%
 * customers, 5% product edits. */
static json_t *
mix_event(int dev, uint64_t i, const char **type)
{
	char	 id[64], pid[32], m[32];
	json_t	*items;
	int	 k, n, r = (int)(rnd() % 100);

	snprintf(pid, sizeof(pid), "p%05d", (int)(rnd() % NPRODUCTS));
	if (r < 60) {
		*type = "SaleCreated";
		snprintf(id, sizeof(id), "d%d-s%" PRIu64, dev, i);
		items = json_array();
		n = 1 + (int)(rnd() % 5);
		for (k = 0; k < n; k++) {
			snprintf(pid, sizeof(pid), "p%05d",
			    (int)(rnd() % NPRODUCTS));
			json_array_append_new(items, json_pack("{s:s,s:I,s:s}",
			    "product_id", pid, "qty", (json_int_t)(1 + rnd() % 4),
			    "price_bs", money(m, sizeof(m), 100 + rnd() % 5000)));
		}
		return json_pack("{s:s,s:o}", "sale_id", id, "items", items);
	}
	if (r < 75) {
		*type = "StockReceived";
		return json_pack("{s:s,s:I}", "product_id", pid, "qty",
		    (json_int_t)(1 + rnd() % 48));
	}
	if (r < 85) {
		*type = "PriceChanged";
		return json_pack("{s:s,s:s}", "product_id", pid, "price_bs",
		    money(m, sizeof(m), 100 + rnd() % 5000));
	}
	if (r < 95) {
		*type = "CustomerUpdated";
		snprintf(id, sizeof(id), "c%04d", (int)(rnd() % NCUSTOMERS));
		return json_pack("{s:s,s:s}", "customer_id", id, "phone",
		    "+58 412 555 0101");
	}
	*type = "ProductUpdated";
	snprintf(id, sizeof(id), "Producto %d", (int)(rnd() % 100000));
	return json_pack("{s:s,s:s}", "product_id", pid, "name", id);
}

static void
fill(struct store *st, int dev, uint64_t n)
{
	struct store_batch	*b = NULL;
	struct store_appended	 out;
	char			 msg[STORE_ERRMSG];
	const char		*type;
	json_t			*pl;
	uint64_t		 i;
	int			 rc;

	for (i = 0; i < n; i++) {
		if (b == NULL && (rc = store_batch_begin(st, &b)) != 0)
			die("batch", rc, NULL);
		pl = mix_event(dev, i, &type);
		msg[0] = '\0';
		rc = store_append_json(b, type, pl, cloud_wall_ms(), &out, msg);
		json_decref(pl);
		if (rc != 0)
			die("append", rc, msg);
		if ((i + 1) % FILL_BATCH == 0 || i + 1 == n)
			if ((rc = store_batch_commit(&b)) != 0)
				die("commit", rc, NULL);
	}
}

static void
invite(struct store *st, char *tok, size_t cap, const char *role)
{
	struct store_batch	*b = NULL;
	char			 msg[STORE_ERRMSG] = "";
	int			 rc;

	if ((rc = store_batch_begin(st, &b)) != 0 ||
	    (rc = store_invite(b, role, cloud_wall_ms() + 3600000,
	    cloud_wall_ms(), tok, cap, msg)) != 0 ||
	    (rc = store_batch_commit(&b)) != 0)
		die("invite", rc, msg);
}

struct sizes {
	size_t	events, frame, json;
};

static int
size_cb(void *arg, const uint8_t *p, size_t len)
{
	struct sizes	*z = arg;
	json_t		*j;
	char		*s;
	int		 rc;

	if ((rc = cevent_to_json(p, len, &j)) != 0)
		return rc;
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (s == NULL)
		return CAJA_ENOMEM;
	z->events++;
	z->frame += len;
	z->json += strlen(s);
	free(s);
	return 0;
}

int
main(int argc, char **argv)
{
	struct store_opts	 fast = { .nosync = 1 };
	struct store_ids	 ids;
	struct store_report	 rep;
	struct cloud_conf	 conf;
	struct cdb		*db = NULL;
	struct cdb_conn		*k = NULL;
	struct cstores		*stores = NULL;
	struct cstore		*cs = NULL;
	struct store		*st[MAXDEV];
	struct vclock		 since;
	struct buf		 body, z;
	struct sizes		 sz;
	struct cpush_req	 req;
	struct cresp		 resp;
	PGresult		*res = NULL;
	char			 base[] = "/tmp/caja-bench-cloud.XXXXXX";
	char			 dir[MAXDEV][4200], cdir[4200], file[4200];
	char			 tok[600], msg[STORE_ERRMSG], sid[ID_HEX];
	char			 err[CLOUD_ERRMSG];
	const char		*url = getenv("CAJA_CLOUD_DB"), *pv[1];
	uint64_t		 nev = 100000, per;
	size_t			 batch = 1000, count, pushed = 0, npush = 0;
	size_t			 gz = 0, cap = 0;
	double			 t0, t, total, *lat = NULL;
	json_t			*j;
	char			*vtext;
	int			 ndev = 3, json = 0, i, rc, more;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
			url = argv[++i];
		else if (strcmp(argv[i], "--events") == 0 && i + 1 < argc)
			nev = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--devices") == 0 && i + 1 < argc)
			ndev = (int)strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
			batch = (size_t)strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else {
			printf("usage: bench_cloud --db URL [--events N] "
			    "[--devices D] [--batch B] [--json]\n");
			return strcmp(argv[i], "--help") == 0 ? 0 : 1;
		}
	}
	if (url == NULL) {
		fprintf(stderr, "bench_cloud: --db URL (or CAJA_CLOUD_DB) "
		    "needed; tests/support/pg.sh start DIR makes one\n");
		return 1;
	}
	if (ndev < 1 || ndev > MAXDEV || nev < (uint64_t)ndev || batch < 1 ||
	    batch > CLOUD_MAX_EVENTS) {
		fprintf(stderr, "bench_cloud: bad --devices, --events or "
		    "--batch\n");
		return 1;
	}
	if (sig_init() != 0 || mkdtemp(base) == NULL)
		die("setup", CAJA_EIO, NULL);

	/* The store, its registers, the cloud. */
	for (i = 0; i < ndev; i++) {
		snprintf(dir[i], sizeof(dir[i]), "%s/dev%d", base, i);
		mkdir(dir[i], 0700);
	}
	if ((rc = store_create(dir[0], "Bench Cloud", "dev0", cloud_wall_ms(),
	    &ids)) != 0)
		die("create", rc, NULL);
	ids_hex(sid, ids.store_id, ID_LEN);
	if ((rc = store_open(&st[0], dir[0], &fast)) != 0)
		die("open", rc, NULL);
	for (i = 1; i < ndev; i++) {
		invite(st[0], tok, sizeof(tok), "register");
		if ((rc = store_join(dir[i], tok, NULL, cloud_wall_ms(),
		    NULL)) != 0 || (rc = store_open(&st[i], dir[i], &fast)) != 0)
			die("join", rc, NULL);
	}
	invite(st[0], tok, sizeof(tok), "cloud");
	snprintf(cdir, sizeof(cdir), "%s/cloud", base);
	mkdir(cdir, 0700);
	snprintf(file, sizeof(file), "%s/cloud/stores", base);
	mkdir(file, 0700);
	snprintf(file, sizeof(file), "%s/cloud/stores/%s", base, sid);
	if ((rc = store_join(file, tok, "head-office", cloud_wall_ms(),
	    NULL)) != 0)
		die("cloud join", rc, NULL);
	per = nev / (uint64_t)ndev;
	for (i = 0; i < ndev; i++)
		fill(st[i], i, i == 0 ? nev - per * (uint64_t)(ndev - 1) : per);
	for (i = 1; i < ndev; i++) {
		snprintf(file, sizeof(file), "%s/e%d", base, i);
		if ((rc = store_export(st[i], NULL, file, NULL)) != 0 ||
		    (rc = store_import(st[0], file, cloud_wall_ms(), &rep,
		    msg)) != 0)
			die("merge", rc, msg);
		store_close(&st[i]);
	}

	/* The server's insides, on the database given. */
	cloud_conf_defaults(&conf);
	conf.db_timeout_ms = 60000;
	conf.db_slow_ms = 60000;
	conf.db_url = url;
	conf.data_dir = cdir;
	if ((rc = cdb_new(&db, &conf, err, sizeof(err))) != 0)
		die("database", rc, err);
	if ((rc = cstores_open(&stores, cdir, db)) != 0 ||
	    (rc = cstores_get(stores, sid, &cs)) != 0)
		die("cloud store", rc, NULL);

	/* Upload: causally closed batches past the cloud's clock. */
	buf_init(&body, 0);
	buf_init(&z, 0);
	vclock_init(&since);
	total = 0;
	t0 = bench_now();
	for (;;) {
		if ((rc = store_frames_closed(st[0], &since, batch, CLOUD_MAX_BODY,
		    &body, &count, &more)) != 0)
			die("batch", rc, NULL);
		if (count == 0)
			break;
		if (cpush_gzip(body.p, body.len, &z) == 0)
			gz += z.len;
		memset(&req, 0, sizeof(req));
		memset(&resp, 0, sizeof(resp));
		req.cs = cs;
		req.device = NULL;
		req.body = body.p;
		req.len = body.len;
		t = bench_now();
		req.t0_us = cloud_mono_us();
		cpush_handle(&conf, db, &req, &resp);
		t = bench_now() - t;
		total += t;
		if (resp.status != 200)
			die("push", CAJA_EIO, (const char *)resp.body);
		j = json_loadb((const char *)resp.body, resp.len, 0, NULL);
		vtext = j != NULL ? json_dumps(json_object_get(j,
		    "vector_clock"), JSON_COMPACT) : NULL;
		if (vtext == NULL || cevent_vclock_parse(vtext, &since) != 0)
			die("push answer", CAJA_EDECODE, NULL);
		free(vtext);
		if (json_integer_value(json_object_get(j, "rejected")) != 0)
			die("push", CAJA_EINVAL, "events rejected");
		pushed += (size_t)json_integer_value(json_object_get(j,
		    "accepted")) + (size_t)json_integer_value(
		    json_object_get(j, "conflicted"));
		json_decref(j);
		cresp_reset(&resp);
		if (npush == cap) {
			cap = cap ? cap * 2 : 256;
			if ((lat = realloc(lat, cap * sizeof(*lat))) == NULL)
				die("memory", CAJA_ENOMEM, NULL);
		}
		lat[npush++] = t * 1000;
	}
	t0 = bench_now() - t0;

	/* Rows in PostgreSQL. */
	pv[0] = sid;
	if ((rc = cdb_acquire(db, 1000, &k)) != 0 ||
	    (rc = cdb_exec(db, k, "SELECT count(*) FROM events WHERE "
	    "store_id = $1", 1, pv, NULL, NULL, &res, err,
	    sizeof(err))) != 0)
		die("count", rc, err);
	memset(&sz, 0, sizeof(sz));
	if ((rc = store_frames_since(st[0], NULL, 0, size_cb, &sz)) != 0)
		die("sizes", rc, NULL);
	if (json)
		printf("{\"events\": %zu, \"rows\": %s, \"batch\": %zu, "
		    "\"pushes\": %zu, \"seconds\": %.3f, \"push_seconds\": "
		    "%.3f, \"events_per_s\": %.0f, \"push_p50_ms\": %.2f, "
		    "\"push_p99_ms\": %.2f, \"bytes_json\": %.1f, "
		    "\"bytes_frame\": %.1f, \"bytes_gzip_batch\": %.1f}\n",
		    pushed, PQgetvalue(res, 0, 0), batch, npush, t0, total,
		    (double)pushed / total, bench_percentile(lat, npush, 50),
		    bench_percentile(lat, npush, 99), (double)sz.json /
		    (double)sz.events, (double)sz.frame / (double)sz.events,
		    (double)gz / (double)sz.events);
	else {
		printf("bench_cloud: %zu events from %d devices in %zu pushes "
		    "of <= %zu\n", pushed, ndev, npush, batch);
		printf("  ingestion (verify + LMDB + PostgreSQL): %.0f events/s "
		    "(%.2f s in the push handler, %.2f s with batching)\n",
		    (double)pushed / total, total, t0);
		printf("  push latency: p50 %.1f ms, p99 %.1f ms\n",
		    bench_percentile(lat, npush, 50),
		    bench_percentile(lat, npush, 99));
		printf("  rows in PostgreSQL for the store: %s (incl. the "
		    "cloud's enrollment)\n", PQgetvalue(res, 0, 0));
		printf("  bytes per event: full JSON %.0f, signed frame "
		    "(delta payload) %.0f, gzipped batch %.0f\n",
		    (double)sz.json / (double)sz.events,
		    (double)sz.frame / (double)sz.events,
		    (double)gz / (double)sz.events);
	}
	PQclear(res);
	cdb_release(db, &k);
	cstores_close(&stores);
	cdb_destroy(&db);
	store_close(&st[0]);
	buf_reset(&body);
	buf_reset(&z);
	free(lat);
	bench_rmdir(base);
	return 0;
}
