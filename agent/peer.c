/*
 * peer: sessions with the store's other agents (see peer.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "agent/clock.h"
#include "agent/gossip.h"
#include "agent/log.h"
#include "agent/peer.h"
#include "proto/buf.h"
#include "proto/event.h"
#include "proto/schema.h"
#include "proto/wire.h"

#define MON_EVENTS	(ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED | \
	ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | \
	ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
#define ROUTER_EVENTS	(ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | \
	ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | \
	ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
#define CAND_MAX	(VCLOCK_MAX + 1)
#define RECONNECT_IVL_MS	250
#define RECONNECT_MAX_MS	5000
#define CONNECT_TIMEOUT_MS	3000
#define HANDSHAKE_IVL_MS	5000
#define REDIAL_MIN_MS		500
#define REDIAL_MAX_MS		10000
#define HB_IVL_MS		1000
#define HB_TIMEOUT_MS		4000
#define PROBE_BACKOFF_MIN_MS	2000
#define FILE_SAVE_MS		1000
#define KEYS_REFRESH_MS		5000

enum peer_state {
	PS_CONNECTING = 0,
	PS_HANDSHAKE,
	PS_UP,
	PS_DOWN
};

static const char *const state_names[] = {
	"connecting", "handshake", "up", "down"
};

/* One device of the store, as the transport sees it. */
struct devkey {
	uint8_t		dev[ID_LEN];
	uint8_t		curve[ZAP_KEY_LEN];	/* transport key */
	char		name[IDENT_NAME_MAX + 1];
	int		genesis;
	int		deny;			/* revoked */
	int		ok;			/* key converts */
};

_Static_assert(PEER_MAX <= GOSSIP_PEERS, "peer slots are gossip ids");
_Static_assert(PEER_DEAD_MS / PEER_PING_MS <= GOSSIP_PINGS,
    "a PONG is awaited as long as the peer may live without one");

struct peer {
	int			 used;
	int			 id;
	uint8_t			 dev[ID_LEN];
	int			 dev_known;	/* 0: the admin, id
						 * not heard yet */
	uint8_t			 key[ZAP_KEY_LEN];
	char			 endpoint[CONF_ENDPOINT_MAX];
	int			 is_static;
	const char		*source;
	void			*dealer, *mon;
	int			 tcp, handshaken, hs_failed;
	uint64_t		 redial_at, redial_backoff;
	int			 need_hello, hello_in;
	int			 state, was_up;
	uint64_t		 last_rx, last_hello_tx, last_ping_tx;
	uint64_t		 last_sum_tx;
	int64_t			 rtt_ms;
	uint64_t		 pushed;	/* own seq pushed to it */
	uint64_t		 sent_events, recv_events, dup_events;
	uint64_t		 refused_events, bad_frames, bad_msgs;
	uint64_t		 skipped_events;	/* superseded runs */
	uint64_t		 bad_win_start, bad_win_n, penalty_until;
	uint64_t		 sessions;
	int			 head_check;	/* show our head */
	struct wire_range	 back;		/* fork hunt: ask back */
	uint64_t		 back_at;
	struct gossip_peer	 g;
};

struct cand {
	uint8_t	key[ZAP_KEY_LEN];
	uint8_t	dev[ID_LEN];
	int	dev_known;
	void	*dealer, *mon;
};

struct probe {
	int		used;
	char		endpoint[CONF_ENDPOINT_MAX];
	int		is_static;
	const char	*source;
	uint64_t	round_end, next_round, backoff;
	uint64_t	rounds;
	size_t		ncand;
	struct cand	cand[CAND_MAX];
};

struct enrollee {
	int		used;
	uint8_t		key[ZAP_KEY_LEN];
	char		endpoint[CONF_ENDPOINT_MAX];
	uint64_t	last_rx;
	uint64_t	refused;
};

struct rxmeta {
	int		peer;		/* slot, or -1 - enrollee */
	uint8_t		dev[ID_LEN];
	uint64_t	seq;
};

/* A copied run of frames (serving, pushes). */
struct run {
	struct buf		data;
	size_t			n;
	uint64_t		first;
	size_t			off[WIRE_MAX_RUN];
	size_t			len[WIRE_MAX_RUN];
};

struct peers {
	void			*zctx;
	struct store		*st;
	struct zap		*zap;
	struct disco		*disco;
	char			 dir[CONF_PATH_MAX];
	void			*router, *rmon;
	char			 endpoint[CONF_ENDPOINT_MAX];
	uint16_t		 port;
	struct store_ids	 ids;
	uint8_t			 store_curve[ZAP_KEY_LEN];
	uint8_t			 my_pk[ZAP_KEY_LEN];
	uint8_t			*my_sk;		/* sodium_malloc */
	int			 self_genesis;
	unsigned		 mon_seq;

	struct devkey		 devs[VCLOCK_MAX];
	size_t			 ndevs;
	int			 genesis_known;
	size_t			 invites_open;
	uint64_t		 keys_at;
	uint64_t		 keys_gen;

	struct peer		 peer[PEER_MAX];
	struct probe		 probe[PEER_PROBES_MAX];
	struct enrollee		 enr[PEER_ENROLL_MAX];
	struct gossip		 gsp;

	struct vclock		 vc;		/* ours, last commit */
	int			 vc_ok;
	uint64_t		 pushed_seq;	/* own events pushed */
	unsigned		 serve_rr;

	/* The turn's received messages and frames. */
	zmq_msg_t		*rxmsg;
	size_t			 nrxmsg;
	size_t			 rxbytes;
	const uint8_t		**rxp;
	size_t			*rxlen;
	struct rxmeta		*rxm;
	int			*verdict;
	uint8_t			*retry;
	size_t			 nrx, caprx;
	int			 ingested;
	struct store_report	*rep;

	struct wire_msg		*m;		/* decode scratch */
	struct event		*ev;		/* scratch */
	struct payload		*pl;		/* scratch */
	struct buf		 out;		/* encode scratch */
	struct run		*run;		/* serve scratch */
	struct vclock		 scratch_vc;
	struct vclock		 scratch_acked;
	struct vclock		*acked;		/* the uplink's, or NULL */

	int			 file_dirty;
	uint64_t		 file_saved;
	uint64_t		 refused_hs;	/* handshakes refused */
	uint64_t		 accepted_hs;
	uint64_t		 dropped_msgs;	/* unattributable */
	uint64_t		 enroll_refused;
	uint64_t		 enroll_accepted;
	int			 more_push;
	int			 more_rx;
	size_t			 rx_frames_max;	/* peer_rx_limit() */
};

#define PNAME_MAX	(IDENT_NAME_MAX + CONF_ENDPOINT_MAX + 16)

/* Short name of a peer for logs: "name/8 hex digits". */
static const char *
pname(struct peers *ps, const struct peer *p, char buf[PNAME_MAX])
{
	char	hex[ID_HEX];
	size_t	i;

	if (!p->dev_known) {
		msgf(buf, PNAME_MAX, "admin@%s", p->endpoint);
		return buf;
	}
	ids_hex(hex, p->dev, ID_LEN);
	for (i = 0; i < ps->ndevs; i++)
		if (memcmp(ps->devs[i].dev, p->dev, ID_LEN) == 0 &&
		    ps->devs[i].name[0] != '\0') {
			msgf(buf, PNAME_MAX, "%s/%.8s", ps->devs[i].name, hex);
			return buf;
		}
	msgf(buf, PNAME_MAX, "%.8s", hex);
	return buf;
}

/* ---- key table ---- */

static struct devkey *
dev_find(struct peers *ps, const uint8_t dev[ID_LEN])
{
	size_t	i;

	for (i = 0; i < ps->ndevs; i++)
		if (memcmp(ps->devs[i].dev, dev, ID_LEN) == 0)
			return &ps->devs[i];
	return NULL;
}

static struct devkey *
dev_find_key(struct peers *ps, const uint8_t key[ZAP_KEY_LEN])
{
	size_t	i;

	for (i = 0; i < ps->ndevs; i++)
		if (ps->devs[i].ok &&
		    memcmp(ps->devs[i].curve, key, ZAP_KEY_LEN) == 0)
			return &ps->devs[i];
	return NULL;
}

struct keys_arg {
	struct peers	*ps;
	struct devkey	*out;
	size_t		 n;
	int		 genesis;
};

static int
keys_cb(void *arg, const struct store_peer_dev *pd)
{
	struct keys_arg	*a = arg;
	struct devkey	*k;

	if (a->n >= VCLOCK_MAX)
		return 0;
	k = &a->out[a->n++];
	memset(k, 0, sizeof(*k));
	memcpy(k->dev, pd->d.id, ID_LEN);
	memcpy(k->name, pd->d.name, sizeof(k->name));
	k->genesis = pd->genesis;
	/*
	 * A forked device (restored from a backup) stays connected: the
	 * store refuses its events past the fork until it is resolved, and
	 * the register keeps receiving everyone else's. A revoked one never
	 * gets an event in or out.
	 */
	k->deny = pd->d.revoked;
	if (pd->genesis) {
		memcpy(k->curve, a->ps->store_curve, ZAP_KEY_LEN);
		k->ok = 1;
		a->genesis = 1;
	} else
		k->ok = zap_curve_pk(k->curve, pd->d.pk) == 0;
	return 0;
}

static void	peer_close(struct peers *, struct peer *, const char *);
static void	probe_reset_backoff(struct peers *);

/* Limits of what we ask for: revoked devices up to their revocation. */
static int
limits_cb(void *arg, const struct store_peer_dev *pd)
{
	struct peers	*ps = arg;
	uint64_t	 lim = GOSSIP_NO_LIMIT;

	if (pd->d.forked)
		lim = pd->d.head_seq;
	else if (pd->d.revoked)
		lim = pd->d.revoked_upto;
	if (gossip_set_limit(&ps->gsp, pd->d.id, lim) != 0)
		log_debug("peer: fetch table full");
	return 0;
}

/*
 * Rebuilds the device table and ZAP's from the store; closes sessions of
 * devices revoked or forked since.
 */
