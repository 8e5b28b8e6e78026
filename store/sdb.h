/*
 * sdb: the inside of the store (private to store/): the struct store and
 * struct store_batch, the LMDB databases and their key layouts, the device
 * records, map growth and the batch replay log.
 *
 * Databases (all keys big-endian where numeric, never random):
 *   meta       "store_id" "store_pk" "store_name" "device_id" "version"
 *              "hlc" "clamped" "refused": local, never in the digest
 *   log        device(16) seq(8) -> exact frame bytes
 *   ids        never written or read: the index by event id is gone
 *              (nothing looked events up by id, and its random keys made
 *              every merge slower); the database is still created and
 *              opened, and a store made before may hold entries in it
 *   devices    device(16) -> device record (struct sdb_dev, msgpack)
 *   invites    invite pk(32) -> invite record
 *   products, customers, sales   entity id -> canonical record (rec.c)
 *   conflicts  conflict id(16) -> conflict record (rec.c)
 *   totals     day "YYYY-MM-DD"(10) device(16) -> totals record
 *   forks      device(16) seq(8) event id(32) -> frame (fork evidence)
 *
 * Every record is canonical msgpack written by store/ code, so that the
 * same events give the same bytes whatever their arrival order (digest).
 * One thread per struct store.
 */
#ifndef CAJA_SDB_H
#define CAJA_SDB_H

#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "proto/buf.h"
#include "proto/codec.h"
#include "proto/err.h"
#include "proto/event.h"
#include "proto/hlc.h"
#include "proto/ident.h"
#include "proto/ids.h"
#include "proto/schema.h"
#include "proto/sig.h"
#include "proto/vclock.h"
#include "store/crdt.h"
#include "store/store.h"

#define SDB_PATH_MAX	4096
#define SDB_VERSION	1
#define SDB_LOGKEY_LEN	(ID_LEN + 8)
#define SDB_FORKKEY_LEN	(ID_LEN + 8 + HASH_LEN)
#define SDB_TOTKEY_LEN	(10 + ID_LEN)
/* Bytes of frames one batch keeps for its replay after map growth. */
#define SDB_BATCH_FRAMES_MAX	((size_t)1 << 32)
/* Internal only, never returned outside store/: the map is full, grow it
 * and replay the batch. */
#define SDB_EMAPFULL	1000

enum sdb_db {
	DB_META,
	DB_LOG,
	DB_IDS,
	DB_DEVICES,
	DB_INVITES,
	DB_PRODUCTS,
	DB_CUSTOMERS,
	DB_SALES,
	DB_CONFLICTS,
	DB_TOTALS,
	DB_FORKS,
	DB_COUNT
};

extern const char *const sdb_names[DB_COUNT];

struct store {
	MDB_env			*env;
	MDB_dbi			 dbi[DB_COUNT];
	int			 rdonly;
	int			 nosync;
	uint64_t		 map_size;
	uint64_t		 map_max;
	uint64_t		 max_skew_ms;
	char			 dir[SDB_PATH_MAX];
	struct store_ids	 ids;
	uint8_t			 store_pk[SIG_PK_LEN];
	struct sig_key		*dev_key;	/* NULL when read-only */
	struct sig_key		*store_key;	/* admin device only */
	struct hlc		 hlc;
	struct store_batch	*batch;		/* the open batch */
};

enum sdb_op_kind { SDB_OP_EVENT = 1, SDB_OP_FORK };

struct sdb_op {
	int		 kind;
	size_t		 off;		/* frame at frames.p + off */
	size_t		 len;
};

struct sdb_cache;

struct store_batch {
	struct store	*s;
	MDB_txn		*txn;
	int		 dead;		/* txn lost: only abort remains */
	struct sdb_op	*ops;		/* what to replay after map growth */
	size_t		 nops, capops;
	struct buf	 frames;	/* the ops' frames, in a row */
	struct sdb_cache *cache;	/* cache.c; NULL until first ingest */
	MDB_cursor	*wcur[DB_COUNT];	/* sdb_bput(); LMDB frees them
					 * when txn ends: sdb_batch_txn_end() */
	uint64_t	 clamped;
	uint64_t	 refused[CAJA_ERR_MAX];
	int		 local;		/* holds events appended here */
	int		 received;	/* holds events merged from elsewhere */
};

