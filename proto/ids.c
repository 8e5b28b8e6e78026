/*
 * ids: fixed-size identifiers and their text forms.
 */
#include <string.h>

#include "proto/ids.h"

static const char hexdig[] = "0123456789abcdef";

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void
ids_hex(char *out, const uint8_t *bin, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++) {
		out[2 * i] = hexdig[bin[i] >> 4];
		out[2 * i + 1] = hexdig[bin[i] & 0xf];
	}
	out[2 * len] = '\0';
}

int
ids_unhex(uint8_t *bin, size_t len, const char *hex)
{
	size_t	i;
	int	hi, lo;

	if (hex == NULL)
		return CAJA_EDECODE;
	for (i = 0; i < len; i++) {
		if ((hi = hexval((unsigned char)hex[2 * i])) < 0)
			return CAJA_EDECODE;
		if ((lo = hexval((unsigned char)hex[2 * i + 1])) < 0)
			return CAJA_EDECODE;
		bin[i] = (uint8_t)(hi << 4 | lo);
	}
	if (hex[2 * len] != '\0')
		return CAJA_EDECODE;
	return 0;
}

int
ids_has_prefix(const uint8_t *bin, size_t len, const char *hex)
{
	size_t	i, n;
	int	v, want;

	if (hex == NULL)
		return 0;
	n = strlen(hex);
	if (n < ID_PREFIX_MIN || n > 2 * len)
		return 0;
	for (i = 0; i < n; i++) {
		if ((v = hexval((unsigned char)hex[i])) < 0)
			return 0;
		want = (i % 2 == 0) ? bin[i / 2] >> 4 : bin[i / 2] & 0xf;
		if (v != want)
			return 0;
	}
	return 1;
}

int
ids_cmp(const uint8_t *a, const uint8_t *b, size_t len)
{
	return memcmp(a, b, len);
}
