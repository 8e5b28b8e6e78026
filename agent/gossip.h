/*
 * gossip: the bookkeeping of anti-entropy between this agent and its peers,
 * without sockets or clocks of its own (the caller passes `now`), so that
 * it can be tested alone.
 *
 * Per peer (struct gossip_peer): what we know the peer holds (`have`, from
 * its HELLO, SUMMARYs and the runs it sent), what we told it (`told`, for
 * SUMMARY deltas), the summary sequence numbers both ways, and the WANT
 * ranges it asked of us that are not served yet (at most one per device:
 * a new WANT for a device continues the pending one when it starts where
 * that one ends, and replaces it otherwise), and the last GOSSIP_PINGS
 * PINGs sent to it that await their PONG.
 *
 * Per device (struct gossip, the fetch table): which peer we are fetching
 * the device's missing events from and up to which seq we asked. One peer
 * at a time per device, so that N peers holding the same events do not
 * send them N times; at most GOSSIP_WINDOW events per device in flight
 * (the requester's credit: a peer never gets asked for more than that, so
 * what it sends us is bounded by what we asked); asked again when half of
 * the window arrived; released when the peer makes no progress for
 * GOSSIP_FETCH_TIMEOUT_MS although it has read what we asked (it answered
 * a PING sent after our last ask or its last progress), or for
 * GOSSIP_FETCH_DEADLINE_MS whatever it read, and another peer may take
 * it; or when the peer is lost. Progress is events of the range
 * arriving from that peer, or our clock moving: a register short of CPU,
 * whose commits lag what it already received, does not take its own
 * backlog for a stalled peer, and a peer short of CPU, which has not read
 * our WANT yet, is not taken for one (were either asked again, the first
 * answer would still come, and everything twice).
 *
 * When the store refuses, with `retry`, an event the fetch's peer sent
 * (it waits for another device's event, or follows a hole), the same
 * peer is asked again from our head after a backoff of
 * GOSSIP_RETRY_MIN_MS doubling to GOSSIP_RETRY_MAX_MS (refused at that
 * backoff, the fetch is released). Its WANT replaces what the peer was
 * still sending; runs of that superseded answer still on their way are
 * dropped unread (gossip_take_run(): runs that reach past our head, until
 * the run starting there), so that none of them is merged and then
 * received again. The same holds whenever a fetch starts over (a new
 * peer, a timeout).
 *
 * Pure: no I/O; main thread.
 */
#ifndef CAJA_GOSSIP_H
#define CAJA_GOSSIP_H

#include <stddef.h>
#include <stdint.h>

#include "proto/err.h"
#include "proto/vclock.h"
#include "proto/wire.h"

#define GOSSIP_WINDOW		16384	/* in flight per device */
#define GOSSIP_FETCH_TIMEOUT_MS	3000
#define GOSSIP_FETCH_DEADLINE_MS 10000	/* stalled, whatever it read */
#define GOSSIP_RETRY_MIN_MS	100
#define GOSSIP_RETRY_MAX_MS	2000
#define GOSSIP_NO_PEER		(-1)
#define GOSSIP_PINGS		4	/* PINGs awaiting their PONG */
#define GOSSIP_NO_LIMIT		UINT64_MAX

struct gossip_peer {
	struct vclock		have;		/* the peer holds */
	struct vclock		told;		/* what we told it */
	struct vclock		acked_have;	/* cloud-acked, as it says */
	struct vclock		acked_told;	/* cloud-acked, as we said */
	uint64_t		sum_out;	/* last SUMMARY seq sent */
	uint64_t		sum_in;		/* last SUMMARY seq in */
	uint32_t		nserve;
	uint32_t		serve_next;	/* round robin position */
	struct wire_range	serve[WIRE_MAX_WANT];
	uint64_t		ping_nonce[GOSSIP_PINGS];
	uint64_t		ping_sent[GOSSIP_PINGS];	/* 0: none */
	uint32_t		ping_next;
};

struct gossip_fetch {
	uint8_t		dev[ID_LEN];
	int		peer;		/* GOSSIP_NO_PEER or an id */
	uint64_t	asked;		/* highest seq asked */
	uint64_t	seen;		/* our seq when last looked */
	uint64_t	arrived;	/* highest seq received from peer */
	uint64_t	since_ms;	/* last progress or ask */
	uint64_t	retry_at;	/* no ask before this */
	uint64_t	backoff;
	uint64_t	limit;		/* never ask past this */
	uint64_t	resync;		/* 0, or runs from peer are taken
					 * from the one holding this seq */
	int		again;		/* refused: ask peer again from
					 * our head after retry_at */
};

/* Peer ids are slots below GOSSIP_PEERS. */
#define GOSSIP_PEERS		VCLOCK_MAX

struct gossip {
	uint32_t		nfetch;
	struct gossip_fetch	fetch[VCLOCK_MAX];
	uint64_t		heard[GOSSIP_PEERS];	/* gossip_heard() */
};

void	gossip_init(struct gossip *);
void	gossip_peer_init(struct gossip_peer *);

/* A HELLO from the peer: its full vector clock; summaries start over. */
int	gossip_on_hello(struct gossip_peer *, const struct vclock *)
	    CAJA_WUR;
