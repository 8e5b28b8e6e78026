/*
 * crdt: the merge rules of caja.
 *
 * Every rule below is a pure function of the set of events it is given:
 * the same events, delivered in any order, any number of times, give the
 * same state on every register. The property tests (tests/prop/crdt_prop_
 * test.c) replay every order with duplicates and random partitioned
 * histories and demand one result.
 *
 * 0. Stamps and causality. Every event has a stamp (hlc, device id, seq):
 *    compared by hlc, then device id (bytes), then seq, a total order in
 *    which no two distinct events tie. Its version vector vv is its author's
 *    vector clock when it wrote it, including the event itself
 *    (vv[author] = seq). Event a happened before event b iff
 *    b.vv[a.dev] >= a.seq; events neither of which happened before the
 *    other are concurrent. HLCs respect causality (a -> b implies
 *    a.hlc < b.hlc) unless a clock was clamped, so stamp order is almost
 *    always a topological order of happened-before; the rules below do not
 *    rely on it for convergence.
 *    They do rely on version vectors being transitive (a -> b -> c implies
 *    c.vv[a.dev] >= a.seq). That holds when every register applies an
 *    event only once it holds the event's causal past (causal delivery):
 *    the author's vector clock then describes a causally closed set.
 *    Without it the multi-value register of rule 2 can diverge (a write
 *    dropped as overwritten on one register, kept on another); the other
 *    rules are functions of the set of events and converge regardless.
 *
 * 1. Last-writer-wins registers (product name, barcode, active; customer
 *    name, phone, address; sale status). A field holds the value of the
 *    write with the greatest stamp. A write replaces the current one iff its
 *    stamp is greater: a duplicate (equal stamp) changes nothing, and the
 *    maximum of a set does not depend on the order it is scanned in.
 *
 * 2. Multi-value registers (prices). A register holds the writes that no
 *    other write it has seen happened after: the maximal elements under
 *    happened-before. Applying write w: if an entry has w's stamp, nothing
 *    (duplicate); if w happened before some entry, w is dropped (it is
 *    already overwritten); otherwise every entry that happened before w is
 *    removed and w is inserted, entries kept sorted by stamp. Because vv
 *    carries the transitive past, the result is the set of maximal writes
 *    whatever the order. At most CRDT_MV_MAX entries are kept: past that,
 *    the smallest stamp is dropped (CAJA_ETOOBIG is returned for the store
 *    to report); a write that happened before a dropped entry has a smaller
 *    stamp (rule 0), so it is dropped again on arrival and the register
 *    still converges to the CRDT_MV_MAX greatest maximal writes.
 *    The provisional value is the entry with the greatest stamp. There is a
 *    conflict iff the live entries hold more than one distinct value
 *    (bytes of the canonical msgpack value): concurrent writes that agree
 *    are no conflict, and a write that causally follows another replaced
 *    it, so it is no conflict either. A resolution is a write whose vv
 *    covers the competing entries: it removes them all and the conflict
 *    closes on every register that has it. The conflict id is the first 16
 *    bytes of BLAKE2b-256 over a domain string, the entity kind, entity id,
 *    field and the stamps of the live entries in order, each length-
 *    prefixed: every register derives the same id from the same entries,
 *    and a new concurrent write makes a new conflict.
 *
 * 3. Counters (stock, customer balances). A counter is the sum of the
 *    deltas of the events that touch it (StockReceived +qty, StockAdjusted
 *    +delta, SaleCreated -qty, DebtPaymentAdded -amount, ...). Each event is
 *    applied exactly once because the log deduplicates by (device, seq)
 *    before any rule runs; addition commutes, and crdt_counter_add wraps
 *    modulo 2^64 so that even absurd sums stay order-independent (the
 *    schema's bounds keep real ones far from it).
 *
 * 4. Sales: an add-wins set keyed by sale id, with a void. A sale exists
 *    once any SaleCreated for it is held; its status is voided once any
 *    SaleVoided for it is held (a void of a sale whose creation has not
 *    arrived yet waits for it). Stock and credit effects of the sale are in
 *    force iff created and not voided: crdt_sale_create and crdt_sale_void
 *    return APPLY, REVERSE or NONE so that, whatever the order of create and
 *    void, and with duplicates (two registers voiding the same sale), the
 *    effects are applied at most once and reversed at most once:
 *    create, void -> APPLY, REVERSE; void, create -> NONE, NONE.
 *    Two registers may create the same sale id (a POS app that numbers
 *    sales per register, a sale keyed in twice). The SaleCreated with the
 *    smallest stamp defines the sale: its items, total, customer, device
 *    and day, and so stock, credit and totals. A creation that arrives
 *    after one with a greater stamp takes its place (crdt_sale_create_at
 *    returns REPLACE: the old definition's effects are reversed and the
 *    new one's applied, unless the sale is voided, when neither is in
 *    force). No sale is lost silently: when the creations differ in
 *    content, rule 7 raises a `duplicate_id` conflict that lists them.
 *    The store touches the products (and the credit customer) of every
 *    creation it holds, in force or not, so that which records exist is a
 *    function of the events too, not of the order they came in.
 *
 * 5. Totals per (device, day): G-counters. Each register only counts its
 *    own sales into its own entry, from its own events; a store's total is
 *    the sum of the entries. Voids are counted in a second G-counter of
 *    voided totals (a PN-counter): the net is the difference. As sums of
 *    once-applied events they converge like rule 3.
 *
 * 6. Text notes: operational transformation over a deterministic order.
 *    A NoteEdited event is a list of ops (INSERT text at a position, DELETE
 *    length code points at a position) whose positions are code points in
 *    the text its author saw: the note made of exactly the edits in its
 *    causal past; the ops of one edit apply one after the other, each in
 *    the text left by the previous one. The note is computed from the set
 *    of edits: duplicates (equal stamps) are dropped; edits are ordered
 *    topologically by happened-before, ties (concurrent edits) by stamp.
 *    Then each edit is applied in that order, transformed against the edits
 *    already applied that are not in its causal past. This is done over a
 *    list of characters with identities and tombstones: to apply edit E,
 *    the view of E is the characters inserted by edits in E's past and not
 *    deleted by any of them; a position p of E is mapped to the point after
 *    the p-th character of that view, past every character E could not see
 *    (so text inserted concurrently at the same position by an edit earlier
 *    in the order comes first, and E's text next); a DELETE tombstones the
 *    characters of E's view it covers (a character deleted by a concurrent
 *    edit is not deleted twice; concurrent text inserted inside a deleted
 *    range is not in E's view and survives: no text is lost). The note is
 *    the characters not tombstoned. Positions past the end of a view are
 *    clamped to it. Bytes that are not UTF-8 (and NUL) count as one code
 *    point each and come out as U+FFFD.
 *
 * 7. Competing creations: a sale id created with different contents
 *    (rule 4) and one invite used by several devices (a token copied onto
 *    two boxes). Both creations stay: every register holds the same events
 *    whichever came first, and a person decides what to do (void and key in
 *    the lost sale again; revoke the device that should not be there). The
 *    conflict lists, per distinct value (a sale's content fingerprint, an
 *    enrolled device), the creation with the smallest stamp, sorted by
 *    stamp, at most CRDT_MV_MAX: a function of the set of creations. Its
 *    id depends only on the entity and field, so a later creation updates
 *    the same conflict instead of making another.
 *
 * 8. Resolutions. A ConflictResolved names a conflict and carries its
 *    author's version vector. For a multi-value register (rule 2) it is a
 *    write that closes the conflict it covers. For competing creations
 *    (rule 7) it closes the conflict iff it covers every value listed;
 *    a value added later was not in its causal past (causal delivery), so
 *    it reopens the conflict on every register, whatever the order. Two
 *    resolutions of one conflict (made on two registers before they heard
 *    of each other) settle its record by the greatest (hlc, event id): the
 *    same resolved_by, value and time everywhere.
 */
