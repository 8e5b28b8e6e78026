/*
 * disco: mDNS/DNS-SD discovery of the store's other agents (Avahi).
 *
 * An actor: disco_new() starts an AvahiThreadedPoll thread that publishes
 * this agent as a `_caja._tcp` service (TXT "v=1", "store=<hex>",
 * "device=<hex>") and browses and resolves `_caja._tcp`. It tells the main
 * loop what it finds through a ZeroMQ PAIR socket: the main loop binds a
 * PAIR at an inproc endpoint, disco connects to it and sends one text frame
 * per event (see struct disco_event; decode with disco_event_decode()):
 *
 *	UP <device_hex> <store_hex> tcp://ADDR:PORT
 *	DOWN <device_hex>
 *	STATE connecting|running
 *
 * Services of other stores and our own device are never reported. UP may
 * repeat for a device (one per resolution: several interfaces, an address
 * or port change, a reconnection to the daemon); DOWN comes once the last
 * instance of the device's service is gone from mDNS. mDNS is a hint, not
 * liveness (shared/DESIGN.md 7): a silently partitioned peer may never go
 * DOWN, a peer may go DOWN and UP again while its connection is fine. Use
 * the transport's heartbeats for liveness.
 *
 * IPv4 only: services are published, browsed and resolved with
 * AVAHI_PROTO_INET, so endpoints are always tcp://A.B.C.D:PORT (simpler for
 * the main loop; IPv6 can be added by changing DISCO_PROTO).
 *
 * Avahi being absent is not an error: when the system bus or avahi-daemon
 * cannot be reached, disco_new() still succeeds, the state is
 * DISCO_STATE_CONNECTING and disco keeps trying (AVAHI_CLIENT_NO_FAIL, then
 * a retry timer with backoff up to DISCO_RETRY_MAX_MS). A daemon restart is
 * followed by a new client, a new registration and a new browse; peers that
 * did not come back by the browser's first "all for now" go DOWN. Name
 * collisions are solved with Avahi's alternative names ("caja-x #2").
 *
 * Threads: disco_new(), disco_destroy() on one thread (the main loop);
 * disco_reannounce(), disco_get_name(), disco_get_state() from any thread
 * except disco's own (i.e. never from the log callback). The log callback
 * runs on disco's thread (and inside disco_new/disco_destroy on the
 * caller's), with disco's lock held: it must be quick and must not call
 * back into disco. disco never reads from the PAIR socket.
 */
#ifndef CAJA_DISCO_H
#define CAJA_DISCO_H

#include <stddef.h>
#include <stdint.h>

#include "proto/err.h"

#define DISCO_SERVICE_TYPE	"_caja._tcp"
/* TXT "v=" we publish and accept. */
#define DISCO_TXT_VERSION	"1"
/* Store and device ids: this many lowercase hex digits. */
#define DISCO_ID_HEX_MIN	8
#define DISCO_ID_HEX_MAX	64
/* Service name incl. NUL (one DNS label); default caja-<8 hex of device>. */
#define DISCO_NAME_MAX		64
#define DISCO_NAME_PREFIX	"caja-"
/* "tcp://A.B.C.D:PORT" incl. NUL. */
#define DISCO_ENDPOINT_MAX	64
/* Largest frame disco sends. */
#define DISCO_EVENT_MAX		256
/* Service instances tracked at once; more are ignored (logged). */
#define DISCO_PEERS_MAX		128
/* Frames queued to the main loop; more are dropped (logged). */
#define DISCO_QUEUE_MAX		1000
/* Reconnection backoff: 0, then 1 s doubling up to 30 s. */
#define DISCO_RETRY_MIN_MS	1000
#define DISCO_RETRY_MAX_MS	30000
/* Failed resolutions are tried again after this. */
#define DISCO_RESOLVE_RETRY_MS	10000

/* Numerically the same as agent/log.h's enum log_level. */
enum disco_log_level {
	DISCO_LOG_ERROR = 0,
	DISCO_LOG_WARN,
	DISCO_LOG_INFO,
	DISCO_LOG_DEBUG
};

