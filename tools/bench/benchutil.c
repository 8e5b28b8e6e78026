/*
 * benchutil: timing helpers; the physical limits of this machine that
 * every benchmark states its figures against (DESIGN.md "Facts measured"),
 * measured in the same run: Ed25519 sign and verify, BLAKE2b-256 of 150
 * bytes, LMDB one put per fsync'd commit, LMDB 1000 (device, seq) puts per
 * commit; the POS mix the benchmarks write.
 */
#include <sys/stat.h>
#include <sys/time.h>

#include <errno.h>
#include <inttypes.h>
#include <lmdb.h>
#include <poll.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tools/bench/bench.h"

double
bench_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

double
bench_cpu_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
dbl_cmp(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double
bench_percentile(double *v, size_t n, double pct)
{
	size_t	i;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), dbl_cmp);
	i = (size_t)(pct / 100.0 * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

void
bench_rmdir(const char *dir)
{
	char	cmd[4200];

	if (strncmp(dir, "/tmp/", 5) != 0 || strstr(dir, "..") != NULL)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench: could not remove %s\n", dir);
}

long
bench_status_kb(const char *field)
{
	FILE	*f = fopen("/proc/self/status", "r");
	char	 line[256];
	size_t	 n = strlen(field);
	long	 kb = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, n) == 0 && line[n] == ':')
			kb = strtol(line + n + 1, NULL, 10);
	fclose(f);
	return kb;
}

long
bench_peak_rss_kb(void)
{
	return bench_status_kb("VmHWM");
}

void
bench_limits_print(const struct bench_limits *l, int json)
{
	if (json) {
		printf("{\"sign_per_s\":%.0f,\"verify_per_s\":%.0f,"
		    "\"verify_per_cpu_s\":%.0f,"
		    "\"blake2b_per_s\":%.0f,\"lmdb_commit_per_s\":%.0f,"
		    "\"lmdb_commit_p50_us\":%.1f,"
		    "\"lmdb_wide_commit_per_s\":%.0f,"
		    "\"lmdb_wide_commit_p50_us\":%.1f,"
		    "\"lmdb_wide_alone_commit_p50_us\":%.1f,"
		    "\"lmdb_batch_put_per_s\":%.0f,"
		    "\"lmdb_random_put_per_s\":%.0f}",
		    l->sign_per_s, l->verify_per_s, l->verify_cpu_per_s,
		    l->hash_per_s,
		    l->commit_per_s, l->commit_p50_us, l->wide_commit_per_s,
		    l->wide_commit_p50_us, l->wide_alone_p50_us,
		    l->batch_put_per_s,
		    l->random_put_per_s);
		return;
	}
	printf("limits (this machine, this run):\n");
	printf("  ed25519 sign            %10.0f /s\n", l->sign_per_s);
	printf("  ed25519 verify          %10.0f /s (%.0f per CPU-second)\n",
	    l->verify_per_s, l->verify_cpu_per_s);
	printf("  blake2b-256 150 B       %10.0f /s\n", l->hash_per_s);
	printf("  lmdb commit+fsync       %10.0f /s (p50 %.0f us)\n",
	    l->commit_per_s, l->commit_p50_us);
	printf("  same, a put in %d dbs    %10.0f /s (p50 %.0f us)\n",
	    WIDE_DBS, l->wide_commit_per_s, l->wide_commit_p50_us);
	printf("  same, %d ms apart         p50 %.0f us (a commit alone)\n",
	    WIDE_ALONE_MS, l->wide_alone_p50_us);
	printf("  lmdb 1000 puts/commit   %10.0f puts/s\n", l->batch_put_per_s);
	printf("  same, random 16 B keys  %10.0f puts/s\n",
	    l->random_put_per_s);
}

