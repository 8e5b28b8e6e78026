/*
 * uplink: the cloud uplink (see uplink.h): the HTTP thread first, then the
 * main-thread half.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <sodium.h>
#include <zmq.h>

#include "agent/breaker.h"
#include "agent/clock.h"
#include "agent/cloudmsg.h"
#include "agent/lease.h"
#include "agent/log.h"
#include "agent/pace.h"
#include "agent/uplink.h"
#include "proto/cloudreq.h"
#include "proto/gzip.h"
#include "proto/ids.h"
#include "proto/sig.h"

enum { JOB_PUSH = 1, JOB_PULL, JOB_STOP };

#define HDR_VC_MAX	(VCLOCK_MAX * 64)	/* X-Caja-Vector-Clock */
#define PULL_FRAMES_MAX	10000	/* frames in one pull answer */

/* Main -> thread, frame 1 (frame 2: push body or pull `since`). */
struct job {
	uint32_t	kind;
	uint64_t	id;
	uint32_t	count;			/* events in a push */
	char		breaker[16];
	char		last_error[CLOUDMSG_ERRMSG];
};

/* Thread -> main, frame 1 (frame 2: answer body; 3: X-Caja-Vector-Clock). */
struct result {
	uint32_t	kind;
	uint64_t	id;
	long		http;			/* 0: no answer */
	int		timed_out;
	uint32_t	retry_after;		/* s, 0: none */
	int		more;			/* pull: X-Caja-More */
	int		has_vc;			/* pull: the header came */
	uint64_t	elapsed_ms;
	uint64_t	bytes_wire, bytes_raw;
	char		err[UPLINK_ERRMSG];
};

/* The thread's state. Set before the start, then its own (but stop). */
struct uthread {
	void		*zctx;
	char		 base[CONF_URL_MAX];
	char		 store_hex[ID_HEX], dev_hex[ID_HEX];
	struct sig_key	*key;
	uint64_t	 timeout_ms;
	atomic_int	 stop;
	void		*pair;
	CURL		*curl;
	struct buf	 in, gz, resp, msg, url, vc;
	uint32_t	 retry_after;
	int		 more, has_vc;
};

struct uplink_cnt {
	uint64_t	requests, pushes, pulls, failures, rate_limited;
	uint64_t	events_sent, events_acked, events_accepted;
	uint64_t	events_duplicate, events_rejected, events_pulled;
	uint64_t	bytes_wire, bytes_raw, no_progress;
};

struct uplink {
	int			 enabled;
	struct store		*st;
	struct store_ids	 ids;
	char			 url[CONF_URL_MAX];
	uint64_t		 poll_ms;
	void			*pair;
	struct uthread		*t;
	pthread_t		 thr;
	int			 started;
	struct vclock		 acked;		/* shared with peers */
	struct vclock		 vc;		/* ours, this turn */
	struct vclock		 cloud_vc;	/* the cloud's, last heard */
	struct vclock		 since;		/* scratch */
	struct vclock		 skip;		/* refused for good: seq */
	struct breaker		 br;
	struct pace		 pace;
	struct lease		 lease;
	int			 busy;
	uint32_t		 busy_kind, busy_n;
	uint64_t		 busy_at, job_id;
	uint64_t		 next_at;	/* no request before (mono) */
	uint32_t		 fails;		/* consecutive, for backoff */
	int			 rate_limited;	/* the wait is a 429's */
	int			 synced;	/* heard the cloud's clock */
	int			 pull_wanted;
	uint64_t		 pull_denied_until;
	uint64_t		 pull_denied_own;	/* acked[me] then */
	uint64_t		 last_req_at;
	uint64_t		 gap_ms;	/* spacing after 429s */
	uint64_t		 last_success_wall;
	uint64_t		 pending;
	int			 standby;
	char			 last_error[UPLINK_ERRMSG];
	struct buf		 body;
	struct store_report	*report;
	struct uplink_cnt	 cnt;
};

/* Uniform in [0, 1), for jitter. */
static double
rnd01(void)
{
	return randombytes_uniform(1000000) / 1000000.0;
}

/* ---- the HTTP thread ---- */

static size_t
write_cb(char *p, size_t sz, size_t n, void *arg)
{
	struct buf	*b = arg;

	if (b->len + sz * n > CLOUDMSG_BODY_MAX || buf_add(b, p, sz * n) != 0)
		return 0;	/* aborts the transfer */
	return sz * n;
}

/* "Name: value\r\n": value (trimmed, NUL-terminated in tmp) or NULL. */
static const char *
header_value(const char *p, size_t len, const char *name, char *tmp,
    size_t cap)
{
	size_t	nl = strlen(name), i, j;

	if (len <= nl || strncasecmp(p, name, nl) != 0 || p[nl] != ':')
		return NULL;
	for (i = nl + 1; i < len && (p[i] == ' ' || p[i] == '\t'); i++)
		;
	for (j = len; j > i && (p[j - 1] == '\r' || p[j - 1] == '\n' ||
	    p[j - 1] == ' '); j--)
		;
	if (j - i >= cap)
		return NULL;
	memcpy(tmp, p + i, j - i);
	tmp[j - i] = '\0';
	return tmp;
}

