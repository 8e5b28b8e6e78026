/*
 * loop: the poll loop, group commit, request execution.
 */
#include <errno.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "agent/clock.h"
#include "agent/conf.h"
#include "agent/ctl.h"
#include "agent/disco.h"
#include "agent/log.h"
#include "agent/loop.h"
#include "agent/peer.h"
#include "agent/uplink.h"
#include "agent/zap.h"
#include "proto/ident.h"
#include "proto/ids.h"
#include "store/store.h"

#define INVITE_TTL_DEFAULT_MS	(24ull * 3600 * 1000)
#define CLIENT_HEX		(2 * 32 + 1)
#define DISCO_PAIR		"inproc://caja-disco"
#define LOOP_POLL_FIXED		5	/* ctl, signals, zap, disco, uplink */

struct pending {
	zmq_msg_t		env[CTL_ENVELOPE_MAX];
	size_t			nenv;
	char			client[CLIENT_HEX];
	struct ctl_request	req;
	int			decoded;
	int			failed;	/* refused: not retried in group */
	int			deferred; /* answered later (an import) */
	json_t			*reply;
};

struct loop {
	struct conf		 conf;
	const struct conf_arg	*args;
	size_t			 nargs;
	struct store		*st;
	void			*zctx;
	void			*ctl;
	int			 sigfd;
	int			 stop;
	int			 store_full;
	char			 full_msg[STORE_ERRMSG];
	uint64_t		 start_ms;
	struct loop_counters	 cnt;
	struct pending		*pend;		/* conf.batch_max slots */
	struct store_import	*imp;		/* the import running, if any */
	struct pending		 imp_req;	/* its request, answered at the end */
	uint64_t		 imp_start;
	struct zap		*zap;		/* before any CURVE socket */
	struct peers		*peers;
	struct disco		*disco;
	void			*disco_pair;
	struct uplink		*up;		/* cloud uplink */
	zmq_pollitem_t		*items;
};

/* Errors after which the batch itself is unusable. */
static int
is_batch_fatal(int rc)
{
	return rc == CAJA_EFULL || rc == CAJA_EIO || rc == CAJA_ENOMEM ||
	    rc == CAJA_ECORRUPT;
}

static void
disco_log(void *arg, int level, const char *msg)
{
	(void)arg;
	switch (level) {
	case DISCO_LOG_ERROR:
		log_error("mdns: %s", msg);
		break;
	case DISCO_LOG_WARN:
		log_warnx("mdns: %s", msg);
		break;
	case DISCO_LOG_INFO:
		log_info("mdns: %s", msg);
		break;
	default:
		log_debug("mdns: %s", msg);
		break;
	}
}

/*
 * The LAN side: the ZAP handler first (it must answer the handshakes of
 * the CURVE socket peer_new() binds), the peer sessions, then discovery
 * on the port we listen on.
 */
static int
net_start(struct loop *l, char err[LOOP_ERRMSG])
{
	struct disco_config	dc;
	struct store_ids	ids;
	char			perr[PEER_ERRMSG], sid[ID_HEX], did[ID_HEX];
	int			rc;

	if ((rc = zap_new(&l->zap, l->zctx)) != 0) {
		msgf(err, LOOP_ERRMSG, "cannot start the ZAP handler");
		return rc;
	}
	if ((rc = peer_new(&l->peers, l->zctx, l->st, l->zap, &l->conf,
	    perr)) != 0) {
		msgf(err, LOOP_ERRMSG, "%s", perr);
		return rc;
	}
	if (!l->conf.mdns)
		return 0;
	if ((l->disco_pair = zmq_socket(l->zctx, ZMQ_PAIR)) == NULL ||
	    zmq_bind(l->disco_pair, DISCO_PAIR) != 0) {
		msgf(err, LOOP_ERRMSG, "discovery socket: %s",
		    zmq_strerror(zmq_errno()));
		return CAJA_EIO;
	}
	store_ids(l->st, &ids);
	ids_hex(sid, ids.store_id, ID_LEN);
	ids_hex(did, ids.device_id, ID_LEN);
	memset(&dc, 0, sizeof(dc));
	dc.store_id = sid;
	dc.device_id = did;
	dc.port = peer_port(l->peers);
	dc.log = disco_log;
	if ((rc = disco_new(&l->disco, l->zctx, DISCO_PAIR, &dc)) != 0) {
		msgf(err, LOOP_ERRMSG, "mDNS discovery: %s", err_str(rc));
		return rc;
	}
	peer_set_disco(l->peers, l->disco);
	return 0;
}

