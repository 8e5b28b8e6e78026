/*
 * store: one register's data dir: keys, the LMDB environment, the event log,
 * read models, conflicts, digest, export and import.
 *
 * Layout of DIR: data.mdb/lock.mdb (LMDB), device.key (this device's seed,
 * mode 0600), store.key (the store key: admin device only, mode 0600).
 *
 * Threads and processes: one writer (the agent's main thread) holds a store
 * opened read-write; any number of readers (cajactl, agent threads) open it
 * read-only, in the same or other processes. A struct store is used by one
 * thread at a time. Every write happens in one LMDB write transaction that
 * updates log, indexes, read models and conflicts together; batches share
 * one commit (group commit). A full map grows the map up to opts.map_max;
 * beyond it, or a full disk, a write returns CAJA_EFULL and changes nothing,
 * reads go on.
 *
 * Returned json_t objects belong to the caller (json_decref).
 */
#ifndef CAJA_STORE_H
#define CAJA_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "proto/err.h"
#include "proto/event.h"
#include "proto/ident.h"
#include "proto/ids.h"
#include "proto/sig.h"
#include "proto/vclock.h"

#define STORE_MAP_INITIAL	(64ull << 20)
#define STORE_MAP_MAX		(64ull << 30)
#define STORE_ERRMSG		256
#define STORE_REFUSED_MAX	64	/* refusals detailed in a report */

struct store;
struct store_batch;

struct store_opts {
	int		rdonly;
	uint64_t	map_size;	/* 0: STORE_MAP_INITIAL */
	uint64_t	map_max;	/* 0: STORE_MAP_MAX */
	uint64_t	max_skew_ms;	/* 0: HLC_MAX_SKEW_MS */
	int		nosync;		/* benchmarks only */
};

struct store_ids {
	uint8_t	store_id[ID_LEN];
	uint8_t	device_id[ID_LEN];
};

/* Create a new store in an empty DIR (init). CAJA_EEXIST if it has one. */
int	store_create(const char *dir, const char *store_name,
	    const char *device_name, uint64_t now_ms, struct store_ids *out)
	    CAJA_WUR;
/* Enroll this new DIR with an invite token (join). */
int	store_join(const char *dir, const char *token, const char *device_name,
	    uint64_t now_ms, struct store_ids *out) CAJA_WUR;

int	store_open(struct store **, const char *dir, const struct store_opts *)
	    CAJA_WUR;
void	store_close(struct store **);
void	store_ids(const struct store *, struct store_ids *);
/* 1 when this device holds the store key. */
int	store_is_admin(const struct store *);

/* Writes: begin, any number of appends, commit (one fsync). */
int	store_batch_begin(struct store *, struct store_batch **) CAJA_WUR;
int	store_batch_commit(struct store_batch **) CAJA_WUR;
void	store_batch_abort(struct store_batch **);

struct store_appended {
	uint8_t		event_id[HASH_LEN];
	uint8_t		device_id[ID_LEN];
	uint64_t	seq;
};

/*
 * Appends one local event. Each append is all-or-nothing inside the batch
 * (a nested transaction): on error nothing of it is kept, the batch goes
 * on, and errmsg says which field or rule refused it.
 */
int	store_append_json(struct store_batch *, const char *type,
	    const json_t *payload, uint64_t now_ms, struct store_appended *out,
	    char errmsg[STORE_ERRMSG]) CAJA_WUR;
/* invite (admin only): appends DeviceInvited, writes the token text. */
int	store_invite(struct store_batch *, const char *role,
	    uint64_t expires_ms, uint64_t now_ms, char *token, size_t cap,
	    char errmsg[STORE_ERRMSG]) CAJA_WUR;
/* revoke (admin only): device id or prefix. */
int	store_revoke(struct store_batch *, const char *device, const char *reason,
	    uint64_t now_ms, struct store_appended *out,
	    char errmsg[STORE_ERRMSG]) CAJA_WUR;
/* resolve: conflict id or prefix, the chosen value, who. */
int	store_resolve(struct store_batch *, const char *conflict,
	    const json_t *value, const char *by, uint64_t now_ms,
	    struct store_appended *out, char errmsg[STORE_ERRMSG]) CAJA_WUR;

/* Outcome of ingesting received events. */
struct store_refusal {
	uint8_t		dev[ID_LEN];
	uint64_t	seq;
	int		err;
	char		msg[STORE_ERRMSG];
	int		retry;	/* may pass when sent again later (a gap, a
				 * causal wait, an invite not yet known): not
				 * the sender's fault */
};

struct store_report {
	size_t			accepted;
	size_t			duplicate;
	size_t			refused;
	size_t			forks;
	size_t			sig_checks;	/* signatures verified */
	size_t			nrefusals;	/* <= STORE_REFUSED_MAX */
	struct store_refusal	refusals[STORE_REFUSED_MAX];
};