static size_t
header_cb(char *p, size_t sz, size_t n, void *arg)
{
	struct uthread	*t = arg;
	size_t		 len = sz * n;
	const char	*v;
	char		 small[32];

	if ((v = header_value(p, len, "Retry-After", small, sizeof(small))) !=
	    NULL)
		t->retry_after = cloudmsg_retry_after(v);
	else if ((v = header_value(p, len, "X-Caja-More", small,
	    sizeof(small))) != NULL)
		t->more = strcmp(v, "1") == 0;
	else if (len > 20 && strncasecmp(p, "X-Caja-Vector-Clock:", 20) == 0 &&
	    len < HDR_VC_MAX) {
		char	*tmp = malloc(len + 1);

		if (tmp != NULL && (v = header_value(p, len,
		    "X-Caja-Vector-Clock", tmp, len + 1)) != NULL) {
			buf_clear(&t->vc);
			if (buf_add(&t->vc, v, strlen(v) + 1) == 0)
				t->has_vc = 1;
		}
		free(tmp);
	}
	return len;
}

static int
xfer_cb(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut,
    curl_off_t un)
{
	struct uthread	*t = arg;

	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	return atomic_load(&t->stop) ? 1 : 0;
}

static struct curl_slist *
hdr(struct curl_slist *l, int *bad, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static struct curl_slist *
hdr(struct curl_slist *l, int *bad, const char *fmt, ...)
{
	struct curl_slist	*n;
	char			 line[512];
	va_list			 ap;

	va_start(ap, fmt);
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if ((n = curl_slist_append(l, line)) == NULL) {
		*bad = 1;
		return l;
	}
	return n;
}

/* A header value: printable ASCII only, bounded. */
static void
clean_line(char *s)
{
	for (; *s != '\0'; s++)
		if (*s < 0x20 || *s > 0x7e)
			*s = '?';
}

static void
thr_request(struct uthread *t, const struct job *j, struct result *r)
{
	struct curl_slist	*h = NULL;
	struct cloudreq_arg	 args[3];
	char			 ebuf[CURL_ERROR_SIZE], tms[24], maxs[16];
	char			 sighex[SIG_LEN * 2 + 1], le[CLOUDMSG_ERRMSG];
	uint8_t			 sig[SIG_LEN];
	const char		*since = "";
	struct timespec		 t0, t1;
	CURLcode		 cc;
	int			 bad = 0, rc;

	buf_clear(&t->resp);
	buf_clear(&t->url);
	buf_clear(&t->vc);
	t->retry_after = 0;
	t->more = 0;
	t->has_vc = 0;
	ebuf[0] = '\0';
	curl_easy_reset(t->curl);
	if (j->kind == JOB_PUSH) {
		r->bytes_raw = t->in.len;
		if ((rc = gzip_encode(t->in.p, t->in.len, &t->gz)) != 0) {
			msgf(r->err, sizeof(r->err), "gzip: %s", err_str(rc));
			return;
		}
		r->bytes_wire = t->gz.len;
		if ((rc = buf_add(&t->url, t->base, strlen(t->base))) != 0 ||
		    (rc = buf_add(&t->url, "/v2/sync/push", 14)) != 0)
			goto nomem;
		h = hdr(h, &bad, "Content-Type: application/x-caja-events");
		h = hdr(h, &bad, "Content-Encoding: gzip");
		h = hdr(h, &bad, "X-Caja-Store: %s", t->store_hex);
		h = hdr(h, &bad, "X-Caja-Device: %s", t->dev_hex);
		h = hdr(h, &bad, "X-Caja-Breaker: %s", j->breaker);
		if (j->last_error[0] != '\0') {
			msgf(le, sizeof(le), "%s", j->last_error);
			clean_line(le);
			h = hdr(h, &bad, "X-Caja-Last-Error: %s", le);
		}
		h = hdr(h, &bad, "Expect:");
		(void)curl_easy_setopt(t->curl, CURLOPT_POST, 1L);
		(void)curl_easy_setopt(t->curl, CURLOPT_POSTFIELDS, t->gz.p);
		(void)curl_easy_setopt(t->curl, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)t->gz.len);
	} else {
		/* Pull: a signed GET (API.md "Signed requests"). */
		since = t->in.len > 0 ? (const char *)t->in.p : "";
		msgf(tms, sizeof(tms), "%" PRIu64, clock_wall_ms());
		msgf(maxs, sizeof(maxs), "%d", UPLINK_PULL_MAX);
		args[0].name = "store";
		args[0].value = t->store_hex;
		args[1].name = "since";
		args[1].value = since;
		args[2].name = "max";
		args[2].value = maxs;
		if ((rc = cloudreq_message(&t->msg, "GET", "/v2/sync/pull",
		    t->store_hex, t->dev_hex, tms, args, 3, NULL, 0)) != 0)
			goto nomem;
		sig_sign(t->key, t->msg.p, t->msg.len, sig);
		ids_hex(sighex, sig, SIG_LEN);
		if ((rc = buf_add(&t->url, t->base, strlen(t->base))) != 0 ||
		    (rc = buf_add(&t->url, "/v2/sync/pull?store=", 20)) != 0 ||
		    (rc = buf_add(&t->url, t->store_hex, ID_HEX - 1)) != 0 ||
		    (rc = buf_add(&t->url, "&since=", 7)) != 0 ||
		    (rc = buf_add(&t->url, since, strlen(since))) != 0 ||
		    (rc = buf_add(&t->url, "&max=", 5)) != 0 ||
		    (rc = buf_add(&t->url, maxs, strlen(maxs))) != 0)
			goto nomem;
		h = hdr(h, &bad, "X-Caja-Device: %s", t->dev_hex);
		h = hdr(h, &bad, "X-Caja-Time: %s", tms);
		h = hdr(h, &bad, "X-Caja-Signature: %s", sighex);
		(void)curl_easy_setopt(t->curl, CURLOPT_HTTPGET, 1L);
		(void)curl_easy_setopt(t->curl, CURLOPT_ACCEPT_ENCODING, "");
	}
	if (buf_add(&t->url, "", 1) != 0)
		goto nomem;
	if (bad) {
		rc = CAJA_ENOMEM;
		goto nomem;
	}
	(void)curl_easy_setopt(t->curl, CURLOPT_URL, (char *)t->url.p);
	(void)curl_easy_setopt(t->curl, CURLOPT_HTTPHEADER, h);
	(void)curl_easy_setopt(t->curl, CURLOPT_USERAGENT, "cajad/0.1");
	(void)curl_easy_setopt(t->curl, CURLOPT_NOSIGNAL, 1L);
	(void)curl_easy_setopt(t->curl, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)UPLINK_CONNECT_MS);
	(void)curl_easy_setopt(t->curl, CURLOPT_TIMEOUT_MS,
	    (long)t->timeout_ms);
	(void)curl_easy_setopt(t->curl, CURLOPT_WRITEFUNCTION, write_cb);
	(void)curl_easy_setopt(t->curl, CURLOPT_WRITEDATA, &t->resp);
	(void)curl_easy_setopt(t->curl, CURLOPT_HEADERFUNCTION, header_cb);
	(void)curl_easy_setopt(t->curl, CURLOPT_HEADERDATA, t);
	(void)curl_easy_setopt(t->curl, CURLOPT_XFERINFOFUNCTION, xfer_cb);
	(void)curl_easy_setopt(t->curl, CURLOPT_XFERINFODATA, t);
	(void)curl_easy_setopt(t->curl, CURLOPT_NOPROGRESS, 0L);
	(void)curl_easy_setopt(t->curl, CURLOPT_ERRORBUFFER, ebuf);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cc = curl_easy_perform(t->curl);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	r->elapsed_ms = (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000);
	if (cc != CURLE_OK) {
		r->timed_out = cc == CURLE_OPERATION_TIMEDOUT;
		msgf(r->err, sizeof(r->err), "%s: %s", j->kind == JOB_PUSH ?
		    "push" : "pull", ebuf[0] ? ebuf : curl_easy_strerror(cc));
	} else
		(void)curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE,
		    &r->http);
	r->retry_after = t->retry_after;
	r->more = t->more;
	r->has_vc = t->has_vc;
	if (j->kind == JOB_PULL)
		r->bytes_wire = t->resp.len;
	curl_slist_free_all(h);
	return;
