/*
 * bench_cloud: ingestion rate of caja-cloud into PostgreSQL with full
 * verification, where its time goes, and bytes per uploaded event
 * (issue 4, "Performance"; BENCHMARKS.md "The cloud (issue 4)" says
 * why it is done this way).
 *
 * usage: bench_cloud --db URL [--events N] [--devices D] [--batch B]
 *                    [--skip-limits] [--json]
 *
 * 1. A store of D registers (an admin and D-1 joined). The admin sets up
 *    the catalog (BENCH_NPRODUCTS products with name, barcode, prices
 *    and stock; BENCH_NCUSTOMERS customers with name, phone and address:
 *    bench_catalog_event()); every register imports it, then writes its
 *    share of N events of the POS mix, offline from the others
 *    (bench_mix_event(), BENCH_MIX_FULL; benchutil.c). Each mix event is
 *    committed on its own, so that the entity's full state right after
 *    it can be read (store_get_json) and its sizes measured (sizes
 *    below). The registers' events are merged into the admin's store,
 *    and a cloud is enrolled.
 * 2. The limits of this machine, measured in this run (benchutil.c):
 *    Ed25519 verify above all: the bound of a server that checked every
 *    event's signature (caja checks one per device run, see runs_in()).
 * 3. Upload: the admin's store is uploaded as the uplink does it:
 *    causally closed batches of B events past the cloud's vector clock
 *    (store_frames_closed()), gzipped, each handed to caja-cloud's push
 *    handler (cpush_handle: inflate, verify into LMDB, rows into
 *    PostgreSQL, commit both, sync_metrics row), in process, so the
 *    figure is the server's, without HTTP. Wall time in the handler;
 *    CPU of this process and of the PostgreSQL server (/proc, when it
 *    runs on this machine); the handler's own split from sync_metrics
 *    (verify_ms: inflate excluded, verify + CRDT apply into the open
 *    LMDB transaction; db_ms: rows into PostgreSQL + LMDB commit +
 *    conflicts); then PostgreSQL's rows are counted (each event once),
 *    and the same rows are inserted again alone (pg_alone(): the
 *    database's own cost for them, by server CPU per row).
 * 4. Bytes per event of the mix (catalog set-up excluded), each measured
 *    on the same events:
 *      full JSON   the naive uploader's: the event's envelope (ids, seq,
 *                  prev, time, type, entity, causal context, state hash,
 *                  signature: the same fields caja's frame carries) with,
 *                  as payload, every field of the entity's state after
 *                  the event (product, customer or sale, as `cajactl
 *                  get` shows it), compact JSON;
 *      +both       the same with the delta payload kept and the state
 *                  added as "entity_state" (event plus state);
 *      delta JSON  the same envelope with the event's own payload (only
 *                  the changed fields): the saving of delta alone, same
 *                  encoding;
 *      frame       what caja sends: the signed frame (canonical msgpack,
 *                  delta payload) with its 4-byte length;
 *      gzip batch  a push body of B frames ("CAJAEXP1" + frames),
 *                  gzipped, as the uplink sends it;
 *      gzip JSON   B full JSON events as one JSON array, gzipped: what
 *                  compression alone gives the naive uploader.
 *
 * Each run uses a new store: rows accumulate in the database given
 * (tests/support/pg.sh makes a throw-away one; tools/bench/bench_uplink.sh
 * runs this program on one).
 */
#include <sys/stat.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto/event.h"
#include "proto/gzip.h"
#include "proto/sig.h"
#include "store/store.h"
#include "tools/bench/bench.h"
#include "tools/caja-cloud/cloud.h"

#define MAXDEV		16
#define FILL_BATCH	10000
#define NTYPES		7
#define BODY_MAX	(4u << 20)	/* raw bytes per push, as the uplink's
					 * UPLINK_BATCH_BYTES */

static uint64_t	 rng = BENCH_RNG_SEED;

static void
die(const char *what, int rc, const char *msg)
{
	fprintf(stderr, "bench_cloud: %s: %s%s%s\n", what, err_str(rc),
	    msg && *msg ? ": " : "", msg ? msg : "");
	exit(2);
}

/* ---- bytes per event ---- */

static const char *const tnames[NTYPES] = { "SaleCreated", "StockReceived",
    "StockAdjusted", "PriceChanged", "CustomerUpdated", "ProductUpdated",
    "all" };

struct tsize {
	size_t	n;
	size_t	frame;		/* signed frame + 4-byte length */
	size_t	jdelta;		/* envelope + delta payload, JSON */
	size_t	jfull;		/* envelope + full state as payload */
	size_t	jboth;		/* envelope + delta + "entity_state" */
	size_t	pdelta, pfull;	/* the payloads alone, JSON */
};

