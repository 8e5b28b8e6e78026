/*
 * db: PostgreSQL for caja-cloud.
 *
 * A fixed pool of connections, one per in-flight database request: a
 * request that finds none free within db_wait_ms is shed (503), so a slow
 * database never piles up threads. Every statement runs through libpq's
 * asynchronous API under a client-side deadline (db_timeout_ms), besides
 * the server-side statement_timeout, so a hung server or a dead network
 * costs one deadline, not a TCP timeout. A connection that fails or times
 * out is closed, every idle connection with it (after a restart of the
 * server they are all dead), and the database is "down" until the
 * watchdog thread connects again; while down, requests are refused at
 * once. The watchdog also pings an idle connection every second: a ping
 * slower than db_slow_ms, or one still unanswered after db_slow_ms (the
 * canary: requests are shed at once instead of each waiting for its own
 * deadline), marks the database "slow", which sheds requests as well
 * until a ping is fast again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/caja-cloud/cloud.h"

enum { SLOT_DOWN, SLOT_IDLE, SLOT_BUSY, SLOT_CONNECTING };

#define WATCH_TICK_MS	250
#define PING_EVERY_MS	1000

struct cdb {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;		/* a slot became idle */
	pthread_cond_t	 wake;		/* watchdog */
	pthread_t	 thread;
	int		 started;
	int		 stop;
	char		*url;
	int		 timeout_ms;
	int		 slow_ms;
	int		 up;
	int		 slow;
	double		 ping_ms;
	uint64_t	 last_ping;
	uint64_t	 ping_t0;	/* a ping in flight since (0: none) */
	int		 nslots;
	struct cdb_conn	 slots[CLOUD_DB_CONNS_MAX];
};

const char cdb_schema_sql[] =
"-- caja-cloud schema (applied at every start; idempotent)\n"
"CREATE TABLE IF NOT EXISTS caja_schema (\n"
"	version		integer NOT NULL\n"
");\n"
"CREATE TABLE IF NOT EXISTS stores (\n"
"	store_id	text PRIMARY KEY,\n"
"	name		text,\n"
"	cloud_device_id	text NOT NULL,\n"
"	created_at	timestamptz NOT NULL DEFAULT now(),\n"
"	last_push_at	timestamptz\n"
");\n"
"CREATE TABLE IF NOT EXISTS events (\n"
"	event_id	text PRIMARY KEY,\n"
"	store_id	text NOT NULL REFERENCES stores (store_id),\n"
"	device_id	text NOT NULL,\n"
"	seq		bigint NOT NULL CHECK (seq > 0),\n"
"	prev_event_id	text,\n"
"	type		text NOT NULL,\n"
"	entity_id	text NOT NULL,\n"
"	payload		jsonb NOT NULL,\n"
"	delta_payload	bytea NOT NULL,\n"
"	full_payload_hash text,\n"
"	vector_clock	jsonb NOT NULL,\n"
"	causal_dependencies jsonb NOT NULL,\n"
"	conflict_status	text NOT NULL DEFAULT 'none',\n"
"	signed_bytes	bytea NOT NULL,\n"
"	hlc		bigint NOT NULL,\n"
"	created_at	timestamptz NOT NULL,\n"
"	received_at	timestamptz NOT NULL DEFAULT now(),\n"
"	UNIQUE (store_id, device_id, seq)\n"
");\n"
"CREATE INDEX IF NOT EXISTS events_vector_clock_gin\n"
"	ON events USING gin (vector_clock);\n"
"CREATE INDEX IF NOT EXISTS events_store_received\n"
"	ON events (store_id, received_at);\n"
"CREATE INDEX IF NOT EXISTS events_store_entity\n"
"	ON events (store_id, type, entity_id);\n"
"CREATE TABLE IF NOT EXISTS device_sync_state (\n"
"	store_id	text NOT NULL REFERENCES stores (store_id),\n"
"	device_id	text NOT NULL,\n"
"	last_sync_at	timestamptz,\n"
"	last_seq	bigint NOT NULL DEFAULT 0,\n"
"	vector_clock	jsonb,\n"
"	pending_conflicts integer NOT NULL DEFAULT 0,\n"
"	health		text NOT NULL DEFAULT 'unknown',\n"
"	circuit_breaker_state text,\n"
"	last_error	text,\n"
"	last_sync_duration_ms double precision,\n"
"	pushes		bigint NOT NULL DEFAULT 0,\n"
"	events_pushed	bigint NOT NULL DEFAULT 0,\n"
"	events_accepted	bigint NOT NULL DEFAULT 0,\n"
"	updated_at	timestamptz NOT NULL DEFAULT now(),\n"
"	PRIMARY KEY (store_id, device_id)\n"
");\n"
"CREATE TABLE IF NOT EXISTS sync_conflicts (\n"
"	conflict_id	text PRIMARY KEY,\n"
"	store_id	text NOT NULL REFERENCES stores (store_id),\n"
"	event_id_a	text,\n"
"	event_id_b	text,\n"
"	conflict_type	text NOT NULL,\n"
"	entity_type	text NOT NULL,\n"
"	entity_id	text NOT NULL,\n"
"	field		text,\n"
"	resolution_strategy text,\n"
"	resolution_status text NOT NULL,\n"
"	resolution_value jsonb,\n"
"	resolved_by	text,\n"
"	resolved_at	timestamptz,\n"
"	priority	text,\n"
"	competing_values jsonb NOT NULL,\n"
"	detected_at	timestamptz NOT NULL DEFAULT now(),\n"
"	updated_at	timestamptz NOT NULL DEFAULT now()\n"
");\n"
"CREATE INDEX IF NOT EXISTS sync_conflicts_store_status\n"
"	ON sync_conflicts (store_id, resolution_status);\n"
"CREATE TABLE IF NOT EXISTS sync_metrics (\n"
"	id		bigserial PRIMARY KEY,\n"
"	store_id	text NOT NULL,\n"
"	device_id	text,\n"
"	kind		text NOT NULL,\n"
"	server_time	timestamptz NOT NULL DEFAULT now(),\n"
"	events_pushed	integer NOT NULL,\n"
"	accepted	integer NOT NULL,\n"
"	duplicate	integer NOT NULL,\n"
"	rejected	integer NOT NULL,\n"
"	conflicted	integer NOT NULL,\n"
"	retry		integer NOT NULL,\n"
"	bytes_wire	bigint NOT NULL,\n"
"	bytes_raw	bigint NOT NULL,\n"
"	compression_ratio double precision,\n"
"	latency_ms	double precision NOT NULL,\n"
"	verify_ms	double precision,\n"
"	db_ms		double precision,\n"
"	success		boolean NOT NULL,\n"
"	http_status	integer NOT NULL,\n"
"	error		text\n"
");\n"
"CREATE INDEX IF NOT EXISTS sync_metrics_store_time\n"
"	ON sync_metrics (store_id, server_time);\n"
"INSERT INTO caja_schema (version)\n"
"	SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM caja_schema);\n";