nomem:
	curl_slist_free_all(h);
	msgf(r->err, sizeof(r->err), "request: %s", err_str(rc));
}

/* Receives one job: header and payload (into t->in). 0, or -1. */
static int
thr_recv(struct uthread *t, struct job *j)
{
	zmq_msg_t	m;
	int		more;

	zmq_msg_init(&m);
	if (zmq_msg_recv(&m, t->pair, 0) == -1) {
		zmq_msg_close(&m);
		return -1;
	}
	more = zmq_msg_more(&m);
	if (zmq_msg_size(&m) != sizeof(*j)) {
		memset(j, 0, sizeof(*j));
	} else
		memcpy(j, zmq_msg_data(&m), sizeof(*j));
	zmq_msg_close(&m);
	buf_clear(&t->in);
	while (more) {
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, t->pair, 0) == -1) {
			zmq_msg_close(&m);
			return -1;
		}
		more = zmq_msg_more(&m);
		if (buf_add(&t->in, zmq_msg_data(&m), zmq_msg_size(&m)) != 0)
			j->kind = 0;
		zmq_msg_close(&m);
	}
	return 0;
}

static void *
thr_main(void *arg)
{
	struct uthread	*t = arg;
	struct job	 j;
	struct result	 r;

	while (!atomic_load(&t->stop)) {
		if (thr_recv(t, &j) != 0) {
			if (zmq_errno() == EINTR)
				continue;
			break;
		}
		if (j.kind == JOB_STOP || atomic_load(&t->stop))
			break;
		memset(&r, 0, sizeof(r));
		r.kind = j.kind;
		r.id = j.id;
		if (j.kind == JOB_PUSH || j.kind == JOB_PULL)
			thr_request(t, &j, &r);
		else
			msgf(r.err, sizeof(r.err), "unknown job");
		if (zmq_send(t->pair, &r, sizeof(r), ZMQ_SNDMORE) == -1 ||
		    zmq_send(t->pair, t->resp.p, t->resp.len,
		    ZMQ_SNDMORE) == -1 ||
		    zmq_send(t->pair, t->vc.p, t->has_vc ? t->vc.len : 0,
		    0) == -1)
			log_warnx("uplink thread: cannot post a result: %s",
			    zmq_strerror(zmq_errno()));
	}
	return NULL;
}

static void
thr_free(struct uthread **tp)
{
	struct uthread	*t = *tp;

	if (t == NULL)
		return;
	if (t->curl != NULL)
		curl_easy_cleanup(t->curl);
	if (t->pair != NULL) {
		int	linger = 0;

		(void)zmq_setsockopt(t->pair, ZMQ_LINGER, &linger,
		    sizeof(linger));
		zmq_close(t->pair);
	}
	sig_key_destroy(&t->key);
	buf_reset(&t->in);
	buf_reset(&t->gz);
	buf_reset(&t->resp);
	buf_reset(&t->msg);
	buf_reset(&t->url);
	buf_reset(&t->vc);
	free(t);
	*tp = NULL;
}

