/*
 * codec: canonical msgpack, bounded scanning and zero-copy reading.
 *
 * One header parser (hdr_read) serves the scanner and the reader: it
 * consumes one value's header, and the body of scalars, strings and bins,
 * never reading past end. The scanner keeps an explicit stack of open
 * containers (no recursion, no allocation) and refuses a container that
 * declares more elements than bytes remain, since each element needs at
 * least one byte.
 */
#include <string.h>

#include "proto/codec.h"

enum hkind {
	H_UINT, H_INT, H_NIL, H_BOOL, H_FLOAT, H_STR, H_BIN, H_ARRAY, H_MAP,
	H_EXT
};

struct hdr {
	enum hkind	 kind;
	uint64_t	 u;		/* H_UINT */
	int64_t		 i;		/* H_INT */
	int		 b;		/* H_BOOL */
	uint64_t	 n;		/* str/bin/ext length, array/map size */
	const uint8_t	*data;		/* str/bin body */
	int		 canon;		/* smallest encoding */
};

static uint64_t
be(const uint8_t *p, int n)
{
	uint64_t	v = 0;
	int		k;

	for (k = 0; k < n; k++)
		v = v << 8 | p[k];
	return v;
}

/* Minimum length for a header of (1 << 8*w) bytes: the previous form's max. */
static int
len_canon(uint64_t n, int w, uint64_t fixmax)
{
	switch (w) {
	case 0:
		return 1;
	case 1:
		return n > fixmax;
	case 2:
		return n > 0xff && n > fixmax;
	default:
		return n > 0xffff;
	}
}