int
loop_new(struct loop **lp, const struct conf *c, const struct conf_arg *args,
    size_t nargs, char err[LOOP_ERRMSG])
{
	struct loop		*l = NULL;
	struct store_opts	 so;
	sigset_t		 set;
	char			 cerr[CTL_ERRMSG];
	int			 rc;

	*lp = NULL;
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		msgf(err, LOOP_ERRMSG, "out of memory");
		return CAJA_ENOMEM;
	}
	l->sigfd = -1;
	l->conf = *c;
	l->args = args;
	l->nargs = nargs;
	l->start_ms = clock_mono_ms();
	if ((l->pend = calloc(CONF_BATCH_MAX, sizeof(*l->pend))) == NULL ||
	    (l->items = calloc(LOOP_POLL_FIXED + PEER_POLL_MAX,
	    sizeof(*l->items))) == NULL) {
		rc = CAJA_ENOMEM;
		msgf(err, LOOP_ERRMSG, "out of memory");
		goto fail;
	}

	/* Before zmq_ctx_new: its threads inherit the blocked set. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1 ||
	    (l->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1) {
		rc = CAJA_EIO;
		msgf(err, LOOP_ERRMSG, "signalfd: %s", strerror(errno));
		goto fail;
	}
	signal(SIGPIPE, SIG_IGN);

	memset(&so, 0, sizeof(so));
	so.map_max = c->map_max;
	so.max_skew_ms = c->max_skew_ms;
	if ((rc = store_open(&l->st, c->dir, &so)) != 0) {
		msgf(err, LOOP_ERRMSG, "cannot open the store in %s: %s%s",
		    c->dir, err_str(rc), rc == CAJA_ENOTFOUND || rc ==
		    CAJA_EIO ? " (run cajactl init or join first?)" : "");
		goto fail;
	}
	if ((l->zctx = zmq_ctx_new()) == NULL) {
		rc = CAJA_EIO;
		msgf(err, LOOP_ERRMSG, "zmq_ctx_new: %s",
		    zmq_strerror(zmq_errno()));
		goto fail;
	}
	if ((rc = ctl_listen(l->zctx, c->dir, &l->ctl, cerr)) != 0) {
		msgf(err, LOOP_ERRMSG, "%s", cerr);
		goto fail;
	}
	if ((rc = net_start(l, err)) != 0)
		goto fail;
	{
		char	uerr[UPLINK_ERRMSG];

		if ((rc = uplink_new(&l->up, l->zctx, l->st, &l->conf,
		    uerr)) != 0) {
			msgf(err, LOOP_ERRMSG, "%s", uerr);
			goto fail;
		}
	}
	peer_set_acked(l->peers, uplink_acked(l->up));
	*lp = l;
	return 0;
fail:
	loop_destroy(&l);
	return rc;
}

void
loop_destroy(struct loop **lp)
{
	struct loop	*l = *lp;

	if (l == NULL)
		return;
	if (l->ctl != NULL)
		zmq_close(l->ctl);
	disco_destroy(&l->disco);
	if (l->disco_pair != NULL) {
		int	linger = 0;

		(void)zmq_setsockopt(l->disco_pair, ZMQ_LINGER, &linger,
		    sizeof(linger));
		zmq_close(l->disco_pair);
	}
	peer_destroy(&l->peers);
	uplink_destroy(&l->up);
	zap_destroy(&l->zap);
	if (l->zctx != NULL)
		zmq_ctx_term(l->zctx);
	store_close(&l->st);
	if (l->sigfd != -1)
		close(l->sigfd);
	free(l->pend);
	free(l->items);
	free(l);
	*lp = NULL;
}

void
loop_stop(struct loop *l)
{
	l->stop = 1;
}

const struct loop_counters *
loop_counters(const struct loop *l)
{
	return &l->cnt;
}

/* SIGHUP: rebuild the configuration; apply what can change live. */
static void
reload(struct loop *l)
{
	struct conf	n;
	char		err[CONF_ERRMSG];

	if (conf_build(&n, l->conf.file[0] ? l->conf.file : NULL, l->args,
	    l->nargs, err) != 0) {
		log_warnx("reload: %s; keeping the running configuration",
		    err);
		return;
	}
	if (n.log_level != l->conf.log_level) {
		log_info("reload: log_level %s -> %s",
		    log_level_name(l->conf.log_level),
		    log_level_name(n.log_level));
		log_setlevel(n.log_level);
		l->conf.log_level = n.log_level;
	}
	if (n.batch_max != l->conf.batch_max) {
		log_info("reload: batch_max %d -> %d", l->conf.batch_max,
		    n.batch_max);
		l->conf.batch_max = n.batch_max;
	}
	if (strcmp(n.listen, l->conf.listen) != 0 ||
	    strcmp(n.http, l->conf.http) != 0 ||
	    strcmp(n.cloud, l->conf.cloud) != 0 ||
	    n.map_max != l->conf.map_max || n.mdns != l->conf.mdns ||
	    n.npeers != l->conf.npeers || n.max_skew_ms != l->conf.max_skew_ms)
		log_warnx("reload: listen, peer, mdns, http, cloud, map_max "
		    "and max_skew take effect on restart");
	log_info("reload: configuration %s reloaded",
	    l->conf.file[0] ? l->conf.file : "(flags only)");
}