/* ---- main-thread half ---- */

static const char *
state_name(struct uplink *u, uint64_t now)
{
	if (!u->enabled)
		return "disabled";
	if (u->busy && u->busy_kind == JOB_PUSH)
		return "uploading";
	if (!lease_may_upload(&u->lease, now))
		return "standby";
	if (u->br.state == BREAKER_OPEN)
		return "offline";
	if (now < u->next_at && (u->fails > 0 || u->rate_limited))
		return "backoff";
	if (u->pending > 0)
		return "uploading";
	return "idle";
}

/* Our clock, pending, the lease: every turn. */
static void
refresh(struct uplink *u, uint64_t now)
{
	uint64_t	a, p = 0;
	uint32_t	i, tag;
	int		standby;

	if (store_vclock(u->st, &u->vc) == 0) {
		for (i = 0; i < u->vc.n; i++) {
			a = vclock_get(&u->acked, u->vc.e[i].dev);
			if (u->vc.e[i].seq > a)
				p += u->vc.e[i].seq - a;
		}
		u->pending = p;
	}
	lease_observe(&u->lease, vclock_get(&u->acked, lease_key()), now);
	if (!u->enabled)
		return;
	standby = !lease_may_upload(&u->lease, now);
	if (standby != u->standby) {
		if (standby && lease_held(&u->lease, now, &tag))
			log_info("uplink: standing by: register %06x... "
			    "uploads", tag);
		else if (!standby)
			log_info("uplink: no register with a smaller id "
			    "uploads: this one may");
		u->standby = standby;
	}
}

static void
adopt(struct uplink *u, const struct vclock *cloud)
{
	uint32_t	i;

	u->cloud_vc = *cloud;
	if (vclock_merge(&u->acked, cloud) != 0)
		log_debug("uplink: acknowledged clock full");
	u->synced = 1;
	/* The cloud holds what we lack (head office): pull it. */
	for (i = 0; i < cloud->n; i++)
		if (cloud->e[i].seq > vclock_get(&u->vc, cloud->e[i].dev))
			u->pull_wanted = 1;
}

static int
send_job(struct uplink *u, uint32_t kind, const void *payload, size_t len,
    uint32_t count, uint64_t now)
{
	struct job	j;

	memset(&j, 0, sizeof(j));
	j.kind = kind;
	j.id = ++u->job_id;
	j.count = count;
	msgf(j.breaker, sizeof(j.breaker), "%s",
	    breaker_state_name(u->br.state));
	msgf(j.last_error, sizeof(j.last_error), "%s", u->last_error);
	if (zmq_send(u->pair, &j, sizeof(j), ZMQ_SNDMORE | ZMQ_DONTWAIT) ==
	    -1 || zmq_send(u->pair, payload, len, ZMQ_DONTWAIT) == -1) {
		log_warnx("uplink: cannot hand a job to the thread: %s",
		    zmq_strerror(zmq_errno()));
		return CAJA_EIO;
	}
	breaker_started(&u->br);
	u->busy = 1;
	u->busy_kind = kind;
	u->busy_n = count;
	u->busy_at = now;
	u->last_req_at = now;
	u->cnt.requests++;
	return 0;
}

static int
start_pull(struct uplink *u, uint64_t now)
{
	struct buf	text;
	int		rc;

	buf_init(&text, 0);
	if ((rc = vclock_compact(&u->vc, &text)) == 0)
		rc = send_job(u, JOB_PULL, text.p, text.len, 0, now);
	buf_reset(&text);
	if (rc == 0)
		u->cnt.pulls++;
	return rc;
}

/* 1 when a push went out; 0 when nothing could be cut. */
static int
start_push(struct uplink *u, uint64_t now, int probe)
{
	size_t		n = 0;
	uint32_t	i;
	int		more, rc;

	if (probe) {
		/* No events: the answer is the cloud's clock. */
		buf_clear(&u->body);
		if (buf_add(&u->body, STORE_EXPORT_MAGIC,
		    sizeof(STORE_EXPORT_MAGIC) - 1) != 0)
			return 0;
	} else {
		u->since = u->acked;
		for (i = 0; i < u->skip.n; i++)
			if (vclock_set(&u->since, u->skip.e[i].dev,
			    UINT64_MAX - 1) != 0)
				break;	/* full: sent, and refused again */
		rc = store_frames_closed(u->st, &u->since, pace_size(&u->pace),
		    UPLINK_BATCH_BYTES, &u->body, &n, &more);
		if (rc != 0) {
			log_warnx("uplink: cutting a batch: %s", err_str(rc));
			u->next_at = now + UPLINK_NOPROGRESS_MS;
			return 0;
		}
		if (n == 0)
			return 0;
	}
	if (send_job(u, JOB_PUSH, u->body.p, u->body.len, (uint32_t)n,
	    now) != 0)
		return 0;
	u->cnt.pushes++;
	u->cnt.events_sent += n;
	return 1;
}

void
uplink_tick(struct uplink *u)
{
	uint64_t	now = clock_mono_ms();

	refresh(u, now);
	if (!u->enabled || u->busy || now < u->next_at)
		return;
	if (now < u->last_req_at + u->gap_ms) {
		u->next_at = u->last_req_at + u->gap_ms;
		return;
	}
	if (!lease_may_upload(&u->lease, now))
		return;
	if (!breaker_allow(&u->br, now))
		return;
	u->rate_limited = 0;
	/* First the cloud's clock (and what it holds that we lack). */
	if (!u->synced || u->pull_wanted) {
		if (now >= u->pull_denied_until) {
			(void)start_pull(u, now);
			return;
		}
		if (!u->synced) {
			(void)start_push(u, now, 1);
			return;
		}
	}
	if (u->pending > 0 && start_push(u, now, 0))
		return;
	if (now >= u->last_req_at + u->poll_ms) {
		if (now >= u->pull_denied_until)
			(void)start_pull(u, now);
		else
			(void)start_push(u, now, 1);
	}
}

