/*
 * cevent: vector clocks read from a request: JSON, or the compact text
 * of vclock_compact() (read by vclock_parse_compact(), proto/vclock.h).
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

int
cevent_vclock_parse(const char *s, struct vclock *vc)
{
	json_t		*j;
	int		 rc;

	while (s != NULL && *s == ' ')
		s++;
	if (s != NULL && *s == '{') {
		if ((j = json_loads(s, JSON_REJECT_DUPLICATES, NULL)) == NULL)
			return CAJA_EDECODE;
		rc = evjson_vclock_parse(j, vc);
		json_decref(j);
		return rc;
	}
	return vclock_parse_compact(s, vc);
}
