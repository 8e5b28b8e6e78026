/*
 * push: POST /v2/sync/push and the head office's events.
 *
 * A push is a batch of exact event frames (the export format) uploaded by
 * any agent of the store on behalf of all. The store library verifies it
 * (store_ingest_verdicts(), store/ingest.c: enrollment, signatures, hash
 * chains, causal order) with a verdict per frame; what it holds (accepted
 * now, or held already) goes to PostgreSQL in the same request. Order of
 * commits: see cloud.h.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "proto/event.h"
#include "proto/schema.h"
#include "proto/sig.h"
#include "tools/caja-cloud/cloud.h"

#define INFLATE_CHUNK	(64u * 1024)

int
cpush_inflate(const uint8_t *in, size_t len, size_t max, struct buf *out)
{
	z_stream	z;
	int		zr, rc = 0, pass;

	for (pass = 0; pass < 2; pass++) {
		buf_clear(out);
		memset(&z, 0, sizeof(z));
		/* 15+32: gzip or zlib by their header; then raw deflate */
		if (inflateInit2(&z, pass == 0 ? 15 + 32 : -15) != Z_OK)
			return CAJA_ENOMEM;
		z.next_in = (Bytef *)(uintptr_t)in;
		z.avail_in = (uInt)len;
		rc = 0;
		do {
			if (out->len >= max) {
				rc = CAJA_ETOOBIG;
				break;
			}
			if ((rc = buf_reserve(out, INFLATE_CHUNK)) != 0)
				break;
			z.next_out = out->p + out->len;
			z.avail_out = INFLATE_CHUNK;
			zr = inflate(&z, Z_NO_FLUSH);
			out->len += INFLATE_CHUNK - z.avail_out;
			if (zr != Z_OK && zr != Z_STREAM_END) {
				rc = zr == Z_MEM_ERROR ? CAJA_ENOMEM :
				    CAJA_EDECODE;
				break;
			}
			if (zr == Z_OK && z.avail_in == 0 &&
			    z.avail_out != 0) {
				rc = CAJA_EDECODE;	/* truncated */
				break;
			}
			if (zr == Z_STREAM_END)
				break;
		} while (1);
		inflateEnd(&z);
		if (rc == 0 && out->len > max)
			rc = CAJA_ETOOBIG;
		if (rc != CAJA_EDECODE || pass == 1)
			break;
	}
	return rc;
}

/* ---- database steps ---- */

static int
exec0(struct cdb *db, struct cdb_conn *k, const char *sql)
{
	return cdb_exec(db, k, sql, 0, NULL, NULL, NULL, NULL, NULL, 0);
}

struct outcome {
	const char	*kind;		/* "push" | "head_office" */
	const char	*device;
	size_t		 pushed, accepted, duplicate, rejected, conflicted;
	size_t		 retry;
	size_t		 bytes_wire, bytes_raw;
	double		 verify_ms, db_ms;
	uint64_t	 t0;
	int		 status;
	const char	*error;
};

