/*
 * crdt: the merge rules, as pure functions (DESIGN.md decision 5).
 *
 * No I/O, no clock. No allocation, except crdt_note_merge's bounded scratch
 * memory (freed before it returns; CAJA_ENOMEM when it cannot have it). The
 * store keeps their state in LMDB and calls them; the simulator and the
 * property tests call them directly. The rules themselves are written out
 * in prose at the top of crdt.c.
 *
 * Stamps order writes: (hlc, device id, seq), a total order. A version
 * vector vv of an event is its author's vector clock including the event
 * itself (vv[author] = seq): e happened before f iff f.vv[e.dev] >= e.seq.
 * Version vectors must be transitive: apply an event only once its causal
 * past is held (causal delivery), or the MV register can diverge.
 * Any thread; no shared state.
 */
#ifndef CAJA_CRDT_H
#define CAJA_CRDT_H

#include <stddef.h>
#include <stdint.h>

#include "proto/err.h"
#include "proto/ids.h"
#include "proto/vclock.h"

#define CRDT_MV_MAX		8	/* concurrent values per register */
#define CRDT_VALUE_MAX		64	/* canonical msgpack bytes of a value */

struct crdt_stamp {
	uint64_t	hlc;
	uint8_t		dev[ID_LEN];
	uint64_t	seq;
};

/* Total order of writes: hlc, then device id, then seq. */
int	crdt_stamp_cmp(const struct crdt_stamp *, const struct crdt_stamp *);
/* 1 when the event stamped a happened before the event whose version
 * vector is vv_b, or is that event (vv_b[a.dev] >= a.seq). */
int	crdt_happened_before(const struct crdt_stamp *a,
	    const struct vclock *vv_b);

/* 1. Last-writer-wins register: 1 when in replaces cur (cur may be a
 * zero stamp: empty register). */
int	crdt_lww_wins(const struct crdt_stamp *cur,
	    const struct crdt_stamp *in);

/* 2. Multi-value register. */
struct crdt_mv_entry {
	struct crdt_stamp	st;
	struct vclock		vv;
	uint8_t			value[CRDT_VALUE_MAX];
	uint32_t		value_len;
};

struct crdt_mv {
	uint32_t		n;
	struct crdt_mv_entry	e[CRDT_MV_MAX];	/* sorted by stamp */
};

/*
 * Applies a write: drops the entries that happened before it; drops the
 * write if an entry happened after it or it is already there. Returns 0,
 * or CAJA_ETOOBIG when more than CRDT_MV_MAX writes are concurrent (the
 * oldest concurrent one is then dropped: deterministic).
 */
int	crdt_mv_apply(struct crdt_mv *, const struct crdt_mv_entry *in);
/* The provisional value: the greatest stamp. NULL when empty. */
const struct crdt_mv_entry *crdt_mv_winner(const struct crdt_mv *);
/* 1 when live values differ (a conflict a person must settle). */
int	crdt_mv_is_conflict(const struct crdt_mv *);
/* The conflict's id: BLAKE2b-128 over entity kind, id, field and the
 * stamps of the live entries. */
void	crdt_mv_conflict_id(const struct crdt_mv *, const char *kind,
	    const char *entity, const char *field, uint8_t out[ID_LEN]);

/* Counters (stock, balances, totals): *c += delta, modulo 2^64 so that
 * every order of the same deltas gives the same value. */
void	crdt_counter_add(int64_t *c, int64_t delta);

/* 3. Sales: add-wins set with a void that reverses effects once. */
struct crdt_sale {
	int			created;
	int			voided;
	struct crdt_stamp	def;	/* the defining SaleCreated */
};
enum crdt_effect {
	CRDT_NONE = 0,
	CRDT_APPLY = 1,		/* apply the new definition's effects */
	CRDT_REVERSE = -1,	/* reverse the definition's effects */
	CRDT_REPLACE = 2	/* reverse the old definition, apply the new */
};
/* What the store must do to stock and credit on SaleCreated/SaleVoided.
 * crdt_sale_create is for one creation per sale (no stamp: the first
 * call defines it); the store uses crdt_sale_create_at. */
enum crdt_effect crdt_sale_create(struct crdt_sale *);
enum crdt_effect crdt_sale_void(struct crdt_sale *);
/*
 * A SaleCreated stamped st: the creation with the smallest stamp defines
 * the sale (its items, total, customer, device and day). *defines is set
 * to 1 when st now defines it (a first creation, or one smaller than the
 * definition held), else 0 (a duplicate, or a larger stamp: no effect).
 */
enum crdt_effect crdt_sale_create_at(struct crdt_sale *,
	    const struct crdt_stamp *st, int *defines);

/*
 * Competing creations (rule 7 of crdt.c): one sale id created with
 * different contents, one invite used by several devices. The set, kept
 * in a struct crdt_mv (vv unused), holds per distinct value the entry with
 * the smallest stamp, sorted by stamp, at most CRDT_MV_MAX (the smallest
 * stamps). Returns 1 when the set changed, 0 when in changes nothing.
 * A conflict exists iff crdt_mv_is_conflict(set); its id is
 * crdt_mv_conflict_id of an empty set (one id per entity and field).
 */
int	crdt_rival_add(struct crdt_mv *, const struct crdt_mv_entry *in);

/* 4. Text notes: operational transformation over a deterministic order. */
#define CRDT_NOTE_MAX		4096	/* bytes of a note */
#define CRDT_NOTE_EDITS_MAX	256	/* edits kept per note */
#define CRDT_NOTE_OPS_MAX	64	/* ops of one edit */
#define CRDT_NOTE_CHARS_MAX	(64 * 1024)	/* code points inserted */
#define CRDT_NOTE_DELS_MAX	(1024 * 1024)	/* (char, deleting edit) */

struct crdt_op {
	int		type;		/* PL_OP_INSERT / PL_OP_DELETE */
	uint32_t	pos;		/* code points */
	uint32_t	len;		/* DELETE: code points */
	const char	*text;		/* INSERT: UTF-8, text_len bytes */
	uint32_t	text_len;
};

struct crdt_edit {
	struct crdt_stamp	st;
	struct vclock		vv;
	uint32_t		nops;
	struct crdt_op		ops[CRDT_NOTE_OPS_MAX];
};

/*
 * Computes the note text from all edits (any order, duplicates allowed;
 * the pointer array is reordered in place: the distinct edits by stamp
 * first, then the duplicates):
 * edits are sorted causally with stamps breaking ties; each edit's ops are
 * transformed against the edits applied before it that it had not seen.
 * An edit's ops apply in sequence, each position counted in the text left
 * by the previous op of the same edit. Writes NUL-terminated UTF-8 into out
 * and its length (without the NUL) into *outlen (may be NULL).
 * CAJA_ETOOBIG past cap, past CRDT_NOTE_EDITS_MAX distinct edits or past
 * CRDT_NOTE_CHARS_MAX; CAJA_EINVAL for a bad op; CAJA_ENOMEM. On error out
 * holds "".
 */
int	crdt_note_merge(const struct crdt_edit **edits, size_t n,
	    char *out, size_t cap, size_t *outlen) CAJA_WUR;

#endif
