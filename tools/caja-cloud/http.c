/*
 * http: caja-cloud's HTTP server (libmicrohttpd), routing, the per-device
 * rate limiter and the Prometheus counters.
 *
 * One thread per connection, at most conf->max_conns connections: a
 * handler blocks on LMDB or PostgreSQL without holding up the others, and
 * the database pool bounds how many of them wait on the database at once
 * (db.c). Cheap refusals (unknown store, rate limit, database down or
 * slow, body too big) are answered from the request headers, before the
 * body is read.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "proto/cloudreq.h"
#include "proto/gzip.h"
#include "proto/sig.h"
#include "tools/caja-cloud/cloud.h"

struct cmet	cmet;

enum route {
	RT_OTHER,
	RT_PUSH,
	RT_PULL,
	RT_HEALTH,
	RT_METRICS,
	RT_HO_EVENTS,
	RT_HO_STATUS,
	RT_COUNT
};

static const char *const route_names[RT_COUNT] = {
	"other", "push", "pull", "health", "metrics", "head_office_events",
	"head_office_status"
};

#define NSTATUS		600
#define NBUCKETS	11
static const double	bucket_s[NBUCKETS] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
};

static atomic_ullong	req_count[RT_COUNT][NSTATUS];
static atomic_ullong	push_hist[NBUCKETS + 1];
static atomic_ullong	push_sum_us;
static atomic_ullong	push_n;

/* ---- rate limiter ---- */

struct bucket {
	char		key[48];
	double		tokens;
	uint64_t	last_ms;
	int		used;
};

struct crate {
	pthread_mutex_t	 mu;
	double		 rate, burst;
	struct bucket	*b;
	size_t		 n;
};

/* 0 when allowed; else the seconds to wait. */
static int
crate_take(struct crate *r, const char *key)
{
	struct bucket	*b = NULL, *old = NULL;
	uint64_t	 now = cloud_mono_ms();
	size_t		 i;
	int		 wait = 0;

	if (r->rate <= 0)
		return 0;
	pthread_mutex_lock(&r->mu);
	for (i = 0; i < r->n; i++) {
		if (r->b[i].used && strcmp(r->b[i].key, key) == 0) {
			b = &r->b[i];
			break;
		}
		if (old == NULL || !r->b[i].used ||
		    (old->used && r->b[i].last_ms < old->last_ms))
			old = &r->b[i];
	}
	if (b == NULL && old == NULL) {
		pthread_mutex_unlock(&r->mu);
		return 0;
	}
	if (b == NULL) {
		/* the least recently seen key makes room: a full bucket */
		b = old;
		snprintf(b->key, sizeof(b->key), "%s", key);
		b->tokens = r->burst;
		b->last_ms = now;
		b->used = 1;
	}
	b->tokens += (double)(now - b->last_ms) * r->rate / 1000.0;
	if (b->tokens > r->burst)
		b->tokens = r->burst;
	b->last_ms = now;
	if (b->tokens >= 1.0)
		b->tokens -= 1.0;
	else {
		wait = (int)ceil((1.0 - b->tokens) / r->rate);
		if (wait < 1)
			wait = 1;
	}
	pthread_mutex_unlock(&r->mu);
	return wait;
}

/* ---- the server ---- */

struct chttp {
	struct MHD_Daemon		*d;
	const struct cloud_conf		*conf;
	struct cdb			*db;
	struct cstores			*stores;
	char				 token[CLOUD_TOKEN_LEN + 1];
	struct crate			 rate;
};

struct req {
	enum route	 route;
	char		 id[ID_HEX];	/* /v2/stores/{id}/... */
	int		 method_ok;
	uint64_t	 t0;
	struct buf	 body;
	size_t		 max;
	int		 too_big;
	struct cstore	*cs;
};

void
cresp_reset(struct cresp *r)
{
	free(r->body);
	free(r->hdr_vclock);
	memset(r, 0, sizeof(*r));
}