/* The request failed (the cloud is unreachable or erring). */
static void
failed(struct uplink *u, const struct result *r, uint64_t now)
{
	uint64_t	wait;

	breaker_failure(&u->br, now);
	if (u->busy_kind == JOB_PUSH && u->busy_n > 0)
		pace_failure(&u->pace);
	if (u->fails < UINT32_MAX)
		u->fails++;
	u->cnt.failures++;
	wait = r->retry_after > 0 ? backoff_retry_after_ms(r->retry_after,
	    0, u->fails, rnd01()) : backoff_delay_ms(u->fails, rnd01());
	u->next_at = now + wait;
	if (breaker_reopen_at(&u->br) > u->next_at)
		u->next_at = breaker_reopen_at(&u->br);
	if (u->fails == 1 || u->br.state == BREAKER_OPEN)
		log_warnx("uplink: %s (failure %u, breaker %s, next try in "
		    "%" PRIu64 " ms)", u->last_error, u->fails,
		    breaker_state_name(u->br.state), u->next_at - now);
}

/* 200: the cloud answered; renew the lease. */
static void
succeeded(struct uplink *u, uint64_t now)
{
	uint64_t	v;

	if (u->fails > 0 || u->br.state != BREAKER_CLOSED)
		log_info("uplink: %s reachable again", u->url);
	breaker_success(&u->br, now);
	u->fails = 0;
	u->last_error[0] = '\0';
	u->last_success_wall = clock_wall_ms();
	u->gap_ms -= u->gap_ms / 16;
	if (u->gap_ms < 100)
		u->gap_ms = 0;
	/* A peer's renewal merged this turn: seen before ours hides it. */
	lease_observe(&u->lease, vclock_get(&u->acked, lease_key()), now);
	v = lease_renew(&u->lease, clock_wall_ms(), now);
	if (vclock_get(&u->acked, lease_key()) < v &&
	    vclock_set(&u->acked, lease_key(), v) != 0)
		log_debug("uplink: no room for the lease in the clock");
}

static void
on_push(struct uplink *u, const struct result *r, const char *body,
    size_t len, uint64_t now)
{
	struct cloudmsg_push	*p;
	uint64_t		 before = 0, after = 0, held;
	uint32_t		 i;
	size_t			 k;
	char			 hex[ID_HEX];

	if ((p = malloc(sizeof(*p))) == NULL)
		return;
	if (cloudmsg_push_parse(body, len, p) != 0) {
		msgf(u->last_error, sizeof(u->last_error), "push: the cloud's "
		    "answer is not a push result");
		failed(u, r, now);
		free(p);
		return;
	}
	for (i = 0; i < u->vc.n; i++)
		before += vclock_get(&u->acked, u->vc.e[i].dev);
	adopt(u, &p->vc);
	for (i = 0; i < u->vc.n; i++)
		after += vclock_get(&u->acked, u->vc.e[i].dev);
	held = p->accepted + p->duplicate + p->conflicted;
	u->cnt.events_acked += held;
	u->cnt.events_accepted += p->accepted + p->conflicted;
	u->cnt.events_duplicate += p->duplicate;
	u->cnt.events_rejected += p->rejected;
	for (k = 0; k < p->nreject; k++) {
		/* Never sendable: skip the device (its later events chain
		 * to the refused one). */
		if (vclock_get(&u->skip, p->reject[k].dev) != 0)
			continue;
		ids_hex(hex, p->reject[k].dev, ID_LEN);
		log_warnx("uplink: the cloud refused event %s:%" PRIu64
		    " for good (%s): not sending that device's events "
		    "until restart", hex, p->reject[k].seq,
		    p->reject[k].error);
		if (vclock_set(&u->skip, p->reject[k].dev,
		    p->reject[k].seq) != 0)
			break;
	}
	succeeded(u, now);
	if (u->pull_denied_until != 0 && vclock_get(&u->acked,
	    u->ids.device_id) > u->pull_denied_own)
		u->pull_denied_until = 0;	/* the cloud knows us now */
	if (u->busy_n > 0)
		pace_success(&u->pace, u->busy_n, r->elapsed_ms);
	if (u->busy_n > 0 && after == before && p->nreject == 0) {
		/* Nothing new acknowledged: events waiting for others, or
		 * a cloud that forgets. Do not spin on it. */
		u->cnt.no_progress++;
		msgf(u->last_error, sizeof(u->last_error), "push of %u "
		    "events acknowledged nothing new%s%s", u->busy_n,
		    p->first_error[0] ? ": " : "", p->first_error);
		u->next_at = now + UPLINK_NOPROGRESS_MS;
	}
	log_debug("uplink: pushed %u events in %" PRIu64 " ms: %" PRIu64
	    " accepted, %" PRIu64 " duplicate, %" PRIu64 " rejected",
	    u->busy_n, r->elapsed_ms, p->accepted + p->conflicted,
	    p->duplicate, p->rejected);
	free(p);
}