static int
metrics_row(struct cdb *db, struct cdb_conn *k, const char *store,
    const struct outcome *o)
{
	char		 n[10][24], ratio[32], lat[32], vms[32], dms[32];
	const char	*pv[18];

	snprintf(n[0], 24, "%zu", o->pushed);
	snprintf(n[1], 24, "%zu", o->accepted);
	snprintf(n[2], 24, "%zu", o->duplicate);
	snprintf(n[3], 24, "%zu", o->rejected);
	snprintf(n[4], 24, "%zu", o->conflicted);
	snprintf(n[5], 24, "%zu", o->retry);
	snprintf(n[6], 24, "%zu", o->bytes_wire);
	snprintf(n[7], 24, "%zu", o->bytes_raw);
	snprintf(n[8], 24, "%d", o->status);
	snprintf(ratio, sizeof(ratio), "%.4f", o->bytes_wire ?
	    (double)o->bytes_raw / (double)o->bytes_wire : 1.0);
	snprintf(lat, sizeof(lat), "%.3f",
	    (double)(cloud_mono_us() - o->t0) / 1000.0);
	snprintf(vms, sizeof(vms), "%.3f", o->verify_ms);
	snprintf(dms, sizeof(dms), "%.3f", o->db_ms);
	pv[0] = store;
	pv[1] = o->device;
	pv[2] = o->kind;
	pv[3] = n[0];
	pv[4] = n[1];
	pv[5] = n[2];
	pv[6] = n[3];
	pv[7] = n[4];
	pv[8] = n[5];
	pv[9] = n[6];
	pv[10] = n[7];
	pv[11] = ratio;
	pv[12] = lat;
	pv[13] = vms;
	pv[14] = dms;
	pv[15] = o->status == 200 ? "true" : "false";
	pv[16] = n[8];
	pv[17] = o->error;
	return cdb_exec(db, k, "INSERT INTO sync_metrics (store_id, "
	    "device_id, kind, events_pushed, accepted, duplicate, rejected, "
	    "conflicted, retry, bytes_wire, bytes_raw, compression_ratio, "
	    "latency_ms, verify_ms, db_ms, success, http_status, error) "
	    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
	    "$14, $15, $16, $17, $18)", 18, pv, NULL, NULL, NULL, NULL, 0);
}

/* A failed push still leaves its row when the database can take it. */
static void
metrics_failure(struct cdb *db, const char *store, struct outcome *o)
{
	struct cdb_conn	*k = NULL;

	if (cdb_acquire(db, 0, &k) != 0)
		return;
	(void)metrics_row(db, k, store, o);
	cdb_release(db, &k);
}

static int
device_state(struct cdb *db, struct cdb_conn *k, struct cstore *cs,
    const struct cpush_req *req, const struct outcome *o,
    const struct vclock *vc, size_t pending, const char *first_reason)
{
	struct store_device	 d;
	uint8_t			 dev[ID_LEN];
	char			 seq[24], pend[24], dur[32], npush[24], nacc[24];
	char			*vcj = NULL;
	const char		*pv[11], *health, *err;
	int			 rc;

	if (req->device == NULL || ids_unhex(dev, ID_LEN, req->device) != 0)
		return 0;
	if (store_device_get(cstore_store(cs), dev, &d) != 0)
		return 0;	/* not enrolled (yet): not a device of ours */
	{
		json_t	*j = evjson_vclock(vc);

		vcj = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
	}
	if (vcj == NULL)
		return CAJA_ENOMEM;
	err = req->last_error != NULL && req->last_error[0] != '\0' ?
	    req->last_error : first_reason;
	if (o->rejected > o->retry)
		health = "rejected";
	else if (err != NULL || o->retry > 0 || (req->breaker != NULL &&
	    strcmp(req->breaker, "CLOSED") != 0))
		health = "degraded";
	else
		health = "ok";
	snprintf(seq, sizeof(seq), "%" PRIu64, vclock_get(vc, dev));
	snprintf(pend, sizeof(pend), "%zu", pending);
	snprintf(dur, sizeof(dur), "%.3f",
	    (double)(cloud_mono_us() - o->t0) / 1000.0);
	snprintf(npush, sizeof(npush), "%zu", o->pushed);
	snprintf(nacc, sizeof(nacc), "%zu", o->accepted + o->conflicted);
	pv[0] = cstore_id(cs);
	pv[1] = req->device;
	pv[2] = seq;
	pv[3] = vcj;
	pv[4] = pend;
	pv[5] = health;
	pv[6] = req->breaker;
	pv[7] = err;
	pv[8] = dur;
	pv[9] = npush;
	pv[10] = nacc;
	rc = cdb_exec(db, k, "INSERT INTO device_sync_state AS d (store_id, "
	    "device_id, last_sync_at, last_seq, vector_clock, "
	    "pending_conflicts, health, circuit_breaker_state, last_error, "
	    "last_sync_duration_ms, pushes, events_pushed, events_accepted, "
	    "updated_at) VALUES ($1, $2, now(), $3, $4::jsonb, $5, $6, $7, "
	    "$8, $9, 1, $10, $11, now()) ON CONFLICT (store_id, device_id) "
	    "DO UPDATE SET last_sync_at = now(), last_seq = EXCLUDED.last_seq, "
	    "vector_clock = EXCLUDED.vector_clock, pending_conflicts = "
	    "EXCLUDED.pending_conflicts, health = EXCLUDED.health, "
	    "circuit_breaker_state = COALESCE(EXCLUDED.circuit_breaker_state, "
	    "d.circuit_breaker_state), last_error = EXCLUDED.last_error, "
	    "last_sync_duration_ms = EXCLUDED.last_sync_duration_ms, "
	    "pushes = d.pushes + 1, events_pushed = d.events_pushed + "
	    "EXCLUDED.events_pushed, events_accepted = d.events_accepted + "
	    "EXCLUDED.events_accepted, updated_at = now()", 11, pv, NULL, NULL,
	    NULL, NULL, 0);
	free(vcj);
	return rc;
}