void
cresp_json(struct cresp *r, int status, json_t *j)
{
	char	*s;

	free(r->body);
	r->body = NULL;
	r->status = status;
	r->content_type = "application/json";
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (s == NULL) {
		r->status = 500;
		r->body = (uint8_t *)strdup("{\"error\":\"out of memory\"}\n");
		r->len = r->body != NULL ? strlen((char *)r->body) : 0;
		return;
	}
	r->len = strlen(s);
	/* a copy, not realloc(): gcc 12 at -O0 takes the failure path's
	 * use of s for a use after free */
	if ((r->body = malloc(r->len + 2)) == NULL) {
		r->body = (uint8_t *)s;
		return;
	}
	memcpy(r->body, s, r->len);
	free(s);
	r->body[r->len++] = '\n';
	r->body[r->len] = '\0';
}

void
cresp_error(struct cresp *r, int status, const char *fmt, ...)
{
	char	msg[512];
	va_list	ap;
	json_t	*j;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	j = json_pack("{s:s, s:i}", "error", msg, "status", status);
	cresp_json(r, status, j);
	r->status = status;
}

static enum MHD_Result
send_resp(struct MHD_Connection *c, struct req *q, struct cresp *r)
{
	struct MHD_Response	*mr;
	enum MHD_Result		 ret;
	char			 ra[16];
	int			 st = r->status ? r->status : 500;

	if (r->body == NULL)
		cresp_error(r, st, "internal error");
	mr = MHD_create_response_from_buffer(r->len, r->body,
	    MHD_RESPMEM_MUST_FREE);
	if (mr == NULL) {
		cresp_reset(r);
		return MHD_NO;
	}
	r->body = NULL;
	MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE,
	    r->content_type ? r->content_type : "application/json");
	if (r->retry_after > 0) {
		snprintf(ra, sizeof(ra), "%d", r->retry_after);
		MHD_add_response_header(mr, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	if (r->encoding != NULL)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_ENCODING,
		    r->encoding);
	if (r->hdr_events[0] != '\0')
		MHD_add_response_header(mr, "X-Caja-Events", r->hdr_events);
	if (r->hdr_more[0] != '\0')
		MHD_add_response_header(mr, "X-Caja-More", r->hdr_more);
	if (r->hdr_vclock != NULL)
		MHD_add_response_header(mr, "X-Caja-Vector-Clock",
		    r->hdr_vclock);
	ret = MHD_queue_response(c, (unsigned)st, mr);
	MHD_destroy_response(mr);
	if (st > 0 && st < NSTATUS)
		atomic_fetch_add(&req_count[q->route][st], 1);
	cresp_reset(r);
	return ret;
}

static const char *
header(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static const char *
arg(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

static void
client_ip(struct MHD_Connection *c, char *out, size_t cap)
{
	const union MHD_ConnectionInfo	*ci;
	const struct sockaddr		*sa;

	snprintf(out, cap, "?");
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || (sa = ci->client_addr) == NULL)
		return;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)
		    sa)->sin_addr, out, (socklen_t)cap);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)
		    (const void *)sa)->sin6_addr, out, (socklen_t)cap);
}

static int
valid_dev(const char *s)
{
	uint8_t	b[ID_LEN];

	return s != NULL && strlen(s) == ID_HEX - 1 &&
	    ids_unhex(b, ID_LEN, s) == 0;
}

/* Rate limit by device (or client address); 1 when refused. */
static int
limited(struct chttp *h, struct MHD_Connection *c, const char *dev,
    struct cresp *r)
{
	char	key[64];
	int	wait;

	if (valid_dev(dev))
		snprintf(key, sizeof(key), "d:%s", dev);
	else {
		client_ip(c, key + 2, sizeof(key) - 2);
		key[0] = 'a';
		key[1] = ':';
	}
	if ((wait = crate_take(&h->rate, key)) == 0)
		return 0;
	atomic_fetch_add(&cmet.rate_limited, 1);
	cresp_error(r, 429, "rate limit: %.3g requests/s per device, burst "
	    "%.3g: retry after %d s", h->rate.rate, h->rate.burst, wait);
	r->retry_after = wait;
	return 1;
}

/* ---- handlers ---- */

