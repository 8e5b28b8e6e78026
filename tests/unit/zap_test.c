/*
 * zap_test: the ZAP handler admits enrolled keys with their device id as
 * User-Id, refuses revoked and unknown keys (unless an invite is open, then
 * "k:<key>"), over real CURVE handshakes on loopback.
 */
#include <string.h>

#include <criterion/criterion.h>
#include <sodium.h>
#include <zmq.h>

#include "agent/log.h"
#include "agent/zap.h"

struct kp {
	uint8_t	pk[32], sk[32];
};

static void
kp_new(struct kp *k)
{
	cr_assert_eq(crypto_box_keypair(k->pk, k->sk), 0);
}

static void *
client(void *ctx, const struct kp *me, const uint8_t *server_pk,
    const char *ep)
{
	void	*s = zmq_socket(ctx, ZMQ_DEALER);
	int	 z = 0;

	cr_assert_not_null(s);
	zmq_setsockopt(s, ZMQ_LINGER, &z, sizeof(z));
	zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server_pk, 32);
	zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, me->pk, 32);
	zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, me->sk, 32);
	cr_assert_eq(zmq_connect(s, ep), 0);
	zmq_send(s, "hi", 2, ZMQ_DONTWAIT);
	return s;
}

/*
 * Serves ZAP and reads the ROUTER for up to ms: the User-Id of the first
 * message, or "" when none came.
 */
static void
serve(struct zap *z, void *router, int ms, char *user, size_t cap)
{
	zmq_pollitem_t	it[2];
	zmq_msg_t	m;
	const char	*u;
	int		i;

	user[0] = '\0';
	for (i = 0; i < ms / 10; i++) {
		memset(it, 0, sizeof(it));
		it[0].socket = zap_socket(z);
		it[0].events = ZMQ_POLLIN;
		it[1].socket = router;
		it[1].events = ZMQ_POLLIN;
		zmq_poll(it, 2, 10);
		zap_handle(z);
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, router, ZMQ_DONTWAIT) == -1) {
			zmq_msg_close(&m);
			continue;
		}
		/* routing id, then the body */
		zmq_msg_close(&m);
		zmq_msg_init(&m);
		cr_assert_neq(zmq_msg_recv(&m, router, 0), -1);
		u = zmq_msg_gets(&m, "User-Id");
		snprintf(user, cap, "%s", u != NULL ? u : "(none)");
		zmq_msg_close(&m);
		return;
	}
}

Test(zap, curve_handshakes_follow_the_table)
{
	void			*ctx, *router, *c1, *c2, *c3, *c4;
	struct zap		*z = NULL;
	struct zap_key		 keys[2];
	struct kp		 srv, good, revoked, stranger;
	char			 ep[64], user[ZAP_USER_MAX + 8], want[80];
	size_t			 len = sizeof(ep);
	int			 one = 1;
	uint8_t			 dev[ID_LEN], key[ZAP_KEY_LEN];

	log_init("zap_test", 1, LOG_LEVEL_WARN);
	cr_assert_eq(sodium_init() >= 0, 1);
	kp_new(&srv);
	kp_new(&good);
	kp_new(&revoked);
	kp_new(&stranger);
	ctx = zmq_ctx_new();
	cr_assert_eq(zap_new(&z, ctx), 0);
	memset(keys, 0, sizeof(keys));
	memcpy(keys[0].curve, good.pk, 32);
	memset(keys[0].dev, 0xab, ID_LEN);
	keys[0].dev_known = 1;
	memcpy(keys[1].curve, revoked.pk, 32);
	memset(keys[1].dev, 0xcd, ID_LEN);
	keys[1].dev_known = 1;
	keys[1].deny = 1;
	cr_assert_eq(zap_set_keys(z, keys, 2, 0), 0);

	router = zmq_socket(ctx, ZMQ_ROUTER);
	zmq_setsockopt(router, ZMQ_CURVE_SERVER, &one, sizeof(one));
	zmq_setsockopt(router, ZMQ_CURVE_SECRETKEY, srv.sk, 32);
	zmq_setsockopt(router, ZMQ_ZAP_DOMAIN, ZAP_DOMAIN, strlen(ZAP_DOMAIN));
	cr_assert_eq(zmq_bind(router, "tcp://127.0.0.1:*"), 0);
	zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, ep, &len);

	/* Enrolled: in, attributed to its device. */
	c1 = client(ctx, &good, srv.pk, ep);
	serve(z, router, 3000, user, sizeof(user));
	cr_assert_str_eq(user, "abababababababababababababababab");
	cr_assert_eq(zap_user_parse(user, dev, key), 1);
	cr_assert_eq(dev[0], 0xab);

	/* Revoked: refused. */
	c2 = client(ctx, &revoked, srv.pk, ep);
	serve(z, router, 700, user, sizeof(user));
	cr_assert_str_eq(user, "", "a revoked key got in as %s", user);

	/* Unknown, no invite open: refused. */
	c3 = client(ctx, &stranger, srv.pk, ep);
	serve(z, router, 700, user, sizeof(user));
	cr_assert_str_eq(user, "", "an unknown key got in as %s", user);
	cr_assert(zap_counters(z)->denied >= 2, "denied %llu",
	    (unsigned long long)zap_counters(z)->denied);
	zmq_close(c3);

	/* Unknown while an invite is open: in, as "k:<key>". */
	cr_assert_eq(zap_set_keys(z, keys, 2, 1), 0);
	c4 = client(ctx, &stranger, srv.pk, ep);
	serve(z, router, 3000, user, sizeof(user));
	memcpy(want, ZAP_USER_KEY_PREFIX, 2);
	ids_hex(want + 2, stranger.pk, 32);
	cr_assert_str_eq(user, want);
	cr_assert_eq(zap_user_parse(user, dev, key), 2);
	cr_assert_eq(memcmp(key, stranger.pk, 32), 0);
	cr_assert_eq(zap_counters(z)->unknown, 1);

	cr_assert_eq(zap_user_parse("nothex", dev, key), 0);
	cr_assert_eq(zap_user_parse(NULL, dev, key), 0);
	cr_assert_eq(zap_set_keys(z, keys, ZAP_KEYS_MAX + 1, 0),
	    CAJA_ETOOBIG);

	zmq_close(c1);
	zmq_close(c2);
	zmq_close(c4);
	zmq_close(router);
	zap_destroy(&z);
	cr_assert_null(z);
	zmq_ctx_term(ctx);
}

Test(zap, ed25519_keys_convert_and_match)
{
	uint8_t	pk[32], sk[64], cpk[32], csk[32], derived[32];
	uint8_t	bad[32];

	cr_assert_eq(sodium_init() >= 0, 1);
	crypto_sign_keypair(pk, sk);
	cr_assert_eq(zap_curve_pk(cpk, pk), 0);
	cr_assert_eq(zap_curve_sk(csk, sk), 0);
	crypto_scalarmult_base(derived, csk);
	cr_assert_eq(memcmp(derived, cpk, 32), 0,
	    "the converted secret does not give the converted public key");
	/* Not a point on the curve: refused, not garbage. */
	memset(bad, 0xff, sizeof(bad));
	cr_assert_eq(zap_curve_pk(cpk, bad), CAJA_EINVAL);
}
