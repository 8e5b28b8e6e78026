/*
 * peer: the sessions with the store's other agents over ZeroMQ + CURVE
 * (DESIGN.md decisions 6-8).
 *
 * Sockets. One ROUTER bound at `listen` (CURVE server with this agent's
 * transport key, see zap.h; ZAP domain "caja"; ZMQ_MAXMSGSIZE
 * WIRE_MAX_FRAME; ZeroMQ heartbeats) receives everything peers send us.
 * One DEALER per peer (CURVE client, server key = the peer's transport
 * key) carries everything we send to it. So each direction of a session
 * is one connection, authenticated at its receiving end by ZAP: every
 * message we read arrives on the ROUTER and is attributed to a device by
 * its User-Id (zmq_msg_gets); the DEALER never receives. Nothing is ever
 * sent on the ROUTER (no routing ids to track, no silent drops). The
 * DEALERs use ZMQ_IMMEDIATE (nothing queued while disconnected), a small
 * ZMQ_SNDHWM, ZeroMQ reconnection with backoff and a connect timeout,
 * and every send is ZMQ_DONTWAIT: a slow peer costs at most its queue.
 * ZeroMQ gives up on an endpoint after a failed handshake (a peer that
 * does not know our enrollment yet refuses us): the DEALER is made again
 * after a backoff (0.5 s doubling to 10 s; at once when new devices are
 * learnt).
 *
 * Sessions. A peer is "up" when our DEALER finished its handshake, the
 * peer's HELLO came in on the ROUTER, and we heard from it within
 * PEER_DEAD_MS (it PINGs every PEER_PING_MS; we answer PONG; rtt_ms comes
 * from our PINGs). A peer that was up and falls silent goes "down": its
 * fetches move to other peers and disco re-announces us. HELLO is sent on
 * every (re)connection, in answer to a HELLO (at most once a second),
 * after a SUMMARY gap, and every PEER_HELLO_IVL_MS (anti-entropy).
 *
 * Catch-up (agent/gossip.h): WANT ranges per device, answered with EVENTS
 * runs read by store_frames_range(), at most PEER_RUN_BYTES each; serving
 * is round robin over peers with a budget per loop turn and stops for a
 * peer whose DEALER is not writable. New local events are PUSHed to every
 * up peer that holds our log up to them. Received frames are ingested in
 * the loop's group-commit batch (peer_ingest(), between batch begin and
 * commit), at most PEER_RX_FRAMES a turn (PEER_RX_FRAMES_BUSY while
 * control requests wait); refusals with retry are asked
 * again later, the others (bad signature, malformed, another store, a
 * device's own chain that does not link) count as bad frames of the peer
 * that sent them; PEER_BAD_LIMIT of them within PEER_BAD_WIN_MS close the
 * session for PEER_PENALTY_MS.
 *
 * Forks. A register restored from a backup writes seqs its peers hold
 * already. To let their stores see both versions: at each session's start
 * we PUSH our head event to a peer that says it holds it; new events are
 * PUSHed even to a peer that says it holds their seq; and a relayed run
 * that does not link to what we hold makes us ask that peer for the 64
 * events before it. A forked device stays connected (the store refuses its
 * events past the fork); a revoked one is refused by ZAP and its session
 * closed the moment the revocation is applied.
 *
 * Finding peers. Static endpoints (--peer) and mDNS UP events of devices
 * not known yet are "probed": one DEALER per candidate transport key (the
 * enrolled devices' and the store key's), the first handshake that
 * succeeds names the device. DIR/peers remembers "device endpoint" lines
 * for the next start; a HELLO names the endpoint a peer listens on, so a
 * peer that dials us first is dialled back without probing.
 *
 * Joining over the LAN. A new register knows only the store key, so it
 * reaches the admin (whose transport key is the store key). While an
 * invite is open, ZAP admits unknown client keys as "k:<key>"; from such a
 * client only its HELLO and its own DeviceEnrolled (seq 1, device_pk
 * converting to the client's key) are taken, everything else is dropped
 * and counted. Once the store accepted the enrollment the key is a device
 * and the session proceeds.
 *
 * Main thread only.
 */
#ifndef CAJA_PEER_H
#define CAJA_PEER_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <zmq.h>

#include "agent/conf.h"
#include "agent/disco.h"
#include "agent/zap.h"
#include "proto/err.h"
#include "store/store.h"

