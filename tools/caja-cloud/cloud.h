/*
 * caja-cloud: the reference cloud endpoint of caja (CONTRACT.md "Cloud",
 * DESIGN.md decision 9 and "Backend schema"). API.md is the outside.
 *
 * Modules (one prefix each):
 *   cdb_     db.c       PostgreSQL: a bounded pool of connections, every
 *                       statement under a deadline, a watchdog thread
 *                       that reconnects and measures latency, the schema
 *   cstore_  cstore.c   the stores served: one caja store (LMDB) per
 *                       store, holding the cloud's enrolled device key;
 *                       events accepted there are written to PostgreSQL
 *                       (rows, conflicts, reconcile)
 *   cvclock_ cvclock.c  a vector clock from a request (JSON or compact)
 *   cpush_   push.c     POST /v2/sync/push and head-office events
 *   cloud_   util.c     logging, clocks, defaults
 *   cauth_   auth.c     the admin token (the message a signed pull
 *                       signs: proto/cloudreq.h)
 *   crate_   http.c     per-device token buckets
 *   cmet_    http.c     Prometheus counters
 *   chttp_   http.c     libmicrohttpd server and routing; GET /v2/sync/pull
 *                       serves store_frames_closed() (store/batchcut.c):
 *                       a bounded, causally closed cut
 *
 * Trust: the cloud trusts no agent. Pushed events are verified by the
 * store library exactly as a register verifies them (enrollment,
 * signatures, hash chains, causal order); only what the store accepts
 * reaches PostgreSQL.
 *
 * Order of writes (crash consistency, API.md "Durability"): LMDB is the
 * verifier and holds the exact frames; PostgreSQL is the backend of
 * record, derived from it. A push ingests into an LMDB write batch,
 * inserts the rows in an open PostgreSQL transaction, commits LMDB, then
 * commits PostgreSQL. A failure before the LMDB commit leaves nothing
 * anywhere; a failure between the two commits leaves PostgreSQL behind
 * LMDB, never ahead: the store is marked dirty and reconciled (every
 * event LMDB holds that PostgreSQL lacks is inserted from LMDB) before it
 * is used again, and at every start.
 *
 * Threads: libmicrohttpd runs one thread per connection (bounded); a
 * store is used under its own mutex; the pool and counters are
 * thread-safe.
 */
#ifndef CAJA_CLOUD_H
#define CAJA_CLOUD_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <pthread.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "proto/buf.h"
#include "proto/err.h"
#include "proto/evjson.h"
#include "proto/ids.h"
#include "proto/vclock.h"
#include "store/store.h"

#define CLOUD_CT_EVENTS		"application/x-caja-events"
#define CLOUD_ERRMSG		256
#define CLOUD_TOKEN_FILE	"admin.token"
#define CLOUD_TOKEN_LEN		64	/* hex digits */
#define CLOUD_STORES_DIR	"stores"
#define CLOUD_AUTH_SKEW_MS	(5 * 60 * 1000)

/* Defaults and hard limits of struct cloud_conf. */
#define CLOUD_RATE_DEFAULT	20.0	/* requests per second per device */
#define CLOUD_BURST_DEFAULT	40.0
#define CLOUD_DB_CONNS_DEFAULT	4
#define CLOUD_DB_CONNS_MAX	64
#define CLOUD_DB_TIMEOUT_MS	5000	/* one statement */
#define CLOUD_DB_WAIT_MS	200	/* for a free connection */
#define CLOUD_DB_SLOW_MS	1000	/* watchdog ping: slower sheds */
#define CLOUD_DB_START_S	30	/* wait for the database at start */
#define CLOUD_MAX_CONNS		128	/* HTTP connections */
#define CLOUD_MAX_BODY		(16u << 20)	/* push body on the wire */
#define CLOUD_MAX_RAW		(64u << 20)	/* push body decompressed */
#define CLOUD_MAX_EVENTS	10000	/* events per push */
#define CLOUD_PULL_MAX		1000	/* events per pull, default */
#define CLOUD_PULL_MAX_HARD	10000
#define CLOUD_PULL_BYTES	(4u << 20)	/* per pull response */
#define CLOUD_HO_BODY_MAX	(1u << 20)	/* head-office request */
#define CLOUD_HO_EVENTS_MAX	1000
#define CLOUD_RATE_BUCKETS	4096	/* devices tracked by the limiter */