static void
h_health(struct chttp *h, struct cresp *r)
{
	struct cdb_stats	 st;
	struct cdb_conn		*k = NULL;
	json_t			*j;
	const char		*db;
	int			 rc, ok;

	cdb_stats(h->db, &st);
	db = !st.up ? "down" : st.slow ? "slow" : "up";
	if (st.up && !st.slow) {
		/* a live check when a connection is free */
		rc = cdb_acquire(h->db, 0, &k);
		if (rc == 0) {
			rc = cdb_exec(h->db, k, "SELECT 1", 0, NULL, NULL,
			    NULL, NULL, NULL, 0);
			cdb_release(h->db, &k);
			if (rc != 0)
				db = "down";
		} else if (rc == CAJA_EIO)
			db = "down";
	}
	ok = strcmp(db, "up") == 0;
	j = json_pack("{s:s, s:s, s:f, s:i, s:i, s:I}", "status", ok ? "ok" :
	    "unavailable", "db", db, "db_ping_ms", st.ping_ms, "db_inflight",
	    st.inflight, "db_conns", st.conns, "stores",
	    (json_int_t)cstores_count(h->stores));
	cresp_json(r, ok ? 200 : 503, j);
	if (!ok)
		r->retry_after = 2;
}

static int
prom(struct buf *b, const char *fmt, ...)
{
	char	line[512];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return CAJA_EINVAL;
	return buf_add(b, line, (size_t)n < sizeof(line) ? (size_t)n :
	    sizeof(line) - 1);
}

#define LD(x)	((unsigned long long)atomic_load(&(x)))

static void
h_metrics(struct chttp *h, struct cresp *r)
{
	struct cdb_stats	st;
	struct buf		b;
	unsigned long long	cum = 0, v;
	int			i, s, rc = 0;

	cdb_stats(h->db, &st);
	buf_init(&b, 0);
	rc |= prom(&b, "# HELP caja_cloud_http_requests_total HTTP requests "
	    "by route and status.\n# TYPE caja_cloud_http_requests_total "
	    "counter\n");
	for (i = 0; i < RT_COUNT; i++)
		for (s = 100; s < NSTATUS; s++)
			if ((v = LD(req_count[i][s])) != 0)
				rc |= prom(&b, "caja_cloud_http_requests_total"
				    "{route=\"%s\",code=\"%d\"} %llu\n",
				    route_names[i], s, v);
	rc |= prom(&b, "# HELP caja_cloud_events_total Pushed events by "
	    "outcome.\n# TYPE caja_cloud_events_total counter\n");
	rc |= prom(&b, "caja_cloud_events_total{result=\"accepted\"} %llu\n",
	    LD(cmet.events_accepted));
	rc |= prom(&b, "caja_cloud_events_total{result=\"duplicate\"} %llu\n",
	    LD(cmet.events_duplicate));
	rc |= prom(&b, "caja_cloud_events_total{result=\"conflicted\"} "
	    "%llu\n", LD(cmet.events_conflicted));
	rc |= prom(&b, "caja_cloud_events_total{result=\"rejected\"} %llu\n",
	    LD(cmet.events_rejected));
	rc |= prom(&b, "# HELP caja_cloud_pulled_events_total Events served "
	    "by pull.\n# TYPE caja_cloud_pulled_events_total counter\n"
	    "caja_cloud_pulled_events_total %llu\n", LD(cmet.events_pulled));
	rc |= prom(&b, "# HELP caja_cloud_push_duration_seconds Push "
	    "handling time.\n# TYPE caja_cloud_push_duration_seconds "
	    "histogram\n");
	for (i = 0; i < NBUCKETS; i++) {
		cum += LD(push_hist[i]);
		rc |= prom(&b, "caja_cloud_push_duration_seconds_bucket"
		    "{le=\"%g\"} %llu\n", bucket_s[i], cum);
	}
	cum += LD(push_hist[NBUCKETS]);
	rc |= prom(&b, "caja_cloud_push_duration_seconds_bucket{le=\"+Inf\"} "
	    "%llu\ncaja_cloud_push_duration_seconds_sum %.6f\n"
	    "caja_cloud_push_duration_seconds_count %llu\n", cum,
	    (double)LD(push_sum_us) / 1e6, LD(push_n));
	rc |= prom(&b, "# HELP caja_cloud_db_errors_total Failed database "
	    "statements.\n# TYPE caja_cloud_db_errors_total counter\n"
	    "caja_cloud_db_errors_total %llu\n", LD(cmet.db_errors));
	rc |= prom(&b, "# HELP caja_cloud_shed_total Requests refused with "
	    "503 to shed load.\n# TYPE caja_cloud_shed_total counter\n"
	    "caja_cloud_shed_total %llu\n", LD(cmet.shed));
	rc |= prom(&b, "# HELP caja_cloud_rate_limited_total Requests refused "
	    "with 429.\n# TYPE caja_cloud_rate_limited_total counter\n"
	    "caja_cloud_rate_limited_total %llu\n", LD(cmet.rate_limited));
	rc |= prom(&b, "# HELP caja_cloud_reconciled_events_total Events "
	    "inserted from LMDB by reconcile.\n# TYPE "
	    "caja_cloud_reconciled_events_total counter\n"
	    "caja_cloud_reconciled_events_total %llu\n", LD(cmet.reconciled));
	rc |= prom(&b, "# HELP caja_cloud_push_bytes_total Push bytes on the "
	    "wire.\n# TYPE caja_cloud_push_bytes_total counter\n"
	    "caja_cloud_push_bytes_total %llu\n", LD(cmet.bytes_in));
	rc |= prom(&b, "# HELP caja_cloud_db_up 1 when the database "
	    "answers.\n# TYPE caja_cloud_db_up gauge\ncaja_cloud_db_up %d\n",
	    st.up && !st.slow);
	rc |= prom(&b, "# HELP caja_cloud_db_inflight Database requests in "
	    "flight.\n# TYPE caja_cloud_db_inflight gauge\n"
	    "caja_cloud_db_inflight %d\n", st.inflight);
	rc |= prom(&b, "# HELP caja_cloud_db_ping_seconds Last watchdog "
	    "ping.\n# TYPE caja_cloud_db_ping_seconds gauge\n"
	    "caja_cloud_db_ping_seconds %.4f\n", st.ping_ms / 1000.0);
	rc |= prom(&b, "# HELP caja_cloud_stores Stores served.\n# TYPE "
	    "caja_cloud_stores gauge\ncaja_cloud_stores %zu\n",
	    cstores_count(h->stores));
	if (rc != 0) {
		buf_reset(&b);
		cresp_error(r, 500, "out of memory");
		return;
	}
	r->status = 200;
	r->content_type = "text/plain; version=0.0.4";
	r->body = b.p;
	r->len = b.len;
}

