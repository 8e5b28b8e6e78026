/*
 * cstore: the stores caja-cloud serves, and their rows in PostgreSQL.
 *
 * DATA/stores/<store id>/ is a caja store (LMDB) joined with an invite
 * (caja-cloud enroll): it holds the cloud's device key and verifies every
 * pushed event with the store library. The events table is derived from
 * it: each event's row carries the exact signed bytes, the payload as
 * JSON, and the author's full vector clock when it wrote the event,
 * rebuilt from the delta causal contexts (per-device cache of the last
 * one; a walk of that device's log on a miss).
 *
 * Reconcile: PostgreSQL holds, per device, the seqs 1..count when its
 * count equals its max(seq) (seq is unique per device); everything past
 * that, or the whole device otherwise, is inserted again from LMDB with
 * ON CONFLICT DO NOTHING. Run at every open and whenever a request failed
 * between the LMDB commit and the PostgreSQL commit (dirty).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "proto/event.h"
#include "proto/schema.h"
#include "tools/caja-cloud/cloud.h"

#define ROWS_PER_STMT	2000
#define RECONCILE_CHUNK	1000

struct vvc {
	uint8_t		dev[ID_LEN];
	uint64_t	seq;
	struct vclock	vv;
};

struct cstore {
	struct cstore	*next;
	char		 id_hex[ID_HEX];
	uint8_t		 id[ID_LEN];
	char		 dev_hex[ID_HEX];
	pthread_mutex_t	 mu;
	struct store	*s;
	int		 dirty;
	struct vvc	*vv;
	size_t		 nvv, capvv;
};

struct cstores {
	pthread_mutex_t	 mu;
	struct cstore	*list;
	size_t		 n;
	char		*dir;
	struct cdb	*db;
};

/* ---- vector clocks of events ---- */

static struct vvc *
vv_slot(struct cstore *cs, const uint8_t dev[ID_LEN], int create)
{
	struct vvc	*n;
	size_t		 i;

	for (i = 0; i < cs->nvv; i++)
		if (memcmp(cs->vv[i].dev, dev, ID_LEN) == 0)
			return &cs->vv[i];
	if (!create)
		return NULL;
	if (cs->nvv == cs->capvv) {
		n = realloc(cs->vv, (cs->capvv + 8) * sizeof(*n));
		if (n == NULL)
			return NULL;
		cs->vv = n;
		cs->capvv += 8;
	}
	n = &cs->vv[cs->nvv++];
	memset(n, 0, sizeof(*n));
	memcpy(n->dev, dev, ID_LEN);
	vclock_init(&n->vv);
	return n;
}

/* The full vector clock of ev given that of its author's previous. */
static int
vv_next(struct vclock *vv, const struct event *ev)
{
	int	rc;

	if ((rc = vclock_set(vv, ev->dev, 0)) != 0 ||
	    (rc = vclock_apply_delta(vv, &ev->ctx)) != 0)
		return rc;
	return vclock_set(vv, ev->dev, ev->seq);
}

struct walk {
	uint64_t	 seq;
	struct vclock	*vv;
	struct event	*ev;
};

static int
walk_cb(void *arg, uint64_t seq, const uint8_t *p, size_t len)
{
	struct walk	*w = arg;
	int		 rc;

	if (seq != w->seq + 1 || event_decode(w->ev, p, len) != 0)
		return CAJA_ECORRUPT;
	if ((rc = vv_next(w->vv, w->ev)) != 0)
		return rc;
	w->seq = seq;
	return 0;
}

/*
 * The full vector clock of (dev, seq); seq 0 is the empty clock. From the
 * cache, else by walking the device's log from the cached point (or its
 * start) applying each event's delta context.
 */
static int
vv_at(struct cstore *cs, const uint8_t dev[ID_LEN], uint64_t seq,
    struct vclock *out)
{
	struct vvc	*c;
	struct walk	 w;
	size_t		 got = 0;
	int		 rc;

	vclock_init(out);
	if (seq == 0)
		return 0;
	if ((c = vv_slot(cs, dev, 1)) == NULL)
		return CAJA_ENOMEM;
	if (c->seq == seq) {
		*out = c->vv;
		return 0;
	}
	memset(&w, 0, sizeof(w));
	w.vv = out;
	if (c->seq != 0 && c->seq < seq) {
		*out = c->vv;
		w.seq = c->seq;
	}
	if ((w.ev = malloc(sizeof(*w.ev))) == NULL)
		return CAJA_ENOMEM;
	rc = store_frames_range(cs->s, dev, w.seq + 1, (size_t)(seq - w.seq),
	    0, walk_cb, &w, &got);
	if (rc == 0 && w.seq != seq)
		rc = CAJA_ECORRUPT;
	if (rc == 0) {
		c->seq = seq;
		c->vv = *out;
	}
	free(w.ev);
	return rc;
}