static void
no_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static PGconn *
connect_now(const char *url, int timeout_ms, char *err, size_t cap)
{
	const char	*keys[8], *vals[8];
	char		 ct[16], opts[96];
	PGconn		*pg;
	int		 n = 0;

	/* libpq's connect_timeout has a floor of 2 s; it only runs here, in
	 * the watchdog or at start, never in a request thread. */
	snprintf(ct, sizeof(ct), "%d", 2);
	snprintf(opts, sizeof(opts), "-c statement_timeout=%d "
	    "-c idle_in_transaction_session_timeout=%d", timeout_ms,
	    timeout_ms * 4);
	keys[n] = "dbname";		vals[n++] = url;
	keys[n] = "connect_timeout";	vals[n++] = ct;
	keys[n] = "application_name";	vals[n++] = "caja-cloud";
	keys[n] = "options";		vals[n++] = opts;
	keys[n] = "keepalives_idle";	vals[n++] = "5";
	keys[n] = "keepalives_interval"; vals[n++] = "2";
	keys[n] = "keepalives_count";	vals[n++] = "3";
	keys[n] = NULL;			vals[n] = NULL;
	pg = PQconnectdbParams(keys, vals, 1);
	if (pg == NULL) {
		snprintf(err, cap, "out of memory");
		return NULL;
	}
	if (PQstatus(pg) != CONNECTION_OK) {
		snprintf(err, cap, "%s", PQerrorMessage(pg));
		err[strcspn(err, "\n")] = '\0';
		PQfinish(pg);
		return NULL;
	}
	PQsetNoticeProcessor(pg, no_notice, NULL);
	if (PQsetnonblocking(pg, 1) != 0) {
		snprintf(err, cap, "cannot make the connection non-blocking");
		PQfinish(pg);
		return NULL;
	}
	return pg;
}