struct args {
	struct cloudreq_arg	a[16];
	size_t			n;
	int			overflow;
};

static enum MHD_Result
args_cb(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct args	*x = cls;

	if (x->n == 16) {
		x->overflow = 1;
		return MHD_NO;
	}
	x->a[x->n].name = key;
	x->a[x->n].value = value != NULL ? value : "";
	x->n++;
	return MHD_YES;
}

/* Checks a signed request; 0 or an HTTP status with r filled. */
static int
check_signed(struct MHD_Connection *c, struct cstore *cs, const char *method,
    const char *url, const uint8_t *body, size_t len, struct cresp *r)
{
	struct store_device	 d;
	struct args		 x;
	struct buf		 msg;
	const char		*dev, *tm, *sg;
	uint8_t			 id[ID_LEN], sig[SIG_LEN];
	uint64_t		 t, now = cloud_wall_ms();
	char			*end;
	int			 rc;

	dev = header(c, "X-Caja-Device");
	tm = header(c, "X-Caja-Time");
	sg = header(c, "X-Caja-Signature");
	if (dev == NULL || tm == NULL || sg == NULL) {
		cresp_error(r, 401, "signed request required: X-Caja-Device, "
		    "X-Caja-Time, X-Caja-Signature (API.md)");
		return 401;
	}
	t = strtoull(tm, &end, 10);
	if (!valid_dev(dev) || *end != '\0' || strlen(sg) != 2 * SIG_LEN ||
	    ids_unhex(sig, SIG_LEN, sg) != 0) {
		cresp_error(r, 401, "malformed signature headers");
		return 401;
	}
	if (t + CLOUD_AUTH_SKEW_MS < now || t > now + CLOUD_AUTH_SKEW_MS) {
		cresp_error(r, 401, "X-Caja-Time is more than %d s away from "
		    "the server's clock", CLOUD_AUTH_SKEW_MS / 1000);
		return 401;
	}
	if (ids_unhex(id, ID_LEN, dev) != 0 ||
	    store_device_get(cstore_store(cs), id, &d) != 0) {
		cresp_error(r, 403, "device %s is not enrolled in store %s "
		    "(push its events first)", dev, cstore_id(cs));
		return 403;
	}
	memset(&x, 0, sizeof(x));
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, args_cb, &x);
	if (x.overflow) {
		cresp_error(r, 400, "too many query arguments");
		return 400;
	}
	buf_init(&msg, 0);
	rc = cloudreq_message(&msg, method, url, cstore_id(cs), dev, tm, x.a,
	    x.n, body, len);
	if (rc == 0)
		rc = sig_verify(d.pk, msg.p, msg.len, sig);
	buf_reset(&msg);
	if (rc != 0) {
		cresp_error(r, 401, "signature does not verify");
		return 401;
	}
	if (d.revoked) {
		cresp_error(r, 403, "device %s is revoked", dev);
		return 403;
	}
	return 0;
}