#include <stdlib.h>
#include <string.h>

#include "proto/schema.h"
#include "proto/sig.h"
#include "proto/vclock.h"
#include "store/crdt.h"

#define CONFLICT_DOMAIN	"caja.conflict.v1"

int
crdt_stamp_cmp(const struct crdt_stamp *a, const struct crdt_stamp *b)
{
	int	c;

	if (a->hlc != b->hlc)
		return a->hlc < b->hlc ? -1 : 1;
	c = memcmp(a->dev, b->dev, ID_LEN);
	if (c != 0)
		return c < 0 ? -1 : 1;
	if (a->seq != b->seq)
		return a->seq < b->seq ? -1 : 1;
	return 0;
}

int
crdt_happened_before(const struct crdt_stamp *a, const struct vclock *vv_b)
{
	return a->seq > 0 && vclock_get(vv_b, a->dev) >= a->seq;
}

int
crdt_lww_wins(const struct crdt_stamp *cur, const struct crdt_stamp *in)
{
	return crdt_stamp_cmp(in, cur) > 0;
}

/* --- 2. Multi-value registers ------------------------------------------- */

int
crdt_mv_apply(struct crdt_mv *mv, const struct crdt_mv_entry *in)
{
	uint32_t	i, j;
	int		rc = 0;

	if (mv->n > CRDT_MV_MAX || in->value_len > CRDT_VALUE_MAX)
		return CAJA_EINVAL;
	for (i = 0; i < mv->n; i++) {
		/* Equal stamp: a duplicate, which also satisfies the test. */
		if (crdt_happened_before(&in->st, &mv->e[i].vv))
			return 0;
	}
	for (i = j = 0; i < mv->n; i++) {
		if (crdt_happened_before(&mv->e[i].st, &in->vv))
			continue;
		if (i != j)
			mv->e[j] = mv->e[i];
		j++;
	}
	mv->n = j;
	if (mv->n == CRDT_MV_MAX) {
		/* One of the CRDT_MV_MAX + 1 must go: the smallest stamp. */
		rc = CAJA_ETOOBIG;
		if (crdt_stamp_cmp(&in->st, &mv->e[0].st) < 0)
			return rc;
		memmove(&mv->e[0], &mv->e[1], (mv->n - 1) * sizeof(mv->e[0]));
		mv->n--;
	}
	for (i = mv->n; i > 0; i--) {
		if (crdt_stamp_cmp(&mv->e[i - 1].st, &in->st) < 0)
			break;
	}
	memmove(&mv->e[i + 1], &mv->e[i], (mv->n - i) * sizeof(mv->e[0]));
	mv->e[i] = *in;
	mv->n++;
	return rc;
}

