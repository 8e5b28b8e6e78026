/*
 * fuzz_event: event_decode, then the payload through schema_decode,
 * schema_encode (must give the same bytes back: one encoding per event)
 * and schema_to_json. Inputs that are not an event are also tried as
 * "type byte || payload" so that the schema decoder is reached directly.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/event.h"
#include "proto/schema.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
payload(int type, const uint8_t *p, size_t len)
{
	struct payload	*pl;
	struct buf	 b;
	json_t		*j = NULL;
	char		*txt;

	if ((pl = malloc(sizeof(*pl))) == NULL)
		return;
	buf_init(&b, 0);
	if (schema_decode(type, p, len, pl) != 0)
		goto out;
	/* Accepted bytes are canonical: re-encoding gives them back. */
	if (schema_encode(pl, &b) != 0 || b.len != len ||
	    memcmp(b.p, p, len) != 0)
		abort();
	if (schema_to_json(type, p, len, &j) != 0)
		abort();	/* decodable implies renderable */
	if ((txt = json_dumps(j, JSON_COMPACT)) == NULL)
		abort();
	free(txt);
out:
	json_decref(j);
	buf_reset(&b);
	free(pl);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int	ready;
	struct event	ev;
	uint8_t		id[HASH_LEN];

	if (!ready) {
		if (sig_init() != 0)
			abort();
		ready = 1;
	}
	if (event_decode(&ev, data, size) == 0) {
		if (ev.frame != data || ev.frame_len != size ||
		    ev.signed_len + 2 + SIG_LEN != size)
			abort();
		event_id(&ev, id);
		payload(ev.type, ev.payload, ev.payload_len);
	} else if (size >= 1)
		payload(data[0] % EV_TYPE_MAX, data + 1, size - 1);
	return 0;
}