/* Waits for the socket; 0, or CAJA_EIO on timeout or error. */
static int
wait_sock(PGconn *pg, short events, uint64_t deadline)
{
	struct pollfd	pfd;
	uint64_t	now;
	int		r;

	pfd.fd = PQsocket(pg);
	pfd.events = events;
	pfd.revents = 0;
	if (pfd.fd < 0)
		return CAJA_EIO;
	for (;;) {
		now = cloud_mono_ms();
		if (now >= deadline)
			return CAJA_EIO;
		r = poll(&pfd, 1, (int)(deadline - now));
		if (r > 0)
			return 0;
		if (r == 0)
			return CAJA_EIO;
		if (errno != EINTR)
			return CAJA_EIO;
	}
}

/* Slow: the last ping was, or the one in flight already is (locked). */
static int
is_slow(struct cdb *db)
{
	return db->slow || (db->ping_t0 != 0 &&
	    cloud_mono_ms() - db->ping_t0 > (uint64_t)db->slow_ms);
}

/* SQLSTATE classes that mean the server went away. */
static int
is_conn_state(const char *st)
{
	return st != NULL && (strncmp(st, "08", 2) == 0 ||
	    strncmp(st, "57P", 3) == 0);
}

static void
mark_all_idle_down(struct cdb *db)
{
	int	i;

	for (i = 0; i < db->nslots; i++) {
		if (db->slots[i].state != SLOT_IDLE)
			continue;
		PQfinish(db->slots[i].pg);
		db->slots[i].pg = NULL;
		db->slots[i].state = SLOT_DOWN;
	}
}

static void
set_down(struct cdb *db)
{
	pthread_mutex_lock(&db->mu);
	if (db->up)
		cloud_log("database down: shedding until it is back");
	db->up = 0;
	mark_all_idle_down(db);
	pthread_cond_signal(&db->wake);
	pthread_mutex_unlock(&db->mu);
}

/* Reads the results of the statement sent; keeps the last. */
static int
finish(struct cdb *db, struct cdb_conn *k, uint64_t deadline, PGresult **res,
    char *err, size_t cap)
{
	PGresult	*r, *last = NULL;
	PGconn		*pg = k->pg;
	const char	*st = NULL;
	int		 rc = 0;

	for (;;) {
		while (PQisBusy(pg)) {
			if (wait_sock(pg, POLLIN, deadline) != 0) {
				snprintf(err, cap, "no answer within %d ms",
				    db->timeout_ms);
				goto broken;
			}
			if (!PQconsumeInput(pg)) {
				snprintf(err, cap, "%s", PQerrorMessage(pg));
				goto broken;
			}
		}
		if ((r = PQgetResult(pg)) == NULL)
			break;
		PQclear(last);
		last = r;
		if (PQresultStatus(r) == PGRES_COPY_IN ||
		    PQresultStatus(r) == PGRES_COPY_OUT)
			break;	/* the caller goes on with the copy */
	}
	if (last == NULL) {
		snprintf(err, cap, "no result");
		goto broken;
	}
	switch (PQresultStatus(last)) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
	case PGRES_COPY_IN:
		break;
	default:
		st = PQresultErrorField(last, PG_DIAG_SQLSTATE);
		snprintf(err, cap, "%s", PQresultErrorMessage(last));
		err[strcspn(err, "\n")] = '\0';
		if (PQstatus(pg) == CONNECTION_BAD || is_conn_state(st))
			goto broken;
		rc = CAJA_EINVAL;
		break;
	}
	if (rc == 0 && res != NULL) {
		*res = last;
		last = NULL;
	}
	PQclear(last);
	if (rc != 0)
		atomic_fetch_add(&cmet.db_errors, 1);
	return rc;
broken:
	if (err[0] != '\0')
		err[strcspn(err, "\n")] = '\0';
	PQclear(last);
	k->broken = 1;
	atomic_fetch_add(&cmet.db_errors, 1);
	set_down(db);
	return CAJA_EIO;
}

/* Flushes libpq's output buffer; 0 or CAJA_EIO (connection broken). */
static int
flush(struct cdb *db, struct cdb_conn *k, uint64_t deadline, char *err,
    size_t cap)
{
	PGconn	*pg = k->pg;
	int	 f;

	while ((f = PQflush(pg)) != 0) {
		if (f < 0 || wait_sock(pg, POLLOUT | POLLIN, deadline) != 0 ||
		    !PQconsumeInput(pg)) {
			snprintf(err, cap, "sending: %s", f < 0 ?
			    PQerrorMessage(pg) : "timeout");
			err[strcspn(err, "\n")] = '\0';
			k->broken = 1;
			atomic_fetch_add(&cmet.db_errors, 1);
			set_down(db);
			return CAJA_EIO;
		}
	}
	return 0;
}