struct pushctx {
	struct store_frames	 f;
	struct buf		 raw;
	int			*verdict;
	uint8_t			*retry;
	struct store_report	 rep;
	uint8_t			(*ids)[HASH_LEN];
	uint8_t			*conflicted;
	const uint8_t		**held;
	size_t			*held_len;
	struct vclock		*vc;
	struct event		*ev;
	struct payload		*pl;
	uint8_t			(*cids)[ID_LEN];	/* resolved here */
	size_t			 ncids;
};

/* ---- responses ---- */

/*
 * The store's one-line reason for refusing frame i: from the report's
 * details (the first STORE_REFUSED_MAX refusals, by device and seq), else
 * the error's text.
 */
static const char *
reason_of(struct pushctx *p, size_t i)
{
	size_t	k;

	if (event_decode(p->ev, p->f.p[i], p->f.len[i]) != 0)
		return "malformed event";
	for (k = 0; k < p->rep.nrefusals; k++)
		if (p->rep.refusals[k].seq == p->ev->seq &&
		    p->rep.refusals[k].err == p->verdict[i] &&
		    memcmp(p->rep.refusals[k].dev, p->ev->dev, ID_LEN) == 0 &&
		    p->rep.refusals[k].msg[0] != '\0')
			return p->rep.refusals[k].msg;
	return err_str(p->verdict[i]);
}

static const char *
status_of(int verdict, int conflicted)
{
	if (verdict == STORE_VERDICT_ACCEPTED)
		return conflicted ? "conflicted" : "accepted";
	if (verdict == STORE_VERDICT_DUPLICATE)
		return "duplicate";
	return "rejected";
}

static int
jset(json_t *o, const char *k, json_t *v)
{
	if (v == NULL)
		return CAJA_ENOMEM;
	return json_object_set_new(o, k, v) == 0 ? 0 : CAJA_ENOMEM;
}

static void
unavailable(struct cresp *resp, int rc, const char *what)
{
	if (rc == CAJA_EAGAIN) {
		atomic_fetch_add(&cmet.shed, 1);
		cresp_error(resp, 503, "overloaded: %s shed", what);
		resp->retry_after = 1;
	} else {
		cresp_error(resp, 503, "database unavailable");
		resp->retry_after = 2;
	}
}

/* ---- push ---- */

static void
pushctx_free(struct pushctx *p)
{
	store_frames_free(&p->f);
	buf_reset(&p->raw);
	free(p->verdict);
	free(p->retry);
	free(p->ids);
	free(p->conflicted);
	free(p->held);
	free(p->held_len);
	free(p->vc);
	free(p->ev);
	free(p->pl);
	free(p->cids);
}

