/*
 * zap: ZAP handler and CURVE key conversion (see zap.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zmq.h>

#include "agent/log.h"
#include "agent/zap.h"

#define ZAP_FRAMES_MAX	16
#define ZAP_FRAME_MAX	256

struct zap {
	void			*rep;
	struct zap_key		*keys;
	size_t			 nkeys;
	int			 admit_unknown;
	struct zap_counters	 cnt;
};

int
zap_new(struct zap **zp, void *zctx)
{
	struct zap	*z;
	int		 linger = 0;

	*zp = NULL;
	if ((z = calloc(1, sizeof(*z))) == NULL)
		return CAJA_ENOMEM;
	if ((z->keys = calloc(ZAP_KEYS_MAX, sizeof(*z->keys))) == NULL) {
		free(z);
		return CAJA_ENOMEM;
	}
	if ((z->rep = zmq_socket(zctx, ZMQ_REP)) == NULL ||
	    zmq_setsockopt(z->rep, ZMQ_LINGER, &linger, sizeof(linger)) ||
	    zmq_bind(z->rep, ZAP_ENDPOINT) != 0) {
		log_warnx("zap: %s: %s", ZAP_ENDPOINT,
		    zmq_strerror(zmq_errno()));
		zap_destroy(&z);
		return CAJA_EIO;
	}
	*zp = z;
	return 0;
}

void
zap_destroy(struct zap **zp)
{
	struct zap	*z = *zp;

	if (z == NULL)
		return;
	if (z->rep != NULL)
		zmq_close(z->rep);
	free(z->keys);
	free(z);
	*zp = NULL;
}

void *
zap_socket(struct zap *z)
{
	return z->rep;
}

const struct zap_counters *
zap_counters(const struct zap *z)
{
	return &z->cnt;
}

int
zap_set_keys(struct zap *z, const struct zap_key *k, size_t n,
    int admit_unknown)
{
	if (n > ZAP_KEYS_MAX)
		return CAJA_ETOOBIG;
	if (n > 0)
		memcpy(z->keys, k, n * sizeof(*k));
	z->nkeys = n;
	z->admit_unknown = admit_unknown;
	return 0;
}

static const struct zap_key *
lookup(const struct zap *z, const uint8_t key[ZAP_KEY_LEN])
{
	size_t	i;

	for (i = 0; i < z->nkeys; i++)
		if (memcmp(z->keys[i].curve, key, ZAP_KEY_LEN) == 0)
			return &z->keys[i];
	return NULL;
}

static int
send_frame(void *s, const void *p, size_t len, int more)
{
	return zmq_send(s, p, len, more ? ZMQ_SNDMORE : 0) == -1 ? -1 : 0;
}

/*
 * Reads one request (all its frames); 1 when one was read, 0 when none is
 * pending.
 */
static int
handle_one(struct zap *z)
{
	uint8_t			 f[ZAP_FRAMES_MAX][ZAP_FRAME_MAX];
	size_t			 len[ZAP_FRAMES_MAX];
	char			 user[ZAP_USER_MAX];
	const char		*code = "400", *text = "refused";
	const struct zap_key	*k;
	size_t			 nf = 0;
	int			 rc, more, ok = 0;
	size_t			 msz = sizeof(more);

	for (;;) {
		if (nf < ZAP_FRAMES_MAX) {
			rc = zmq_recv(z->rep, f[nf], ZAP_FRAME_MAX,
			    nf == 0 ? ZMQ_DONTWAIT : 0);
		} else {
			uint8_t	junk[ZAP_FRAME_MAX];

			rc = zmq_recv(z->rep, junk, sizeof(junk), 0);
		}
		if (rc == -1) {
			if (nf == 0 && zmq_errno() == EAGAIN)
				return 0;
			if (zmq_errno() == EINTR && nf == 0)
				return 0;
			log_warnx("zap: receive: %s", zmq_strerror(zmq_errno()));
			return 0;
		}
		if (nf < ZAP_FRAMES_MAX)
			len[nf++] = (size_t)rc > ZAP_FRAME_MAX ?
			    ZAP_FRAME_MAX + 1 : (size_t)rc;
		if (zmq_getsockopt(z->rep, ZMQ_RCVMORE, &more, &msz) != 0 ||
		    !more)
			break;
	}
	z->cnt.requests++;
	user[0] = '\0';
	/* version, request id, domain, address, identity, mechanism, key */
	if (nf != 7 || len[0] != 3 || memcmp(f[0], "1.0", 3) != 0 ||
	    len[1] > ZAP_FRAME_MAX || len[5] != 5 ||
	    memcmp(f[5], "CURVE", 5) != 0 || len[6] != ZAP_KEY_LEN) {
		z->cnt.malformed++;
		text = "malformed or not CURVE";
	} else if ((k = lookup(z, f[6])) != NULL) {
		if (k->deny) {
			text = "device revoked";
		} else if (k->dev_known) {
			ids_hex(user, k->dev, ID_LEN);
			ok = 1;
		} else {
			memcpy(user, ZAP_USER_KEY_PREFIX, 2);
			ids_hex(user + 2, f[6], ZAP_KEY_LEN);
			ok = 1;
		}
	} else if (z->admit_unknown) {
		memcpy(user, ZAP_USER_KEY_PREFIX, 2);
		ids_hex(user + 2, f[6], ZAP_KEY_LEN);
		z->cnt.unknown++;
		ok = 1;
	} else
		text = "key not enrolled in this store";
	if (ok) {
		code = "200";
		text = "OK";
		z->cnt.allowed++;
	} else
		z->cnt.denied++;
	if (nf < 2 || len[1] > ZAP_FRAME_MAX)
		len[1] = 0;
	if (send_frame(z->rep, "1.0", 3, 1) || send_frame(z->rep, f[1],
	    nf >= 2 ? len[1] : 0, 1) || send_frame(z->rep, code, 3, 1) ||
	    send_frame(z->rep, text, strlen(text), 1) ||
	    send_frame(z->rep, user, strlen(user), 1) ||
	    send_frame(z->rep, "", 0, 0))
		log_warnx("zap: reply: %s", zmq_strerror(zmq_errno()));
	if (!ok)
		log_debug("zap: refused a handshake: %s", text);
	return 1;
}

void
zap_handle(struct zap *z)
{
	int	n;

	/* Bounded: a flood of handshakes cannot hold the loop. */
	for (n = 0; n < 256; n++)
		if (!handle_one(z))
			break;
}

int
zap_user_parse(const char *u, uint8_t dev[ID_LEN], uint8_t key[ZAP_KEY_LEN])
{
	size_t	n;

	if (u == NULL)
		return 0;
	n = strlen(u);
	if (n == 2 * ID_LEN && ids_unhex(dev, ID_LEN, u) == 0)
		return 1;
	if (n == 2 + 2 * ZAP_KEY_LEN && memcmp(u, ZAP_USER_KEY_PREFIX, 2) ==
	    0 && ids_unhex(key, ZAP_KEY_LEN, u + 2) == 0)
		return 2;
	return 0;
}

int
zap_curve_pk(uint8_t out[ZAP_KEY_LEN], const uint8_t ed_pk[32])
{
	return crypto_sign_ed25519_pk_to_curve25519(out, ed_pk) == 0 ? 0 :
	    CAJA_EINVAL;
}

int
zap_curve_sk(uint8_t out[ZAP_KEY_LEN], const uint8_t ed_sk[64])
{
	return crypto_sign_ed25519_sk_to_curve25519(out, ed_sk) == 0 ? 0 :
	    CAJA_EINVAL;
}