static void
keys_rebuild(struct peers *ps, uint64_t now)
{
	struct keys_arg	 a;
	struct zap_key	*zk = NULL;
	struct devkey	*d;
	struct peer	*p;
	char		 nb[PNAME_MAX];
	size_t		 i, n = 0, inv = 0, before = ps->ndevs;
	int		 rc;

	ps->keys_at = now;
	memset(&a, 0, sizeof(a));
	a.ps = ps;
	if ((a.out = calloc(VCLOCK_MAX, sizeof(*a.out))) == NULL ||
	    (zk = calloc(VCLOCK_MAX + 1, sizeof(*zk))) == NULL) {
		log_warnx("peer: key table: out of memory");
		goto out;
	}
	if ((rc = store_peer_foreach(ps->st, keys_cb, &a)) != 0 ||
	    (rc = store_invites_open(ps->st, clock_wall_ms(), &inv)) != 0) {
		log_warnx("peer: key table: %s", err_str(rc));
		goto out;
	}
	if ((rc = store_peer_foreach(ps->st, limits_cb, ps)) != 0)
		log_debug("peer: fetch limits: %s", err_str(rc));
	if (a.n != ps->ndevs || memcmp(a.out, ps->devs, a.n *
	    sizeof(*a.out)) != 0 || inv != ps->invites_open)
		ps->keys_gen++;
	memcpy(ps->devs, a.out, a.n * sizeof(*a.out));
	ps->ndevs = a.n;
	ps->genesis_known = a.genesis;
	ps->invites_open = inv;
	for (i = 0; i < a.n; i++) {
		if (!a.out[i].ok)
			continue;
		memcpy(zk[n].curve, a.out[i].curve, ZAP_KEY_LEN);
		memcpy(zk[n].dev, a.out[i].dev, ID_LEN);
		zk[n].dev_known = 1;
		zk[n].deny = a.out[i].deny;
		n++;
	}
	if (!a.genesis) {
		/* The admin's enrollment is not here yet: its key is. */
		memcpy(zk[n].curve, ps->store_curve, ZAP_KEY_LEN);
		n++;
	}
	if (zap_set_keys(ps->zap, zk, n, inv > 0) != 0)
		log_warnx("peer: key table too big");
	/* Revocations and forks close sessions. */
	for (i = 0; i < PEER_MAX; i++) {
		p = &ps->peer[i];
		if (!p->used || !p->dev_known)
			continue;
		d = dev_find(ps, p->dev);
		if (d != NULL && d->deny) {
			log_info("peer %s: device revoked: session closed",
			    pname(ps, p, nb));
			peer_close(ps, p, "revoked");
		}
	}
	if (ps->ndevs != before) {
		probe_reset_backoff(ps);
		/* Peers that refused us may know us now. */
		for (i = 0; i < PEER_MAX; i++)
			if (ps->peer[i].used && ps->peer[i].redial_at != 0) {
				ps->peer[i].redial_at = now;
				ps->peer[i].redial_backoff = 0;
			}
	}
out:
	free(a.out);
	free(zk);
}

/* ---- sockets ---- */

static int
setopt_int(void *s, int opt, int v)
{
	return zmq_setsockopt(s, opt, &v, sizeof(v));
}

static void
sock_close(void **sp, void **mp)
{
	if (*sp != NULL) {
		(void)zmq_socket_monitor(*sp, NULL, 0);
		zmq_close(*sp);
		*sp = NULL;
	}
	if (mp != NULL && *mp != NULL) {
		zmq_close(*mp);
		*mp = NULL;
	}
}

/* A monitor PAIR for s: connected before s does anything. */
static int
monitor_open(struct peers *ps, void *s, int events, void **mp)
{
	char	name[64];
	void	*m;

	msgf(name, sizeof(name), "inproc://caja-mon.%u", ps->mon_seq++);
	if (zmq_socket_monitor(s, name, events) != 0)
		return CAJA_EIO;
	if ((m = zmq_socket(ps->zctx, ZMQ_PAIR)) == NULL)
		return CAJA_EIO;
	(void)setopt_int(m, ZMQ_LINGER, 0);
	if (zmq_connect(m, name) != 0) {
		zmq_close(m);
		return CAJA_EIO;
	}
	*mp = m;
	return 0;
}

/* A CURVE client DEALER to endpoint with server key `key`. */
static int
dealer_open(struct peers *ps, const uint8_t key[ZAP_KEY_LEN],
    const char *endpoint, int reconnect_ivl, void **sp, void **mp)
{
	void	*s;
	int64_t	 maxsz = WIRE_MAX_FRAME;

	*sp = *mp = NULL;
	if ((s = zmq_socket(ps->zctx, ZMQ_DEALER)) == NULL)
		return CAJA_EIO;
	if (setopt_int(s, ZMQ_LINGER, 0) ||
	    setopt_int(s, ZMQ_SNDHWM, PEER_SNDHWM) ||
	    setopt_int(s, ZMQ_RCVHWM, 16) ||
	    setopt_int(s, ZMQ_IMMEDIATE, 1) ||
	    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxsz, sizeof(maxsz)) ||
	    setopt_int(s, ZMQ_RECONNECT_IVL, reconnect_ivl) ||
	    setopt_int(s, ZMQ_RECONNECT_IVL_MAX, reconnect_ivl >
	    RECONNECT_MAX_MS ? reconnect_ivl : RECONNECT_MAX_MS) ||
	    setopt_int(s, ZMQ_CONNECT_TIMEOUT, CONNECT_TIMEOUT_MS) ||
	    setopt_int(s, ZMQ_HANDSHAKE_IVL, HANDSHAKE_IVL_MS) ||
	    setopt_int(s, ZMQ_HEARTBEAT_IVL, HB_IVL_MS) ||
	    setopt_int(s, ZMQ_HEARTBEAT_TIMEOUT, HB_TIMEOUT_MS) ||
	    setopt_int(s, ZMQ_HEARTBEAT_TTL, HB_TIMEOUT_MS + 1000) ||
	    zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, key, ZAP_KEY_LEN) ||
	    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, ps->my_pk, ZAP_KEY_LEN) ||
	    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, ps->my_sk, ZAP_KEY_LEN))
		goto fail;
	if (monitor_open(ps, s, MON_EVENTS, mp) != 0)
		goto fail;
	if (zmq_connect(s, endpoint) != 0)
		goto fail;
	*sp = s;
	return 0;
fail:
	log_warnx("peer: dealer to %s: %s", endpoint,
	    zmq_strerror(zmq_errno()));
	sock_close(&s, mp);
	return CAJA_EIO;
}

/* One monitor event: 1 when read, 0 when none. */
static int
mon_read(void *m, uint16_t *ev, uint32_t *val)
{
	zmq_msg_t	f;
	int		more;

	zmq_msg_init(&f);
	if (zmq_msg_recv(&f, m, ZMQ_DONTWAIT) == -1) {
		zmq_msg_close(&f);
		return 0;
	}
	*ev = 0;
	*val = 0;
	if (zmq_msg_size(&f) >= 6) {
		memcpy(ev, zmq_msg_data(&f), 2);
		memcpy(val, (uint8_t *)zmq_msg_data(&f) + 2, 4);
	}
	more = zmq_msg_more(&f);
	zmq_msg_close(&f);
	while (more) {
		zmq_msg_init(&f);
		if (zmq_msg_recv(&f, m, 0) == -1) {
			zmq_msg_close(&f);
			break;
		}
		more = zmq_msg_more(&f);
		zmq_msg_close(&f);
	}
	return 1;
}

static int
writable(void *s)
{
	int	ev = 0;
	size_t	len = sizeof(ev);

	if (s == NULL || zmq_getsockopt(s, ZMQ_EVENTS, &ev, &len) != 0)
		return 0;
	return (ev & ZMQ_POLLOUT) != 0;
}

/* Sends ps->out on p's DEALER. 0, CAJA_EAGAIN or CAJA_EIO. */
static int
send_out(struct peers *ps, struct peer *p)
{
	if (p->dealer == NULL || p->penalty_until != 0)
		return CAJA_EAGAIN;
	if (zmq_send(p->dealer, ps->out.p, ps->out.len, ZMQ_DONTWAIT) == -1)
		return zmq_errno() == EAGAIN || zmq_errno() == EHOSTUNREACH ?
		    CAJA_EAGAIN : CAJA_EIO;
	return 0;
}

/* ---- peers ---- */

static struct peer *
peer_by_dev(struct peers *ps, const uint8_t dev[ID_LEN])
{
	size_t	i;

	for (i = 0; i < PEER_MAX; i++)
		if (ps->peer[i].used && ps->peer[i].dev_known &&
		    memcmp(ps->peer[i].dev, dev, ID_LEN) == 0)
			return &ps->peer[i];
	return NULL;
}

static struct peer *
peer_by_key(struct peers *ps, const uint8_t key[ZAP_KEY_LEN])
{
	size_t	i;

	for (i = 0; i < PEER_MAX; i++)
		if (ps->peer[i].used &&
		    memcmp(ps->peer[i].key, key, ZAP_KEY_LEN) == 0)
			return &ps->peer[i];
	return NULL;
}

static struct peer *
peer_by_endpoint(struct peers *ps, const char *ep)
{
	size_t	i;

	for (i = 0; i < PEER_MAX; i++)
		if (ps->peer[i].used && strcmp(ps->peer[i].endpoint, ep) == 0)
			return &ps->peer[i];
	return NULL;
}

static void
peer_dial(struct peers *ps, struct peer *p)
{
	sock_close(&p->dealer, &p->mon);
	p->tcp = p->handshaken = 0;
	if (p->endpoint[0] == '\0' || p->penalty_until != 0)
		return;
	if (dealer_open(ps, p->key, p->endpoint, RECONNECT_IVL_MS,
	    &p->dealer, &p->mon) != 0)
		log_warnx("peer: cannot dial %s", p->endpoint);
}

static void
peer_set_endpoint(struct peers *ps, struct peer *p, const char *ep)
{
	if (strcmp(p->endpoint, ep) == 0 && p->dealer != NULL)
		return;
	msgf(p->endpoint, sizeof(p->endpoint), "%s", ep);
	peer_dial(ps, p);
	ps->file_dirty = 1;
}

/* Finds or makes the peer of a known device (key from the table). */
static struct peer *
peer_get(struct peers *ps, const uint8_t dev[ID_LEN],
    const uint8_t key[ZAP_KEY_LEN], const char *source)
{
	struct peer	*p;
	size_t		 i;

	if ((p = peer_by_dev(ps, dev)) != NULL)
		return p;
	if (memcmp(dev, ps->ids.device_id, ID_LEN) == 0)
		return NULL;
	for (i = 0; i < PEER_MAX; i++)
		if (!ps->peer[i].used)
			break;
	if (i == PEER_MAX) {
		log_warnx("peer: more than %d peers: ignoring one", PEER_MAX);
		return NULL;
	}
	p = &ps->peer[i];
	memset(p, 0, sizeof(*p));
	p->used = 1;
	p->id = (int)i;
	memcpy(p->dev, dev, ID_LEN);
	p->dev_known = 1;
	memcpy(p->key, key, ZAP_KEY_LEN);
	p->rtt_ms = -1;
	p->source = source;
	gossip_peer_init(&p->g);
	return p;
}

static void
peer_close(struct peers *ps, struct peer *p, const char *why)
{
	(void)why;
	sock_close(&p->dealer, &p->mon);
	gossip_peer_gone(&ps->gsp, p->id);
	memset(p, 0, sizeof(*p));
	ps->file_dirty = 1;
}

