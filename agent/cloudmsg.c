/*
 * cloudmsg: encoding and parsing of the uplink's HTTP bodies (cloudmsg.h).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "agent/cloudmsg.h"
#include "proto/evjson.h"

static uint64_t
juint(const json_t *o, const char *k)
{
	json_t	*v = json_object_get(o, k);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return 0;
	return (uint64_t)json_integer_value(v);
}

static void
copy_text(char *out, size_t cap, const char *s)
{
	size_t	i, n = 0;

	if (cap == 0)
		return;
	for (i = 0; s != NULL && s[i] != '\0' && n + 1 < cap; i++)
		out[n++] = isprint((unsigned char)s[i]) ? s[i] : '?';
	out[n] = '\0';
}

int
cloudmsg_push_parse(const char *body, size_t len, struct cloudmsg_push *r)
{
	json_t		*j = NULL, *res, *e;
	const char	*st;
	size_t		 i;
	int		 rc = CAJA_EDECODE;

	memset(r, 0, sizeof(*r));
	vclock_init(&r->vc);
	if (len > CLOUDMSG_BODY_MAX)
		return CAJA_ETOOBIG;
	if ((j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL)) ==
	    NULL || !json_is_object(j))
		goto out;
	r->accepted = juint(j, "accepted");
	r->duplicate = juint(j, "duplicate");
	r->conflicted = juint(j, "conflicted");
	r->rejected = juint(j, "rejected");
	r->retry = juint(j, "retry");
	r->conflicts_pending = (int64_t)juint(j, "conflicts_pending");
	if (evjson_vclock_parse(json_object_get(j, "vector_clock"),
	    &r->vc) != 0)
		goto out;
	res = json_object_get(j, "results");
	if (res != NULL && !json_is_array(res))
		goto out;
	json_array_foreach(res, i, e) {
		struct cloudmsg_reject	*x;
		const char		*dev;

		r->results++;
		st = json_string_value(json_object_get(e, "status"));
		if (st == NULL || strcmp(st, "rejected") != 0)
			continue;
		if (r->first_error[0] == '\0') {
			char	line[CLOUDMSG_ERRMSG];

			(void)snprintf(line, sizeof(line), "rejected: %s: %s",
			    json_string_value(json_object_get(e, "error")) ?
			    json_string_value(json_object_get(e, "error")) :
			    "?", json_string_value(json_object_get(e,
			    "reason")) ? json_string_value(json_object_get(e,
			    "reason")) : "");
			copy_text(r->first_error, sizeof(r->first_error),
			    line);
		}
		if (json_is_true(json_object_get(e, "retry")) ||
		    r->nreject == CLOUDMSG_REJECT_MAX)
			continue;
		dev = json_string_value(json_object_get(e, "device_id"));
		x = &r->reject[r->nreject];
		if (dev == NULL || strlen(dev) != ID_HEX - 1 ||
		    ids_unhex(x->dev, ID_LEN, dev) != 0 ||
		    (x->seq = juint(e, "seq")) == 0)
			continue;	/* malformed frame: no device */
		copy_text(x->error, sizeof(x->error),
		    json_string_value(json_object_get(e, "error")));
		r->nreject++;
	}
	rc = 0;
out:
	json_decref(j);
	return rc;
}

void
cloudmsg_error_text(const char *body, size_t len, char *out, size_t cap)
{
	json_t		*j;
	const char	*e;
	char		 tmp[CLOUDMSG_ERRMSG];
	size_t		 n;

	if (cap == 0)
		return;
	out[0] = '\0';
	if (body == NULL || len == 0)
		return;
	if (len < 64 * 1024 && (j = json_loadb(body, len, 0, NULL)) != NULL) {
		e = json_string_value(json_object_get(j, "error"));
		copy_text(out, cap, e);
		json_decref(j);
		if (out[0] != '\0')
			return;
	}
	n = len < sizeof(tmp) - 1 ? len : sizeof(tmp) - 1;
	memcpy(tmp, body, n);
	tmp[n] = '\0';
	copy_text(out, cap, tmp);
}

uint32_t
cloudmsg_retry_after(const char *v)
{
	uint64_t	n = 0;

	if (v == NULL)
		return 0;
	while (*v == ' ' || *v == '\t')
		v++;
	if (*v < '0' || *v > '9')
		return 0;
	while (*v >= '0' && *v <= '9') {
		n = n * 10 + (uint64_t)(*v - '0');
		if (n > 3600)
			return 3600;
		v++;
	}
	while (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n')
		v++;
	return *v == '\0' ? (uint32_t)n : 0;
}
