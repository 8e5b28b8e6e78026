/*
 * bench_append: durable local appends through cajad's control socket.
 * Starts a real cajad on a fresh data dir, then C clients (threads, each a
 * DEALER on ipc://DIR/ctl.sock) each send appends one at a time and wait
 * for the acknowledgement (sent by the agent only after the commit's
 * fsync). Prints p50/p99 latency and throughput for 1 and 8 clients, as
 * ratios to the LMDB one-put-per-fsync limit measured in the same run,
 * with the agent's CPU time per append (from /proc) and its commits per
 * phase (from its status), i.e. how many appends share one fsync.
 *
 * usage: bench_append [--cajad PATH] [--seconds S] [--json] [--csv FILE]
 *   --csv FILE  writes the latency percentiles of both phases (for
 *               tools/bench/plot_append.py)
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

#include <jansson.h>
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

#define NPCT	14
static const double pcts[NPCT] = { 1, 5, 10, 25, 50, 75, 90, 95, 99, 99.5,
    99.9, 99.99, 0, 100 };	/* 0: min, 100: max */

struct result {
	int	clients;
	size_t	n;
	double	secs, per_s, p50, p90, p99, p999, max;
	double	pct[NPCT];
	double	cpu_s;		/* the agent's, during the phase */
	double	sys_s;		/* of which in the kernel */
	double	commits;	/* the agent's, during the phase */
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
	for (i = 0; i < NPCT; i++)
		res->pct[i] = bench_percentile(all, total, pcts[i]);
	res->p50 = bench_percentile(all, total, 50);
	res->p90 = bench_percentile(all, total, 90);
	res->p99 = bench_percentile(all, total, 99);
	res->p999 = bench_percentile(all, total, 99.9);
	res->max = bench_percentile(all, total, 100);
	free(all);
	return failed ? -1 : 0;
}

/* CPU seconds (user + system; system alone in *sys) of process pid. */
static double
proc_cpu_s(pid_t pid, double *sys)
{
	char			 path[64], buf[1024], *p;
	unsigned long long	 ut = 0, st = 0;
	FILE			*f;
	size_t			 n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* fields 14 and 15, after the ")" that ends the command name */
	if ((p = strrchr(buf, ')')) == NULL || sscanf(p + 2,
	    "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
	    &st) != 2)
		return 0;
	*sys = (double)st / (double)sysconf(_SC_CLK_TCK);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* The agent's commits so far, from its status; -1 when unknown. */
static double
agent_commits(const char *dir)
{
	char		 ep[4200], rep[65536];
	void		*ctx, *s;
	json_t		*o = NULL, *c;
	double		 commits = -1;
	int		 timeo = 5000, r;
	const char	*req = "{\"cmd\":\"status\"}";

	ctx = zmq_ctx_new();
	s = zmq_socket(ctx, ZMQ_DEALER);
	zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeo, sizeof(timeo));
	snprintf(ep, sizeof(ep), "ipc://%s/%s", dir, CTL_SOCK_NAME);
	if (zmq_connect(s, ep) != 0 || zmq_send(s, "", 0, ZMQ_SNDMORE) < 0 ||
	    zmq_send(s, req, strlen(req), 0) < 0)
		goto out;
	do {
		r = zmq_recv(s, rep, sizeof(rep) - 1, 0);
	} while (r == 0);
	if (r <= 0 || r >= (int)sizeof(rep))
		goto out;
	rep[r] = '\0';
	if ((o = json_loads(rep, 0, NULL)) == NULL)
		goto out;
	c = json_object_get(json_object_get(o, "requests"), "commits");
	if (c == NULL) {
		/* the reply may wrap the status */
		c = json_object_get(json_object_get(json_object_get(o,
		    "status"), "requests"), "commits");
	}
	if (json_is_integer(c))
		commits = (double)json_integer_value(c);
out:
	json_decref(o);
	zmq_close(s);
	zmq_ctx_term(ctx);
	return commits;
}

/* One phase: nc clients for secs, with the agent's CPU and commits. */
static int
phase(const char *dir, pid_t pid, int nc, double secs, struct result *r)
{
	double	sys0, sys1, cpu0 = proc_cpu_s(pid, &sys0);
	double	com0 = agent_commits(dir);
	int	rc;

	rc = run_clients(dir, nc, secs, r);
	r->cpu_s = proc_cpu_s(pid, &sys1) - cpu0;
	r->sys_s = sys1 - sys0;
	r->commits = com0 < 0 ? -1 : agent_commits(dir) - com0 - 1;
	return rc;
}