struct sizes {
	struct tsize	t[NTYPES];	/* by type; [NTYPES-1]: all */
	size_t		batch;		/* events per gzipped batch */
	struct buf	frames;		/* "CAJAEXP1" + frames */
	struct buf	json;		/* "[" full JSON, ... */
	struct buf	z;
	size_t		inbatch;
	size_t		gz_frames, gz_json;
	struct buf	frame;		/* the frame being measured */
};

static int
grab_frame(void *arg, uint64_t seq, const uint8_t *p, size_t len)
{
	struct buf	*b = arg;

	(void)seq;
	buf_clear(b);
	return buf_add(b, p, len);
}

static size_t
dumped(json_t *j, struct buf *append_to)
{
	char	*s = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
	size_t	 n;

	if (s == NULL)
		die("json", CAJA_ENOMEM, NULL);
	n = strlen(s);
	if (append_to != NULL && buf_add(append_to, s, n) != 0)
		die("json", CAJA_ENOMEM, NULL);
	free(s);
	return n;
}

static void
sizes_flush(struct sizes *z)
{
	if (z->inbatch == 0)
		return;
	if (buf_add(&z->json, "]", 1) != 0 ||
	    gzip_encode(z->frames.p, z->frames.len, &z->z) != 0)
		die("gzip", CAJA_ENOMEM, NULL);
	z->gz_frames += z->z.len;
	if (gzip_encode(z->json.p, z->json.len, &z->z) != 0)
		die("gzip", CAJA_ENOMEM, NULL);
	z->gz_json += z->z.len;
	z->inbatch = 0;
}

/* The event just committed at (dev, seq): its frame, its JSON forms and
 * the entity's state now. */
static void
sizes_measure(struct sizes *z, struct store *st, const uint8_t dev[ID_LEN],
    uint64_t seq, const char *type, const char *kind, const char *entity)
{
	json_t		*j = NULL, *delta, *state = NULL;
	struct tsize	*t[2];
	size_t		 count, frame, pdelta, pfull, jdelta, jfull, jboth;
	uint8_t		 len4[4];
	int		 i, rc;

	if ((rc = store_frames_range(st, dev, seq, 1, 0, grab_frame,
	    &z->frame, &count)) != 0 || count != 1)
		die("frame", rc ? rc : CAJA_ENOTFOUND, NULL);
	if ((rc = evjson_event(z->frame.p, z->frame.len, EVJSON_FULL,
	    &j)) != 0)
		die("event json", rc, NULL);
	if ((rc = store_get_json(st, kind, entity, &state)) != 0)
		die("entity state", rc, entity);
	if (z->inbatch == 0) {
		buf_clear(&z->frames);
		buf_clear(&z->json);
		if (buf_add(&z->frames, STORE_EXPORT_MAGIC,
		    sizeof(STORE_EXPORT_MAGIC) - 1) != 0 ||
		    buf_add(&z->json, "[", 1) != 0)
			die("memory", CAJA_ENOMEM, NULL);
	} else if (buf_add(&z->json, ",", 1) != 0)
		die("memory", CAJA_ENOMEM, NULL);
	len4[0] = (uint8_t)(z->frame.len >> 24);
	len4[1] = (uint8_t)(z->frame.len >> 16);
	len4[2] = (uint8_t)(z->frame.len >> 8);
	len4[3] = (uint8_t)z->frame.len;
	if (buf_add(&z->frames, len4, 4) != 0 ||
	    buf_add(&z->frames, z->frame.p, z->frame.len) != 0)
		die("memory", CAJA_ENOMEM, NULL);
	frame = z->frame.len + 4;
	delta = json_incref(json_object_get(j, "payload"));
	pdelta = dumped(delta, NULL);
	pfull = dumped(state, NULL);
	jdelta = dumped(j, NULL);
	json_object_set(j, "entity_state", state);
	jboth = dumped(j, NULL);
	json_object_del(j, "entity_state");
	json_object_set(j, "payload", state);
	jfull = dumped(j, &z->json);
	json_decref(delta);
	json_decref(state);
	json_decref(j);

	t[0] = &z->t[NTYPES - 1];
	t[1] = t[0];
	for (i = 0; i < NTYPES - 1; i++)
		if (strcmp(tnames[i], type) == 0)
			t[1] = &z->t[i];
	for (i = 0; i < 2; i++) {
		t[i]->n++;
		t[i]->frame += frame;
		t[i]->jdelta += jdelta;
		t[i]->jfull += jfull;
		t[i]->jboth += jboth;
		t[i]->pdelta += pdelta;
		t[i]->pfull += pfull;
	}
	if (++z->inbatch == z->batch)
		sizes_flush(z);
}