#define PEER_MAX		VCLOCK_MAX	/* sessions */
/* Unresolved endpoints; unknown (enrolling) clients remembered. */
#define PEER_PROBES_MAX		CONF_PEERS_MAX
#define PEER_ENROLL_MAX		16
#define PEER_PING_MS		1000
#define PEER_DEAD_MS		4000
#define PEER_HELLO_IVL_MS	10000
#define PEER_HELLO_MIN_MS	1000	/* HELLOs answering HELLOs */
#define PEER_SUMMARY_MIN_MS	20
/* Messages queued per DEALER, per inbound pipe of the ROUTER. */
#define PEER_SNDHWM		64
#define PEER_RCVHWM		64
/* Frame bytes per EVENTS; bytes served per turn, per peer per turn. */
#define PEER_RUN_BYTES		(256u * 1024)
#define PEER_SERVE_TURN		(8u << 20)
#define PEER_SERVE_PEER		(2u << 20)
#define PEER_RX_MSGS		512	/* messages read per turn */
#define PEER_RX_BYTES		(8u << 20)	/* bytes read per turn */
/*
 * Events ingested per turn (one commit): many while nothing else waits, so
 * that a catch-up pays few commits; fewer while a control request waits,
 * so that appends stay prompt during a catch-up (peer_rx_limit).
 */
#define PEER_RX_FRAMES		16384
#define PEER_RX_FRAMES_BUSY	4096
#define PEER_PUSH_TURN		1024	/* own events pushed a turn */
#define PEER_PROBE_ROUND_MS	3000
#define PEER_PROBE_BACKOFF_MAX_MS 60000
#define PEER_BAD_LIMIT		50
#define PEER_BAD_WIN_MS		10000
#define PEER_PENALTY_MS		30000
#define PEER_FILE		"peers"
#define PEER_POLL_MAX		(2 * (PEER_MAX + PEER_PROBES_MAX * 8) + 2)
#define PEER_ERRMSG		320

struct peers;

/*
 * Binds the ROUTER at c->listen (zap must exist: it answers the
 * handshakes), reads DIR/peers and starts dialling c->peers. st stays
 * the caller's.
 */
int	peer_new(struct peers **, void *zctx, struct store *st,
	    struct zap *zap, const struct conf *c, char err[PEER_ERRMSG])
	    CAJA_WUR;
/* Says BYE to up peers, closes every socket, frees. */
void	peer_destroy(struct peers **);
/* The port we listen on (for disco). */
uint16_t	peer_port(const struct peers *);
/* What peers should dial: the bound endpoint. */
const char	*peer_endpoint(const struct peers *);
/* disco_reannounce() target after a peer loss (NULL: none). */
void	peer_set_disco(struct peers *, struct disco *);
/*
 * The cloud-acknowledged clock (agent/uplink.h): sent in HELLO and
 * SUMMARY, and what peers send merged into it (pointwise maximum). NULL:
 * none sent. It must outlive the peers or be reset to NULL.
 */
void	peer_set_acked(struct peers *, struct vclock *acked);

/*
 * Poll set: fills up to cap items (the ROUTER, monitors, DEALERs waiting
 * to write) and lowers *timeout_ms to the next timer. Returns the count.
 */
size_t	peer_pollitems(struct peers *, zmq_pollitem_t *, size_t cap,
	    long *timeout_ms);
/* After zmq_poll: monitors, then reads up to a turn's budget. */
void	peer_poll_done(struct peers *, const zmq_pollitem_t *, size_t n);
/* Before peer_poll_done(): 1 when control requests wait to be served. */
void	peer_rx_limit(struct peers *, int ctl_waiting);
/* 1 when received frames wait for ingest. */
int	peer_has_rx(const struct peers *);
/*
 * Ingests the turn's received frames into batch b (may run again on a new
 * batch if the caller restarts it). Returns 0 or a batch-fatal code.
 */
int	peer_ingest(struct peers *, struct store_batch *b) CAJA_WUR;
/* After the commit (committed 1) or its failure (0): counts, releases. */
void	peer_ingest_done(struct peers *, int committed);
/*
 * After each loop turn: key table and revocations, pushes, summaries,
 * wants, serving, pings, liveness, probes.
 */
void	peer_tick(struct peers *);
/* An event from disco. */
void	peer_disco_event(struct peers *, const struct disco_event *);
/* Status: {"peers": [...], "refused_handshakes": N, ...} merged into o. */
int	peer_status_json(struct peers *, json_t *o) CAJA_WUR;

#endif