static void
vv_forget(struct cstore *cs)
{
	cs->nvv = 0;
}

/* ---- event rows ---- */

struct row {
	char		 event_id[HASH_HEX];
	char		 device[ID_HEX];
	char		 seq[24];
	char		 prev[HASH_HEX];
	int		 has_prev;
	const char	*type;
	char		 entity[EVENT_ENTITY_MAX + 1];
	char		*payload;
	const uint8_t	*delta;
	size_t		 delta_len;
	char		 state[HASH_HEX];
	char		*vv;
	char		*ctx;
	const uint8_t	*frame;
	size_t		 frame_len;
	char		 hlc[24];
};

static void
row_free(struct row *r)
{
	free(r->payload);
	free(r->vv);
	free(r->ctx);
	r->payload = r->vv = r->ctx = NULL;
}

static char *
dumps(json_t *j)
{
	char	*s;

	if (j == NULL)
		return NULL;
	s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(j);
	return s;
}

static int
row_make(struct cstore *cs, struct event *ev, const uint8_t *frame,
    size_t len, struct row *r)
{
	static const uint8_t	 zero[HASH_LEN];
	struct vclock		*vv = NULL;
	uint8_t			 id[HASH_LEN];
	json_t			*pl = NULL;
	const char		*tn;
	int			 rc;

	memset(r, 0, sizeof(*r));
	if ((rc = event_decode(ev, frame, len)) != 0)
		return rc;
	if ((vv = malloc(sizeof(*vv))) == NULL)
		return CAJA_ENOMEM;
	if ((rc = vv_at(cs, ev->dev, ev->seq - 1, vv)) != 0 ||
	    (rc = vv_next(vv, ev)) != 0)
		goto out;
	event_id(ev, id);
	ids_hex(r->event_id, id, HASH_LEN);
	ids_hex(r->device, ev->dev, ID_LEN);
	snprintf(r->seq, sizeof(r->seq), "%" PRIu64, ev->seq);
	r->has_prev = memcmp(ev->prev, zero, HASH_LEN) != 0;
	ids_hex(r->prev, ev->prev, HASH_LEN);
	tn = event_type_name(ev->type);
	r->type = tn != NULL ? tn : "?";
	snprintf(r->entity, sizeof(r->entity), "%s", ev->entity);
	if (schema_to_json(ev->type, ev->payload, ev->payload_len, &pl) != 0)
		pl = json_null();
	r->payload = dumps(pl);
	r->delta = ev->payload;
	r->delta_len = ev->payload_len;
	ids_hex(r->state, ev->state, HASH_LEN);
	r->vv = dumps(evjson_vclock(vv));
	r->ctx = dumps(evjson_vclock(&ev->ctx));
	r->frame = frame;
	r->frame_len = len;
	snprintf(r->hlc, sizeof(r->hlc), "%" PRIu64, ev->hlc);
	if (r->payload == NULL || r->vv == NULL || r->ctx == NULL) {
		rc = CAJA_ENOMEM;
		goto out;
	}
	/* the cache follows the device's chain forward */
	{
		struct vvc	*c = vv_slot(cs, ev->dev, 1);

		if (c != NULL) {
			c->seq = ev->seq;
			c->vv = *vv;
		}
	}
out:
	if (rc != 0)
		row_free(r);
	free(vv);
	return rc;
}

/* One COPY text field: backslash, tab, newline and CR escaped. */
static int
copy_text(struct buf *b, const char *s, size_t n)
{
	size_t	i, j;
	int	rc;

	if (s == NULL)
		return buf_add(b, "\\N", 2);
	for (i = j = 0; i < n; i++) {
		const char	*esc = NULL;

		switch (s[i]) {
		case '\\': esc = "\\\\"; break;
		case '\t': esc = "\\t"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		default: continue;
		}
		if ((rc = buf_add(b, s + j, i - j)) != 0 ||
		    (rc = buf_add(b, esc, 2)) != 0)
			return rc;
		j = i + 1;
	}
	return buf_add(b, s + j, n - j);
}