static void
h_pull(struct chttp *h, struct MHD_Connection *c, const char *url,
    struct cresp *r)
{
	struct cstore	*cs = NULL;
	struct vclock	*since = NULL, *vc = NULL;
	struct buf	 out, z, vtext;
	const char	*sid, *sv, *mx, *ae;
	char		*end;
	size_t		 max = h->conf->pull_max, count = 0;
	int		 more = 0, rc;

	buf_init(&out, h->conf->pull_max_bytes * 2 + (1u << 20));
	buf_init(&z, 0);
	buf_init(&vtext, 0);
	sid = arg(c, "store");
	if (sid == NULL) {
		cresp_error(r, 400, "store=ID required");
		goto done;
	}
	if ((rc = cstores_get(h->stores, sid, &cs)) != 0) {
		cresp_error(r, 404, "unknown store %.40s", sid);
		goto done;
	}
	if (limited(h, c, header(c, "X-Caja-Device"), r))
		goto done;
	if ((mx = arg(c, "max")) != NULL) {
		unsigned long long	v = strtoull(mx, &end, 10);

		if (*mx == '\0' || *end != '\0' || v == 0) {
			cresp_error(r, 400, "max: a positive integer");
			goto done;
		}
		max = v > CLOUD_PULL_MAX_HARD ? CLOUD_PULL_MAX_HARD :
		    (size_t)v;
	}
	since = malloc(sizeof(*since));
	vc = malloc(sizeof(*vc));
	if (since == NULL || vc == NULL) {
		cresp_error(r, 500, "out of memory");
		goto done;
	}
	sv = arg(c, "since");
	if (cvclock_parse(sv, since) != 0) {
		cresp_error(r, 400, "since: a vector clock, {\"device\": seq} "
		    "or device:seq,device:seq");
		goto done;
	}
	cstore_lock(cs);
	if (check_signed(c, cs, "GET", url, NULL, 0, r) != 0) {
		cstore_unlock(cs);
		goto done;
	}
	rc = store_frames_closed(cstore_store(cs), since, max,
	    h->conf->pull_max_bytes, &out, &count, &more);
	if (rc == 0)
		rc = store_vclock(cstore_store(cs), vc);
	cstore_unlock(cs);
	if (rc != 0 || vclock_compact(vc, &vtext) != 0) {
		cresp_error(r, 500, "pull: %s", err_str(rc));
		goto done;
	}
	atomic_fetch_add(&cmet.events_pulled, count);
	r->status = 200;
	r->content_type = CLOUD_CT_EVENTS;
	snprintf(r->hdr_events, sizeof(r->hdr_events), "%zu", count);
	snprintf(r->hdr_more, sizeof(r->hdr_more), "%d", more);
	r->hdr_vclock = strdup((const char *)vtext.p);
	ae = header(c, MHD_HTTP_HEADER_ACCEPT_ENCODING);
	if (ae != NULL && strstr(ae, "gzip") != NULL && out.len > 1024 &&
	    gzip_encode(out.p, out.len, &z) == 0) {
		r->encoding = "gzip";
		r->body = z.p;
		r->len = z.len;
		z.p = NULL;
	} else {
		r->body = out.p;
		r->len = out.len;
		out.p = NULL;
	}
	cloud_debug("pull %.8s by %.8s: %zu events, more %d", cstore_id(cs),
	    header(c, "X-Caja-Device"), count, more);
done:
	buf_reset(&out);
	buf_reset(&z);
	buf_reset(&vtext);
	free(since);
	free(vc);
}

