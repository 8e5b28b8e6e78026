/*
 * disco: event codec, config checks, behaviour without Avahi, and (with
 * CAJA_AVAHI=1, i.e. under tests/integ/disco.sh and its private
 * avahi-daemon) real discovery between several disco instances on one
 * daemon: same store found with its endpoint, other stores and ourselves
 * ignored, DOWN after a peer leaves, re-announcement, name collisions and
 * a daemon restart.
 *
 * Hooks set by tests/integ/disco.sh:
 *   CAJA_DISCO_BROWSE_CHECK  command run while services are published; gets
 *                            CAJA_DISCO_EXPECT_{NAME,PORT,STORE,DEVICE}
 *                            and must exit 0 (avahi-browse, a third party)
 *   CAJA_AVAHI_STOP, CAJA_AVAHI_START  commands that stop / start the
 *                            avahi-daemon (restart test)
 *   CAJA_DISCO_VERBOSE=1     disco's log on stderr
 */
#include <sys/time.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>
#include <zmq.h>

#include "agent/disco.h"

#define NODES_MAX	8
#define EVENTS_MAX	256
#define ID_HEXLEN	32

struct node {
	const char		*label;
	char			 store[ID_HEXLEN + 1];
	char			 device[ID_HEXLEN + 1];
	uint16_t		 port;
	void			*pipe;
	struct disco		*d;
	struct disco_event	 ev[EVENTS_MAX];
	size_t			 nev;
	atomic_int		 warnings;
	atomic_int		 logs;
};

static void		*ctx;
static struct node	 nodes[NODES_MAX];
static size_t		 nnodes;

