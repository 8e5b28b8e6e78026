/*
 * wire: the peer-to-peer messages of LAN replication (DESIGN.md decision 6).
 *
 * One ZeroMQ message is one frame: a canonical msgpack array whose first
 * element is the kind, at most WIRE_MAX_FRAME bytes (also the sockets'
 * ZMQ_MAXMSGSIZE). The layouts, element by element (bin16 is a bin of
 * exactly ID_LEN bytes, a vclock is an array of [bin16 device, uint seq]
 * pairs in strictly increasing device order, seq 1..WIRE_SEQ_MAX, at most
 * VCLOCK_MAX pairs, the same form as an event's causal context):
 *
 *   HELLO    [1, version, store bin16, device bin16, vclock, acked vclock,
 *             endpoint str]
 *   SUMMARY  [2, summary seq, vclock delta, acked vclock delta]
 *   WANT     [3, [[device bin16, from_seq, max_count], ...]]
 *   EVENTS   [4, device bin16, first_seq, [event frame bin, ...]]
 *   PUSH     [5, event frame bin]
 *   PING     [6, nonce, wall ms]
 *   PONG     [7, nonce, wall ms]
 *   BYE      [8, reason]
 *
 * Limits: the endpoint is 0..WIRE_ENDPOINT_MAX printable ASCII bytes
 * (0x21-0x7e); WANT holds 1..WIRE_MAX_WANT ranges in strictly increasing
 * device order, from_seq 1..WIRE_SEQ_MAX, max_count 1..WIRE_WANT_COUNT_MAX;
 * EVENTS holds 1..WIRE_MAX_RUN frames with first_seq + n - 1 <=
 * WIRE_SEQ_MAX; an event frame is 1..EVENT_FRAME_MAX bytes (its content is
 * the store's business: wire does not look inside); SUMMARY's seq is >= 1;
 * BYE's reason is 0..WIRE_BYE_CODE_MAX (codes this version does not name
 * are accepted, for newer peers).
 *
 * Decoding demands the canonical form (codec_scan_flags CODEC_CANONICAL
 * before anything is read): one message has exactly one encoding, and
 * decode then encode gives back the same bytes. The one exception is a
 * HELLO of another protocol version: every version keeps HELLO's first
 * four elements, and wire_decode() returns such a HELLO with only version,
 * store and device set (ignoring the rest), so that the receiver can answer
 * BYE WIRE_BYE_VERSION and log who it was.
 *
 * Decoding is zero-copy: struct wire_frame pointers point into the decoded
 * buffer and are valid as long as it is (the zmq_msg_t). Everything else is
 * copied. struct wire_msg is about 17 KiB (the frame references of an
 * EVENTS run): keep one per agent or per session on the heap, not one per
 * call on a thread's stack.
 *
 * Pure; any thread; no allocation except growing the caller's struct buf.
 */
#ifndef CAJA_WIRE_H
#define CAJA_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/buf.h"
#include "proto/err.h"
#include "proto/ids.h"
#include "proto/vclock.h"

#define WIRE_VERSION		1
#define WIRE_MAX_FRAME		(4u * 1024 * 1024)	/* ZMQ_MAXMSGSIZE */
#define WIRE_MAX_RUN		1024		/* event frames per EVENTS */
#define WIRE_MAX_WANT		VCLOCK_MAX	/* ranges per WANT */
#define WIRE_ENDPOINT_MAX	255		/* bytes, without the NUL */
#define WIRE_SEQ_MAX		((uint64_t)INT64_MAX)
#define WIRE_WANT_COUNT_MAX	((uint64_t)UINT32_MAX)
#define WIRE_BYE_CODE_MAX	255

/*
 * Sizing an EVENTS run: it fits in one frame when
 *   WIRE_EVENTS_HDR_MAX + sum(len_i + WIRE_BIN_HDR_MAX) <= WIRE_MAX_FRAME
 * (a conservative bound; wire_encode_events() checks the exact size).
 */
#define WIRE_EVENTS_HDR_MAX	32
#define WIRE_BIN_HDR_MAX	5

enum wire_kind {
	WIRE_NONE = 0,
	WIRE_HELLO,
	WIRE_SUMMARY,
	WIRE_WANT,
	WIRE_EVENTS,
	WIRE_PUSH,
	WIRE_PING,
	WIRE_PONG,
	WIRE_BYE,
	WIRE_KIND_MAX
};

enum wire_bye_reason {
	WIRE_BYE_NONE = 0,	/* unspecified */
	WIRE_BYE_SHUTDOWN,	/* the agent is stopping */
	WIRE_BYE_VERSION,	/* HELLO of a protocol version not spoken */
	WIRE_BYE_STORE,		/* HELLO of another store */
	WIRE_BYE_DEVICE,	/* unknown, revoked, or not its CURVE key */
	WIRE_BYE_SELF,		/* dialled itself */
	WIRE_BYE_DUPLICATE,	/* a session with that device already exists */
	WIRE_BYE_PROTOCOL,	/* bad or unexpected frames */
	WIRE_BYE_TIMEOUT,	/* no traffic within the liveness timeout */
	WIRE_BYE_MAX
};

