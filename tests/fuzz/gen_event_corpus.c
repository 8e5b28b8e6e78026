/*
 * gen_event_corpus: writes the seed corpus of fuzz_event (run once, by
 * hand; the output is committed):
 *
 *   cc -std=gnu11 -I. tests/fuzz/gen_event_corpus.c build/libproto.a \
 *       $(pkg-config --cflags --libs msgpack libsodium jansson) -o /tmp/gen
 *   /tmp/gen tests/fuzz/corpus/fuzz_event
 *
 * Valid signed events of every type (deterministic key), the same payloads
 * as "type byte || payload" inputs, and hostile frames.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/event.h"
#include "proto/schema.h"

static const char	*dir;
static struct sig_key	*key;

static void
put(const char *name, const void *p, size_t len)
{
	char	 path[1024];
	FILE	*f;

	(void)snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL || fwrite(p, 1, len, f) != len) {
		perror(path);
		exit(1);
	}
	fclose(f);
}

static void
event(const char *name, int type, const char *entity, const uint8_t *pl,
    size_t len, uint64_t seq)
{
	struct event	ev;
	struct buf	b, raw;
	char		n2[128];
	uint8_t		t = (uint8_t)type;

	memset(&ev, 0, sizeof(ev));
	memset(ev.store, 0x5a, ID_LEN);
	memcpy(ev.dev, key->id, ID_LEN);
	ev.seq = seq;
	memset(ev.prev, seq > 1 ? 0xee : 0, HASH_LEN);
	ev.hlc = ((uint64_t)(1700000000000ull + seq) << 16) | seq;
	if (seq > 2) {
		ev.ctx.n = 2;
		memset(ev.ctx.e[0].dev, 0x01, ID_LEN);
		ev.ctx.e[0].seq = seq * 7;
		memset(ev.ctx.e[1].dev, 0xf0, ID_LEN);
		ev.ctx.e[1].seq = 70000;
	}
	ev.type = (uint8_t)type;
	(void)snprintf(ev.entity, sizeof(ev.entity), "%s", entity);
	ev.payload = pl;
	ev.payload_len = len;
	memset(ev.state, 0x33, HASH_LEN);
	buf_init(&b, 0);
	if (event_encode(&ev, key, &b) != 0) {
		fprintf(stderr, "encode %s failed\n", name);
		exit(1);
	}
	put(name, b.p, b.len);
	buf_init(&raw, 0);
	if (buf_add(&raw, &t, 1) != 0 || buf_add(&raw, pl, len) != 0)
		exit(1);
	(void)snprintf(n2, sizeof(n2), "raw-%s", name);
	put(n2, raw.p, raw.len);
	buf_reset(&raw);
	buf_reset(&b);
}

static void
user(const char *name, int type, const char *json, uint64_t seq)
{
	json_error_t	 err;
	json_t		*j;
	struct buf	 b;
	char		 ent[EVENT_ENTITY_MAX + 1], msg[SCHEMA_ERRMSG];

	if ((j = json_loads(json, 0, &err)) == NULL) {
		fprintf(stderr, "%s: %s\n", name, err.text);
		exit(1);
	}
	buf_init(&b, 0);
	if (schema_from_json(type, j, &b, ent, msg) != 0) {
		fprintf(stderr, "%s: %s\n", name, msg);
		exit(1);
	}
	event(name, type, ent, b.p, b.len, seq);
	json_decref(j);
	buf_reset(&b);
}

static void
agent(const char *name, struct payload *pl, uint64_t seq)
{
	struct buf	b;
	struct payload	*back = malloc(sizeof(*back));
	char		ent[EVENT_ENTITY_MAX + 1];

	buf_init(&b, 0);
	if (back == NULL || schema_encode(pl, &b) != 0 ||
	    schema_decode(pl->type, b.p, b.len, back) != 0) {
		fprintf(stderr, "%s: encode failed\n", name);
		exit(1);
	}
	(void)snprintf(ent, sizeof(ent), "%.*s", (int)back->id.len,
	    back->id.p);
	event(name, pl->type, ent, b.p, b.len, seq);
	buf_reset(&b);
	free(back);
}

int
main(int argc, char **argv)
{
	struct payload	*pl;
	struct buf	 v;
	json_t		*jv;
	uint8_t		 seed[SIG_SEED_LEN], deep[64];
	char		 vmsg[SCHEMA_ERRMSG];
	int		 i;

	if (argc != 2) {
		fprintf(stderr, "usage: gen_event_corpus DIR\n");
		return 1;
	}
	dir = argv[1];
	if (sig_init() != 0)
		return 1;
	for (i = 0; i < SIG_SEED_LEN; i++)
		seed[i] = (uint8_t)i;
	if (sig_key_from_seed(&key, seed) != 0)
		return 1;

	user("product", EV_PRODUCT_UPDATED, "{\"product_id\":\"P-1\","
	    "\"name\":\"Harina PAN\",\"barcode\":\"759100\",\"active\":true}", 1);
	user("price", EV_PRICE_CHANGED, "{\"product_id\":\"P-1\","
	    "\"price_bs\":\"35.50\",\"price_usd\":\"1\"}", 2);
	user("stock-in", EV_STOCK_RECEIVED, "{\"product_id\":\"P-1\","
	    "\"qty\":24}", 3);
	user("stock-adj", EV_STOCK_ADJUSTED, "{\"product_id\":\"P-1\","
	    "\"delta\":-2}", 4);
	user("sale", EV_SALE_CREATED, "{\"sale_id\":\"V-1\","
	    "\"customer_id\":\"C-1\",\"on_credit\":true,\"items\":["
	    "{\"product_id\":\"P-1\",\"qty\":2,\"price_bs\":\"35.50\","
	    "\"price_usd\":\"1.00\"},{\"product_id\":\"P-2\",\"qty\":1,"
	    "\"price_bs\":\"3\"}]}", 5);
	user("void", EV_SALE_VOIDED, "{\"sale_id\":\"V-1\"}", 6);
	user("customer", EV_CUSTOMER_UPDATED, "{\"customer_id\":\"C-1\","
	    "\"name\":\"José\",\"phone\":\"0412\",\"address\":\"Calle 5\"}", 7);
	user("payment", EV_DEBT_PAYMENT_ADDED, "{\"customer_id\":\"C-1\","
	    "\"amount_bs\":\"10.25\"}", 8);
	user("note", EV_NOTE_EDITED, "{\"sale_id\":\"V-1\",\"ops\":["
	    "{\"type\":\"INSERT\",\"position\":0,\"text\":\"hola\"},"
	    "{\"type\":\"DELETE\",\"position\":1,\"length\":2}]}", 9);

	if ((pl = calloc(1, sizeof(*pl))) == NULL)
		return 1;
	pl->type = EV_DEVICE_ENROLLED;
	memcpy(pl->device_pk, key->pk, SIG_PK_LEN);
	memset(pl->store_pk, 2, SIG_PK_LEN);
	pl->has_store_pk = 1;
	memset(pl->auth_sig, 3, SIG_LEN);
	pl->role = (struct pl_str){ "admin", 5 };
	pl->name = (struct pl_str){ "caja-1", 6 };
	pl->store_name = (struct pl_str){ "Tienda Centro", 13 };
	agent("enrolled-genesis", pl, 1);
	pl->has_store_pk = 0;
	pl->has_invite_pk = 1;
	memset(pl->invite_pk, 4, SIG_PK_LEN);
	pl->role = (struct pl_str){ "register", 8 };
	agent("enrolled-joined", pl, 1);
	memset(pl, 0, sizeof(*pl));
	pl->type = EV_DEVICE_INVITED;
	memset(pl->invite_pk, 4, SIG_PK_LEN);
	pl->role = (struct pl_str){ "register", 8 };
	pl->expires_ms = 1700000000000ull;
	agent("invited", pl, 10);
	memset(pl, 0, sizeof(*pl));
	pl->type = EV_DEVICE_REVOKED;
	memset(pl->target, 0xab, ID_LEN);
	pl->upto_seq = 12;
	pl->reason = (struct pl_str){ "robada", 6 };
	agent("revoked", pl, 11);
	memset(pl, 0, sizeof(*pl));
	buf_init(&v, 0);
	jv = json_string("35.50");
	if (schema_value_from_json(jv, 1, &v, vmsg) != 0)
		return 1;
	json_decref(jv);
	pl->type = EV_CONFLICT_RESOLVED;
	memset(pl->conflict_id, 0xcc, ID_LEN);
	pl->entity_type = (struct pl_str){ "product", 7 };
	pl->id = (struct pl_str){ "P-1", 3 };
	pl->field = (struct pl_str){ "price_bs", 8 };
	pl->value = v.p;
	pl->value_len = (uint32_t)v.len;
	pl->by = (struct pl_str){ "ana", 3 };
	agent("resolved", pl, 12);
	buf_reset(&v);
	free(pl);

	/* hostile */
	put("hostile-array32-4g", "\xdd\xff\xff\xff\xff", 5);
	put("hostile-map32-4g", "\xdf\xff\xff\xff\xff", 5);
	put("hostile-str32-4g", "\x9c\xdb\xff\xff\xff\xff", 6);
	put("hostile-bin32-payload", "\x08\xc6\xff\xff\xff\xff", 6);
	for (i = 0; i < (int)sizeof(deep) - 1; i++)
		deep[i] = 0x91;
	deep[sizeof(deep) - 1] = 0x00;
	put("hostile-deep", deep, sizeof(deep));
	put("hostile-float", "\x9c\xcb\0\0\0\0\0\0\0\0", 10);
	put("hostile-trailing", "\x09\x81\xa7sale_id\xa1x\x00", 13);
	sig_key_destroy(&key);
	return 0;
}
