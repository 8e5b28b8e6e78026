/*
 * schema: JSON <-> canonical msgpack payloads, money, refusals.
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "proto/codec.h"
#include "proto/ids.h"
#include "proto/schema.h"

static struct buf	 out;
static struct payload	*pl;
static char		 ent[EVENT_ENTITY_MAX + 1], msg[SCHEMA_ERRMSG];

static void
setup(void)
{
	cr_assert_eq(sig_init(), 0);
	buf_init(&out, 0);
	pl = calloc(1, sizeof(*pl));
	cr_assert_not_null(pl);
}

static void
teardown(void)
{
	buf_reset(&out);
	free(pl);
}

TestSuite(schema, .init = setup, .fini = teardown);

static json_t *
js(const char *text)
{
	json_error_t	 err;
	json_t		*j;

	j = json_loads(text, 0, &err);
	cr_assert_not_null(j, "bad test JSON: %s: %s", text, err.text);
	return j;
}

/* JSON text in -> expect rc; on error the message must contain want. */
static int
from(int type, const char *text)
{
	json_t	*j = js(text);
	int	 rc;

	buf_clear(&out);
	rc = schema_from_json(type, j, &out, ent, msg);
	json_decref(j);
	return rc;
}

static void
refused(int type, const char *text, const char *want)
{
	int	rc;

	rc = from(type, text);
	cr_assert_neq(rc, 0, "accepted: %s", text);
	cr_assert_eq(out.len, 0, "bytes left behind for %s", text);
	cr_assert(strstr(msg, want) != NULL, "%s: message '%s' lacks '%s'",
	    text, msg, want);
}

/* in -> msgpack -> JSON must equal want (canonical JSON text). */
static void
round_trip(int type, const char *in, const char *want_entity,
    const char *want)
{
	json_t	*back, *exp;

	cr_assert_eq(from(type, in), 0, "%s: %s", in, msg);
	cr_assert_str_eq(ent, want_entity);
	cr_assert_eq(codec_scan_flags(out.p, out.len, CODEC_CANONICAL, NULL),
	    0);
	cr_assert_eq(schema_to_json(type, out.p, out.len, &back), 0);
	exp = js(want);
	cr_assert(json_equal(back, exp), "%s gave %s", in,
	    json_dumps(back, JSON_SORT_KEYS | JSON_COMPACT));
	/* decode -> encode gives the same bytes */
	cr_assert_eq(schema_decode(type, out.p, out.len, pl), 0);
	{
		struct buf	again;

		buf_init(&again, 0);
		cr_assert_eq(schema_encode(pl, &again), 0);
		cr_assert_eq(again.len, out.len);
		cr_assert(memcmp(again.p, out.p, out.len) == 0,
		    "re-encoding differs for %s", in);
		buf_reset(&again);
	}
	json_decref(back);
	json_decref(exp);
}

Test(schema, money_parse)
{
	static const struct { const char *s; int64_t v; } ok[] = {
		{ "5", 500 }, { "5.5", 550 }, { "5.50", 550 }, { "-3.07", -307 },
		{ "0.01", 1 }, { "0", 0 }, { "-0", 0 }, { "007.10", 710 },
		{ "1000000000000", SCHEMA_MONEY_MAX },
		{ "-1000000000000.00", -SCHEMA_MONEY_MAX },
	};
	static const char *const bad[] = {
		"", "-", ".5", "5.", "5.505", "1e3", " 5", "5 ", "+5", "5,50",
		"0x10", "5.5.5", "--5", "5-", "NaN", "inf", "١",
	};
	int64_t	v;
	size_t	i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		cr_assert_eq(schema_money_parse(ok[i].s, &v), 0, "%s", ok[i].s);
		cr_assert_eq(v, ok[i].v, "%s gave %lld", ok[i].s,
		    (long long)v);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(schema_money_parse(bad[i], &v), CAJA_EDECODE,
		    "accepted '%s'", bad[i]);
	cr_assert_eq(schema_money_parse("1000000000000.01", &v), CAJA_ETOOBIG);
	cr_assert_eq(schema_money_parse("99999999999999999999999999", &v),
	    CAJA_ETOOBIG);
}