static void
handle_signals(struct loop *l)
{
	struct signalfd_siginfo	si;
	ssize_t			n;

	while ((n = read(l->sigfd, &si, sizeof(si))) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			log_info("received %s from pid %u, stopping",
			    si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT",
			    si.ssi_pid);
			l->stop = 1;
			break;
		case SIGHUP:
			log_info("received SIGHUP from pid %u, reloading",
			    si.ssi_pid);
			reload(l);
			break;
		}
	}
}

static void
pending_clear(struct pending *p)
{
	size_t	i;

	for (i = 0; i < p->nenv; i++)
		zmq_msg_close(&p->env[i]);
	ctl_request_reset(&p->req);
	json_decref(p->reply);
	memset(p, 0, sizeof(*p));
}

/* Moves src's request, envelope and reply into dst (empty); src is left
 * empty. */
static void
pending_move(struct pending *dst, struct pending *src)
{
	size_t	i;

	memset(dst, 0, sizeof(*dst));
	for (i = 0; i < src->nenv; i++) {
		zmq_msg_init(&dst->env[i]);
		(void)zmq_msg_move(&dst->env[i], &src->env[i]);
		zmq_msg_close(&src->env[i]);
	}
	dst->nenv = src->nenv;
	memcpy(dst->client, src->client, sizeof(dst->client));
	dst->req = src->req;		/* owns its JSON root */
	dst->decoded = src->decoded;
	dst->reply = src->reply;
	memset(src, 0, sizeof(*src));
}

static void
set_reply(struct pending *p, json_t *r)
{
	json_decref(p->reply);
	p->reply = r;
}

static void
set_error(struct pending *p, int code, const char *msg)
{
	set_reply(p, ctl_reply_error(code, msg, p->req.id));
}

/*
 * Receives one message: envelope frames, then the body. 1 when one was
 * read, 0 when none is pending, -1 on a malformed message (dropped).
 */
static int
recv_one(struct loop *l, struct pending *p)
{
	zmq_msg_t	 m;
	char		 err[CTL_ERRMSG];
	int		 more, rc, ret = 1, nframes = 0;
	long		 bad;
	size_t		 sz;
	const uint8_t	*d;

	memset(p, 0, sizeof(*p));
	for (;;) {
		zmq_msg_init(&m);
		rc = zmq_msg_recv(&m, l->ctl, nframes == 0 ? ZMQ_DONTWAIT : 0);
		if (rc == -1) {
			zmq_msg_close(&m);
			if (nframes == 0 && (zmq_errno() == EAGAIN ||
			    zmq_errno() == EINTR))
				return 0;
			log_warnx("control socket: receive: %s",
			    zmq_strerror(zmq_errno()));
			pending_clear(p);
			return -1;
		}
		nframes++;
		more = zmq_msg_more(&m);
		if (!more)
			break;
		if (p->nenv >= CTL_ENVELOPE_MAX) {
			/* Too many frames: drop what remains. */
			zmq_msg_close(&m);
			ret = -1;
			continue;
		}
		p->env[p->nenv++] = m;
	}
	if (p->nenv > 0) {
		d = zmq_msg_data(&p->env[0]);
		sz = zmq_msg_size(&p->env[0]);
		if (sz > 32)
			sz = 32;
		ids_hex(p->client, d, sz);
	}
	if (ret == -1 || p->nenv == 0) {
		log_warnx("control socket: dropped a message from client %s "
		    "with %d frames", p->client[0] ? p->client : "?", nframes);
		zmq_msg_close(&m);
		pending_clear(p);
		return -1;
	}
	rc = ctl_request_decode(zmq_msg_data(&m), zmq_msg_size(&m), &p->req,
	    &bad, err);
	zmq_msg_close(&m);
	if (rc != 0) {
		l->cnt.bad_requests++;
		log_warnx("request from client %s refused: %s", p->client, err);
		set_reply(p, ctl_reply_error(rc, err, NULL));
		if (bad >= 0 && p->reply != NULL)
			(void)json_object_set_new(p->reply, "index",
			    json_integer(bad));
		return 1;
	}
	l->cnt.requests++;
	p->decoded = 1;
	log_debug("request %s from client %s", ctl_cmd_name(p->req.cmd),
	    p->client);
	return 1;
}