const struct crdt_mv_entry *
crdt_mv_winner(const struct crdt_mv *mv)
{
	if (mv->n == 0)
		return NULL;
	return &mv->e[mv->n - 1];
}

static int
mv_value_eq(const struct crdt_mv_entry *a, const struct crdt_mv_entry *b)
{
	return a->value_len == b->value_len &&
	    memcmp(a->value, b->value, a->value_len) == 0;
}

int
crdt_mv_is_conflict(const struct crdt_mv *mv)
{
	uint32_t	i;

	for (i = 1; i < mv->n; i++)
		if (!mv_value_eq(&mv->e[0], &mv->e[i]))
			return 1;
	return 0;
}

static void
put_be64(uint8_t *p, uint64_t v)
{
	int	i;

	for (i = 7; i >= 0; i--) {
		p[i] = v & 0xff;
		v >>= 8;
	}
}

static void
hash_str(struct sig_hasher *h, const char *s)
{
	uint8_t	len[8];
	size_t	n;

	n = s != NULL ? strlen(s) : 0;
	put_be64(len, n);
	sig_hasher_update(h, len, sizeof(len));
	if (n > 0)
		sig_hasher_update(h, (const uint8_t *)s, n);
}

void
crdt_mv_conflict_id(const struct crdt_mv *mv, const char *kind,
    const char *entity, const char *field, uint8_t out[ID_LEN])
{
	struct sig_hasher	h;
	uint8_t			full[HASH_LEN], st[8 + ID_LEN + 8];
	uint32_t		i;

	sig_hasher_init(&h);
	hash_str(&h, CONFLICT_DOMAIN);
	hash_str(&h, kind);
	hash_str(&h, entity);
	hash_str(&h, field);
	put_be64(st, mv->n);
	sig_hasher_update(&h, st, 8);
	for (i = 0; i < mv->n && i < CRDT_MV_MAX; i++) {
		put_be64(st, mv->e[i].st.hlc);
		memcpy(st + 8, mv->e[i].st.dev, ID_LEN);
		put_be64(st + 8 + ID_LEN, mv->e[i].st.seq);
		sig_hasher_update(&h, st, sizeof(st));
	}
	sig_hasher_final(&h, full);
	memcpy(out, full, ID_LEN);
}

