/*
 * cloudreq: the message of a signed request to caja-cloud (cloudreq.h).
 */
#include <stdlib.h>
#include <string.h>

#include "proto/cloudreq.h"
#include "proto/ids.h"
#include "proto/sig.h"

/* By name, then by value: a total order, so both sides sort alike. */
static int
arg_cmp(const void *x, const void *y)
{
	const struct cloudreq_arg	*a = x, *b = y;
	int				 c;

	if ((c = strcmp(a->name, b->name)) != 0)
		return c;
	return strcmp(a->value, b->value);
}

static int
line(struct buf *b, const char *s)
{
	int	rc;

	if (s == NULL)
		s = "";
	if ((rc = buf_add(b, s, strlen(s))) != 0)
		return rc;
	return buf_add(b, "\n", 1);
}

int
cloudreq_message(struct buf *b, const char *method, const char *path,
    const char *store, const char *device, const char *time_ms,
    struct cloudreq_arg *args, size_t nargs, const uint8_t *body,
    size_t body_len)
{
	uint8_t	h[HASH_LEN];
	char	hex[HASH_HEX];
	size_t	i;
	int	rc;

	buf_clear(b);
	if (nargs > 1)
		qsort(args, nargs, sizeof(*args), arg_cmp);
	if ((rc = line(b, CLOUDREQ_VERSION)) != 0 ||
	    (rc = line(b, method)) != 0 || (rc = line(b, path)) != 0 ||
	    (rc = line(b, store)) != 0 || (rc = line(b, device)) != 0 ||
	    (rc = line(b, time_ms)) != 0)
		return rc;
	for (i = 0; i < nargs; i++) {
		if (i > 0 && (rc = buf_add(b, "&", 1)) != 0)
			return rc;
		if ((rc = buf_add(b, args[i].name, strlen(args[i].name))) ||
		    (rc = buf_add(b, "=", 1)) ||
		    (rc = buf_add(b, args[i].value, strlen(args[i].value))))
			return rc;
	}
	if ((rc = buf_add(b, "\n", 1)) != 0)
		return rc;
	sig_hash(h, body != NULL ? body : (const uint8_t *)"", body_len);
	ids_hex(hex, h, HASH_LEN);
	return buf_add(b, hex, HASH_HEX - 1);
}