Test(schema, money_format)
{
	char	s[24];

	schema_money_format(0, s);
	cr_assert_str_eq(s, "0.00");
	schema_money_format(5, s);
	cr_assert_str_eq(s, "0.05");
	schema_money_format(550, s);
	cr_assert_str_eq(s, "5.50");
	schema_money_format(-307, s);
	cr_assert_str_eq(s, "-3.07");
	schema_money_format(-1, s);
	cr_assert_str_eq(s, "-0.01");
	schema_money_format(INT64_MIN, s);
	cr_assert_str_eq(s, "-92233720368547758.08");
}

Test(schema, round_trips)
{
	round_trip(EV_PRODUCT_UPDATED,
	    "{\"product_id\":\"P-1\",\"name\":\"Harina PAN 1kg\","
	    "\"barcode\":\"7591002100011\",\"active\":true}", "P-1",
	    "{\"active\":true,\"barcode\":\"7591002100011\","
	    "\"name\":\"Harina PAN 1kg\",\"product_id\":\"P-1\"}");
	round_trip(EV_PRODUCT_UPDATED, "{\"product_id\":\"ñ-1\",\"name\":\"\"}",
	    "ñ-1", "{\"product_id\":\"ñ-1\",\"name\":\"\"}");
	round_trip(EV_PRICE_CHANGED,
	    "{\"price_usd\":2,\"product_id\":\"P-1\",\"price_bs\":\"5.5\"}",
	    "P-1", "{\"price_bs\":\"5.50\",\"price_usd\":\"2.00\","
	    "\"product_id\":\"P-1\"}");
	round_trip(EV_STOCK_RECEIVED, "{\"product_id\":\"P-1\",\"qty\":24}",
	    "P-1", "{\"product_id\":\"P-1\",\"qty\":24}");
	round_trip(EV_STOCK_ADJUSTED, "{\"product_id\":\"P-1\",\"delta\":-3}",
	    "P-1", "{\"product_id\":\"P-1\",\"delta\":-3}");
	round_trip(EV_SALE_CREATED,
	    "{\"sale_id\":\"V-1\",\"customer_id\":\"C-7\",\"on_credit\":true,"
	    "\"items\":[{\"product_id\":\"P-1\",\"qty\":2,\"price_bs\":\"5.50\","
	    "\"price_usd\":\"0.15\"},{\"qty\":1,\"product_id\":\"P-2\","
	    "\"price_bs\":10}]}", "V-1",
	    "{\"customer_id\":\"C-7\",\"items\":[{\"price_bs\":\"5.50\","
	    "\"price_usd\":\"0.15\",\"product_id\":\"P-1\",\"qty\":2},"
	    "{\"price_bs\":\"10.00\",\"product_id\":\"P-2\",\"qty\":1}],"
	    "\"on_credit\":true,\"sale_id\":\"V-1\"}");
	cr_assert_eq(pl->total_bs, 2100);
	cr_assert_eq(pl->nitems, 2);
	cr_assert_eq(pl->items[0].has_usd, 1);
	cr_assert_eq(pl->items[1].has_usd, 0);
	cr_assert(pl->has & PL_CUSTOMER);
	round_trip(EV_SALE_VOIDED, "{\"sale_id\":\"V-1\"}", "V-1",
	    "{\"sale_id\":\"V-1\"}");
	round_trip(EV_CUSTOMER_UPDATED,
	    "{\"customer_id\":\"C-7\",\"phone\":\"+58 412 0000000\","
	    "\"address\":\"Av. Bolívar\\nLocal 3\"}", "C-7",
	    "{\"address\":\"Av. Bolívar\\nLocal 3\",\"customer_id\":\"C-7\","
	    "\"phone\":\"+58 412 0000000\"}");
	round_trip(EV_DEBT_PAYMENT_ADDED,
	    "{\"customer_id\":\"C-7\",\"amount_bs\":\"0.01\"}", "C-7",
	    "{\"amount_bs\":\"0.01\",\"customer_id\":\"C-7\"}");
	round_trip(EV_NOTE_EDITED,
	    "{\"sale_id\":\"V-1\",\"ops\":[{\"type\":\"INSERT\",\"position\":0,"
	    "\"text\":\"entregar mañana\"},{\"type\":\"DELETE\",\"position\":3,"
	    "\"length\":2}]}", "V-1",
	    "{\"ops\":[{\"position\":0,\"text\":\"entregar mañana\","
	    "\"type\":\"INSERT\"},{\"length\":2,\"position\":3,"
	    "\"type\":\"DELETE\"}],\"sale_id\":\"V-1\"}");
	cr_assert_eq(pl->nops, 2);
	cr_assert_eq(pl->ops[0].type, PL_OP_INSERT);
	cr_assert_eq(pl->ops[1].length, 2);
}

