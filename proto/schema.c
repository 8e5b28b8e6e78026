/*
 * schema: event payloads between JSON, canonical msgpack and struct payload.
 *
 * Table-driven: each event type has a table of fields sorted by name (the
 * canonical key order), each field a kind (how it is typed and bounded), a
 * presence rule (required, a PL_* bit, a has_* flag, or by op type) and
 * where it lives in struct payload (or struct pl_item, struct pl_op). Four
 * walkers use the tables: JSON -> msgpack, msgpack -> struct (decode, the
 * one place that enforces every rule), struct -> msgpack, struct -> JSON.
 * JSON input is encoded and then decoded, so both paths obey one set of
 * rules; the JSON side only adds messages about JSON types (reals, etc).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/codec.h"
#include "proto/ident.h"
#include "proto/ids.h"
#include "proto/schema.h"

enum kind {
	K_ID = 1,	/* str, 1..SCHEMA_ID_MAX bytes, no control chars */
	K_TEXT,		/* str, 0..SCHEMA_TEXT_MAX bytes, no NUL */
	K_NAME,		/* str, 0..IDENT_NAME_MAX bytes, no control char */
	K_ROLE,		/* str, ident_role_is_valid() */
	K_BOOL,
	K_PRICE,	/* money, 0..SCHEMA_MONEY_MAX */
	K_AMOUNT,	/* money, 1..SCHEMA_MONEY_MAX */
	K_QTY,		/* int, 1..SCHEMA_QTY_MAX */
	K_DELTA,	/* int, non-zero, |x| <= SCHEMA_QTY_MAX */
	K_UINT,		/* uint, 0..INT64_MAX (JSON-representable) */
	K_POS,		/* uint32, 0..INT32_MAX */
	K_LEN,		/* uint32, 1..INT32_MAX */
	K_OPTYPE,	/* "INSERT" | "DELETE" -> enum pl_op_type */
	K_BIN16,
	K_BIN32,
	K_BIN64,
	K_ITEMS,	/* pl->items, pl->nitems */
	K_OPS,		/* pl->ops, pl->nops */
	K_VALUE		/* pl->value, pl->value_len: int | str | bool */
};

enum pres {
	P_REQ,		/* required */
	P_BIT,		/* optional, PL_* bit in payload.has */
	P_FLAG,		/* optional, int at flag_off set to 1 */
	P_INSERT,	/* op field, present iff op type INSERT */
	P_DELETE	/* op field, present iff op type DELETE */
};

struct fdef {
	const char	*name;
	uint8_t		 kind;
	uint8_t		 pres;
	uint32_t	 bit;
	size_t		 off;
	size_t		 flag_off;
};

#define PO(f)		offsetof(struct payload, f)
#define REQ(n, k, f)	{ n, k, P_REQ, 0, PO(f), 0 }
#define OPT(n, k, f, b)	{ n, k, P_BIT, b, PO(f), 0 }
#define FLG(n, k, f, g)	{ n, k, P_FLAG, 0, PO(f), PO(g) }

static const struct fdef f_product[] = {
	OPT("active", K_BOOL, active, PL_ACTIVE),
	OPT("barcode", K_TEXT, barcode, PL_BARCODE),
	OPT("name", K_TEXT, name, PL_NAME),
	REQ("product_id", K_ID, id),
};
static const struct fdef f_price[] = {
	OPT("price_bs", K_PRICE, price_bs, PL_PRICE_BS),
	OPT("price_usd", K_PRICE, price_usd, PL_PRICE_USD),
	REQ("product_id", K_ID, id),
};
static const struct fdef f_received[] = {
	REQ("product_id", K_ID, id),
	REQ("qty", K_QTY, qty),
};
static const struct fdef f_adjusted[] = {
	REQ("delta", K_DELTA, delta),
	REQ("product_id", K_ID, id),
};
static const struct fdef f_sale[] = {
	OPT("customer_id", K_ID, customer_id, PL_CUSTOMER),
	REQ("items", K_ITEMS, items),
	OPT("on_credit", K_BOOL, on_credit, PL_ON_CREDIT),
	REQ("sale_id", K_ID, id),
};
static const struct fdef f_voided[] = {
	REQ("sale_id", K_ID, id),
};
static const struct fdef f_customer[] = {
	OPT("address", K_TEXT, address, PL_ADDRESS),
	REQ("customer_id", K_ID, id),
	OPT("name", K_TEXT, name, PL_NAME),
	OPT("phone", K_TEXT, phone, PL_PHONE),
};
static const struct fdef f_payment[] = {
	REQ("amount_bs", K_AMOUNT, amount_bs),
	REQ("customer_id", K_ID, id),
};
static const struct fdef f_note[] = {
	REQ("ops", K_OPS, ops),
	REQ("sale_id", K_ID, id),
};
static const struct fdef f_resolved[] = {
	REQ("by", K_NAME, by),
	REQ("conflict_id", K_BIN16, conflict_id),
	REQ("entity_id", K_ID, id),
	REQ("entity_type", K_ID, entity_type),
	REQ("field", K_ID, field),
	REQ("value", K_VALUE, value),
};
static const struct fdef f_enrolled[] = {
	REQ("auth_sig", K_BIN64, auth_sig),
	REQ("device_pk", K_BIN32, device_pk),
	FLG("invite_pk", K_BIN32, invite_pk, has_invite_pk),
	REQ("name", K_NAME, name),
	REQ("role", K_ROLE, role),
	FLG("store_name", K_NAME, store_name, has_store_pk),
	FLG("store_pk", K_BIN32, store_pk, has_store_pk),
};
static const struct fdef f_invited[] = {
	REQ("expires_ms", K_UINT, expires_ms),
	REQ("invite_pk", K_BIN32, invite_pk),
	REQ("role", K_ROLE, role),
};
static const struct fdef f_revoked[] = {
	REQ("device_id", K_BIN16, target),
	REQ("reason", K_TEXT, reason),
	REQ("upto_seq", K_UINT, upto_seq),
};

