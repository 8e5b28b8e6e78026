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
#include "proto/evjson.h"
#include "proto/hlc.h"
#include "proto/schema.h"
#include "tools/caja-cloud/cloud.h"

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