/* Inlined: it runs for every value scanned or read. */
static inline __attribute__((always_inline)) int
hdr_read(const uint8_t **pp, const uint8_t *end, struct hdr *h)
{
	const uint8_t	*p = *pp;
	size_t		 left;
	uint8_t		 b;
	int		 w = 0, bodyw;

	if (p >= end)
		return CAJA_EDECODE;
	b = *p++;
	left = (size_t)(end - p);
	/* field by field: this runs for every value read or scanned */
	h->u = 0;
	h->i = 0;
	h->b = 0;
	h->n = 0;
	h->data = NULL;
	h->canon = 1;
	if (b <= 0x7f) {
		h->kind = H_UINT;
		h->u = b;
	} else if (b >= 0xe0) {
		h->kind = H_INT;
		h->i = (int8_t)b;
	} else if (b <= 0x8f) {
		h->kind = H_MAP;
		h->n = b & 0x0f;
	} else if (b <= 0x9f) {
		h->kind = H_ARRAY;
		h->n = b & 0x0f;
	} else if (b <= 0xbf) {
		h->kind = H_STR;
		h->n = b & 0x1f;
		goto body;
	} else {
		switch (b) {
		case 0xc0:
			h->kind = H_NIL;
			break;
		case 0xc2:
		case 0xc3:
			h->kind = H_BOOL;
			h->b = b == 0xc3;
			break;
		case 0xc4:
		case 0xc5:
		case 0xc6:
			h->kind = H_BIN;
			w = 1 << (b - 0xc4);
			if (left < (size_t)w)
				return CAJA_EDECODE;
			h->n = be(p, w);
			p += w;
			left -= w;
			h->canon = w == 1 ? 1 : len_canon(h->n, w, 0);
			goto body;
		case 0xc7:
		case 0xc8:
		case 0xc9:
			h->kind = H_EXT;
			w = 1 << (b - 0xc7);
			if (left < (size_t)w + 1)
				return CAJA_EDECODE;
			h->n = be(p, w) + 1;	/* type byte and data */
			p += w;
			left -= w;
			goto body;
		case 0xca:
		case 0xcb:
			h->kind = H_FLOAT;
			h->n = b == 0xca ? 4 : 8;
			goto body;
		case 0xcc:
		case 0xcd:
		case 0xce:
		case 0xcf:
			h->kind = H_UINT;
			bodyw = 1 << (b - 0xcc);
			if (left < (size_t)bodyw)
				return CAJA_EDECODE;
			h->u = be(p, bodyw);
			p += bodyw;
			switch (bodyw) {
			case 1:
				h->canon = h->u > 0x7f;
				break;
			case 2:
				h->canon = h->u > 0xff;
				break;
			case 4:
				h->canon = h->u > 0xffff;
				break;
			default:
				h->canon = h->u > 0xffffffffu;
				break;
			}
			break;
		case 0xd0:
		case 0xd1:
		case 0xd2:
		case 0xd3:
			h->kind = H_INT;
			bodyw = 1 << (b - 0xd0);
			if (left < (size_t)bodyw)
				return CAJA_EDECODE;
			switch (bodyw) {
			case 1:
				h->i = (int8_t)p[0];
				h->canon = h->i < -32;
				break;
			case 2:
				h->i = (int16_t)(uint16_t)be(p, 2);
				h->canon = h->i < -128;
				break;
			case 4:
				h->i = (int32_t)(uint32_t)be(p, 4);
				h->canon = h->i < -32768;
				break;
			default:
				h->i = (int64_t)be(p, 8);
				h->canon = h->i < -2147483648LL;
				break;
			}
			p += bodyw;
			break;
		case 0xd4:
		case 0xd5:
		case 0xd6:
		case 0xd7:
		case 0xd8:
			h->kind = H_EXT;
			h->n = 1 + ((uint64_t)1 << (b - 0xd4));
			goto body;
		case 0xd9:
		case 0xda:
		case 0xdb:
			h->kind = H_STR;
			w = 1 << (b - 0xd9);
			if (left < (size_t)w)
				return CAJA_EDECODE;
			h->n = be(p, w);
			p += w;
			left -= w;
			h->canon = len_canon(h->n, w, 31);
			goto body;
		case 0xdc:
		case 0xdd:
			h->kind = H_ARRAY;
			w = b == 0xdc ? 2 : 4;
			goto count;
		case 0xde:
		case 0xdf:
			h->kind = H_MAP;
			w = b == 0xde ? 2 : 4;
			goto count;
		default:	/* 0xc1: never used */
			return CAJA_EDECODE;
		}
	}
	*pp = p;
	return 0;
count:
	if (left < (size_t)w)
		return CAJA_EDECODE;
	h->n = be(p, w);
	p += w;
	h->canon = w == 2 ? h->n > 15 : h->n > 0xffff;
	*pp = p;
	return 0;
body:
	if (h->n > left)
		return CAJA_EDECODE;
	h->data = p;
	p += h->n;
	*pp = p;
	return 0;
}

struct frame {
	uint64_t	 left;		/* keys and values to go */
	int		 map;
	const uint8_t	*key;		/* previous key */
	uint64_t	 keylen;
	int		 havekey;
};