static int
copy_str(struct buf *b, const char *s, int last)
{
	int	rc;

	if ((rc = copy_text(b, s, s != NULL ? strlen(s) : 0)) != 0)
		return rc;
	return buf_add(b, last ? "\n" : "\t", 1);
}

/* bytea in COPY text: \\x and hex digits. */
static int
copy_bytes(struct buf *b, const uint8_t *p, size_t n)
{
	static const char	hex[] = "0123456789abcdef";
	size_t			i;
	int			rc;

	if ((rc = buf_reserve(b, 3 + 2 * n + 1)) != 0)
		return rc;
	memcpy(b->p + b->len, "\\\\x", 3);
	b->len += 3;
	for (i = 0; i < n; i++) {
		b->p[b->len++] = (uint8_t)hex[p[i] >> 4];
		b->p[b->len++] = (uint8_t)hex[p[i] & 15];
	}
	b->p[b->len++] = '\t';
	return 0;
}

static const char	stage_sql[] =
"CREATE TEMP TABLE IF NOT EXISTS caja_events_in (event_id text, "
"device_id text, seq bigint, prev_event_id text, type text, entity_id text, "
"payload jsonb, delta_payload bytea, full_payload_hash text, "
"vector_clock jsonb, causal_dependencies jsonb, signed_bytes bytea, "
"hlc bigint)";

static const char	insert_sql[] =
"INSERT INTO events (store_id, event_id, device_id, seq, prev_event_id, "
"type, entity_id, payload, delta_payload, full_payload_hash, vector_clock, "
"causal_dependencies, signed_bytes, hlc, created_at) "
"SELECT $1, event_id, device_id, seq, prev_event_id, type, entity_id, "
"payload, delta_payload, full_payload_hash, vector_clock, "
"causal_dependencies, signed_bytes, hlc, "
"to_timestamp((hlc >> 16)::double precision / 1000) FROM caja_events_in "
"ON CONFLICT DO NOTHING RETURNING 1";

/*
 * Rows go through COPY into a session temp table, then one INSERT ...
 * SELECT: a multi-row VALUES of thousands of parameters costs ~8x more to
 * parse and bind than the insert itself.
 */
static int
insert_rows(struct cstore *cs, struct cdb *db, struct cdb_conn *k,
    struct row *rows, size_t n, size_t *inserted)
{
	struct buf	 data;
	PGresult	*res = NULL;
	const char	*pv[1];
	char		 err[CLOUD_ERRMSG];
	size_t		 i;
	int		 rc = 0;

	buf_init(&data, 0);
	for (i = 0; i < n && rc == 0; i++) {
		struct row	*r = &rows[i];

		if ((rc = copy_str(&data, r->event_id, 0)) ||
		    (rc = copy_str(&data, r->device, 0)) ||
		    (rc = copy_str(&data, r->seq, 0)) ||
		    (rc = copy_str(&data, r->has_prev ? r->prev : NULL, 0)) ||
		    (rc = copy_str(&data, r->type, 0)) ||
		    (rc = copy_str(&data, r->entity, 0)) ||
		    (rc = copy_str(&data, r->payload, 0)) ||
		    (rc = copy_bytes(&data, r->delta, r->delta_len)) ||
		    (rc = copy_str(&data, r->state, 0)) ||
		    (rc = copy_str(&data, r->vv, 0)) ||
		    (rc = copy_str(&data, r->ctx, 0)) ||
		    (rc = copy_bytes(&data, r->frame, r->frame_len)) ||
		    (rc = copy_str(&data, r->hlc, 1)))
			break;
	}
	if (rc != 0)
		goto out;
	pv[0] = cs->id_hex;
	if ((rc = cdb_exec(db, k, stage_sql, 0, NULL, NULL, NULL, NULL, err,
	    sizeof(err))) != 0 ||
	    (rc = cdb_exec(db, k, "TRUNCATE caja_events_in", 0, NULL, NULL,
	    NULL, NULL, err, sizeof(err))) != 0 ||
	    (rc = cdb_copy(db, k, "COPY caja_events_in FROM STDIN", data.p,
	    data.len, err, sizeof(err))) != 0 ||
	    (rc = cdb_exec(db, k, insert_sql, 1, pv, NULL, NULL, &res, err,
	    sizeof(err))) != 0) {
		cloud_log("store %.8s: insert events: %s", cs->id_hex, err);
		goto out;
	}
	*inserted += (size_t)PQntuples(res);
out:
	PQclear(res);
	buf_reset(&data);
	return rc;
}

struct ord {
	size_t		idx;
	uint8_t		dev[ID_LEN];
	uint64_t	seq;
};