/*
 * A SUMMARY: merges delta (knowledge only grows). *gap is set when seq is
 * not the one after the last (a summary was lost: ask for a HELLO).
 */
int	gossip_on_summary(struct gossip_peer *, uint64_t seq,
	    const struct vclock *delta, int *gap) CAJA_WUR;
/* The peer showed it holds dev up to seq (a run or a push it sent). */
int	gossip_peer_has(struct gossip_peer *, const uint8_t dev[ID_LEN],
	    uint64_t seq) CAJA_WUR;
/* We sent a HELLO carrying ours: told = ours, summaries start over. */
void	gossip_hello_sent(struct gossip_peer *, const struct vclock *ours);
/*
 * The SUMMARY to send now: the entries of ours that grew since we last told
 * the peer, leaving out those it already holds. Returns the number of
 * entries in *delta (0: nothing to send) and sets *seq; counts the
 * summary as sent (told = ours) when it returns > 0.
 */
size_t	gossip_summary(struct gossip_peer *, const struct vclock *ours,
	    struct vclock *delta, uint64_t *seq);

/*
 * The cloud-acknowledged clock (agent/uplink.h) rides in HELLO and
 * SUMMARY too. The peer said it (a HELLO's full clock or a SUMMARY's
 * delta): remembered, so that it is not told back.
 */
int	gossip_on_acked(struct gossip_peer *, const struct vclock *acked)
	    CAJA_WUR;
/* We sent a HELLO carrying our acked clock (NULL: none). */
void	gossip_acked_sent(struct gossip_peer *, const struct vclock *acked);
/*
 * gossip_summary() with the acked clock: also fills *acked_delta with the
 * entries of acked (NULL: none) that grew since we told the peer, leaving
 * out what it said it has. Returns the entries of both deltas (0: send
 * nothing); a summary carrying only acked entries takes a seq as well.
 */
size_t	gossip_summary_acked(struct gossip_peer *, const struct vclock *ours,
	    const struct vclock *acked, struct vclock *delta,
	    struct vclock *acked_delta, uint64_t *seq);

/* Never ask dev's events past limit (revoked: its upto; GOSSIP_NO_LIMIT). */
int	gossip_set_limit(struct gossip *, const uint8_t dev[ID_LEN],
	    uint64_t limit) CAJA_WUR;
/*
 * The ranges to ask peer `id` for now (at most cap): devices it holds past
 * ours, not being fetched from another live peer, within the window and
 * the limits. Records the asks.
 */
size_t	gossip_wants(struct gossip *, int id, const struct gossip_peer *,
	    const struct vclock *ours, uint64_t now, struct wire_range *out,
	    size_t cap);
/*
 * Peer id sent dev's events up to seq (received, not merged yet):
 * progress of the fetch from that peer, if it is one.
 */
void	gossip_arrived(struct gossip *, int id, const uint8_t dev[ID_LEN],
	    uint64_t seq, uint64_t now);
/*
 * A PING with this nonce was sent to the peer at now. The last
 * GOSSIP_PINGS are awaited: a slow peer answers one sent several ago.
 */
void	gossip_ping_sent(struct gossip_peer *, uint64_t nonce,
	    uint64_t now);
/*
 * A PONG with this nonce came from the peer: when the PING it answers was
 * sent, or 0 (not one awaited). That PING and the ones before it are no
 * longer awaited (the peer read them all).
 */
uint64_t gossip_pong(struct gossip_peer *, uint64_t nonce);
/*
 * Peer id answered a PING we sent at sent_ms: it had read everything we
 * sent it before then (a WANT among it).
 */
void	gossip_heard(struct gossip *, int id, uint64_t sent_ms);
/* Our vector clock moved (after a commit): progress, finished fetches. */
void	gossip_progress(struct gossip *, const struct vclock *ours,
	    uint64_t now);
/*
 * A run of dev's events first..last came from peer id: 1 to take it, 0 to
 * drop it unread (the rest of an answer that a newer WANT superseded).
 */
int	gossip_take_run(struct gossip *, int id, const uint8_t dev[ID_LEN],
	    uint64_t first, uint64_t last);
/*
 * The store refused (dev, seq), received from peer id (negative: not a
 * peer's), with retry set: ask again later.
 */
void	gossip_refused(struct gossip *, int id, const uint8_t dev[ID_LEN],
	    uint64_t seq, uint64_t now);
/* Peer id is gone: its fetches are free to move. */
void	gossip_peer_gone(struct gossip *, int id);
/* Fetch of dev, or NULL. */
const struct gossip_fetch *gossip_fetch_get(const struct gossip *,
	    const uint8_t dev[ID_LEN]);

/*
 * A WANT from the peer: each range continues that device's pending one if
 * it starts where that one ends, and replaces it otherwise.
 */
void	gossip_serve_want(struct gossip_peer *, const struct wire_want *);
/* The next range to serve (round robin over devices): 1, or 0 if none. */
int	gossip_serve_next(struct gossip_peer *, struct wire_range *);
/*
 * sent events of dev starting at from were sent (0: we hold none of them:
 * the range is dropped).
 */
void	gossip_serve_done(struct gossip_peer *, const uint8_t dev[ID_LEN],
	    uint64_t from, uint64_t sent);
/* Events of the peer's pending ranges. */
uint64_t gossip_serve_pending(const struct gossip_peer *);

#endif