/* --- 3. Counters -------------------------------------------------------- */

void
crdt_counter_add(int64_t *c, int64_t delta)
{
	/* Modulo 2^64: associative and commutative, never undefined. */
	*c = (int64_t)((uint64_t)*c + (uint64_t)delta);
}

/* --- 4. Sales ----------------------------------------------------------- */

enum crdt_effect
crdt_sale_create(struct crdt_sale *s)
{
	if (s->created)
		return CRDT_NONE;
	s->created = 1;
	return s->voided ? CRDT_NONE : CRDT_APPLY;
}

enum crdt_effect
crdt_sale_void(struct crdt_sale *s)
{
	if (s->voided)
		return CRDT_NONE;
	s->voided = 1;
	return s->created ? CRDT_REVERSE : CRDT_NONE;
}

enum crdt_effect
crdt_sale_create_at(struct crdt_sale *s, const struct crdt_stamp *st,
    int *defines)
{
	*defines = 0;
	if (!s->created) {
		s->created = 1;
		s->def = *st;
		*defines = 1;
		return s->voided ? CRDT_NONE : CRDT_APPLY;
	}
	if (crdt_stamp_cmp(st, &s->def) >= 0)
		return CRDT_NONE;	/* a duplicate, or a later creation */
	s->def = *st;
	*defines = 1;
	return s->voided ? CRDT_NONE : CRDT_REPLACE;
}

/* --- 6. Notes ----------------------------------------------------------- */

static const uint8_t	utf8_replacement[3] = { 0xef, 0xbf, 0xbd };

/*
 * Length of the UTF-8 sequence at p (1-4), or 0 when the bytes there are
 * not one well-formed, non-NUL code point (then one byte counts as one).
 */
static size_t
utf8_len(const uint8_t *p, size_t n)
{
	uint32_t	c;
	size_t		len, i;

	if (n == 0 || p[0] == 0)
		return 0;
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		c = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		c = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		c = p[0] & 0x07;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	return len;
}

/* Code points in an op's text. */
static size_t
utf8_count(const uint8_t *p, size_t n)
{
	size_t	cnt = 0, l;

	while (n > 0) {
		l = utf8_len(p, n);
		if (l == 0)
			l = 1;
		p += l;
		n -= l;
		cnt++;
	}
	return cnt;
}

struct note_char {
	const uint8_t	*p;	/* the code point's bytes */
	uint32_t	 edit;	/* position of the inserting edit in order */
	uint8_t		 len;
	uint8_t		 dead;	/* tombstoned by some edit */
};

struct note_del {
	uint32_t	ch;	/* char id */
	uint32_t	edit;	/* position of the deleting edit in order */
};

struct note_ws {
	uint32_t		 m;	/* distinct edits */
	const struct crdt_edit	**e;	/* distinct edits, by stamp */
	uint32_t		*ord;	/* merge order: indexes into e */
	uint8_t			*hb;	/* [i*m+j]: e[i] happened before e[j] */
	uint8_t			*past;	/* by order position */
	struct note_char	*ch;	/* by id (creation order) */
	uint32_t		 nch;
	uint32_t		*doc;	/* ids in document order */
	uint8_t			*vis;	/* by id: in the current edit's view */
	uint32_t		*view;	/* doc indexes of the visible ones */
	struct note_del		*del;
	size_t			 ndel, capdel;
};