/* ---- filling the registers ---- */

static void
append1(struct store_batch *b, const char *type, json_t *pl,
    struct store_appended *out)
{
	char	msg[STORE_ERRMSG] = "";
	int	rc;

	rc = store_append_json(b, type, pl, cloud_wall_ms(), out, msg);
	json_decref(pl);
	if (rc != 0)
		die(type, rc, msg);
}

static void
catalog(struct store *st)
{
	struct store_batch	*b = NULL;
	struct store_appended	 out;
	const char		*type;
	json_t			*pl;
	uint64_t		 i;
	int			 rc;

	if ((rc = store_batch_begin(st, &b)) != 0)
		die("batch", rc, NULL);
	for (i = 0; i < BENCH_CATALOG_EVENTS; i++) {
		pl = bench_catalog_event(&rng, i, &type);
		append1(b, type, pl, &out);
	}
	if ((rc = store_batch_commit(&b)) != 0)
		die("commit", rc, NULL);
}

/* n events of the mix, each committed on its own (nosync) and measured. */
static void
fill(struct store *st, int dev, int ndev, uint64_t n, struct sizes *z)
{
	struct bench_mix	 mix = { .kind = BENCH_MIX_FULL, .rng = &rng };
	struct bench_mix_ev	 ev;
	struct store_batch	*b = NULL;
	struct store_appended	 out;
	char			 tag[16];
	json_t			*pl;
	uint64_t		 i;
	int			 rc;

	snprintf(tag, sizeof(tag), "d%d", dev);
	mix.tag = tag;
	mix.dev = dev;
	mix.ndev = ndev;
	for (i = 0; i < n; i++) {
		if ((rc = store_batch_begin(st, &b)) != 0)
			die("batch", rc, NULL);
		pl = bench_mix_event(&mix, i, &ev);
		append1(b, ev.type, pl, &out);
		if ((rc = store_batch_commit(&b)) != 0)
			die("commit", rc, NULL);
		sizes_measure(z, st, out.device_id, out.seq, ev.type, ev.kind,
		    ev.entity);
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

static void
copy_events(struct store *from, struct store *to, const char *file)
{
	struct store_report	rep;
	char			msg[STORE_ERRMSG] = "";
	int			rc;

	if ((rc = store_export(from, NULL, file, NULL)) != 0 ||
	    (rc = store_import(to, file, cloud_wall_ms(), &rep, msg)) != 0)
		die("merge", rc, msg);
	unlink(file);
}

/* ---- CPU of the PostgreSQL server (same machine) ---- */

#define MAXPG	256

struct pgcpu {
	int	n;
	int	pid[MAXPG];
	double	cpu[MAXPG];
};

static double
proc_cpu(int pid)
{
	char		 path[64], line[1024], *p;
	unsigned long	 ut, stime;
	FILE		*f;
	int		 ok;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	p = fgets(line, sizeof(line), f);
	fclose(f);
	if (p == NULL || (p = strrchr(line, ')')) == NULL)
		return -1;
	/* fields after the name: state is 3rd, utime 14th, stime 15th */
	ok = sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu "
	    "%lu", &ut, &stime);
	if (ok != 2)
		return -1;
	return (double)(ut + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* The server's processes (pg_stat_activity lists the background ones
 * too) and their CPU seconds so far; n = -1 when not on this machine. */
static void
pgcpu_read(struct cdb *db, struct pgcpu *c)
{
	struct cdb_conn	*k = NULL;
	PGresult	*res = NULL;
	char		 err[CLOUD_ERRMSG];
	int		 i;

	c->n = -1;
	if (cdb_acquire(db, 1000, &k) != 0)
		return;
	if (cdb_exec(db, k, "SELECT pid FROM pg_stat_activity", 0, NULL, NULL,
	    NULL, &res, err, sizeof(err)) == 0) {
		c->n = 0;
		for (i = 0; i < PQntuples(res) && c->n < MAXPG; i++) {
			c->pid[c->n] = (int)strtol(PQgetvalue(res, i, 0), NULL,
			    10);
			if ((c->cpu[c->n] = proc_cpu(c->pid[c->n])) >= 0)
				c->n++;
		}
		if (c->n == 0)
			c->n = -1;
	}
	PQclear(res);
	cdb_release(db, &k);
}

/* CPU seconds the server used between a and b. */
static double
pgcpu_delta(const struct pgcpu *a, const struct pgcpu *b)
{
	double	s = 0;
	int	i, k;

	if (a->n < 0 || b->n < 0)
		return -1;
	for (i = 0; i < b->n; i++) {
		s += b->cpu[i];
		for (k = 0; k < a->n; k++)
			if (a->pid[k] == b->pid[i]) {
				s -= a->cpu[k];
				break;
			}
	}
	return s;
}

static double
proc_cpu_self(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- PostgreSQL alone ---- */

static void
sql(struct cdb *db, struct cdb_conn *k, const char *q, int n,
    const char *const *pv)
{
	char	err[CLOUD_ERRMSG];
	int	rc;

	if ((rc = cdb_exec(db, k, q, n, pv, NULL, NULL, NULL, err,
	    sizeof(err))) != 0)
		die(q, rc, err);
}

/*
 * The limit of the database for these rows: the store's rows, already in
 * the server, read by (device, seq) ranges (the unique index) and
 * inserted again in transactions of batch rows into an empty
 * copy of the events table (same columns, constraints and indexes, GIN
 * included; logged like it), with INSERT ... SELECT ... ON CONFLICT DO
 * NOTHING as a push does. No COPY from the client, no LMDB, no
 * verification: what PostgreSQL alone needs. Fills the mean rate (rows/s)
 * and the median time of one transaction (ms): the median, like the
 * pushes' p50, is what the comparison uses, as it shrugs off the moments
 * when other work on the machine takes the CPU.
 */
struct pgalone {
	double	rows_per_s;
	double	p50_ms;
	double	cpu_us;		/* the server's CPU per row, -1: unknown */
	size_t	rows;
};

static void
pg_alone(struct cdb *db, const char *sid, size_t batch, size_t n,
    struct pgalone *out)
{
	struct cdb_conn	*k = NULL;
	PGresult	*devs = NULL;
	struct pgcpu	 c0, c1;
	char		 err[CLOUD_ERRMSG], lo[32], hi[32];
	const char	*pv[4];
	double		 t, t1, *lat;
	uint64_t	 seq, max;
	size_t		 nb = 0, rows = 0;
	int		 d, rc;

	if ((lat = calloc(n / batch + 2 * MAXDEV + 2, sizeof(*lat))) == NULL)
		die("memory", CAJA_ENOMEM, NULL);
	if ((rc = cdb_acquire(db, 1000, &k)) != 0)
		die("database", rc, NULL);
	pv[0] = sid;
	sql(db, k, "DROP TABLE IF EXISTS bench_cloud_dst", 0, NULL);
	sql(db, k, "CREATE TABLE bench_cloud_dst (LIKE events INCLUDING ALL)",
	    0, NULL);
	if ((rc = cdb_exec(db, k, "SELECT device_id, max(seq) FROM events "
	    "WHERE store_id = $1 GROUP BY device_id", 1, pv, NULL, NULL, &devs,
	    err, sizeof(err))) != 0)
		die("devices", rc, err);
	pgcpu_read(db, &c0);
	t = bench_now();
	/* by (device, seq) ranges: the unique index finds each batch */
	for (d = 0; d < PQntuples(devs); d++) {
		pv[1] = PQgetvalue(devs, d, 0);
		max = strtoull(PQgetvalue(devs, d, 1), NULL, 10);
		for (seq = 1; seq <= max; seq += batch) {
			snprintf(lo, sizeof(lo), "%" PRIu64, seq);
			snprintf(hi, sizeof(hi), "%" PRIu64, seq + batch);
			pv[2] = lo;
			pv[3] = hi;
			t1 = bench_now();
			sql(db, k, "BEGIN", 0, NULL);
			sql(db, k, "INSERT INTO bench_cloud_dst SELECT * FROM "
			    "events WHERE store_id = $1 AND device_id = $2 AND "
			    "seq >= $3 AND seq < $4 ON CONFLICT DO NOTHING", 4,
			    pv);
			sql(db, k, "COMMIT", 0, NULL);
			rows += seq + batch - 1 <= max ? batch : max - seq + 1;
			if (seq + batch - 1 <= max)	/* full ones only */
				lat[nb++] = (bench_now() - t1) * 1000;
		}
	}
	t = bench_now() - t;
	pgcpu_read(db, &c1);
	PQclear(devs);
	sql(db, k, "DROP TABLE bench_cloud_dst", 0, NULL);
	cdb_release(db, &k);
	out->rows_per_s = (double)rows / t;
	out->p50_ms = bench_percentile(lat, nb, 50);
	out->rows = rows;
	out->cpu_us = pgcpu_delta(&c0, &c1);
	if (out->cpu_us >= 0)
		out->cpu_us = out->cpu_us * 1e6 / (double)rows;
	free(lat);
}

/* ---- signatures the server checks ---- */

/*
 * A run of one device's events in a batch is authenticated by the
 * signature of its last event (hash chain, store/ingest.c rule 3): a
 * push checks about one signature per device it carries (plus the
 * enrollments'). Counts the devices of a push body.
 */
#define MAXRUNS	64

struct runs {
	struct event	*ev;
	uint8_t		 dev[MAXRUNS][ID_LEN];
	size_t		 n;
};

static int
run_of(void *arg, const uint8_t *p, size_t len)
{
	struct runs	*r = arg;
	size_t		 i;

	if (event_decode(r->ev, p, len) != 0)
		return CAJA_EDECODE;
	for (i = 0; i < r->n; i++)
		if (memcmp(r->dev[i], r->ev->dev, ID_LEN) == 0)
			return 0;
	if (r->n < MAXRUNS)
		memcpy(r->dev[r->n++], r->ev->dev, ID_LEN);
	return 0;
}

static size_t
runs_in(struct runs *r, const struct buf *body)
{
	r->n = 0;
	if (store_export_parse(body->p, body->len, run_of, r) != 0)
		die("batch", CAJA_EDECODE, NULL);
	return r->n;
}

/* ---- main ---- */

struct metrics {
	double	pushes, events, verify_ms, db_ms, latency_ms, wire, raw;
};

static void
sync_metrics(struct cdb *db, const char *sid, struct metrics *m)
{
	struct cdb_conn	*k = NULL;
	PGresult	*res = NULL;
	const char	*pv[1] = { sid };
	char		 err[CLOUD_ERRMSG];
	int		 rc;

	if ((rc = cdb_acquire(db, 1000, &k)) != 0 ||
	    (rc = cdb_exec(db, k, "SELECT count(*), sum(events_pushed), "
	    "sum(verify_ms), sum(db_ms), sum(latency_ms), sum(bytes_wire), "
	    "sum(bytes_raw) FROM sync_metrics WHERE store_id = $1 AND kind = "
	    "'push' AND success", 1, pv, NULL, NULL, &res, err,
	    sizeof(err))) != 0)
		die("sync_metrics", rc, err);
	m->pushes = strtod(PQgetvalue(res, 0, 0), NULL);
	m->events = strtod(PQgetvalue(res, 0, 1), NULL);
	m->verify_ms = strtod(PQgetvalue(res, 0, 2), NULL);
	m->db_ms = strtod(PQgetvalue(res, 0, 3), NULL);
	m->latency_ms = strtod(PQgetvalue(res, 0, 4), NULL);
	m->wire = strtod(PQgetvalue(res, 0, 5), NULL);
	m->raw = strtod(PQgetvalue(res, 0, 6), NULL);
	PQclear(res);
	cdb_release(db, &k);
}

static double
pct_saved(size_t base, size_t x)
{
	return base ? 100.0 * (1.0 - (double)x / (double)base) : 0;
}

static void
print_sizes(const struct sizes *z, int json)
{
	const struct tsize	*a = &z->t[NTYPES - 1];
	double			 n = (double)a->n;
	int			 i;

	if (json) {
		printf("\"bytes\": {\"events\": %zu, \"full_json\": %.1f, "
		    "\"full_json_plus_delta\": %.1f, \"delta_json\": %.1f, "
		    "\"frame\": %.1f, \"gzip_batch\": %.1f, "
		    "\"gzip_full_json_batch\": %.1f, \"payload_full\": %.1f, "
		    "\"payload_delta\": %.1f, \"batch\": %zu, \"by_type\": {",
		    a->n, a->jfull / n, a->jboth / n, a->jdelta / n,
		    a->frame / n, z->gz_frames / n, z->gz_json / n,
		    a->pfull / n, a->pdelta / n, z->batch);
		for (i = 0; i < NTYPES - 1; i++)
			printf("%s\"%s\": {\"n\": %zu, \"full_json\": %.1f, "
			    "\"delta_json\": %.1f, \"frame\": %.1f}",
			    i ? ", " : "", tnames[i], z->t[i].n,
			    z->t[i].n ? (double)z->t[i].jfull /
			    (double)z->t[i].n : 0, z->t[i].n ?
			    (double)z->t[i].jdelta / (double)z->t[i].n : 0,
			    z->t[i].n ? (double)z->t[i].frame /
			    (double)z->t[i].n : 0);
		printf("}}");
		return;
	}
	printf("  bytes per event, %zu events of the mix (catalog set-up "
	    "excluded); saved vs full JSON:\n", a->n);
	printf("    full JSON (envelope + entity state)     %6.0f\n",
	    a->jfull / n);
	printf("    event + entity state, JSON              %6.0f  (%+.0f%%)\n",
	    a->jboth / n, -pct_saved(a->jfull, a->jboth));
	printf("    delta JSON (envelope + delta payload)   %6.0f  (-%.0f%%: "
	    "delta alone)\n", a->jdelta / n, pct_saved(a->jfull, a->jdelta));
	printf("    signed frame (what caja sends)          %6.0f  (-%.0f%%)\n",
	    a->frame / n, pct_saved(a->jfull, a->frame));
	printf("    gzipped push body of %-4zu frames        %6.0f  (-%.0f%%)\n",
	    z->batch, z->gz_frames / n, pct_saved(a->jfull, z->gz_frames));
	printf("    gzipped array of %-4zu full JSON         %6.0f  (-%.0f%%: "
	    "compression alone)\n", z->batch, z->gz_json / n,
	    pct_saved(a->jfull, z->gz_json));
	printf("    payload alone: full state %.0f, delta %.0f (-%.0f%%)\n",
	    a->pfull / n, a->pdelta / n, pct_saved(a->pfull, a->pdelta));
	printf("    by type (share; full JSON -> delta JSON -> frame):\n");
	for (i = 0; i < NTYPES - 1; i++) {
		const struct tsize *t = &z->t[i];
		double		    tn = (double)t->n;

		if (t->n == 0)
			continue;
		printf("      %-16s %4.1f%%  %5.0f -> %5.0f (-%2.0f%%) -> "
		    "%5.0f (-%2.0f%%)\n", tnames[i], 100.0 * tn / n,
		    t->jfull / tn, t->jdelta / tn, pct_saved(t->jfull,
		    t->jdelta), t->frame / tn, pct_saved(t->jfull, t->frame));
	}
}

int
main(int argc, char **argv)
{
	struct store_opts	 fast = { .nosync = 1 };
	struct store_ids	 ids;
	struct bench_limits	 lim;
	struct cloud_conf	 conf;
	struct cdb		*db = NULL;
	struct cdb_conn		*k = NULL;
	struct cstores		*stores = NULL;
	struct cstore		*cs = NULL;
	struct store		*st[MAXDEV];
	struct vclock		 since;
	struct buf		 body, gzb;
	struct sizes		 sz;
	struct cpush_req	 req;
	struct cresp		 resp;
	struct pgcpu		 pg0, pg1;
	struct metrics		 m;
	struct runs		 runs;
	PGresult		*res = NULL;
	char			 base[] = "/tmp/caja-bench-cloud.XXXXXX";
	char			 dir[MAXDEV][4200], cdir[4200], file[4200];
	char			 tok[600], sid[ID_HEX];
	char			 err[CLOUD_ERRMSG];
	const char		*url = getenv("CAJA_CLOUD_DB"), *pv[1];
	uint64_t		 nev = 100000, per;
	size_t			 batch = 1000, count, pushed = 0, npush = 0;
	size_t			 cap = 0, wire = 0, raw = 0, nrun = 0;
	double			 t0, t, total, c0, cpu, pgcpu, tfill, *lat = NULL;
	double			 eps, p50, p99, tcut = 0, tgz = 0;
	struct pgalone		 pga;
	long			 rows, distinct;
	json_t			*j;
	char			*vtext;
	int			 ndev = 3, json = 0, limits = 1, i, rc, more;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
			url = argv[++i];
		else if (strcmp(argv[i], "--events") == 0 && i + 1 < argc)
			nev = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--devices") == 0 && i + 1 < argc)
			ndev = (int)strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
			batch = (size_t)strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--skip-limits") == 0)
			limits = 0;
		else if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else {
			printf("usage: bench_cloud --db URL [--events N] "
			    "[--devices D] [--batch B] [--skip-limits] "
			    "[--json]\n");
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
	memset(&sz, 0, sizeof(sz));
	sz.batch = batch;
	buf_init(&sz.frames, 0);
	buf_init(&sz.json, 0);
	buf_init(&sz.z, 0);
	buf_init(&sz.frame, 0);
	if ((runs.ev = malloc(sizeof(*runs.ev))) == NULL)
		die("memory", CAJA_ENOMEM, NULL);

	/* 1. The store, its registers (catalog first), the cloud. */
	t0 = bench_now();
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
	catalog(st[0]);
	snprintf(file, sizeof(file), "%s/x", base);
	for (i = 1; i < ndev; i++) {
		invite(st[0], tok, sizeof(tok), "register");
		if ((rc = store_join(dir[i], tok, NULL, cloud_wall_ms(),
		    NULL)) != 0 || (rc = store_open(&st[i], dir[i], &fast)) != 0)
			die("join", rc, NULL);
		copy_events(st[0], st[i], file);
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
		fill(st[i], i, ndev, i == 0 ? nev - per * (uint64_t)(ndev - 1) :
		    per, &sz);
	sizes_flush(&sz);
	snprintf(file, sizeof(file), "%s/x", base);
	for (i = 1; i < ndev; i++) {
		copy_events(st[i], st[0], file);
		store_close(&st[i]);
	}
	tfill = bench_now() - t0;

	/* 2. The limits, in this run. */
	if (limits && bench_limits_measure(base, &lim) != 0)
		die("limits", CAJA_EIO, NULL);

	/* 3. The server's insides, on the database given. */
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

	/* Upload: causally closed, gzipped batches past the cloud's clock. */
	buf_init(&body, 0);
	buf_init(&gzb, 0);
	vclock_init(&since);
	total = 0;
	pgcpu_read(db, &pg0);
	c0 = proc_cpu_self();
	t0 = bench_now();
	for (;;) {
		t = bench_now();
		if ((rc = store_frames_closed(st[0], &since, batch,
		    BODY_MAX, &body, &count, &more)) != 0)
			die("batch", rc, NULL);
		tcut += bench_now() - t;
		if (count == 0)
			break;
		nrun += runs_in(&runs, &body);
		t = bench_now();
		if ((rc = gzip_encode(body.p, body.len, &gzb)) != 0)
			die("gzip", rc, NULL);
		tgz += bench_now() - t;
		raw += body.len;
		wire += gzb.len;
		memset(&req, 0, sizeof(req));
		memset(&resp, 0, sizeof(resp));
		req.cs = cs;
		req.device = NULL;
		req.encoding = "gzip";
		req.body = gzb.p;
		req.len = gzb.len;
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
		if (vtext == NULL || cvclock_parse(vtext, &since) != 0)
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
	cpu = proc_cpu_self() - c0;
	pgcpu_read(db, &pg1);
	pgcpu = pgcpu_delta(&pg0, &pg1);

	/* Rows in PostgreSQL: every event once. */
	pv[0] = sid;
	if ((rc = cdb_acquire(db, 1000, &k)) != 0 ||
	    (rc = cdb_exec(db, k, "SELECT count(*), count(DISTINCT event_id) "
	    "FROM events WHERE store_id = $1", 1, pv, NULL, NULL, &res, err,
	    sizeof(err))) != 0)
		die("count", rc, err);
	rows = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	distinct = strtol(PQgetvalue(res, 0, 1), NULL, 10);
	PQclear(res);
	cdb_release(db, &k);
	/* pushed + the cloud's own enrollment (written by reconcile) */
	if (rows != distinct || rows != (long)pushed + 1)
		die("verification", CAJA_EIO, "PostgreSQL rows do not match "
		    "the events pushed");
	sync_metrics(db, sid, &m);
	pg_alone(db, sid, batch, (size_t)rows, &pga);
	eps = (double)pushed / total;
	p50 = bench_percentile(lat, npush, 50);
	p99 = bench_percentile(lat, npush, 99);

	if (json) {
		printf("{\"events\": %zu, \"rows\": %ld, \"devices\": %d, "
		    "\"batch\": %zu, \"pushes\": %zu, \"seconds\": %.3f, "
		    "\"push_seconds\": %.3f, \"events_per_s\": %.0f, "
		    "\"push_p50_ms\": %.2f, \"push_p99_ms\": %.2f, "
		    "\"cpu_seconds\": %.3f, \"pg_cpu_seconds\": %.3f, "
		    "\"verify_ms\": %.1f, \"db_ms\": %.1f, \"latency_ms\": "
		    "%.1f, \"wire_bytes\": %zu, \"raw_bytes\": %zu, "
		    "\"fill_seconds\": %.2f, \"signature_checks\": %zu, "
		    "\"pg_alone_rows_per_s\": %.0f, \"pg_alone_p50_ms\": "
		    "%.2f, \"pg_alone_cpu_us\": %.1f, "
		    "\"cut_seconds\": %.3f, \"gzip_seconds\": %.3f, ",
		    pushed, rows, ndev, batch, npush, t0, total, eps, p50, p99,
		    cpu, pgcpu, m.verify_ms, m.db_ms, m.latency_ms, wire, raw,
		    tfill, nrun, pga.rows_per_s, pga.p50_ms, pga.cpu_us, tcut,
		    tgz);
		if (limits) {
			printf("\"limits\": ");
			bench_limits_print(&lim, 1);
			printf(", \"ingest_vs_verify\": %.3f, ",
			    eps / lim.verify_per_s);
		}
		print_sizes(&sz, 1);
		printf("}\n");
	} else {
		if (limits)
			bench_limits_print(&lim, 0);
		printf("bench_cloud: %zu events from %d registers (catalog "
		    "%d + mix %" PRIu64 " + enrollments) in %zu gzipped "
		    "pushes of <= %zu\n", pushed, ndev, BENCH_CATALOG_EVENTS,
		    nev, npush, batch);
		printf("  ingestion (inflate + verify + LMDB + PostgreSQL): "
		    "%.0f events/s", eps);
		if (limits)
			printf(" = %.2f x Ed25519 verify (%.0f/s) in this run",
			    eps / lim.verify_per_s, lim.verify_per_s);
		printf("\n    PostgreSQL alone (INSERT ... SELECT of the same "
		    "rows, %zu a transaction): %.0f rows/s,\n      p50 %.1f ms "
		    "a transaction (a push's p50 is %.2f x that)", batch,
		    pga.rows_per_s, pga.p50_ms, p50 / pga.p50_ms);
		if (pga.cpu_us >= 0 && pgcpu >= 0)
			printf(",\n      server CPU %.0f us a row (a push: %.0f "
			    "us an event, %.2f x)", pga.cpu_us, pgcpu * 1e6 /
			    (double)pushed, pgcpu * 1e6 / (double)pushed /
			    pga.cpu_us);
		printf("\n");
		printf("    %.2f s in the push handler; the uplink's side: "
		    "%.2f s cutting batches (store_frames_closed), %.2f s "
		    "gzip\n", total, tcut, tgz);
		printf("  push latency: p50 %.1f ms, p99 %.1f ms\n", p50, p99);
		printf("  where the time goes (sync_metrics, %0.f pushes, "
		    "%.0f events):\n", m.pushes, m.events);
		printf("    verify + apply into LMDB (verify_ms)  %7.2f s "
		    "%4.1f%%", m.verify_ms / 1000, 100 * m.verify_ms /
		    m.latency_ms);
		printf("\n      Ed25519: ~%zu signatures checked (one per "
		    "device run per push: the hash chain\n      covers the "
		    "rest)", nrun);
		if (limits)
			printf(" = %.3f s at the verify rate; one per event "
			    "would be %.2f s", (double)nrun / lim.verify_per_s,
			    m.events / lim.verify_per_s);
		printf("\n    PostgreSQL rows + commits (db_ms)     %7.2f s "
		    "%4.1f%%\n", m.db_ms / 1000, 100 * m.db_ms /
		    m.latency_ms);
		printf("    rest (inflate, parse, ids, metrics)   %7.2f s "
		    "%4.1f%%\n", (m.latency_ms - m.verify_ms - m.db_ms) /
		    1000, 100 * (m.latency_ms - m.verify_ms - m.db_ms) /
		    m.latency_ms);
		printf("    CPU: this process %.2f s, PostgreSQL server %s%.2f "
		    "s, in %.2f s of wall time\n", cpu, pgcpu < 0 ?
		    "(not on this machine) " : "", pgcpu < 0 ? 0 : pgcpu,
		    t0);
		printf("  rows in PostgreSQL: %ld, %ld distinct event ids "
		    "(= events pushed + the cloud's enrollment)\n", rows,
		    distinct);
		printf("  push bodies: %.0f raw, %.0f gzipped bytes per event "
		    "(all events pushed)\n", (double)raw / (double)pushed,
		    (double)wire / (double)pushed);
		print_sizes(&sz, 0);
		printf("  (set-up: %.1f s to write and measure the events)\n",
		    tfill);
	}
	cstores_close(&stores);
	cdb_destroy(&db);
	store_close(&st[0]);
	buf_reset(&body);
	buf_reset(&gzb);
	buf_reset(&sz.frames);
	buf_reset(&sz.json);
	buf_reset(&sz.z);
	buf_reset(&sz.frame);
	free(lat);
	free(runs.ev);
	bench_rmdir(base);
	return 0;
}