static json_t *
push_json(struct pushctx *p, struct cstore *cs, const struct outcome *o,
    size_t pending)
{
	json_t		*r, *a, *e;
	char		 hex[HASH_HEX];
	size_t		 i;
	int		 rc = 0, v;

	if ((r = json_object()) == NULL)
		return NULL;
	if ((a = json_array()) == NULL || jset(r, "results", a) != 0) {
		json_decref(r);
		return NULL;
	}
	for (i = 0; i < p->f.n && rc == 0; i++) {
		v = p->verdict[i];
		if ((e = json_object()) == NULL ||
		    json_array_append_new(a, e) != 0) {
			rc = CAJA_ENOMEM;
			break;
		}
		ids_hex(hex, p->ids[i], HASH_LEN);
		rc = jset(e, "event_id", json_string(hex));
		if (rc == 0 && event_decode(p->ev, p->f.p[i], p->f.len[i]) ==
		    0) {
			ids_hex(hex, p->ev->dev, ID_LEN);
			if ((rc = jset(e, "device_id", json_string(hex))) ==
			    0)
				rc = jset(e, "seq", json_integer((json_int_t)
				    p->ev->seq));
		}
		if (rc == 0)
			rc = jset(e, "status", json_string(status_of(v,
			    p->conflicted[i])));
		if (rc == 0 && v > 0) {
			if ((rc = jset(e, "error", json_string(
			    cloud_err_name(v)))) == 0 &&
			    (rc = jset(e, "reason", json_string(
			    reason_of(p, i)))) == 0)
				rc = jset(e, "retry", json_boolean(
				    p->retry[i]));
		}
	}
	if (rc == 0)
		rc = jset(r, "store_id", json_string(cstore_id(cs)));
	if (rc == 0)
		(void)((rc = jset(r, "accepted", json_integer((json_int_t)
		    o->accepted))) ||
		    (rc = jset(r, "duplicate", json_integer((json_int_t)
		    o->duplicate))) ||
		    (rc = jset(r, "conflicted", json_integer((json_int_t)
		    o->conflicted))) ||
		    (rc = jset(r, "rejected", json_integer((json_int_t)
		    o->rejected))) ||
		    (rc = jset(r, "retry", json_integer((json_int_t)
		    o->retry))) ||
		    (rc = jset(r, "conflicts_pending", json_integer(
		    (json_int_t)pending))) ||
		    (rc = jset(r, "vector_clock", evjson_vclock(p->vc))) ||
		    (rc = jset(r, "server_time_ms", json_integer((json_int_t)
		    cloud_wall_ms()))));
	if (rc != 0) {
		json_decref(r);
		return NULL;
	}
	return r;
}

/*
 * 1 when an event may open or close a conflict: an accepted price or
 * resolution (whose conflict id is noted), a fork.
 */
static int
touches_conflicts(struct pushctx *p, size_t i)
{
	if (p->verdict[i] == CAJA_EFORK)
		return 1;
	if (p->verdict[i] != STORE_VERDICT_ACCEPTED ||
	    event_decode(p->ev, p->f.p[i], p->f.len[i]) != 0)
		return 0;
	if (p->ev->type == EV_CONFLICT_RESOLVED &&
	    schema_decode(p->ev->type, p->ev->payload, p->ev->payload_len,
	    p->pl) == 0)
		memcpy(p->cids[p->ncids++], p->pl->conflict_id, ID_LEN);
	return p->ev->type == EV_PRICE_CHANGED ||
	    p->ev->type == EV_CONFLICT_RESOLVED;
}