static double
bench_sign(int n, double *verify_per_s, double *hash_per_s,
    double *verify_cpu_per_s)
{
	unsigned char	 pk[crypto_sign_PUBLICKEYBYTES];
	unsigned char	 sk[crypto_sign_SECRETKEYBYTES];
	unsigned char	 msg[150], sig[crypto_sign_BYTES], h[32];
	double		 t0, t1, c0, sign_rate;
	int		 i, bad = 0;

	crypto_sign_keypair(pk, sk);
	randombytes_buf(msg, sizeof(msg));
	t0 = bench_now();
	for (i = 0; i < n; i++) {
		msg[0] = (unsigned char)i;
		crypto_sign_detached(sig, NULL, msg, sizeof(msg), sk);
	}
	t1 = bench_now();
	sign_rate = n / (t1 - t0);
	t0 = bench_now();
	c0 = bench_cpu_now();
	for (i = 0; i < n; i++)
		bad += crypto_sign_verify_detached(sig, msg, sizeof(msg), pk)
		    != 0;
	t1 = bench_now();
	*verify_per_s = n / (t1 - t0);
	*verify_cpu_per_s = n / (bench_cpu_now() - c0);
	if (bad != 0)
		fprintf(stderr, "bench_limits: unexpected verify failures\n");
	t0 = bench_now();
	for (i = 0; i < n * 20; i++) {
		msg[1] = (unsigned char)i;
		crypto_generichash(h, sizeof(h), msg, sizeof(msg), NULL, 0);
	}
	t1 = bench_now();
	*hash_per_s = n * 20 / (t1 - t0);
	return sign_rate;
}

/*
 * An env of named databases, one per measurement, so that each starts
 * empty and sees only its own keys; the wide commit has WIDE_DBS of its
 * own (an append of a sale changes about that many: log, device, sale,
 * products, totals, meta).
 */
#define LIMIT_DBS	(3 + WIDE_DBS)

static int
lmdb_open(const char *dir, MDB_env **env, MDB_dbi dbi[LIMIT_DBS])
{
	static const char *const names[LIMIT_DBS] = { "commit", "batch",
	    "random", "w0", "w1", "w2", "w3", "w4", "w5" };
	MDB_txn	*txn;
	int	 rc, i;

	if ((rc = mdb_env_create(env)) != 0)
		return rc;
	mdb_env_set_mapsize(*env, 1ull << 30);
	mdb_env_set_maxdbs(*env, LIMIT_DBS + 1);
	if ((rc = mdb_env_open(*env, dir, 0, 0600)) != 0)
		return rc;
	if ((rc = mdb_txn_begin(*env, NULL, 0, &txn)) != 0)
		return rc;
	for (i = 0; i < LIMIT_DBS; i++)
		if ((rc = mdb_dbi_open(txn, names[i], MDB_CREATE,
		    &dbi[i])) != 0) {
			mdb_txn_abort(txn);
			return rc;
		}
	return mdb_txn_commit(txn);
}

static void
key_of(unsigned char key[24], const unsigned char dev[16], uint64_t seq)
{
	int	i;

	memcpy(key, dev, 16);
	for (i = 0; i < 8; i++)
		key[16 + i] = (unsigned char)(seq >> (56 - 8 * i));
}

/* One put in each of ndb databases per commit, fsync each: returns
 * commits/s, fills the p50 latency. */
static double
bench_commit(MDB_env *env, const MDB_dbi *dbi, int ndb, int n,
    double pause_ms, double *p50_us)
{
	unsigned char	 key[24], dev[16], val[200];
	double		*lat, t0, t1, start;
	MDB_txn		*txn = NULL;
	MDB_val		 k, v;
	int		 i, j, rc = 0;

	lat = calloc((size_t)n, sizeof(*lat));
	if (lat == NULL)
		return 0;
	randombytes_buf(dev, sizeof(dev));
	memset(val, 0x5a, sizeof(val));
	start = bench_now();
	for (i = 0; i < n; i++) {
		t0 = bench_now();
		key_of(key, dev, (uint64_t)i + 1);
		k.mv_data = key; k.mv_size = sizeof(key);
		v.mv_data = val; v.mv_size = sizeof(val);
		if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0)
			break;
		for (j = 0; j < ndb && rc == 0; j++)
			rc = mdb_put(txn, dbi[j], &k, &v, 0);
		if (rc != 0) {
			mdb_txn_abort(txn);
			break;
		}
		if ((rc = mdb_txn_commit(txn)) != 0)
			break;
		t1 = bench_now();
		lat[i] = (t1 - t0) * 1e6;
		if (pause_ms > 0)
			(void)poll(NULL, 0, (int)pause_ms);
	}
	t1 = bench_now();
	if (rc != 0) {
		fprintf(stderr, "bench_limits: lmdb commit: %s\n",
		    mdb_strerror(rc));
		free(lat);
		return 0;
	}
	*p50_us = bench_percentile(lat, (size_t)i, 50);
	free(lat);
	return i / (t1 - start);
}

