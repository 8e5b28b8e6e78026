/*
 * bench_append: durable local appends through cajad's control socket.
 * Starts a real cajad on a fresh data dir, then C clients (threads, each a
 * DEALER on ipc://DIR/ctl.sock) each send appends one at a time and wait
 * for the acknowledgement (sent by the agent only after the commit's
 * fsync). Prints p50/p99 latency and throughput for 1 and 8 clients, as
 * ratios to the LMDB one-put-per-fsync limit measured in the same run.
 *
 * usage: bench_append [--cajad PATH] [--seconds S] [--json]
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "agent/ctl.h"
#include "proto/sig.h"
#include "store/store.h"
#include "tools/bench/bench.h"

#define MAXCLIENTS	16
#define MAXSAMPLES	200000

extern char	**environ;

struct client {
	pthread_t	 th;
	const char	*dir;
	int		 no;
	double		 until;
	double		*lat;
	size_t		 n;
	int		 failed;
};

static void *
client_run(void *arg)
{
	struct client	*c = arg;
	char		 ep[4200], req[512], rep[4096];
	void		*ctx, *s;
	double		 t0;
	int		 timeo = 10000, r;
	unsigned long	 i = 0;

	ctx = zmq_ctx_new();
	s = zmq_socket(ctx, ZMQ_DEALER);
	zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeo, sizeof(timeo));
	snprintf(ep, sizeof(ep), "ipc://%s/%s", c->dir, CTL_SOCK_NAME);
	if (zmq_connect(s, ep) != 0) {
		c->failed = 1;
		goto out;
	}
	while (bench_now() < c->until && c->n < MAXSAMPLES) {
		int	len;

		len = snprintf(req, sizeof(req), "{\"cmd\":\"append\","
		    "\"type\":\"SaleCreated\",\"payload\":{\"sale_id\":"
		    "\"c%d-%lu\",\"items\":[{\"product_id\":\"p%lu\","
		    "\"qty\":1,\"price_bs\":\"5.00\"}]}}", c->no, i, i % 500);
		i++;
		t0 = bench_now();
		/* DEALER to ROUTER: an empty delimiter, then the body. */
		if (zmq_send(s, "", 0, ZMQ_SNDMORE) < 0 ||
		    zmq_send(s, req, (size_t)len, 0) < 0) {
			c->failed = 1;
			break;
		}
		do {
			r = zmq_recv(s, rep, sizeof(rep) - 1, 0);
		} while (r == 0);	/* the delimiter */
		if (r < 0) {
			c->failed = 1;
			break;
		}
		rep[r < (int)sizeof(rep) - 1 ? r : (int)sizeof(rep) - 1] = 0;
		if (strstr(rep, "\"ok\": true") == NULL &&
		    strstr(rep, "\"ok\":true") == NULL) {
			fprintf(stderr, "bench_append: refused: %s\n", rep);
			c->failed = 1;
			break;
		}
		c->lat[c->n++] = (bench_now() - t0) * 1e6;
	}
out:
	zmq_close(s);
	zmq_ctx_term(ctx);
	return NULL;
}

struct result {
	int	clients;
	size_t	n;
	double	secs, per_s, p50, p99;
};

static int
run_clients(const char *dir, int nc, double secs, struct result *res)
{
	struct client	 c[MAXCLIENTS];
	double		*all, t0;
	size_t		 total = 0;
	int		 i, failed = 0;

	memset(c, 0, sizeof(c));
	t0 = bench_now();
	for (i = 0; i < nc; i++) {
		c[i].dir = dir;
		c[i].no = i + nc * 100;
		c[i].until = t0 + secs;
		c[i].lat = calloc(MAXSAMPLES, sizeof(double));
		pthread_create(&c[i].th, NULL, client_run, &c[i]);
	}
	for (i = 0; i < nc; i++) {
		pthread_join(c[i].th, NULL);
		total += c[i].n;
		failed |= c[i].failed;
	}
	res->secs = bench_now() - t0;
	all = calloc(total + 1, sizeof(double));
	total = 0;
	for (i = 0; i < nc; i++) {
		memcpy(all + total, c[i].lat, c[i].n * sizeof(double));
		total += c[i].n;
		free(c[i].lat);
	}
	res->clients = nc;
	res->n = total;
	res->per_s = total / res->secs;
	res->p50 = bench_percentile(all, total, 50);
	res->p99 = bench_percentile(all, total, 99);
	free(all);
	return failed ? -1 : 0;
}