Test(schema, canonical_regardless_of_json_order)
{
	struct buf	first;

	buf_init(&first, 0);
	cr_assert_eq(from(EV_PRODUCT_UPDATED, "{\"name\":\"a\",\"active\":false,"
	    "\"product_id\":\"p\"}"), 0);
	cr_assert_eq(buf_add(&first, out.p, out.len), 0);
	cr_assert_eq(from(EV_PRODUCT_UPDATED, "{\"product_id\":\"p\","
	    "\"active\":false,\"name\":\"a\"}"), 0);
	cr_assert_eq(first.len, out.len);
	cr_assert(memcmp(first.p, out.p, out.len) == 0);
	/* exact bytes: {"active": false, "name": "a", "product_id": "p"} */
	{
		static const uint8_t want[] = { 0x83, 0xa6, 'a', 'c', 't', 'i',
		    'v', 'e', 0xc2, 0xa4, 'n', 'a', 'm', 'e', 0xa1, 'a', 0xaa,
		    'p', 'r', 'o', 'd', 'u', 'c', 't', '_', 'i', 'd', 0xa1,
		    'p' };

		cr_assert_eq(out.len, sizeof(want));
		cr_assert(memcmp(out.p, want, sizeof(want)) == 0);
	}
	buf_reset(&first);
}

Test(schema, refusals_name_the_field)
{
	refused(EV_PRICE_CHANGED, "{\"product_id\":\"P\",\"price_bs\":5.5}",
	    "price_bs: money must be a decimal string like \"5.50\"");
	refused(EV_PRICE_CHANGED, "{\"product_id\":\"P\",\"price_bs\":\"5.555\"}",
	    "price_bs: money must be a decimal string");
	refused(EV_PRICE_CHANGED, "{\"product_id\":\"P\",\"price_bs\":\"-1\"}",
	    "price_bs: must not be negative");
	refused(EV_PRICE_CHANGED, "{\"product_id\":\"P\"}",
	    "needs one of price_bs, price_usd");
	refused(EV_PRICE_CHANGED, "{\"product_id\":\"P\",\"price_bs\":"
	    "\"10000000000000\"}", "price_bs: too large");
	refused(EV_PRODUCT_UPDATED, "{\"product_id\":\"P\",\"foo\":1}",
	    "unknown field 'foo'");
	refused(EV_PRODUCT_UPDATED, "{\"name\":\"x\"}", "product_id: missing");
	refused(EV_PRODUCT_UPDATED, "{\"product_id\":\"P\"}",
	    "needs one of name, barcode, active");
	refused(EV_PRODUCT_UPDATED, "{\"product_id\":7,\"name\":\"x\"}",
	    "product_id: must be a string");
	refused(EV_PRODUCT_UPDATED, "{\"product_id\":\"\",\"name\":\"x\"}",
	    "product_id: must be 1 to 64 bytes");
	refused(EV_PRODUCT_UPDATED, "{\"product_id\":\"a\\tb\",\"name\":\"x\"}",
	    "product_id: must not contain control characters");
	refused(EV_PRODUCT_UPDATED, "{\"product_id\":\"P\",\"active\":1}",
	    "active: must be true or false");
	refused(EV_PRODUCT_UPDATED, "{\"product_id\":\"P\",\"name\":null}",
	    "name: must be a string");
	refused(EV_STOCK_RECEIVED, "{\"product_id\":\"P\",\"qty\":0}",
	    "qty: must be > 0");
	refused(EV_STOCK_RECEIVED, "{\"product_id\":\"P\",\"qty\":1.0}",
	    "qty: must be an integer");
	refused(EV_STOCK_RECEIVED, "{\"product_id\":\"P\",\"qty\":\"3\"}",
	    "qty: must be an integer");
	refused(EV_STOCK_ADJUSTED, "{\"product_id\":\"P\",\"delta\":0}",
	    "delta: must not be 0");
	refused(EV_SALE_CREATED, "{\"sale_id\":\"V\",\"items\":[]}",
	    "items: must have 1 to 128 entries");
	refused(EV_SALE_CREATED, "{\"sale_id\":\"V\",\"items\":[{\"product_id\":"
	    "\"P\",\"qty\":1,\"price_bs\":1},{\"product_id\":\"P\",\"qty\":-1,"
	    "\"price_bs\":1}]}", "items[1].qty: must be > 0");
	refused(EV_SALE_CREATED, "{\"sale_id\":\"V\",\"items\":[{\"product_id\":"
	    "\"P\",\"qty\":1}]}", "items[0].price_bs: missing");
	refused(EV_SALE_CREATED, "{\"sale_id\":\"V\",\"items\":[{\"product_id\":"
	    "\"P\",\"qty\":1,\"price_bs\":1,\"x\":1}]}",
	    "unknown field 'items[0].x'");
	refused(EV_SALE_CREATED, "{\"sale_id\":\"V\",\"on_credit\":true,"
	    "\"items\":[{\"product_id\":\"P\",\"qty\":1,\"price_bs\":1}]}",
	    "on_credit: needs customer_id");
	refused(EV_SALE_CREATED, "{\"sale_id\":\"V\",\"items\":[{\"product_id\":"
	    "\"P\",\"qty\":1000000000,\"price_bs\":\"1000000000000\"}]}",
	    "items: total too large");
	refused(EV_SALE_CREATED, "{\"sale_id\":\"V\",\"items\":{}}",
	    "items: must be an array");
	refused(EV_DEBT_PAYMENT_ADDED, "{\"customer_id\":\"C\",\"amount_bs\":0}",
	    "amount_bs: must be > 0");
	refused(EV_CUSTOMER_UPDATED, "{\"customer_id\":\"C\"}",
	    "needs one of name, phone, address");
	refused(EV_NOTE_EDITED, "{\"sale_id\":\"V\",\"ops\":[{\"type\":\"INSERT\","
	    "\"position\":0}]}", "ops[0].text: missing");
	refused(EV_NOTE_EDITED, "{\"sale_id\":\"V\",\"ops\":[{\"type\":\"DELETE\","
	    "\"position\":0,\"length\":0}]}", "ops[0].length: must be > 0");
	refused(EV_NOTE_EDITED, "{\"sale_id\":\"V\",\"ops\":[{\"type\":\"DELETE\","
	    "\"position\":0,\"length\":1,\"text\":\"x\"}]}",
	    "ops[0].text: not allowed in DELETE");
	refused(EV_NOTE_EDITED, "{\"sale_id\":\"V\",\"ops\":[{\"type\":\"UPSERT\","
	    "\"position\":0,\"text\":\"x\"}]}",
	    "ops[0].type: must be \"INSERT\" or \"DELETE\"");
	refused(EV_NOTE_EDITED, "{\"sale_id\":\"V\",\"ops\":[{\"type\":\"INSERT\","
	    "\"position\":-1,\"text\":\"x\"}]}",
	    "ops[0].position: must not be negative");
	refused(EV_SALE_VOIDED, "[]", "payload: must be a JSON object");
}