/* Ingests a pull's events in a batch of their own. */
static int
ingest(struct uplink *u, const uint8_t *body, size_t len, size_t *accepted)
{
	struct store_frames	 fr;
	struct store_batch	*b = NULL;
	int			 rc;

	*accepted = 0;
	/* twice what a cloud should send in one answer, at most */
	if ((rc = store_export_frames(body, len, 2 * PULL_FRAMES_MAX, &fr))
	    != 0)
		goto out;
	if (fr.n == 0)
		goto out;
	if ((rc = store_batch_begin(u->st, &b)) != 0)
		goto out;
	memset(u->report, 0, sizeof(*u->report));
	if ((rc = store_ingest(b, fr.p, fr.len, fr.n, clock_wall_ms(),
	    u->report)) != 0) {
		store_batch_abort(&b);
		goto out;
	}
	if ((rc = store_batch_commit(&b)) != 0)
		goto out;
	*accepted = u->report->accepted;
	u->cnt.events_pulled += u->report->accepted;
	if (u->report->accepted > 0 || u->report->refused > 0)
		log_info("uplink: pulled %zu events from the cloud: %zu new, "
		    "%zu duplicate, %zu refused", fr.n, u->report->accepted,
		    u->report->duplicate, u->report->refused);
out:
	store_frames_free(&fr);
	return rc;
}

static void
on_pull(struct uplink *u, const struct result *r, const uint8_t *body,
    size_t len, const char *vctext, uint64_t now)
{
	struct vclock	*cv;
	size_t		 accepted = 0;
	int		 rc;

	if ((cv = malloc(sizeof(*cv))) == NULL)
		return;
	if (!r->has_vc || vclock_parse_compact(vctext, cv) != 0) {
		msgf(u->last_error, sizeof(u->last_error), "pull: no valid "
		    "X-Caja-Vector-Clock in the answer");
		failed(u, r, now);
		free(cv);
		return;
	}
	succeeded(u, now);
	if ((rc = ingest(u, body, len, &accepted)) != 0) {
		msgf(u->last_error, sizeof(u->last_error), "pull: ingest of "
		    "the cloud's events: %s", err_str(rc));
		log_warnx("uplink: %s", u->last_error);
		u->next_at = now + UPLINK_NOPROGRESS_MS;
	}
	if (store_vclock(u->st, &u->vc) != 0)
		log_debug("uplink: reading the vector clock failed");
	u->pull_wanted = 0;
	adopt(u, cv);
	/* More only while it makes progress (events we refuse would
	 * otherwise be pulled again and again). */
	if (!r->more || accepted == 0)
		u->pull_wanted = 0;
	else
		u->pull_wanted = 1;
	free(cv);
}

static void
on_result(struct uplink *u, const struct result *r, const uint8_t *body,
    size_t len, const char *vctext)
{
	uint64_t	now = clock_mono_ms();
	char		etext[CLOUDMSG_ERRMSG];
	uint32_t	kind = u->busy_kind, ra;

	u->busy = 0;
	u->cnt.bytes_wire += r->bytes_wire;
	u->cnt.bytes_raw += r->bytes_raw;
	if (r->http == 200) {
		if (kind == JOB_PUSH)
			on_push(u, r, (const char *)body, len, now);
		else
			on_pull(u, r, body, len, vctext, now);
		return;
	}
	if (r->http == 0) {
		msgf(u->last_error, sizeof(u->last_error), "%s", r->err[0] ?
		    r->err : "no answer");
		failed(u, r, now);
		return;
	}
	cloudmsg_error_text((const char *)body, len, etext, sizeof(etext));
	msgf(u->last_error, sizeof(u->last_error), "%s: HTTP %ld%s%s",
	    kind == JOB_PUSH ? "push" : "pull", r->http, etext[0] ? ": " : "",
	    etext);
	switch (r->http) {
	case 429:
		/* Reachable, but slow down: exactly as told. */
		breaker_neutral(&u->br);
		u->cnt.rate_limited++;
		u->rate_limited = 1;
		ra = r->retry_after ? r->retry_after : 1;
		u->next_at = now + backoff_retry_after_ms(ra, 1, 0, rnd01());
		/* Spread the next requests as well (decays on success),
		 * and move more events per request. */
		if (u->gap_ms < ra * 1000)
			u->gap_ms = ra * 1000;
		if (kind == JOB_PUSH)
			pace_rate_limited(&u->pace);
		log_debug("uplink: rate limited (Retry-After %u s), retry in "
		    "%" PRIu64 " ms", ra, u->next_at - now);
		return;
	case 413:
		breaker_neutral(&u->br);
		pace_too_big(&u->pace, u->busy_n);
		return;
	case 401:
	case 403:
		if (kind == JOB_PULL) {
			/* Not known to the cloud yet (our enrollment is
			 * pushed first): push, and ask again later. */
			breaker_neutral(&u->br);
			u->pull_denied_until = now + UPLINK_PULL_DENIED_MS;
			u->pull_denied_own = vclock_get(&u->acked,
			    u->ids.device_id);
			u->pull_wanted = 0;
			return;
		}
		break;
	default:
		if (r->http >= 500) {
			failed(u, r, now);
			return;
		}
		break;
	}
	/* Other refusals (400, 404, 415): the cloud answers but will not
	 * take this: back off without tripping the breaker. */
	breaker_neutral(&u->br);
	if (u->fails < UINT32_MAX)
		u->fails++;
	u->cnt.failures++;
	u->next_at = now + backoff_delay_ms(u->fails, rnd01());
	log_warnx("uplink: %s", u->last_error);
}