/* msg is one line without newline, valid only during the call. */
typedef void	disco_log_fn(void *arg, int level, const char *msg);

struct disco_config {
	/* Required, lowercase hex. */
	const char	*store_id;
	const char	*device_id;
	/* Service name; NULL: caja-<first 8 digits of device_id>. */
	const char	*name;
	/* TCP port of our peer endpoint; not 0. */
	uint16_t	 port;
	/* Publish and browse on this interface only; NULL: all. */
	const char	*ifname;
	/* Host name (FQDN) to publish with; NULL: the daemon's. */
	const char	*host;
	/* NULL: no logging. */
	disco_log_fn	*log;
	void		*log_arg;
};

enum disco_state {
	DISCO_STATE_CONNECTING = 0,	/* waiting for the bus or daemon */
	DISCO_STATE_RUNNING		/* publishing and browsing */
};

enum disco_event_type {
	DISCO_EV_UP = 1,
	DISCO_EV_DOWN,
	DISCO_EV_STATE
};

struct disco_event {
	enum disco_event_type	 type;
	/* UP, DOWN */
	char			 device_id[DISCO_ID_HEX_MAX + 1];
	/* UP */
	char			 store_id[DISCO_ID_HEX_MAX + 1];
	char			 endpoint[DISCO_ENDPOINT_MAX];
	/* STATE */
	enum disco_state	 state;
};

struct disco;

/*
 * Checks cfg (ids are DISCO_ID_HEX_MIN..MAX lowercase hex digits, port not
 * 0, name a valid service name, ifname an existing interface), connects a
 * PAIR socket of zmq_ctx to endpoint, and starts the thread. Succeeds even
 * when Avahi cannot be reached (see above); the log callback says why.
 * cfg's strings are copied. CAJA_EINVAL: bad argument; CAJA_ENOMEM;
 * CAJA_EIO: ZeroMQ or thread failure. *out is NULL on error.
 */
int	disco_new(struct disco **out, void *zmq_ctx, const char *endpoint,
	    const struct disco_config *cfg) CAJA_WUR;

/*
 * Withdraws the service (peers see it leave about 1 s later), stops the
 * thread, closes the socket (unsent frames are dropped), frees everything
 * and sets *dp to NULL. NULL or *dp NULL: nothing.
 */
void	disco_destroy(struct disco **dp);

/*
 * Withdraws and re-registers our service, so that peers whose mDNS query
 * backoff has grown (e.g. after a partition) see it again in about 1 s.
 * Call after losing a peer. When the daemon is not reachable it does
 * nothing: the service is registered anyway once it is. Returns 0, or
 * CAJA_EIO when Avahi refuses the registration (logged; retried later).
 */
int	disco_reannounce(struct disco *) CAJA_WUR;

/* The state now; any thread. */
enum disco_state	disco_get_state(struct disco *);

/*
 * Copies the service name currently used (it changes after a collision)
 * into buf. CAJA_ETOOBIG when len is too small (use DISCO_NAME_MAX).
 */
int	disco_get_name(struct disco *, char *buf, size_t len) CAJA_WUR;

/* "connecting", "running". */
const char	*disco_state_name(enum disco_state);

/*
 * Writes ev as a frame (text, no NUL) into buf: len is set to its length.
 * CAJA_EINVAL when ev is malformed (bad ids, endpoint, type).
 */
int	disco_event_encode(const struct disco_event *ev,
	    char buf[DISCO_EVENT_MAX], size_t *len) CAJA_WUR;

/*
 * Parses one frame received from disco. Strict: exact keywords, single
 * spaces, ids DISCO_ID_HEX_MIN..MAX lowercase hex, endpoint
 * "tcp://HOST:PORT" with PORT 1..65535, no trailing bytes, at most
 * DISCO_EVENT_MAX bytes. CAJA_EDECODE otherwise (ev is then zeroed).
 */
int	disco_event_decode(const void *buf, size_t len,
	    struct disco_event *ev) CAJA_WUR;

#endif
