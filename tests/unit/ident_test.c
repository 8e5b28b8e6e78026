/*
 * ident: enrollment message layout and invite tokens.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "proto/ident.h"

Test(ident, enroll_msg_layout)
{
	uint8_t	out[512], store[ID_LEN], pk[SIG_PK_LEN];
	size_t	n;

	memset(store, 0x11, sizeof(store));
	memset(pk, 0x22, sizeof(pk));
	n = ident_enroll_msg(out, sizeof(out), store, pk, "register", 8,
	    "caja-2", 6);
	cr_assert_eq(n, 14 + 16 + 32 + 8 + 1 + 6);
	cr_assert(memcmp(out, "caja-enroll-v1", 14) == 0);
	cr_assert_eq(out[14], 0x11);
	cr_assert_eq(out[14 + 16], 0x22);
	cr_assert(memcmp(out + 62, "register", 8) == 0);
	cr_assert_eq(out[70], 0);
	cr_assert(memcmp(out + 71, "caja-2", 6) == 0);
	/* too small a buffer, too long a name */
	cr_assert_eq(ident_enroll_msg(out, 20, store, pk, "register", 8,
	    "x", 1), 0);
	cr_assert_eq(ident_enroll_msg(out, sizeof(out), store, pk, "register",
	    8, (const char *)out, IDENT_NAME_MAX + 1), 0);
}

Test(ident, token_round_trip)
{
	struct ident_token	t, back;
	char			txt[IDENT_TOKEN_MAX + 1];
	size_t			i;

	for (i = 0; i < SIG_PK_LEN; i++)
		t.store_pk[i] = (uint8_t)i;
	for (i = 0; i < SIG_SEED_LEN; i++)
		t.invite_seed[i] = (uint8_t)(0xff - i);
	t.expires_ms = 1700000000123ull;
	cr_assert_eq(ident_token_encode(&t, txt, sizeof(txt)), 0);
	cr_assert_eq(strncmp(txt, "caja1-", 6), 0);
	cr_assert_eq(strlen(txt), 6 + 96);
	for (i = 6; txt[i]; i++)
		cr_assert(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrs"
		    "tuvwxyz0123456789-_", txt[i]) != NULL, "char %c", txt[i]);
	/* golden: the first bytes are base64url of 00 01 02 ... */
	cr_assert_eq(strncmp(txt, "caja1-AAECAwQFBgcICQoLDA0ODxAREhMUFRYX", 38),
	    0, "%s", txt);
	memset(&back, 0, sizeof(back));
	cr_assert_eq(ident_token_decode(&back, txt), 0);
	cr_assert(memcmp(&back, &t, sizeof(t)) == 0);
}

Test(ident, token_refusals)
{
	struct ident_token	t, back;
	char			txt[IDENT_TOKEN_MAX + 1], bad[IDENT_TOKEN_MAX + 1];

	memset(&t, 7, sizeof(t));
	cr_assert_eq(ident_token_encode(&t, txt, 50), CAJA_ETOOBIG);
	cr_assert_eq(ident_token_encode(&t, txt, sizeof(txt)), 0);
	cr_assert_eq(ident_token_decode(&back, "caja2-AAAA"), CAJA_EDECODE);
	cr_assert_eq(ident_token_decode(&back, "caja1-"), CAJA_EDECODE);
	cr_assert_eq(ident_token_decode(&back, ""), CAJA_EDECODE);
	/* truncated */
	memcpy(bad, txt, sizeof(txt));
	bad[strlen(bad) - 4] = '\0';
	cr_assert_eq(ident_token_decode(&back, bad), CAJA_EDECODE);
	/* extra character */
	memcpy(bad, txt, sizeof(txt));
	bad[strlen(txt)] = 'A';
	bad[strlen(txt) + 1] = '\0';
	cr_assert_eq(ident_token_decode(&back, bad), CAJA_EDECODE);
	/* standard base64 alphabet and padding are not the url one */
	memcpy(bad, txt, sizeof(txt));
	bad[10] = '+';
	cr_assert_eq(ident_token_decode(&back, bad), CAJA_EDECODE);
}

Test(ident, roles)
{
	cr_assert(ident_role_is_valid("admin", 5));
	cr_assert(ident_role_is_valid("register", 8));
	cr_assert(ident_role_is_valid("cloud", 5));
	cr_assert(!ident_role_is_valid("registe", 7));
	cr_assert(!ident_role_is_valid("root", 4));
	cr_assert(!ident_role_is_valid("admin", 6));
}
