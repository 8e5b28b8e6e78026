/*
 * ident: store identity, enrollment and invite tokens.
 *
 * Trust model (CONTRACT.md "Store and device identity"):
 *  - init makes a store key (its holder is the store admin) and a device
 *    key. The admin device's first event (seq 1) is DeviceEnrolled carrying
 *    store_pk, store_name and auth_sig = sign(store key, enroll message).
 *  - invite makes a fresh invite key pair; the admin device appends
 *    DeviceInvited{invite_pk, role, expires_ms}. The token carries store_pk
 *    and the invite key's seed: it is a one-use secret.
 *  - join makes the new device's key; its first event is DeviceEnrolled
 *    with invite_pk and auth_sig = sign(invite key, enroll message). Agents
 *    accept it once they hold the DeviceInvited event of that key and it is
 *    not expired (by the enrollment's HLC). A second device enrolled with
 *    the same invite is accepted too, everywhere (refusing it would make
 *    the enrolled set depend on arrival order), and raises an
 *    invite_reused conflict for an admin (store/crdt.c rule 7).
 *  - revoke: the admin appends DeviceRevoked{device, upto_seq, reason}:
 *    events of that device with seq > upto_seq are refused everywhere.
 * The enroll message is "caja-enroll-v1" || store_id || device_pk || role
 * || 0 || name. Pure; any thread.
 */
#ifndef CAJA_IDENT_H
#define CAJA_IDENT_H

#include <stddef.h>
#include <stdint.h>

#include "proto/err.h"
#include "proto/ids.h"
#include "proto/sig.h"

#define IDENT_NAME_MAX		64
#define IDENT_ROLE_MAX		16
#define IDENT_TOKEN_MAX		256
#define IDENT_TOKEN_PREFIX	"caja1"

struct ident_token {
	uint8_t		store_pk[SIG_PK_LEN];
	uint8_t		invite_seed[SIG_SEED_LEN];
	uint64_t	expires_ms;
};

/*
 * The message the enroll auth_sig covers, into out (size >= 512). Returns
 * its length, or 0 when cap is too small, role_len > IDENT_ROLE_MAX or
 * name_len > IDENT_NAME_MAX.
 */
size_t	ident_enroll_msg(uint8_t *out, size_t cap,
	    const uint8_t store_id[ID_LEN], const uint8_t device_pk[SIG_PK_LEN],
	    const char *role, size_t role_len, const char *name,
	    size_t name_len);
/*
 * Token text: IDENT_TOKEN_PREFIX "-" base64url(store_pk|seed|expires_ms
 * big-endian), no padding: 102 characters and a NUL (cap >= 103, else
 * CAJA_ETOOBIG). decode: CAJA_EDECODE unless exactly that form.
 */
int	ident_token_encode(const struct ident_token *, char *out, size_t cap)
	    CAJA_WUR;
int	ident_token_decode(struct ident_token *, const char *) CAJA_WUR;
/* 1 for the roles we know: "admin", "register", "cloud". */
int	ident_role_is_valid(const char *, size_t);

#endif
