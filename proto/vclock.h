/*
 * vclock: vector clocks over device ids, {device: highest contiguous seq}.
 *
 * Entries are kept sorted by device id, at most VCLOCK_MAX entries; a
 * missing entry is 0. Plain values: copy with struct assignment. The
 * compact text form, "device:seq,device:seq" (tools/caja-cloud/API.md),
 * is written here for the uplink and caja-cloud alike. Pure.
 */
#ifndef CAJA_VCLOCK_H
#define CAJA_VCLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "proto/buf.h"
#include "proto/err.h"
#include "proto/ids.h"

#define VCLOCK_MAX	64		/* devices per store */

struct vclock_entry {
	uint8_t		dev[ID_LEN];
	uint64_t	seq;
};

struct vclock {
	uint32_t		n;
	struct vclock_entry	e[VCLOCK_MAX];
};

enum vclock_order {
	VCLOCK_EQUAL,
	VCLOCK_BEFORE,		/* a < b */
	VCLOCK_AFTER,		/* a > b */
	VCLOCK_CONCURRENT
};

void		vclock_init(struct vclock *);
/* *dst = *src, copying only the n entries in use (1.5 KB less). */
void		vclock_copy(struct vclock *dst, const struct vclock *src);
uint64_t	vclock_get(const struct vclock *, const uint8_t dev[ID_LEN]);
/* Sets dev to seq (seq 0 removes the entry). CAJA_ETOOBIG when full. */
int		vclock_set(struct vclock *, const uint8_t dev[ID_LEN],
		    uint64_t seq) CAJA_WUR;
/* Pointwise maximum into a. */
int		vclock_merge(struct vclock *a, const struct vclock *b) CAJA_WUR;
enum vclock_order vclock_cmp(const struct vclock *a, const struct vclock *b);
/* 1 when a >= b pointwise. */
int		vclock_covers(const struct vclock *a, const struct vclock *b);
/*
 * The entries of cur that differ from base (as set operations), for compact
 * causal contexts: vclock_apply_delta(base, delta) gives cur back when cur
 * >= base pointwise.
 */
int		vclock_delta(const struct vclock *base, const struct vclock *cur,
		    struct vclock *delta) CAJA_WUR;
int		vclock_apply_delta(struct vclock *base,
		    const struct vclock *delta) CAJA_WUR;
/*
 * The compact text of v into out (cleared first), NUL-terminated: each
 * entry as 32 lowercase hex digits of the device, ':', the seq in
 * decimal, in device order, joined by ','; "" when v is empty. out->len
 * counts the NUL. CAJA_ENOMEM, or CAJA_ETOOBIG past out's maximum.
 */
int		vclock_compact(const struct vclock *v, struct buf *out)
		    CAJA_WUR;
/*
 * Reads that text form back into vc (leading spaces skipped; NULL or ""
 * is the empty clock; entries of seq 0 are left out). CAJA_EDECODE for
 * anything else: a trailing comma, a device twice, an id that is not 32
 * hex digits, a seq past INT64_MAX (the wire's limit), or more than
 * VCLOCK_MAX devices.
 */
int		vclock_parse_compact(const char *s, struct vclock *vc)
		    CAJA_WUR;

#endif
