/*
 * cloudmsg: encoding and parsing of the uplink's HTTP bodies (cloudmsg.h).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "agent/cloudmsg.h"

static int
parse_seq(const char *p, size_t n, uint64_t *out)
{
	uint64_t	v = 0;
	size_t		i;

	if (n == 0 || n > 19)
		return CAJA_EDECODE;
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return CAJA_EDECODE;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	if (v > (uint64_t)INT64_MAX)	/* the wire's limit on a seq */
		return CAJA_EDECODE;
	*out = v;
	return 0;
}

static int
put_hex(struct vclock *vc, const char *hex, size_t n, uint64_t seq)
{
	char	tmp[ID_HEX];
	uint8_t	id[ID_LEN];

	if (n != ID_HEX - 1)
		return CAJA_EDECODE;
	memcpy(tmp, hex, n);
	tmp[n] = '\0';
	if (ids_unhex(id, ID_LEN, tmp) != 0)
		return CAJA_EDECODE;
	if (seq == 0)
		return 0;
	if (vclock_get(vc, id) != 0)
		return CAJA_EDECODE;	/* twice */
	return vclock_set(vc, id, seq) == 0 ? 0 : CAJA_EDECODE;
}

int
cloudmsg_vclock_parse(const char *s, struct vclock *vc)
{
	const char	*p, *colon, *comma;
	uint64_t	 seq;
	int		 rc;

	vclock_init(vc);
	if (s == NULL)
		return 0;
	while (*s == ' ')
		s++;
	if (*s == '\0')
		return 0;
	for (p = s;; p = comma + 1) {
		comma = strchr(p, ',');
		if (comma == NULL)
			comma = p + strlen(p);
		colon = memchr(p, ':', (size_t)(comma - p));
		if (colon == NULL)
			return CAJA_EDECODE;
		if ((rc = parse_seq(colon + 1, (size_t)(comma - colon - 1),
		    &seq)) != 0 ||
		    (rc = put_hex(vc, p, (size_t)(colon - p), seq)) != 0)
			return rc;
		if (*comma == '\0')
			return 0;
	}
}

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
	json_t		*j = NULL, *v, *res, *e;
	const char	*k, *st;
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
	v = json_object_get(j, "vector_clock");
	if (!json_is_object(v) || json_object_size(v) > VCLOCK_MAX)
		goto out;
	json_object_foreach(v, k, e) {
		if (!json_is_integer(e) || json_integer_value(e) < 0 ||
		    put_hex(&r->vc, k, strlen(k),
		    (uint64_t)json_integer_value(e)) != 0)
			goto out;
	}
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
