/*
 * schema: the payload of each event type, between JSON (POS apps, cajactl)
 * and canonical msgpack (the event), and its typed, zero-copy view.
 *
 * Money is an int64 count of the currency's minor unit (centimos, cents).
 * In JSON it is a decimal string with at most two decimals ("5.50", "-3",
 * "12.5") or a JSON integer of whole units; JSON reals are refused (never
 * binary floating point). Money goes out as a string with two decimals.
 * Quantities (qty, delta) are integers. Text positions in NoteEdited ops
 * count Unicode code points. Unknown fields, missing required fields, wrong
 * types and out-of-range values are refused with a message naming the field.
 * Pure; any thread.
 */
#ifndef CAJA_SCHEMA_H
#define CAJA_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "proto/buf.h"
#include "proto/err.h"
#include "proto/event.h"
#include "proto/sig.h"

#define SCHEMA_ID_MAX		EVENT_ENTITY_MAX	/* entity ids */
#define SCHEMA_TEXT_MAX		1024	/* names, addresses, note text */
#define SCHEMA_ITEMS_MAX	128	/* items of one sale */
#define SCHEMA_OPS_MAX		64	/* ops of one NoteEdited */
#define SCHEMA_MONEY_MAX	INT64_C(100000000000000)	/* in minor units */
#define SCHEMA_QTY_MAX		INT64_C(1000000000)
#define SCHEMA_ERRMSG		160

/* Bits of struct payload.has */
#define PL_NAME		(1u << 0)
#define PL_BARCODE	(1u << 1)
#define PL_ACTIVE	(1u << 2)
#define PL_PRICE_BS	(1u << 3)
#define PL_PRICE_USD	(1u << 4)
#define PL_PHONE	(1u << 5)
#define PL_ADDRESS	(1u << 6)
#define PL_CUSTOMER	(1u << 7)
#define PL_ON_CREDIT	(1u << 8)

/* A string inside the payload bytes: not NUL-terminated. */
struct pl_str {
	const char	*p;
	uint32_t	 len;
};

struct pl_item {
	struct pl_str	product_id;
	int64_t		qty;
	int64_t		price_bs;	/* unit price, minor units */
	int64_t		price_usd;
	int		has_usd;
};

enum pl_op_type { PL_OP_INSERT = 1, PL_OP_DELETE };

struct pl_op {
	int		type;
	uint32_t	position;	/* code points */
	struct pl_str	text;		/* INSERT */
	uint32_t	length;		/* DELETE, code points */
};

/*
 * The typed view of a payload. Field names follow CONTRACT.md. id is the
 * entity id: product_id, sale_id, customer_id; for ConflictResolved the
 * entity_id of the conflicted entity; for identity events 32 hex digits
 * held in id_hex (DeviceEnrolled: id of device_pk; DeviceInvited: the
 * invite id, BLAKE2b-128(invite_pk); DeviceRevoked: device_id). The event's
 * entity must equal id. Payload field names of the agent-written types:
 *   DeviceEnrolled  {auth_sig bin64, device_pk bin32, invite_pk bin32
 *                    (joined) | store_name str + store_pk bin32 (genesis),
 *                    name str, role str}
 *   DeviceInvited   {expires_ms uint, invite_pk bin32, role str}
 *   DeviceRevoked   {device_id bin16, reason str, upto_seq uint}
 *   ConflictResolved {by str, conflict_id bin16, entity_id str,
 *                    entity_type str, field str, value int|str|bool}
 * A ConflictResolved value of a money field (name ending in _bs or _usd)
 * is an int of minor units. Large (about 9 KiB): keep it off small stacks
 * and don't copy it (id may point into id_hex).
 */