static int
edit_content_cmp(const struct crdt_edit *a, const struct crdt_edit *b)
{
	const struct crdt_op	*x, *y;
	uint32_t		 i;
	int			 c;

	if (a->nops != b->nops)
		return a->nops < b->nops ? -1 : 1;
	for (i = 0; i < a->nops && i < CRDT_NOTE_OPS_MAX; i++) {
		x = &a->ops[i];
		y = &b->ops[i];
		if (x->type != y->type)
			return x->type < y->type ? -1 : 1;
		if (x->pos != y->pos)
			return x->pos < y->pos ? -1 : 1;
		if (x->type == PL_OP_DELETE) {
			if (x->len != y->len)
				return x->len < y->len ? -1 : 1;
			continue;
		}
		if (x->text_len != y->text_len)
			return x->text_len < y->text_len ? -1 : 1;
		if (x->text_len > 0) {
			c = memcmp(x->text, y->text, x->text_len);
			if (c != 0)
				return c < 0 ? -1 : 1;
		}
	}
	return 0;
}

/* Stamp order; equal stamps with different ops (a fork) by content. */
static int
edit_qcmp(const void *a, const void *b)
{
	const struct crdt_edit	*x = *(const struct crdt_edit *const *)a;
	const struct crdt_edit	*y = *(const struct crdt_edit *const *)b;
	int			 c;

	c = crdt_stamp_cmp(&x->st, &y->st);
	if (c != 0)
		return c;
	return edit_content_cmp(x, y);
}

static int
note_check(const struct crdt_edit *ed)
{
	uint32_t	i;

	if (ed == NULL || ed->nops > CRDT_NOTE_OPS_MAX)
		return CAJA_EINVAL;
	for (i = 0; i < ed->nops; i++) {
		if (ed->ops[i].type == PL_OP_INSERT) {
			if (ed->ops[i].text == NULL && ed->ops[i].text_len > 0)
				return CAJA_EINVAL;
		} else if (ed->ops[i].type != PL_OP_DELETE)
			return CAJA_EINVAL;
	}
	return 0;
}

/*
 * Merge order: Kahn's algorithm, the smallest stamp among the ready edits
 * first. A cycle (only bogus or forked version vectors make one) is broken
 * by taking the smallest stamp left: still deterministic.
 */
static void
note_order(struct note_ws *w, uint32_t *indeg, uint8_t *placed)
{
	uint32_t	i, j, k, pick;

	for (i = 0; i < w->m; i++)
		for (j = 0; j < w->m; j++)
			if (i != j && crdt_happened_before(&w->e[i]->st,
			    &w->e[j]->vv))
				w->hb[(size_t)i * w->m + j] = 1;
	for (j = 0; j < w->m; j++)
		for (i = 0; i < w->m; i++)
			indeg[j] += w->hb[(size_t)i * w->m + j];
	for (k = 0; k < w->m; k++) {
		pick = w->m;
		for (i = 0; i < w->m; i++) {
			if (placed[i])
				continue;
			if (pick == w->m)
				pick = i;	/* fallback: smallest left */
			if (indeg[i] == 0) {
				pick = i;
				break;
			}
		}
		placed[pick] = 1;
		w->ord[k] = pick;
		for (j = 0; j < w->m; j++)
			if (w->hb[(size_t)pick * w->m + j] && indeg[j] > 0)
				indeg[j]--;
	}
}

static int
note_del_add(struct note_ws *w, uint32_t ch, uint32_t edit)
{
	struct note_del	*p;
	size_t		 cap;

	if (w->ndel == w->capdel) {
		cap = w->capdel == 0 ? 256 : w->capdel * 2;
		if (cap > CRDT_NOTE_DELS_MAX)
			cap = CRDT_NOTE_DELS_MAX;
		if (cap <= w->ndel)
			return CAJA_ETOOBIG;
		p = realloc(w->del, cap * sizeof(*p));
		if (p == NULL)
			return CAJA_ENOMEM;
		w->del = p;
		w->capdel = cap;
	}
	w->del[w->ndel].ch = ch;
	w->del[w->ndel].edit = edit;
	w->ndel++;
	return 0;
}

