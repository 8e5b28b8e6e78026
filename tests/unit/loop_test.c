/*
 * loop_test: the poll loop over a real store and control socket: group
 * commit (many concurrent appends, fewer commits, every reply after its
 * commit), refusals answered with errors, clean stop on SIGTERM.
 */
#define _GNU_SOURCE
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <zmq.h>

#include "agent/conf.h"
#include "agent/ctl.h"
#include "agent/log.h"
#include "agent/loop.h"
#include "store/store.h"

#define NCLIENTS	64

static void *
runner(void *arg)
{
	static int	rc;

	rc = loop_run(arg);
	return &rc;
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
	return remove(path);
}

static uint64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static json_t *
recv_json(void *s)
{
	char	buf[65536];
	int	n;

	n = zmq_recv(s, buf, sizeof(buf) - 1, 0);
	cr_assert(n > 0, "recv: %s", zmq_strerror(zmq_errno()));
	buf[n] = '\0';
	return json_loads(buf, 0, NULL);
}

Test(loop, group_commit_and_refusals)
{
	char			 dir[] = "/tmp/caja-loop-XXXXXX", ep[256];
	char			 err[LOOP_ERRMSG], req[256];
	struct store_ids	 ids;
	struct conf		 c;
	struct loop		*l = NULL;
	struct store		*st = NULL;
	struct store_opts	 so;
	pthread_t		 th;
	void			*ctx, *s[NCLIENTS], *ret;
	int			 i, seen[NCLIENTS + 2], timeout = 10000;
	uint64_t		 count;
	json_t			*r;
	json_int_t		 seq;

	log_init("loop_test", 1, LOG_LEVEL_WARN);
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(store_create(dir, "Loop", "caja-1", now_ms(), &ids), 0);
	conf_defaults(&c);
	snprintf(c.dir, sizeof(c.dir), "%s", dir);
	/* No LAN: an ephemeral loopback port, no mDNS. */
	snprintf(c.listen, sizeof(c.listen), "tcp://127.0.0.1:*");
	c.mdns = 0;
	cr_assert_eq(loop_new(&l, &c, NULL, 0, err), 0, "%s", err);
	cr_assert_eq(pthread_create(&th, NULL, runner, l), 0);

	ctx = zmq_ctx_new();
	snprintf(ep, sizeof(ep), "ipc://%s/ctl.sock", dir);
	/* All requests queued before the replies are read: one burst. */
	for (i = 0; i < NCLIENTS; i++) {
		s[i] = zmq_socket(ctx, ZMQ_REQ);
		zmq_setsockopt(s[i], ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
		cr_assert_eq(zmq_connect(s[i], ep), 0);
		snprintf(req, sizeof(req), "{\"cmd\":\"append\",\"type\":"
		    "\"ProductUpdated\",\"payload\":{\"product_id\":\"p%d\","
		    "\"name\":\"n\"},\"id\":%d}", i, i);
		cr_assert_eq(zmq_send(s[i], req, strlen(req), 0),
		    (int)strlen(req));
	}
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < NCLIENTS; i++) {
		r = recv_json(s[i]);
		cr_assert_not_null(r);
		cr_assert(json_is_true(json_object_get(r, "ok")), "reply %d "
		    "not ok: %s", i, json_string_value(json_object_get(r,
		    "error")));
		cr_assert_eq(json_integer_value(json_object_get(r, "id")), i);
		seq = json_integer_value(json_object_get(r, "seq"));
		cr_assert(seq >= 2 && seq <= NCLIENTS + 1, "seq %lld",
		    (long long)seq);
		cr_assert_eq(seen[seq], 0, "seq %lld twice", (long long)seq);
		seen[seq] = 1;
		json_decref(r);
	}
	cr_assert_eq(loop_counters(l)->appended, NCLIENTS);
	cr_assert(loop_counters(l)->commits < NCLIENTS / 2,
	    "%llu commits for %d appends: no group commit",
	    (unsigned long long)loop_counters(l)->commits, NCLIENTS);

	/* A refusal is an error reply, and the loop goes on. */
	snprintf(req, sizeof(req), "{\"cmd\":\"revoke\",\"device\":"
	    "\"0123456789abcdef\"}");
	zmq_send(s[0], req, strlen(req), 0);
	r = recv_json(s[0]);
	cr_assert(json_is_false(json_object_get(r, "ok")));
	cr_assert_eq(json_integer_value(json_object_get(r, "code")),
	    CAJA_ENOTFOUND, "%s", json_string_value(json_object_get(r,
	    "error")));
	json_decref(r);
	zmq_send(s[1], "{\"cmd\":", 7, 0);
	r = recv_json(s[1]);
	cr_assert_eq(json_integer_value(json_object_get(r, "code")),
	    CAJA_EDECODE);
	json_decref(r);
	zmq_send(s[2], "{\"cmd\":\"status\"}", 16, 0);
	r = recv_json(s[2]);
	cr_assert_eq(json_integer_value(json_object_get(r, "events")),
	    NCLIENTS + 1);
	cr_assert_eq(json_integer_value(json_object_get(r, "pid")), getpid());
	json_decref(r);

	for (i = 0; i < NCLIENTS; i++)
		zmq_close(s[i]);
	zmq_ctx_term(ctx);
	kill(getpid(), SIGTERM);
	cr_assert_eq(pthread_join(th, &ret), 0);
	cr_assert_eq(*(int *)ret, 0);
	loop_destroy(&l);
	cr_assert_null(l);

	memset(&so, 0, sizeof(so));
	so.rdonly = 1;
	cr_assert_eq(store_open(&st, dir, &so), 0);
	cr_assert_eq(store_count(st, &count), 0);
	cr_assert_eq(count, NCLIENTS + 1);
	store_close(&st);
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}