void
cpush_handle(const struct cloud_conf *conf, struct cdb *db,
    struct cpush_req *req, struct cresp *resp)
{
	struct pushctx		 p;
	struct outcome		 o;
	struct store_batch	*b = NULL;
	struct cdb_conn		*k = NULL;
	struct cstore		*cs = req->cs;
	const uint8_t		*raw;
	const char		*first_reason = NULL;
	size_t			 rawlen, i, nheld = 0, ins = 0, pending = 0;
	uint64_t		 t;
	int			 rc, locked = 0, lmdb_done = 0, conflicts = 0;
	json_t			*j;

	memset(&p, 0, sizeof(p));
	memset(&o, 0, sizeof(o));
	buf_init(&p.raw, conf->max_raw + INFLATE_CHUNK);
	o.kind = "push";
	o.device = req->device;
	o.t0 = req->t0_us;
	o.bytes_wire = req->len;
	if (req->encoding == NULL || strcmp(req->encoding, "identity") == 0) {
		raw = req->body;
		rawlen = req->len;
	} else if (strcmp(req->encoding, "gzip") == 0 ||
	    strcmp(req->encoding, "deflate") == 0 ||
	    strcmp(req->encoding, "x-gzip") == 0) {
		rc = cpush_inflate(req->body, req->len, conf->max_raw, &p.raw);
		if (rc != 0) {
			o.status = rc == CAJA_ETOOBIG ? 413 : 400;
			cresp_error(resp, o.status, "body: %s", rc ==
			    CAJA_ETOOBIG ? "too big once decompressed" :
			    "not valid gzip/deflate");
			goto fail_early;
		}
		raw = p.raw.p;
		rawlen = p.raw.len;
	} else {
		o.status = 415;
		cresp_error(resp, 415, "Content-Encoding %s: not supported "
		    "(gzip, deflate or identity)", req->encoding);
		goto fail_early;
	}
	o.bytes_raw = rawlen;
	rc = rawlen == 0 ? CAJA_EDECODE : store_export_frames(raw, rawlen,
	    CLOUD_MAX_EVENTS * 4, &p.f);
	if (rc == CAJA_ETOOBIG || (rc == 0 && p.f.n > conf->max_events)) {
		o.status = 413;
		cresp_error(resp, 413, "more than %zu events: at most %zu per "
		    "push", rc == 0 ? p.f.n : (size_t)CLOUD_MAX_EVENTS * 4,
		    conf->max_events);
		goto fail_early;
	}
	if (rc != 0) {
		o.status = 400;
		cresp_error(resp, 400, "body: not a batch of frames (magic %s, "
		    "then u32 big-endian length and event bytes)",
		    STORE_EXPORT_MAGIC);
		goto fail_early;
	}
	o.pushed = p.f.n;
	/* One request per store at a time (LMDB has one writer): take the
	 * store first, so that waiting pushes do not hold connections. */
	cstore_lock(cs);
	locked = 1;
	if ((rc = cdb_acquire(db, conf->db_wait_ms, &k)) != 0) {
		unavailable(resp, rc, "push");
		goto out;
	}
	p.verdict = calloc(p.f.n + 1, sizeof(*p.verdict));
	p.retry = calloc(p.f.n + 1, 1);
	p.ids = calloc(p.f.n + 1, HASH_LEN);
	p.conflicted = calloc(p.f.n + 1, 1);
	p.held = calloc(p.f.n + 1, sizeof(*p.held));
	p.held_len = calloc(p.f.n + 1, sizeof(*p.held_len));
	p.vc = malloc(sizeof(*p.vc));
	p.ev = malloc(sizeof(*p.ev));
	p.pl = malloc(sizeof(*p.pl));
	p.cids = calloc(p.f.n + 1, ID_LEN);
	if (p.verdict == NULL || p.retry == NULL ||
	    p.ids == NULL || p.conflicted == NULL || p.held == NULL ||
	    p.held_len == NULL || p.vc == NULL || p.ev == NULL ||
	    p.pl == NULL || p.cids == NULL) {
		cresp_error(resp, 500, "out of memory");
		goto out;
	}
	for (i = 0; i < p.f.n; i++)
		sig_hash(p.ids[i], p.f.p[i], p.f.len[i]);