/* 1 when the admin bearer token is right; else r is filled. */
static int
admin_ok(struct chttp *h, struct MHD_Connection *c, struct cresp *r)
{
	const char	*a = header(c, MHD_HTTP_HEADER_AUTHORIZATION);

	if (a != NULL && strncasecmp(a, "Bearer ", 7) == 0 &&
	    cauth_token_eq(a + 7, h->token))
		return 1;
	cresp_error(r, 401, "admin token required (Authorization: Bearer, "
	    "DATA/%s)", CLOUD_TOKEN_FILE);
	return 0;
}

static void
h_ho_status(struct chttp *h, struct MHD_Connection *c, const char *id,
    struct cresp *r)
{
	struct cstore	*cs;
	json_t		*st = NULL;
	int		 rc;

	if (!admin_ok(h, c, r))
		return;
	if (cstores_get(h->stores, id, &cs) != 0) {
		cresp_error(r, 404, "unknown store %.40s", id);
		return;
	}
	cstore_lock(cs);
	rc = store_status_json(cstore_store(cs), &st);
	cstore_unlock(cs);
	if (rc != 0) {
		cresp_error(r, 500, "status: %s", err_str(rc));
		return;
	}
	cresp_json(r, 200, st);
}

/* ---- routing ---- */

/* "/v2/stores/{id}/<tail>": copies id; 1 when it matches. */
static int
store_path(const char *url, const char *tail, char id[ID_HEX])
{
	static const char	pre[] = "/v2/stores/";
	const char		*p, *slash;

	if (strncmp(url, pre, sizeof(pre) - 1) != 0)
		return 0;
	p = url + sizeof(pre) - 1;
	if ((slash = strchr(p, '/')) == NULL || slash - p != ID_HEX - 1 ||
	    strcmp(slash + 1, tail) != 0)
		return 0;
	memcpy(id, p, ID_HEX - 1);
	id[ID_HEX - 1] = '\0';
	return 1;
}

static enum route
route_of(const char *url, char id[ID_HEX])
{
	if (strcmp(url, "/v2/sync/push") == 0)
		return RT_PUSH;
	if (strcmp(url, "/v2/sync/pull") == 0)
		return RT_PULL;
	if (strcmp(url, "/health") == 0)
		return RT_HEALTH;
	if (strcmp(url, "/metrics") == 0)
		return RT_METRICS;
	if (store_path(url, "events", id))
		return RT_HO_EVENTS;
	if (store_path(url, "status", id))
		return RT_HO_STATUS;
	return RT_OTHER;
}

static const char *
route_method(enum route rt)
{
	return rt == RT_PUSH || rt == RT_HO_EVENTS ? "POST" : "GET";
}

/* Checks made from the headers of a request with a body. */
static int
early_checks(struct chttp *h, struct MHD_Connection *c, struct req *q,
    const char *id, struct cresp *r)
{
	struct cdb_stats	 st;
	const char		*cl, *ct, *sid;
	unsigned long long	 n;
	int			 rc;

	cl = header(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl != NULL && (n = strtoull(cl, NULL, 10)) > q->max) {
		cresp_error(r, 413, "body of %llu bytes: at most %zu", n,
		    q->max);
		return 1;
	}
	if (q->route == RT_HO_EVENTS) {
		if (!admin_ok(h, c, r))
			return 1;
		if (cstores_get(h->stores, id, &q->cs) != 0) {
			cresp_error(r, 404, "unknown store %s", id);
			return 1;
		}
		return 0;
	}
	sid = header(c, "X-Caja-Store");
	if (sid == NULL) {
		cresp_error(r, 400, "X-Caja-Store header required");
		return 1;
	}
	if ((rc = cstores_get(h->stores, sid, &q->cs)) != 0) {
		cresp_error(r, 404, "unknown store %.40s: the cloud is not "
		    "enrolled there (caja-cloud enroll)", sid);
		return 1;
	}
	ct = header(c, MHD_HTTP_HEADER_CONTENT_TYPE);
	if (ct != NULL && strncmp(ct, CLOUD_CT_EVENTS,
	    sizeof(CLOUD_CT_EVENTS) - 1) != 0 && strncmp(ct,
	    "application/octet-stream", 24) != 0) {
		cresp_error(r, 415, "Content-Type %s: wants %s", ct,
		    CLOUD_CT_EVENTS);
		return 1;
	}
	if (limited(h, c, header(c, "X-Caja-Device"), r))
		return 1;
	cdb_stats(h->db, &st);
	if (!st.up || st.slow) {
		atomic_fetch_add(&cmet.shed, 1);
		cresp_error(r, 503, "database %s: try later", st.up ? "slow" :
		    "unavailable");
		r->retry_after = st.up ? 1 : 2;
		return 1;
	}
	return 0;
}