/* An event frame inside a received message (or one to send). */
struct wire_frame {
	const uint8_t	*p;
	size_t		 len;
};

/* Events (dev, from_seq .. from_seq + max_count - 1) that the sender lacks. */
struct wire_range {
	uint8_t		dev[ID_LEN];
	uint64_t	from_seq;
	uint64_t	max_count;
};

struct wire_hello {
	uint64_t	version;
	uint8_t		store[ID_LEN];
	uint8_t		dev[ID_LEN];
	struct vclock	vc;		/* the sender's full vector clock */
	struct vclock	acked;		/* what the cloud acknowledged */
	char		endpoint[WIRE_ENDPOINT_MAX + 1];	/* "" if none */
};

struct wire_summary {
	uint64_t	seq;		/* 1, 2, ... per session; HELLO is 0 */
	struct vclock	delta;		/* entries grown since the last one */
	struct vclock	acked;		/* cloud-acked entries grown */
};

struct wire_want {
	uint32_t		n;
	struct wire_range	r[WIRE_MAX_WANT];
};

struct wire_events {
	uint8_t			dev[ID_LEN];
	uint64_t		first_seq;	/* f[i]: (dev, first_seq + i) */
	uint32_t		n;
	struct wire_frame	f[WIRE_MAX_RUN];
};

struct wire_ping {			/* PING and PONG */
	uint64_t	nonce;		/* PONG echoes the PING's */
	uint64_t	wall_ms;	/* sender's wall clock, Unix ms */
};

struct wire_msg {
	int	kind;			/* enum wire_kind */
	union {
		struct wire_hello	hello;
		struct wire_summary	summary;
		struct wire_want	want;
		struct wire_events	events;
		struct wire_frame	push;
		struct wire_ping	ping;	/* PING and PONG */
		uint32_t		bye;	/* enum wire_bye_reason */
	} u;
};

/*
 * Decodes exactly len bytes into m: 0, CAJA_EDECODE (malformed, not
 * canonical, wrong kind or types, trailing bytes) or CAJA_ETOOBIG (over a
 * limit). On error m->kind is WIRE_NONE and the rest is undefined. Frame
 * pointers point into buf.
 */
int	wire_decode(struct wire_msg *m, const uint8_t *buf, size_t len)
	    CAJA_WUR;

/*
 * Encoders: each appends one frame to out (clear it first to send it
 * alone) and checks the limits the decoder checks, so that what they write
 * is accepted: CAJA_EINVAL for a bad argument (unsorted vclock, seq 0, an
 * empty run, a control character in the endpoint), CAJA_ETOOBIG over a
 * limit, CAJA_ENOMEM. On error out is left as it was.
 */
/* acked NULL: empty; endpoint NULL: "". */
int	wire_encode_hello(struct buf *out, const uint8_t store[ID_LEN],
	    const uint8_t dev[ID_LEN], const struct vclock *vc,
	    const struct vclock *acked, const char *endpoint) CAJA_WUR;
/* acked_delta NULL: empty. */
int	wire_encode_summary(struct buf *out, uint64_t seq,
	    const struct vclock *delta, const struct vclock *acked_delta)
	    CAJA_WUR;
int	wire_encode_want(struct buf *out, const struct wire_range *r,
	    size_t n) CAJA_WUR;
int	wire_encode_events(struct buf *out, const uint8_t dev[ID_LEN],
	    uint64_t first_seq, const struct wire_frame *f, size_t n) CAJA_WUR;
int	wire_encode_push(struct buf *out, const uint8_t *frame, size_t len)
	    CAJA_WUR;
int	wire_encode_ping(struct buf *out, uint64_t nonce, uint64_t wall_ms)
	    CAJA_WUR;
int	wire_encode_pong(struct buf *out, uint64_t nonce, uint64_t wall_ms)
	    CAJA_WUR;
int	wire_encode_bye(struct buf *out, uint32_t reason) CAJA_WUR;
/*
 * Encodes a decoded (or hand-filled) message with the encoder of its kind;
 * a HELLO must carry WIRE_VERSION.
 */
int	wire_encode(struct buf *out, const struct wire_msg *m) CAJA_WUR;

/* "HELLO", "SUMMARY", ...; "unknown" for anything else. Never NULL. */
const char	*wire_kind_name(int kind);
/* "shutdown", "version", ...; "unknown" for other codes. Never NULL. */
const char	*wire_bye_name(uint32_t reason);

#endif