/* 1000 puts per commit (fsync'd): (device, seq) keys in order, or random
 * 16-byte keys (what an index by event id costs). Plain puts, as the
 * store does them. */
static double
bench_batch(MDB_env *env, MDB_dbi dbi, int n, int random_keys)
{
	unsigned char	 key[24], dev[16], val[200];
	double		 t0, t1;
	MDB_txn		*txn = NULL;
	MDB_val		 k, v;
	int		 i, rc = 0;

	randombytes_buf(dev, sizeof(dev));
	memset(val, 0xa5, sizeof(val));
	t0 = bench_now();
	for (i = 0; i < n; i++) {
		if (txn == NULL && (rc = mdb_txn_begin(env, NULL, 0, &txn))
		    != 0)
			break;
		if (random_keys)
			randombytes_buf(key, 16);
		else
			key_of(key, dev, (uint64_t)i + 1);
		k.mv_data = key; k.mv_size = random_keys ? 16 : sizeof(key);
		v.mv_data = val; v.mv_size = sizeof(val);
		if ((rc = mdb_put(txn, dbi, &k, &v, 0)) != 0)
			break;
		if ((i + 1) % 1000 == 0) {
			rc = mdb_txn_commit(txn);
			txn = NULL;
			if (rc != 0)
				break;
		}
	}
	if (rc == 0 && txn != NULL) {
		rc = mdb_txn_commit(txn);
		txn = NULL;
	}
	if (txn != NULL)
		mdb_txn_abort(txn);	/* never close an env with one open */
	t1 = bench_now();
	if (rc != 0) {
		fprintf(stderr, "bench_limits: lmdb batch: %s\n",
		    mdb_strerror(rc));
		return 0;
	}
	return n / (t1 - t0);
}

int
bench_limits_measure(const char *base, struct bench_limits *l)
{
	char	 dir[4096];
	MDB_env	*env = NULL;
	MDB_dbi	 dbi[LIMIT_DBS];
	int	 rc;

	if (sodium_init() < 0)
		return -1;
	memset(l, 0, sizeof(*l));
	l->sign_per_s = bench_sign(20000, &l->verify_per_s, &l->hash_per_s,
	    &l->verify_cpu_per_s);
	snprintf(dir, sizeof(dir), "%s/caja-limits.XXXXXX", base);
	if (mkdtemp(dir) == NULL)
		return -1;
	if ((rc = lmdb_open(dir, &env, dbi)) != 0)
		goto out;
	l->commit_per_s = bench_commit(env, dbi, 1, 2000, 0,
	    &l->commit_p50_us);
	l->wide_commit_per_s = bench_commit(env, dbi + 3, WIDE_DBS, 1000, 0,
	    &l->wide_commit_p50_us);
	if (bench_commit(env, dbi + 3, WIDE_DBS, 100, WIDE_ALONE_MS,
	    &l->wide_alone_p50_us) == 0)
		l->wide_commit_per_s = 0;	/* failed */
	l->batch_put_per_s = bench_batch(env, dbi[1], 1000000, 0);
	l->random_put_per_s = bench_batch(env, dbi[2], 200000, 1);
	if (l->commit_per_s == 0 || l->wide_commit_per_s == 0 ||
	    l->batch_put_per_s == 0 ||
	    l->random_put_per_s == 0)
		rc = -1;
out:
	if (env != NULL)
		mdb_env_close(env);
	bench_rmdir(dir);
	return rc;
}

/* ---- the POS mix ---- */

uint64_t
bench_rnd(uint64_t *g)
{
	*g ^= *g << 13;
	*g ^= *g >> 7;
	*g ^= *g << 17;
	return *g;
}

static const char *
money(char *buf, size_t cap, uint64_t cents)
{
	snprintf(buf, cap, "%" PRIu64 ".%02" PRIu64, cents / 100, cents % 100);
	return buf;
}

/*
 * The draws below are in the order the benchmarks made them when each had
 * its own copy of this code, so that their figures stay comparable: where
 * several draws were arguments of one call, GCC had evaluated them right
 * to left (the last argument first).
 */

static const char *const brands[] = { "Polar", "PAN", "Mavesa", "Nestle",
    "Colgate", "Savoy", "Diablitos", "Frica", "Primor", "Ronco" };
