/*
 * evjson: see evjson.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/event.h"
#include "proto/evjson.h"
#include "proto/hlc.h"
#include "proto/ids.h"
#include "proto/schema.h"

json_t *
evjson_hex(const uint8_t *b, size_t len)
{
	char	hex[2 * EVJSON_HEX_MAX + 1];

	if (len > EVJSON_HEX_MAX)
		return NULL;
	ids_hex(hex, b, len);
	return json_string(hex);
}

json_t *
evjson_time(uint64_t hlc)
{
	char		out[64];
	time_t		sec = (time_t)(HLC_MS(hlc) / 1000);
	struct tm	tm;

	if (gmtime_r(&sec, &tm) == NULL)
		return json_string("");
	snprintf(out, sizeof(out), "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (unsigned)(HLC_MS(hlc) % 1000));
	return json_string(out);
}

json_t *
evjson_vclock(const struct vclock *vc)
{
	json_t		*o;
	char		 hex[ID_HEX];
	uint32_t	 i;

	if ((o = json_object()) == NULL)
		return NULL;
	for (i = 0; i < vc->n; i++) {
		ids_hex(hex, vc->e[i].dev, ID_LEN);
		if (json_object_set_new(o, hex,
		    json_integer((json_int_t)vc->e[i].seq)) != 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

int
evjson_vclock_parse(const json_t *o, struct vclock *vc)
{
	const char	*k;
	json_t		*v;
	uint8_t		 dev[ID_LEN];

	vclock_init(vc);
	if (!json_is_object(o) || json_object_size(o) > VCLOCK_MAX)
		return CAJA_EDECODE;
	json_object_foreach((json_t *)o, k, v) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    strlen(k) != ID_HEX - 1 || ids_unhex(dev, ID_LEN, k) != 0 ||
		    vclock_get(vc, dev) != 0 ||
		    vclock_set(vc, dev, (uint64_t)json_integer_value(v)) != 0)
			return CAJA_EDECODE;
	}
	return 0;
}

static int
set(json_t *o, const char *k, json_t *v)
{
	if (v == NULL)
		return CAJA_ENOMEM;
	return json_object_set_new(o, k, v) == 0 ? 0 : CAJA_ENOMEM;
}

int
evjson_event(const uint8_t *frame, size_t len, int flags, json_t **out)
{
	struct event	*ev;
	json_t		*o = NULL, *pl = NULL;
	uint8_t		 id[HASH_LEN];
	const char	*tn;
	int		 full = (flags & EVJSON_FULL) != 0, rc;

	*out = NULL;
	if ((ev = malloc(sizeof(*ev))) == NULL)
		return CAJA_ENOMEM;
	if ((rc = event_decode(ev, frame, len)) != 0)
		goto out;
	event_id(ev, id);
	if (schema_to_json(ev->type, ev->payload, ev->payload_len, &pl) != 0)
		pl = json_null();
	tn = event_type_name(ev->type);
	if ((o = json_object()) == NULL) {
		rc = CAJA_ENOMEM;
		goto out;
	}
	if ((rc = set(o, "event_id", evjson_hex(id, HASH_LEN))) ||
	    (full && (rc = set(o, "store_id", evjson_hex(ev->store,
	    ID_LEN)))) ||
	    (rc = set(o, "device_id", evjson_hex(ev->dev, ID_LEN))) ||
	    (rc = set(o, "seq", json_integer((json_int_t)ev->seq))) ||
	    (full && (rc = set(o, "prev", evjson_hex(ev->prev, HASH_LEN)))) ||
	    (rc = set(o, "hlc", json_integer((json_int_t)ev->hlc))) ||
	    (rc = set(o, "time", evjson_time(ev->hlc))) ||
	    (rc = set(o, "type", json_string(tn != NULL ? tn : "?"))) ||
	    (rc = set(o, "entity", json_string(ev->entity))))
		goto out;
	if (full && ((rc = set(o, "causal_context", evjson_vclock(&ev->ctx))) ||
	    (rc = set(o, "state", evjson_hex(ev->state, HASH_LEN))) ||
	    (rc = set(o, "sig", evjson_hex(ev->sig, SIG_LEN)))))
		goto out;
	rc = set(o, "payload", pl);
	pl = NULL;
out:
	free(ev);
	json_decref(pl);
	if (rc != 0)
		json_decref(o);
	else
		*out = o;
	return rc;
}