/*
 * Applies edit number k of the merge order. The view (w->view) lists the
 * doc indexes of the characters this edit can see, in order, so that a
 * position is found in O(1) and an op costs O(length of the note).
 */
static int
note_apply(struct note_ws *w, uint32_t k, uint32_t *ndoc)
{
	const struct crdt_edit	*ed = w->e[w->ord[k]];
	const struct crdt_op	*op;
	const uint8_t		*t;
	uint32_t		 i, j, at, cnt, nv, pos, end, id;
	size_t			 d, n, l;
	int			 rc;

	for (j = 0; j < k; j++)
		w->past[j] = w->hb[(size_t)w->ord[j] * w->m + w->ord[k]];
	w->past[k] = 1;
	for (i = 0; i < w->nch; i++)
		w->vis[i] = w->past[w->ch[i].edit];
	for (d = 0; d < w->ndel; d++)
		if (w->past[w->del[d].edit])
			w->vis[w->del[d].ch] = 0;
	for (i = 0, nv = 0; i < *ndoc; i++)
		if (w->vis[w->doc[i]])
			w->view[nv++] = i;

	for (j = 0; j < ed->nops; j++) {
		op = &ed->ops[j];
		pos = op->pos > nv ? nv : op->pos;
		if (op->type == PL_OP_INSERT) {
			t = (const uint8_t *)op->text;
			n = op->text_len;
			cnt = (uint32_t)utf8_count(t, n);
			if (cnt == 0)
				continue;
			/* After the pos-th visible character, past what this
			 * edit could not see: earlier edits' text goes first.
			 * That lands on the next visible one, view[pos]. */
			at = pos == nv ? *ndoc : w->view[pos];
			memmove(&w->doc[at + cnt], &w->doc[at],
			    (*ndoc - at) * sizeof(w->doc[0]));
			memmove(&w->view[pos + cnt], &w->view[pos],
			    (nv - pos) * sizeof(w->view[0]));
			for (i = pos + cnt; i < nv + cnt; i++)
				w->view[i] += cnt;
			for (i = 0; i < cnt; i++) {
				l = utf8_len(t, n);
				w->ch[w->nch].p = l != 0 ? t : utf8_replacement;
				w->ch[w->nch].len = l != 0 ? l :
				    sizeof(utf8_replacement);
				w->ch[w->nch].edit = k;
				w->ch[w->nch].dead = 0;
				w->vis[w->nch] = 1;
				w->view[pos + i] = at + i;
				w->doc[at + i] = w->nch++;
				if (l == 0)
					l = 1;
				t += l;
				n -= l;
			}
			*ndoc += cnt;
			nv += cnt;
			continue;
		}
		/* DELETE: [pos, pos + len) of the view, clamped. */
		end = op->len > nv - pos ? nv : pos + op->len;
		for (i = pos; i < end; i++) {
			id = w->doc[w->view[i]];
			w->vis[id] = 0;
			w->ch[id].dead = 1;
			if ((rc = note_del_add(w, id, k)) != 0)
				return rc;
		}
		memmove(&w->view[pos], &w->view[end],
		    (nv - end) * sizeof(w->view[0]));
		nv -= end - pos;
	}
	return 0;
}

