/*
 * cevent: an event's exact bytes as JSON; vector clocks as JSON, and
 * read from text (vclock_compact(), proto/vclock.h, writes it).
 *
 * The JSON form is what the events table keeps next to the signed bytes,
 * and the "full JSON event" of the bytes-per-event benchmark.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/event.h"
#include "proto/hlc.h"
#include "proto/schema.h"
#include "tools/caja-cloud/cloud.h"

static json_t *
jhex(const uint8_t *b, size_t len)
{
	char	hex[2 * HASH_LEN + 1];

	if (len > HASH_LEN * 2)
		return NULL;
	if (len > HASH_LEN) {
		char	*big = malloc(2 * len + 1);
		json_t	*j;

		if (big == NULL)
			return NULL;
		ids_hex(big, b, len);
		j = json_string(big);
		free(big);
		return j;
	}
	ids_hex(hex, b, len);
	return json_string(hex);
}

static json_t *
jtime(uint64_t hlc)
{
	char		out[96];
	time_t		sec = (time_t)(HLC_MS(hlc) / 1000);
	struct tm	tm;

	gmtime_r(&sec, &tm);
	snprintf(out, sizeof(out), "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (unsigned)(HLC_MS(hlc) % 1000));
	return json_string(out);
}

json_t *
cevent_vclock_json(const struct vclock *vc)
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

static int
set(json_t *o, const char *k, json_t *v)
{
	if (v == NULL)
		return CAJA_ENOMEM;
	return json_object_set_new(o, k, v) == 0 ? 0 : CAJA_ENOMEM;
}

int
cevent_to_json(const uint8_t *frame, size_t len, json_t **out)
{
	struct event	*ev = NULL;
	json_t		*o = NULL, *pl = NULL;
	uint8_t		 id[HASH_LEN];
	const char	*tn;
	int		 rc;

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
	if ((rc = set(o, "event_id", jhex(id, HASH_LEN))) ||
	    (rc = set(o, "store_id", jhex(ev->store, ID_LEN))) ||
	    (rc = set(o, "device_id", jhex(ev->dev, ID_LEN))) ||
	    (rc = set(o, "seq", json_integer((json_int_t)ev->seq))) ||
	    (rc = set(o, "prev", jhex(ev->prev, HASH_LEN))) ||
	    (rc = set(o, "hlc", json_integer((json_int_t)ev->hlc))) ||
	    (rc = set(o, "time", jtime(ev->hlc))) ||
	    (rc = set(o, "type", json_string(tn != NULL ? tn : "?"))) ||
	    (rc = set(o, "entity", json_string(ev->entity))) ||
	    (rc = set(o, "causal_context", cevent_vclock_json(&ev->ctx))) ||
	    (rc = set(o, "state", jhex(ev->state, HASH_LEN))) ||
	    (rc = set(o, "sig", jhex(ev->sig, SIG_LEN))))
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

static int
parse_seq(const char *p, size_t n, uint64_t *out)
{
	char		 tmp[24], *end;
	unsigned long long v;

	if (n == 0 || n >= sizeof(tmp))
		return CAJA_EDECODE;
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	if (tmp[0] < '0' || tmp[0] > '9')
		return CAJA_EDECODE;
	errno = 0;
	v = strtoull(tmp, &end, 10);
	if (errno != 0 || *end != '\0')
		return CAJA_EDECODE;
	*out = (uint64_t)v;
	return 0;
}

static int
put_entry(struct vclock *vc, const char *hex, size_t hlen, uint64_t seq)
{
	uint8_t	dev[ID_LEN];
	char	tmp[ID_HEX];

	if (hlen != ID_HEX - 1)
		return CAJA_EDECODE;
	memcpy(tmp, hex, hlen);
	tmp[hlen] = '\0';
	if (ids_unhex(dev, ID_LEN, tmp) != 0)
		return CAJA_EDECODE;
	if (vclock_get(vc, dev) != 0)
		return CAJA_EDECODE;	/* twice */
	return vclock_set(vc, dev, seq) == 0 ? 0 : CAJA_EDECODE;
}

int
cevent_vclock_parse(const char *s, struct vclock *vc)
{
	json_t		*j, *v;
	const char	*k, *p, *colon, *comma;
	int		 rc = 0;
	uint64_t	 seq;

	vclock_init(vc);
	if (s == NULL)
		return 0;
	while (*s == ' ')
		s++;
	if (*s == '\0')
		return 0;
	if (*s == '{') {
		if ((j = json_loads(s, JSON_REJECT_DUPLICATES, NULL)) == NULL)
			return CAJA_EDECODE;
		if (!json_is_object(j) || json_object_size(j) > VCLOCK_MAX)
			rc = CAJA_EDECODE;
		json_object_foreach(j, k, v) {
			if (rc != 0)
				break;
			if (!json_is_integer(v) || json_integer_value(v) < 0) {
				rc = CAJA_EDECODE;
				break;
			}
			rc = put_entry(vc, k, strlen(k),
			    (uint64_t)json_integer_value(v));
		}
		json_decref(j);
		return rc;
	}
	for (p = s; *p != '\0' && rc == 0; p = *comma ? comma + 1 : comma) {
		comma = strchr(p, ',');
		if (comma == NULL)
			comma = p + strlen(p);
		colon = memchr(p, ':', (size_t)(comma - p));
		if (colon == NULL)
			return CAJA_EDECODE;
		if ((rc = parse_seq(colon + 1, (size_t)(comma - colon - 1),
		    &seq)) != 0)
			return rc;
		rc = put_entry(vc, p, (size_t)(colon - p), seq);
	}
	return rc;
}
