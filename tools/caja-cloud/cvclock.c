/*
 * cvclock: a vector clock as a request gives it (`since` of a pull): JSON
 * (evjson_vclock_parse()) or the compact text of vclock_compact()
 * (vclock_parse_compact()).
 */
#include <jansson.h>

#include "proto/evjson.h"
#include "tools/caja-cloud/cloud.h"

int
cvclock_parse(const char *s, struct vclock *vc)
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