/* A device record. */
struct sdb_dev {
	uint8_t		id[ID_LEN];
	uint8_t		pk[SIG_PK_LEN];
	char		name[IDENT_NAME_MAX + 1];
	char		role[IDENT_ROLE_MAX + 1];
	uint64_t	enrolled_hlc;
	int		has_invite;
	uint8_t		invite_pk[SIG_PK_LEN];
	int		revoked;
	uint64_t	revoked_upto;
	uint64_t	head_seq;
	uint8_t		head_id[HASH_LEN];
	struct vclock	vv;		/* full vv of the head event */
	int		forked;
};

/* Translates an LMDB or errno code. */
int	sdb_err(int);
int	sdb_get(MDB_txn *, MDB_dbi, const void *, size_t, MDB_val *) CAJA_WUR;
int	sdb_put(MDB_txn *, MDB_dbi, const void *, size_t, const void *,
	    size_t) CAJA_WUR;
/* Absent is fine. */
int	sdb_del(MDB_txn *, MDB_dbi, const void *, size_t) CAJA_WUR;
/*
 * sdb_put() into db through the batch's cursor on it when txn is the
 * batch's transaction (else a plain sdb_put): LMDB then looks for the
 * place from the cursor's page, not from the root, when the key falls on
 * it (the log of a run, records written back in key order).
 */
int	sdb_bput(struct store *, MDB_txn *, int db, const void *, size_t,
	    const void *, size_t) CAJA_WUR;
/* sdb_get() likewise (the value is valid until the next write). */
int	sdb_bget(struct store *, MDB_txn *, int db, const void *, size_t,
	    MDB_val *) CAJA_WUR;
/* The batch's transaction ended (committed or aborted): its cursors too. */
void	sdb_batch_txn_end(struct store_batch *);
/* A read transaction (handles a map grown by another process). */
int	sdb_rtxn(struct store *, MDB_txn **) CAJA_WUR;

void		sdb_be64_put(uint8_t *, uint64_t);
uint64_t	sdb_be64_get(const uint8_t *);
void		sdb_log_key(uint8_t out[SDB_LOGKEY_LEN],
		    const uint8_t dev[ID_LEN], uint64_t seq);
/* "YYYY-MM-DD" (UTC) of an HLC. */
void		sdb_day(char out[11], uint64_t hlc);

int	sdb_dev_get(MDB_txn *, struct store *, const uint8_t id[ID_LEN],
	    struct sdb_dev *) CAJA_WUR;
int	sdb_dev_put(MDB_txn *, struct store *, const struct sdb_dev *)
	    CAJA_WUR;
/* Calls fn for each device record in id order. */
int	sdb_dev_foreach(MDB_txn *, struct store *,
	    int (*fn)(void *, const struct sdb_dev *), void *) CAJA_WUR;
/* The store's vector clock {device: head seq}. */
int	sdb_vclock(MDB_txn *, struct store *, struct vclock *) CAJA_WUR;
/* Finds a device by id hex or prefix. */
int	sdb_dev_find(MDB_txn *, struct store *, const char *,
	    uint8_t out[ID_LEN]) CAJA_WUR;

int	sdb_meta_get_u64(MDB_txn *, struct store *, const char *, uint64_t *)
	    CAJA_WUR;
int	sdb_meta_put_u64(MDB_txn *, struct store *, const char *, uint64_t)
	    CAJA_WUR;
int	sdb_meta_put(MDB_txn *, struct store *, const char *, const void *,
	    size_t) CAJA_WUR;

/* The id of the event held at (dev, seq). CAJA_ENOTFOUND when none. */
int	sdb_log_id(MDB_txn *, struct store *, const uint8_t dev[ID_LEN],
	    uint64_t seq, uint8_t id[HASH_LEN]) CAJA_WUR;

/* Records an applied operation for replay after map growth. */
int	sdb_batch_record(struct store_batch *, int kind, const uint8_t *,
	    size_t) CAJA_WUR;
/*
 * After SDB_EMAPFULL: aborts the batch's transaction, grows the map,
 * begins again and replays the recorded operations. CAJA_EFULL (batch
 * dead) when the map cannot grow.
 */
int	sdb_batch_grow(struct store_batch *) CAJA_WUR;

/* cache.c: the batch's write-back cache of hot records (see there). */
/* Activates it for the batch's transaction (ingest_frames). */
int	cache_begin(struct store_batch *) CAJA_WUR;
/* Writes everything back (growing the map as needed) and deactivates. */
int	cache_end(struct store_batch *) CAJA_WUR;
/* Writes everything back and starts empty when past the cache's bounds. */
int	cache_trim(struct store_batch *) CAJA_WUR;
/* Forgets everything (the transaction is being aborted). */
void	cache_drop(struct store_batch *);
void	cache_free(struct store_batch *);
int	cache_is_on(const struct store_batch *);
void	cache_set_on(struct store_batch *, int);
/*
 * Reads and writes of products, customers, sales and totals records:
 * through the cache while it is active for txn, else sdb_get/put/del. A
 * value returned by cache_get() is valid until the next cache_put/del or
 * the end of the batch: copy or decode it at once.
 */