struct payload {
	int		type;
	uint32_t	has;
	struct pl_str	id;
	/* ProductUpdated, CustomerUpdated */
	struct pl_str	name, barcode, phone, address;
	int		active;
	/* PriceChanged */
	int64_t		price_bs, price_usd;
	/* StockReceived (qty), StockAdjusted (delta) */
	int64_t		qty, delta;
	/* SaleCreated */
	uint32_t	nitems;
	struct pl_item	items[SCHEMA_ITEMS_MAX];
	struct pl_str	customer_id;
	int		on_credit;
	int64_t		total_bs;	/* derived: sum qty * price_bs */
	/* DebtPaymentAdded */
	int64_t		amount_bs;
	/* NoteEdited */
	uint32_t	nops;
	struct pl_op	ops[SCHEMA_OPS_MAX];
	/* ConflictResolved: conflict id, the field, the chosen value as
	 * canonical msgpack (a money int, a string...), who chose */
	uint8_t		conflict_id[ID_LEN];
	struct pl_str	entity_type;	/* "product" ... */
	struct pl_str	field;
	const uint8_t	*value;
	uint32_t	value_len;
	struct pl_str	by;
	/* Identity events */
	uint8_t		device_pk[SIG_PK_LEN];	/* Enrolled */
	uint8_t		store_pk[SIG_PK_LEN];	/* Enrolled, genesis only */
	int		has_store_pk;
	uint8_t		invite_pk[SIG_PK_LEN];	/* Enrolled (joined), Invited */
	int		has_invite_pk;
	uint8_t		auth_sig[SIG_LEN];	/* Enrolled */
	struct pl_str	role;			/* Enrolled, Invited */
	struct pl_str	store_name;		/* Enrolled, genesis only */
	uint64_t	expires_ms;		/* Invited */
	uint8_t		target[ID_LEN];		/* Revoked: device id */
	uint64_t	upto_seq;		/* Revoked */
	struct pl_str	reason;			/* Revoked */
	char		id_hex[ID_HEX];		/* identity events: id text */
};

/*
 * JSON -> canonical msgpack payload for a user-writable type (not the
 * identity types). Appends to out, writes the entity id (NUL-terminated)
 * into entity. On error returns CAJA_EFIELD/CAJA_ETYPE/CAJA_ETOOBIG and a
 * one-line message naming the field in errmsg.
 */
int	schema_from_json(int type, const json_t *in, struct buf *out,
	    char entity[EVENT_ENTITY_MAX + 1], char errmsg[SCHEMA_ERRMSG])
	    CAJA_WUR;
/*
 * Payload bytes (any bytes: they are scanned first) -> typed view, pointing
 * into p. CAJA_ETYPE (type), CAJA_ETOOBIG, CAJA_EDECODE (not canonical
 * msgpack), CAJA_EFIELD (a field missing, unknown or out of range).
 */
int	schema_decode(int type, const uint8_t *p, size_t len,
	    struct payload *out) CAJA_WUR;
/*
 * schema_decode() of bytes known to be canonical msgpack already (the
 * payload of an event that event_decode() or event_encode() accepted):
 * skips the scan, checks every field rule. Never for other bytes.
 */
int	schema_decode_scanned(int type, const uint8_t *p, size_t len,
	    struct payload *out) CAJA_WUR;
/* Payload bytes -> JSON object (money as strings, bins as hex). */
int	schema_to_json(int type, const uint8_t *p, size_t len, json_t **out)
	    CAJA_WUR;
/*
 * Encoders for payloads the agent writes itself (identity events,
 * ConflictResolved; any type works): from a filled struct payload (type,
 * the fields, has bits / has_* flags for optional ones). The result is
 * checked with schema_decode(); on error nothing is appended.
 */
int	schema_encode(const struct payload *, struct buf *out) CAJA_WUR;

/*
 * Money <-> text. money_parse accepts "5", "5.5", "5.50", "-3.07" (digits,
 * at most two decimals, optional leading '-', nothing else): CAJA_EDECODE
 * when malformed, CAJA_ETOOBIG beyond SCHEMA_MONEY_MAX.
 */
int	schema_money_parse(const char *, int64_t *) CAJA_WUR;
/* Writes "-3.07" etc. into out (>= 24 bytes). */
void	schema_money_format(int64_t, char out[24]);
/* A JSON value -> canonical msgpack (ConflictResolved values): strings,
 * integers, booleans, money strings when money is set. */
int	schema_value_from_json(const json_t *, int money, struct buf *out,
	    char errmsg[SCHEMA_ERRMSG]) CAJA_WUR;
int	schema_value_to_json(const uint8_t *, size_t, int money, json_t **)
	    CAJA_WUR;

#endif
