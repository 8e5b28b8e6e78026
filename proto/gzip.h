/*
 * gzip: a body compressed as gzip (RFC 1952), as the uplink pushes it to
 * caja-cloud and caja-cloud answers a pull (tools/caja-cloud/API.md,
 * "Content-Encoding: gzip"). One compressor for both sides and the
 * benchmark that measures what they send.
 *
 * Pure: no I/O, in memory, zlib's deflate; any thread. The caller owns
 * the output buf.
 */
#ifndef CAJA_GZIP_H
#define CAJA_GZIP_H

#include <stddef.h>
#include <stdint.h>

#include "proto/buf.h"
#include "proto/err.h"

#define GZIP_LEVEL	6	/* zlib's default: most of the gain, fast */

/*
 * The len bytes at in, compressed as one gzip member, into out (cleared
 * first). CAJA_ENOMEM, or CAJA_ETOOBIG when zlib's bound on the output
 * is past out's maximum (or len past 4 GiB).
 */
int	gzip_encode(const uint8_t *in, size_t len, struct buf *out) CAJA_WUR;

#endif