int	cache_get(struct store *, MDB_txn *, int db, const void *, size_t,
	    MDB_val *) CAJA_WUR;
int	cache_put(struct store *, MDB_txn *, int db, const void *, size_t,
	    const void *, size_t) CAJA_WUR;
int	cache_del(struct store *, MDB_txn *, int db, const void *, size_t)
	    CAJA_WUR;
/*
 * Adds delta to the stock of product id (its record created when absent,
 * even for 0) as a pending delta, without decoding it. *done 0: the cache
 * is not active for txn, do it by hand.
 */
int	cache_stock_add(struct store *, MDB_txn *, const char *id,
	    size_t len, int64_t delta, int *done) CAJA_WUR;
/*
 * cache_get() of a product record for a read-modify-write: its pending
 * stock delta is not added but returned in *pending (0: none), for the
 * caller to add to the decoded stock; its cache_put() then includes it.
 * CAJA_ENOTFOUND (with *pending) when there is no record yet.
 */
int	cache_product_get(struct store *, MDB_txn *, const char *id,
	    size_t len, MDB_val *, int64_t *pending) CAJA_WUR;
/* For sdb_dev_get/put/foreach: 1 when the cache answered (result in rc),
 * 0 when LMDB must. */
int	cache_dev_get(struct store *, MDB_txn *, const uint8_t id[ID_LEN],
	    struct sdb_dev *, int *rc);
int	cache_dev_put(struct store *, MDB_txn *, const struct sdb_dev *,
	    int *rc);
/* Writes the cached device records back (before a walk of them). */
int	cache_dev_sync(struct store *, MDB_txn *) CAJA_WUR;
/*
 * Event ids of the log merged by the batch, remembered so that conflict
 * records naming recent events need not read and hash them again.
 * cache_log_id(): 1 when it knew (dev, seq), id set; 0: ask LMDB.
 */
void	cache_log_id_note(struct store_batch *, const uint8_t dev[ID_LEN],
	    uint64_t seq, const uint8_t id[HASH_LEN]);
int	cache_log_id(struct store *, MDB_txn *, const uint8_t dev[ID_LEN],
	    uint64_t seq, uint8_t id[HASH_LEN]);

/* apply.c */
/*
 * Puts a verified event: log, the author's device record and the read
 * models. state (may be NULL) receives the hash of the entity record after
 * the event (zeros for identity events).
 */
int	apply_event(struct store_batch *, MDB_txn *, const struct event *,
	    const uint8_t id[HASH_LEN], uint8_t state[HASH_LEN]) CAJA_WUR;
/* The full version vector of ev given its author's record (NULL: none). */
int	apply_full_vv(const struct sdb_dev *, const struct event *,
	    struct vclock *) CAJA_WUR;
/* Keeps the evidence of a fork and raises its conflict. */
int	apply_fork(struct store_batch *, MDB_txn *, const struct event *,
	    const uint8_t id[HASH_LEN], const uint8_t held[HASH_LEN]) CAJA_WUR;

/* append.c */
/*
 * Appends this device's DeviceEnrolled (seq 1): genesis when store_name
 * is set (auth is the store key, role admin), else joined (auth is the
 * invite key).
 */
int	append_enroll(struct store_batch *, const struct sig_key *auth,
	    const char *store_name, const char *name, uint64_t now_ms,
	    struct store_appended *, char *errmsg) CAJA_WUR;

/* ingest.c */
/* Per-frame verdicts of ingest_frames(). */
#define INGEST_ACCEPTED		0
#define INGEST_DUPLICATE	(-1)
/*
 * store_ingest, with a verdict per frame (0, INGEST_DUPLICATE or an error
 * code) and retry[i] set when the refusal may pass later (gap, causal
 * order, enrollment not yet known), and detail[i] the refusal of frame i.
 * verdict, retry and detail may be NULL.
 */
int	ingest_frames(struct store_batch *, const uint8_t *const *frames,
	    const size_t *lens, size_t n, uint64_t now_ms,
	    struct store_report *, int *verdict, uint8_t *retry,
	    struct store_refusal *detail) CAJA_WUR;
void	ingest_refusal(struct store_report *, const uint8_t dev[ID_LEN],
	    uint64_t seq, int err, int retry, const char *msg);

#endif