	if (cstore_is_dirty(cs)) {
		rc = cstore_reconcile(cs, db, k, &ins);
		if (rc != 0) {
			unavailable(resp, CAJA_EIO, "push");
			goto out;
		}
		if (ins > 0) {
			cloud_log("store %.8s: reconcile inserted %zu events",
			    cstore_id(cs), ins);
			atomic_fetch_add(&cmet.reconciled, ins);
		}
	}
	/* 1. verify into an LMDB batch */
	t = cloud_mono_us();
	if ((rc = store_batch_begin(cstore_store(cs), &b)) != 0 ||
	    (rc = store_ingest_verdicts(b, p.f.p, p.f.len, p.f.n,
	    cloud_wall_ms(), &p.rep, p.verdict, p.retry)) != 0) {
		cloud_log("store %.8s: ingest: %s", cstore_id(cs),
		    err_str(rc));
		cresp_error(resp, rc == CAJA_EFULL ? 507 : 500, "store: %s",
		    err_str(rc));
		resp->retry_after = 30;
		goto out;
	}
	o.verify_ms = (double)(cloud_mono_us() - t) / 1000.0;
	for (i = 0; i < p.f.n; i++) {
		if (p.verdict[i] == STORE_VERDICT_ACCEPTED ||
		    p.verdict[i] == STORE_VERDICT_DUPLICATE) {
			p.held[nheld] = p.f.p[i];
			p.held_len[nheld++] = p.f.len[i];
		} else if (first_reason == NULL && !p.retry[i])
			first_reason = reason_of(&p, i);
		if (touches_conflicts(&p, i))
			conflicts = 1;
	}
	/* 2. rows into an open PostgreSQL transaction */
	t = cloud_mono_us();
	if ((rc = exec0(db, k, "BEGIN")) != 0 ||
	    (rc = cstore_insert_events(cs, db, k, p.held, p.held_len, nheld,
	    &ins)) != 0)
		goto db_failed;
	/* 3. commit LMDB: from here PostgreSQL may only lag behind */
	if ((rc = store_batch_commit(&b)) != 0) {
		cloud_log("store %.8s: commit: %s", cstore_id(cs),
		    err_str(rc));
		(void)exec0(db, k, "ROLLBACK");
		cstore_set_dirty(cs);	/* the vclock cache saw rows */
		cresp_error(resp, rc == CAJA_EFULL ? 507 : 500, "store: %s",
		    err_str(rc));
		resp->retry_after = 30;
		goto out;
	}
	lmdb_done = 1;
	if (cloud_crash_point("after-lmdb-commit")) {
		cloud_log("CAJA_CLOUD_CRASH=after-lmdb-commit: exiting");
		_exit(70);
	}
	/* 4. conflicts, device state, metrics; commit PostgreSQL */
	if (conflicts && (rc = cstore_sync_conflicts(cs, db, k,
	    (const uint8_t (*)[HASH_LEN])p.ids, p.f.n,
	    (const uint8_t (*)[ID_LEN])p.cids, p.ncids, p.conflicted,
	    &pending)) != 0)
		goto db_failed;
	for (i = 0; i < p.f.n; i++) {
		if (p.verdict[i] == STORE_VERDICT_ACCEPTED && p.conflicted[i])
			o.conflicted++;
		else if (p.verdict[i] == STORE_VERDICT_ACCEPTED)
			o.accepted++;
		else if (p.verdict[i] == STORE_VERDICT_DUPLICATE)
			o.duplicate++;
		else {
			o.rejected++;
			o.retry += p.retry[i] != 0;
		}
	}
	if (!conflicts) {
		json_t	*st = NULL;

		if (store_status_json(cstore_store(cs), &st) == 0)
			pending = (size_t)json_integer_value(
			    json_object_get(st, "conflicts_pending"));
		json_decref(st);
	}
	if ((rc = store_vclock(cstore_store(cs), p.vc)) != 0)
		goto db_failed;
	o.status = 200;
	o.db_ms = (double)(cloud_mono_us() - t) / 1000.0;
	if ((rc = device_state(db, k, cs, req, &o, p.vc, pending,
	    first_reason)) != 0 ||
	    (rc = metrics_row(db, k, cstore_id(cs), &o)) != 0)
		goto db_failed;
	{
		const char	*pv[1] = { cstore_id(cs) };

		if ((rc = cdb_exec(db, k, "UPDATE stores SET last_push_at = "
		    "now() WHERE store_id = $1", 1, pv, NULL, NULL, NULL, NULL,
		    0)) != 0)
			goto db_failed;
	}
	if ((rc = exec0(db, k, "COMMIT")) != 0)
		goto db_failed;
	atomic_fetch_add(&cmet.events_accepted, o.accepted);
	atomic_fetch_add(&cmet.events_duplicate, o.duplicate);
	atomic_fetch_add(&cmet.events_conflicted, o.conflicted);
	atomic_fetch_add(&cmet.events_rejected, o.rejected);
	cstore_unlock(cs);
	locked = 0;
	cdb_release(db, &k);
	if ((j = push_json(&p, cs, &o, pending)) == NULL)
		cresp_error(resp, 500, "out of memory");
	else
		cresp_json(resp, 200, j);
	cloud_debug("push %.8s from %.8s: %zu events: %zu accepted, %zu "
	    "duplicate, %zu conflicted, %zu rejected (%zu retry), %zu new "
	    "rows", cstore_id(cs), req->device ? req->device : "-", p.f.n,
	    o.accepted, o.duplicate, o.conflicted, o.rejected, o.retry, ins);
	goto out;

db_failed:
	(void)exec0(db, k, "ROLLBACK");
	if (lmdb_done) {
		/* LMDB holds what PostgreSQL lacks: heal before next use */
		cstore_set_dirty(cs);
		cloud_log("store %.8s: database failed after the LMDB commit: "
		    "will reconcile", cstore_id(cs));
	}
	unavailable(resp, CAJA_EIO, "push");
	goto out;

fail_early:
	if (req->cs != NULL) {
		o.error = (const char *)resp->body;
		metrics_failure(db, cstore_id(req->cs), &o);
	}
out:
	store_batch_abort(&b);
	if (locked)
		cstore_unlock(cs);
	cdb_release(db, &k);
	pushctx_free(&p);
}