static void
peer_lost(struct peers *ps, struct peer *p, const char *why)
{
	char	nb[PNAME_MAX];

	log_info("peer %s (%s): down: %s", pname(ps, p, nb), p->endpoint,
	    why);
	gossip_peer_gone(&ps->gsp, p->id);
	p->hello_in = 0;
	p->was_up = 0;
	p->state = PS_DOWN;
	if (ps->disco != NULL && disco_reannounce(ps->disco) != 0)
		log_debug("peer: re-announce failed");
}

/* Counts n bad frames or messages; too many close the session a while. */
static void
peer_bad(struct peers *ps, struct peer *p, uint64_t n, uint64_t now)
{
	char	nb[PNAME_MAX];

	if (now > p->bad_win_start + PEER_BAD_WIN_MS) {
		p->bad_win_start = now;
		p->bad_win_n = 0;
	}
	p->bad_win_n += n;
	if (p->bad_win_n < PEER_BAD_LIMIT || p->penalty_until != 0)
		return;
	log_warnx("peer %s: %llu bad frames in %d s: disconnected for %d s",
	    pname(ps, p, nb), (unsigned long long)p->bad_win_n,
	    PEER_BAD_WIN_MS / 1000, PEER_PENALTY_MS / 1000);
	if (p->was_up)
		peer_lost(ps, p, "bad frames");
	p->penalty_until = now + PEER_PENALTY_MS;
	sock_close(&p->dealer, &p->mon);
	p->tcp = p->handshaken = 0;
}

/* ---- probes ---- */

static void
probe_close_cands(struct probe *pr)
{
	size_t	i;

	for (i = 0; i < pr->ncand; i++)
		sock_close(&pr->cand[i].dealer, &pr->cand[i].mon);
	pr->ncand = 0;
}

static void
probe_free(struct probe *pr)
{
	probe_close_cands(pr);
	memset(pr, 0, sizeof(*pr));
}

static struct probe *
probe_by_endpoint(struct peers *ps, const char *ep)
{
	size_t	i;

	for (i = 0; i < PEER_PROBES_MAX; i++)
		if (ps->probe[i].used && strcmp(ps->probe[i].endpoint, ep) == 0)
			return &ps->probe[i];
	return NULL;
}

static void
probe_add(struct peers *ps, const char *ep, int is_static,
    const char *source)
{
	struct probe	*pr;
	size_t		 i;

	if (probe_by_endpoint(ps, ep) != NULL || peer_by_endpoint(ps, ep) !=
	    NULL || strcmp(ep, ps->endpoint) == 0)
		return;
	for (i = 0; i < PEER_PROBES_MAX; i++)
		if (!ps->probe[i].used)
			break;
	if (i == PEER_PROBES_MAX) {
		log_warnx("peer: too many unresolved endpoints: %s ignored",
		    ep);
		return;
	}
	pr = &ps->probe[i];
	memset(pr, 0, sizeof(*pr));
	pr->used = 1;
	msgf(pr->endpoint, sizeof(pr->endpoint), "%s", ep);
	pr->is_static = is_static;
	pr->source = source;
	pr->backoff = PROBE_BACKOFF_MIN_MS;
	pr->next_round = 0;
	log_info("peer: finding which device listens at %s", ep);
}

/* New keys are known: every probe starts a round with them now. */
static void
probe_reset_backoff(struct peers *ps)
{
	size_t	i;

	for (i = 0; i < PEER_PROBES_MAX; i++)
		if (ps->probe[i].used) {
			probe_close_cands(&ps->probe[i]);
			ps->probe[i].backoff = PROBE_BACKOFF_MIN_MS;
			ps->probe[i].next_round = 0;
		}
}

/* Candidate keys: devices we have no live session with, the store key. */
static void
probe_round(struct peers *ps, struct probe *pr, uint64_t now)
{
	struct devkey	*d;
	struct peer	*p;
	struct cand	*c;
	size_t		 i, j;
	int		 store_seen = 0;

	pr->ncand = 0;
	for (i = 0; i <= ps->ndevs && pr->ncand < CAND_MAX; i++) {
		c = &pr->cand[pr->ncand];
		memset(c, 0, sizeof(*c));
		if (i < ps->ndevs) {
			d = &ps->devs[i];
			if (!d->ok || d->deny || memcmp(d->dev,
			    ps->ids.device_id, ID_LEN) == 0)
				continue;
			p = peer_by_dev(ps, d->dev);
			if (p != NULL && p->state == PS_UP)
				continue;
			memcpy(c->key, d->curve, ZAP_KEY_LEN);
			memcpy(c->dev, d->dev, ID_LEN);
			c->dev_known = 1;
		} else {
			if (ps->self_genesis || ps->genesis_known)
				continue;
			memcpy(c->key, ps->store_curve, ZAP_KEY_LEN);
		}
		if (memcmp(c->key, ps->my_pk, ZAP_KEY_LEN) == 0)
			continue;
		for (j = 0; j < pr->ncand; j++)
			if (memcmp(pr->cand[j].key, c->key, ZAP_KEY_LEN) == 0)
				break;
		if (j < pr->ncand)
			continue;
		if (memcmp(c->key, ps->store_curve, ZAP_KEY_LEN) == 0) {
			if (store_seen)
				continue;
			store_seen = 1;
		}
		if (dealer_open(ps, c->key, pr->endpoint, PEER_PROBE_ROUND_MS,
		    &c->dealer, &c->mon) != 0)
			continue;
		pr->ncand++;
	}
	pr->rounds++;
	pr->round_end = now + PEER_PROBE_ROUND_MS;
	log_debug("peer: %s: trying %zu keys (round %llu)", pr->endpoint,
	    pr->ncand, (unsigned long long)pr->rounds);
	if (pr->ncand == 0) {
		pr->next_round = now + pr->backoff;
		pr->backoff = pr->backoff * 2 > PEER_PROBE_BACKOFF_MAX_MS ?
		    PEER_PROBE_BACKOFF_MAX_MS : pr->backoff * 2;
	}
}

/* A candidate's handshake succeeded: that is the device at the endpoint. */
static void
probe_resolved(struct peers *ps, struct probe *pr, struct cand *c)
{
	struct peer	*p;
	char		 nb[PNAME_MAX];
	size_t		 i;

	if (c->dev_known)
		p = peer_get(ps, c->dev, c->key, pr->source);
	else if ((p = peer_by_key(ps, c->key)) == NULL) {
		/* The admin, before its enrollment is here. */
		for (i = 0; i < PEER_MAX; i++)
			if (!ps->peer[i].used)
				break;
		if (i < PEER_MAX) {
			p = &ps->peer[i];
			memset(p, 0, sizeof(*p));
			p->used = 1;
			p->id = (int)i;
			memcpy(p->key, c->key, ZAP_KEY_LEN);
			p->rtt_ms = -1;
			p->source = pr->source;
			gossip_peer_init(&p->g);
		}
	}
	if (p != NULL) {
		p->is_static = p->is_static || pr->is_static;
		peer_set_endpoint(ps, p, pr->endpoint);
		log_info("peer: %s is %s", pr->endpoint, pname(ps, p, nb));
	}
	probe_free(pr);
}

static void
probe_tick(struct peers *ps, uint64_t now)
{
	struct probe	*pr;
	uint16_t	 ev;
	uint32_t	 val;
	size_t		 i, k;
	int		 done;

	for (i = 0; i < PEER_PROBES_MAX; i++) {
		pr = &ps->probe[i];
		if (!pr->used)
			continue;
		if (peer_by_endpoint(ps, pr->endpoint) != NULL) {
			probe_free(pr);		/* named by a HELLO */
			continue;
		}
		done = 0;
		for (k = 0; k < pr->ncand && !done; k++) {
			while (mon_read(pr->cand[k].mon, &ev, &val))
				/*
				 * Refused by ZAP: the key was right (the
				 * server opened our HELLO), it just does not
				 * know us yet. Either names the device.
				 */
				if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED ||
				    ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
					probe_resolved(ps, pr, &pr->cand[k]);
					done = 1;
					break;
				}
		}
		if (done)
			continue;
		if (pr->ncand > 0 && now >= pr->round_end) {
			probe_close_cands(pr);
			pr->next_round = now + pr->backoff;
			pr->backoff = pr->backoff * 2 >
			    PEER_PROBE_BACKOFF_MAX_MS ?
			    PEER_PROBE_BACKOFF_MAX_MS : pr->backoff * 2;
		}
		if (pr->ncand == 0 && now >= pr->next_round)
			probe_round(ps, pr, now);
	}
}

/* ---- the peers file: "device_hex endpoint" lines ---- */