static void
push_done(struct req *q)
{
	uint64_t	us = cloud_mono_us() - q->t0;
	double		s = (double)us / 1e6;
	int		i;

	for (i = 0; i < NBUCKETS; i++)
		if (s <= bucket_s[i])
			break;
	atomic_fetch_add(&push_hist[i], 1);
	atomic_fetch_add(&push_sum_us, us);
	atomic_fetch_add(&push_n, 1);
}

/*
 * libmicrohttpd calls this once with the headers, then per chunk of body,
 * then once more. Requests without a body are answered on that last call
 * (an answer queued on the first call makes libmicrohttpd close the
 * connection); pushes and head-office writes are refused on the first
 * call when their headers already decide it, so their bodies are never
 * read (the connection closes then).
 */
static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **con_cls)
{
	struct chttp	*h = cls;
	struct req	*q = *con_cls;
	struct cresp	 r;
	struct cpush_req pr;

	memset(&r, 0, sizeof(r));
	(void)version;
	if (q == NULL) {
		if ((q = calloc(1, sizeof(*q))) == NULL)
			return MHD_NO;
		*con_cls = q;
		q->t0 = cloud_mono_us();
		q->route = route_of(url, q->id);
		q->method_ok = strcmp(method, route_method(q->route)) == 0;
		q->max = q->route == RT_HO_EVENTS ? CLOUD_HO_BODY_MAX :
		    q->route == RT_PUSH ? h->conf->max_body : 0;
		buf_init(&q->body, q->max + 1);
		if ((q->route == RT_PUSH || q->route == RT_HO_EVENTS) &&
		    q->method_ok && early_checks(h, c, q, q->id, &r)) {
			if (q->route == RT_PUSH)
				push_done(q);
			return send_resp(c, q, &r);
		}
		return MHD_YES;
	}
	if (*upload_size > 0) {
		if (!q->too_big && q->body.len + *upload_size <= q->max) {
			if (buf_add(&q->body, upload, *upload_size) != 0)
				q->too_big = 1;
		} else
			q->too_big = 1;
		*upload_size = 0;
		return MHD_YES;
	}
	if (q->route == RT_OTHER) {
		cresp_error(&r, 404, "no such resource: %.100s", url);
		return send_resp(c, q, &r);
	}
	if (!q->method_ok) {
		cresp_error(&r, 405, "%s wants %s", url,
		    route_method(q->route));
		return send_resp(c, q, &r);
	}
	if (q->too_big) {
		cresp_error(&r, 413, "body too big: at most %zu bytes", q->max);
		return send_resp(c, q, &r);
	}
	switch (q->route) {
	case RT_HEALTH:
		h_health(h, &r);
		return send_resp(c, q, &r);
	case RT_METRICS:
		h_metrics(h, &r);
		return send_resp(c, q, &r);
	case RT_PULL:
		h_pull(h, c, url, &r);
		return send_resp(c, q, &r);
	case RT_HO_STATUS:
		h_ho_status(h, c, q->id, &r);
		return send_resp(c, q, &r);
	case RT_HO_EVENTS:
		atomic_fetch_add(&cmet.bytes_in, q->body.len);
		cpush_head_office(h->conf, h->db, q->cs, q->body.p, q->body.len,
		    &r);
		return send_resp(c, q, &r);
	default:
		break;
	}
	atomic_fetch_add(&cmet.bytes_in, q->body.len);
	memset(&pr, 0, sizeof(pr));
	pr.cs = q->cs;
	pr.device = valid_dev(header(c, "X-Caja-Device")) ?
	    header(c, "X-Caja-Device") : NULL;
	pr.breaker = header(c, "X-Caja-Breaker");
	pr.last_error = header(c, "X-Caja-Last-Error");
	pr.encoding = header(c, MHD_HTTP_HEADER_CONTENT_ENCODING);
	pr.body = q->body.p;
	pr.len = q->body.len;
	pr.t0_us = q->t0;
	cpush_handle(h->conf, h->db, &pr, &r);
	push_done(q);
	return send_resp(c, q, &r);
}

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct req	*q = *con_cls;

	if (q == NULL)
		return;
	buf_reset(&q->body);
	free(q);
	*con_cls = NULL;
}

