/*
 * vclock: vector clocks over device ids, kept sorted by device id.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "proto/vclock.h"

void
vclock_init(struct vclock *v)
{
	v->n = 0;
}

void
vclock_copy(struct vclock *dst, const struct vclock *src)
{
	uint32_t	n = src->n <= VCLOCK_MAX ? src->n : VCLOCK_MAX;

	dst->n = n;
	memcpy(dst->e, src->e, n * sizeof(src->e[0]));
}

/* Index of dev, or of where it would be inserted; *found set when there. */
static uint32_t
find(const struct vclock *v, const uint8_t dev[ID_LEN], int *found)
{
	uint32_t	lo = 0, hi = v->n, mid;
	int		c;

	*found = 0;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = memcmp(v->e[mid].dev, dev, ID_LEN);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

uint64_t
vclock_get(const struct vclock *v, const uint8_t dev[ID_LEN])
{
	uint32_t	i;
	int		found;

	i = find(v, dev, &found);
	return found ? v->e[i].seq : 0;
}

int
vclock_set(struct vclock *v, const uint8_t dev[ID_LEN], uint64_t seq)
{
	uint32_t	i;
	int		found;

	i = find(v, dev, &found);
	if (found) {
		if (seq == 0) {
			memmove(&v->e[i], &v->e[i + 1],
			    (v->n - i - 1) * sizeof(v->e[0]));
			v->n--;
		} else
			v->e[i].seq = seq;
		return 0;
	}
	if (seq == 0)
		return 0;
	if (v->n >= VCLOCK_MAX)
		return CAJA_ETOOBIG;
	memmove(&v->e[i + 1], &v->e[i], (v->n - i) * sizeof(v->e[0]));
	memcpy(v->e[i].dev, dev, ID_LEN);
	v->e[i].seq = seq;
	v->n++;
	return 0;
}

int
vclock_merge(struct vclock *a, const struct vclock *b)
{
	struct vclock	r;
	uint32_t	i = 0, j = 0;
	int		c;

	r.n = 0;
	while (i < a->n || j < b->n) {
		if (r.n >= VCLOCK_MAX)
			return CAJA_ETOOBIG;
		if (i == a->n)
			c = 1;
		else if (j == b->n)
			c = -1;
		else
			c = memcmp(a->e[i].dev, b->e[j].dev, ID_LEN);
		if (c < 0)
			r.e[r.n++] = a->e[i++];
		else if (c > 0)
			r.e[r.n++] = b->e[j++];
		else {
			r.e[r.n] = a->e[i];
			if (b->e[j].seq > r.e[r.n].seq)
				r.e[r.n].seq = b->e[j].seq;
			r.n++;
			i++;
			j++;
		}
	}
	memcpy(a->e, r.e, r.n * sizeof(r.e[0]));
	a->n = r.n;
	return 0;
}

enum vclock_order
vclock_cmp(const struct vclock *a, const struct vclock *b)
{
	uint32_t	i = 0, j = 0;
	uint64_t	x, y;
	int		less = 0, greater = 0, c;

	while (i < a->n || j < b->n) {
		if (i == a->n)
			c = 1;
		else if (j == b->n)
			c = -1;
		else
			c = memcmp(a->e[i].dev, b->e[j].dev, ID_LEN);
		x = y = 0;
		if (c <= 0)
			x = a->e[i++].seq;
		if (c >= 0)
			y = b->e[j++].seq;
		if (x < y)
			less = 1;
		else if (x > y)
			greater = 1;
	}
	if (less && greater)
		return VCLOCK_CONCURRENT;
	if (less)
		return VCLOCK_BEFORE;
	if (greater)
		return VCLOCK_AFTER;
	return VCLOCK_EQUAL;
}

int
vclock_covers(const struct vclock *a, const struct vclock *b)
{
	enum vclock_order	o;

	o = vclock_cmp(a, b);
	return o == VCLOCK_EQUAL || o == VCLOCK_AFTER;
}

int
vclock_delta(const struct vclock *base, const struct vclock *cur,
    struct vclock *delta)
{
	uint32_t	i;

	delta->n = 0;
	for (i = 0; i < cur->n; i++) {
		if (cur->e[i].seq > vclock_get(base, cur->e[i].dev))
			delta->e[delta->n++] = cur->e[i];
	}
	return 0;
}

int
vclock_apply_delta(struct vclock *base, const struct vclock *delta)
{
	return vclock_merge(base, delta);
}

int
vclock_compact(const struct vclock *v, struct buf *b)
{
	char		 hex[ID_HEX], num[24];
	uint32_t	 i;
	int		 rc = 0;

	buf_clear(b);
	for (i = 0; i < v->n && rc == 0; i++) {
		ids_hex(hex, v->e[i].dev, ID_LEN);
		(void)snprintf(num, sizeof(num), ":%" PRIu64, v->e[i].seq);
		if (i > 0)
			rc = buf_add(b, ",", 1);
		if (rc == 0)
			rc = buf_add(b, hex, ID_HEX - 1);
		if (rc == 0)
			rc = buf_add(b, num, strlen(num));
	}
	if (rc == 0)
		rc = buf_add(b, "", 1);
	return rc;
}

/* A seq of the text form: decimal digits, at most INT64_MAX (the wire's
 * limit on a seq). */
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
	if (v > (uint64_t)INT64_MAX)
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
vclock_parse_compact(const char *s, struct vclock *vc)
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