static const char *const items[] = { "Harina de maiz", "Arroz blanco",
    "Aceite vegetal", "Pasta larga", "Cafe molido", "Leche en polvo",
    "Azucar refinada", "Mantequilla", "Jabon de tocador", "Atun en aceite",
    "Galletas de soda", "Refresco de cola" };
static const char *const sizes[] = { "1 kg", "500 g", "1 L", "2 L",
    "250 g", "900 g", "12 und", "170 g" };
static const char *const first[] = { "Maria", "Jose", "Luis", "Carmen",
    "Ana", "Carlos", "Rosa", "Pedro", "Yolanda", "Jesus" };
static const char *const last[] = { "Perez", "Gonzalez", "Rodriguez",
    "Hernandez", "Garcia", "Martinez", "Lopez", "Ramirez" };
static const char *const streets[] = { "Av. Bolivar", "Calle Sucre",
    "Av. Urdaneta", "Calle Miranda", "Av. Lara", "Calle Paez" };
static const char *const cities[] = { "Valencia", "Maracay",
    "Barquisimeto", "Caracas", "Maracaibo" };

#define PICK(g, a)	((a)[bench_rnd(g) % (sizeof(a) / sizeof((a)[0]))])

static void
product_name(uint64_t *g, char *buf, size_t cap)
{
	const char	*size = PICK(g, sizes), *brand = PICK(g, brands);

	snprintf(buf, cap, "%s %s %s", PICK(g, items), brand, size);
}

static void
phone(uint64_t *g, char *buf, size_t cap)
{
	int	line = (int)(bench_rnd(g) % 10000);
	int	exch = (int)(bench_rnd(g) % 1000);

	snprintf(buf, cap, "+58 4%02d %03d %04d", (int)(12 + bench_rnd(g) % 14),
	    exch, line);
}

static void
address(uint64_t *g, char *buf, size_t cap)
{
	const char	*city = PICK(g, cities);
	int		 num = (int)(1 + bench_rnd(g) % 200);

	snprintf(buf, cap, "%s %d, %s", PICK(g, streets), num, city);
}

static void
barcode(uint64_t *g, char *buf, size_t cap)
{
	snprintf(buf, cap, "759%010llu",
	    (unsigned long long)(bench_rnd(g) % 10000000000ull));
}

/* A line of a sale: product, quantity, price. */
static json_t *
sale_item(uint64_t *g, uint64_t price_max)
{
	char		pid[32], m[32];
	uint64_t	price;
	json_int_t	qty;

	snprintf(pid, sizeof(pid), "p%05d",
	    (int)(bench_rnd(g) % BENCH_NPRODUCTS));
	price = 100 + bench_rnd(g) % price_max;
	qty = (json_int_t)(1 + bench_rnd(g) % 4);
	return json_pack("{s:s,s:I,s:s}", "product_id", pid, "qty", qty,
	    "price_bs", money(m, sizeof(m), price));
}

json_t *
bench_mix_event(const struct bench_mix *mx, uint64_t i,
    struct bench_mix_ev *ev)
{
	uint64_t	*g = mx->rng, price_max, p;
	char		 pid[32], m[32], s[96];
	json_t		*its, *o;
	int		 full = mx->kind == BENCH_MIX_FULL;
	int		 k, n, r = (int)(bench_rnd(g) % 100);

