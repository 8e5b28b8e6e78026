/*
 * ident: enrollment messages and invite tokens.
 *
 * Token bytes: store_pk (32) || invite seed (32) || expires_ms (8, big
 * endian), base64url without padding, after "caja1-".
 */
#include <string.h>

#include <sodium.h>

#include "proto/ident.h"

#define ENROLL_TAG	"caja-enroll-v1"
#define TOKEN_BIN	(SIG_PK_LEN + SIG_SEED_LEN + 8)

size_t
ident_enroll_msg(uint8_t *out, size_t cap, const uint8_t store_id[ID_LEN],
    const uint8_t device_pk[SIG_PK_LEN], const char *role, size_t role_len,
    const char *name, size_t name_len)
{
	size_t	tag = sizeof(ENROLL_TAG) - 1, need, off = 0;

	if (role_len > IDENT_ROLE_MAX || name_len > IDENT_NAME_MAX)
		return 0;
	need = tag + ID_LEN + SIG_PK_LEN + role_len + 1 + name_len;
	if (need > cap)
		return 0;
	memcpy(out + off, ENROLL_TAG, tag);
	off += tag;
	memcpy(out + off, store_id, ID_LEN);
	off += ID_LEN;
	memcpy(out + off, device_pk, SIG_PK_LEN);
	off += SIG_PK_LEN;
	if (role_len > 0)
		memcpy(out + off, role, role_len);
	off += role_len;
	out[off++] = 0;
	if (name_len > 0)
		memcpy(out + off, name, name_len);
	off += name_len;
	return off;
}

int
ident_token_encode(const struct ident_token *t, char *out, size_t cap)
{
	uint8_t	bin[TOKEN_BIN];
	size_t	plen = sizeof(IDENT_TOKEN_PREFIX "-") - 1, b64len;
	int	k;

	b64len = sodium_base64_ENCODED_LEN(TOKEN_BIN,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	if (cap < plen + b64len)	/* b64len counts the NUL */
		return CAJA_ETOOBIG;
	memcpy(bin, t->store_pk, SIG_PK_LEN);
	memcpy(bin + SIG_PK_LEN, t->invite_seed, SIG_SEED_LEN);
	for (k = 0; k < 8; k++)
		bin[SIG_PK_LEN + SIG_SEED_LEN + k] =
		    (uint8_t)(t->expires_ms >> (56 - 8 * k));
	memcpy(out, IDENT_TOKEN_PREFIX "-", plen);
	sodium_bin2base64(out + plen, cap - plen, bin, sizeof(bin),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(bin, sizeof(bin));
	return 0;
}

int
ident_token_decode(struct ident_token *t, const char *s)
{
	uint8_t		 bin[TOKEN_BIN];
	size_t		 plen = sizeof(IDENT_TOKEN_PREFIX "-") - 1;
	size_t		 n, blen;
	const char	*end;
	int		 k, rc = CAJA_EDECODE;

	if (s == NULL)
		return CAJA_EDECODE;
	n = strnlen(s, IDENT_TOKEN_MAX + 1);
	if (n > IDENT_TOKEN_MAX)
		return CAJA_EDECODE;
	if (n < plen || memcmp(s, IDENT_TOKEN_PREFIX "-", plen) != 0)
		return CAJA_EDECODE;
	if (sodium_base642bin(bin, sizeof(bin), s + plen, n - plen, NULL,
	    &blen, &end, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
		goto out;
	if (blen != TOKEN_BIN || end != s + n)
		goto out;
	memcpy(t->store_pk, bin, SIG_PK_LEN);
	memcpy(t->invite_seed, bin + SIG_PK_LEN, SIG_SEED_LEN);
	t->expires_ms = 0;
	for (k = 0; k < 8; k++)
		t->expires_ms = t->expires_ms << 8 |
		    bin[SIG_PK_LEN + SIG_SEED_LEN + k];
	rc = 0;
out:
	sodium_memzero(bin, sizeof(bin));
	return rc;
}

int
ident_role_is_valid(const char *s, size_t len)
{
	static const char *const roles[] = { "admin", "register", "cloud" };
	size_t	i;

	if (s == NULL)
		return 0;
	for (i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		if (strlen(roles[i]) == len && memcmp(roles[i], s, len) == 0)
			return 1;
	return 0;
}