/* ---- head office ---- */

static int
ho_event(json_t *e, const char **type, json_t **payload)
{
	*type = json_string_value(json_object_get(e, "type"));
	*payload = json_object_get(e, "payload");
	return *type != NULL && json_is_object(*payload) ? 0 : CAJA_EINVAL;
}

void
cpush_head_office(const struct cloud_conf *conf, struct cdb *db,
    struct cstore *cs, const uint8_t *body, size_t len, struct cresp *resp)
{
	struct store_batch	*b = NULL;
	struct store_appended	 app;
	struct cdb_conn		*k = NULL;
	struct outcome		 o;
	json_t			*in = NULL, *list, *e, *out = NULL, *arr;
	json_error_t		 jerr;
	json_t			*payload;
	const char		*type;
	char			 errmsg[STORE_ERRMSG], hex[HASH_HEX];
	uint64_t		 first = 0;
	size_t			 i, n, ins = 0;
	int			 rc, locked = 0, dbok = 0;

	memset(&o, 0, sizeof(o));
	o.kind = "head_office";
	o.t0 = cloud_mono_us();
	o.bytes_wire = o.bytes_raw = len;
	in = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (in == NULL) {
		cresp_error(resp, 400, "body: JSON: %s", jerr.text);
		goto out;
	}
	list = json_is_array(in) ? in : json_is_array(json_object_get(in,
	    "events")) ? json_object_get(in, "events") : NULL;
	n = list != NULL ? json_array_size(list) : 1;
	if (n == 0 || n > CLOUD_HO_EVENTS_MAX) {
		cresp_error(resp, 400, "1 to %d events per request",
		    CLOUD_HO_EVENTS_MAX);
		goto out;
	}
	o.pushed = n;
	if ((out = json_object()) == NULL || (arr = json_array()) == NULL ||
	    jset(out, "events", arr) != 0) {
		cresp_error(resp, 500, "out of memory");
		goto out;
	}
	cstore_lock(cs);
	locked = 1;
	if ((rc = cdb_acquire(db, conf->db_wait_ms, &k)) != 0) {
		unavailable(resp, rc, "head-office write");
		goto out;
	}
	if (cstore_is_dirty(cs) && cstore_reconcile(cs, db, k, &ins) != 0) {
		unavailable(resp, CAJA_EIO, "head-office write");
		goto out;
	}
	if ((rc = store_batch_begin(cstore_store(cs), &b)) != 0) {
		cresp_error(resp, 500, "store: %s", err_str(rc));
		goto out;
	}
	for (i = 0; i < n; i++) {
		e = list != NULL ? json_array_get(list, i) : in;
		if (ho_event(e, &type, &payload) != 0) {
			cresp_error(resp, 400, "event %zu: wants {\"type\": "
			    "TYPE, \"payload\": {...}}", i);
			goto out;
		}
		errmsg[0] = '\0';
		rc = store_append_json(b, type, payload, cloud_wall_ms(), &app,
		    errmsg);
		if (rc != 0) {
			cresp_error(resp, rc == CAJA_EFULL ? 507 : 400,
			    "event %zu (%s): %s", i, type, errmsg[0] ? errmsg :
			    err_str(rc));
			goto out;
		}
		if (first == 0)
			first = app.seq;
		if ((e = json_object()) == NULL ||
		    json_array_append_new(arr, e) != 0) {
			cresp_error(resp, 500, "out of memory");
			goto out;
		}
		ids_hex(hex, app.event_id, HASH_LEN);
		(void)jset(e, "event_id", json_string(hex));
		ids_hex(hex, app.device_id, ID_LEN);
		(void)jset(e, "device_id", json_string(hex));
		(void)jset(e, "seq", json_integer((json_int_t)app.seq));
		(void)jset(e, "type", json_string(type));
	}
	/*
	 * LMDB first: the events exist once signed and committed; the rows
	 * follow (a failure there leaves the store dirty, reconciled later;
	 * answering an error would make the caller write them twice).
	 */
	if ((rc = store_batch_commit(&b)) != 0) {
		cresp_error(resp, rc == CAJA_EFULL ? 507 : 500, "store: %s",
		    err_str(rc));
		goto out;
	}
	o.accepted = n;
	o.status = 200;
	if (exec0(db, k, "BEGIN") == 0 &&
	    cstore_insert_own(cs, db, k, first, n, &ins) == 0 &&
	    cstore_sync_conflicts(cs, db, k, NULL, 0, NULL, 0, NULL,
	    NULL) == 0 &&
	    metrics_row(db, k, cstore_id(cs), &o) == 0 &&
	    exec0(db, k, "COMMIT") == 0)
		dbok = 1;
	else {
		(void)exec0(db, k, "ROLLBACK");
		cstore_set_dirty(cs);
	}
	(void)jset(out, "store_id", json_string(cstore_id(cs)));
	(void)jset(out, "db", json_string(dbok ? "stored" : "pending"));
	atomic_fetch_add(&cmet.events_accepted, n);
	cresp_json(resp, 200, out);
	out = NULL;
out:
	store_batch_abort(&b);
	if (locked)
		cstore_unlock(cs);
	cdb_release(db, &k);
	json_decref(in);
	json_decref(out);
}
