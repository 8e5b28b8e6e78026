/*
 * ids: fixed-size identifiers and their text forms.
 *
 * Store and device ids are 16 bytes (BLAKE2b-128 of the public key), printed
 * as 32 lowercase hex digits. Event ids are 32 bytes (BLAKE2b-256 of the
 * event's exact bytes), printed as 64 hex digits. Conflict ids are 16 bytes.
 * Pure; any thread.
 */
#ifndef CAJA_IDS_H
#define CAJA_IDS_H

#include <stddef.h>
#include <stdint.h>

#include "proto/err.h"

#define ID_LEN		16
#define ID_HEX		(ID_LEN * 2 + 1)
#define HASH_LEN	32
#define HASH_HEX	(HASH_LEN * 2 + 1)
#define ID_PREFIX_MIN	8	/* shortest id prefix accepted on input */

/* Writes 2*len hex digits and a NUL into out (size >= 2*len+1). */
void	ids_hex(char *out, const uint8_t *bin, size_t len);
/* Parses exactly 2*len hex digits. CAJA_EDECODE otherwise. */
int	ids_unhex(uint8_t *bin, size_t len, const char *hex) CAJA_WUR;
/* 1 when hex text (any case, >= ID_PREFIX_MIN chars) prefixes bin's hex. */
int	ids_has_prefix(const uint8_t *bin, size_t len, const char *hex);
/* memcmp order; <0, 0, >0. */
int	ids_cmp(const uint8_t *a, const uint8_t *b, size_t len);

#endif
