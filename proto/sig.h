/*
 * sig: hashing (BLAKE2b) and Ed25519 signing through libsodium.
 *
 * Secret keys live in sodium_malloc() memory and are wiped on destroy.
 * sig_init() must be called once before any other function (idempotent).
 * Functions are thread-safe.
 */
#ifndef CAJA_SIG_H
#define CAJA_SIG_H

#include <stddef.h>
#include <stdint.h>

#include "proto/err.h"
#include "proto/ids.h"

#define SIG_PK_LEN	32
#define SIG_SK_LEN	64
#define SIG_SEED_LEN	32
#define SIG_LEN		64

struct sig_key {
	uint8_t	pk[SIG_PK_LEN];
	uint8_t	*sk;			/* SIG_SK_LEN bytes, sodium_malloc */
	uint8_t	id[ID_LEN];		/* BLAKE2b-128(pk) */
};

int	sig_init(void) CAJA_WUR;
/* New random key pair. */
int	sig_key_new(struct sig_key **) CAJA_WUR;
/* Key pair from a 32-byte seed (deterministic: tests, invite tokens). */
int	sig_key_from_seed(struct sig_key **, const uint8_t seed[SIG_SEED_LEN])
	    CAJA_WUR;
/* The 32-byte seed of a key (for saving it); out must hold SIG_SEED_LEN. */
void	sig_key_seed(const struct sig_key *, uint8_t out[SIG_SEED_LEN]);
void	sig_key_destroy(struct sig_key **);

void	sig_sign(const struct sig_key *, const uint8_t *msg, size_t len,
	    uint8_t out[SIG_LEN]);
/* 0 or CAJA_ESIG. */
int	sig_verify(const uint8_t pk[SIG_PK_LEN], const uint8_t *msg, size_t len,
	    const uint8_t sig[SIG_LEN]) CAJA_WUR;

/* BLAKE2b-256 and BLAKE2b-128 (ids). */
void	sig_hash(uint8_t out[HASH_LEN], const uint8_t *msg, size_t len);
void	sig_id_of_pk(uint8_t out[ID_LEN], const uint8_t pk[SIG_PK_LEN]);

/* Incremental BLAKE2b-256 (digests). */
struct sig_hasher {
	unsigned char	state[384] __attribute__((aligned(64)));
};
void	sig_hasher_init(struct sig_hasher *);
void	sig_hasher_update(struct sig_hasher *, const uint8_t *, size_t);
void	sig_hasher_final(struct sig_hasher *, uint8_t out[HASH_LEN]);

#endif
