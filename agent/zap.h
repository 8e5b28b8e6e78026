/*
 * zap: the ZeroMQ authentication handler (ZAP, ZeroMQ RFC 27) of the peer
 * endpoint, and the CURVE keys of devices.
 *
 * Every agent has one transport key pair, a Curve25519 pair converted from
 * an Ed25519 key it holds: the store's first device (the admin that ran
 * init, holder of the store key) uses the store key, every other device its
 * device key. So anyone who knows the store's public key (every device,
 * and a new register from its invite token) can reach the admin, and a
 * device's peers derive its transport key from its enrollment.
 *
 * zap_new() binds a REP socket at ZAP_ENDPOINT; it must exist before any
 * CURVE server socket of the context binds. The main loop polls
 * zap_socket() and calls zap_handle(), which answers every pending request
 * at once from the table given by zap_set_keys():
 *   - a key in the table with a known device: 200, User-Id = the device id
 *     (32 lowercase hex digits);
 *   - a key in the table whose device is not known yet (the store key
 *     before the admin's enrollment is held): 200, User-Id "k:" + the key
 *     in 64 hex digits;
 *   - a key in the deny list (revoked devices): 400;
 *   - any other key: 200 with User-Id "k:" + key when admit_unknown is set
 *     (an invite is open: a new register must be able to deliver its
 *     enrollment; the peer layer accepts nothing else from it), else 400.
 * Main thread only. Keys are public values: no secrets here.
 */
#ifndef CAJA_ZAP_H
#define CAJA_ZAP_H

#include <stddef.h>
#include <stdint.h>

#include "proto/err.h"
#include "proto/ids.h"

#define ZAP_ENDPOINT	"inproc://zeromq.zap.01"
#define ZAP_DOMAIN	"caja"
#define ZAP_KEY_LEN	32
#define ZAP_KEYS_MAX	256
/* "k:" + 64 hex + NUL */
#define ZAP_USER_MAX	(2 + 2 * ZAP_KEY_LEN + 1)
#define ZAP_USER_KEY_PREFIX	"k:"

struct zap_key {
	uint8_t	curve[ZAP_KEY_LEN];
	uint8_t	dev[ID_LEN];
	int	dev_known;
	int	deny;
};

struct zap_counters {
	uint64_t	requests;
	uint64_t	allowed;
	uint64_t	denied;
	uint64_t	unknown;	/* admitted as "k:" (enrolling) */
	uint64_t	malformed;
};

struct zap;

/* Binds the handler. CAJA_EIO when ZeroMQ refuses (another handler). */
int	zap_new(struct zap **, void *zctx) CAJA_WUR;
void	zap_destroy(struct zap **);
void	*zap_socket(struct zap *);
/* Replaces the table (copied); n <= ZAP_KEYS_MAX else CAJA_ETOOBIG. */
int	zap_set_keys(struct zap *, const struct zap_key *, size_t n,
	    int admit_unknown) CAJA_WUR;
/* Answers every pending request; never blocks. */
void	zap_handle(struct zap *);
const struct zap_counters *zap_counters(const struct zap *);

/*
 * Parses a User-Id: 1 and dev set for a device id, 2 and key set for a
 * "k:" key, 0 for anything else.
 */
int	zap_user_parse(const char *, uint8_t dev[ID_LEN],
	    uint8_t key[ZAP_KEY_LEN]);

/* Ed25519 -> Curve25519. CAJA_EINVAL for a key that does not convert. */
int	zap_curve_pk(uint8_t out[ZAP_KEY_LEN], const uint8_t ed_pk[32])
	    CAJA_WUR;
int	zap_curve_sk(uint8_t out[ZAP_KEY_LEN], const uint8_t ed_sk[64])
	    CAJA_WUR;

#endif