static int
sent_failed(struct cdb *db, struct cdb_conn *k, char *err, size_t cap)
{
	snprintf(err, cap, "%s", PQerrorMessage(k->pg));
	err[strcspn(err, "\n")] = '\0';
	k->broken = 1;
	atomic_fetch_add(&cmet.db_errors, 1);
	set_down(db);
	return CAJA_EIO;
}

int
cdb_exec(struct cdb *db, struct cdb_conn *k, const char *sql, int n,
    const char *const *vals, const int *lens, const int *fmts,
    PGresult **res, char *err, size_t cap)
{
	uint64_t	 deadline = cloud_mono_ms() + (uint64_t)db->timeout_ms;
	char		 scratch[CLOUD_ERRMSG];
	int		 rc;

	if (err == NULL) {
		err = scratch;
		cap = sizeof(scratch);
	}
	err[0] = '\0';
	if (res != NULL)
		*res = NULL;
	if (k->pg == NULL || k->broken) {
		snprintf(err, cap, "no connection");
		return CAJA_EIO;
	}
	if (!PQsendQueryParams(k->pg, sql, n, NULL, vals, lens, fmts, 0))
		return sent_failed(db, k, err, cap);
	if ((rc = flush(db, k, deadline, err, cap)) != 0)
		return rc;
	return finish(db, k, deadline, res, err, cap);
}

int
cdb_copy(struct cdb *db, struct cdb_conn *k, const char *sql,
    const uint8_t *data, size_t len, char *err, size_t cap)
{
	PGresult	*r = NULL;
	uint64_t	 deadline = cloud_mono_ms() + (uint64_t)db->timeout_ms;
	char		 scratch[CLOUD_ERRMSG];
	size_t		 off = 0, n;
	int		 rc, w;

	if (err == NULL) {
		err = scratch;
		cap = sizeof(scratch);
	}
	err[0] = '\0';
	if (k->pg == NULL || k->broken) {
		snprintf(err, cap, "no connection");
		return CAJA_EIO;
	}
	if (!PQsendQueryParams(k->pg, sql, 0, NULL, NULL, NULL, NULL, 0))
		return sent_failed(db, k, err, cap);
	if ((rc = flush(db, k, deadline, err, cap)) != 0 ||
	    (rc = finish(db, k, deadline, &r, err, cap)) != 0)
		return rc;
	if (PQresultStatus(r) != PGRES_COPY_IN) {
		PQclear(r);
		snprintf(err, cap, "not a COPY FROM STDIN");
		return CAJA_EINVAL;
	}
	PQclear(r);
	while (off < len) {
		n = len - off > 65536 ? 65536 : len - off;
		w = PQputCopyData(k->pg, (const char *)data + off, (int)n);
		if (w < 0)
			return sent_failed(db, k, err, cap);
		if (w == 0) {	/* would block */
			if ((rc = flush(db, k, deadline, err, cap)) != 0)
				return rc;
			continue;
		}
		off += n;
	}
	while ((w = PQputCopyEnd(k->pg, NULL)) == 0)
		if ((rc = flush(db, k, deadline, err, cap)) != 0)
			return rc;
	if (w < 0)
		return sent_failed(db, k, err, cap);
	if ((rc = flush(db, k, deadline, err, cap)) != 0)
		return rc;
	return finish(db, k, deadline, NULL, err, cap);
}

int
cdb_acquire(struct cdb *db, int wait_ms, struct cdb_conn **out)
{
	struct timespec	ts;
	uint64_t	deadline = cloud_mono_ms() + (uint64_t)wait_ms;
	int		i, rc = 0;

	*out = NULL;
	pthread_mutex_lock(&db->mu);
	for (;;) {
		if (!db->up || is_slow(db)) {
			rc = CAJA_EIO;
			break;
		}
		for (i = 0; i < db->nslots; i++)
			if (db->slots[i].state == SLOT_IDLE)
				break;
		if (i < db->nslots) {
			db->slots[i].state = SLOT_BUSY;
			db->slots[i].broken = 0;
			*out = &db->slots[i];
			break;
		}
		if (cloud_mono_ms() >= deadline) {
			rc = CAJA_EAGAIN;
			break;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 20 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&db->cv, &db->mu, &ts);
	}
	pthread_mutex_unlock(&db->mu);
	return rc;
}

