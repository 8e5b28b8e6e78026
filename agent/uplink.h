/*
 * uplink: cajad's cloud uplink (DESIGN.md decision 9, CONTRACT.md "Cloud",
 * tools/caja-cloud/API.md "For the uplink").
 *
 * Two halves. The HTTP thread (started only when conf.cloud is set) owns
 * a libcurl easy handle and does one blocking request at a time: it never
 * touches the store, so a slow or dead cloud never delays the LAN. The
 * main-thread half (everything in this header) owns all the decisions and
 * every store access (struct store is single-thread, and LMDB must not be
 * opened twice in one process): it cuts causally closed batches of what
 * the cloud lacks (store_frames_closed), hands them to the thread, reads
 * the answers, adopts the cloud's vector clock as acknowledged, and
 * ingests what a pull brought (store_ingest, in a batch of its own).
 *
 * The thread protocol: an inproc PAIR (UPLINK_PAIR). Main -> thread: a job
 * (push: the uncompressed "CAJAEXP1" body; pull: the `since` text; stop),
 * at most one outstanding. Thread -> main: one result per job (HTTP
 * status or the transport error, Retry-After, elapsed time, bytes, the
 * answer body and X-Caja-Vector-Clock / X-Caja-More). The thread gzips
 * push bodies and signs pulls with its own copy of the device key.
 *
 * What the main half decides, each loop turn (uplink_tick):
 *  - pending: events the store holds past the acknowledged clock;
 *  - who uploads: the lease rule of agent/lease.h (one register at a time;
 *    state "standby" on the others: they make no requests at all);
 *  - when: not before the backoff (agent/breaker.h: 1, 2, 4 ... 60 s with
 *    ±20% jitter, Retry-After honoured) and only when the circuit breaker
 *    allows (5 failures open it for 30 s, then one probe, 2 successes
 *    close it);
 *  - what: first the cloud's clock (a pull, which also brings head office
 *    events), then pushes of batches sized by agent/pace.h (10..1000),
 *    pulls when the cloud holds events we lack, and an idle poll every
 *    conf.cloud_poll that renews the lease.
 *
 * The acknowledged clock (uplink_acked) is shared with the LAN sessions:
 * HELLO and SUMMARY carry it and merge what peers say into it (pointwise
 * maximum), so every register sees what the cloud holds even when another
 * one uploaded it. It also carries the lease (lease.h).
 *
 * Main thread only (except the thread inside, which is private).
 */
#ifndef CAJA_UPLINK_H
#define CAJA_UPLINK_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <zmq.h>

#include "agent/conf.h"
#include "proto/err.h"
#include "proto/vclock.h"
#include "store/store.h"

#define UPLINK_PAIR		"inproc://caja-uplink"
#define UPLINK_ERRMSG		320
#define UPLINK_BATCH_BYTES	(4u << 20)	/* raw bytes per push */
#define UPLINK_CONNECT_MS	5000
#define UPLINK_PULL_MAX		1000		/* events per pull answer */
#define UPLINK_NOPROGRESS_MS	5000	/* a push that acknowledged nothing */
#define UPLINK_PULL_DENIED_MS	60000	/* 401/403 to a pull: ask again */

struct uplink;

/*
 * Starts the uplink of the store st (which stays the caller's and must
 * outlive it). Without c->cloud nothing is started, but the acknowledged
 * clock is kept from gossip (status shows it, state "disabled").
 */
int	uplink_new(struct uplink **, void *zctx, struct store *st,
	    const struct conf *c, char err[UPLINK_ERRMSG]) CAJA_WUR;
/* Stops the thread (an outstanding request is aborted) and frees. */
void	uplink_destroy(struct uplink **);

/*
 * The acknowledged clock, shared with the peer sessions (peer_set_acked):
 * they merge what peers say into it. Valid until uplink_destroy().
 */
struct vclock	*uplink_acked(struct uplink *);

/* Poll set: the PAIR (0 or 1 item); lowers *timeout_ms to the next
 * attempt. */
size_t	uplink_pollitems(struct uplink *, zmq_pollitem_t *, size_t cap,
	    long *timeout_ms);
/* After zmq_poll: reads the thread's result, if any. */
void	uplink_poll_done(struct uplink *, const zmq_pollitem_t *, size_t n);
/* After each loop turn (no store batch open): decisions and jobs. */
void	uplink_tick(struct uplink *);
/*
 * The "cloud" object of status: url, state, breaker, pending,
 * acked_vector_clock, last_error, last_success_ms, uploader, counters.
 */
json_t	*uplink_status_json(struct uplink *);

#endif