static json_t *
appended_json(const struct store_appended *a)
{
	char	eid[HASH_HEX], did[ID_HEX];

	ids_hex(eid, a->event_id, HASH_LEN);
	ids_hex(did, a->device_id, ID_LEN);
	return json_pack("{s:s, s:s, s:I}", "event_id", eid, "device_id", did,
	    "seq", (json_int_t)a->seq);
}

/*
 * Runs one write request inside batch b. Returns 0 (reply set, or left
 * for the commit), or the store's code: the reply then holds the error.
 * *partial is set when a multi-event request failed after some of its
 * events went into the batch.
 */
static int
exec_write(struct loop *l, struct store_batch *b, struct pending *p,
    uint64_t now, int *partial)
{
	struct ctl_request	*r = &p->req;
	struct store_appended	 a;
	char			 msg[STORE_ERRMSG], line[CTL_ERRMSG + 64];
	char			 token[IDENT_TOKEN_MAX + 1];
	json_t			*rep = NULL, *arr = NULL;
	uint64_t		 exp;
	size_t			 i;
	int			 rc = 0;

	*partial = 0;
	msg[0] = '\0';
	switch (r->cmd) {
	case CTL_APPEND:
	case CTL_APPEND_BATCH:
		if (r->cmd == CTL_APPEND_BATCH &&
		    (arr = json_array()) == NULL) {
			rc = CAJA_ENOMEM;
			break;
		}
		for (i = 0; i < r->nevents; i++) {
			rc = store_append_json(b, r->events[i].type_name,
			    r->events[i].payload, now, &a, msg);
			if (rc != 0)
				break;
			if (r->cmd == CTL_APPEND)
				rep = appended_json(&a);
			else if (json_array_append_new(arr,
			    appended_json(&a)) == -1)
				rc = CAJA_ENOMEM;
			if (rc != 0)
				break;
		}
		if (rc != 0) {
			*partial = (i > 0);
			if (r->cmd == CTL_APPEND_BATCH)
				msgf(line, sizeof(line), "event %zu: %s: %s",
				    i, r->events[i].type_name,
				    msg[0] ? msg : err_str(rc));
			else
				msgf(line, sizeof(line), "%s: %s",
				    r->events[i].type_name,
				    msg[0] ? msg : err_str(rc));
			set_error(p, rc, line);
			if (r->cmd == CTL_APPEND_BATCH && p->reply != NULL)
				(void)json_object_set_new(p->reply, "index",
				    json_integer((json_int_t)i));
			break;
		}
		if (r->cmd == CTL_APPEND_BATCH)
			rep = json_pack("{s:o}", "results", arr);
		else
			rep = json_pack("{s:o}", "appended", rep);
		arr = NULL;
		break;
	case CTL_INVITE:
		exp = r->expires_ms ? r->expires_ms :
		    now + (r->ttl_ms ? r->ttl_ms : INVITE_TTL_DEFAULT_MS);
		rc = store_invite(b, r->role ? r->role : "register", exp, now,
		    token, sizeof(token), msg);
		if (rc == 0)
			rep = json_pack("{s:{s:s, s:s, s:I}}", "invite",
			    "token", token, "role", r->role ? r->role :
			    "register", "expires_ms", (json_int_t)exp);
		break;
	case CTL_REVOKE:
		rc = store_revoke(b, r->device, r->reason ? r->reason : "",
		    now, &a, msg);
		if (rc == 0)
			rep = json_pack("{s:o}", "appended", appended_json(&a));
		break;
	case CTL_RESOLVE:
		rc = store_resolve(b, r->conflict, r->value,
		    r->by ? r->by : "operator", now, &a, msg);
		if (rc == 0)
			rep = json_pack("{s:o}", "appended", appended_json(&a));
		break;
	default:
		rc = CAJA_EINVAL;
		break;
	}
	json_decref(arr);
	if (rc != 0) {
		if (p->reply == NULL) {
			msgf(line, sizeof(line), "%s: %s",
			    ctl_cmd_name(r->cmd), msg[0] ? msg : err_str(rc));
			set_error(p, rc, line);
		}
		json_decref(rep);
		return rc;
	}
	if (rep == NULL) {
		set_error(p, CAJA_ENOMEM, "out of memory");
		return CAJA_ENOMEM;
	}
	/* {"appended":{...}} flattens into the reply for single events. */
	if (json_object_get(rep, "appended") != NULL) {
		json_t	*in = json_incref(json_object_get(rep, "appended"));

		json_decref(rep);
		rep = in;
	}
	(void)json_object_set_new(rep, "ok", json_true());
	if (r->id != NULL)
		(void)json_object_set(rep, "id", r->id);
	set_reply(p, rep);
	return 0;
}