#define IO(f)	offsetof(struct pl_item, f)
static const struct fdef f_item[] = {
	{ "price_bs", K_PRICE, P_REQ, 0, IO(price_bs), 0 },
	{ "price_usd", K_PRICE, P_FLAG, 0, IO(price_usd), IO(has_usd) },
	{ "product_id", K_ID, P_REQ, 0, IO(product_id), 0 },
	{ "qty", K_QTY, P_REQ, 0, IO(qty), 0 },
};
#define OO(f)	offsetof(struct pl_op, f)
static const struct fdef f_op[] = {
	{ "length", K_LEN, P_DELETE, 0, OO(length), 0 },
	{ "position", K_POS, P_REQ, 0, OO(position), 0 },
	{ "text", K_TEXT, P_INSERT, 0, OO(text), 0 },
	{ "type", K_OPTYPE, P_REQ, 0, OO(type), 0 },
};

struct tdef {
	const struct fdef	*f;
	size_t			 n;
	uint32_t		 anyof;	/* at least one of these bits */
	const char		*anyof_text;
	int			 user;	/* may come from user JSON */
};

#define T(tab, any, text, user)	\
	{ tab, sizeof(tab) / sizeof(tab[0]), any, text, user }

static const struct tdef types[EV_TYPE_MAX] = {
	[EV_DEVICE_ENROLLED] = T(f_enrolled, 0, NULL, 0),
	[EV_DEVICE_INVITED] = T(f_invited, 0, NULL, 0),
	[EV_DEVICE_REVOKED] = T(f_revoked, 0, NULL, 0),
	[EV_PRODUCT_UPDATED] = T(f_product, PL_NAME | PL_BARCODE | PL_ACTIVE,
	    "name, barcode, active", 1),
	[EV_PRICE_CHANGED] = T(f_price, PL_PRICE_BS | PL_PRICE_USD,
	    "price_bs, price_usd", 1),
	[EV_STOCK_RECEIVED] = T(f_received, 0, NULL, 1),
	[EV_STOCK_ADJUSTED] = T(f_adjusted, 0, NULL, 1),
	[EV_SALE_CREATED] = T(f_sale, 0, NULL, 1),
	[EV_SALE_VOIDED] = T(f_voided, 0, NULL, 1),
	[EV_CUSTOMER_UPDATED] = T(f_customer, PL_NAME | PL_PHONE | PL_ADDRESS,
	    "name, phone, address", 1),
	[EV_DEBT_PAYMENT_ADDED] = T(f_payment, 0, NULL, 1),
	[EV_NOTE_EDITED] = T(f_note, 0, NULL, 1),
	[EV_CONFLICT_RESOLVED] = T(f_resolved, 0, NULL, 0),
};

#define NFIELDS(tab)	(sizeof(tab) / sizeof(tab[0]))

/* Error messages: the first one wins. */
struct ectx {
	char	*msg;		/* SCHEMA_ERRMSG bytes, or NULL */
};