static void
print_result(const struct result *r, const struct bench_limits *lim)
{
	printf("durable append via ctl socket, %d client%s: %6.0f /s "
	    "(%.2fx fsync limit)\n", r->clients, r->clients == 1 ? " " : "s",
	    r->per_s, r->per_s / lim->commit_per_s);
	printf("  latency p50 %.0f us (%.1fx the fsync p50, %.1fx that of a "
	    "commit as wide as an append), p90 %.0f, p99 %.0f, p99.9 %.0f, "
	    "max %.0f us\n", r->p50, r->p50 / lim->commit_p50_us,
	    r->p50 / lim->wide_commit_p50_us, r->p90, r->p99, r->p999,
	    r->max);
	if (r->commits > 0)
		printf("  %.0f commits: %.1f appends per fsync; ", r->commits,
		    (double)r->n / r->commits);
	else
		printf("  ");
	printf("agent CPU %.0f us per append (%.0f us in the kernel; "
	    "%.0f%% of a core)\n", r->n ? r->cpu_s * 1e6 / (double)r->n : 0,
	    r->n ? r->sys_s * 1e6 / (double)r->n : 0,
	    100 * r->cpu_s / r->secs);
}

static void
json_result(const char *name, const struct result *r)
{
	printf("\"%s\":{\"clients\":%d,\"appends\":%zu,\"per_s\":%.0f,"
	    "\"p50_us\":%.0f,\"p90_us\":%.0f,\"p99_us\":%.0f,"
	    "\"p999_us\":%.0f,\"max_us\":%.0f,\"commits\":%.0f,"
	    "\"agent_cpu_us_per_append\":%.1f,"
	    "\"agent_sys_us_per_append\":%.1f}", name, r->clients, r->n,
	    r->per_s, r->p50, r->p90, r->p99, r->p999, r->max, r->commits,
	    r->n ? r->cpu_s * 1e6 / (double)r->n : 0,
	    r->n ? r->sys_s * 1e6 / (double)r->n : 0);
}

static int
write_csv(const char *path, const struct result *a, const struct result *b,
    const struct bench_limits *lim)
{
	FILE	*f;
	int	 i;

	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fprintf(f, "# fsync_p50_us=%.1f fsync_per_s=%.0f per_s_%d=%.0f "
	    "per_s_%d=%.0f\n", lim->commit_p50_us, lim->commit_per_s,
	    a->clients, a->per_s, b->clients, b->per_s);
	fprintf(f, "percentile,clients_%d_us,clients_%d_us\n", a->clients,
	    b->clients);
	for (i = 0; i < NPCT; i++)
		fprintf(f, "%g,%.1f,%.1f\n", pcts[i], a->pct[i], b->pct[i]);
	return fclose(f) == 0 ? 0 : -1;
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
	char			 listen[64];
	const char		*cajad_path = NULL, *csv = NULL;
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
		else if (strcmp(argv[i], "--csv") == 0 && i + 1 < argc)
			csv = argv[++i];
		else {
			printf("usage: bench_append [--cajad PATH] "
			    "[--seconds S] [--json] [--csv FILE]\n");
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
	/* a port of its own: other agents may run on this machine */
	snprintf(listen, sizeof(listen), "tcp://127.0.0.1:%d",
	    20000 + (int)(getpid() % 20000));
	{
		char *av[] = { (char *)cajad_path, "--dir", dir, "-d",
		    "--no-mdns", "--http", "off", "--listen", listen, NULL };

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

	rc = phase(dir, pid, 1, secs, &r1);
	if (rc == 0)
		rc = phase(dir, pid, 8, secs, &r8);
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
		printf(",");
		json_result("one_client", &r1);
		printf(",");
		json_result("eight_clients", &r8);
		printf("}\n");
	} else {
		bench_limits_print(&lim, 0);
		print_result(&r1, &lim);
		print_result(&r8, &lim);
		printf("8 clients vs 1: %.2fx the throughput\n",
		    r8.per_s / r1.per_s);
	}
	if (csv != NULL && write_csv(csv, &r1, &r8, &lim) != 0)
		fprintf(stderr, "bench_append: cannot write %s\n", csv);
	bench_rmdir(base);
	return 0;
}