Test(schema, text_limits)
{
	char	*big, *doc;
	size_t	 n = SCHEMA_TEXT_MAX + 1;

	big = malloc(n + 1);
	doc = malloc(n + 64);
	memset(big, 'x', n);
	big[n] = '\0';
	(void)snprintf(doc, n + 64, "{\"product_id\":\"P\",\"name\":\"%s\"}", big);
	refused(EV_PRODUCT_UPDATED, doc, "name: too long");
	big[n - 1] = '\0';
	(void)snprintf(doc, n + 64, "{\"product_id\":\"P\",\"name\":\"%s\"}", big);
	cr_assert_eq(from(EV_PRODUCT_UPDATED, doc), 0, "%s", msg);
	memset(big, 'y', 65);
	big[65] = '\0';
	(void)snprintf(doc, n + 64, "{\"product_id\":\"%s\",\"name\":\"x\"}",
	    big);
	refused(EV_PRODUCT_UPDATED, doc, "product_id: must be 1 to 64 bytes");
	free(big);
	free(doc);
}

Test(schema, agent_types_refused_from_json)
{
	int	types[] = { EV_DEVICE_ENROLLED, EV_DEVICE_INVITED,
		    EV_DEVICE_REVOKED, EV_CONFLICT_RESOLVED };
	size_t	i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		cr_assert_eq(from(types[i], "{}"), CAJA_ETYPE);
		cr_assert(strstr(msg, "written by the agent") != NULL, "%s",
		    msg);
	}
	cr_assert_eq(from(EV_NONE, "{}"), CAJA_ETYPE);
	cr_assert_eq(from(EV_TYPE_MAX, "{}"), CAJA_ETYPE);
}

static void
fill(uint8_t *p, size_t n, uint8_t v)
{
	memset(p, v, n);
}