/*
 * Verifies and merges events received from elsewhere (frames: exact bytes).
 * Groups them by device and seq; a contiguous run is authenticated by the
 * signature of its last event and the hash links back to an event held
 * (DESIGN.md decision 2). A bad event is refused and counted; the rest are
 * kept. Duplicates are no-ops. Returns an error only when the batch itself
 * failed (CAJA_EFULL, CAJA_EIO, CAJA_ENOMEM).
 */
int	store_ingest(struct store_batch *, const uint8_t *const *frames,
	    const size_t *lens, size_t n, uint64_t now_ms,
	    struct store_report *) CAJA_WUR;

/* Export file: all events past `since` (NULL: all), exact bytes. */
int	store_export(struct store *, const struct vclock *since,
	    const char *path, size_t *count) CAJA_WUR;
/* Import file: decodes it (bounded), then store_ingest in batches, one
 * commit each; durable when it returns 0. */
int	store_import(struct store *, const char *path, uint64_t now_ms,
	    struct store_report *, char errmsg[STORE_ERRMSG]) CAJA_WUR;
/*
 * The same in steps, so that a caller (the agent's loop) can serve other
 * requests between them: open reads and checks the whole file's frame
 * index (nothing written); each step reads its events into memory, then
 * merges them (at most max, 0: the default batch) in one committed batch,
 * and sets *done once everything was tried (then the last commit is
 * synced and the report is final). A failed step leaves
 * the store as the last committed step left it; close makes what the
 * steps merged durable and releases the file.
 * One thread at a time per import, the store's writer.
 */
struct store_import;
int	store_import_open(struct store *, const char *path,
	    struct store_import **, char errmsg[STORE_ERRMSG]) CAJA_WUR;
int	store_import_step(struct store_import *, size_t max, uint64_t now_ms,
	    int *done, char errmsg[STORE_ERRMSG]) CAJA_WUR;
const struct store_report *store_import_report(const struct store_import *);
/* Frames in the file, frames still to try, the path. */
void	store_import_progress(const struct store_import *, size_t *frames,
	    size_t *pending, const char **path);
void	store_import_close(struct store_import **);

/* Export file format, for fuzzing: "CAJAEXP1", then frames, each a u32
 * big-endian length and the event bytes. Calls fn per frame; stops at the
 * first malformed one with CAJA_EDECODE. */
#define STORE_EXPORT_MAGIC	"CAJAEXP1"
int	store_export_parse(const uint8_t *buf, size_t len,
	    int (*fn)(void *, const uint8_t *, size_t), void *arg) CAJA_WUR;
/* The frames of such bytes, collected: pointers into buf and lengths (f
 * zeroed first; free them with store_frames_free()). At most max frames
 * (0: no bound): CAJA_ETOOBIG past it; otherwise as store_export_parse(),
 * f->n counting the frames read before a malformed one. */
struct store_frames {
	const uint8_t	**p;
	size_t		 *len;
	size_t		  n, cap, max;
};
int	store_export_frames(const uint8_t *buf, size_t len, size_t max,
	    struct store_frames *f) CAJA_WUR;
void	store_frames_free(struct store_frames *);

/* Reads (any store, read-only or not). kind: "product"|"customer"|"sale".
 * id: exact entity id. CAJA_ENOTFOUND when absent. */
int	store_get_json(struct store *, const char *kind, const char *id,
	    json_t **out) CAJA_WUR;
int	store_list_json(struct store *, const char *kind, json_t **out)
	    CAJA_WUR;
/* day "YYYY-MM-DD" (UTC) or NULL for every day. */
int	store_totals_json(struct store *, const char *day, json_t **out)
	    CAJA_WUR;
int	store_conflicts_json(struct store *, int all, json_t **out) CAJA_WUR;
int	store_devices_json(struct store *, json_t **out) CAJA_WUR;
/* device_id, store_id, vector_clock, events, conflicts_pending, ... */
int	store_status_json(struct store *, json_t **out) CAJA_WUR;
/* dev: id or prefix or NULL for all; since: seq (exclusive). */
int	store_log_json(struct store *, const char *dev, uint64_t since,
	    size_t limit, json_t **out) CAJA_WUR;
int	store_vclock(struct store *, struct vclock *) CAJA_WUR;
int	store_digest(struct store *, uint8_t out[HASH_LEN]) CAJA_WUR;
/* Number of events held. */
int	store_count(struct store *, uint64_t *) CAJA_WUR;

/*
 * This device's signing key (the agent derives its CURVE keys from it).
 * NULL when opened read-only. Valid until store_close().
 */
const struct sig_key *store_device_key(const struct store *);