int
codec_scan_flags(const uint8_t *buf, size_t len, int flags, size_t *used)
{
	struct frame	 st[CODEC_MAX_DEPTH];
	struct frame	*f;
	struct hdr	 h;
	const uint8_t	*p = buf, *end = buf + len;
	size_t		 depth = 0, items = 0, m;
	uint64_t	 elems;
	int		 iskey, rc, c;

	if (buf == NULL)
		return CAJA_EDECODE;
	for (;;) {
		f = depth > 0 ? &st[depth - 1] : NULL;
		iskey = f != NULL && f->map && f->left % 2 == 0;
		if (++items > CODEC_MAX_ITEMS)
			return CAJA_ETOOBIG;
		/*
		 * Fast path: a value (not a key) in a form that is always
		 * canonical and allowed: fixint, bool, fixstr, bin8. Most of
		 * an event is these.
		 */
		if (!iskey && f != NULL && p < end) {
			c = *p;
			if (c <= 0x7f || c >= 0xe0 || c == 0xc2 || c == 0xc3)
				m = 1;
			else if ((c & 0xe0) == 0xa0)
				m = 1 + (size_t)(c & 0x1f);
			else if (c == 0xc4 && end - p >= 2)
				m = 2 + (size_t)p[1];
			else
				m = 0;
			if (m > 0 && m <= (size_t)(end - p)) {
				p += m;
				f->left--;
				while (depth > 0 && st[depth - 1].left == 0)
					depth--;
				if (depth == 0)
					break;
				continue;
			}
		}
		if ((rc = hdr_read(&p, end, &h)) != 0)
			return rc;
		switch (h.kind) {
		case H_NIL:
			if (!(flags & CODEC_ALLOW_NIL))
				return CAJA_EDECODE;
			break;
		case H_FLOAT:
			if (!(flags & CODEC_ALLOW_FLOAT))
				return CAJA_EDECODE;
			break;
		case H_EXT:
			if (!(flags & CODEC_ALLOW_EXT))
				return CAJA_EDECODE;
			break;
		default:
			break;
		}
		if (flags & CODEC_CANONICAL) {
			if (!h.canon)
				return CAJA_EDECODE;
			if (iskey) {
				if (h.kind != H_STR)
					return CAJA_EDECODE;
				if (f->havekey) {
					m = f->keylen < h.n ? f->keylen : h.n;
					c = memcmp(f->key, h.data, m);
					if (c > 0 ||
					    (c == 0 && f->keylen >= h.n))
						return CAJA_EDECODE;
				}
				f->key = h.data;
				f->keylen = h.n;
				f->havekey = 1;
			}
		}
		if (f != NULL)
			f->left--;
		if (h.kind == H_ARRAY || h.kind == H_MAP) {
			if (depth >= CODEC_MAX_DEPTH)
				return CAJA_ETOOBIG;
			elems = h.kind == H_MAP ? h.n * 2 : h.n;
			if (elems > (uint64_t)(end - p))
				return CAJA_EDECODE;
			if (elems > CODEC_MAX_ITEMS - items)
				return CAJA_ETOOBIG;
			if (elems > 0) {
				f = &st[depth++];
				f->left = elems;
				f->map = h.kind == H_MAP;
				f->key = NULL;
				f->keylen = 0;
				f->havekey = 0;
			}
		}
		while (depth > 0 && st[depth - 1].left == 0)
			depth--;
		if (depth == 0)
			break;
	}
	if (used != NULL)
		*used = (size_t)(p - buf);
	else if (p != end)
		return CAJA_EDECODE;
	return 0;
}

int
codec_scan(const uint8_t *buf, size_t len)
{
	return codec_scan_flags(buf, len, 0, NULL);
}

int
codec_scan_prefix(const uint8_t *buf, size_t len, size_t *used)
{
	size_t	u;
	int	rc;

	if ((rc = codec_scan_flags(buf, len, 0, &u)) != 0)
		return rc;
	*used = u;
	return 0;
}