void
cdb_release(struct cdb *db, struct cdb_conn **kp)
{
	struct cdb_conn	*k;

	if (kp == NULL || (k = *kp) == NULL)
		return;
	*kp = NULL;
	pthread_mutex_lock(&db->mu);
	if (!k->broken && k->pg != NULL &&
	    PQtransactionStatus(k->pg) != PQTRANS_IDLE) {
		/* a caller left a transaction open: never reuse it */
		k->broken = 1;
	}
	if (k->broken) {
		PQfinish(k->pg);
		k->pg = NULL;
		k->state = SLOT_DOWN;
		pthread_cond_signal(&db->wake);
	} else {
		k->state = SLOT_IDLE;
		k->last_ms = cloud_mono_ms();
		pthread_cond_signal(&db->cv);
	}
	pthread_mutex_unlock(&db->mu);
}

void
cdb_stats(struct cdb *db, struct cdb_stats *st)
{
	int	i;

	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&db->mu);
	st->up = db->up;
	st->slow = is_slow(db);
	st->ping_ms = db->ping_ms;
	for (i = 0; i < db->nslots; i++) {
		if (db->slots[i].state == SLOT_BUSY)
			st->inflight++;
		if (db->slots[i].state == SLOT_IDLE ||
		    db->slots[i].state == SLOT_BUSY)
			st->conns++;
	}
	pthread_mutex_unlock(&db->mu);
}

/* Connects one down slot (outside the lock). 1 when connected. */
static int
watch_connect(struct cdb *db)
{
	struct cdb_conn	*k = NULL;
	PGconn		*pg;
	char		 err[CLOUD_ERRMSG];
	int		 i, was_up;

	pthread_mutex_lock(&db->mu);
	for (i = 0; i < db->nslots; i++)
		if (db->slots[i].state == SLOT_DOWN) {
			k = &db->slots[i];
			k->state = SLOT_CONNECTING;
			break;
		}
	pthread_mutex_unlock(&db->mu);
	if (k == NULL)
		return 0;
	pg = connect_now(db->url, db->timeout_ms, err, sizeof(err));
	pthread_mutex_lock(&db->mu);
	was_up = db->up;
	if (pg != NULL) {
		k->pg = pg;
		k->broken = 0;
		k->state = SLOT_IDLE;
		k->last_ms = cloud_mono_ms();
		db->up = 1;
		db->slow = 0;
		pthread_cond_signal(&db->cv);
	} else
		k->state = SLOT_DOWN;
	pthread_mutex_unlock(&db->mu);
	if (pg != NULL && !was_up)
		cloud_log("database up");
	else if (pg == NULL)
		cloud_debug("database connect: %s", err);
	return pg != NULL;
}

/* Pings an idle connection; updates slow and ping_ms. */
static void
watch_ping(struct cdb *db)
{
	struct cdb_conn	*k = NULL;
	uint64_t	 t0;
	double		 ms;
	int		 i, rc, slow;

	pthread_mutex_lock(&db->mu);
	for (i = 0; i < db->nslots; i++)
		if (db->slots[i].state == SLOT_IDLE) {
			k = &db->slots[i];
			k->state = SLOT_BUSY;
			k->broken = 0;
			break;
		}
	t0 = cloud_mono_ms();
	if (k != NULL)
		db->ping_t0 = t0;
	pthread_mutex_unlock(&db->mu);
	if (k == NULL)
		return;		/* all busy: requests measure it */
	rc = cdb_exec(db, k, "SELECT 1", 0, NULL, NULL, NULL, NULL, NULL, 0);
	ms = (double)(cloud_mono_ms() - t0);
	cdb_release(db, &k);
	pthread_mutex_lock(&db->mu);
	db->ping_t0 = 0;
	db->last_ping = cloud_mono_ms();
	db->ping_ms = ms;
	slow = rc == 0 && ms > (double)db->slow_ms;
	if (slow != db->slow)
		cloud_log("database %s (ping %.0f ms)", slow ? "slow: "
		    "shedding pushes" : "fast again", ms);
	db->slow = slow;
	pthread_mutex_unlock(&db->mu);
}