Test(schema, identity_events)
{
	struct payload	*back;
	json_t		*j;
	uint8_t		 id[ID_LEN];
	char		 hex[ID_HEX];

	back = calloc(1, sizeof(*back));
	/* genesis enrollment */
	memset(pl, 0, sizeof(*pl));
	pl->type = EV_DEVICE_ENROLLED;
	fill(pl->device_pk, SIG_PK_LEN, 1);
	fill(pl->store_pk, SIG_PK_LEN, 2);
	pl->has_store_pk = 1;
	fill(pl->auth_sig, SIG_LEN, 3);
	pl->role.p = "admin";
	pl->role.len = 5;
	pl->name.p = "caja-1";
	pl->name.len = 6;
	pl->store_name.p = "Tienda Centro";
	pl->store_name.len = 13;
	cr_assert_eq(schema_encode(pl, &out), 0);
	cr_assert_eq(schema_decode(EV_DEVICE_ENROLLED, out.p, out.len, back),
	    0);
	sig_id_of_pk(id, pl->device_pk);
	ids_hex(hex, id, ID_LEN);
	cr_assert_eq(back->id.len, 32);
	cr_assert(memcmp(back->id.p, hex, 32) == 0);
	cr_assert_eq(back->has_store_pk, 1);
	cr_assert_eq(back->has_invite_pk, 0);
	cr_assert_eq(back->store_pk[0], 2);
	cr_assert_eq(back->role.len, 5);
	cr_assert_eq(schema_to_json(EV_DEVICE_ENROLLED, out.p, out.len, &j), 0);
	cr_assert_str_eq(json_string_value(json_object_get(j, "store_pk")),
	    "0202020202020202020202020202020202020202020202020202020202020202");
	cr_assert_str_eq(json_string_value(json_object_get(j, "store_name")),
	    "Tienda Centro");
	cr_assert_null(json_object_get(j, "invite_pk"));
	json_decref(j);

	/* both store_pk and invite_pk: refused, nothing appended */
	buf_clear(&out);
	pl->has_invite_pk = 1;
	cr_assert_eq(schema_encode(pl, &out), CAJA_EFIELD);
	cr_assert_eq(out.len, 0);
	/* joined device: invite_pk only */
	pl->has_store_pk = 0;
	cr_assert_eq(schema_encode(pl, &out), 0);
	/* a bad role */
	buf_clear(&out);
	pl->role.p = "root";
	pl->role.len = 4;
	cr_assert_eq(schema_encode(pl, &out), CAJA_EFIELD);

	/* invite: id is BLAKE2b-128 of invite_pk */
	memset(pl, 0, sizeof(*pl));
	pl->type = EV_DEVICE_INVITED;
	fill(pl->invite_pk, SIG_PK_LEN, 9);
	pl->role.p = "register";
	pl->role.len = 8;
	pl->expires_ms = 1700000000000ull;
	cr_assert_eq(schema_encode(pl, &out), 0);
	cr_assert_eq(schema_decode(EV_DEVICE_INVITED, out.p, out.len, back), 0);
	sig_id_of_pk(id, pl->invite_pk);
	ids_hex(hex, id, ID_LEN);
	cr_assert(memcmp(back->id.p, hex, 32) == 0);
	cr_assert_eq(back->expires_ms, 1700000000000ull);

	/* revoke */
	buf_clear(&out);
	memset(pl, 0, sizeof(*pl));
	pl->type = EV_DEVICE_REVOKED;
	fill(pl->target, ID_LEN, 0xab);
	pl->upto_seq = 17;
	pl->reason.p = "stolen";
	pl->reason.len = 6;
	cr_assert_eq(schema_encode(pl, &out), 0);
	cr_assert_eq(schema_decode(EV_DEVICE_REVOKED, out.p, out.len, back), 0);
	cr_assert_eq(back->id.len, 32);
	cr_assert(memcmp(back->id.p, "abababababababababababababababab", 32)
	    == 0);
	cr_assert_eq(back->upto_seq, 17);
	cr_assert_eq(schema_to_json(EV_DEVICE_REVOKED, out.p, out.len, &j), 0);
	cr_assert_eq(json_integer_value(json_object_get(j, "upto_seq")), 17);
	cr_assert_str_eq(json_string_value(json_object_get(j, "reason")),
	    "stolen");
	json_decref(j);
	free(back);
}