static uint64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int
main(int argc, char **argv)
{
	struct bench_limits	 lim;
	struct store_ids	 ids;
	struct result		 r1, r8;
	char			 base[] = "/tmp/caja-bappend.XXXXXX";
	char			 dir[4200], cajad[4200], sock[4300];
	const char		*cajad_path = NULL;
	double			 secs = 5;
	pid_t			 pid;
	int			 json = 0, i, rc, st;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--cajad") == 0 && i + 1 < argc)
			cajad_path = argv[++i];
		else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
			secs = strtod(argv[++i], NULL);
		else if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else {
			printf("usage: bench_append [--cajad PATH] "
			    "[--seconds S] [--json]\n");
			return strcmp(argv[i], "--help") == 0 ? 0 : 1;
		}
	}
	if (cajad_path == NULL) {
		/* Next to this program: build/bench_append -> build/cajad. */
		const char *slash = strrchr(argv[0], '/');

		snprintf(cajad, sizeof(cajad), "%.*scajad",
		    slash ? (int)(slash - argv[0] + 1) : 0, argv[0]);
		cajad_path = cajad;
	}
	if (sig_init() != 0 || mkdtemp(base) == NULL)
		return 2;
	if (bench_limits_measure(base, &lim) != 0)
		return 2;
	snprintf(dir, sizeof(dir), "%s/reg", base);
	mkdir(dir, 0700);
	if ((rc = store_create(dir, "Bench", "caja-1", now_ms(), &ids)) != 0) {
		fprintf(stderr, "bench_append: init: %s\n", err_str(rc));
		return 2;
	}
	{
		char *av[] = { (char *)cajad_path, "--dir", dir, "-d",
		    "--no-mdns", "--http", "off", "--listen",
		    "tcp://127.0.0.1:17799", NULL };

		if (posix_spawn(&pid, cajad_path, NULL, NULL, av, environ)
		    != 0) {
			fprintf(stderr, "bench_append: cannot start %s\n",
			    cajad_path);
			return 2;
		}
	}
	snprintf(sock, sizeof(sock), "%s/%s", dir, CTL_SOCK_NAME);
	for (i = 0; i < 200 && access(sock, F_OK) != 0; i++)
		usleep(25000);
	usleep(100000);

	rc = run_clients(dir, 1, secs, &r1);
	if (rc == 0)
		rc = run_clients(dir, 8, secs, &r8);
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	if (rc != 0) {
		fprintf(stderr, "bench_append: a client failed\n");
		bench_rmdir(base);
		return 2;
	}
	if (json) {
		printf("{\"limits\":");
		bench_limits_print(&lim, 1);
		printf(",\"one_client\":{\"appends\":%zu,\"per_s\":%.0f,"
		    "\"p50_us\":%.0f,\"p99_us\":%.0f},\"eight_clients\":"
		    "{\"appends\":%zu,\"per_s\":%.0f,\"p50_us\":%.0f,"
		    "\"p99_us\":%.0f}}\n", r1.n, r1.per_s, r1.p50, r1.p99,
		    r8.n, r8.per_s, r8.p50, r8.p99);
	} else {
		bench_limits_print(&lim, 0);
		printf("durable append via ctl socket, 1 client:  %6.0f /s "
		    "(%.2fx fsync limit), p50 %.0f us, p99 %.0f us\n",
		    r1.per_s, r1.per_s / lim.commit_per_s, r1.p50, r1.p99);
		printf("durable append via ctl socket, 8 clients: %6.0f /s "
		    "(%.2fx fsync limit), p50 %.0f us, p99 %.0f us\n",
		    r8.per_s, r8.per_s / lim.commit_per_s, r8.p50, r8.p99);
	}
	bench_rmdir(base);
	return 0;
}