struct cloud_conf {
	const char	*listen;	/* "127.0.0.1:8080", "[::1]:8080" */
	const char	*db_url;
	const char	*data_dir;
	double		 rate;
	double		 burst;
	int		 db_conns;
	int		 db_timeout_ms;
	int		 db_wait_ms;
	int		 db_slow_ms;
	int		 db_start_s;
	int		 max_conns;
	size_t		 max_body;
	size_t		 max_raw;
	size_t		 max_events;
	size_t		 pull_max;
	size_t		 pull_max_bytes;
	int		 verbose;
};

void	cloud_conf_defaults(struct cloud_conf *);

/* Logging (stderr, one line, UTC time). Any thread. */
extern int	cloud_verbose;
void	cloud_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	cloud_debug(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
uint64_t	cloud_mono_ms(void);
uint64_t	cloud_mono_us(void);
uint64_t	cloud_wall_ms(void);
/*
 * Fault injection for the crash-consistency test: 1 when the environment
 * variable CAJA_CLOUD_CRASH names this point ("after-lmdb-commit").
 */
int	cloud_crash_point(const char *);
/* A short machine name of a caja error ("signature", "chain", ...). */
const char	*cloud_err_name(int);

/* ---- db.c ---- */

struct cdb;
struct cdb_conn {
	PGconn		*pg;
	int		 state;		/* private to db.c */
	int		 broken;	/* set by cdb_exec: close on release */
	uint64_t	 last_ms;
};

struct cdb_stats {
	int		up;		/* a connection works */
	int		slow;		/* the last ping was too slow */
	int		inflight;
	int		conns;
	double		ping_ms;
};

/*
 * Connects (waiting up to conf->db_start_s for the database to come up),
 * applies the schema and starts the watchdog thread.
 */
int	cdb_new(struct cdb **, const struct cloud_conf *, char *err,
	    size_t cap) CAJA_WUR;
void	cdb_destroy(struct cdb **);
/*
 * A connection for one request. 0; CAJA_EAGAIN when all are busy for
 * wait_ms (shed); CAJA_EIO when the database is down or slow. Give it
 * back with cdb_release() (which closes it when cdb_exec broke it).
 */
int	cdb_acquire(struct cdb *, int wait_ms, struct cdb_conn **) CAJA_WUR;
void	cdb_release(struct cdb *, struct cdb_conn **);
/*
 * One statement under the pool's deadline. Text parameters unless fmts
 * says binary. res (may be NULL) receives the result on success (caller
 * PQclear()s it). 0; CAJA_EIO when the connection failed or timed out
 * (the database is marked down until the watchdog reconnects); CAJA_EINVAL
 * when the statement failed (err says why).
 */
int	cdb_exec(struct cdb *, struct cdb_conn *, const char *sql, int n,
	    const char *const *vals, const int *lens, const int *fmts,
	    PGresult **res, char *err, size_t cap) CAJA_WUR;
/*
 * COPY ... FROM STDIN with data (text format), under the same deadline
 * and with the same results as cdb_exec().
 */
int	cdb_copy(struct cdb *, struct cdb_conn *, const char *sql,
	    const uint8_t *data, size_t len, char *err, size_t cap) CAJA_WUR;
void	cdb_stats(struct cdb *, struct cdb_stats *);
/* The schema, as applied at start (caja-cloud schema prints it). */
extern const char	cdb_schema_sql[];

/* ---- cvclock.c ---- */

/* (The JSON form of an event and of a vclock: proto/evjson.h.) */
/*
 * Parses a vector clock: JSON {"hex": seq, ...} or the compact form
 * "hex:seq,hex:seq" (vclock_parse_compact()); empty text is the empty
 * clock. CAJA_EDECODE.
 */
int	cvclock_parse(const char *, struct vclock *) CAJA_WUR;

/* ---- cstore.c ---- */

struct cstore;
struct cstores;

/* Opens every store under DATA/stores/ (reconciling each with the db). */
int	cstores_open(struct cstores **, const char *data_dir, struct cdb *)
	    CAJA_WUR;
void	cstores_close(struct cstores **);
/*
 * The store with this id (32 hex digits), opened on first use when its
 * directory exists. CAJA_ENOTFOUND when the cloud is not enrolled there.
 */
int	cstores_get(struct cstores *, const char *id_hex, struct cstore **)
	    CAJA_WUR;
size_t	cstores_count(struct cstores *);

/* Locks the store for one request; every cstore_* below needs it. */
void	cstore_lock(struct cstore *);
void	cstore_unlock(struct cstore *);
struct store	*cstore_store(struct cstore *);
const char	*cstore_id(const struct cstore *);
/* 1 when PostgreSQL may lack events LMDB holds. */
int	cstore_is_dirty(const struct cstore *);
void	cstore_set_dirty(struct cstore *);
/* Inserts what LMDB holds and PostgreSQL lacks; clears dirty. */
int	cstore_reconcile(struct cstore *, struct cdb *, struct cdb_conn *,
	    size_t *inserted) CAJA_WUR;

/*
 * Rows for the events table: frames that the store holds (accepted or
 * duplicate), each device's in seq order. Inserted with ON CONFLICT DO
 * NOTHING inside the caller's transaction. *inserted counts new rows.
 */
int	cstore_insert_events(struct cstore *, struct cdb *, struct cdb_conn *,
	    const uint8_t *const *frames, const size_t *lens, size_t n,
	    size_t *inserted) CAJA_WUR;
/*
 * The cloud's own events seq first..first+n-1 (just appended and
 * committed in LMDB) into the events table, like cstore_insert_events.
 */
int	cstore_insert_own(struct cstore *, struct cdb *, struct cdb_conn *,
	    uint64_t first, size_t n, size_t *inserted) CAJA_WUR;
/*
 * Upserts the store's conflicts into sync_conflicts and marks their
 * events' conflict_status: all of them when ids is NULL, else only those
 * with a value among ids (event ids) or an id among cids (conflicts that
 * events of this push resolve); conflicted[i] is then set for each ids[i]
 * that is a value of a pending conflict. *pending: the store's pending
 * conflicts.
 */
int	cstore_sync_conflicts(struct cstore *, struct cdb *,
	    struct cdb_conn *, const uint8_t (*ids)[HASH_LEN], size_t nids,
	    const uint8_t (*cids)[ID_LEN], size_t ncids, uint8_t *conflicted,
	    size_t *pending) CAJA_WUR;

/* ---- auth.c ---- */

/* Reads or creates DATA/admin.token (64 hex digits, mode 0600). */
int	cauth_admin_token(const char *data_dir, int create, char *out,
	    size_t cap) CAJA_WUR;
/* Constant-time comparison of NUL-terminated strings. */
int	cauth_token_eq(const char *, const char *);

/* ---- http.c ---- */

struct chttp;
int	chttp_start(struct chttp **, const struct cloud_conf *, struct cdb *,
	    struct cstores *, const char *admin_token, char *err,
	    size_t cap) CAJA_WUR;
void	chttp_stop(struct chttp **);

/* A response built by a handler. */
struct cresp {
	int		 status;
	const char	*content_type;
	uint8_t		*body;		/* malloc'd, owned */
	size_t		 len;
	int		 retry_after;	/* seconds; 0: no header */
	const char	*encoding;	/* Content-Encoding or NULL */
	char		 hdr_more[8];
	char		 hdr_events[24];
	char		*hdr_vclock;	/* malloc'd */
};
void	cresp_json(struct cresp *, int status, json_t *);	/* steals */
void	cresp_error(struct cresp *, int status, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	cresp_reset(struct cresp *);

/* Counters (http.c), for handlers. */
struct cmet {
	atomic_ullong	events_accepted;
	atomic_ullong	events_duplicate;
	atomic_ullong	events_rejected;
	atomic_ullong	events_conflicted;
	atomic_ullong	events_pulled;
	atomic_ullong	db_errors;
	atomic_ullong	shed;
	atomic_ullong	rate_limited;
	atomic_ullong	bytes_in;
	atomic_ullong	reconciled;
};
extern struct cmet	cmet;

/* ---- push.c ---- */

struct cpush_req {
	struct cstore	*cs;
	const char	*device;	/* X-Caja-Device (hex) or NULL */
	const char	*breaker;	/* X-Caja-Breaker or NULL */
	const char	*last_error;	/* X-Caja-Last-Error or NULL */
	const char	*encoding;	/* Content-Encoding or NULL */
	const uint8_t	*body;
	size_t		 len;
	uint64_t	 t0_us;		/* request start (cloud_mono_us) */
};
/* Verifies, stores and answers one push (API.md). */
void	cpush_handle(const struct cloud_conf *, struct cdb *,
	    struct cpush_req *, struct cresp *);
/* POST /v2/stores/{id}/events: the head office writes as the cloud. */
void	cpush_head_office(const struct cloud_conf *, struct cdb *,
	    struct cstore *, const uint8_t *body, size_t len,
	    struct cresp *);
/* Inflates a gzip or zlib body into out (at most max bytes). */
int	cpush_inflate(const uint8_t *in, size_t len, size_t max,
	    struct buf *out) CAJA_WUR;

#endif
