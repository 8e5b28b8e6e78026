/*
 * codec: canonical msgpack, bounded scanning and zero-copy reading.
 *
 * Canonical form: smallest encoding of every integer and header, map keys
 * are strings sorted bytewise and unique, no floats, no ext types, no nil
 * where a value is required. msgpack-c 4 allocates what a container declares
 * before reading it, so every untrusted buffer goes through codec_scan()
 * first: it walks the bytes without allocating and refuses a container that
 * declares more elements than bytes remain, nesting deeper than
 * CODEC_MAX_DEPTH, more than CODEC_MAX_ITEMS elements in all, a truncated
 * value, float/ext/nil types (unless allowed) and trailing bytes. Pure; any
 * thread.
 */
#ifndef CAJA_CODEC_H
#define CAJA_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "proto/buf.h"
#include "proto/err.h"

#define CODEC_MAX_DEPTH	8
#define CODEC_MAX_ITEMS	8192
#define CODEC_MAX_FRAME	(1024 * 1024)	/* one msgpack document */

/*
 * Checks that buf[0..len) is exactly one well-formed msgpack object within
 * the limits above. 0, CAJA_EDECODE or CAJA_ETOOBIG.
 */
int	codec_scan(const uint8_t *buf, size_t len) CAJA_WUR;
/* Same, but stops after one object and reports its length in *used. */
int	codec_scan_prefix(const uint8_t *buf, size_t len, size_t *used)
	    CAJA_WUR;

/* Flags of codec_scan_flags(). */
#define CODEC_ALLOW_NIL		0x01	/* accept nil */
#define CODEC_ALLOW_FLOAT	0x02	/* accept float32/64 */
#define CODEC_ALLOW_EXT		0x04	/* accept ext and fixext */
/*
 * Also demand the canonical form: smallest encoding of every integer and
 * every str/bin/array/map header (non-negative integers as uint), map keys
 * strings in strictly increasing bytewise order (memcmp, a prefix first).
 */
#define CODEC_CANONICAL		0x08
/*
 * codec_scan() with flags; with used == NULL the object must fill buf
 * exactly (trailing bytes refused), otherwise its length goes to *used.
 */
int	codec_scan_flags(const uint8_t *buf, size_t len, int flags,
	    size_t *used) CAJA_WUR;
/* 1 when p[0..len) is valid UTF-8 (no overlongs, surrogates, > U+10FFFF). */
int	codec_is_utf8(const uint8_t *p, size_t len);

/*
 * A cursor over scanned bytes. Each codec_read_* consumes one value of the
 * named type or returns CAJA_EDECODE (and leaves the cursor unusable).
 * Reads are bounds-checked even on unscanned bytes, and accept any valid
 * encoding of the type (canonical form is the scanner's job): read_uint
 * takes a non-negative int too, read_int a uint up to INT64_MAX. codec_skip
 * skips one whole value (nested ones too, within CODEC_MAX_DEPTH).
 * Strings and bins point into the buffer: valid as long as it is.
 */
struct codec_rd {
	const uint8_t	*p;
	const uint8_t	*end;
};

void	codec_rd_init(struct codec_rd *, const uint8_t *, size_t);
int	codec_read_array(struct codec_rd *, uint32_t *n) CAJA_WUR;
int	codec_read_map(struct codec_rd *, uint32_t *n) CAJA_WUR;
int	codec_read_uint(struct codec_rd *, uint64_t *) CAJA_WUR;
int	codec_read_int(struct codec_rd *, int64_t *) CAJA_WUR;
int	codec_read_bool(struct codec_rd *, int *) CAJA_WUR;
int	codec_read_str(struct codec_rd *, const char **, uint32_t *len)
	    CAJA_WUR;
int	codec_read_bin(struct codec_rd *, const uint8_t **, uint32_t *len)
	    CAJA_WUR;
/* Reads a bin of exactly len bytes into out. */
int	codec_read_fixbin(struct codec_rd *, uint8_t *out, size_t len)
	    CAJA_WUR;
int	codec_skip(struct codec_rd *) CAJA_WUR;
/* Type of the next value: a MSGPACK_OBJECT_* constant, or -1 at the end. */
int	codec_peek(const struct codec_rd *);

/*
 * A writer of canonical msgpack into a struct buf (the smallest form of
 * each value, as msgpack-c's packer writes it; pk is no longer used).
 * Errors stick: check codec_wr_error() once at the end. Do not move or
 * copy it after codec_wr_init().
 * codec_write_int() writes non-negative values as uint (canonical).
 * Writing map keys in sorted order is the caller's job.
 */
struct codec_wr {
	struct buf		*out;
	msgpack_packer		 pk;
	int			 err;
};

void	codec_wr_init(struct codec_wr *, struct buf *);
void	codec_write_array(struct codec_wr *, uint32_t n);
void	codec_write_map(struct codec_wr *, uint32_t n);
void	codec_write_uint(struct codec_wr *, uint64_t);
void	codec_write_int(struct codec_wr *, int64_t);
void	codec_write_bool(struct codec_wr *, int);
void	codec_write_nil(struct codec_wr *);
void	codec_write_str(struct codec_wr *, const char *, size_t);
void	codec_write_cstr(struct codec_wr *, const char *);
void	codec_write_bin(struct codec_wr *, const void *, size_t);
void	codec_write_raw(struct codec_wr *, const void *, size_t);
int	codec_wr_error(const struct codec_wr *) CAJA_WUR;

#endif