static int
is_group_write(const struct pending *p)
{
	return p->decoded && ctl_cmd_is_write(p->req.cmd) &&
	    p->req.cmd != CTL_IMPORT;
}

/* Every write of the group still standing gets this error. */
static void
fail_group(struct loop *l, struct pending *ps, size_t n, int rc,
    const char *cause)
{
	char	line[CTL_ERRMSG + 64];
	size_t	i;

	for (i = 0; i < n; i++) {
		if (!is_group_write(&ps[i]) || ps[i].failed)
			continue;
		msgf(line, sizeof(line), "%s not written: %s",
		    ctl_cmd_name(ps[i].req.cmd), cause);
		set_error(&ps[i], rc, line);
		l->cnt.failed++;
	}
}

static void
note_full(struct loop *l, int rc, const char *what)
{
	if (rc == CAJA_EFULL) {
		if (!l->store_full)
			log_error("store %s full (map_max %llu): writes "
			    "refused, reads go on", l->conf.dir,
			    (unsigned long long)l->conf.map_max);
		l->store_full = 1;
		msgf(l->full_msg, sizeof(l->full_msg), "%s", what);
	}
}

/* All writes of the group in one batch; retried without a request that
 * failed half-way, so that a request is all or nothing. */
static void
run_group(struct loop *l, struct pending *ps, size_t n)
{
	struct store_batch	*b = NULL;
	char			 cause[CTL_ERRMSG];
	uint64_t		 now = clock_wall_ms(), added;
	size_t			 i, nw, attempt;
	int			 rc, partial, restart;

	for (attempt = 0; attempt <= n; attempt++) {
		nw = 0;
		added = 0;
		for (i = 0; i < n; i++)
			if (is_group_write(&ps[i]) && !ps[i].failed)
				nw++;
		if (nw == 0 && !peer_has_rx(l->peers))
			return;
		if ((rc = store_batch_begin(l->st, &b)) != 0) {
			msgf(cause, sizeof(cause), "cannot begin a store "
			    "write: %s", err_str(rc));
			log_warnx("%s", cause);
			note_full(l, rc, cause);
			fail_group(l, ps, n, rc, cause);
			peer_ingest_done(l->peers, 0);
			return;
		}
		/* Events received from peers share the group's commit. */
		if ((rc = peer_ingest(l->peers, b)) != 0) {
			store_batch_abort(&b);
			msgf(cause, sizeof(cause), "ingest of received events: "
			    "%s", err_str(rc));
			log_warnx("%s", cause);
			note_full(l, rc, cause);
			fail_group(l, ps, n, rc, cause);
			peer_ingest_done(l->peers, 0);
			return;
		}
		restart = 0;
		for (i = 0; i < n; i++) {
			if (!is_group_write(&ps[i]) || ps[i].failed)
				continue;
			rc = exec_write(l, b, &ps[i], now, &partial);
			if (rc == 0) {
				added += ps[i].req.cmd == CTL_APPEND_BATCH ?
				    ps[i].req.nevents : 1;
				continue;
			}
			if (is_batch_fatal(rc)) {
				store_batch_abort(&b);
				msgf(cause, sizeof(cause), "%s (%s)",
				    err_str(rc), json_string_value(
				    json_object_get(ps[i].reply, "error")));
				log_warnx("write batch of %zu requests aborted: "
				    "%s", nw, cause);
				note_full(l, rc, cause);
				fail_group(l, ps, n, rc, err_str(rc));
				peer_ingest_done(l->peers, 0);
				return;
			}
			ps[i].failed = 1;
			l->cnt.refused++;
			log_info("%s from client %s refused: %s",
			    ctl_cmd_name(ps[i].req.cmd), ps[i].client,
			    json_string_value(json_object_get(ps[i].reply,
			    "error")));
			if (partial) {
				/* Part of it is in the batch: start over. */
				store_batch_abort(&b);
				restart = 1;
				break;
			}
		}
		if (restart)
			continue;
		if ((rc = store_batch_commit(&b)) != 0) {
			msgf(cause, sizeof(cause), "commit failed: %s",
			    err_str(rc));
			log_warnx("commit of %zu write requests failed: %s",
			    nw, err_str(rc));
			note_full(l, rc, cause);
			fail_group(l, ps, n, rc, cause);
			peer_ingest_done(l->peers, 0);
			return;
		}
		peer_ingest_done(l->peers, 1);
		if (l->store_full)
			log_info("store %s accepts writes again", l->conf.dir);
		l->store_full = 0;
		l->cnt.commits++;
		l->cnt.appended += added;
		log_debug("group commit: %zu requests, %llu events", nw,
		    (unsigned long long)added);
		return;
	}
	peer_ingest_done(l->peers, 0);
}

