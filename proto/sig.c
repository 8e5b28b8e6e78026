/*
 * sig: BLAKE2b and Ed25519 through libsodium.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "proto/sig.h"

_Static_assert(sizeof(crypto_generichash_state) <=
    sizeof(((struct sig_hasher *)0)->state), "sig_hasher state too small");
_Static_assert(SIG_PK_LEN == crypto_sign_ed25519_PUBLICKEYBYTES, "pk");
_Static_assert(SIG_SK_LEN == crypto_sign_ed25519_SECRETKEYBYTES, "sk");
_Static_assert(SIG_SEED_LEN == crypto_sign_ed25519_SEEDBYTES, "seed");
_Static_assert(SIG_LEN == crypto_sign_ed25519_BYTES, "sig");

int
sig_init(void)
{
	/* 0: initialised now, 1: already initialised, -1: failure. */
	if (sodium_init() < 0)
		return CAJA_EINVAL;
	return 0;
}

int
sig_key_from_seed(struct sig_key **kp, const uint8_t seed[SIG_SEED_LEN])
{
	struct sig_key	*k;

	*kp = NULL;
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return CAJA_ENOMEM;
	if ((k->sk = sodium_malloc(SIG_SK_LEN)) == NULL) {
		free(k);
		return CAJA_ENOMEM;
	}
	if (crypto_sign_ed25519_seed_keypair(k->pk, k->sk, seed) != 0) {
		sodium_free(k->sk);
		free(k);
		return CAJA_EINVAL;
	}
	sig_id_of_pk(k->id, k->pk);
	*kp = k;
	return 0;
}

int
sig_key_new(struct sig_key **kp)
{
	uint8_t	seed[SIG_SEED_LEN];
	int	rc;

	randombytes_buf(seed, sizeof(seed));
	rc = sig_key_from_seed(kp, seed);
	sodium_memzero(seed, sizeof(seed));
	return rc;
}

void
sig_key_seed(const struct sig_key *k, uint8_t out[SIG_SEED_LEN])
{
	crypto_sign_ed25519_sk_to_seed(out, k->sk);
}

void
sig_key_destroy(struct sig_key **kp)
{
	struct sig_key	*k;

	if (kp == NULL || (k = *kp) == NULL)
		return;
	sodium_free(k->sk);	/* wipes */
	sodium_memzero(k, sizeof(*k));
	free(k);
	*kp = NULL;
}

void
sig_sign(const struct sig_key *k, const uint8_t *msg, size_t len,
    uint8_t out[SIG_LEN])
{
	crypto_sign_ed25519_detached(out, NULL, msg, len, k->sk);
}

int
sig_verify(const uint8_t pk[SIG_PK_LEN], const uint8_t *msg, size_t len,
    const uint8_t sig[SIG_LEN])
{
	if (crypto_sign_ed25519_verify_detached(sig, msg, len, pk) != 0)
		return CAJA_ESIG;
	return 0;
}

void
sig_hash(uint8_t out[HASH_LEN], const uint8_t *msg, size_t len)
{
	crypto_generichash(out, HASH_LEN, msg, len, NULL, 0);
}

void
sig_id_of_pk(uint8_t out[ID_LEN], const uint8_t pk[SIG_PK_LEN])
{
	crypto_generichash(out, ID_LEN, pk, SIG_PK_LEN, NULL, 0);
}

void
sig_hasher_init(struct sig_hasher *h)
{
	crypto_generichash_init((crypto_generichash_state *)h->state, NULL, 0,
	    HASH_LEN);
}

void
sig_hasher_update(struct sig_hasher *h, const uint8_t *p, size_t len)
{
	crypto_generichash_update((crypto_generichash_state *)h->state, p, len);
}

void
sig_hasher_final(struct sig_hasher *h, uint8_t out[HASH_LEN])
{
	crypto_generichash_final((crypto_generichash_state *)h->state, out,
	    HASH_LEN);
}
