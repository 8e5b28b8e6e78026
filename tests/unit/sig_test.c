/*
 * sig: Ed25519 and BLAKE2b through libsodium, with known vectors.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "proto/ids.h"
#include "proto/sig.h"

static void
setup(void)
{
	cr_assert_eq(sig_init(), 0);
}

TestSuite(sig, .init = setup);

Test(sig, init_is_idempotent)
{
	cr_assert_eq(sig_init(), 0);
	cr_assert_eq(sig_init(), 0);
}

/* RFC 8032 section 7.1, TEST 1 (empty message). */
Test(sig, rfc8032_test1)
{
	static const char *seedhex =
	    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
	static const char *pkhex =
	    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
	static const char *sighex =
	    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
	    "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";
	uint8_t		seed[32], pk[32], want[64], sig[64], back[32];
	struct sig_key	*k = NULL;

	cr_assert_eq(ids_unhex(seed, 32, seedhex), 0);
	cr_assert_eq(ids_unhex(pk, 32, pkhex), 0);
	cr_assert_eq(ids_unhex(want, 64, sighex), 0);
	cr_assert_eq(sig_key_from_seed(&k, seed), 0);
	cr_assert(memcmp(k->pk, pk, 32) == 0);
	sig_sign(k, (const uint8_t *)"", 0, sig);
	cr_assert(memcmp(sig, want, 64) == 0);
	cr_assert_eq(sig_verify(pk, (const uint8_t *)"", 0, sig), 0);
	sig[0] ^= 1;
	cr_assert_eq(sig_verify(pk, (const uint8_t *)"", 0, sig), CAJA_ESIG);
	sig_key_seed(k, back);
	cr_assert(memcmp(back, seed, 32) == 0);
	sig_key_destroy(&k);
	cr_assert_null(k);
	sig_key_destroy(&k);	/* NULL is fine */
}

Test(sig, random_keys_sign_and_verify)
{
	struct sig_key	*a = NULL, *b = NULL;
	uint8_t		 s[SIG_LEN], idx[ID_LEN];
	const uint8_t	 msg[] = "venta 42";

	cr_assert_eq(sig_key_new(&a), 0);
	cr_assert_eq(sig_key_new(&b), 0);
	cr_assert(memcmp(a->pk, b->pk, SIG_PK_LEN) != 0);
	sig_sign(a, msg, sizeof(msg), s);
	cr_assert_eq(sig_verify(a->pk, msg, sizeof(msg), s), 0);
	cr_assert_eq(sig_verify(b->pk, msg, sizeof(msg), s), CAJA_ESIG);
	cr_assert_eq(sig_verify(a->pk, msg, sizeof(msg) - 1, s), CAJA_ESIG);
	sig_id_of_pk(idx, a->pk);
	cr_assert(memcmp(idx, a->id, ID_LEN) == 0);
	sig_key_destroy(&a);
	sig_key_destroy(&b);
}

/* BLAKE2b-256("abc") and BLAKE2b-128 of 32 zero bytes (Python hashlib). */
Test(sig, blake2b_vectors)
{
	uint8_t	h[HASH_LEN], id[ID_LEN], zero[32] = { 0 };
	char	hex[HASH_HEX];
	struct sig_hasher st;

	sig_hash(h, (const uint8_t *)"abc", 3);
	ids_hex(hex, h, HASH_LEN);
	cr_assert_str_eq(hex,
	    "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
	sig_hasher_init(&st);
	sig_hasher_update(&st, (const uint8_t *)"a", 1);
	sig_hasher_update(&st, (const uint8_t *)"bc", 2);
	sig_hasher_final(&st, h);
	ids_hex(hex, h, HASH_LEN);
	cr_assert_str_eq(hex,
	    "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
	sig_id_of_pk(id, zero);
	ids_hex(hex, id, ID_LEN);
	cr_assert_str_eq(hex, "ff0f22492f44bac4c4b30ae58d0e8daa");
}

Test(sig, ids_text)
{
	uint8_t	b[4] = { 0xde, 0xad, 0xbe, 0xef }, back[4], id[ID_LEN];
	char	hex[9];

	ids_hex(hex, b, 4);
	cr_assert_str_eq(hex, "deadbeef");
	cr_assert_eq(ids_unhex(back, 4, "DEADbeef"), 0);
	cr_assert(memcmp(back, b, 4) == 0);
	cr_assert_eq(ids_unhex(back, 4, "deadbee"), CAJA_EDECODE);
	cr_assert_eq(ids_unhex(back, 4, "deadbeef0"), CAJA_EDECODE);
	cr_assert_eq(ids_unhex(back, 4, "deadbeeg"), CAJA_EDECODE);
	memset(id, 0xab, sizeof(id));
	cr_assert(ids_has_prefix(id, ID_LEN, "abababab"));
	cr_assert(ids_has_prefix(id, ID_LEN, "ABABABABA"));
	cr_assert(!ids_has_prefix(id, ID_LEN, "abababa"), "too short");
	cr_assert(!ids_has_prefix(id, ID_LEN, "abababac"));
	cr_assert_eq(ids_cmp(b, back, 4), 0);
	back[3] = 0xf0;
	cr_assert_lt(ids_cmp(b, back, 4), 0);
}