Test(schema, conflict_resolved)
{
	struct buf	 val;
	json_t		*j, *v;

	buf_init(&val, 0);
	v = json_string("5.50");
	cr_assert_eq(schema_value_from_json(v, 1, &val, msg), 0, "%s", msg);
	cr_assert_eq(val.len, 3);	/* cd 02 26 */
	cr_assert_eq(val.p[0], 0xcd);
	json_decref(v);
	v = json_real(5.5);
	buf_clear(&val);
	cr_assert_eq(schema_value_from_json(v, 1, &val, msg), CAJA_EFIELD);
	cr_assert(strstr(msg, "value: money must be a decimal string") != NULL,
	    "%s", msg);
	cr_assert_eq(schema_value_from_json(v, 0, &val, msg), CAJA_EFIELD);
	json_decref(v);
	v = json_string("5.50");
	cr_assert_eq(schema_value_from_json(v, 1, &val, msg), 0, "%s", msg);
	json_decref(v);

	memset(pl, 0, sizeof(*pl));
	pl->type = EV_CONFLICT_RESOLVED;
	fill(pl->conflict_id, ID_LEN, 0xcc);
	pl->entity_type.p = "product";
	pl->entity_type.len = 7;
	pl->id.p = "P-1";
	pl->id.len = 3;
	pl->field.p = "price_bs";
	pl->field.len = 8;
	pl->value = val.p;
	pl->value_len = (uint32_t)val.len;
	pl->by.p = "ana";
	pl->by.len = 3;
	cr_assert_eq(schema_encode(pl, &out), 0);
	cr_assert_eq(schema_to_json(EV_CONFLICT_RESOLVED, out.p, out.len, &j),
	    0);
	cr_assert_str_eq(json_string_value(json_object_get(j, "value")),
	    "5.50");
	cr_assert_str_eq(json_string_value(json_object_get(j, "entity_id")),
	    "P-1");
	cr_assert_str_eq(json_string_value(json_object_get(j, "conflict_id")),
	    "cccccccccccccccccccccccccccccccc");
	json_decref(j);
	cr_assert_eq(schema_decode(EV_CONFLICT_RESOLVED, out.p, out.len, pl),
	    0);
	cr_assert_eq(pl->id.len, 3);
	cr_assert_eq(pl->value_len, 3);

	/* a string value for a money field is refused */
	buf_clear(&val);
	v = json_string("x");
	cr_assert_eq(schema_value_from_json(v, 0, &val, msg), 0);
	json_decref(v);
	buf_clear(&out);
	pl->value = val.p;
	pl->value_len = (uint32_t)val.len;
	cr_assert_eq(schema_encode(pl, &out), CAJA_EFIELD);
	/* but fine for a text field */
	pl->field.p = "name";
	pl->field.len = 4;
	cr_assert_eq(schema_encode(pl, &out), 0);
	cr_assert_eq(schema_value_to_json(pl->value, pl->value_len, 0, &j), 0);
	cr_assert_str_eq(json_string_value(j), "x");
	json_decref(j);
	buf_reset(&val);
}

Test(schema, decode_refuses_hostile_bytes)
{
	static const struct { const char *what; const char *b; size_t n; } bad[] = {
		{ "array", "\x91\x01", 2 },
		{ "4G map", "\xdf\xff\xff\xff\xff", 5 },
		{ "unknown key", "\x81\xa1z\x01", 4 },
		{ "sale_id int", "\x81\xa7sale_id\x01", 10 },
		{ "empty", "", 0 },
		{ "trailing", "\x81\xa7sale_id\xa1x\x00", 12 },
		{ "non-canonical str8", "\x81\xa7sale_id\xd9\x01x", 12 },
		{ "control char in id", "\x81\xa7sale_id\xa1\x01", 11 },
		{ "bad utf-8 id", "\x81\xa7sale_id\xa1\xff", 11 },
	};
	size_t	i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_neq(schema_decode(EV_SALE_VOIDED,
		    (const uint8_t *)bad[i].b, bad[i].n, pl), 0, "accepted %s",
		    bad[i].what);
	cr_assert_eq(schema_decode(EV_SALE_VOIDED,
	    (const uint8_t *)"\x81\xa7sale_id\xa1x", 11, pl), 0);
	cr_assert_eq(pl->id.len, 1);
	cr_assert_eq(schema_decode(EV_TYPE_MAX,
	    (const uint8_t *)"\x81\xa7sale_id\xa1x", 11, pl), CAJA_ETYPE);
}