/* "IP:PORT", "[IPv6]:PORT", ":PORT" or "PORT" (all addresses). */
static int
parse_listen(const char *s, struct sockaddr_storage *ss, int *v6)
{
	char			 host[64];
	const char		*colon, *p = s;
	char			*end;
	unsigned long		 port;
	struct sockaddr_in	*in = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*in6 = (struct sockaddr_in6 *)ss;
	size_t			 hl;

	memset(ss, 0, sizeof(*ss));
	*v6 = 0;
	if (strncmp(p, "http://", 7) == 0)
		p += 7;
	if (*p == '[') {
		if ((colon = strstr(p, "]:")) == NULL)
			return CAJA_EINVAL;
		hl = (size_t)(colon - p - 1);
		if (hl >= sizeof(host))
			return CAJA_EINVAL;
		memcpy(host, p + 1, hl);
		host[hl] = '\0';
		colon++;
		*v6 = 1;
	} else if ((colon = strrchr(p, ':')) != NULL) {
		hl = (size_t)(colon - p);
		if (hl >= sizeof(host))
			return CAJA_EINVAL;
		memcpy(host, p, hl);
		host[hl] = '\0';
	} else {
		host[0] = '\0';
		colon = p - 1;
	}
	port = strtoul(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || port == 0 || port > 65535)
		return CAJA_EINVAL;
	if (*v6) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			return CAJA_EINVAL;
		return 0;
	}
	in->sin_family = AF_INET;
	in->sin_port = htons((uint16_t)port);
	if (host[0] == '\0')
		in->sin_addr.s_addr = htonl(INADDR_ANY);
	else if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
		return CAJA_EINVAL;
	return 0;
}

int
chttp_start(struct chttp **out, const struct cloud_conf *conf,
    struct cdb *db, struct cstores *stores, const char *token, char *err,
    size_t cap)
{
	struct chttp		*h;
	struct sockaddr_storage	 ss;
	unsigned		 flags;
	int			 v6;

	*out = NULL;
	if (parse_listen(conf->listen, &ss, &v6) != 0) {
		snprintf(err, cap, "--listen %s: wants IP:PORT", conf->listen);
		return CAJA_EINVAL;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return CAJA_ENOMEM;
	h->conf = conf;
	h->db = db;
	h->stores = stores;
	snprintf(h->token, sizeof(h->token), "%s", token != NULL ? token : "");
	pthread_mutex_init(&h->rate.mu, NULL);
	h->rate.rate = conf->rate;
	h->rate.burst = conf->burst < 1 ? 1 : conf->burst;
	h->rate.n = CLOUD_RATE_BUCKETS;
	if ((h->rate.b = calloc(h->rate.n, sizeof(*h->rate.b))) == NULL) {
		free(h);
		return CAJA_ENOMEM;
	}
	flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_POLL | MHD_USE_ERROR_LOG;
	if (v6)
		flags |= MHD_USE_IPv6;
	h->d = MHD_start_daemon(flags, 0, NULL, NULL, handler, h,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)conf->max_conns,
	    MHD_OPTION_CONNECTION_TIMEOUT, 30u,
	    MHD_OPTION_NOTIFY_COMPLETED, completed, h,
	    MHD_OPTION_END);
	if (h->d == NULL) {
		snprintf(err, cap, "cannot listen on %s: %s", conf->listen,
		    strerror(errno));
		pthread_mutex_destroy(&h->rate.mu);
		free(h->rate.b);
		free(h);
		return CAJA_EIO;
	}
	*out = h;
	return 0;
}

void
chttp_stop(struct chttp **hp)
{
	struct chttp	*h;

	if (hp == NULL || (h = *hp) == NULL)
		return;
	*hp = NULL;
	MHD_stop_daemon(h->d);
	pthread_mutex_destroy(&h->rate.mu);
	free(h->rate.b);
	free(h);
}