static int
file_path(struct peers *ps, char *out, size_t cap, const char *suffix)
{
	int	n;

	n = snprintf(out, cap, "%s/%s%s", ps->dir, PEER_FILE, suffix);
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static void
file_save(struct peers *ps, uint64_t now)
{
	char		 path[CONF_PATH_MAX + 32], tmp[CONF_PATH_MAX + 32];
	char		 hex[ID_HEX];
	struct peer	*p;
	FILE		*f;
	size_t		 i;
	int		 ok = 1;

	ps->file_dirty = 0;
	ps->file_saved = now;
	if (file_path(ps, path, sizeof(path), "") ||
	    file_path(ps, tmp, sizeof(tmp), ".tmp"))
		return;
	if ((f = fopen(tmp, "w")) == NULL) {
		log_warn("peer: %s", tmp);
		return;
	}
	fprintf(f, "# caja: peers this agent knows (device endpoint); "
	    "rewritten by cajad\n");
	for (i = 0; i < PEER_MAX; i++) {
		p = &ps->peer[i];
		if (!p->used || !p->dev_known || p->endpoint[0] == '\0')
			continue;
		ids_hex(hex, p->dev, ID_LEN);
		fprintf(f, "%s %s\n", hex, p->endpoint);
	}
	if (fflush(f) != 0 || ferror(f))
		ok = 0;
	if (fclose(f) != 0)
		ok = 0;
	if (!ok || rename(tmp, path) != 0) {
		log_warn("peer: %s", path);
		(void)unlink(tmp);
	}
}

static void
file_load(struct peers *ps)
{
	char		 path[CONF_PATH_MAX + 32], line[512], *sp, *nl;
	uint8_t		 dev[ID_LEN];
	struct devkey	*d;
	struct peer	*p;
	FILE		*f;
	int		 n = 0;

	if (file_path(ps, path, sizeof(path), ""))
		return;
	if ((f = fopen(path, "r")) == NULL)
		return;
	while (n < PEER_MAX && fgets(line, sizeof(line), f) != NULL) {
		if (line[0] == '#')
			continue;
		if ((nl = strchr(line, '\n')) != NULL)
			*nl = '\0';
		if ((sp = strchr(line, ' ')) == NULL)
			continue;
		*sp++ = '\0';
		if (ids_unhex(dev, ID_LEN, line) != 0 ||
		    conf_check_endpoint(sp) != 0)
			continue;
		if ((d = dev_find(ps, dev)) == NULL || d->deny || !d->ok)
			continue;
		if ((p = peer_get(ps, dev, d->curve, "remembered")) == NULL)
			continue;
		peer_set_endpoint(ps, p, sp);
		n++;
	}
	fclose(f);
	ps->file_dirty = 0;
}

/* ---- setup ---- */

static int
endpoint_port(const char *ep, uint16_t *port)
{
	const char	*c = strrchr(ep, ':');
	unsigned long	 v;
	char		*end;

	if (c == NULL)
		return CAJA_EINVAL;
	errno = 0;
	v = strtoul(c + 1, &end, 10);
	if (errno || *end != '\0' || v == 0 || v > 65535)
		return CAJA_EINVAL;
	*port = (uint16_t)v;
	return 0;
}

int
peer_new(struct peers **out, void *zctx, struct store *st, struct zap *zap,
    const struct conf *c, char err[PEER_ERRMSG])
{
	struct peers		*ps = NULL;
	const struct sig_key	*k;
	uint8_t			 spk[SIG_PK_LEN];
	/*
	 * ZeroMQ cuts a connection over ZMQ_MAXMSGSIZE without telling us;
	 * allow twice the wire limit so that an oversized frame reaches
	 * wire_decode, which refuses it and counts it against its peer.
	 */
	int64_t			 maxsz = 2 * (int64_t)WIRE_MAX_FRAME;
	size_t			 len, i;
	int			 rc = CAJA_EIO;

	*out = NULL;
	if ((ps = calloc(1, sizeof(*ps))) == NULL ||
	    (ps->m = malloc(sizeof(*ps->m))) == NULL ||
	    (ps->ev = malloc(sizeof(*ps->ev))) == NULL ||
	    (ps->pl = malloc(sizeof(*ps->pl))) == NULL ||
	    (ps->run = calloc(1, sizeof(*ps->run))) == NULL ||
	    (ps->rep = calloc(1, sizeof(*ps->rep))) == NULL ||
	    (ps->rxmsg = calloc(PEER_RX_MSGS, sizeof(*ps->rxmsg))) == NULL ||
	    (ps->my_sk = sodium_malloc(ZAP_KEY_LEN)) == NULL) {
		msgf(err, PEER_ERRMSG, "out of memory");
		rc = CAJA_ENOMEM;
		goto fail;
	}
	ps->rx_frames_max = PEER_RX_FRAMES;
	ps->zctx = zctx;
	ps->st = st;
	ps->zap = zap;
	buf_init(&ps->out, WIRE_MAX_FRAME);
	buf_init(&ps->run->data, WIRE_MAX_FRAME);
	gossip_init(&ps->gsp);
	msgf(ps->dir, sizeof(ps->dir), "%s", c->dir);
	store_ids(st, &ps->ids);
	store_public_key(st, spk);
	if (zap_curve_pk(ps->store_curve, spk) != 0) {
		msgf(err, PEER_ERRMSG, "the store key does not convert to a "
		    "CURVE key");
		goto fail;
	}
	/* Our transport key: the store key on the admin, else the device's. */
	if ((k = store_admin_key(st)) != NULL)
		ps->self_genesis = 1;
	else
		k = store_device_key(st);
	if (k == NULL || zap_curve_pk(ps->my_pk, k->pk) != 0 ||
	    zap_curve_sk(ps->my_sk, k->sk) != 0) {
		msgf(err, PEER_ERRMSG, "no usable key for CURVE");
		goto fail;
	}
	if ((rc = store_vclock(st, &ps->vc)) != 0) {
		msgf(err, PEER_ERRMSG, "vector clock: %s", err_str(rc));
		goto fail;
	}
	ps->vc_ok = 1;
	ps->pushed_seq = vclock_get(&ps->vc, ps->ids.device_id);
	keys_rebuild(ps, clock_mono_ms());

	rc = CAJA_EIO;
	if ((ps->router = zmq_socket(zctx, ZMQ_ROUTER)) == NULL ||
	    setopt_int(ps->router, ZMQ_LINGER, 0) ||
	    setopt_int(ps->router, ZMQ_CURVE_SERVER, 1) ||
	    zmq_setsockopt(ps->router, ZMQ_CURVE_SECRETKEY, ps->my_sk,
	    ZAP_KEY_LEN) ||
	    zmq_setsockopt(ps->router, ZMQ_ZAP_DOMAIN, ZAP_DOMAIN,
	    strlen(ZAP_DOMAIN)) ||
	    zmq_setsockopt(ps->router, ZMQ_MAXMSGSIZE, &maxsz,
	    sizeof(maxsz)) ||
	    setopt_int(ps->router, ZMQ_RCVHWM, PEER_RCVHWM) ||
	    setopt_int(ps->router, ZMQ_HANDSHAKE_IVL, HANDSHAKE_IVL_MS) ||
	    setopt_int(ps->router, ZMQ_HEARTBEAT_IVL, HB_IVL_MS) ||
	    setopt_int(ps->router, ZMQ_HEARTBEAT_TIMEOUT, HB_TIMEOUT_MS) ||
	    setopt_int(ps->router, ZMQ_HEARTBEAT_TTL, HB_TIMEOUT_MS + 1000) ||
	    monitor_open(ps, ps->router, ROUTER_EVENTS, &ps->rmon) != 0) {
		msgf(err, PEER_ERRMSG, "peer socket: %s",
		    zmq_strerror(zmq_errno()));
		goto fail;
	}
	if (zmq_bind(ps->router, c->listen) != 0) {
		msgf(err, PEER_ERRMSG, "listen %s: %s", c->listen,
		    zmq_strerror(zmq_errno()));
		goto fail;
	}
	len = sizeof(ps->endpoint);
	if (zmq_getsockopt(ps->router, ZMQ_LAST_ENDPOINT, ps->endpoint,
	    &len) != 0 || endpoint_port(ps->endpoint, &ps->port) != 0) {
		msgf(err, PEER_ERRMSG, "listen %s: no port", c->listen);
		goto fail;
	}
	file_load(ps);
	for (i = 0; i < c->npeers; i++) {
		struct peer	*p = peer_by_endpoint(ps, c->peers[i]);

		if (p != NULL)
			p->is_static = 1;
		else
			probe_add(ps, c->peers[i], 1, "static");
	}
	log_info("peers: listening on %s (CURVE, %s key), %zu static, "
	    "%zu devices known", ps->endpoint, ps->self_genesis ? "store" :
	    "device", c->npeers, ps->ndevs);
	*out = ps;
	return 0;
fail:
	peer_destroy(&ps);
	return rc;
}

static void
rx_clear(struct peers *ps)
{
	size_t	i;

	for (i = 0; i < ps->nrxmsg; i++)
		zmq_msg_close(&ps->rxmsg[i]);
	ps->nrxmsg = 0;
	ps->rxbytes = 0;
	ps->nrx = 0;
	ps->ingested = 0;
}

void
peer_destroy(struct peers **pp)
{
	struct peers	*ps = *pp;
	size_t		 i;

	if (ps == NULL)
		return;
	for (i = 0; i < PEER_MAX; i++) {
		struct peer	*p = &ps->peer[i];

		if (!p->used)
			continue;
		buf_clear(&ps->out);
		if (p->handshaken && wire_encode_bye(&ps->out,
		    WIRE_BYE_SHUTDOWN) == 0 && send_out(ps, p) == 0)
			/* a moment for the BYE to leave (zmq_ctx_term) */
			(void)setopt_int(p->dealer, ZMQ_LINGER, 200);
		sock_close(&p->dealer, &p->mon);
	}
	for (i = 0; i < PEER_PROBES_MAX; i++)
		probe_free(&ps->probe[i]);
	if (ps->rxmsg != NULL)
		rx_clear(ps);
	sock_close(&ps->router, &ps->rmon);
	if (ps->file_dirty)
		file_save(ps, 0);
	if (ps->my_sk != NULL)
		sodium_free(ps->my_sk);
	buf_reset(&ps->out);
	if (ps->run != NULL)
		buf_reset(&ps->run->data);
	free(ps->run);
	free(ps->rxmsg);
	free(ps->rxp);
	free(ps->rxlen);
	free(ps->rxm);
	free(ps->verdict);
	free(ps->retry);
	free(ps->rep);
	free(ps->m);
	free(ps->ev);
	free(ps->pl);
	free(ps);
	*pp = NULL;
}

uint16_t
peer_port(const struct peers *ps)
{
	return ps->port;
}

const char *
peer_endpoint(const struct peers *ps)
{
	return ps->endpoint;
}

void
peer_set_disco(struct peers *ps, struct disco *d)
{
	ps->disco = d;
}

void
peer_set_acked(struct peers *ps, struct vclock *acked)
{
	ps->acked = acked;
}

/* What a peer says the cloud acknowledged: ours grows by it. */
static void
acked_in(struct peers *ps, struct peer *p, const struct vclock *acked)
{
	if (acked->n == 0)
		return;
	if (gossip_on_acked(&p->g, acked) != 0 || (ps->acked != NULL &&
	    vclock_merge(ps->acked, acked) != 0))
		log_debug("peer: acked vector clock full");
}

/* ---- receiving ---- */

static int
rx_grow(struct peers *ps, size_t need)
{
	size_t		 cap = ps->caprx ? ps->caprx : 1024;
	const uint8_t	**p;
	size_t		*l;
	struct rxmeta	*m;
	int		*v;
	uint8_t		*r;

	if (ps->nrx + need <= ps->caprx)
		return 0;
	while (cap < ps->nrx + need)
		cap *= 2;
	if ((p = realloc(ps->rxp, cap * sizeof(*p))) == NULL)
		return CAJA_ENOMEM;
	ps->rxp = p;
	if ((l = realloc(ps->rxlen, cap * sizeof(*l))) == NULL)
		return CAJA_ENOMEM;
	ps->rxlen = l;
	if ((m = realloc(ps->rxm, cap * sizeof(*m))) == NULL)
		return CAJA_ENOMEM;
	ps->rxm = m;
	if ((v = realloc(ps->verdict, cap * sizeof(*v))) == NULL)
		return CAJA_ENOMEM;
	ps->verdict = v;
	if ((r = realloc(ps->retry, cap * sizeof(*r))) == NULL)
		return CAJA_ENOMEM;
	ps->retry = r;
	ps->caprx = cap;
	return 0;
}

static void
rx_add(struct peers *ps, int who, const uint8_t *f, size_t len,
    const uint8_t dev[ID_LEN], uint64_t seq)
{
	ps->rxp[ps->nrx] = f;
	ps->rxlen[ps->nrx] = len;
	ps->rxm[ps->nrx].peer = who;
	memcpy(ps->rxm[ps->nrx].dev, dev, ID_LEN);
	ps->rxm[ps->nrx].seq = seq;
	ps->nrx++;
}

/* "tcp://0.0.0.0:P" -> "tcp://<addr>:P" with the connection's address. */
static int
resolve_endpoint(const char *adv, const char *addr, char *out, size_t cap)
{
	const char	*host, *colon;
	int		 n;

	if (strncmp(adv, "tcp://", 6) != 0 || conf_check_endpoint(adv) != 0)
		return CAJA_EINVAL;
	host = adv + 6;
	if ((colon = strrchr(host, ':')) == NULL)
		return CAJA_EINVAL;
	if (strncmp(host, "0.0.0.0:", 8) == 0 || strncmp(host, "*:", 2) == 0) {
		/* Listening on every address: the one it came from. */
		if (addr == NULL || addr[0] == '\0' || strchr(addr, ':') !=
		    NULL)
			return CAJA_EINVAL;	/* IPv4 only, as disco */
		n = snprintf(out, cap, "tcp://%s%s", addr, colon);
	} else
		n = snprintf(out, cap, "%s", adv);
	return n < 0 || (size_t)n >= cap ? CAJA_ETOOBIG : 0;
}

static int	run_read(struct peers *, const uint8_t *, uint64_t, uint64_t);

/*
 * Our enrollment (seq 1) to a peer that does not know us: it cannot take
 * anything else of ours before it (a new register and the admin).
 */
static void
push_enrollment(struct peers *ps, struct peer *p)
{
	struct run	*r = ps->run;

	if (run_read(ps, ps->ids.device_id, 1, 1) != 0 || r->n != 1)
		return;
	buf_clear(&ps->out);
	if (wire_encode_push(&ps->out, r->data.p, r->len[0]) == 0 &&
	    send_out(ps, p) == 0)
		p->sent_events++;
}

static int
send_hello(struct peers *ps, struct peer *p, uint64_t now)
{
	int	rc;

	buf_clear(&ps->out);
	if ((rc = wire_encode_hello(&ps->out, ps->ids.store_id,
	    ps->ids.device_id, &ps->vc, ps->acked, ps->endpoint)) != 0)
		return rc;
	if ((rc = send_out(ps, p)) != 0)
		return rc;
	gossip_hello_sent(&p->g, &ps->vc);
	gossip_acked_sent(&p->g, ps->acked);
	p->last_hello_tx = now;
	p->need_hello = 0;
	if (vclock_get(&p->g.have, ps->ids.device_id) == 0)
		push_enrollment(ps, p);
	return 0;
}

/* Frames from a client whose key is no device: only its own enrollment. */
static int
enroll_frame_ok(struct peers *ps, const uint8_t key[ZAP_KEY_LEN],
    const uint8_t *f, size_t len)
{
	uint8_t	curve[ZAP_KEY_LEN];

	if (event_decode(ps->ev, f, len) != 0 || ps->ev->seq != 1 ||
	    ps->ev->type != EV_DEVICE_ENROLLED ||
	    memcmp(ps->ev->store, ps->ids.store_id, ID_LEN) != 0 ||
	    schema_decode(ps->ev->type, ps->ev->payload,
	    ps->ev->payload_len, ps->pl) != 0 ||
	    zap_curve_pk(curve, ps->pl->device_pk) != 0)
		return 0;
	return memcmp(curve, key, ZAP_KEY_LEN) == 0;
}

static struct enrollee *
enrollee_get(struct peers *ps, const uint8_t key[ZAP_KEY_LEN], uint64_t now)
{
	struct enrollee	*e, *old = NULL;
	size_t		 i;

	for (i = 0; i < PEER_ENROLL_MAX; i++) {
		e = &ps->enr[i];
		if (e->used && memcmp(e->key, key, ZAP_KEY_LEN) == 0)
			return e;
		if (old == NULL || !e->used || (old->used &&
		    e->last_rx < old->last_rx))
			old = e;
	}
	memset(old, 0, sizeof(*old));
	old->used = 1;
	memcpy(old->key, key, ZAP_KEY_LEN);
	old->last_rx = now;
	return old;
}

static void
handle_enrolling(struct peers *ps, zmq_msg_t *body,
    const uint8_t key[ZAP_KEY_LEN], uint64_t now)
{
	struct wire_msg	*m = ps->m;
	struct enrollee	*e;
	const uint8_t	*f = NULL;
	size_t		 len = 0, slot;
	int		 ok = 0;
	char		 ep[CONF_ENDPOINT_MAX];

	e = enrollee_get(ps, key, now);
	e->last_rx = now;
	slot = (size_t)(e - ps->enr);
	if (wire_decode(m, zmq_msg_data(body), zmq_msg_size(body)) != 0) {
		e->refused++;
		ps->enroll_refused++;
		return;
	}
	switch (m->kind) {
	case WIRE_HELLO:
		if (m->u.hello.version == WIRE_VERSION &&
		    memcmp(m->u.hello.store, ps->ids.store_id, ID_LEN) == 0 &&
		    resolve_endpoint(m->u.hello.endpoint, zmq_msg_gets(body,
		    "Peer-Address"), ep, sizeof(ep)) == 0)
			msgf(e->endpoint, sizeof(e->endpoint), "%s", ep);
		return;
	case WIRE_PUSH:
		f = m->u.push.p;
		len = m->u.push.len;
		break;
	case WIRE_EVENTS:
		if (m->u.events.first_seq == 1) {
			f = m->u.events.f[0].p;
			len = m->u.events.f[0].len;
		}
		break;
	case WIRE_PING:
	case WIRE_PONG:
	case WIRE_BYE:
		return;
	}
	if (f != NULL)
		ok = enroll_frame_ok(ps, key, f, len);
	if (!ok || ps->nrxmsg >= PEER_RX_MSGS || rx_grow(ps, 1) != 0) {
		e->refused++;
		ps->enroll_refused++;
		log_debug("peer: dropped a %s from an unenrolled client",
		    wire_kind_name(m->kind));
		return;
	}
	/* Keep the message: the frame points into it. */
	zmq_msg_init(&ps->rxmsg[ps->nrxmsg]);
	zmq_msg_move(&ps->rxmsg[ps->nrxmsg], body);
	body = &ps->rxmsg[ps->nrxmsg++];
	if (wire_decode(m, zmq_msg_data(body), zmq_msg_size(body)) != 0)
		return;
	f = m->kind == WIRE_PUSH ? m->u.push.p : m->u.events.f[0].p;
	rx_add(ps, -1 - (int)slot, f, len, ps->ev->dev, 1);
}

/* Which peer sent this; NULL when dropped. *key_only: a "k:" client. */
static struct peer *
attribute(struct peers *ps, zmq_msg_t *body, int *enrolling,
    uint8_t key[ZAP_KEY_LEN])
{
	struct devkey	*d;
	struct peer	*p;
	uint8_t		 dev[ID_LEN];
	int		 t;

	*enrolling = 0;
	t = zap_user_parse(zmq_msg_gets(body, "User-Id"), dev, key);
	if (t == 2) {
		if ((d = dev_find_key(ps, key)) != NULL) {
			memcpy(dev, d->dev, ID_LEN);
			t = 1;
		} else if (memcmp(key, ps->store_curve, ZAP_KEY_LEN) == 0) {
			/* The admin before we hold its enrollment. */
			return peer_by_key(ps, key);
		} else {
			*enrolling = 1;
			return NULL;
		}
	}
	if (t != 1 || memcmp(dev, ps->ids.device_id, ID_LEN) == 0)
		return NULL;
	if ((d = dev_find(ps, dev)) == NULL || d->deny || !d->ok)
		return NULL;
	if ((p = peer_by_dev(ps, dev)) == NULL)
		p = peer_get(ps, dev, d->curve, "inbound");
	return p;
}

/* The admin's first HELLO to a register that does not know it yet. */
static struct peer *
genesis_peer(struct peers *ps, const uint8_t key[ZAP_KEY_LEN])
{
	struct peer	*p;
	size_t		 i;

	for (i = 0; i < PEER_MAX; i++)
		if (!ps->peer[i].used)
			break;
	if (i == PEER_MAX)
		return NULL;
	p = &ps->peer[i];
	memset(p, 0, sizeof(*p));
	p->used = 1;
	p->id = (int)i;
	memcpy(p->key, key, ZAP_KEY_LEN);
	p->rtt_ms = -1;
	p->source = "inbound";
	gossip_peer_init(&p->g);
	return p;
}

static void
handle_hello(struct peers *ps, struct peer *p, zmq_msg_t *body,
    uint64_t now)
{
	struct wire_hello	*h = &ps->m->u.hello;
	struct peer		*o;
	struct probe		*pr;
	char			 ep[CONF_ENDPOINT_MAX], nb[PNAME_MAX];
	int			 first;

	if (h->version != WIRE_VERSION) {
		log_warnx("peer %s: speaks protocol version %llu, not %d",
		    pname(ps, p, nb), (unsigned long long)h->version,
		    WIRE_VERSION);
		buf_clear(&ps->out);
		if (wire_encode_bye(&ps->out, WIRE_BYE_VERSION) == 0)
			(void)send_out(ps, p);
		return;
	}
	if (memcmp(h->store, ps->ids.store_id, ID_LEN) != 0 ||
	    (p->dev_known && memcmp(h->dev, p->dev, ID_LEN) != 0) ||
	    memcmp(h->dev, ps->ids.device_id, ID_LEN) == 0) {
		log_warnx("peer %s: HELLO names another store or device",
		    pname(ps, p, nb));
		p->bad_msgs++;
		peer_bad(ps, p, 1, now);
		return;
	}
	if (!p->dev_known) {
		/* The store key's holder says who it is: it is the admin. */
		if ((o = peer_by_dev(ps, h->dev)) != NULL && o != p) {
			if (o->endpoint[0] == '\0' && p->endpoint[0] != '\0')
				msgf(o->endpoint, sizeof(o->endpoint), "%s",
				    p->endpoint);
			peer_close(ps, p, "merged");
			p = o;
			memcpy(p->key, ps->store_curve, ZAP_KEY_LEN);
			peer_dial(ps, p);
		} else {
			memcpy(p->dev, h->dev, ID_LEN);
			p->dev_known = 1;
			ps->file_dirty = 1;
		}
	}
	if (gossip_on_hello(&p->g, &h->vc) != 0)
		log_debug("peer %s: HELLO vector clock too big",
		    pname(ps, p, nb));
	acked_in(ps, p, &h->acked);
	first = !p->hello_in;
	if (first) {
		p->sessions++;
		p->head_check = 1;
	}
	p->hello_in = 1;
	if (resolve_endpoint(h->endpoint, zmq_msg_gets(body, "Peer-Address"),
	    ep, sizeof(ep)) == 0) {
		if ((pr = probe_by_endpoint(ps, ep)) != NULL) {
			p->is_static = p->is_static || pr->is_static;
			probe_free(pr);
		}
		/* A working connection is kept (several interfaces). */
		if (p->endpoint[0] == '\0' || (!p->is_static &&
		    !p->handshaken && strcmp(p->endpoint, ep) != 0))
			peer_set_endpoint(ps, p, ep);
	}
	/*
	 * It is alive and listening: a DEALER waiting out ZeroMQ's
	 * reconnection backoff (or ours) dials again now.
	 */
	if (!p->tcp && !p->handshaken && p->dealer != NULL &&
	    p->penalty_until == 0) {
		p->redial_at = 0;
		peer_dial(ps, p);
	}
	/* Its first HELLO of a session is always answered. */
	if (first || now >= p->last_hello_tx + PEER_HELLO_MIN_MS)
		p->need_hello = 1;
	log_debug("peer %s: HELLO (%u entries)", pname(ps, p, nb),
	    h->vc.n);
}

/*
 * The PONG of one of our awaited PINGs (a slow peer answers one sent
 * several PINGs ago): its round trip, and proof that the peer read
 * everything we sent before it.
 */
static void
pong_in(struct peers *ps, struct peer *p, uint64_t nonce)
{
	uint64_t	sent;

	if ((sent = gossip_pong(&p->g, nonce)) == 0)
		return;		/* not ours, or answered already */
	p->rtt_ms = (int64_t)(clock_mono_ms() - sent);
	gossip_heard(&ps->gsp, p->id, sent);
}

static void
handle_msg(struct peers *ps, zmq_msg_t *body, uint64_t now)
{
	struct wire_msg	*m = ps->m;
	struct peer	*p;
	uint64_t	 last;
	uint8_t		 key[ZAP_KEY_LEN], dev[ID_LEN];
	uint32_t	 i;
	int		 enrolling, rc;
	char		 nb[PNAME_MAX];

	p = attribute(ps, body, &enrolling, key);
	if (enrolling) {
		handle_enrolling(ps, body, key, now);
		return;
	}
	if (p == NULL) {
		/* The admin's first HELLO, or a session that is closed. */
		if (zap_user_parse(zmq_msg_gets(body, "User-Id"), dev,
		    key) == 2 && memcmp(key, ps->store_curve, ZAP_KEY_LEN) ==
		    0 && wire_decode(m, zmq_msg_data(body),
		    zmq_msg_size(body)) == 0 && m->kind == WIRE_HELLO &&
		    (p = genesis_peer(ps, key)) != NULL) {
			p->last_rx = now;
			handle_hello(ps, p, body, now);
			return;
		}
		ps->dropped_msgs++;
		return;
	}
	if (p->penalty_until != 0) {
		ps->dropped_msgs++;
		return;
	}
	/* Keep the message: frames to ingest point into it. */
	if (ps->nrxmsg >= PEER_RX_MSGS) {
		ps->dropped_msgs++;
		return;
	}
	zmq_msg_init(&ps->rxmsg[ps->nrxmsg]);
	zmq_msg_move(&ps->rxmsg[ps->nrxmsg], body);
	body = &ps->rxmsg[ps->nrxmsg];
	if ((rc = wire_decode(m, zmq_msg_data(body), zmq_msg_size(body))) !=
	    0) {
		p->bad_msgs++;
		p->bad_frames++;
		peer_bad(ps, p, 1, now);
		log_debug("peer %s: malformed message dropped: %s",
		    pname(ps, p, nb), err_str(rc));
		zmq_msg_close(body);
		return;
	}
	p->last_rx = now;
	switch (m->kind) {
	case WIRE_HELLO:
		handle_hello(ps, p, body, now);
		break;
	case WIRE_SUMMARY:
		if (gossip_on_summary(&p->g, m->u.summary.seq,
		    &m->u.summary.delta, &rc) == 0 && rc && now >=
		    p->last_hello_tx + PEER_HELLO_MIN_MS)
			p->need_hello = 1;	/* a gap: HELLO both ways */
		acked_in(ps, p, &m->u.summary.acked);
		break;
	case WIRE_WANT:
		gossip_serve_want(&p->g, &m->u.want);
		break;
	case WIRE_EVENTS:
		last = m->u.events.first_seq + m->u.events.n - 1;
		if (gossip_peer_has(&p->g, m->u.events.dev, last) != 0)
			log_debug("peer: vector clock full");
		if (rx_grow(ps, m->u.events.n) != 0)
			break;
		if (!gossip_take_run(&ps->gsp, p->id, m->u.events.dev,
		    m->u.events.first_seq, last)) {
			p->skipped_events += m->u.events.n;
			break;	/* the new answer brings it */
		}
		gossip_arrived(&ps->gsp, p->id, m->u.events.dev, last, now);
		for (i = 0; i < m->u.events.n; i++)
			rx_add(ps, p->id, m->u.events.f[i].p,
			    m->u.events.f[i].len, m->u.events.dev,
			    m->u.events.first_seq + i);
		ps->nrxmsg++;
		ps->rxbytes += zmq_msg_size(body);
		return;		/* kept */
	case WIRE_PUSH:
		if (event_decode(ps->ev, m->u.push.p, m->u.push.len) != 0) {
			p->bad_frames++;
			peer_bad(ps, p, 1, now);
			break;
		}
		if (rx_grow(ps, 1) != 0)
			break;
		if (gossip_peer_has(&p->g, ps->ev->dev, ps->ev->seq) != 0)
			log_debug("peer: vector clock full");
		rx_add(ps, p->id, m->u.push.p, m->u.push.len, ps->ev->dev,
		    ps->ev->seq);
		ps->nrxmsg++;
		ps->rxbytes += zmq_msg_size(body);
		return;		/* kept */
	case WIRE_PING:
		buf_clear(&ps->out);
		if (wire_encode_pong(&ps->out, m->u.ping.nonce,
		    clock_wall_ms()) == 0)
			(void)send_out(ps, p);
		break;
	case WIRE_PONG:
		pong_in(ps, p, m->u.ping.nonce);
		break;
	case WIRE_BYE:
		log_info("peer %s: BYE (%s)", pname(ps, p, nb),
		    wire_bye_name(m->u.bye));
		if (p->was_up)
			peer_lost(ps, p, "said BYE");
		p->hello_in = 0;
		break;
	}
	zmq_msg_close(body);
}

static void
router_read(struct peers *ps, uint64_t now)
{
	zmq_msg_t	id, body, junk;
	int		more;

	ps->more_rx = 0;
	while (ps->nrxmsg < PEER_RX_MSGS && ps->rxbytes < PEER_RX_BYTES &&
	    ps->nrx < ps->rx_frames_max) {
		zmq_msg_init(&id);
		if (zmq_msg_recv(&id, ps->router, ZMQ_DONTWAIT) == -1) {
			zmq_msg_close(&id);
			return;
		}
		more = zmq_msg_more(&id);
		zmq_msg_close(&id);
		if (!more)
			continue;
		zmq_msg_init(&body);
		if (zmq_msg_recv(&body, ps->router, 0) == -1) {
			zmq_msg_close(&body);
			return;
		}
		if (zmq_msg_more(&body)) {
			/* One frame per message: drop the rest and it. */
			do {
				zmq_msg_init(&junk);
				if (zmq_msg_recv(&junk, ps->router, 0) == -1) {
					zmq_msg_close(&junk);
					break;
				}
				more = zmq_msg_more(&junk);
				zmq_msg_close(&junk);
			} while (more);
			zmq_msg_close(&body);
			ps->dropped_msgs++;
			continue;
		}
		handle_msg(ps, &body, now);
		zmq_msg_close(&body);
	}
	ps->more_rx = 1;
}

static void
monitors_read(struct peers *ps, uint64_t now)
{
	struct peer	*p;
	uint16_t	 ev;
	uint32_t	 val;
	size_t		 i;
	char		 nb[PNAME_MAX];

	while (mon_read(ps->rmon, &ev, &val)) {
		if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
			ps->accepted_hs++;
		else {
			ps->refused_hs++;
			log_debug("peer: refused a handshake (event %u, %u)",
			    ev, val);
		}
	}
	for (i = 0; i < PEER_MAX; i++) {
		p = &ps->peer[i];
		if (!p->used || p->mon == NULL)
			continue;
		while (mon_read(p->mon, &ev, &val)) {
			switch (ev) {
			case ZMQ_EVENT_CONNECTED:
				p->tcp = 1;
				break;
			case ZMQ_EVENT_DISCONNECTED:
				p->tcp = 0;
				p->handshaken = 0;
				break;
			case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
				p->handshaken = 1;
				p->hs_failed = 0;
				p->redial_backoff = 0;
				p->redial_at = 0;
				p->need_hello = 1;
				log_debug("peer %s: connected to %s",
				    pname(ps, p, nb), p->endpoint);
				break;
			default:
				/*
				 * ZeroMQ gives up on an endpoint after a
				 * failed handshake (e.g. the peer does not
				 * know our enrollment yet): dial again later.
				 */
				if (!p->hs_failed++)
					log_info("peer %s: handshake with %s "
					    "failed", pname(ps, p, nb),
					    p->endpoint);
				p->tcp = p->handshaken = 0;
				p->redial_backoff = p->redial_backoff == 0 ?
				    REDIAL_MIN_MS : p->redial_backoff * 2 >
				    REDIAL_MAX_MS ? REDIAL_MAX_MS :
				    p->redial_backoff * 2;
				p->redial_at = now + p->redial_backoff;
				break;
			}
		}
	}
}

size_t
peer_pollitems(struct peers *ps, zmq_pollitem_t *it, size_t cap,
    long *timeout_ms)
{
	struct peer	*p;
	size_t		 n = 0, i, k;

	if (cap == 0)
		return 0;
	it[n].socket = ps->router;
	it[n].events = ZMQ_POLLIN;
	n++;
	if (n < cap) {
		it[n].socket = ps->rmon;
		it[n].events = ZMQ_POLLIN;
		n++;
	}
	for (i = 0; i < PEER_MAX && n < cap; i++) {
		p = &ps->peer[i];
		if (!p->used || p->mon == NULL)
			continue;
		it[n].socket = p->mon;
		it[n].events = ZMQ_POLLIN;
		n++;
		if (n < cap && p->dealer != NULL && p->state == PS_UP &&
		    p->g.nserve > 0) {
			it[n].socket = p->dealer;
			it[n].events = ZMQ_POLLOUT;
			n++;
		}
	}
	for (i = 0; i < PEER_PROBES_MAX && n < cap; i++)
		for (k = 0; k < ps->probe[i].ncand && n < cap; k++) {
			it[n].socket = ps->probe[i].cand[k].mon;
			it[n].events = ZMQ_POLLIN;
			n++;
		}
	if (*timeout_ms > 100)
		*timeout_ms = 100;
	if (ps->more_push || ps->more_rx)
		*timeout_ms = 0;
	return n;
}

void
peer_rx_limit(struct peers *ps, int ctl_waiting)
{
	ps->rx_frames_max = ctl_waiting ? PEER_RX_FRAMES_BUSY : PEER_RX_FRAMES;
}

void
peer_poll_done(struct peers *ps, const zmq_pollitem_t *it, size_t n)
{
	uint64_t	now = clock_mono_ms();

	(void)it;
	(void)n;
	monitors_read(ps, now);
	router_read(ps, now);
}

int
peer_has_rx(const struct peers *ps)
{
	return ps->nrx > 0;
}

/* ---- ingest ---- */

int
peer_ingest(struct peers *ps, struct store_batch *b)
{
	int	rc;

	if (ps->nrx == 0)
		return 0;
	rc = store_ingest_verdicts(b, ps->rxp, ps->rxlen, ps->nrx, clock_wall_ms(),
	    ps->rep, ps->verdict, ps->retry);
	ps->ingested = rc == 0;
	return rc;
}

/* Refusals that are the sender's fault. */
static int
is_bad_verdict(int v, int retry)
{
	if (retry)
		return 0;
	switch (v) {
	case CAJA_EDECODE:
	case CAJA_ETOOBIG:
	case CAJA_ESIG:
	case CAJA_ESTORE:
	case CAJA_EUNENROLLED:
		return 1;
	}
	return 0;
}

void
peer_ingest_done(struct peers *ps, int committed)
{
	struct peer	*p;
	struct rxmeta	*rm;
	uint64_t	 now = clock_mono_ms(), bad;
	size_t		 i, accepted = 0, refused = 0;
	int		 v, first_logged = 0;
	char		 nb[PNAME_MAX], hex[ID_HEX];

	if (ps->nrx == 0) {
		rx_clear(ps);
		return;
	}
	for (i = 0; i < ps->nrx; i++) {
		rm = &ps->rxm[i];
		p = rm->peer >= 0 ? &ps->peer[rm->peer] : NULL;
		if (p != NULL && !p->used)
			p = NULL;
		if (!committed || !ps->ingested) {
			gossip_refused(&ps->gsp, rm->peer, rm->dev, rm->seq,
			    now);
			continue;
		}
		v = ps->verdict[i];
		if (v == STORE_VERDICT_ACCEPTED) {
			accepted++;
			if (p != NULL)
				p->recv_events++;
			else if (rm->peer < 0)
				ps->enroll_accepted++;
			continue;
		}
		if (v == STORE_VERDICT_DUPLICATE) {
			if (p != NULL)
				p->dup_events++;
			continue;
		}
		refused++;
		if (ps->retry[i]) {
			gossip_refused(&ps->gsp, rm->peer, rm->dev, rm->seq,
			    now);
			if (p != NULL)
				p->refused_events++;
			continue;
		}
		bad = is_bad_verdict(v, 0);
		/*
		 * A chain that does not link is the author's fault when the
		 * author sent it; relayed, it is fork evidence, not malice.
		 */
		if (v == CAJA_ECHAIN && p != NULL && p->dev_known &&
		    memcmp(rm->dev, p->dev, ID_LEN) == 0)
			bad = 1;
		if (v == CAJA_ECHAIN && p != NULL && rm->seq > 1 &&
		    now >= p->back_at + PEER_HELLO_IVL_MS / 2) {
			/*
			 * Its copy of the log does not link to ours: one of
			 * the two was forked (a register restored from a
			 * backup). Ask it for the events before, so that the
			 * store sees the two versions of a seq.
			 */
			memcpy(p->back.dev, rm->dev, ID_LEN);
			p->back.from_seq = rm->seq > 64 ? rm->seq - 64 : 1;
			p->back.max_count = rm->seq - p->back.from_seq;
			p->back_at = now;
		}
		if (p != NULL) {
			p->refused_events++;
			if (bad) {
				p->bad_frames++;
				peer_bad(ps, p, 1, now);
			}
		}
		if (!first_logged) {
			first_logged = 1;
			ids_hex(hex, rm->dev, ID_LEN);
			log_info("peer %s: event %.8s/%llu refused: %s",
			    p != NULL ? pname(ps, p, nb) : "(enrolling)", hex,
			    (unsigned long long)rm->seq, err_str(v));
		}
	}
	if (committed && ps->ingested)
		log_debug("peers: %zu frames ingested: %zu accepted, %zu "
		    "refused", ps->nrx, accepted, refused);
	rx_clear(ps);
}

/* ---- sending ---- */

static int
run_cb(void *arg, uint64_t seq, const uint8_t *f, size_t len)
{
	struct run	*r = arg;

	if (r->n == 0)
		r->first = seq;
	if (r->n >= WIRE_MAX_RUN)
		return CAJA_ETOOBIG;
	r->off[r->n] = r->data.len;
	r->len[r->n] = len;
	if (buf_add(&r->data, f, len) != 0)
		return CAJA_ENOMEM;
	r->n++;
	return 0;
}

static int
run_read(struct peers *ps, const uint8_t *dev, uint64_t from, uint64_t max)
{
	struct run	*r = ps->run;
	size_t		 cnt;

	buf_clear(&r->data);
	r->n = 0;
	if (max > WIRE_MAX_RUN)
		max = WIRE_MAX_RUN;
	return store_frames_range(ps->st, dev, from, (size_t)max,
	    PEER_RUN_BYTES, run_cb, r, &cnt);
}

/* Own events committed since the last turn go to every up peer. */
static void
push_own(struct peers *ps)
{
	struct run	*r = ps->run;
	struct peer	*p;
	uint64_t	 mine, have, s;
	size_t		 i, k;
	const uint8_t	*self = ps->ids.device_id;

	ps->more_push = 0;
	mine = vclock_get(&ps->vc, self);
	if (mine <= ps->pushed_seq)
		return;
	if (run_read(ps, self, ps->pushed_seq + 1, PEER_PUSH_TURN) != 0 ||
	    r->n == 0) {
		ps->pushed_seq = mine;
		return;
	}
	for (i = 0; i < PEER_MAX; i++) {
		p = &ps->peer[i];
		if (!p->used || p->state != PS_UP)
			continue;
		for (k = 0; k < r->n; k++) {
			s = r->first + k;
			if (p->pushed >= s)
				continue;
			/*
			 * Even when it says it holds s: we just wrote s, so it
			 * holds another event there (we were restored from a
			 * backup) and must see this one to raise the fork.
			 */
			have = vclock_get(&p->g.have, self);
			if (p->pushed > have)
				have = p->pushed;
			if (have + 1 < s)
				break;	/* it lacks earlier ones: WANT */
			buf_clear(&ps->out);
			if (wire_encode_push(&ps->out, r->data.p + r->off[k],
			    r->len[k]) != 0 || send_out(ps, p) != 0)
				break;
			p->pushed = s;
			p->sent_events++;
		}
	}
	ps->pushed_seq = r->first + r->n - 1;
	if (ps->pushed_seq < mine)
		ps->more_push = 1;
}

/* Serves one peer's WANTs up to budget bytes; returns bytes sent. */
static size_t
serve_peer(struct peers *ps, struct peer *p, size_t budget)
{
	struct run		*r = ps->run;
	struct wire_range	 wr;
	struct wire_frame	 fr[WIRE_MAX_RUN];
	size_t			 sent = 0, k;
	int			 rc;

	while (sent < budget && gossip_serve_next(&p->g, &wr)) {
		if (!writable(p->dealer))
			break;
		if ((rc = run_read(ps, wr.dev, wr.from_seq, wr.max_count)) !=
		    0) {
			log_warnx("peer: read for serving: %s", err_str(rc));
			gossip_serve_done(&p->g, wr.dev, wr.from_seq, 0);
			continue;
		}
		if (r->n == 0) {
			gossip_serve_done(&p->g, wr.dev, wr.from_seq, 0);
			continue;
		}
		for (k = 0; k < r->n; k++) {
			fr[k].p = r->data.p + r->off[k];
			fr[k].len = r->len[k];
		}
		buf_clear(&ps->out);
		if ((rc = wire_encode_events(&ps->out, wr.dev, r->first, fr,
		    r->n)) != 0) {
			log_warnx("peer: encode EVENTS: %s", err_str(rc));
			gossip_serve_done(&p->g, wr.dev, wr.from_seq, 0);
			continue;
		}
		if (send_out(ps, p) != 0)
			break;		/* full: later */
		gossip_serve_done(&p->g, wr.dev, wr.from_seq, r->n);
		p->sent_events += r->n;
		sent += ps->out.len;
	}
	return sent;
}

/*
 * Serves the peers' WANTs, PEER_SERVE_PEER bytes each, PEER_SERVE_TURN in
 * all. The next turn starts with the first peer this one had no budget
 * left for: every peer waiting is served within a few turns, whatever its
 * slot.
 */
static void
serve_all(struct peers *ps)
{
	struct peer	*p;
	size_t		 i, total = 0;
	unsigned	 k, next = (ps->serve_rr + 1) % PEER_MAX;

	for (i = 0; i < PEER_MAX; i++) {
		k = (unsigned)((ps->serve_rr + i) % PEER_MAX);
		p = &ps->peer[k];
		if (!p->used || p->state != PS_UP || p->g.nserve == 0)
			continue;
		if (total >= PEER_SERVE_TURN) {
			next = k;
			break;
		}
		total += serve_peer(ps, p, PEER_SERVE_PEER);
	}
	ps->serve_rr = next;
}

static void
peer_state(struct peers *ps, struct peer *p, uint64_t now)
{
	char	nb[PNAME_MAX];
	int	up;

	if (p->penalty_until != 0 && now >= p->penalty_until) {
		p->penalty_until = 0;
		p->bad_win_n = 0;
		peer_dial(ps, p);
	}
	if (p->redial_at != 0 && now >= p->redial_at) {
		p->redial_at = 0;
		peer_dial(ps, p);
	}
	up = p->handshaken && p->hello_in && p->penalty_until == 0 &&
	    now < p->last_rx + PEER_DEAD_MS;
	if (up) {
		if (!p->was_up)
			log_info("peer %s (%s): up", pname(ps, p, nb),
			    p->endpoint);
		p->was_up = 1;
		p->state = PS_UP;
		return;
	}
	if (p->was_up) {
		peer_lost(ps, p, now >= p->last_rx + PEER_DEAD_MS ?
		    "silent" : "disconnected");
		return;
	}
	if (p->state == PS_DOWN)
		return;
	p->state = p->tcp || p->handshaken ? PS_HANDSHAKE : PS_CONNECTING;
}

/*
 * At a session's start, a peer that says it holds our log up to our head
 * gets our head event: if it holds another one there, we (or it) were
 * restored from a backup, and its store raises the fork.
 */
static void
head_check(struct peers *ps, struct peer *p)
{
	struct run	*r = ps->run;
	uint64_t	 mine = vclock_get(&ps->vc, ps->ids.device_id);

	if (mine == 0 || vclock_get(&p->g.have, ps->ids.device_id) < mine ||
	    p->pushed >= mine)
		return;
	if (run_read(ps, ps->ids.device_id, mine, 1) != 0 || r->n != 1)
		return;
	buf_clear(&ps->out);
	if (wire_encode_push(&ps->out, r->data.p, r->len[0]) == 0 &&
	    send_out(ps, p) == 0)
		p->sent_events++;
}

static void
peer_talk(struct peers *ps, struct peer *p, uint64_t now)
{
	struct wire_range	 wr[WIRE_MAX_WANT];
	struct vclock		*delta = &ps->scratch_vc;
	uint64_t		 seq, nonce;
	size_t			 n;

	if (p->dealer == NULL || !p->handshaken || p->penalty_until != 0)
		return;
	if ((p->need_hello || now >= p->last_hello_tx + PEER_HELLO_IVL_MS) &&
	    send_hello(ps, p, now) != 0)
		return;
	if (now >= p->last_ping_tx + PEER_PING_MS) {
		randombytes_buf(&nonce, sizeof(nonce));
		buf_clear(&ps->out);
		if (wire_encode_ping(&ps->out, nonce, clock_wall_ms()) == 0 &&
		    send_out(ps, p) == 0) {
			gossip_ping_sent(&p->g, nonce, now);
			p->last_ping_tx = now;
		}
	}
	if (p->state != PS_UP || !writable(p->dealer))
		return;
	if (p->head_check) {
		head_check(ps, p);
		p->head_check = 0;
	}
	if (p->back.max_count > 0) {
		buf_clear(&ps->out);
		if (wire_encode_want(&ps->out, &p->back, 1) == 0)
			(void)send_out(ps, p);
		p->back.max_count = 0;
	}
	if (now >= p->last_sum_tx + PEER_SUMMARY_MIN_MS &&
	    gossip_summary_acked(&p->g, &ps->vc, ps->acked, delta,
	    &ps->scratch_acked, &seq) > 0) {
		buf_clear(&ps->out);
		if (wire_encode_summary(&ps->out, seq, delta,
		    &ps->scratch_acked) == 0)
			(void)send_out(ps, p);
		p->last_sum_tx = now;
	}
	n = gossip_wants(&ps->gsp, p->id, &p->g, &ps->vc, now, wr,
	    WIRE_MAX_WANT);
	if (n > 0) {
		buf_clear(&ps->out);
		if (wire_encode_want(&ps->out, wr, n) == 0 &&
		    send_out(ps, p) != 0)
			gossip_peer_gone(&ps->gsp, p->id);
	}
}

/* Admits new devices whose enrollment came from an unenrolled client. */
static void
enrollees_check(struct peers *ps)
{
	struct enrollee	*e;
	struct devkey	*d;
	struct peer	*p;
	size_t		 i;

	for (i = 0; i < PEER_ENROLL_MAX; i++) {
		e = &ps->enr[i];
		if (!e->used || (d = dev_find_key(ps, e->key)) == NULL)
			continue;
		if (!d->deny && (p = peer_get(ps, d->dev, d->curve,
		    "joined")) != NULL && e->endpoint[0] != '\0' &&
		    p->endpoint[0] == '\0') {
			log_info("peer: device %s enrolled over the LAN, "
			    "dialling %s", d->name, e->endpoint);
			peer_set_endpoint(ps, p, e->endpoint);
		}
		memset(e, 0, sizeof(*e));
	}
}

void
peer_tick(struct peers *ps)
{
	struct vclock	*vc = &ps->scratch_vc;
	uint64_t	 now = clock_mono_ms(), gen = ps->keys_gen;
	size_t		 i;
	int		 changed = 0;

	if (store_vclock(ps->st, vc) == 0) {
		changed = vclock_cmp(vc, &ps->vc) != VCLOCK_EQUAL;
		ps->vc = *vc;
	}
	if (changed)
		gossip_progress(&ps->gsp, &ps->vc, now);
	if (changed || now >= ps->keys_at + KEYS_REFRESH_MS) {
		keys_rebuild(ps, now);
		if (ps->keys_gen != gen)
			enrollees_check(ps);
	}
	for (i = 0; i < PEER_MAX; i++)
		if (ps->peer[i].used)
			peer_state(ps, &ps->peer[i], now);
	push_own(ps);
	for (i = 0; i < PEER_MAX; i++)
		if (ps->peer[i].used)
			peer_talk(ps, &ps->peer[i], now);
	serve_all(ps);
	probe_tick(ps, now);
	if (ps->file_dirty && now >= ps->file_saved + FILE_SAVE_MS)
		file_save(ps, now);
}

/* ---- discovery ---- */

void
peer_disco_event(struct peers *ps, const struct disco_event *de)
{
	uint8_t		 dev[ID_LEN], sid[ID_LEN];
	struct devkey	*d;
	struct peer	*p;

	if (de->type != DISCO_EV_UP)
		return;
	if (ids_unhex(sid, ID_LEN, de->store_id) != 0 ||
	    memcmp(sid, ps->ids.store_id, ID_LEN) != 0)
		return;
	if (ids_unhex(dev, ID_LEN, de->device_id) != 0 ||
	    memcmp(dev, ps->ids.device_id, ID_LEN) == 0)
		return;
	d = dev_find(ps, dev);
	if (d != NULL && (d->deny || !d->ok))
		return;
	if (d == NULL) {
		/* Not known yet (the admin, seen by a new register). */
		if ((p = peer_by_endpoint(ps, de->endpoint)) == NULL)
			probe_add(ps, de->endpoint, 0, "mdns");
		return;
	}
	if ((p = peer_get(ps, dev, d->curve, "mdns")) == NULL)
		return;
	if ((p->is_static && p->endpoint[0] != '\0') || p->handshaken)
		return;		/* static, or connected: kept */
	if (strcmp(p->endpoint, de->endpoint) != 0) {
		log_info("peer: mDNS: %s at %s", d->name, de->endpoint);
		peer_set_endpoint(ps, p, de->endpoint);
	} else if (p->dealer == NULL)
		peer_dial(ps, p);
}

/* ---- status ---- */

int
peer_status_json(struct peers *ps, json_t *o)
{
	struct peer	*p;
	struct probe	*pr;
	struct devkey	*d;
	json_t		*arr, *e;
	char		 hex[ID_HEX];
	uint64_t	 now = clock_mono_ms();
	size_t		 i;
	const struct zap_counters *zc = zap_counters(ps->zap);

	if ((arr = json_array()) == NULL)
		return CAJA_ENOMEM;
	for (i = 0; i < PEER_MAX; i++) {
		p = &ps->peer[i];
		if (!p->used)
			continue;
		d = p->dev_known ? dev_find(ps, p->dev) : NULL;
		if (p->dev_known)
			ids_hex(hex, p->dev, ID_LEN);
		e = json_pack("{s:s?, s:s?, s:s, s:s, s:o, s:o, s:I, s:I, "
		    "s:I, s:I, s:I, s:I, s:b, s:s, s:I}",
		    "device_id", p->dev_known ? hex : NULL,
		    "name", d != NULL ? d->name : NULL,
		    "endpoint", p->endpoint,
		    "state", state_names[p->state],
		    "last_seen_ms", p->last_rx ? json_integer((json_int_t)
		    (now - p->last_rx)) : json_null(),
		    "rtt_ms", p->rtt_ms >= 0 ? json_integer(p->rtt_ms) :
		    json_null(),
		    "sent_events", (json_int_t)p->sent_events,
		    "received_events", (json_int_t)p->recv_events,
		    "duplicate_events", (json_int_t)p->dup_events,
		    "refused_events", (json_int_t)p->refused_events,
		    "skipped_events", (json_int_t)p->skipped_events,
		    "bad_frames", (json_int_t)p->bad_frames,
		    "static", p->is_static,
		    "source", p->source != NULL ? p->source : "",
		    "sessions", (json_int_t)p->sessions);
		if (e != NULL && p->penalty_until != 0)
			(void)json_object_set_new(e, "penalty_ms",
			    json_integer((json_int_t)(p->penalty_until >
			    now ? p->penalty_until - now : 0)));
		if (e == NULL || json_array_append_new(arr, e) != 0)
			goto nomem;
	}
	for (i = 0; i < PEER_PROBES_MAX; i++) {
		pr = &ps->probe[i];
		if (!pr->used)
			continue;
		e = json_pack("{s:n, s:n, s:s, s:s, s:n, s:n, s:I, s:I, s:I, "
		    "s:I, s:I, s:I, s:b, s:s, s:I}",
		    "device_id", "name", "endpoint", pr->endpoint,
		    "state", pr->ncand > 0 ? "handshake" : "connecting",
		    "last_seen_ms", "rtt_ms",
		    "sent_events", (json_int_t)0,
		    "received_events", (json_int_t)0,
		    "duplicate_events", (json_int_t)0,
		    "refused_events", (json_int_t)0,
		    "skipped_events", (json_int_t)0,
		    "bad_frames", (json_int_t)0,
		    "static", pr->is_static,
		    "source", pr->source != NULL ? pr->source : "",
		    "probe_rounds", (json_int_t)pr->rounds);
		if (e == NULL || json_array_append_new(arr, e) != 0)
			goto nomem;
	}
	if (json_object_set_new(o, "peers", arr) != 0)
		return CAJA_ENOMEM;
	(void)json_object_set_new(o, "refused_handshakes",
	    json_integer((json_int_t)ps->refused_hs));
	(void)json_object_set_new(o, "transport", json_pack(
	    "{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	    "listen", ps->endpoint,
	    "key", ps->self_genesis ? "store" : "device",
	    "accepted_handshakes", (json_int_t)ps->accepted_hs,
	    "zap_allowed", (json_int_t)zc->allowed,
	    "zap_denied", (json_int_t)zc->denied,
	    "zap_unenrolled_admitted", (json_int_t)zc->unknown,
	    "dropped_messages", (json_int_t)ps->dropped_msgs,
	    "enroll_refused", (json_int_t)ps->enroll_refused,
	    "enroll_accepted", (json_int_t)ps->enroll_accepted));
	return 0;
nomem:
	json_decref(arr);
	return CAJA_ENOMEM;
}