static long long
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
random_hex(char out[ID_HEXLEN + 1])
{
	static const char	 digits[] = "0123456789abcdef";
	unsigned char		 b[ID_HEXLEN / 2];
	FILE			*f;
	size_t			 i;

	f = fopen("/dev/urandom", "rb");
	cr_assert_not_null(f);
	cr_assert_eq(fread(b, 1, sizeof(b), f), sizeof(b));
	fclose(f);
	for (i = 0; i < sizeof(b); i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[ID_HEXLEN] = '\0';
}

static void
test_log(void *arg, int level, const char *msg)
{
	struct node	*n = arg;

	atomic_fetch_add(&n->logs, 1);
	if (level <= DISCO_LOG_WARN)
		atomic_fetch_add(&n->warnings, 1);
	if (getenv("CAJA_DISCO_VERBOSE") != NULL)
		fprintf(stderr, "[%lld] %s: %d %s\n", now_ms() % 100000,
		    n->label, level, msg);
}

static void
setup(void)
{
	ctx = zmq_ctx_new();
	cr_assert_not_null(ctx);
	nnodes = 0;
}

static void
teardown(void)
{
	size_t	i;

	for (i = 0; i < nnodes; i++) {
		disco_destroy(&nodes[i].d);
		if (nodes[i].pipe != NULL)
			zmq_close(nodes[i].pipe);
		nodes[i].pipe = NULL;
	}
	nnodes = 0;
	zmq_ctx_term(ctx);
}

/* Binds the node's pipe; disco_new with name (NULL: default). */
static struct node *
node_start(const char *label, const char *store, const char *name,
    uint16_t port)
{
	struct node		*n;
	struct disco_config	 cfg;
	char			 ep[64];
	int			 linger = 0;

	cr_assert_lt(nnodes, NODES_MAX);
	n = &nodes[nnodes];
	memset(n, 0, sizeof(*n));
	n->label = label;
	memcpy(n->store, store, ID_HEXLEN + 1);
	random_hex(n->device);
	n->port = port;
	snprintf(ep, sizeof(ep), "inproc://disco-%zu", nnodes);
	n->pipe = zmq_socket(ctx, ZMQ_PAIR);
	cr_assert_not_null(n->pipe);
	cr_assert_eq(zmq_setsockopt(n->pipe, ZMQ_LINGER, &linger,
	    sizeof(linger)), 0);
	cr_assert_eq(zmq_bind(n->pipe, ep), 0);
	nnodes++;

	memset(&cfg, 0, sizeof(cfg));
	cfg.store_id = n->store;
	cfg.device_id = n->device;
	cfg.name = name;
	cfg.port = port;
	cfg.log = test_log;
	cfg.log_arg = n;
	cr_assert_eq(disco_new(&n->d, ctx, ep, &cfg), 0, "disco_new %s",
	    label);
	cr_assert_not_null(n->d);
	return n;
}

/* Reads every pipe for up to ms (all of them, so none fills up). */
static void
pump(int ms)
{
	zmq_pollitem_t		 items[NODES_MAX];
	long long		 end = now_ms() + ms;
	char			 buf[DISCO_EVENT_MAX + 1];
	size_t			 i;
	int			 len, left;

	for (;;) {
		for (i = 0; i < nnodes; i++) {
			items[i].socket = nodes[i].pipe;
			items[i].fd = 0;
			items[i].events = ZMQ_POLLIN;
			items[i].revents = 0;
		}
		left = (int)(end - now_ms());
		if (left < 0)
			left = 0;
		if (zmq_poll(items, (int)nnodes, left) < 0)
			cr_assert_fail("zmq_poll: %s",
			    zmq_strerror(zmq_errno()));
		for (i = 0; i < nnodes; i++) {
			struct node	*n = &nodes[i];

			if (!(items[i].revents & ZMQ_POLLIN))
				continue;
			len = zmq_recv(n->pipe, buf, sizeof(buf), ZMQ_DONTWAIT);
			if (len < 0)
				continue;
			cr_assert_leq(len, DISCO_EVENT_MAX, "frame too long");
			cr_assert_lt(n->nev, EVENTS_MAX);
			cr_assert_eq(disco_event_decode(buf, (size_t)len,
			    &n->ev[n->nev]), 0, "%s: undecodable frame '%.*s'",
			    n->label, len, buf);
			if (getenv("CAJA_DISCO_VERBOSE") != NULL)
				fprintf(stderr, "[%lld] %s <- %.*s\n",
				    now_ms() % 100000, n->label, len, buf);
			n->nev++;
		}
		if (left == 0)
			return;
	}
}

/* Index of n's first event at or after from matching; -1 if none. */
static int
find_event(struct node *n, size_t from, enum disco_event_type type,
    const char *device)
{
	size_t	i;

	for (i = from; i < n->nev; i++) {
		if (n->ev[i].type != type)
			continue;
		if (device != NULL && strcmp(n->ev[i].device_id, device) != 0)
			continue;
		return (int)i;
	}
	return -1;
}

/* Pumps until n has the event (from index from on) or ms passed. */
static int
wait_event(struct node *n, size_t from, enum disco_event_type type,
    const char *device, int ms, long long *took)
{
	long long	start = now_ms();
	int		i;

	while ((i = find_event(n, from, type, device)) < 0 &&
	    now_ms() - start < ms)
		pump(50);
	if (took != NULL)
		*took = now_ms() - start;
	return i;
}

static int
wait_state(struct node *n, size_t from, enum disco_state st, int ms)
{
	long long	start = now_ms();
	size_t		i;

	for (;;) {
		for (i = from; i < n->nev; i++)
			if (n->ev[i].type == DISCO_EV_STATE &&
			    n->ev[i].state == st)
				return (int)i;
		if (now_ms() - start >= ms)
			return -1;
		pump(50);
	}
}

static int
avahi_enabled(void)
{
	const char	*s = getenv("CAJA_AVAHI");

	return s != NULL && strcmp(s, "1") == 0;
}

static void
expected_endpoint(const struct node *n, char *buf, size_t len)
{
	snprintf(buf, len, "tcp://127.0.0.1:%u", (unsigned)n->port);
}

TestSuite(disco, .init = setup, .fini = teardown);

/* ---- codec ---- */

#define DEV	"0123456789abcdef0123456789abcdef"
#define STORE	"fedcba9876543210fedcba9876543210"

static void
decode_ok(const char *s, struct disco_event *ev)
{
	cr_assert_eq(disco_event_decode(s, strlen(s), ev), 0, "refused '%s'",
	    s);
}

static void
decode_bad(const char *s, size_t len)
{
	struct disco_event	ev;

	memset(&ev, 0x55, sizeof(ev));
	cr_assert_eq(disco_event_decode(s, len, &ev), CAJA_EDECODE,
	    "accepted '%.*s'", (int)len, s);
	cr_assert_eq(ev.type, 0, "not zeroed after refusing '%.*s'", (int)len,
	    s);
}

Test(disco, event_decode_accepts_the_three_forms)
{
	struct disco_event	ev;

	decode_ok("UP " DEV " " STORE " tcp://10.0.0.7:7700", &ev);
	cr_assert_eq(ev.type, DISCO_EV_UP);
	cr_assert_str_eq(ev.device_id, DEV);
	cr_assert_str_eq(ev.store_id, STORE);
	cr_assert_str_eq(ev.endpoint, "tcp://10.0.0.7:7700");

	decode_ok("DOWN " DEV, &ev);
	cr_assert_eq(ev.type, DISCO_EV_DOWN);
	cr_assert_str_eq(ev.device_id, DEV);
	cr_assert_str_eq(ev.endpoint, "");

	decode_ok("STATE running", &ev);
	cr_assert_eq(ev.type, DISCO_EV_STATE);
	cr_assert_eq(ev.state, DISCO_STATE_RUNNING);
	decode_ok("STATE connecting", &ev);
	cr_assert_eq(ev.state, DISCO_STATE_CONNECTING);

	/* Extremes: 8 and 64 digit ids, port 1 and 65535. */
	decode_ok("UP 01234567 " STORE STORE " tcp://h:65535", &ev);
	cr_assert_str_eq(ev.device_id, "01234567");
	cr_assert_str_eq(ev.store_id, STORE STORE);
	decode_ok("DOWN 89abcdef", &ev);
	decode_ok("UP " DEV " " STORE " tcp://127.0.0.1:1", &ev);
}

Test(disco, event_decode_refuses_malformed_frames)
{
	char	big[DISCO_EVENT_MAX + 8];
	char	nul[] = "DOWN " DEV "\0";

	decode_bad("", 0);
	decode_bad("UP", 2);
#define BAD(s)	decode_bad(s, strlen(s))
	BAD("DOWN");
	BAD("DOWN ");
	BAD("DOWN " DEV " ");			/* trailing space */
	BAD(" DOWN " DEV);			/* leading space */
	BAD("DOWN  " DEV);			/* double space */
	BAD("DOWN " DEV " x");			/* extra token */
	BAD("down " DEV);			/* keyword case */
	BAD("DOWN 0123456789ABCDEF0123456789abcdef");	/* uppercase */
	BAD("DOWN 0123456");			/* 7 digits */
	BAD("DOWN " DEV DEV "0");		/* 65 digits */
	BAD("DOWN 0123456g");
	BAD("UP " DEV " " STORE);		/* no endpoint */
	BAD("UP " DEV " " STORE " udp://1.2.3.4:5");
	BAD("UP " DEV " " STORE " tcp://1.2.3.4");
	BAD("UP " DEV " " STORE " tcp://1.2.3.4:");
	BAD("UP " DEV " " STORE " tcp://1.2.3.4:0");
	BAD("UP " DEV " " STORE " tcp://1.2.3.4:65536");
	BAD("UP " DEV " " STORE " tcp://1.2.3.4:099");
	BAD("UP " DEV " " STORE " tcp://1.2.3.4:7x");
	BAD("UP " DEV " " STORE " tcp://:7700");
	BAD("UP " DEV " " STORE " tcp://1.2.3.4:7700 x");
	BAD("UP " DEV " " STORE " tcp://"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:7700");
	BAD("UP " DEV " tcp://1.2.3.4:7700");
	BAD("STATE");
	BAD("STATE up");
	BAD("STATE running x");
	BAD("HELLO " DEV);
	BAD("DOWN\t" DEV);
	BAD("DOWN " DEV "\n");
#undef BAD
	decode_bad(nul, sizeof(nul) - 1);	/* embedded NUL */
	decode_bad("DOWN 01234567", 5);		/* length cuts the id */

	/* Longer than any frame disco sends. */
	memset(big, 'a', sizeof(big));
	memcpy(big, "DOWN ", 5);
	decode_bad(big, DISCO_EVENT_MAX + 1);
	decode_bad(NULL, 10);
}

Test(disco, event_encode_round_trips_and_refuses_bad_events)
{
	struct disco_event	ev, back;
	char			buf[DISCO_EVENT_MAX];
	size_t			len;

	memset(&ev, 0, sizeof(ev));
	ev.type = DISCO_EV_UP;
	memcpy(ev.device_id, DEV, sizeof(DEV));
	memcpy(ev.store_id, STORE, sizeof(STORE));
	memcpy(ev.endpoint, "tcp://192.168.1.20:7700",
	    sizeof("tcp://192.168.1.20:7700"));
	cr_assert_eq(disco_event_encode(&ev, buf, &len), 0);
#define UPFRAME	"UP " DEV " " STORE " tcp://192.168.1.20:7700"
	cr_assert_eq(len, strlen(UPFRAME));
	cr_assert_eq(memcmp(buf, UPFRAME, len), 0);
#undef UPFRAME
	cr_assert_eq(disco_event_decode(buf, len, &back), 0);
	cr_assert_eq(memcmp(&ev, &back, sizeof(ev)), 0);

	ev.type = DISCO_EV_DOWN;
	memset(ev.store_id, 0, sizeof(ev.store_id));
	memset(ev.endpoint, 0, sizeof(ev.endpoint));
	cr_assert_eq(disco_event_encode(&ev, buf, &len), 0);
	cr_assert_eq(len, 5 + 32);
	cr_assert_eq(disco_event_decode(buf, len, &back), 0);
	cr_assert_eq(memcmp(&ev, &back, sizeof(ev)), 0);

	memset(&ev, 0, sizeof(ev));
	ev.type = DISCO_EV_STATE;
	ev.state = DISCO_STATE_CONNECTING;
	cr_assert_eq(disco_event_encode(&ev, buf, &len), 0);
	cr_assert_eq(len, strlen("STATE connecting"));
	cr_assert_eq(disco_event_decode(buf, len, &back), 0);
	cr_assert_eq(memcmp(&ev, &back, sizeof(ev)), 0);

	ev.state = (enum disco_state)7;
	cr_assert_eq(disco_event_encode(&ev, buf, &len), CAJA_EINVAL);
	ev.type = (enum disco_event_type)0;
	cr_assert_eq(disco_event_encode(&ev, buf, &len), CAJA_EINVAL);
	memset(&ev, 0, sizeof(ev));
	ev.type = DISCO_EV_UP;
	memcpy(ev.device_id, DEV, sizeof(DEV));
	memcpy(ev.store_id, STORE, sizeof(STORE));
	memcpy(ev.endpoint, "tcp://x", sizeof("tcp://x"));
	cr_assert_eq(disco_event_encode(&ev, buf, &len), CAJA_EINVAL);
	cr_assert_eq(len, 0);
	ev.type = DISCO_EV_DOWN;
	memcpy(ev.device_id, "ABCDEF01", sizeof("ABCDEF01"));
	cr_assert_eq(disco_event_encode(&ev, buf, &len), CAJA_EINVAL);
}

/* ---- configuration ---- */

Test(disco, new_refuses_bad_configs)
{
	struct disco_config	 good, cfg;
	struct disco		*d = (struct disco *)&cfg;
	char			 longname[DISCO_NAME_MAX + 1];

	memset(&good, 0, sizeof(good));
	good.store_id = STORE;
	good.device_id = DEV;
	good.port = 7700;

#define REFUSED(expr, what)	do {					\
	cfg = good;							\
	expr;								\
	d = (struct disco *)&cfg;					\
	cr_assert_eq(disco_new(&d, ctx, "inproc://x", &cfg), CAJA_EINVAL, \
	    "accepted %s", what);					\
	cr_assert_null(d, "%s: *out not cleared", what);		\
} while (0)
	REFUSED(cfg.store_id = NULL, "no store");
	REFUSED(cfg.device_id = NULL, "no device");
	REFUSED(cfg.store_id = "FEDCBA9876543210", "uppercase store");
	REFUSED(cfg.device_id = "0123456", "7-digit device");
	REFUSED(cfg.device_id = DEV DEV "0", "65-digit device");
	REFUSED(cfg.device_id = "0123 567", "space in device");
	REFUSED(cfg.port = 0, "port 0");
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	REFUSED(cfg.name = longname, "64-byte name");
	REFUSED(cfg.name = "", "empty name");
	REFUSED(cfg.ifname = "no-such-if0", "unknown interface");
	REFUSED(cfg.host = "bad..host", "bad host");
#undef REFUSED

	d = (struct disco *)&cfg;
	cr_assert_eq(disco_new(&d, NULL, "inproc://x", &good), CAJA_EINVAL);
	cr_assert_null(d);
	cr_assert_eq(disco_new(&d, ctx, NULL, &good), CAJA_EINVAL);
	cr_assert_eq(disco_new(&d, ctx, "inproc://x", NULL), CAJA_EINVAL);
	cr_assert_eq(disco_new(NULL, ctx, "inproc://x", &good), CAJA_EINVAL);
	cr_assert_eq(disco_new(&d, ctx, "bogus://x", &good), CAJA_EINVAL);
	cr_assert_null(d);

	disco_destroy(NULL);
	d = NULL;
	disco_destroy(&d);
	cr_assert_null(d);
}

/* ---- no Avahi: disco_new still works, says so, keeps trying ---- */

Test(disco, works_without_avahi)
{
	struct node	*n;
	char		 name[DISCO_NAME_MAX], want[DISCO_NAME_MAX];
	int		 i;

	/* A system bus nobody listens on: no dbus, so no avahi-daemon. */
	cr_assert_eq(setenv("DBUS_SYSTEM_BUS_ADDRESS",
	    "unix:path=/nonexistent/caja-disco-test.sock", 1), 0);
	n = node_start("solo", STORE, NULL, 7700);
	cr_assert_eq(disco_get_state(n->d), DISCO_STATE_CONNECTING);
	i = wait_state(n, 0, DISCO_STATE_CONNECTING, 2000);
	cr_assert_eq(i, 0, "first event is not STATE connecting");
	cr_assert_geq(atomic_load(&n->warnings), 1, "no warning logged");

	/* Default name: caja-<8 hex of device>. */
	cr_assert_eq(disco_get_name(n->d, name, sizeof(name)), 0);
	snprintf(want, sizeof(want), "caja-%.8s", n->device);
	cr_assert_str_eq(name, want);
	cr_assert_eq(disco_get_name(n->d, name, 5), CAJA_ETOOBIG);

	/* Nothing to re-announce yet; not an error. */
	cr_assert_eq(disco_reannounce(n->d), 0);
	/* It keeps retrying (backoff 0, 1, 2 s): still alive, still waiting. */
	pump(1500);
	cr_assert_eq(disco_get_state(n->d), DISCO_STATE_CONNECTING);
	cr_assert_eq(find_event(n, 1, DISCO_EV_UP, NULL), -1);
	cr_assert_eq(find_event(n, 1, DISCO_EV_STATE, NULL), -1,
	    "state event repeated");
	disco_destroy(&n->d);
	cr_assert_null(n->d);
}

/* ---- with the private avahi-daemon of tests/integ/disco.sh ---- */

static void
browse_check(const struct node *n)
{
	const char	*cmd = getenv("CAJA_DISCO_BROWSE_CHECK");
	char		 name[DISCO_NAME_MAX], port[8];
	int		 rc;

	if (cmd == NULL)
		return;
	cr_assert_eq(disco_get_name(n->d, name, sizeof(name)), 0);
	snprintf(port, sizeof(port), "%u", (unsigned)n->port);
	setenv("CAJA_DISCO_EXPECT_NAME", name, 1);
	setenv("CAJA_DISCO_EXPECT_PORT", port, 1);
	setenv("CAJA_DISCO_EXPECT_STORE", n->store, 1);
	setenv("CAJA_DISCO_EXPECT_DEVICE", n->device, 1);
	rc = system(cmd);
	cr_assert_eq(rc, 0, "browse check failed (%d): %s", rc, cmd);
}

Test(disco, finds_its_store_ignores_others)
{
	struct node	*d1, *d2, *d3, *d4, *d5;
	char		 s[ID_HEXLEN + 1], t[ID_HEXLEN + 1], ep[64];
	long long	 took;
	size_t		 mark;
	int		 i;

	if (!avahi_enabled())
		cr_skip_test("needs CAJA_AVAHI=1 (tests/integ/disco.sh)");
	random_hex(s);
	random_hex(t);
	d1 = node_start("d1", s, NULL, 17701);
	d2 = node_start("d2", s, NULL, 17702);
	d3 = node_start("d3", t, NULL, 17703);
	d4 = node_start("d4", t, NULL, 17704);
	cr_assert_eq(disco_get_state(d1->d), DISCO_STATE_RUNNING);

	/* Same store: found, with its endpoint, within 5 s. */
	i = wait_event(d1, 0, DISCO_EV_UP, d2->device, 5000, &took);
	cr_assert_geq(i, 0, "d1 did not see d2 within 5 s");
	expected_endpoint(d2, ep, sizeof(ep));
	cr_assert_str_eq(d1->ev[i].endpoint, ep);
	cr_assert_str_eq(d1->ev[i].store_id, s);
	fprintf(stderr, "disco: d1 saw d2 after %lld ms\n", took);
	i = wait_event(d2, 0, DISCO_EV_UP, d1->device, 5000, NULL);
	cr_assert_geq(i, 0, "d2 did not see d1");
	expected_endpoint(d1, ep, sizeof(ep));
	cr_assert_str_eq(d2->ev[i].endpoint, ep);
	/* Store t is there (d3 sees d4): d1's silence means something. */
	i = wait_event(d3, 0, DISCO_EV_UP, d4->device, 5000, NULL);
	cr_assert_geq(i, 0, "d3 did not see d4");
	pump(1500);
	cr_assert_eq(find_event(d1, 0, DISCO_EV_UP, d3->device), -1,
	    "d1 got UP for another store's d3");
	cr_assert_eq(find_event(d1, 0, DISCO_EV_UP, d4->device), -1);
	cr_assert_eq(find_event(d1, 0, DISCO_EV_UP, d1->device), -1,
	    "d1 got UP for itself");
	cr_assert_eq(find_event(d3, 0, DISCO_EV_UP, d1->device), -1);
	cr_assert_eq(find_event(d3, 0, DISCO_EV_UP, d2->device), -1);
	cr_assert_eq(find_event(d1, 0, DISCO_EV_DOWN, NULL), -1);

	/* Re-announce: d1 is withdrawn and registered again. */
	mark = d2->nev;
	cr_assert_eq(disco_reannounce(d1->d), 0);
	pump(2500);
	/* Whatever d2 saw meanwhile, it ends with d1 up. */
	for (i = (int)d2->nev - 1; i >= (int)mark; i--)
		if (strcmp(d2->ev[i].device_id, d1->device) == 0)
			break;
	if (i >= (int)mark) {
		fprintf(stderr, "disco: after reannounce d2's last event "
		    "about d1 is %s\n", d2->ev[i].type == DISCO_EV_UP ? "UP" :
		    "DOWN");
		cr_assert_eq(d2->ev[i].type, DISCO_EV_UP);
	}
	/* A newcomer finds the re-announced d1. */
	d5 = node_start("d5", s, NULL, 17705);
	i = wait_event(d5, 0, DISCO_EV_UP, d1->device, 5000, NULL);
	cr_assert_geq(i, 0, "d5 did not see d1 after re-announce");
	expected_endpoint(d1, ep, sizeof(ep));
	cr_assert_str_eq(d5->ev[i].endpoint, ep);
	browse_check(d1);

	/* d2 leaves: d1 gets DOWN within 5 s. */
	mark = d1->nev;
	disco_destroy(&d2->d);
	cr_assert_null(d2->d);
	i = wait_event(d1, mark, DISCO_EV_DOWN, d2->device, 5000, &took);
	cr_assert_geq(i, 0, "d1 got no DOWN for d2 within 5 s");
	fprintf(stderr, "disco: d1 saw d2 leave after %lld ms\n", took);
	cr_assert_eq(find_event(d1, mark, DISCO_EV_DOWN, d5->device), -1);
	fprintf(stderr, "DISCO-AVAHI-OK finds_its_store_ignores_others\n");
}

Test(disco, name_collision_takes_alternative_name)
{
	struct node	*w, *a, *b;
	char		 s[ID_HEXLEN + 1], na[DISCO_NAME_MAX];
	char		 nb[DISCO_NAME_MAX], ep[64];
	int		 i;

	if (!avahi_enabled())
		cr_skip_test("needs CAJA_AVAHI=1 (tests/integ/disco.sh)");
	random_hex(s);
	w = node_start("watcher", s, NULL, 17710);
	a = node_start("a", s, "caja-collide", 17711);
	b = node_start("b", s, "caja-collide", 17712);
	i = wait_event(w, 0, DISCO_EV_UP, a->device, 6000, NULL);
	cr_assert_geq(i, 0, "a not seen");
	expected_endpoint(a, ep, sizeof(ep));
	cr_assert_str_eq(w->ev[i].endpoint, ep);
	i = wait_event(w, 0, DISCO_EV_UP, b->device, 6000, NULL);
	cr_assert_geq(i, 0, "b not seen");
	expected_endpoint(b, ep, sizeof(ep));
	cr_assert_str_eq(w->ev[i].endpoint, ep);
	cr_assert_eq(disco_get_name(a->d, na, sizeof(na)), 0);
	cr_assert_eq(disco_get_name(b->d, nb, sizeof(nb)), 0);
	cr_assert_str_eq(na, "caja-collide");
	cr_assert_str_eq(nb, "caja-collide #2");
	fprintf(stderr, "DISCO-AVAHI-OK "
	    "name_collision_takes_alternative_name\n");
}

Test(disco, survives_daemon_restart)
{
	const char	*stop = getenv("CAJA_AVAHI_STOP");
	const char	*start = getenv("CAJA_AVAHI_START");
	struct node	*d1, *d2, *d3, *d4;
	char		 s[ID_HEXLEN + 1];
	size_t		 mark, mark2;
	int		 i;

	if (!avahi_enabled() || stop == NULL || start == NULL)
		cr_skip_test("needs CAJA_AVAHI=1, CAJA_AVAHI_STOP, "
		    "CAJA_AVAHI_START (tests/integ/disco.sh)");
	random_hex(s);
	d1 = node_start("d1", s, NULL, 17721);
	d2 = node_start("d2", s, NULL, 17722);
	d4 = node_start("d4", s, NULL, 17724);
	cr_assert_geq(wait_event(d1, 0, DISCO_EV_UP, d2->device, 5000, NULL),
	    0);
	cr_assert_geq(wait_event(d1, 0, DISCO_EV_UP, d4->device, 5000, NULL),
	    0);

	mark = d1->nev;
	mark2 = d2->nev;
	cr_assert_eq(system(stop), 0, "%s", stop);
	cr_assert_geq(wait_state(d1, mark, DISCO_STATE_CONNECTING, 5000), 0,
	    "d1 did not notice the daemon going away");
	cr_assert_eq(disco_get_state(d1->d), DISCO_STATE_CONNECTING);
	cr_assert_eq(disco_reannounce(d1->d), 0);	/* no daemon: no-op */
	/* d4 leaves while there is no daemon to tell anyone. */
	disco_destroy(&d4->d);

	mark = d1->nev;
	cr_assert_eq(system(start), 0, "%s", start);
	cr_assert_geq(wait_state(d1, mark, DISCO_STATE_RUNNING, 10000), 0,
	    "d1 did not reconnect");
	cr_assert_eq(disco_get_state(d1->d), DISCO_STATE_RUNNING);
	cr_assert_geq(wait_state(d2, mark2, DISCO_STATE_RUNNING, 5000), 0,
	    "d2 did not reconnect");

	/* Both are published again: a newcomer finds them. */
	d3 = node_start("d3", s, NULL, 17723);
	cr_assert_geq(wait_event(d3, 0, DISCO_EV_UP, d2->device, 5000, NULL),
	    0, "d2 not re-published after the restart");
	cr_assert_geq(wait_event(d3, 0, DISCO_EV_UP, d1->device, 5000, NULL),
	    0, "d1 not re-published after the restart");
	/* d1 browses again: it finds the newcomer. */
	cr_assert_geq(wait_event(d1, mark, DISCO_EV_UP, d3->device, 5000,
	    NULL), 0, "d1 does not browse after the restart");
	/* d4 did not come back: DOWN once the new browse is complete. */
	cr_assert_geq(wait_event(d1, mark, DISCO_EV_DOWN, d4->device, 5000,
	    NULL), 0, "no DOWN for d4, gone while the daemon was down");
	pump(1500);
	/* d2 may have gone DOWN meanwhile, but then it came back UP. */
	for (i = (int)d1->nev - 1; i >= (int)mark; i--)
		if (strcmp(d1->ev[i].device_id, d2->device) == 0)
			break;
	if (i >= (int)mark)
		cr_assert_eq(d1->ev[i].type, DISCO_EV_UP,
		    "d2 went DOWN and never came back");
	fprintf(stderr, "DISCO-AVAHI-OK survives_daemon_restart\n");
}

/*
 * Another host (the companion daemon of tests/integ/disco.sh) already
 * publishes CAJA_DISCO_REMOTE_NAME: probing finds the conflict and disco
 * takes the alternative name.
 */
Test(disco, remote_name_collision_takes_alternative_name)
{
	const char	*taken = getenv("CAJA_DISCO_REMOTE_NAME");
	struct node	*w, *a;
	char		 s[ID_HEXLEN + 1], name[DISCO_NAME_MAX];
	char		 want[DISCO_NAME_MAX], ep[64];
	int		 i;

	if (!avahi_enabled() || taken == NULL)
		cr_skip_test("needs CAJA_AVAHI=1, CAJA_DISCO_REMOTE_NAME "
		    "(tests/integ/disco.sh)");
	random_hex(s);
	w = node_start("watcher", s, NULL, 17730);
	a = node_start("a", s, taken, 17731);
	i = wait_event(w, 0, DISCO_EV_UP, a->device, 8000, NULL);
	cr_assert_geq(i, 0, "a not seen under its alternative name");
	expected_endpoint(a, ep, sizeof(ep));
	cr_assert_str_eq(w->ev[i].endpoint, ep);
	cr_assert_eq(disco_get_name(a->d, name, sizeof(name)), 0);
	snprintf(want, sizeof(want), "%s #2", taken);
	cr_assert_str_eq(name, want);
	fprintf(stderr, "DISCO-AVAHI-OK "
	    "remote_name_collision_takes_alternative_name\n");
}