static int efail(struct ectx *, int, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static int
efail(struct ectx *e, int rc, const char *fmt, ...)
{
	va_list	ap;

	if (e != NULL && e->msg != NULL && e->msg[0] == '\0') {
		va_start(ap, fmt);
		(void)vsnprintf(e->msg, SCHEMA_ERRMSG, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static const struct tdef *
tdef_of(int type)
{
	if (type <= EV_NONE || type >= EV_TYPE_MAX)
		return NULL;
	return &types[type];
}

static int
is_money_field(const char *s, size_t len)
{
	return (len > 3 && memcmp(s + len - 3, "_bs", 3) == 0) ||
	    (len > 4 && memcmp(s + len - 4, "_usd", 4) == 0);
}

static int
has_ctl(const char *s, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 1;
	return 0;
}

/* Checks a string of a str kind; 0 or a message (static). */
static const char *
str_problem(int kind, const char *s, size_t len)
{
	if (!codec_is_utf8((const uint8_t *)s, len))
		return "must be valid UTF-8";
	switch (kind) {
	case K_ID:
		if (len == 0 || len > SCHEMA_ID_MAX)
			return "must be 1 to 64 bytes";
		if (has_ctl(s, len))
			return "must not contain control characters";
		break;
	case K_TEXT:
		if (len > SCHEMA_TEXT_MAX)
			return "too long (at most 1024 bytes)";
		if (memchr(s, '\0', len) != NULL)
			return "must not contain NUL";
		break;
	case K_NAME:
		if (len > IDENT_NAME_MAX)
			return "too long (at most 64 bytes)";
		if (has_ctl(s, len))
			return "must not contain control characters";
		break;
	case K_ROLE:
		if (!ident_role_is_valid(s, len))
			return "must be admin, register or cloud";
		break;
	default:
		return "is not a string field";
	}
	return NULL;
}

static int
is_str_kind(int kind)
{
	return kind == K_ID || kind == K_TEXT || kind == K_NAME ||
	    kind == K_ROLE;
}

static size_t
bin_len(int kind)
{
	switch (kind) {
	case K_BIN16:
		return 16;
	case K_BIN32:
		return 32;
	default:
		return 64;
	}
}

/* Range of an integer kind; 0 or a message. */
static const char *
int_problem(int kind, int64_t v)
{
	switch (kind) {
	case K_PRICE:
		if (v < 0)
			return "must not be negative";
		if (v > SCHEMA_MONEY_MAX)
			return "too large";
		break;
	case K_AMOUNT:
		if (v <= 0)
			return "must be > 0";
		if (v > SCHEMA_MONEY_MAX)
			return "too large";
		break;
	case K_QTY:
		if (v <= 0)
			return "must be > 0";
		if (v > SCHEMA_QTY_MAX)
			return "too large";
		break;
	case K_DELTA:
		if (v == 0)
			return "must not be 0";
		if (v > SCHEMA_QTY_MAX || v < -SCHEMA_QTY_MAX)
			return "too large";
		break;
	case K_UINT:
		if (v < 0)
			return "must not be negative";
		break;
	case K_POS:
		if (v < 0)
			return "must not be negative";
		if (v > INT32_MAX)
			return "too large";
		break;
	case K_LEN:
		if (v <= 0)
			return "must be > 0";
		if (v > INT32_MAX)
			return "too large";
		break;
	}
	return NULL;
}

static int
is_money_kind(int kind)
{
	return kind == K_PRICE || kind == K_AMOUNT;
}

static int
is_int_kind(int kind)
{
	return is_money_kind(kind) || kind == K_QTY || kind == K_DELTA ||
	    kind == K_UINT || kind == K_POS || kind == K_LEN;
}

/* Stores an integer of an int kind at p. */
static void
int_store(int kind, void *p, int64_t v)
{
	switch (kind) {
	case K_UINT:
		*(uint64_t *)p = (uint64_t)v;
		break;
	case K_POS:
	case K_LEN:
		*(uint32_t *)p = (uint32_t)v;
		break;
	default:
		*(int64_t *)p = v;
		break;
	}
}

static int64_t
int_load(int kind, const void *p)
{
	switch (kind) {
	case K_UINT:
		return (int64_t)*(const uint64_t *)p;
	case K_POS:
	case K_LEN:
		return (int64_t)*(const uint32_t *)p;
	default:
		return *(const int64_t *)p;
	}
}

static int
is_present(const struct fdef *f, const void *base, const struct payload *pl)
{
	switch (f->pres) {
	case P_REQ:
		return 1;
	case P_BIT:
		return (pl->has & f->bit) != 0;
	case P_FLAG:
		return *(const int *)((const char *)base + f->flag_off) != 0;
	case P_INSERT:
		return ((const struct pl_op *)base)->type == PL_OP_INSERT;
	case P_DELETE:
		return ((const struct pl_op *)base)->type == PL_OP_DELETE;
	}
	return 0;
}

/*
 * msgpack -> struct
 */

/* A ConflictResolved value: one int, str or bool. */
static int
value_check(const uint8_t *p, size_t len, int money, struct ectx *e)
{
	struct codec_rd	 rd;
	const char	*s;
	int64_t		 v;
	uint32_t	 slen;
	int		 b;

	if (codec_scan_flags(p, len, CODEC_CANONICAL, NULL) != 0)
		return efail(e, CAJA_EFIELD, "value: malformed");
	codec_rd_init(&rd, p, len);
	switch (codec_peek(&rd)) {
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		if (codec_read_int(&rd, &v) != 0)
			return efail(e, CAJA_EFIELD, "value: out of range");
		if (money && (v > SCHEMA_MONEY_MAX || v < -SCHEMA_MONEY_MAX))
			return efail(e, CAJA_EFIELD, "value: too large");
		break;
	case MSGPACK_OBJECT_STR:
		if (money)
			return efail(e, CAJA_EFIELD,
			    "value: money must be an integer of minor units");
		if (codec_read_str(&rd, &s, &slen) != 0 ||
		    str_problem(K_TEXT, s, slen) != NULL)
			return efail(e, CAJA_EFIELD, "value: bad text");
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		if (money || codec_read_bool(&rd, &b) != 0)
			return efail(e, CAJA_EFIELD,
			    "value: money must be an integer of minor units");
		break;
	default:
		return efail(e, CAJA_EFIELD,
		    "value: must be an integer, string or boolean");
	}
	return 0;
}

/* "items[3]." into pre (32 bytes): by hand, it runs for every item. */
static void
elem_prefix(char pre[32], const char *name, uint32_t i)
{
	char	digits[10];
	size_t	n = strlen(name), k = 0;

	memcpy(pre, name, n);
	pre[n++] = '[';
	do {
		digits[k++] = (char)('0' + i % 10);
		i /= 10;
	} while (i > 0);
	while (k > 0)
		pre[n++] = digits[--k];
	pre[n++] = ']';
	pre[n++] = '.';
	pre[n] = '\0';
}

static int obj_decode(const struct fdef *, size_t, struct codec_rd *,
    void *, struct payload *, const char *, uint32_t *, struct ectx *);

static int
items_decode(struct codec_rd *rd, struct payload *pl, struct ectx *e)
{
	struct pl_item	*it;
	char		 pre[32];
	uint32_t	 n, i, present;
	int64_t		 line, total = 0;
	int		 rc;

	if (codec_read_array(rd, &n) != 0)
		return efail(e, CAJA_EFIELD, "items: must be an array");
	if (n == 0 || n > SCHEMA_ITEMS_MAX)
		return efail(e, CAJA_EFIELD, "items: must have 1 to %d items",
		    SCHEMA_ITEMS_MAX);
	for (i = 0; i < n; i++) {
		it = &pl->items[i];
		memset(it, 0, sizeof(*it));
		elem_prefix(pre, "items", i);
		if ((rc = obj_decode(f_item, NFIELDS(f_item), rd, it, pl, pre,
		    &present, e)) != 0)
			return rc;
		if (__builtin_mul_overflow(it->qty, it->price_bs, &line) ||
		    __builtin_add_overflow(total, line, &total) ||
		    total > SCHEMA_MONEY_MAX)
			return efail(e, CAJA_EFIELD, "items: total too large");
	}
	pl->nitems = n;
	pl->total_bs = total;
	return 0;
}

static int
ops_decode(struct codec_rd *rd, struct payload *pl, struct ectx *e)
{
	struct pl_op	*op;
	char		 pre[32];
	uint32_t	 n, i, present;
	int		 rc;

	if (codec_read_array(rd, &n) != 0)
		return efail(e, CAJA_EFIELD, "ops: must be an array");
	if (n == 0 || n > SCHEMA_OPS_MAX)
		return efail(e, CAJA_EFIELD, "ops: must have 1 to %d ops",
		    SCHEMA_OPS_MAX);
	for (i = 0; i < n; i++) {
		op = &pl->ops[i];
		memset(op, 0, sizeof(*op));
		elem_prefix(pre, "ops", i);
		if ((rc = obj_decode(f_op, NFIELDS(f_op), rd, op, pl, pre,
		    &present, e)) != 0)
			return rc;
		/* f_op: 0 length, 2 text */
		if (op->type == PL_OP_INSERT) {
			if (!(present & (1u << 2)))
				return efail(e, CAJA_EFIELD,
				    "%stext: missing", pre);
			if (op->text.len == 0)
				return efail(e, CAJA_EFIELD,
				    "%stext: must not be empty", pre);
			if (present & (1u << 0))
				return efail(e, CAJA_EFIELD,
				    "%slength: not allowed in INSERT", pre);
		} else {
			if (!(present & (1u << 0)))
				return efail(e, CAJA_EFIELD,
				    "%slength: missing", pre);
			if (present & (1u << 2))
				return efail(e, CAJA_EFIELD,
				    "%stext: not allowed in DELETE", pre);
		}
	}
	pl->nops = n;
	return 0;
}

static int
field_decode(const struct fdef *f, struct codec_rd *rd, void *base,
    struct payload *pl, const char *pre, struct ectx *e)
{
	char		*at = (char *)base + f->off;
	struct pl_str	*ps;
	const char	*s, *why;
	const uint8_t	*start;
	uint32_t	 slen;
	uint64_t	 u;
	int64_t		 v;
	int		 b;

	if (is_str_kind(f->kind)) {
		if (codec_read_str(rd, &s, &slen) != 0)
			return efail(e, CAJA_EFIELD, "%s%s: must be a string",
			    pre, f->name);
		if ((why = str_problem(f->kind, s, slen)) != NULL)
			return efail(e, CAJA_EFIELD, "%s%s: %s", pre, f->name,
			    why);
		ps = (struct pl_str *)(void *)at;
		ps->p = s;
		ps->len = slen;
		return 0;
	}
	if (is_int_kind(f->kind)) {
		if (f->kind == K_UINT || f->kind == K_POS || f->kind == K_LEN) {
			if (codec_read_uint(rd, &u) != 0)
				return efail(e, CAJA_EFIELD,
				    "%s%s: must be an unsigned integer", pre,
				    f->name);
			if (u > INT64_MAX)
				return efail(e, CAJA_EFIELD, "%s%s: too large",
				    pre, f->name);
			v = (int64_t)u;
		} else if (codec_read_int(rd, &v) != 0)
			return efail(e, CAJA_EFIELD, "%s%s: must be an integer",
			    pre, f->name);
		if ((why = int_problem(f->kind, v)) != NULL)
			return efail(e, CAJA_EFIELD, "%s%s: %s", pre, f->name,
			    why);
		int_store(f->kind, at, v);
		return 0;
	}
	switch (f->kind) {
	case K_BOOL:
		if (codec_read_bool(rd, &b) != 0)
			return efail(e, CAJA_EFIELD, "%s%s: must be a boolean",
			    pre, f->name);
		*(int *)(void *)at = b;
		return 0;
	case K_OPTYPE:
		if (codec_read_str(rd, &s, &slen) != 0)
			goto optype;
		if (slen == 6 && memcmp(s, "INSERT", 6) == 0)
			*(int *)(void *)at = PL_OP_INSERT;
		else if (slen == 6 && memcmp(s, "DELETE", 6) == 0)
			*(int *)(void *)at = PL_OP_DELETE;
		else
			goto optype;
		return 0;
	case K_BIN16:
	case K_BIN32:
	case K_BIN64:
		if (codec_read_fixbin(rd, (uint8_t *)at, bin_len(f->kind)) != 0)
			return efail(e, CAJA_EFIELD,
			    "%s%s: must be %zu bytes", pre, f->name,
			    bin_len(f->kind));
		return 0;
	case K_ITEMS:
		return items_decode(rd, pl, e);
	case K_OPS:
		return ops_decode(rd, pl, e);
	case K_VALUE:
		start = rd->p;
		if (codec_skip(rd) != 0)
			return efail(e, CAJA_EFIELD, "value: malformed");
		pl->value = start;
		pl->value_len = (uint32_t)(rd->p - start);
		return 0;
	}
	return efail(e, CAJA_EFIELD, "%s%s: unsupported", pre, f->name);
optype:
	return efail(e, CAJA_EFIELD, "%s%s: must be \"INSERT\" or \"DELETE\"",
	    pre, f->name);
}

static int
obj_decode(const struct fdef *t, size_t nt, struct codec_rd *rd, void *base,
    struct payload *pl, const char *pre, uint32_t *present, struct ectx *e)
{
	const char	*key;
	uint32_t	 n, i, klen;
	size_t		 k;
	int		 rc;

	*present = 0;
	if (codec_read_map(rd, &n) != 0)
		return efail(e, CAJA_EFIELD, "%s: must be a map",
		    pre[0] ? pre : "payload");
	for (i = 0; i < n; i++) {
		if (codec_read_str(rd, &key, &klen) != 0)
			return efail(e, CAJA_EFIELD, "%skeys must be strings",
			    pre);
		for (k = 0; k < nt; k++)
			if (klen > 0 && t[k].name[0] == key[0] &&
			    strlen(t[k].name) == klen &&
			    memcmp(t[k].name, key, klen) == 0)
				break;
		if (k == nt)
			return efail(e, CAJA_EFIELD, "unknown field '%s%.*s'",
			    pre, (int)(klen > 64 ? 64 : klen), key);
		if (*present & (1u << k))
			return efail(e, CAJA_EFIELD, "%s%s: duplicate", pre,
			    t[k].name);
		if ((rc = field_decode(&t[k], rd, base, pl, pre, e)) != 0)
			return rc;
		*present |= 1u << k;
		if (t[k].pres == P_BIT)
			pl->has |= t[k].bit;
		else if (t[k].pres == P_FLAG)
			*(int *)(void *)((char *)base + t[k].flag_off) = 1;
	}
	for (k = 0; k < nt; k++)
		if (t[k].pres == P_REQ && !(*present & (1u << k)))
			return efail(e, CAJA_EFIELD, "%s%s: missing", pre,
			    t[k].name);
	return 0;
}

static void
set_id_hex(struct payload *pl, const uint8_t id[ID_LEN])
{
	ids_hex(pl->id_hex, id, ID_LEN);
	pl->id.p = pl->id_hex;
	pl->id.len = ID_LEN * 2;
}

static int
decode_scan(int type, const uint8_t *p, size_t len, struct payload *pl,
    struct ectx *e, int scan)
{
	const struct tdef	*td;
	struct codec_rd		 rd;
	uint8_t			 id[ID_LEN];
	uint32_t		 present;
	int			 rc;

	/*
	 * Not the whole struct (about 9 KiB, mostly items[] and ops[]): those
	 * are cleared one by one as they are decoded, and nothing reads past
	 * nitems or nops.
	 */
	memset(pl, 0, offsetof(struct payload, items));
	memset(&pl->customer_id, 0, offsetof(struct payload, ops) -
	    offsetof(struct payload, customer_id));
	memset(pl->conflict_id, 0, sizeof(*pl) -
	    offsetof(struct payload, conflict_id));
	pl->type = type;
	if ((td = tdef_of(type)) == NULL)
		return efail(e, CAJA_ETYPE, "unknown event type %d", type);
	if (p == NULL || len == 0)
		return efail(e, CAJA_EDECODE, "payload: empty");
	if (len > EVENT_PAYLOAD_MAX)
		return efail(e, CAJA_ETOOBIG, "payload: too big (at most %d "
		    "bytes)", EVENT_PAYLOAD_MAX);
	if (scan && (rc = codec_scan_flags(p, len, CODEC_CANONICAL, NULL)) != 0)
		return efail(e, rc == CAJA_ETOOBIG ? rc : CAJA_EDECODE,
		    "payload: not canonical msgpack");
	codec_rd_init(&rd, p, len);
	if ((rc = obj_decode(td->f, td->n, &rd, pl, pl, "", &present, e)) != 0)
		return rc;
	if (rd.p != rd.end)
		return efail(e, CAJA_EDECODE, "payload: trailing bytes");
	if (td->anyof != 0 && (pl->has & td->anyof) == 0)
		return efail(e, CAJA_EFIELD, "payload: needs one of %s",
		    td->anyof_text);
	switch (type) {
	case EV_SALE_CREATED:
		if (pl->on_credit && !(pl->has & PL_CUSTOMER))
			return efail(e, CAJA_EFIELD,
			    "on_credit: needs customer_id");
		break;
	case EV_CONFLICT_RESOLVED:
		if ((rc = value_check(pl->value, pl->value_len,
		    is_money_field(pl->field.p, pl->field.len), e)) != 0)
			return rc;
		break;
	case EV_DEVICE_ENROLLED:
		/* f_enrolled: 2 invite_pk, 5 store_name, 6 store_pk */
		if (!!(present & (1u << 2)) == !!(present & (1u << 6)))
			return efail(e, CAJA_EFIELD,
			    "store_pk: needs exactly one of store_pk and "
			    "invite_pk");
		if (!!(present & (1u << 5)) != !!(present & (1u << 6)))
			return efail(e, CAJA_EFIELD,
			    "store_name: goes with store_pk");
		sig_id_of_pk(id, pl->device_pk);
		set_id_hex(pl, id);
		break;
	case EV_DEVICE_INVITED:
		pl->has_invite_pk = 1;
		sig_id_of_pk(id, pl->invite_pk);
		set_id_hex(pl, id);
		break;
	case EV_DEVICE_REVOKED:
		set_id_hex(pl, pl->target);
		break;
	}
	return 0;
}

static int
decode_internal(int type, const uint8_t *p, size_t len, struct payload *pl,
    struct ectx *e)
{
	return decode_scan(type, p, len, pl, e, 1);
}

int
schema_decode(int type, const uint8_t *p, size_t len, struct payload *out)
{
	return decode_internal(type, p, len, out, NULL);
}

int
schema_decode_scanned(int type, const uint8_t *p, size_t len,
    struct payload *out)
{
	return decode_scan(type, p, len, out, NULL, 0);
}

/*
 * struct -> msgpack
 */

static void obj_encode(const struct fdef *, size_t, const void *,
    const struct payload *, struct codec_wr *);

static void
field_encode(const struct fdef *f, const void *base, const struct payload *pl,
    struct codec_wr *w)
{
	const char		*at = (const char *)base + f->off;
	const struct pl_str	*ps;
	uint32_t		 i;
	int			 t;

	if (is_str_kind(f->kind)) {
		ps = (const struct pl_str *)(const void *)at;
		codec_write_str(w, ps->p, ps->len);
		return;
	}
	if (is_int_kind(f->kind)) {
		codec_write_int(w, int_load(f->kind, at));
		return;
	}
	switch (f->kind) {
	case K_BOOL:
		codec_write_bool(w, *(const int *)(const void *)at);
		break;
	case K_OPTYPE:
		t = *(const int *)(const void *)at;
		codec_write_cstr(w, t == PL_OP_INSERT ? "INSERT" :
		    t == PL_OP_DELETE ? "DELETE" : "");
		break;
	case K_BIN16:
	case K_BIN32:
	case K_BIN64:
		codec_write_bin(w, at, bin_len(f->kind));
		break;
	case K_ITEMS:
		codec_write_array(w, pl->nitems);
		for (i = 0; i < pl->nitems && i < SCHEMA_ITEMS_MAX; i++)
			obj_encode(f_item, NFIELDS(f_item), &pl->items[i], pl,
			    w);
		break;
	case K_OPS:
		codec_write_array(w, pl->nops);
		for (i = 0; i < pl->nops && i < SCHEMA_OPS_MAX; i++)
			obj_encode(f_op, NFIELDS(f_op), &pl->ops[i], pl, w);
		break;
	case K_VALUE:
		if (pl->value == NULL || pl->value_len == 0)
			codec_write_nil(w);	/* refused by the check */
		else
			codec_write_raw(w, pl->value, pl->value_len);
		break;
	}
}

static void
obj_encode(const struct fdef *t, size_t nt, const void *base,
    const struct payload *pl, struct codec_wr *w)
{
	uint32_t	n = 0;
	size_t		k;

	for (k = 0; k < nt; k++)
		if (is_present(&t[k], base, pl))
			n++;
	codec_write_map(w, n);
	for (k = 0; k < nt; k++) {
		if (!is_present(&t[k], base, pl))
			continue;
		codec_write_cstr(w, t[k].name);
		field_encode(&t[k], base, pl, w);
	}
}

/* Checks out[start..] with decode_internal; rolls back on error. */
static int
check_appended(int type, struct buf *out, size_t start, struct ectx *e)
{
	struct payload	*tmp;
	int		 rc;

	if (out->len - start > EVENT_PAYLOAD_MAX) {
		rc = efail(e, CAJA_ETOOBIG, "payload: too big (at most %d "
		    "bytes)", EVENT_PAYLOAD_MAX);
		goto fail;
	}
	if ((tmp = malloc(sizeof(*tmp))) == NULL) {
		rc = CAJA_ENOMEM;
		goto fail;
	}
	rc = decode_internal(type, out->p + start, out->len - start, tmp, e);
	free(tmp);
	if (rc != 0)
		goto fail;
	return 0;
fail:
	out->len = start;
	return rc;
}

int
schema_encode(const struct payload *pl, struct buf *out)
{
	const struct tdef	*td;
	struct codec_wr		 w;
	size_t			 start = out->len;
	int			 rc;

	if ((td = tdef_of(pl->type)) == NULL)
		return CAJA_ETYPE;
	if (pl->nitems > SCHEMA_ITEMS_MAX || pl->nops > SCHEMA_OPS_MAX)
		return CAJA_EFIELD;
	codec_wr_init(&w, out);
	obj_encode(td->f, td->n, pl, pl, &w);
	if ((rc = codec_wr_error(&w)) != 0) {
		out->len = start;
		return rc;
	}
	return check_appended(pl->type, out, start, NULL);
}

/*
 * JSON -> msgpack
 */

static int obj_from_json(const struct fdef *, size_t, const json_t *,
    const char *, struct codec_wr *, struct ectx *);

static int
money_from_json(const json_t *v, int64_t *out, const char *pre,
    const char *name, struct ectx *e)
{
	json_int_t	i;
	int		rc;

	if (json_is_string(v)) {
		if ((rc = schema_money_parse(json_string_value(v), out)) == 0)
			return 0;
		if (rc == CAJA_ETOOBIG)
			return efail(e, CAJA_EFIELD, "%s%s: too large", pre,
			    name);
	} else if (json_is_integer(v)) {
		i = json_integer_value(v);
		if (i > SCHEMA_MONEY_MAX / 100 || i < -SCHEMA_MONEY_MAX / 100)
			return efail(e, CAJA_EFIELD, "%s%s: too large", pre,
			    name);
		*out = (int64_t)i * 100;
		return 0;
	}
	return efail(e, CAJA_EFIELD,
	    "%s%s: money must be a decimal string like \"5.50\"", pre, name);
}

static int
field_from_json(const struct fdef *f, const json_t *v, const json_t *obj,
    const char *pre, struct codec_wr *w, struct ectx *e)
{
	const struct fdef	*sub;
	const json_t		*el, *fld;
	const char		*s, *why;
	char			 p2[32];
	uint8_t			 bin[SIG_LEN];
	size_t			 len, i, nsub;
	int64_t			 iv;
	int			 rc, money;

	if (is_str_kind(f->kind)) {
		if (!json_is_string(v))
			return efail(e, CAJA_EFIELD, "%s%s: must be a string",
			    pre, f->name);
		s = json_string_value(v);
		len = json_string_length(v);
		if ((why = str_problem(f->kind, s, len)) != NULL)
			return efail(e, CAJA_EFIELD, "%s%s: %s", pre, f->name,
			    why);
		codec_write_str(w, s, len);
		return 0;
	}
	if (is_money_kind(f->kind)) {
		if ((rc = money_from_json(v, &iv, pre, f->name, e)) != 0)
			return rc;
		goto range;
	}
	if (is_int_kind(f->kind)) {
		if (!json_is_integer(v))
			return efail(e, CAJA_EFIELD, "%s%s: must be an integer",
			    pre, f->name);
		iv = json_integer_value(v);
		goto range;
	}
	switch (f->kind) {
	case K_BOOL:
		if (!json_is_boolean(v))
			return efail(e, CAJA_EFIELD, "%s%s: must be true or "
			    "false", pre, f->name);
		codec_write_bool(w, json_is_true(v));
		return 0;
	case K_OPTYPE:
		s = json_is_string(v) ? json_string_value(v) : "";
		if (strcmp(s, "INSERT") != 0 && strcmp(s, "DELETE") != 0)
			return efail(e, CAJA_EFIELD,
			    "%s%s: must be \"INSERT\" or \"DELETE\"", pre,
			    f->name);
		codec_write_cstr(w, s);
		return 0;
	case K_BIN16:
	case K_BIN32:
	case K_BIN64:
		len = bin_len(f->kind);
		if (!json_is_string(v) || json_string_length(v) != 2 * len ||
		    ids_unhex(bin, len, json_string_value(v)) != 0)
			return efail(e, CAJA_EFIELD, "%s%s: must be %zu hex "
			    "digits", pre, f->name, 2 * len);
		codec_write_bin(w, bin, len);
		return 0;
	case K_ITEMS:
	case K_OPS:
		sub = f->kind == K_ITEMS ? f_item : f_op;
		nsub = f->kind == K_ITEMS ? NFIELDS(f_item) : NFIELDS(f_op);
		len = f->kind == K_ITEMS ? SCHEMA_ITEMS_MAX : SCHEMA_OPS_MAX;
		if (!json_is_array(v))
			return efail(e, CAJA_EFIELD, "%s: must be an array",
			    f->name);
		if (json_array_size(v) == 0 || json_array_size(v) > len)
			return efail(e, CAJA_EFIELD, "%s: must have 1 to %zu "
			    "entries", f->name, len);
		codec_write_array(w, (uint32_t)json_array_size(v));
		json_array_foreach(v, i, el) {
			(void)snprintf(p2, sizeof(p2), "%s[%zu].", f->name, i);
			if ((rc = obj_from_json(sub, nsub, el, p2, w, e)) != 0)
				return rc;
		}
		return 0;
	case K_VALUE:
		fld = json_object_get(obj, "field");
		money = json_is_string(fld) &&
		    is_money_field(json_string_value(fld),
		    json_string_length(fld));
		return schema_value_from_json(v, money, w->out,
		    e != NULL ? e->msg : NULL);
	}
	return efail(e, CAJA_EFIELD, "%s%s: unsupported", pre, f->name);
range:
	if ((why = int_problem(f->kind, iv)) != NULL)
		return efail(e, CAJA_EFIELD, "%s%s: %s", pre, f->name, why);
	codec_write_int(w, iv);
	return 0;
}

static int
obj_from_json(const struct fdef *t, size_t nt, const json_t *o,
    const char *pre, struct codec_wr *w, struct ectx *e)
{
	const char	*key;
	const json_t	*v;
	size_t		 k;
	int		 rc;

	if (!json_is_object(o))
		return efail(e, CAJA_EFIELD, "%s: must be a JSON object",
		    pre[0] ? pre : "payload");
	json_object_foreach((json_t *)o, key, v) {
		for (k = 0; k < nt; k++)
			if (strcmp(t[k].name, key) == 0)
				break;
		if (k == nt)
			return efail(e, CAJA_EFIELD, "unknown field '%s%.64s'",
			    pre, key);
	}
	codec_write_map(w, (uint32_t)json_object_size(o));
	for (k = 0; k < nt; k++) {
		if ((v = json_object_get(o, t[k].name)) == NULL) {
			if (t[k].pres == P_REQ)
				return efail(e, CAJA_EFIELD, "%s%s: missing",
				    pre, t[k].name);
			continue;
		}
		codec_write_cstr(w, t[k].name);
		if ((rc = field_from_json(&t[k], v, o, pre, w, e)) != 0)
			return rc;
	}
	return 0;
}

int
schema_from_json(int type, const json_t *in, struct buf *out,
    char entity[EVENT_ENTITY_MAX + 1], char errmsg[SCHEMA_ERRMSG])
{
	const struct tdef	*td;
	struct payload		*pl = NULL;
	struct codec_wr		 w;
	struct ectx		 e = { errmsg };
	size_t			 start = out->len;
	int			 rc;

	if (errmsg != NULL)
		errmsg[0] = '\0';
	entity[0] = '\0';
	if ((td = tdef_of(type)) == NULL)
		return efail(&e, CAJA_ETYPE, "unknown event type");
	if (!td->user)
		return efail(&e, CAJA_ETYPE, "%s is written by the agent, not "
		    "appended", event_type_name(type));
	codec_wr_init(&w, out);
	if ((rc = obj_from_json(td->f, td->n, in, "", &w, &e)) != 0)
		goto fail;
	if ((rc = codec_wr_error(&w)) != 0) {
		if (rc == CAJA_ETOOBIG)
			(void)efail(&e, rc, "payload: too big");
		goto fail;
	}
	if ((pl = malloc(sizeof(*pl))) == NULL) {
		rc = CAJA_ENOMEM;
		goto fail;
	}
	if (out->len - start > EVENT_PAYLOAD_MAX) {
		rc = efail(&e, CAJA_ETOOBIG, "payload: too big (at most %d "
		    "bytes)", EVENT_PAYLOAD_MAX);
		goto fail;
	}
	if ((rc = decode_internal(type, out->p + start, out->len - start, pl,
	    &e)) != 0)
		goto fail;
	memcpy(entity, pl->id.p, pl->id.len);
	entity[pl->id.len] = '\0';
	free(pl);
	return 0;
fail:
	free(pl);
	out->len = start;
	return rc;
}

/*
 * struct -> JSON
 */

static json_t *obj_to_json(const struct fdef *, size_t, const void *,
    const struct payload *);

static json_t *
field_to_json(const struct fdef *f, const void *base, const struct payload *pl)
{
	const char		*at = (const char *)base + f->off;
	const struct pl_str	*ps;
	json_t			*a, *o;
	char			 txt[SIG_LEN * 2 + 1];
	uint32_t		 i, n;
	int			 t;

	if (is_str_kind(f->kind)) {
		ps = (const struct pl_str *)(const void *)at;
		return json_stringn(ps->p ? ps->p : "", ps->len);
	}
	if (is_money_kind(f->kind)) {
		schema_money_format(int_load(f->kind, at), txt);
		return json_string(txt);
	}
	if (is_int_kind(f->kind))
		return json_integer((json_int_t)int_load(f->kind, at));
	switch (f->kind) {
	case K_BOOL:
		return json_boolean(*(const int *)(const void *)at);
	case K_OPTYPE:
		t = *(const int *)(const void *)at;
		return json_string(t == PL_OP_INSERT ? "INSERT" : "DELETE");
	case K_BIN16:
	case K_BIN32:
	case K_BIN64:
		ids_hex(txt, (const uint8_t *)at, bin_len(f->kind));
		return json_string(txt);
	case K_ITEMS:
	case K_OPS:
		if ((a = json_array()) == NULL)
			return NULL;
		n = f->kind == K_ITEMS ? pl->nitems : pl->nops;
		for (i = 0; i < n; i++) {
			o = f->kind == K_ITEMS ?
			    obj_to_json(f_item, NFIELDS(f_item),
			    &pl->items[i], pl) :
			    obj_to_json(f_op, NFIELDS(f_op), &pl->ops[i], pl);
			if (json_array_append_new(a, o) != 0) {
				json_decref(a);
				return NULL;
			}
		}
		return a;
	case K_VALUE:
		if (schema_value_to_json(pl->value, pl->value_len,
		    is_money_field(pl->field.p, pl->field.len), &o) != 0)
			return NULL;
		return o;
	}
	return NULL;
}

static json_t *
obj_to_json(const struct fdef *t, size_t nt, const void *base,
    const struct payload *pl)
{
	json_t	*o;
	size_t	 k;

	if ((o = json_object()) == NULL)
		return NULL;
	for (k = 0; k < nt; k++) {
		if (!is_present(&t[k], base, pl))
			continue;
		/* json_object_set_new() consumes (and checks) the value. */
		if (json_object_set_new(o, t[k].name,
		    field_to_json(&t[k], base, pl)) != 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

int
schema_to_json(int type, const uint8_t *p, size_t len, json_t **out)
{
	struct payload	*pl;
	int		 rc;

	*out = NULL;
	if ((pl = malloc(sizeof(*pl))) == NULL)
		return CAJA_ENOMEM;
	if ((rc = decode_internal(type, p, len, pl, NULL)) != 0)
		goto out;
	if ((*out = obj_to_json(types[type].f, types[type].n, pl, pl)) == NULL)
		rc = CAJA_ENOMEM;
out:
	free(pl);
	return rc;
}

/*
 * Money and values
 */

int
schema_money_parse(const char *s, int64_t *out)
{
	int64_t	units = 0, cents = 0, v;
	int	neg = 0, nd = 0;

	if (s == NULL)
		return CAJA_EDECODE;
	if (*s == '-') {
		neg = 1;
		s++;
	}
	while (*s >= '0' && *s <= '9') {
		units = units * 10 + (*s - '0');
		if (units > SCHEMA_MONEY_MAX / 100)
			return CAJA_ETOOBIG;
		s++;
		nd++;
	}
	if (nd == 0)
		return CAJA_EDECODE;
	if (*s == '.') {
		s++;
		if (!(*s >= '0' && *s <= '9'))
			return CAJA_EDECODE;
		cents = (*s++ - '0') * 10;
		if (*s >= '0' && *s <= '9')
			cents += *s++ - '0';
	}
	if (*s != '\0')
		return CAJA_EDECODE;
	v = units * 100 + cents;
	if (v > SCHEMA_MONEY_MAX)
		return CAJA_ETOOBIG;
	*out = neg ? -v : v;
	return 0;
}

void
schema_money_format(int64_t v, char out[24])
{
	uint64_t	u;

	u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	(void)snprintf(out, 24, "%s%llu.%02llu", v < 0 ? "-" : "",
	    (unsigned long long)(u / 100), (unsigned long long)(u % 100));
}

int
schema_value_from_json(const json_t *v, int money, struct buf *out,
    char errmsg[SCHEMA_ERRMSG])
{
	struct codec_wr	 w;
	struct ectx	 e = { errmsg };
	const char	*why;
	size_t		 start = out->len;
	int64_t		 iv;
	int		 rc;

	if (errmsg != NULL)
		errmsg[0] = '\0';
	codec_wr_init(&w, out);
	if (money) {
		if ((rc = money_from_json(v, &iv, "", "value", &e)) != 0)
			return rc;
		codec_write_int(&w, iv);
	} else if (json_is_string(v)) {
		if ((why = str_problem(K_TEXT, json_string_value(v),
		    json_string_length(v))) != NULL)
			return efail(&e, CAJA_EFIELD, "value: %s", why);
		codec_write_str(&w, json_string_value(v),
		    json_string_length(v));
	} else if (json_is_integer(v))
		codec_write_int(&w, json_integer_value(v));
	else if (json_is_boolean(v))
		codec_write_bool(&w, json_is_true(v));
	else
		return efail(&e, CAJA_EFIELD,
		    "value: must be a string, integer or boolean");
	if ((rc = codec_wr_error(&w)) != 0) {
		out->len = start;
		return rc;
	}
	return 0;
}

int
schema_value_to_json(const uint8_t *p, size_t len, int money, json_t **out)
{
	struct codec_rd	 rd;
	const char	*s;
	char		 txt[24];
	int64_t		 v;
	uint32_t	 slen;
	int		 b;

	*out = NULL;
	if (p == NULL || codec_scan_flags(p, len, CODEC_CANONICAL, NULL) != 0)
		return CAJA_EDECODE;
	codec_rd_init(&rd, p, len);
	switch (codec_peek(&rd)) {
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		if (codec_read_int(&rd, &v) != 0)
			return CAJA_EDECODE;
		if (money) {
			schema_money_format(v, txt);
			*out = json_string(txt);
		} else
			*out = json_integer((json_int_t)v);
		break;
	case MSGPACK_OBJECT_STR:
		if (codec_read_str(&rd, &s, &slen) != 0)
			return CAJA_EDECODE;
		if (!codec_is_utf8((const uint8_t *)s, slen))
			return CAJA_EDECODE;
		*out = json_stringn(s, slen);
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		if (codec_read_bool(&rd, &b) != 0)
			return CAJA_EDECODE;
		*out = json_boolean(b);
		break;
	default:
		return CAJA_EDECODE;
	}
	return *out == NULL ? CAJA_ENOMEM : 0;
}
