/*
 * buf: a growable byte buffer with a hard maximum.
 */
#include <stdlib.h>
#include <string.h>

#include "proto/buf.h"

void
buf_init(struct buf *b, size_t max)
{
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void
buf_reset(struct buf *b)
{
	if (b == NULL)
		return;
	free(b->p);
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
}

void
buf_clear(struct buf *b)
{
	b->len = 0;
}

int
buf_reserve(struct buf *b, size_t extra)
{
	size_t	 max, need, cap;
	uint8_t	*np;

	max = b->max ? b->max : BUF_MAX_DEFAULT;
	if (extra > max || b->len > max - extra)
		return CAJA_ETOOBIG;
	need = b->len + extra;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > max / 2 ? max : cap * 2;
	if (cap > max)
		cap = max;
	np = realloc(b->p, cap);
	if (np == NULL)
		return CAJA_ENOMEM;
	b->p = np;
	b->cap = cap;
	return 0;
}

int
buf_add(struct buf *b, const void *data, size_t len)
{
	int	rc;

	if (len == 0)
		return 0;
	/* fast path: the codec writer calls this once per msgpack token */
	if (b->cap - b->len < len && (rc = buf_reserve(b, len)) != 0)
		return rc;
	memcpy(b->p + b->len, data, len);
	b->len += len;
	return 0;
}