static void *
watchdog(void *arg)
{
	struct cdb	*db = arg;
	struct timespec	 ts;
	int		 stop;

	for (;;) {
		pthread_mutex_lock(&db->mu);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += WATCH_TICK_MS * 1000000L;
		while (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (!db->stop)
			pthread_cond_timedwait(&db->wake, &db->mu, &ts);
		stop = db->stop;
		pthread_mutex_unlock(&db->mu);
		if (stop)
			break;
		/* Reconnect all slots while the server answers. */
		while (watch_connect(db))
			;
		if (cloud_mono_ms() - db->last_ping >= PING_EVERY_MS)
			watch_ping(db);
	}
	return NULL;
}

static int
apply_schema(PGconn *pg, char *err, size_t cap)
{
	PGresult	*r;
	int		 rc = 0;

	/* One implicit transaction; the advisory lock orders two servers
	 * starting at once on one database. */
	r = PQexec(pg, "BEGIN; SELECT pg_advisory_xact_lock(7700770077);");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, cap, "schema: %s", PQresultErrorMessage(r));
		rc = CAJA_EIO;
	}
	PQclear(r);
	if (rc == 0) {
		r = PQexec(pg, cdb_schema_sql);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			snprintf(err, cap, "schema: %s",
			    PQresultErrorMessage(r));
			rc = CAJA_EIO;
		}
		PQclear(r);
	}
	r = PQexec(pg, rc == 0 ? "COMMIT" : "ROLLBACK");
	if (rc == 0 && PQresultStatus(r) != PGRES_COMMAND_OK) {
		snprintf(err, cap, "schema: %s", PQresultErrorMessage(r));
		rc = CAJA_EIO;
	}
	PQclear(r);
	err[strcspn(err, "\n")] = '\0';
	return rc;
}

int
cdb_new(struct cdb **out, const struct cloud_conf *conf, char *err,
    size_t cap)
{
	struct cdb	*db;
	PGconn		*pg = NULL;
	uint64_t	 until;
	int		 rc, i, warned = 0;

	*out = NULL;
	if ((db = calloc(1, sizeof(*db))) == NULL)
		return CAJA_ENOMEM;
	pthread_mutex_init(&db->mu, NULL);
	pthread_cond_init(&db->cv, NULL);
	pthread_cond_init(&db->wake, NULL);
	db->nslots = conf->db_conns < 1 ? 1 : conf->db_conns >
	    CLOUD_DB_CONNS_MAX ? CLOUD_DB_CONNS_MAX : conf->db_conns;
	db->timeout_ms = conf->db_timeout_ms;
	db->slow_ms = conf->db_slow_ms;
	for (i = 0; i < db->nslots; i++)
		db->slots[i].state = SLOT_DOWN;
	if ((db->url = strdup(conf->db_url)) == NULL) {
		rc = CAJA_ENOMEM;
		goto fail;
	}
	until = cloud_mono_ms() + (uint64_t)conf->db_start_s * 1000;
	for (;;) {
		pg = connect_now(db->url, db->timeout_ms, err, cap);
		if (pg != NULL || cloud_mono_ms() >= until)
			break;
		if (!warned++)
			cloud_log("waiting for the database: %s", err);
		struct timespec	ts = { 0, 250 * 1000000L };
		nanosleep(&ts, NULL);
	}
	if (pg == NULL) {
		rc = CAJA_EIO;
		goto fail;
	}
	if ((rc = apply_schema(pg, err, cap)) != 0) {
		PQfinish(pg);
		goto fail;
	}
	db->slots[0].pg = pg;
	db->slots[0].state = SLOT_IDLE;
	db->up = 1;
	db->last_ping = cloud_mono_ms();
	if (pthread_create(&db->thread, NULL, watchdog, db) != 0) {
		snprintf(err, cap, "cannot start the database watchdog");
		rc = CAJA_ENOMEM;
		goto fail;
	}
	db->started = 1;
	*out = db;
	return 0;
fail:
	cdb_destroy(&db);
	return rc;
}

void
cdb_destroy(struct cdb **dbp)
{
	struct cdb	*db;
	int		 i;

	if (dbp == NULL || (db = *dbp) == NULL)
		return;
	*dbp = NULL;
	if (db->started) {
		pthread_mutex_lock(&db->mu);
		db->stop = 1;
		pthread_cond_signal(&db->wake);
		pthread_mutex_unlock(&db->mu);
		pthread_join(db->thread, NULL);
	}
	for (i = 0; i < db->nslots; i++)
		PQfinish(db->slots[i].pg);
	pthread_mutex_destroy(&db->mu);
	pthread_cond_destroy(&db->cv);
	pthread_cond_destroy(&db->wake);
	free(db->url);
	free(db);
}
