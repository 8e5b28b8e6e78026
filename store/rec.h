/*
 * rec: the canonical records of the read models (private to store/).
 *
 * Each record is one msgpack array in a fixed field order holding the CRDT
 * state of one entity: identical state gives identical bytes, so the
 * digest compares states. Decoding is zero-copy: strings point into the
 * decoded bytes, which must outlive the struct. Records come from our own
 * database; a record that does not decode is CAJA_ECORRUPT.
 */
#ifndef CAJA_REC_H
#define CAJA_REC_H

#include <stddef.h>
#include <stdint.h>

#include "proto/buf.h"
#include "proto/err.h"
#include "proto/event.h"
#include "proto/ident.h"
#include "proto/ids.h"
#include "proto/schema.h"
#include "store/crdt.h"

#define REC_NAME_MAX	128	/* resolved_by */
#define REC_VALUES_MAX	CRDT_MV_MAX

struct rec_str {
	const char	*p;
	uint32_t	 len;
};

/* A last-writer-wins string or boolean; st.hlc == 0: never written. */
struct rec_lww {
	struct crdt_stamp	st;
	struct rec_str		s;
	int			b;
};

enum { REC_PRICE_BS, REC_PRICE_USD, REC_PRICES };

struct rec_product {
	struct rec_lww	name, barcode, active;
	struct crdt_mv	price[REC_PRICES];
	int64_t		stock;
};

struct rec_customer {
	struct rec_lww	name, phone, address;
	int64_t		balance;
};

struct rec_item {
	struct rec_str	product_id;
	int64_t		qty;
	int64_t		price_bs;
	int64_t		price_usd;
	int		has_usd;
};

struct rec_sale {
	int			created, voided;
	struct crdt_stamp	create_st;	/* the creating event */
	uint32_t		nitems;
	struct rec_item		items[SCHEMA_ITEMS_MAX];
	int64_t			total_bs;
	struct rec_str		customer_id;
	int			on_credit;
	uint32_t		nedits;
	struct crdt_edit	*edits;		/* heap, rec_sale_reset */
	uint32_t		capedits;
	struct rec_str		note;
};

struct rec_cval {
	uint8_t		value[CRDT_VALUE_MAX];
	uint32_t	value_len;
	uint8_t		event_id[HASH_LEN];
	uint8_t		dev[ID_LEN];
	uint64_t	hlc;
	uint64_t	seq;
};

struct rec_conflict {
	char		type[24];
	char		entity_type[16];
	char		entity_id[EVENT_ENTITY_MAX + 1];
	char		field[24];
	uint32_t	nvalues;
	struct rec_cval	values[REC_VALUES_MAX];
	char		strategy[24];
	char		status[16];
	char		priority[16];
	uint8_t		res_value[CRDT_VALUE_MAX];
	uint32_t	res_value_len;
	char		resolved_by[REC_NAME_MAX + 1];
	uint64_t	resolved_at;		/* hlc; 0 while pending */
	uint8_t		resolved_event[HASH_LEN];
};

struct rec_totals {
	uint64_t	count;
	int64_t		total_bs;
	uint64_t	voided;
	int64_t		voided_bs;
};

struct rec_invite {
	char		role[IDENT_ROLE_MAX + 1];
	uint64_t	expires_ms;
	uint8_t		inviter[ID_LEN];
	int		used;
	uint8_t		used_by[ID_LEN];
};

void	rec_product_init(struct rec_product *);
int	rec_product_decode(const uint8_t *, size_t, struct rec_product *)
	    CAJA_WUR;
int	rec_product_encode(const struct rec_product *, struct buf *) CAJA_WUR;

void	rec_customer_init(struct rec_customer *);
int	rec_customer_decode(const uint8_t *, size_t, struct rec_customer *)
	    CAJA_WUR;
int	rec_customer_encode(const struct rec_customer *, struct buf *)
	    CAJA_WUR;

void	rec_sale_init(struct rec_sale *);
void	rec_sale_reset(struct rec_sale *);	/* frees edits */
int	rec_sale_decode(const uint8_t *, size_t, struct rec_sale *) CAJA_WUR;
int	rec_sale_encode(const struct rec_sale *, struct buf *) CAJA_WUR;
/* Room for one more edit. */
int	rec_sale_grow(struct rec_sale *) CAJA_WUR;

void	rec_conflict_init(struct rec_conflict *);
int	rec_conflict_decode(const uint8_t *, size_t, struct rec_conflict *)
	    CAJA_WUR;
int	rec_conflict_encode(const struct rec_conflict *, struct buf *)
	    CAJA_WUR;

int	rec_totals_decode(const uint8_t *, size_t, struct rec_totals *)
	    CAJA_WUR;
int	rec_totals_encode(const struct rec_totals *, struct buf *) CAJA_WUR;

int	rec_invite_decode(const uint8_t *, size_t, struct rec_invite *)
	    CAJA_WUR;
int	rec_invite_encode(const struct rec_invite *, struct buf *) CAJA_WUR;

/* Copies a bounded string (truncating) into a NUL-terminated array. */
void	rec_strlcpy(char *dst, size_t cap, const char *src, size_t len);

#endif