	price_max = full ? 50000 : 5000;
	snprintf(pid, sizeof(pid), "p%05d",
	    (int)(bench_rnd(g) % BENCH_NPRODUCTS));
	ev->kind = "product";
	snprintf(ev->entity, sizeof(ev->entity), "%s", pid);
	if (r < 60) {
		ev->type = "SaleCreated";
		ev->kind = "sale";
		snprintf(ev->entity, sizeof(ev->entity), "%s-s%" PRIu64,
		    mx->tag, i);
		its = json_array();
		n = 1 + (int)(bench_rnd(g) % 5);
		for (k = 0; k < n; k++)
			json_array_append_new(its, sale_item(g, price_max));
		o = json_pack("{s:s,s:o}", "sale_id", ev->entity, "items",
		    its);
		if (full && bench_rnd(g) % 5 == 0) {
			snprintf(s, sizeof(s), "c%04d",
			    (int)(bench_rnd(g) % BENCH_NCUSTOMERS));
			json_object_set_new(o, "customer_id", json_string(s));
		}
		return o;
	}
	if (r < (full ? 70 : 75)) {
		ev->type = "StockReceived";
		return json_pack("{s:s,s:I}", "product_id", pid, "qty",
		    (json_int_t)(1 + bench_rnd(g) % 48));
	}
	if (r < 75) {
		ev->type = "StockAdjusted";
		return json_pack("{s:s,s:I}", "product_id", pid, "delta",
		    (json_int_t)(bench_rnd(g) % 2 ?
		    -1 - (int)(bench_rnd(g) % 3) :
		    1 + (int)(bench_rnd(g) % 3)));
	}
	if (r < 85) {
		ev->type = "PriceChanged";
		if (full) {
			p = (bench_rnd(g) % (BENCH_NPRODUCTS /
			    (uint64_t)mx->ndev)) * (uint64_t)mx->ndev +
			    (uint64_t)mx->dev;
			snprintf(pid, sizeof(pid), "p%05d", (int)p);
			snprintf(ev->entity, sizeof(ev->entity), "%s", pid);
		}
		return json_pack("{s:s,s:s}", "product_id", pid, "price_bs",
		    money(m, sizeof(m), 100 + bench_rnd(g) % price_max));
	}
	if (r < 95) {
		ev->type = "CustomerUpdated";
		ev->kind = "customer";
		snprintf(ev->entity, sizeof(ev->entity), "c%04d",
		    (int)(bench_rnd(g) % BENCH_NCUSTOMERS));
		if (!full)
			return json_pack("{s:s,s:s}", "customer_id",
			    ev->entity, "phone", "+58 412 555 0101");
		if (bench_rnd(g) % 2) {
			phone(g, s, sizeof(s));
			return json_pack("{s:s,s:s}", "customer_id",
			    ev->entity, "phone", s);
		}
		address(g, s, sizeof(s));
		return json_pack("{s:s,s:s}", "customer_id", ev->entity,
		    "address", s);
	}
	ev->type = "ProductUpdated";
	if (!full) {
		snprintf(s, sizeof(s), "Producto %d",
		    (int)(bench_rnd(g) % 100000));
		return json_pack("{s:s,s:s}", "product_id", pid, "name", s);
	}
	if (bench_rnd(g) % 2) {
		product_name(g, s, sizeof(s));
		return json_pack("{s:s,s:s}", "product_id", pid, "name", s);
	}
	barcode(g, s, sizeof(s));
	return json_pack("{s:s,s:s}", "product_id", pid, "barcode", s);
}

json_t *
bench_catalog_event(uint64_t *g, uint64_t i, const char **type)
{
	char		 id[32], s1[96], s2[96], m1[32], m2[32];
	const char	*l1, *l2;
	uint64_t	 p = i / 3, usd;

	if (p < BENCH_NPRODUCTS) {
		snprintf(id, sizeof(id), "p%05d", (int)p);
		switch (i % 3) {
		case 0:
			*type = "ProductUpdated";
			product_name(g, s1, sizeof(s1));
			barcode(g, s2, sizeof(s2));
			return json_pack("{s:s,s:s,s:s,s:b}", "product_id",
			    id, "name", s1, "barcode", s2, "active", 1);
		case 1:
			*type = "PriceChanged";
			usd = 10 + bench_rnd(g) % 1500;
			return json_pack("{s:s,s:s,s:s}", "product_id", id,
			    "price_bs", money(m1, sizeof(m1), 100 +
			    bench_rnd(g) % 50000), "price_usd", money(m2,
			    sizeof(m2), usd));
		default:
			*type = "StockReceived";
			return json_pack("{s:s,s:I}", "product_id", id, "qty",
			    (json_int_t)(24 + bench_rnd(g) % 200));
		}
	}
	snprintf(id, sizeof(id), "c%04d", (int)(i - 3 * BENCH_NPRODUCTS));
	*type = "CustomerUpdated";
	l2 = PICK(g, last);
	l1 = PICK(g, last);
	snprintf(s1, sizeof(s1), "%s %s %s", PICK(g, first), l1, l2);
	phone(g, s2, sizeof(s2));
	address(g, m1, sizeof(m1));
	return json_pack("{s:s,s:s,s:s,s:s}", "customer_id", id, "name", s1,
	    "phone", s2, "address", m1);
}