static int
ord_cmp(const void *x, const void *y)
{
	const struct ord	*a = x, *b = y;
	int			 c;

	if ((c = memcmp(a->dev, b->dev, ID_LEN)) != 0)
		return c;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

int
cstore_insert_events(struct cstore *cs, struct cdb *db, struct cdb_conn *k,
    const uint8_t *const *frames, const size_t *lens, size_t n,
    size_t *inserted)
{
	struct event	*ev = NULL;
	struct ord	*ord = NULL;
	struct row	*rows = NULL;
	size_t		 i, m = 0;
	int		 rc = 0;

	*inserted = 0;
	if (n == 0)
		return 0;
	ev = malloc(sizeof(*ev));
	ord = calloc(n, sizeof(*ord));
	rows = calloc(ROWS_PER_STMT, sizeof(*rows));
	if (ev == NULL || ord == NULL || rows == NULL) {
		rc = CAJA_ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((rc = event_decode(ev, frames[i], lens[i])) != 0)
			goto out;
		ord[i].idx = i;
		memcpy(ord[i].dev, ev->dev, ID_LEN);
		ord[i].seq = ev->seq;
	}
	qsort(ord, n, sizeof(*ord), ord_cmp);
	for (i = 0; i < n; i++) {
		if (i > 0 && ord_cmp(&ord[i - 1], &ord[i]) == 0)
			continue;	/* the same event twice in a push */
		if ((rc = row_make(cs, ev, frames[ord[i].idx],
		    lens[ord[i].idx], &rows[m])) != 0)
			goto out;
		if (++m == ROWS_PER_STMT) {
			rc = insert_rows(cs, db, k, rows, m, inserted);
			while (m > 0)
				row_free(&rows[--m]);
			if (rc != 0)
				goto out;
		}
	}
	if (m > 0)
		rc = insert_rows(cs, db, k, rows, m, inserted);
out:
	while (rows != NULL && m > 0)
		row_free(&rows[--m]);
	if (rc != 0)
		vv_forget(cs);
	free(rows);
	free(ord);
	free(ev);
	return rc;
}

/* ---- conflicts ---- */

static const char	upsert_conflicts[] =
"INSERT INTO sync_conflicts AS s (conflict_id, store_id, event_id_a, "
"event_id_b, conflict_type, entity_type, entity_id, field, "
"resolution_strategy, resolution_status, resolution_value, resolved_by, "
"resolved_at, priority, competing_values) "
"SELECT c.conflict_id, $1, c.\"values\"->0->>'event_id', "
"c.\"values\"->1->>'event_id', c.conflict_type, c.entity_type, "
"c.entity_id, c.field, c.resolution_strategy, c.resolution_status, "
"c.resolution_value, c.resolved_by, c.resolved_at, c.priority, "
"c.\"values\" FROM jsonb_to_recordset($2::jsonb) AS c(conflict_id text, "
"conflict_type text, entity_type text, entity_id text, field text, "
"resolution_strategy text, resolution_status text, priority text, "
"resolution_value jsonb, resolved_by text, resolved_at timestamptz, "
"\"values\" jsonb) "
"ON CONFLICT (conflict_id) DO UPDATE SET "
"resolution_status = EXCLUDED.resolution_status, "
"resolution_value = EXCLUDED.resolution_value, "
"resolved_by = EXCLUDED.resolved_by, resolved_at = EXCLUDED.resolved_at, "
"competing_values = EXCLUDED.competing_values, updated_at = now() "
"WHERE s.resolution_status IS DISTINCT FROM EXCLUDED.resolution_status "
"OR s.competing_values IS DISTINCT FROM EXCLUDED.competing_values";

/*
 * By event id alone (the primary key; ids are unique across stores): a
 * store_id condition here made the planner walk the store's rows.
 */
static const char	mark_events[] =
"UPDATE events e SET conflict_status = x.st FROM ("
"SELECT v->>'event_id' AS id, CASE WHEN bool_or(c.resolution_status = "
"'pending') THEN 'conflicted' ELSE 'resolved' END AS st "
"FROM jsonb_to_recordset($1::jsonb) AS c(resolution_status text, "
"\"values\" jsonb), jsonb_array_elements(c.\"values\") v GROUP BY 1) x "
"WHERE e.event_id = x.id AND e.conflict_status IS DISTINCT FROM x.st";

static int
id_cmp(const void *a, const void *b)
{
	return memcmp(a, b, HASH_LEN);
}

static int
cid_cmp(const void *a, const void *b)
{
	return memcmp(a, b, ID_LEN);
}

/* 1 when conflict c is one of this push's (see cstore_sync_conflicts). */
static int
relevant(json_t *c, uint8_t (*sorted)[HASH_LEN], size_t nids,
    uint8_t (*csorted)[ID_LEN], size_t ncids)
{
	json_t		*v;
	const char	*h;
	uint8_t		 id[HASH_LEN];
	size_t		 j;

	h = json_string_value(json_object_get(c, "conflict_id"));
	if (h != NULL && ncids > 0 && ids_unhex(id, ID_LEN, h) == 0 &&
	    bsearch(id, csorted, ncids, ID_LEN, cid_cmp) != NULL)
		return 1;
	json_array_foreach(json_object_get(c, "values"), j, v) {
		h = json_string_value(json_object_get(v, "event_id"));
		if (h != NULL && ids_unhex(id, HASH_LEN, h) == 0 &&
		    bsearch(id, sorted, nids, HASH_LEN, id_cmp) != NULL)
			return 1;
	}
	return 0;
}

int
cstore_sync_conflicts(struct cstore *cs, struct cdb *db, struct cdb_conn *k,
    const uint8_t (*ids)[HASH_LEN], size_t nids,
    const uint8_t (*cids)[ID_LEN], size_t ncids, uint8_t *conflicted,
    size_t *pending)
{
	json_t		*all = NULL, *sel = NULL, *c, *vals, *v;
	const char	*pv[2], *st;
	char		*text = NULL, err[CLOUD_ERRMSG];
	uint8_t		(*sorted)[HASH_LEN] = NULL, (*csorted)[ID_LEN] = NULL;
	uint8_t		 id[HASH_LEN];
	size_t		 i, j, x, np = 0;
	int		 rc;

	if (pending != NULL)
		*pending = 0;
	if ((rc = store_conflicts_json(cs->s, 1, &all)) != 0)
		return rc;
	if (ids != NULL) {
		sorted = malloc(nids * HASH_LEN + 1);
		csorted = malloc(ncids * ID_LEN + 1);
		if (sorted == NULL || csorted == NULL ||
		    (sel = json_array()) == NULL) {
			rc = CAJA_ENOMEM;
			goto out;
		}
		memcpy(sorted, ids, nids * HASH_LEN);
		qsort(sorted, nids, HASH_LEN, id_cmp);
		if (ncids > 0) {
			memcpy(csorted, cids, ncids * ID_LEN);
			qsort(csorted, ncids, ID_LEN, cid_cmp);
		}
	}
	json_array_foreach(all, i, c) {
		st = json_string_value(json_object_get(c,
		    "resolution_status"));
		if (st != NULL && strcmp(st, "pending") == 0)
			np++;
		if (sel == NULL)
			continue;
		if (!relevant(c, sorted, nids, csorted, ncids))
			continue;
		if (json_array_append(sel, c) != 0) {
			rc = CAJA_ENOMEM;
			goto out;
		}
		if (st == NULL || strcmp(st, "pending") != 0 ||
		    conflicted == NULL)
			continue;
		vals = json_object_get(c, "values");
		json_array_foreach(vals, j, v) {
			const char	*h = json_string_value(
			    json_object_get(v, "event_id"));

			if (h == NULL || ids_unhex(id, HASH_LEN, h) != 0)
				continue;
			for (x = 0; x < nids; x++)
				if (memcmp(ids[x], id, HASH_LEN) == 0)
					conflicted[x] = 1;
		}
	}
	if (json_array_size(sel != NULL ? sel : all) == 0)
		goto out;
	if ((text = json_dumps(sel != NULL ? sel : all, JSON_COMPACT)) ==
	    NULL) {
		rc = CAJA_ENOMEM;
		goto out;
	}
	pv[0] = cs->id_hex;
	pv[1] = text;
	if ((rc = cdb_exec(db, k, upsert_conflicts, 2, pv, NULL, NULL, NULL,
	    err, sizeof(err))) != 0 ||
	    (rc = cdb_exec(db, k, mark_events, 1, pv + 1, NULL, NULL, NULL,
	    err, sizeof(err))) != 0)
		cloud_log("store %.8s: conflicts: %s", cs->id_hex, err);
out:
	if (pending != NULL)
		*pending = np;
	free(sorted);
	free(csorted);
	free(text);
	json_decref(sel);
	json_decref(all);
	return rc;
}

/* ---- reconcile ---- */

struct recon {
	struct cstore	*cs;
	struct cdb	*db;
	struct cdb_conn	*k;
	struct buf	 data;
	size_t		 off[RECONCILE_CHUNK];
	size_t		 len[RECONCILE_CHUNK];
	size_t		 n;
	size_t		 inserted;
};

static int
exec_simple(struct cdb *db, struct cdb_conn *k, const char *sql)
{
	return cdb_exec(db, k, sql, 0, NULL, NULL, NULL, NULL, NULL, 0);
}

static int
recon_flush(struct recon *r)
{
	const uint8_t	*fr[RECONCILE_CHUNK];
	size_t		 i, got = 0;
	int		 rc;

	if (r->n == 0)
		return 0;
	for (i = 0; i < r->n; i++)
		fr[i] = r->data.p + r->off[i];
	if ((rc = exec_simple(r->db, r->k, "BEGIN")) != 0)
		return rc;
	rc = cstore_insert_events(r->cs, r->db, r->k, fr, r->len, r->n,
	    &got);
	if (rc == 0)
		rc = exec_simple(r->db, r->k, "COMMIT");
	else
		(void)exec_simple(r->db, r->k, "ROLLBACK");
	r->inserted += got;
	r->n = 0;
	buf_clear(&r->data);
	return rc;
}

static int
recon_cb(void *arg, const uint8_t *p, size_t len)
{
	struct recon	*r = arg;
	int		 rc;

	r->off[r->n] = r->data.len;
	r->len[r->n] = len;
	if ((rc = buf_add(&r->data, p, len)) != 0)
		return rc;
	if (++r->n == RECONCILE_CHUNK)
		return recon_flush(r);
	return 0;
}

static int
register_store(struct cstore *cs, struct cdb *db, struct cdb_conn *k)
{
	json_t		*st = NULL;
	const char	*pv[3];
	int		 rc;

	if ((rc = store_status_json(cs->s, &st)) != 0)
		return rc;
	pv[0] = cs->id_hex;
	pv[1] = json_string_value(json_object_get(st, "store_name"));
	pv[2] = cs->dev_hex;
	rc = cdb_exec(db, k, "INSERT INTO stores (store_id, name, "
	    "cloud_device_id) VALUES ($1, $2, $3) ON CONFLICT (store_id) DO "
	    "UPDATE SET name = COALESCE(EXCLUDED.name, stores.name), "
	    "cloud_device_id = EXCLUDED.cloud_device_id", 3, pv, NULL, NULL,
	    NULL, NULL, 0);
	json_decref(st);
	return rc;
}

int
cstore_reconcile(struct cstore *cs, struct cdb *db, struct cdb_conn *k,
    size_t *inserted)
{
	struct vclock	*have = NULL, *since = NULL;
	struct recon	*r = NULL;
	PGresult	*res = NULL;
	const char	*pv[1];
	uint8_t		 dev[ID_LEN];
	uint64_t	 cnt, max, seq;
	uint32_t	 i;
	int		 rc, behind = 0, row;

	*inserted = 0;
	have = malloc(sizeof(*have));
	since = malloc(sizeof(*since));
	r = calloc(1, sizeof(*r));
	if (have == NULL || since == NULL || r == NULL) {
		rc = CAJA_ENOMEM;
		goto out;
	}
	buf_init(&r->data, 0);
	if ((rc = register_store(cs, db, k)) != 0)
		goto out;
	if ((rc = store_vclock(cs->s, have)) != 0)
		goto out;
	pv[0] = cs->id_hex;
	if ((rc = cdb_exec(db, k, "SELECT device_id, count(*), max(seq) FROM "
	    "events WHERE store_id = $1 GROUP BY device_id", 1, pv, NULL, NULL,
	    &res, NULL, 0)) != 0)
		goto out;
	vclock_init(since);
	for (row = 0; row < PQntuples(res); row++) {
		if (ids_unhex(dev, ID_LEN, PQgetvalue(res, row, 0)) != 0)
			continue;
		cnt = strtoull(PQgetvalue(res, row, 1), NULL, 10);
		max = strtoull(PQgetvalue(res, row, 2), NULL, 10);
		if (cnt == max && vclock_get(have, dev) != 0 &&
		    (rc = vclock_set(since, dev, max)) != 0)
			goto out;
	}
	for (i = 0; i < have->n; i++) {
		seq = vclock_get(since, have->e[i].dev);
		if (have->e[i].seq > seq)
			behind = 1;
	}
	if (behind) {
		r->cs = cs;
		r->db = db;
		r->k = k;
		rc = store_frames_since(cs->s, since, 0, recon_cb, r);
		if (rc == 0)
			rc = recon_flush(r);
		*inserted = r->inserted;
		if (rc != 0)
			goto out;
	}
	if ((rc = exec_simple(db, k, "BEGIN")) != 0)
		goto out;
	rc = cstore_sync_conflicts(cs, db, k, NULL, 0, NULL, 0, NULL, NULL);
	if (rc == 0)
		rc = exec_simple(db, k, "COMMIT");
	else
		(void)exec_simple(db, k, "ROLLBACK");
	if (rc == 0)
		cs->dirty = 0;
out:
	PQclear(res);
	if (r != NULL)
		buf_reset(&r->data);
	free(r);
	free(have);
	free(since);
	return rc;
}

/* ---- the registry ---- */

void
cstore_lock(struct cstore *cs)
{
	pthread_mutex_lock(&cs->mu);
}

void
cstore_unlock(struct cstore *cs)
{
	pthread_mutex_unlock(&cs->mu);
}

struct store *
cstore_store(struct cstore *cs)
{
	return cs->s;
}

const char *
cstore_id(const struct cstore *cs)
{
	return cs->id_hex;
}

int
cstore_is_dirty(const struct cstore *cs)
{
	return cs->dirty;
}

void
cstore_set_dirty(struct cstore *cs)
{
	cs->dirty = 1;
	vv_forget(cs);
}

static int
is_hex_id(const char *s)
{
	uint8_t	b[ID_LEN];

	return s != NULL && strlen(s) == ID_HEX - 1 &&
	    ids_unhex(b, ID_LEN, s) == 0 && strspn(s,
	    "0123456789abcdef") == ID_HEX - 1;
}

static void
cstore_free(struct cstore *cs)
{
	if (cs == NULL)
		return;
	store_close(&cs->s);
	pthread_mutex_destroy(&cs->mu);
	free(cs->vv);
	free(cs);
}

/* Opens DIR/<id> (caller holds the registry lock). */
static int
open_one(struct cstores *r, const char *id, struct cstore **out)
{
	struct cstore		*cs;
	struct store_ids	 ids;
	char			*path = NULL;
	int			 rc;

	*out = NULL;
	if ((cs = calloc(1, sizeof(*cs))) == NULL)
		return CAJA_ENOMEM;
	pthread_mutex_init(&cs->mu, NULL);
	if (asprintf(&path, "%s/%s", r->dir, id) < 0) {
		path = NULL;
		rc = CAJA_ENOMEM;
		goto fail;
	}
	if ((rc = store_open(&cs->s, path, NULL)) != 0)
		goto fail;
	store_ids(cs->s, &ids);
	ids_hex(cs->id_hex, ids.store_id, ID_LEN);
	if (strcmp(cs->id_hex, id) != 0) {
		cloud_log("%s: holds store %s: skipped", path, cs->id_hex);
		rc = CAJA_ECORRUPT;
		goto fail;
	}
	memcpy(cs->id, ids.store_id, ID_LEN);
	ids_hex(cs->dev_hex, ids.device_id, ID_LEN);
	cs->dirty = 1;		/* reconcile before first use */
	free(path);
	*out = cs;
	return 0;
fail:
	free(path);
	cstore_free(cs);
	return rc;
}

/* Reconciles a newly opened store when the database is up. */
static void
first_reconcile(struct cstores *r, struct cstore *cs)
{
	struct cdb_conn	*k = NULL;
	size_t		 n = 0;
	int		 rc;

	if (cdb_acquire(r->db, 1000, &k) != 0) {
		cloud_log("store %s: database unavailable: reconcile later",
		    cs->id_hex);
		return;
	}
	cstore_lock(cs);
	rc = cstore_reconcile(cs, r->db, k, &n);
	cstore_unlock(cs);
	cdb_release(r->db, &k);
	if (rc != 0)
		cloud_log("store %s: reconcile: %s (retried on next use)",
		    cs->id_hex, err_str(rc));
	else if (n > 0) {
		cloud_log("store %s: reconcile inserted %zu events", cs->id_hex,
		    n);
		atomic_fetch_add(&cmet.reconciled, n);
	}
}

int
cstores_open(struct cstores **out, const char *data_dir, struct cdb *db)
{
	struct cstores	*r;
	struct cstore	*cs;
	struct dirent	*de;
	DIR		*d;
	int		 rc;

	*out = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return CAJA_ENOMEM;
	pthread_mutex_init(&r->mu, NULL);
	r->db = db;
	if (asprintf(&r->dir, "%s/%s", data_dir, CLOUD_STORES_DIR) < 0) {
		r->dir = NULL;
		cstores_close(&r);
		return CAJA_ENOMEM;
	}
	if ((d = opendir(r->dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (!is_hex_id(de->d_name))
				continue;
			if ((rc = open_one(r, de->d_name, &cs)) != 0) {
				cloud_log("store %s: %s", de->d_name,
				    err_str(rc));
				continue;
			}
			cs->next = r->list;
			r->list = cs;
			r->n++;
		}
		closedir(d);
	}
	for (cs = r->list; cs != NULL; cs = cs->next)
		first_reconcile(r, cs);
	*out = r;
	return 0;
}

void
cstores_close(struct cstores **rp)
{
	struct cstores	*r;
	struct cstore	*cs, *next;

	if (rp == NULL || (r = *rp) == NULL)
		return;
	*rp = NULL;
	for (cs = r->list; cs != NULL; cs = next) {
		next = cs->next;
		cstore_free(cs);
	}
	pthread_mutex_destroy(&r->mu);
	free(r->dir);
	free(r);
}

size_t
cstores_count(struct cstores *r)
{
	size_t	n;

	pthread_mutex_lock(&r->mu);
	n = r->n;
	pthread_mutex_unlock(&r->mu);
	return n;
}

int
cstores_get(struct cstores *r, const char *id, struct cstore **out)
{
	struct cstore	*cs;
	struct stat	 st;
	char		*path = NULL;
	int		 rc = 0, fresh = 0;

	*out = NULL;
	if (!is_hex_id(id))
		return CAJA_ENOTFOUND;
	pthread_mutex_lock(&r->mu);
	for (cs = r->list; cs != NULL; cs = cs->next)
		if (strcmp(cs->id_hex, id) == 0)
			break;
	if (cs == NULL) {
		/* enrolled while serving: open it now */
		if (asprintf(&path, "%s/%s/data.mdb", r->dir, id) < 0) {
			path = NULL;
			rc = CAJA_ENOMEM;
		} else if (stat(path, &st) != 0)
			rc = CAJA_ENOTFOUND;
		else if ((rc = open_one(r, id, &cs)) == 0) {
			cs->next = r->list;
			r->list = cs;
			r->n++;
			fresh = 1;
		}
	}
	pthread_mutex_unlock(&r->mu);
	free(path);
	if (rc != 0)
		return rc;
	if (fresh) {
		cloud_log("store %s: opened", cs->id_hex);
		first_reconcile(r, cs);
	}
	*out = cs;
	return 0;
}

/* ---- the cloud's own events (head office) ---- */

struct own {
	struct buf	 data;
	size_t		*off, *len;
	size_t		 n;
};

static int
own_cb(void *arg, uint64_t seq, const uint8_t *p, size_t len)
{
	struct own	*o = arg;
	int		 rc;

	(void)seq;
	o->off[o->n] = o->data.len;
	o->len[o->n] = len;
	if ((rc = buf_add(&o->data, p, len)) != 0)
		return rc;
	o->n++;
	return 0;
}

int
cstore_insert_own(struct cstore *cs, struct cdb *db, struct cdb_conn *k,
    uint64_t first, size_t n, size_t *inserted)
{
	struct store_ids	 ids;
	struct own		 o;
	const uint8_t		**fr = NULL;
	size_t			 i, got = 0;
	int			 rc;

	*inserted = 0;
	memset(&o, 0, sizeof(o));
	buf_init(&o.data, 0);
	if (n == 0 || first == 0)
		return 0;
	store_ids(cs->s, &ids);
	o.off = calloc(n, sizeof(*o.off));
	o.len = calloc(n, sizeof(*o.len));
	fr = calloc(n, sizeof(*fr));
	if (o.off == NULL || o.len == NULL || fr == NULL) {
		rc = CAJA_ENOMEM;
		goto out;
	}
	if ((rc = store_frames_range(cs->s, ids.device_id, first, n, 0,
	    own_cb, &o, &got)) != 0)
		goto out;
	for (i = 0; i < o.n; i++)
		fr[i] = o.data.p + o.off[i];
	rc = cstore_insert_events(cs, db, k, fr, o.len, o.n, inserted);
out:
	buf_reset(&o.data);
	free(o.off);
	free(o.len);
	free(fr);
	return rc;
}