void
uplink_poll_done(struct uplink *u, const zmq_pollitem_t *items, size_t n)
{
	zmq_msg_t	m[3];
	struct result	r;
	int		i, got = 0, more = 1;

	if (!u->enabled || n == 0 || !(items[0].revents & ZMQ_POLLIN))
		return;
	for (i = 0; i < 3; i++)
		zmq_msg_init(&m[i]);
	for (i = 0; i < 3 && more; i++) {
		if (zmq_msg_recv(&m[i], u->pair, ZMQ_DONTWAIT) == -1)
			break;
		got++;
		more = zmq_msg_more(&m[i]);
	}
	if (got == 3 && zmq_msg_size(&m[0]) == sizeof(r)) {
		memcpy(&r, zmq_msg_data(&m[0]), sizeof(r));
		if (u->busy && r.id == u->job_id) {
			/* The vclock text is NUL-terminated by the thread. */
			const char	*vct = zmq_msg_size(&m[2]) > 0 &&
			    ((const char *)zmq_msg_data(&m[2]))[
			    zmq_msg_size(&m[2]) - 1] == '\0' ?
			    zmq_msg_data(&m[2]) : "";

			on_result(u, &r, zmq_msg_data(&m[1]),
			    zmq_msg_size(&m[1]), vct);
		}
	} else
		log_warnx("uplink: malformed result from the thread");
	for (i = 0; i < 3; i++)
		zmq_msg_close(&m[i]);
}

size_t
uplink_pollitems(struct uplink *u, zmq_pollitem_t *items, size_t cap,
    long *timeout_ms)
{
	uint64_t	now;

	if (!u->enabled || cap == 0)
		return 0;
	items[0].socket = u->pair;
	items[0].fd = 0;
	items[0].events = ZMQ_POLLIN;
	items[0].revents = 0;
	now = clock_mono_ms();
	if (!u->busy && u->next_at > now && (long)(u->next_at - now) <
	    *timeout_ms)
		*timeout_ms = (long)(u->next_at - now);
	return 1;
}

struct vclock *
uplink_acked(struct uplink *u)
{
	return &u->acked;
}

struct tagfind {
	uint32_t	tag;
	uint8_t		dev[ID_LEN];
	int		found;
};

static int
tag_cb(void *arg, const struct store_device *d)
{
	struct tagfind	*f = arg;

	if (lease_tag(d->id) != f->tag)
		return 0;
	memcpy(f->dev, d->id, ID_LEN);
	f->found = 1;
	return 1;
}

json_t *
uplink_status_json(struct uplink *u)
{
	struct tagfind	 f;
	json_t		*o, *acked;
	uint64_t	 now = clock_mono_ms();
	uint32_t	 i, tag;
	char		 hex[ID_HEX];

	if ((acked = json_object()) == NULL)
		return NULL;
	for (i = 0; i < u->acked.n; i++) {
		if (memcmp(u->acked.e[i].dev, lease_key(), ID_LEN) == 0)
			continue;
		ids_hex(hex, u->acked.e[i].dev, ID_LEN);
		(void)json_object_set_new(acked, hex,
		    json_integer((json_int_t)u->acked.e[i].seq));
	}
	memset(&f, 0, sizeof(f));
	if (lease_held(&u->lease, now, &tag)) {
		f.tag = tag;
		if (store_device_foreach(u->st, tag_cb, &f) < 0)
			f.found = 0;
	} else if (u->busy && u->busy_kind == JOB_PUSH) {
		memcpy(f.dev, u->ids.device_id, ID_LEN);
		f.found = 1;
	}
	if (f.found)
		ids_hex(hex, f.dev, ID_LEN);
	o = json_pack("{s:s?, s:s, s:s, s:I, s:o, s:s?, s:o?, s:s?}",
	    "url", u->url[0] ? u->url : NULL,
	    "state", state_name(u, now),
	    "breaker", breaker_state_name(u->br.state),
	    "pending", (json_int_t)u->pending,
	    "acked_vector_clock", acked,
	    "last_error", u->last_error[0] ? u->last_error : NULL,
	    "last_success_ms", u->last_success_wall ?
	    json_integer((json_int_t)u->last_success_wall) : NULL,
	    "uploader", f.found ? hex : NULL);
	if (o == NULL)
		return NULL;
	(void)json_object_set_new(o, "batch_size",
	    json_integer(pace_size(&u->pace)));
	(void)json_object_set_new(o, "rate_eps",
	    json_integer((json_int_t)u->pace.rate));
	(void)json_object_set_new(o, "next_attempt_ms", json_integer(
	    u->next_at > now ? (json_int_t)(u->next_at - now) : 0));
	(void)json_object_set_new(o, "consecutive_failures",
	    json_integer(u->fails));
	(void)json_object_set_new(o, "breaker_opens",
	    json_integer((json_int_t)u->br.opens));
	(void)json_object_set_new(o, "counters", json_pack(
	    "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	    "s:I, s:I}",
	    "requests", (json_int_t)u->cnt.requests,
	    "pushes", (json_int_t)u->cnt.pushes,
	    "pulls", (json_int_t)u->cnt.pulls,
	    "failures", (json_int_t)u->cnt.failures,
	    "rate_limited", (json_int_t)u->cnt.rate_limited,
	    "events_sent", (json_int_t)u->cnt.events_sent,
	    "events_acked", (json_int_t)u->cnt.events_acked,
	    "events_accepted", (json_int_t)u->cnt.events_accepted,
	    "events_duplicate", (json_int_t)u->cnt.events_duplicate,
	    "events_rejected", (json_int_t)u->cnt.events_rejected,
	    "events_pulled", (json_int_t)u->cnt.events_pulled,
	    "bytes_wire", (json_int_t)u->cnt.bytes_wire,
	    "bytes_raw", (json_int_t)u->cnt.bytes_raw,
	    "no_progress", (json_int_t)u->cnt.no_progress));
	return o;
}