int
codec_is_utf8(const uint8_t *s, size_t len)
{
	size_t		i = 0, k, n;
	uint32_t	cp, min;
	uint8_t		c;

	while (i < len) {
		c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			n = 1;
			cp = c & 0x1f;
			min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2;
			cp = c & 0x0f;
			min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3;
			cp = c & 0x07;
			min = 0x10000;
		} else
			return 0;
		if (len - i - 1 < n)
			return 0;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

/* Reader */

void
codec_rd_init(struct codec_rd *rd, const uint8_t *p, size_t len)
{
	rd->p = p;
	rd->end = p + len;
}

static int
rd_fail(struct codec_rd *rd)
{
	rd->p = rd->end;
	return CAJA_EDECODE;
}

static int
rd_hdr(struct codec_rd *rd, struct hdr *h)
{
	if (rd->p == NULL || hdr_read(&rd->p, rd->end, h) != 0)
		return rd_fail(rd);
	return 0;
}

/*
 * The readers below first try the one-byte forms that most values take
 * (fixarray, fixmap, fixstr, positive fixint, bin8) without hdr_read():
 * they are what every event and record decode spends its time on.
 */
int
codec_read_array(struct codec_rd *rd, uint32_t *n)
{
	struct hdr	h;

	if (rd->p != NULL && rd->p < rd->end && (*rd->p & 0xf0) == 0x90) {
		*n = *rd->p++ & 0x0f;
		return 0;
	}
	if (rd_hdr(rd, &h) != 0 || h.kind != H_ARRAY)
		return rd_fail(rd);
	*n = (uint32_t)h.n;
	return 0;
}

int
codec_read_map(struct codec_rd *rd, uint32_t *n)
{
	struct hdr	h;

	if (rd->p != NULL && rd->p < rd->end && (*rd->p & 0xf0) == 0x80) {
		*n = *rd->p++ & 0x0f;
		return 0;
	}
	if (rd_hdr(rd, &h) != 0 || h.kind != H_MAP)
		return rd_fail(rd);
	*n = (uint32_t)h.n;
	return 0;
}

int
codec_read_uint(struct codec_rd *rd, uint64_t *v)
{
	struct hdr	h;

	if (rd->p != NULL && rd->p < rd->end && *rd->p <= 0x7f) {
		*v = *rd->p++;
		return 0;
	}
	if (rd_hdr(rd, &h) != 0)
		return CAJA_EDECODE;
	if (h.kind == H_UINT)
		*v = h.u;
	else if (h.kind == H_INT && h.i >= 0)
		*v = (uint64_t)h.i;
	else
		return rd_fail(rd);
	return 0;
}

int
codec_read_int(struct codec_rd *rd, int64_t *v)
{
	struct hdr	h;

	if (rd->p != NULL && rd->p < rd->end && (*rd->p <= 0x7f ||
	    *rd->p >= 0xe0)) {
		*v = (int8_t)*rd->p++;
		return 0;
	}
	if (rd_hdr(rd, &h) != 0)
		return CAJA_EDECODE;
	if (h.kind == H_INT)
		*v = h.i;
	else if (h.kind == H_UINT && h.u <= INT64_MAX)
		*v = (int64_t)h.u;
	else
		return rd_fail(rd);
	return 0;
}

int
codec_read_bool(struct codec_rd *rd, int *v)
{
	struct hdr	h;

	if (rd->p != NULL && rd->p < rd->end && (*rd->p == 0xc2 ||
	    *rd->p == 0xc3)) {
		*v = *rd->p++ == 0xc3;
		return 0;
	}

	if (rd_hdr(rd, &h) != 0 || h.kind != H_BOOL)
		return rd_fail(rd);
	*v = h.b;
	return 0;
}

int
codec_read_str(struct codec_rd *rd, const char **s, uint32_t *len)
{
	struct hdr	h;
	uint32_t	n;

	if (rd->p != NULL && rd->p < rd->end && (*rd->p & 0xe0) == 0xa0) {
		n = *rd->p & 0x1f;
		if (n > (size_t)(rd->end - rd->p) - 1)
			return rd_fail(rd);
		*s = (const char *)rd->p + 1;
		*len = n;
		rd->p += 1 + n;
		return 0;
	}
	if (rd_hdr(rd, &h) != 0 || h.kind != H_STR)
		return rd_fail(rd);
	*s = (const char *)h.data;
	*len = (uint32_t)h.n;
	return 0;
}

int
codec_read_bin(struct codec_rd *rd, const uint8_t **b, uint32_t *len)
{
	struct hdr	h;

	if (rd_hdr(rd, &h) != 0 || h.kind != H_BIN)
		return rd_fail(rd);
	*b = h.data;
	*len = (uint32_t)h.n;
	return 0;
}

int
codec_read_fixbin(struct codec_rd *rd, uint8_t *out, size_t len)
{
	struct hdr	h;

	if (len <= 0xff && rd->p != NULL && (size_t)(rd->end - rd->p) >= 2 &&
	    rd->p[0] == 0xc4 && rd->p[1] == len) {
		if (len > (size_t)(rd->end - rd->p) - 2)
			return rd_fail(rd);
		memcpy(out, rd->p + 2, len);
		rd->p += 2 + len;
		return 0;
	}
	if (rd_hdr(rd, &h) != 0 || h.kind != H_BIN || h.n != len)
		return rd_fail(rd);
	memcpy(out, h.data, len);
	return 0;
}

int
codec_skip(struct codec_rd *rd)
{
	size_t	used;

	if (rd->p == NULL || codec_scan_flags(rd->p, (size_t)(rd->end - rd->p),
	    CODEC_ALLOW_NIL | CODEC_ALLOW_FLOAT | CODEC_ALLOW_EXT, &used) != 0)
		return rd_fail(rd);
	rd->p += used;
	return 0;
}

int
codec_peek(const struct codec_rd *rd)
{
	const uint8_t	*p = rd->p;
	struct hdr	 h;

	if (p == NULL || hdr_read(&p, rd->end, &h) != 0)
		return -1;
	switch (h.kind) {
	case H_UINT:
		return MSGPACK_OBJECT_POSITIVE_INTEGER;
	case H_INT:
		return h.i < 0 ? MSGPACK_OBJECT_NEGATIVE_INTEGER :
		    MSGPACK_OBJECT_POSITIVE_INTEGER;
	case H_NIL:
		return MSGPACK_OBJECT_NIL;
	case H_BOOL:
		return MSGPACK_OBJECT_BOOLEAN;
	case H_FLOAT:
		return h.n == 4 ? MSGPACK_OBJECT_FLOAT32 :
		    MSGPACK_OBJECT_FLOAT64;
	case H_STR:
		return MSGPACK_OBJECT_STR;
	case H_BIN:
		return MSGPACK_OBJECT_BIN;
	case H_ARRAY:
		return MSGPACK_OBJECT_ARRAY;
	case H_MAP:
		return MSGPACK_OBJECT_MAP;
	case H_EXT:
		return MSGPACK_OBJECT_EXT;
	}
	return -1;
}

/*
 * Writer. Canonical msgpack written here directly, each value's header in
 * one piece (smallest form, as msgpack-c's packer writes it and as
 * codec_scan_flags(CODEC_CANONICAL) demands): encoding records and events
 * is a large part of merging, and a callback per token made it slow.
 */

/* Room for len more bytes, or the error sticks. */
static inline uint8_t *
wr_room(struct codec_wr *w, size_t len)
{
	struct buf	*b = w->out;
	int		 rc;

	if (w->err)
		return NULL;
	if (b->cap - b->len < len && (rc = buf_reserve(b, len)) != 0) {
		w->err = rc;
		return NULL;
	}
	return b->p + b->len;
}

static inline void
wr_put(struct codec_wr *w, const uint8_t *p, size_t len)
{
	uint8_t	*d;

	if ((d = wr_room(w, len)) == NULL)
		return;
	memcpy(d, p, len);
	w->out->len += len;
}

static size_t
be_put(uint8_t *p, uint64_t v, int n)
{
	int	k;

	for (k = n - 1; k >= 0; k--) {
		p[k] = (uint8_t)v;
		v >>= 8;
	}
	return (size_t)n;
}

/* A header: fix form below fixmax (or none when fixmax is 0), then the
 * 8-bit (when b8 != 0), 16-bit and 32-bit forms. */
static inline void
wr_len(struct codec_wr *w, uint8_t fix, uint64_t fixmax, uint8_t b8,
    uint8_t b16, uint8_t b32, uint64_t n)
{
	uint8_t	h[5], *d;
	size_t	k;

	if (fix != 0 && n <= fixmax) {
		if ((d = wr_room(w, 1)) != NULL) {
			d[0] = (uint8_t)(fix | n);
			w->out->len++;
		}
		return;
	} else if (b8 != 0 && n <= 0xff) {
		h[0] = b8;
		k = 1 + be_put(h + 1, n, 1);
	} else if (n <= 0xffff) {
		h[0] = b16;
		k = 1 + be_put(h + 1, n, 2);
	} else {
		h[0] = b32;
		k = 1 + be_put(h + 1, n, 4);
	}
	wr_put(w, h, k);
}

void
codec_wr_init(struct codec_wr *w, struct buf *out)
{
	memset(w, 0, sizeof(*w));
	w->out = out;
	w->err = 0;
}

void
codec_write_array(struct codec_wr *w, uint32_t n)
{
	wr_len(w, 0x90, 15, 0, 0xdc, 0xdd, n);
}

void
codec_write_map(struct codec_wr *w, uint32_t n)
{
	wr_len(w, 0x80, 15, 0, 0xde, 0xdf, n);
}

void
codec_write_uint(struct codec_wr *w, uint64_t v)
{
	uint8_t	h[9], *d;
	size_t	k;

	if (v <= 0x7f) {
		/* the common case, in place */
		if ((d = wr_room(w, 1)) != NULL) {
			d[0] = (uint8_t)v;
			w->out->len++;
		}
		return;
	} else if (v <= 0xff) {
		h[0] = 0xcc;
		k = 1 + be_put(h + 1, v, 1);
	} else if (v <= 0xffff) {
		h[0] = 0xcd;
		k = 1 + be_put(h + 1, v, 2);
	} else if (v <= 0xffffffffu) {
		h[0] = 0xce;
		k = 1 + be_put(h + 1, v, 4);
	} else {
		h[0] = 0xcf;
		k = 1 + be_put(h + 1, v, 8);
	}
	wr_put(w, h, k);
}

void
codec_write_int(struct codec_wr *w, int64_t v)
{
	uint8_t	h[9];
	size_t	k;

	if (v >= 0) {
		codec_write_uint(w, (uint64_t)v);
		return;
	}
	if (v >= -32) {
		h[0] = (uint8_t)(int8_t)v;
		k = 1;
	} else if (v >= -128) {
		h[0] = 0xd0;
		k = 1 + be_put(h + 1, (uint64_t)v, 1);
	} else if (v >= -32768) {
		h[0] = 0xd1;
		k = 1 + be_put(h + 1, (uint64_t)v, 2);
	} else if (v >= INT64_C(-2147483648)) {
		h[0] = 0xd2;
		k = 1 + be_put(h + 1, (uint64_t)v, 4);
	} else {
		h[0] = 0xd3;
		k = 1 + be_put(h + 1, (uint64_t)v, 8);
	}
	wr_put(w, h, k);
}

void
codec_write_bool(struct codec_wr *w, int v)
{
	uint8_t	b = v ? 0xc3 : 0xc2;

	wr_put(w, &b, 1);
}

void
codec_write_nil(struct codec_wr *w)
{
	uint8_t	b = 0xc0;

	wr_put(w, &b, 1);
}

void
codec_write_str(struct codec_wr *w, const char *s, size_t len)
{
	if (len > UINT32_MAX) {
		if (!w->err)
			w->err = CAJA_ETOOBIG;
		return;
	}
	wr_len(w, 0xa0, 31, 0xd9, 0xda, 0xdb, len);
	if (len > 0)
		wr_put(w, (const uint8_t *)s, len);
}

void
codec_write_cstr(struct codec_wr *w, const char *s)
{
	codec_write_str(w, s, strlen(s));
}

void
codec_write_bin(struct codec_wr *w, const void *p, size_t len)
{
	if (len > UINT32_MAX) {
		if (!w->err)
			w->err = CAJA_ETOOBIG;
		return;
	}
	wr_len(w, 0, 0, 0xc4, 0xc5, 0xc6, len);
	if (len > 0)
		wr_put(w, p, len);
}

void
codec_write_raw(struct codec_wr *w, const void *p, size_t len)
{
	if (len > 0)
		wr_put(w, p, len);
}

int
codec_wr_error(const struct codec_wr *w)
{
	return w->err;
}