int
crdt_note_merge(const struct crdt_edit **edits, size_t n, char *out,
    size_t cap, size_t *outlen)
{
	struct note_ws	 w;
	uint32_t	*indeg = NULL, ndoc = 0, i, k;
	uint8_t		*placed = NULL;
	size_t		 total = 0, len, j, o;
	int		 rc = 0;

	memset(&w, 0, sizeof(w));
	if (outlen != NULL)
		*outlen = 0;
	if (out == NULL || cap == 0) {
		rc = CAJA_EINVAL;
		goto out;
	}
	out[0] = '\0';
	for (j = 0; j < n; j++)
		if ((rc = note_check(edits[j])) != 0)
			goto out;
	if (n == 0)
		goto out;

	qsort(edits, n, sizeof(*edits), edit_qcmp);
	w.e = edits;
	/* Distinct edits to the front (the duplicates' order is kept). */
	for (j = 1, w.m = 1; j < n; j++) {
		if (crdt_stamp_cmp(&edits[j]->st, &edits[w.m - 1]->st) == 0)
			continue;
		if (w.m == CRDT_NOTE_EDITS_MAX) {
			rc = CAJA_ETOOBIG;
			goto out;
		}
		if (j != w.m) {
			const struct crdt_edit *tmp = edits[w.m];

			edits[w.m] = edits[j];
			edits[j] = tmp;
		}
		w.m++;
	}
	for (i = 0; i < w.m; i++)
		for (k = 0; k < edits[i]->nops; k++)
			if (edits[i]->ops[k].type == PL_OP_INSERT)
				total += utf8_count(
				    (const uint8_t *)edits[i]->ops[k].text,
				    edits[i]->ops[k].text_len);
	if (total > CRDT_NOTE_CHARS_MAX) {
		rc = CAJA_ETOOBIG;
		goto out;
	}

	w.ord = calloc(w.m, sizeof(*w.ord));
	w.hb = calloc((size_t)w.m * w.m, 1);
	w.past = calloc(w.m, 1);
	indeg = calloc(w.m, sizeof(*indeg));
	placed = calloc(w.m, 1);
	w.ch = calloc(total + 1, sizeof(*w.ch));
	w.doc = calloc(total + 1, sizeof(*w.doc));
	w.vis = calloc(total + 1, 1);
	w.view = calloc(total + 1, sizeof(*w.view));
	if (w.ord == NULL || w.hb == NULL || w.past == NULL || indeg == NULL ||
	    placed == NULL || w.ch == NULL || w.doc == NULL || w.vis == NULL ||
	    w.view == NULL) {
		rc = CAJA_ENOMEM;
		goto out;
	}
	note_order(&w, indeg, placed);
	for (k = 0; k < w.m; k++)
		if ((rc = note_apply(&w, k, &ndoc)) != 0)
			goto out;

	for (i = 0, o = 0; i < ndoc; i++) {
		const struct note_char *c = &w.ch[w.doc[i]];

		if (c->dead)
			continue;
		len = c->len;
		if (o + len >= cap) {
			rc = CAJA_ETOOBIG;
			goto out;
		}
		memcpy(out + o, c->p, len);
		o += len;
	}
	out[o] = '\0';
	if (outlen != NULL)
		*outlen = o;
 out:
	if (rc != 0 && out != NULL && cap > 0)
		out[0] = '\0';
	free(w.ord);
	free(w.hb);
	free(w.past);
	free(indeg);
	free(placed);
	free(w.ch);
	free(w.doc);
	free(w.vis);
	free(w.view);
	free(w.del);
	return rc;
}

/* --- 7. Competing creations -------------------------------------------- */

int
crdt_rival_add(struct crdt_mv *set, const struct crdt_mv_entry *in)
{
	uint32_t	i;

	if (set->n > CRDT_MV_MAX || in->value_len > CRDT_VALUE_MAX)
		return 0;
	for (i = 0; i < set->n; i++) {
		if (!mv_value_eq(&set->e[i], in))
			continue;
		if (crdt_stamp_cmp(&in->st, &set->e[i].st) >= 0)
			return 0;
		/* a smaller stamp for this value: it represents it now */
		memmove(&set->e[i], &set->e[i + 1],
		    (set->n - i - 1) * sizeof(set->e[0]));
		set->n--;
		break;
	}
	if (set->n == CRDT_MV_MAX &&
	    crdt_stamp_cmp(&in->st, &set->e[set->n - 1].st) > 0)
		return 0;	/* not among the CRDT_MV_MAX smallest */
	if (set->n == CRDT_MV_MAX)
		set->n--;
	for (i = set->n; i > 0; i--)
		if (crdt_stamp_cmp(&set->e[i - 1].st, &in->st) < 0)
			break;
	memmove(&set->e[i + 1], &set->e[i], (set->n - i) * sizeof(set->e[0]));
	set->e[i] = *in;
	set->n++;
	return 1;
}