/*
 * Imports run in steps between the loop's turns (store_import_step()), so
 * that appends, reads and peers are served while a large file merges: a
 * step of IMPORT_STEP_BUSY events when requests or peers' events wait,
 * else IMPORT_STEP. The client gets its answer when the import ends.
 */
#define IMPORT_STEP		25000
#define IMPORT_STEP_BUSY	2048

static void
import_start(struct loop *l, struct pending *p)
{
	char		msg[STORE_ERRMSG], line[CTL_ERRMSG + 64];
	const char	*path;
	size_t		frames, pending;
	int		rc;

	if (l->imp != NULL) {
		store_import_progress(l->imp, &frames, &pending, &path);
		msgf(line, sizeof(line), "an import is running (%s, %zu of "
		    "%zu events to go): try again when it ends", path, pending,
		    frames);
		set_error(p, CAJA_EAGAIN, line);
		return;
	}
	msg[0] = '\0';
	if ((rc = store_import_open(l->st, p->req.path, &l->imp, msg)) != 0) {
		msgf(line, sizeof(line), "import %s: %s", p->req.path,
		    msg[0] ? msg : err_str(rc));
		log_warnx("%s (client %s)", line, p->client);
		set_error(p, rc, line);
		return;
	}
	l->cnt.imports++;
	store_import_progress(l->imp, &frames, &pending, &path);
	log_info("import %s from client %s: %zu events in the file",
	    p->req.path, p->client, frames);
	/* The request (its envelope) waits here for the answer. */
	pending_move(&l->imp_req, p);
	p->deferred = 1;
	l->imp_start = clock_mono_ms();
}

static void
import_reply(struct loop *l)
{
	const struct store_report	*rp = store_import_report(l->imp);
	struct pending			*p = &l->imp_req;
	char				 did[ID_HEX];
	json_t				*rep, *refs;
	size_t				 i;

	refs = json_array();
	for (i = 0; refs != NULL && i < rp->nrefusals; i++) {
		ids_hex(did, rp->refusals[i].dev, ID_LEN);
		(void)json_array_append_new(refs, json_pack(
		    "{s:s, s:I, s:i, s:s}", "device_id", did, "seq",
		    (json_int_t)rp->refusals[i].seq, "code",
		    rp->refusals[i].err, "error", rp->refusals[i].msg[0] ?
		    rp->refusals[i].msg : err_str(rp->refusals[i].err)));
	}
	rep = json_pack("{s:b, s:s, s:I, s:I, s:I, s:I, s:I, s:o}", "ok", 1,
	    "path", p->req.path, "accepted", (json_int_t)rp->accepted,
	    "duplicate", (json_int_t)rp->duplicate,
	    "refused", (json_int_t)rp->refused,
	    "forks", (json_int_t)rp->forks,
	    "sig_checks", (json_int_t)rp->sig_checks,
	    "refusals", refs ? refs : json_array());
	if (rep == NULL) {
		set_error(p, CAJA_ENOMEM, "out of memory");
		return;
	}
	if (p->req.id != NULL)
		(void)json_object_set(rep, "id", p->req.id);
	log_info("import %s from client %s: %zu accepted, %zu duplicate, "
	    "%zu refused in %llu ms", p->req.path, p->client, rp->accepted,
	    rp->duplicate, rp->refused, (unsigned long long)
	    (clock_mono_ms() - l->imp_start));
	set_reply(p, rep);
}

static void send_reply(struct loop *, struct pending *);

/* One step of the running import; answers its client when it ends. */
static void
import_step(struct loop *l, int busy)
{
	char	msg[STORE_ERRMSG], line[CTL_ERRMSG + 64];
	int	rc, done = 0;

	if (l->imp == NULL)
		return;
	msg[0] = '\0';
	rc = store_import_step(l->imp, busy ? IMPORT_STEP_BUSY : IMPORT_STEP,
	    clock_wall_ms(), &done, msg);
	if (rc != 0) {
		msgf(line, sizeof(line), "import %s: %s (what was merged "
		    "before stays; import the file again for the rest)",
		    l->imp_req.req.path, msg[0] ? msg : err_str(rc));
		log_warnx("%s (client %s)", line, l->imp_req.client);
		note_full(l, rc, line);
		set_error(&l->imp_req, rc, line);
	} else if (done)
		import_reply(l);
	else
		return;
	send_reply(l, &l->imp_req);
	pending_clear(&l->imp_req);
	store_import_close(&l->imp);
}