int
uplink_new(struct uplink **up, void *zctx, struct store *st,
    const struct conf *c, char err[UPLINK_ERRMSG])
{
	struct uplink	*u = NULL;
	struct uthread	*t = NULL;
	const struct sig_key *k;
	uint8_t		 seed[SIG_SEED_LEN];
	char		 ep[64];
	size_t		 n;
	int		 rc;

	*up = NULL;
	if ((u = calloc(1, sizeof(*u))) == NULL ||
	    (u->report = calloc(1, sizeof(*u->report))) == NULL) {
		rc = CAJA_ENOMEM;
		msgf(err, UPLINK_ERRMSG, "uplink: out of memory");
		goto fail;
	}
	u->st = st;
	store_ids(st, &u->ids);
	vclock_init(&u->acked);
	vclock_init(&u->vc);
	vclock_init(&u->cloud_vc);
	vclock_init(&u->skip);
	breaker_init(&u->br);
	pace_init(&u->pace, c->cloud_batch_min, c->cloud_batch_max);
	lease_init(&u->lease, u->ids.device_id);
	buf_init(&u->body, 0);
	u->poll_ms = c->cloud_poll_ms;
	msgf(u->url, sizeof(u->url), "%s", c->cloud);
	n = strlen(u->url);
	while (n > 0 && u->url[n - 1] == '/')
		u->url[--n] = '\0';
	if (u->url[0] == '\0') {
		*up = u;
		return 0;
	}
	if ((k = store_device_key(st)) == NULL) {
		rc = CAJA_EINVAL;
		msgf(err, UPLINK_ERRMSG, "uplink: no device key");
		goto fail;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		rc = CAJA_EIO;
		msgf(err, UPLINK_ERRMSG, "uplink: curl_global_init failed");
		goto fail;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		rc = CAJA_ENOMEM;
		msgf(err, UPLINK_ERRMSG, "uplink: out of memory");
		goto fail;
	}
	t->zctx = zctx;
	msgf(t->base, sizeof(t->base), "%s", u->url);
	ids_hex(t->store_hex, u->ids.store_id, ID_LEN);
	ids_hex(t->dev_hex, u->ids.device_id, ID_LEN);
	t->timeout_ms = c->cloud_timeout_ms;
	atomic_init(&t->stop, 0);
	buf_init(&t->in, 0);
	buf_init(&t->gz, 0);
	buf_init(&t->resp, CLOUDMSG_BODY_MAX + 1);
	buf_init(&t->msg, 0);
	buf_init(&t->url, 0);
	buf_init(&t->vc, 0);
	sig_key_seed(k, seed);
	rc = sig_key_from_seed(&t->key, seed);
	sodium_memzero(seed, sizeof(seed));
	if (rc != 0) {
		msgf(err, UPLINK_ERRMSG, "uplink: device key: %s",
		    err_str(rc));
		goto fail;
	}
	if ((t->curl = curl_easy_init()) == NULL) {
		rc = CAJA_ENOMEM;
		msgf(err, UPLINK_ERRMSG, "uplink: curl_easy_init failed");
		goto fail;
	}
	/* One endpoint per uplink: a process may hold several (tests). */
	msgf(ep, sizeof(ep), "%s-%p", UPLINK_PAIR, (void *)u);
	if ((u->pair = zmq_socket(zctx, ZMQ_PAIR)) == NULL ||
	    zmq_bind(u->pair, ep) != 0 ||
	    (t->pair = zmq_socket(zctx, ZMQ_PAIR)) == NULL ||
	    zmq_connect(t->pair, ep) != 0) {
		rc = CAJA_EIO;
		msgf(err, UPLINK_ERRMSG, "uplink: inproc socket: %s",
		    zmq_strerror(zmq_errno()));
		goto fail;
	}
	/* From here the thread owns t->pair (sockets are one thread's). */
	if ((rc = pthread_create(&u->thr, NULL, thr_main, t)) != 0) {
		msgf(err, UPLINK_ERRMSG, "uplink: thread: %s", strerror(rc));
		rc = CAJA_EIO;
		goto fail;
	}
	u->t = t;
	u->started = 1;
	u->enabled = 1;
	log_info("uplink: cloud %s, batches of %u..%u events, poll every "
	    "%" PRIu64 " ms", u->url, u->pace.min, u->pace.max, u->poll_ms);
	*up = u;
	return 0;
fail:
	thr_free(&t);
	uplink_destroy(&u);
	return rc;
}

void
uplink_destroy(struct uplink **up)
{
	struct uplink	*u = *up;
	struct job	 j;
	int		 linger = 0;

	if (u == NULL)
		return;
	if (u->started) {
		atomic_store(&u->t->stop, 1);
		memset(&j, 0, sizeof(j));
		j.kind = JOB_STOP;
		(void)zmq_send(u->pair, &j, sizeof(j), ZMQ_DONTWAIT);
		pthread_join(u->thr, NULL);
		thr_free(&u->t);
	}
	if (u->pair != NULL) {
		(void)zmq_setsockopt(u->pair, ZMQ_LINGER, &linger,
		    sizeof(linger));
		zmq_close(u->pair);
	}
	buf_reset(&u->body);
	free(u->report);
	free(u);
	*up = NULL;
}