/* A device record, as the agent needs it (ZAP, peers). */
struct store_device {
	uint8_t		id[ID_LEN];
	uint8_t		pk[SIG_PK_LEN];
	char		name[IDENT_NAME_MAX + 1];
	char		role[IDENT_ROLE_MAX + 1];
	uint64_t	enrolled_hlc;
	int		revoked;
	uint64_t	revoked_upto;	/* its events past this are refused */
	uint64_t	head_seq;
	int		forked;
};

/* CAJA_ENOTFOUND when the device is not enrolled here. */
int	store_device_get(struct store *, const uint8_t id[ID_LEN],
	    struct store_device *) CAJA_WUR;
/* Calls fn for each enrolled device in id order; a non-zero return of
 * fn stops the walk and is returned. */
int	store_device_foreach(struct store *,
	    int (*fn)(void *, const struct store_device *), void *) CAJA_WUR;
/* The device whose id hex starts with hex (>= ID_PREFIX_MIN digits, any
 * case): CAJA_EINVAL (too short or long), CAJA_ENOTFOUND, CAJA_EAMBIGUOUS. */
int	store_device_find(struct store *, const char *hex,
	    uint8_t out[ID_LEN]) CAJA_WUR;

/*
 * Catch-up ("what do I have that V lacks"): calls fn with the exact bytes
 * of each event held past `since` (NULL: all), in (device, seq) order, so
 * each device's events come as one contiguous run; at most max events (0:
 * no limit). The frame is valid only during the call; a non-zero return
 * of fn stops the walk and is returned.
 */
int	store_frames_since(struct store *, const struct vclock *since,
	    size_t max, int (*fn)(void *, const uint8_t *, size_t), void *)
	    CAJA_WUR;

/* ---- for the agent's peer sessions (store/peerview.c) ---- */

/* The store's public key (the store key's; every device knows it). */
void	store_public_key(const struct store *, uint8_t out[SIG_PK_LEN]);
/*
 * The store key when this device holds it (the admin that ran init), else
 * NULL (and always NULL when opened read-only). Valid until store_close().
 */
const struct sig_key *store_admin_key(const struct store *);

/* A device and how it enrolled. */
struct store_peer_dev {
	struct store_device	d;
	int			genesis;	/* 1: enrolled by the store key
						 * (the store's first device);
						 * 0: by an invite */
};
/* Like store_device_foreach(), with how each device enrolled. */
int	store_peer_foreach(struct store *,
	    int (*fn)(void *, const struct store_peer_dev *), void *) CAJA_WUR;
/* Invites neither used nor expired at now_ms (0 when none). */
int	store_invites_open(struct store *, uint64_t now_ms, size_t *n)
	    CAJA_WUR;
/*
 * One device's events from from_seq on, in seq order, stopping at a gap,
 * after max_count events, or before the event that would take the run
 * past max_bytes (0: no byte limit; the first event always comes). fn
 * gets each frame (valid only during the call); a non-zero return stops
 * the walk and is returned. *count: events given to fn.
 */
int	store_frames_range(struct store *, const uint8_t dev[ID_LEN],
	    uint64_t from_seq, size_t max_count, size_t max_bytes,
	    int (*fn)(void *, uint64_t seq, const uint8_t *, size_t), void *,
	    size_t *count) CAJA_WUR;
/*
 * store_ingest() with a verdict per frame: STORE_VERDICT_ACCEPTED,
 * STORE_VERDICT_DUPLICATE or the refusal's error code; retry[i] is set
 * when that refusal may pass later (gap, causal wait, enrollment not yet
 * known). verdict and retry hold n entries (or are NULL).
 */
#define STORE_VERDICT_ACCEPTED	0
#define STORE_VERDICT_DUPLICATE	(-1)
int	store_ingest_verdicts(struct store_batch *,
	    const uint8_t *const *frames, const size_t *lens, size_t n,
	    uint64_t now_ms, struct store_report *, int *verdict,
	    uint8_t *retry) CAJA_WUR;

/* ---- for the cloud uplink (store/batchcut.c) ---- */

/*
 * A bounded, causally closed batch of what a holder of `since` (NULL:
 * nothing) lacks: out is cleared, then gets "CAJAEXP1" and at most max
 * (>= 1) frames, about max_bytes at most (0: no byte limit; the first
 * frame always comes), each in the export format (u32 big-endian length,
 * exact bytes). A frame comes only after every event of its causal
 * context (and, for a joined device's enrollment, its invite) is covered
 * by since or by an earlier frame of the batch, so the receiver can apply
 * the batch on its own. *count: frames in out; *more: 1 when the store
 * holds more past since than the batch carries (or a device has a gap).
 * Read-only; same thread rules as any read.
 */
int	store_frames_closed(struct store *, const struct vclock *since,
	    size_t max, size_t max_bytes, struct buf *out, size_t *count,
	    int *more) CAJA_WUR;

#endif