/* The agent stops: the client hears how far the import got. */
static void
import_abandon(struct loop *l)
{
	const struct store_report	*rp;
	char				 line[CTL_ERRMSG + 64];

	if (l->imp == NULL)
		return;
	rp = store_import_report(l->imp);
	msgf(line, sizeof(line), "import %s interrupted: the agent is "
	    "stopping (%zu events merged so far stay; import the file again "
	    "for the rest)", l->imp_req.req.path, rp->accepted);
	log_warnx("%s", line);
	set_error(&l->imp_req, CAJA_EAGAIN, line);
	send_reply(l, &l->imp_req);
	pending_clear(&l->imp_req);
	store_import_close(&l->imp);
}

static json_t *
status_json(struct loop *l, int *rcp)
{
	json_t	*s = NULL, *cloud;
	int	 rc;

	if ((rc = store_status_json(l->st, &s)) != 0) {
		*rcp = rc;
		return NULL;
	}
	cloud = uplink_status_json(l->up);
	(void)json_object_set_new(s, "ok", json_true());
	(void)json_object_set_new(s, "agent", json_string("running"));
	(void)json_object_set_new(s, "pid", json_integer(getpid()));
	(void)json_object_set_new(s, "uptime_ms",
	    json_integer((json_int_t)(clock_mono_ms() - l->start_ms)));
	if ((rc = peer_status_json(l->peers, s)) != 0) {
		json_decref(cloud);
		json_decref(s);
		*rcp = rc;
		return NULL;
	}
	(void)json_object_set_new(s, "mdns", l->disco == NULL ?
	    json_string("off") : json_string(disco_state_name(
	    disco_get_state(l->disco))));
	(void)json_object_set_new(s, "cloud", cloud);
	if (l->imp != NULL) {
		const struct store_report	*rp;
		const char			*path;
		size_t				 frames, pending;

		rp = store_import_report(l->imp);
		store_import_progress(l->imp, &frames, &pending, &path);
		(void)json_object_set_new(s, "import", json_pack(
		    "{s:s, s:I, s:I, s:I, s:I, s:I}", "path", path,
		    "events_in_file", (json_int_t)frames,
		    "to_go", (json_int_t)pending,
		    "accepted", (json_int_t)rp->accepted,
		    "duplicate", (json_int_t)rp->duplicate,
		    "running_ms", (json_int_t)(clock_mono_ms() -
		    l->imp_start)));
	}
	(void)json_object_set_new(s, "store_full",
	    json_boolean(l->store_full));
	if (l->store_full)
		(void)json_object_set_new(s, "store_full_error",
		    json_string(l->full_msg));
	(void)json_object_set_new(s, "requests", json_pack(
	    "{s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	    "decoded", (json_int_t)l->cnt.requests,
	    "bad", (json_int_t)l->cnt.bad_requests,
	    "refused", (json_int_t)l->cnt.refused,
	    "failed", (json_int_t)l->cnt.failed,
	    "appended", (json_int_t)l->cnt.appended,
	    "commits", (json_int_t)l->cnt.commits,
	    "imports", (json_int_t)l->cnt.imports));
	(void)json_object_set_new(s, "config", json_pack(
	    "{s:s, s:s, s:b, s:s, s:s}", "listen", l->conf.listen,
	    "http", l->conf.http, "mdns", l->conf.mdns,
	    "log_level", log_level_name(log_getlevel()),
	    "file", l->conf.file));
	*rcp = 0;
	return s;
}

static void
run_read(struct loop *l, struct pending *p)
{
	json_t	*r;
	int	 rc;

	switch (p->req.cmd) {
	case CTL_PING:
		r = json_pack("{s:b, s:i}", "ok", 1, "pid", (int)getpid());
		if (r != NULL && p->req.id != NULL)
			(void)json_object_set(r, "id", p->req.id);
		set_reply(p, r);
		break;
	case CTL_STATUS:
		if ((r = status_json(l, &rc)) == NULL) {
			set_error(p, rc, err_str(rc));
			break;
		}
		if (p->req.id != NULL)
			(void)json_object_set(r, "id", p->req.id);
		set_reply(p, r);
		break;
	default:
		set_error(p, CAJA_EINVAL, "unhandled command");
		break;
	}
}

