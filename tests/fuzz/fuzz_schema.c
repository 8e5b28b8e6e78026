/*
 * fuzz_schema: the JSON payload path (schema_from_json), where POS apps
 * and cajactl hand caja untrusted JSON, and the conflict value path
 * (schema_value_from_json, cajactl resolve --value).
 *
 * Input: one byte selecting the event type (low 7 bits, modulo
 * EV_TYPE_MAX) and money for values (high bit), then JSON text. Holds the
 * decoders to their contract: a refusal says why; an accepted payload
 * decodes back (schema_decode), names the entity it returned, re-encodes
 * to the same bytes, and survives the trip to JSON and back unchanged;
 * an accepted value does the same. Any breach aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "proto/event.h"
#include "proto/schema.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
same_bytes(const struct buf *a, const struct buf *b)
{
	if (a->len != b->len || memcmp(a->p, b->p, a->len) != 0)
		abort();
}

static void
payload(int type, const json_t *j)
{
	struct payload	*pl;
	struct buf	 b, b2;
	json_t		*back = NULL;
	char		 ent[EVENT_ENTITY_MAX + 1];
	char		 ent2[EVENT_ENTITY_MAX + 1];
	char		 msg[SCHEMA_ERRMSG];

	if ((pl = malloc(sizeof(*pl))) == NULL)
		abort();
	buf_init(&b, EVENT_PAYLOAD_MAX);
	buf_init(&b2, EVENT_PAYLOAD_MAX);
	if (schema_from_json(type, j, &b, ent, msg) != 0) {
		if (msg[0] == '\0' || b.len != 0)
			abort();	/* a refusal names why, writes nothing */
		goto out;
	}
	if (schema_decode(type, b.p, b.len, pl) != 0)
		abort();
	if (pl->id.len != strlen(ent) || memcmp(pl->id.p, ent, pl->id.len))
		abort();
	if (schema_encode(pl, &b2) != 0)
		abort();
	same_bytes(&b, &b2);
	if (schema_to_json(type, b.p, b.len, &back) != 0)
		abort();
	buf_clear(&b2);
	if (schema_from_json(type, back, &b2, ent2, msg) != 0 ||
	    strcmp(ent, ent2) != 0)
		abort();
	same_bytes(&b, &b2);
out:
	json_decref(back);
	buf_reset(&b);
	buf_reset(&b2);
	free(pl);
}

static void
value(int money, const json_t *j)
{
	struct buf	 b, b2;
	json_t		*back = NULL;
	char		 msg[SCHEMA_ERRMSG];

	buf_init(&b, 0);
	buf_init(&b2, 0);
	if (schema_value_from_json(j, money, &b, msg) != 0) {
		if (b.len != 0)
			abort();
		goto out;
	}
	if (schema_value_to_json(b.p, b.len, money, &back) != 0 ||
	    schema_value_from_json(back, money, &b2, msg) != 0)
		abort();
	same_bytes(&b, &b2);
out:
	json_decref(back);
	buf_reset(&b);
	buf_reset(&b2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t	 jerr;
	json_t		*j;

	if (size < 1 || size > EVENT_PAYLOAD_MAX * 2)
		return 0;
	j = json_loadb((const char *)data + 1, size - 1,
	    JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (j == NULL)
		return 0;
	payload((data[0] & 0x7f) % EV_TYPE_MAX, j);
	value(data[0] >> 7, j);
	json_decref(j);
	return 0;
}
