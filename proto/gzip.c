/*
 * gzip: a body compressed as gzip (gzip.h).
 */
#include <string.h>

#include <zlib.h>

#include "proto/gzip.h"

int
gzip_encode(const uint8_t *in, size_t len, struct buf *out)
{
	z_stream	z;
	uLong		bound;
	int		rc;

	buf_clear(out);
	if (len > UINT32_MAX)		/* zlib counts in uInt */
		return CAJA_ETOOBIG;
	memset(&z, 0, sizeof(z));
	/* windowBits 15 + 16: a gzip header and trailer, not zlib's */
	if (deflateInit2(&z, GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK)
		return CAJA_ENOMEM;
	bound = deflateBound(&z, (uLong)len) + 32;
	if ((rc = buf_reserve(out, bound)) != 0) {
		deflateEnd(&z);
		return rc;
	}
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	z.next_out = out->p;
	z.avail_out = (uInt)bound;
	/* Z_FINISH into deflateBound()'s room ends the stream in one call */
	rc = deflate(&z, Z_FINISH) == Z_STREAM_END ? 0 : CAJA_ENOMEM;
	out->len = bound - z.avail_out;
	deflateEnd(&z);
	return rc;
}