static void
send_reply(struct loop *l, struct pending *p)
{
	char	*txt;
	size_t	 i;

	if (p->reply == NULL)
		p->reply = ctl_reply_error(CAJA_ENOMEM, "out of memory", NULL);
	if (p->reply == NULL || (txt = json_dumps(p->reply, JSON_COMPACT)) ==
	    NULL) {
		log_warnx("reply to client %s: out of memory", p->client);
		return;
	}
	for (i = 0; i < p->nenv; i++) {
		if (zmq_msg_send(&p->env[i], l->ctl,
		    ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1)
			goto fail;
	}
	p->nenv = 0;	/* sent messages are consumed */
	if (zmq_send(l->ctl, txt, strlen(txt), ZMQ_DONTWAIT) == -1)
		goto fail;
	free(txt);
	return;
fail:
	log_warnx("reply to client %s: %s", p->client,
	    zmq_strerror(zmq_errno()));
	free(txt);
}

/* Drain, execute, reply. */
static void
handle_ctl(struct loop *l)
{
	struct pending	*ps = l->pend;
	size_t		 n = 0, i;
	int		 r;

	while (n < (size_t)l->conf.batch_max) {
		r = recv_one(l, &ps[n]);
		if (r == 0)
			break;
		if (r == 1)
			n++;
	}
	if (n == 0 && !peer_has_rx(l->peers))
		return;
	run_group(l, ps, n);
	for (i = 0; i < n; i++) {
		if (!ps[i].decoded)
			continue;
		if (ps[i].req.cmd == CTL_IMPORT)
			import_start(l, &ps[i]);
		else if (!ctl_cmd_is_write(ps[i].req.cmd))
			run_read(l, &ps[i]);
	}
	for (i = 0; i < n; i++) {
		if (!ps[i].deferred)
			send_reply(l, &ps[i]);
		pending_clear(&ps[i]);
	}
}

/* Frames from disco: peer-up hints and its state. */
static void
handle_disco(struct loop *l)
{
	struct disco_event	ev;
	char			buf[DISCO_EVENT_MAX];
	int			n, i;

	for (i = 0; i < 64; i++) {
		n = zmq_recv(l->disco_pair, buf, sizeof(buf), ZMQ_DONTWAIT);
		if (n == -1)
			return;
		if (n > (int)sizeof(buf) || disco_event_decode(buf, (size_t)n,
		    &ev) != 0) {
			log_warnx("mdns: malformed event from disco dropped");
			continue;
		}
		if (ev.type == DISCO_EV_STATE)
			log_info("mdns: %s", disco_state_name(ev.state));
		else
			peer_disco_event(l->peers, &ev);
	}
}

int
loop_run(struct loop *l)
{
	zmq_pollitem_t	*items = l->items;
	size_t		 k, np, nu;
	long		 timeout;
	int		 n, busy;

	log_info("serving %s: control socket %s/%s", l->conf.dir,
	    l->conf.dir, CTL_SOCK_NAME);
	while (!l->stop) {
		memset(items, 0, (LOOP_POLL_FIXED + PEER_POLL_MAX) *
		    sizeof(*items));
		items[0].socket = l->ctl;
		items[0].events = ZMQ_POLLIN;
		items[1].fd = l->sigfd;
		items[1].events = ZMQ_POLLIN;
		items[2].socket = zap_socket(l->zap);
		items[2].events = ZMQ_POLLIN;
		k = 3;
		if (l->disco_pair != NULL) {
			items[k].socket = l->disco_pair;
			items[k].events = ZMQ_POLLIN;
			k++;
		}
		timeout = LOOP_TICK_MS;
		k += nu = uplink_pollitems(l->up, items + k, 1, &timeout);
		np = peer_pollitems(l->peers, items + k, PEER_POLL_MAX,
		    &timeout);
		if (l->imp != NULL)
			timeout = 0;	/* the import's next step */
		n = zmq_poll(items, (int)(k + np), timeout);
		if (n == -1) {
			if (zmq_errno() == EINTR)
				continue;
			log_error("poll: %s", zmq_strerror(zmq_errno()));
			import_abandon(l);
			return CAJA_EIO;
		}
		if (items[1].revents & ZMQ_POLLIN)
			handle_signals(l);
		/* Handshakes wait for these answers: first. */
		zap_handle(l->zap);
		if (l->disco_pair != NULL)
			handle_disco(l);
		peer_rx_limit(l->peers, (items[0].revents & ZMQ_POLLIN) != 0);
		peer_poll_done(l->peers, items + k, np);
		/* Requests or received events this turn: the turn is busy. */
		busy = (items[0].revents & ZMQ_POLLIN) != 0 ||
		    peer_has_rx(l->peers);
		/* Control requests and received events: one commit. */
		handle_ctl(l);
		/* Then a step of a running import: small while others wait. */
		import_step(l, busy);
		peer_tick(l->peers);
		/* The cloud: results, then the next request (no batch open). */
		uplink_poll_done(l->up, items + k - nu, nu);
		uplink_tick(l->up);
	}
	import_abandon(l);
	log_info("stopped: %llu requests, %llu events appended, %llu commits",
	    (unsigned long long)l->cnt.requests,
	    (unsigned long long)l->cnt.appended,
	    (unsigned long long)l->cnt.commits);
	return 0;
}
