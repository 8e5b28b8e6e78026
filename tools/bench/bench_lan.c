/*
 * bench_lan: LAN replication between real cajad processes on loopback
 * (issue 3, "Performance"). Every figure is printed next to the limits of
 * this machine measured in the same run (benchutil.c, plus the ZeroMQ
 * request-reply round trip over TCP loopback measured here).
 *
 * usage: bench_lan [options] [rtt] [propagate] [converge] [catchup] [wire]
 *        (no mode: all five, in that order)
 *
 *   --cajad PATH        the agent (default: cajad next to this program)
 *   --samples N         propagate: events timed (default 1000)
 *   --interval MS       propagate: mean pause between them (default 10)
 *   --registers N       converge: registers (default 8)
 *   --events N          converge: fresh events per register (default 10000)
 *   --catchup-events N  catchup: events the store holds (default 1000000)
 *   --sources N         catchup: registers serving the new one (default 2)
 *   --idle-seconds N    wire: idle window (default 20)
 *   --out DIR           write samples (TSV) for tools/bench/bench_lan_plot.py
 *   --shm               data dirs on tmpfs (/dev/shm): fsync costs nothing,
 *                       which shows what the disk costs (a control run)
 *   --skip-limits       no limits (then no ratios)
 *   --json              one JSON object at the end instead of text
 *
 * Methods (BENCHMARKS.md "LAN replication" says why):
 *
 *  rtt        ZeroMQ REQ/REP, 200-byte messages, TCP loopback, two threads
 *             of this process, plain and CURVE: p50/p99 round trip.
 *  propagate  two registers A and B (real cajad, static peers). This
 *             program appends one POS event at a time on A through A's
 *             control socket and watches B's data.mdb with inotify: every
 *             LMDB commit of B writes the file, each write wakes us, and a
 *             read-only transaction on B's store says whether A's event is
 *             there. Latency = request sent to A -> event committed and
 *             visible on B (and ack from A -> visible on B). No polling,
 *             nothing added to the agents; we watch B's data from the
 *             moment the request leaves, so an event that lands on B
 *             before A's ack reaches us is timed correctly.
 *  converge   N registers of one store, known to each other (they ran
 *             together once). Partition: agents stopped, each register
 *             gets E fresh events of the POS mix (store library, the code
 *             `append` runs). Heal: all N agents start at t0 with full-mesh
 *             static peers; we poll the N stores read-only every 10 ms
 *             until every vector clock equals the union, then compare
 *             digests. The figure includes agent start and CURVE
 *             handshakes (measured alone too).
 *  catchup    a store of M events from 5 devices held by S registers; a
 *             new register (joined, holding only the enrollments) starts
 *             with the S as static peers. Time until its vector clock
 *             covers theirs; its CPU time and peak RSS (VmHWM) from /proc.
 *  wire       bytes through the kernel's TCP sockets between two agents
 *             (ss(8): bytes_sent + bytes_received of each connection, i.e.
 *             everything ZeroMQ writes: ZMTP framing, CURVE boxes,
 *             heartbeats, PING/PONG, HELLO, SUMMARY, PUSH, WANT, EVENTS),
 *             idle, per live event, per event of a burst, per event of a
 *             catch-up; and the same messages encoded by proto/wire.c to
 *             split payload from envelope.
 */
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <dirent.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <lmdb.h>
#include <sodium.h>
#include <zmq.h>

#include "agent/ctl.h"
#include "proto/buf.h"
#include "proto/event.h"
#include "proto/ids.h"
#include "proto/sig.h"
#include "proto/vclock.h"
#include "proto/wire.h"
#include "store/store.h"
#include "tools/bench/bench.h"

extern char **environ;

#define MAXAG		24		/* agents in one scenario */
#define MAXCHILD	64
#define FILL_BATCH	10000
#define RTT_N		20000
#define RTT_WARM	1000
#define RTT_MSG		200
#define READY_MS	20000		/* an agent answers ping */
#define TOKEN_MAX	1024

struct agent {
	char		 name[16];
	char		 dir[PATH_MAX];
	char		 log[PATH_MAX];
	int		 port;
	pid_t		 pid;
	struct store	*ro;		/* read-only, while measuring */
};

/* A persistent REQ client of one agent's control socket. */
struct ctlc {
	void	*ctx;
	void	*req;
};

static char		 g_base[64] = "/tmp/caja-benchlan.XXXXXX";
static int		 g_have_base;
static char		 g_cajad[PATH_MAX];
static pid_t		 g_child[MAXCHILD];
static int		 g_nchild;
static int		 g_port_next;
static int		 g_json;
static const char	*g_out;
static int		 g_limits = 1;
static struct bench_limits g_lim;
static json_t		*g_res;		/* figures, for --json */
static uint64_t		 g_rng = BENCH_RNG_SEED;

/* The ZeroMQ round trips of this run (microseconds). */
static struct {
	int	done;
	double	plain_p50, plain_p99, curve_p50, curve_p99;
} g_rtt;

/* ---- odds and ends ---- */

static void	cleanup(void);

static void __attribute__((format(printf, 1, 2), noreturn))
die(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	fprintf(stderr, "bench_lan: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	cleanup();
	exit(2);
}

static void __attribute__((format(printf, 1, 2)))
note(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	fprintf(stderr, "bench_lan: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
}

/* Text output, unless --json. */
static void __attribute__((format(printf, 1, 2)))
out(const char *fmt, ...)
{
	va_list	ap;

	if (g_json)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

static void
res_set(const char *mode, const char *key, double v)
{
	json_t	*m = json_object_get(g_res, mode);

	if (m == NULL) {
		m = json_object();
		(void)json_object_set_new(g_res, mode, m);
	}
	(void)json_object_set_new(m, key, json_real(v));
}

static uint64_t
wall_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
sleep_ms(double ms)
{
	struct timespec	ts;

	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)((ms - (double)ts.tv_sec * 1000) * 1e6);
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* ---- child processes ---- */

static void
child_forget(pid_t pid)
{
	int	i;

	for (i = 0; i < g_nchild; i++)
		if (g_child[i] == pid) {
			g_child[i] = g_child[--g_nchild];
			return;
		}
}

/* 1 when pid exited (reaped) within ms. */
static int
reap(pid_t pid, int ms)
{
	int	st, waited = 0;

	for (;;) {
		pid_t	r = waitpid(pid, &st, WNOHANG);

		if (r == pid || (r == -1 && errno == ECHILD))
			return 1;
		if (waited >= ms)
			return 0;
		sleep_ms(10);
		waited += 10;
	}
}

static void
stop_pid(pid_t pid)
{
	if (pid <= 0)
		return;
	(void)kill(pid, SIGTERM);
	if (!reap(pid, 10000)) {
		(void)kill(pid, SIGKILL);
		(void)reap(pid, 5000);
	}
	child_forget(pid);
}

/* rm -rf of our temp dir (under /tmp or /dev/shm, nothing else). */
static void
rm_base(void)
{
	char	cmd[128];

	if ((strncmp(g_base, "/tmp/caja-benchlan.", 19) != 0 &&
	    strncmp(g_base, "/dev/shm/caja-benchlan.", 23) != 0) ||
	    strstr(g_base, "..") != NULL || strchr(g_base, '\'') != NULL)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_base);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_lan: could not remove %s\n", g_base);
}

static void
cleanup(void)
{
	while (g_nchild > 0)
		stop_pid(g_child[g_nchild - 1]);
	if (g_have_base && getenv("CAJA_KEEP") == NULL)
		rm_base();
	g_have_base = 0;
}

static void
on_signal(int sig)
{
	int	i;

	/* Agents first (kill is async-signal-safe), then the rest. */
	for (i = 0; i < g_nchild; i++)
		(void)kill(g_child[i], SIGTERM);
	signal(sig, SIG_DFL);
	cleanup();
	_exit(128 + sig);
}

/* ---- /proc ---- */

/* User + system CPU seconds of pid, or -1. */
static double
proc_cpu_s(pid_t pid)
{
	char			 path[64], buf[2048], *p;
	unsigned long long	 ut = 0, stt = 0;
	FILE			*f;
	size_t			 n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	/* state ppid pgrp session tty tpgid flags minflt cminflt majflt
	 * cmajflt utime stime */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu "
	    "%llu", &ut, &stt) != 2)
		return -1;
	return (double)(ut + stt) / (double)sysconf(_SC_CLK_TCK);
}

/* A "Key:   N kB" line of /proc/pid/status, in KiB, or -1. */
static long
proc_status_kb(pid_t pid, const char *key)
{
	char	 path[64], line[256];
	size_t	 kl = strlen(key);
	long	 kb = -1;
	FILE	*f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, kl) == 0 && line[kl] == ':')
			kb = strtol(line + kl + 1, NULL, 10);
	fclose(f);
	return kb;
}

/*
 * Seconds the threads of pid spent running and waiting for a core (run
 * queue), from /proc/pid/task/TID/schedstat.
 */
static void
proc_sched_s(pid_t pid, double *run, double *wait)
{
	char			 path[96];
	unsigned long long	 r, w;
	struct dirent		*de;
	DIR			*d;
	FILE			*f;

	*run = *wait = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.20s/schedstat",
		    (int)pid, de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fscanf(f, "%llu %llu", &r, &w) == 2) {
			*run += (double)r / 1e9;
			*wait += (double)w / 1e9;
		}
		fclose(f);
	}
	closedir(d);
}

/* ---- ports ---- */

static int
port_free(int port)
{
	struct sockaddr_in	sa;
	int			s, ok, one = 1;

	if ((s = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return 0;
	(void)setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = bind(s, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(s);
	return ok;
}

/* Ports 28xxx, offset by our pid, skipping any in use. */
static int
next_port(void)
{
	int	k;

	if (g_port_next == 0)
		g_port_next = 28000 + (int)(getpid() % 80) * 12;
	for (k = 0; k < 2000; k++) {
		int	p = g_port_next++;

		if (g_port_next > 29999)
			g_port_next = 28000;
		if (port_free(p))
			return p;
	}
	die("no free port in 28000-29999");
}

/* ---- the POS mix (bench.h: BENCH_MIX_BASIC, as bench_import's) ---- */

static json_t *
mix_event(const char *tag, uint64_t i, const char **type)
{
	struct bench_mix	 mix = { .kind = BENCH_MIX_BASIC, .rng = &g_rng };
	struct bench_mix_ev	 ev;
	json_t			*pl;

	mix.tag = tag;
	pl = bench_mix_event(&mix, i, &ev);
	*type = ev.type;
	return pl;
}

/* ---- stores, through the store library (agents stopped) ---- */

static struct store *
open_store(const char *dir, int rdonly, int nosync)
{
	struct store_opts	 o;
	struct store		*st = NULL;
	int			 rc;

	memset(&o, 0, sizeof(o));
	o.rdonly = rdonly;
	o.nosync = nosync;
	if ((rc = store_open(&st, dir, &o)) != 0)
		die("open %s: %s", dir, err_str(rc));
	return st;
}

/* Appends n events of the mix on the store in dir (agent stopped). */
static void
fill(const char *dir, const char *tag, uint64_t n)
{
	struct store		*st = open_store(dir, 0, 1);
	struct store_batch	*b = NULL;
	struct store_appended	 ap;
	char			 msg[STORE_ERRMSG];
	const char		*type;
	json_t			*pl;
	uint64_t		 i;
	int			 rc;

	for (i = 0; i < n; i++) {
		if (b == NULL && (rc = store_batch_begin(st, &b)) != 0)
			die("batch %s: %s", dir, err_str(rc));
		pl = mix_event(tag, i, &type);
		msg[0] = '\0';
		rc = store_append_json(b, type, pl, wall_ms(), &ap, msg);
		json_decref(pl);
		if (rc != 0)
			die("append on %s: %s %s", dir, err_str(rc), msg);
		if ((i + 1) % FILL_BATCH == 0 || i + 1 == n) {
			if ((rc = store_batch_commit(&b)) != 0)
				die("commit %s: %s", dir, err_str(rc));
		}
	}
	store_close(&st);
}

static void
export_to(const char *dir, const char *file)
{
	struct store	*st = open_store(dir, 1, 0);
	size_t		 cnt;
	int		 rc;

	if ((rc = store_export(st, NULL, file, &cnt)) != 0)
		die("export %s: %s", dir, err_str(rc));
	store_close(&st);
}

static void
import_from(const char *dir, const char *file)
{
	struct store		*st = open_store(dir, 0, 1);
	struct store_report	*rep = calloc(1, sizeof(*rep));
	char			 msg[STORE_ERRMSG] = "";
	int			 rc;

	if (rep == NULL)
		die("out of memory");
	if ((rc = store_import(st, file, wall_ms(), rep, msg)) != 0)
		die("import %s into %s: %s %s", file, dir, err_str(rc), msg);
	if (rep->refused != 0)
		die("import %s into %s: %zu refused: %s", file, dir,
		    rep->refused, rep->nrefusals ? rep->refusals[0].msg : "");
	free(rep);
	store_close(&st);
}

/*
 * A store of n registers in g_base/<prefix>0.. : r0 made by init, the
 * others joined with invites; every register then holds every
 * enrollment (export/import, as a USB stick would carry them).
 */
static void
make_store(struct agent *ag, int n, const char *prefix, const char *name)
{
	struct store		*st0;
	struct store_batch	*b = NULL;
	struct store_ids	 ids;
	char			(*tok)[TOKEN_MAX], msg[STORE_ERRMSG];
	char			 file[PATH_MAX + 16];
	int			 i, rc;

	if ((tok = calloc((size_t)n, sizeof(*tok))) == NULL)
		die("out of memory");
	for (i = 0; i < n; i++) {
		memset(&ag[i], 0, sizeof(ag[i]));
		snprintf(ag[i].name, sizeof(ag[i].name), "%s%d", prefix, i);
		snprintf(ag[i].dir, sizeof(ag[i].dir), "%s/%s", g_base,
		    ag[i].name);
		snprintf(ag[i].log, sizeof(ag[i].log), "%s/%s.log", g_base,
		    ag[i].name);
		if (mkdir(ag[i].dir, 0700) != 0)
			die("mkdir %s: %s", ag[i].dir, strerror(errno));
		ag[i].port = next_port();
	}
	if ((rc = store_create(ag[0].dir, name, ag[0].name, wall_ms(), &ids))
	    != 0)
		die("init %s: %s", ag[0].dir, err_str(rc));
	st0 = open_store(ag[0].dir, 0, 1);
	if ((rc = store_batch_begin(st0, &b)) != 0)
		die("batch: %s", err_str(rc));
	for (i = 1; i < n; i++)
		if ((rc = store_invite(b, "register", wall_ms() + 86400000,
		    wall_ms(), tok[i], sizeof(tok[i]), msg)) != 0)
			die("invite: %s %s", err_str(rc), msg);
	if ((rc = store_batch_commit(&b)) != 0)
		die("commit: %s", err_str(rc));
	store_close(&st0);
	for (i = 1; i < n; i++)
		if ((rc = store_join(ag[i].dir, tok[i], ag[i].name, wall_ms(),
		    &ids)) != 0)
			die("join %s: %s", ag[i].dir, err_str(rc));
	for (i = 1; i < n; i++) {
		snprintf(file, sizeof(file), "%s/%s.caja", g_base, ag[i].name);
		export_to(ag[i].dir, file);
		import_from(ag[0].dir, file);
	}
	snprintf(file, sizeof(file), "%s/%s.caja", g_base, ag[0].name);
	export_to(ag[0].dir, file);
	for (i = 1; i < n; i++)
		import_from(ag[i].dir, file);
	free(tok);
}

/* ---- agents ---- */

/* Dial every agent of peers[] but a itself. */
static void
agent_start(struct agent *a, struct agent *peers, int npeers)
{
	char				*argv[16 + 2 * MAXAG];
	char				 listen[64], pep[MAXAG][64];
	posix_spawn_file_actions_t	 fa;
	int				 ac = 0, i, rc;

	argv[ac++] = g_cajad;
	argv[ac++] = "--dir";
	argv[ac++] = a->dir;
	argv[ac++] = "-d";
	argv[ac++] = "--no-mdns";
	argv[ac++] = "--http";
	argv[ac++] = "off";
	argv[ac++] = "--listen";
	snprintf(listen, sizeof(listen), "tcp://127.0.0.1:%d", a->port);
	argv[ac++] = listen;
	for (i = 0; i < npeers && i < MAXAG; i++) {
		if (&peers[i] == a)
			continue;
		snprintf(pep[i], sizeof(pep[i]), "tcp://127.0.0.1:%d",
		    peers[i].port);
		argv[ac++] = "--peer";
		argv[ac++] = pep[i];
	}
	argv[ac] = NULL;
	if (g_nchild >= MAXCHILD)
		die("too many agents");
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, a->log,
	    O_WRONLY | O_CREAT | O_APPEND, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	posix_spawn_file_actions_addclose(&fa, 0);
	rc = posix_spawn(&a->pid, g_cajad, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		die("spawn %s: %s", g_cajad, strerror(rc));
	g_child[g_nchild++] = a->pid;
}

static void
agent_show_log(const struct agent *a)
{
	char	cmd[PATH_MAX + 32];

	snprintf(cmd, sizeof(cmd), "tail -n 20 '%s' >&2", a->log);
	if (system(cmd) != 0)
		fprintf(stderr, "(no log)\n");
}

/* One control request; NULL on failure (err says why). */
static json_t *
agent_call(const struct agent *a, const char *cmd, int timeout_ms,
    char err[CTL_ERRMSG])
{
	json_t	*req = json_pack("{s:s}", "cmd", cmd), *rep = NULL;
	int	 rc;

	rc = ctl_call(a->dir, req, timeout_ms, &rep, err);
	json_decref(req);
	if (rc != 0)
		return NULL;
	return rep;
}

static void
agent_wait_ready(const struct agent *a)
{
	char	 err[CTL_ERRMSG];
	json_t	*r;
	double	 t0 = bench_now();

	while ((bench_now() - t0) * 1000 < READY_MS) {
		if ((r = agent_call(a, "ping", 2000, err)) != NULL) {
			json_decref(r);
			return;
		}
		if (waitpid(a->pid, NULL, WNOHANG) == a->pid) {
			child_forget(a->pid);
			agent_show_log(a);
			die("agent %s exited", a->name);
		}
		sleep_ms(5);
	}
	agent_show_log(a);
	die("agent %s does not answer: %s", a->name, err);
}

static void
agent_stop(struct agent *a)
{
	stop_pid(a->pid);
	a->pid = 0;
}

/* Peers of a in state "up". */
static int
agent_up(const struct agent *a)
{
	char	 err[CTL_ERRMSG];
	json_t	*s = agent_call(a, "status", 5000, err), *p;
	size_t	 i;
	int	 n = 0;

	if (s == NULL)
		return -1;
	json_array_foreach(json_object_get(s, "peers"), i, p)
		if (strcmp(json_string_value(json_object_get(p, "state")) ?
		    json_string_value(json_object_get(p, "state")) : "",
		    "up") == 0)
			n++;
	json_decref(s);
	return n;
}

static void
agent_device(const struct agent *a, uint8_t dev[ID_LEN])
{
	char		 err[CTL_ERRMSG];
	json_t		*s = agent_call(a, "status", 5000, err);
	const char	*hex;

	if (s == NULL)
		die("status of %s: %s", a->name, err);
	hex = json_string_value(json_object_get(s, "device_id"));
	if (hex == NULL || ids_unhex(dev, ID_LEN, hex) != 0)
		die("status of %s: no device_id", a->name);
	json_decref(s);
}

/* What an agent's peers sent it, from its status (summed over peers). */
struct counts {
	uint64_t	recv, dup, refused, skipped;
};

/* Adds a's per-peer event counts to *c. */
static void
agent_counts(const struct agent *a, struct counts *c)
{
	char	 err[CTL_ERRMSG];
	json_t	*s = agent_call(a, "status", 5000, err), *p;
	size_t	 i;

	if (s == NULL)
		die("status of %s: %s", a->name, err);
	json_array_foreach(json_object_get(s, "peers"), i, p) {
		c->recv += (uint64_t)json_integer_value(json_object_get(p,
		    "received_events"));
		c->dup += (uint64_t)json_integer_value(json_object_get(p,
		    "duplicate_events"));
		c->refused += (uint64_t)json_integer_value(json_object_get(p,
		    "refused_events"));
		c->skipped += (uint64_t)json_integer_value(json_object_get(p,
		    "skipped_events"));
	}
	json_decref(s);
}

static void
ro_vclock(struct agent *a, struct vclock *vc)
{
	int	rc;

	if (a->ro == NULL)
		a->ro = open_store(a->dir, 1, 0);
	if ((rc = store_vclock(a->ro, vc)) != 0)
		die("vclock of %s: %s", a->name, err_str(rc));
}

static void
ro_close(struct agent *ag, int n)
{
	int	i;

	for (i = 0; i < n; i++)
		store_close(&ag[i].ro);
}

/*
 * Until each of the n agents has want peers up and all vector clocks are
 * equal (ms), or die after timeout seconds.
 */
static void
wait_mesh(struct agent *ag, int n, int want, int timeout)
{
	struct vclock	*v0 = malloc(sizeof(*v0)), *v = malloc(sizeof(*v));
	double		 t0 = bench_now();
	int		 i, ok;

	if (v0 == NULL || v == NULL)
		die("out of memory");
	for (;;) {
		ok = 1;
		for (i = 0; i < n && ok; i++)
			if (agent_up(&ag[i]) < want)
				ok = 0;
		if (ok) {
			ro_vclock(&ag[0], v0);
			for (i = 1; i < n && ok; i++) {
				ro_vclock(&ag[i], v);
				if (vclock_cmp(v0, v) != VCLOCK_EQUAL)
					ok = 0;
			}
		}
		if (ok)
			break;
		if (bench_now() - t0 > timeout) {
			for (i = 0; i < n; i++)
				note("%s: %d peers up", ag[i].name,
				    agent_up(&ag[i]));
			die("agents not in step after %d s", timeout);
		}
		sleep_ms(50);
	}
	free(v0);
	free(v);
}

/* ---- control-socket client (one REQ, kept open) ---- */

static void
ctlc_open(struct ctlc *c, const struct agent *a)
{
	char	ep[PATH_MAX + 16];
	int	linger = 0;

	snprintf(ep, sizeof(ep), "ipc://%s/%s", a->dir, CTL_SOCK_NAME);
	if ((c->ctx = zmq_ctx_new()) == NULL ||
	    (c->req = zmq_socket(c->ctx, ZMQ_REQ)) == NULL ||
	    zmq_setsockopt(c->req, ZMQ_LINGER, &linger, sizeof(linger)) ||
	    zmq_connect(c->req, ep) != 0)
		die("connect %s: %s", ep, zmq_strerror(zmq_errno()));
}

static void
ctlc_close(struct ctlc *c)
{
	if (c->req != NULL)
		zmq_close(c->req);
	if (c->ctx != NULL)
		zmq_ctx_term(c->ctx);
	c->req = c->ctx = NULL;
}

static void
ctlc_send(struct ctlc *c, json_t *req)
{
	char	*txt = json_dumps(req, JSON_COMPACT);

	if (txt == NULL || zmq_send(c->req, txt, strlen(txt), 0) == -1)
		die("send to agent: %s", zmq_strerror(zmq_errno()));
	free(txt);
}

/* Reads the reply (REQ: after a send); dies on an error reply. */
static json_t *
ctlc_recv(struct ctlc *c, int timeout_ms)
{
	zmq_pollitem_t	 pi = { c->req, 0, ZMQ_POLLIN, 0 };
	zmq_msg_t	 m;
	json_error_t	 je;
	json_t		*r;

	if (zmq_poll(&pi, 1, timeout_ms) != 1)
		die("agent did not answer within %d ms", timeout_ms);
	zmq_msg_init(&m);
	if (zmq_msg_recv(&m, c->req, 0) == -1)
		die("recv: %s", zmq_strerror(zmq_errno()));
	r = json_loadb(zmq_msg_data(&m), zmq_msg_size(&m), 0, &je);
	zmq_msg_close(&m);
	if (r == NULL)
		die("malformed reply");
	if (!json_is_true(json_object_get(r, "ok")))
		die("agent refused: %s", json_string_value(json_object_get(r,
		    "error")));
	return r;
}

static json_t *
append_req(const char *tag, uint64_t i)
{
	const char	*type;
	json_t		*pl = mix_event(tag, i, &type);

	return json_pack("{s:s, s:s, s:o}", "cmd", "append", "type", type,
	    "payload", pl);
}

/* Appends n events of the mix on c's agent in one append_batch. */
static void
append_batch(struct ctlc *c, const char *tag, uint64_t from, uint64_t n)
{
	json_t		*evs = json_array(), *req, *rep;
	const char	*type;
	uint64_t	 i;

	for (i = 0; i < n; i++) {
		json_t	*pl = mix_event(tag, from + i, &type);

		json_array_append_new(evs, json_pack("{s:s, s:o}", "type",
		    type, "payload", pl));
	}
	req = json_pack("{s:s, s:o}", "cmd", "append_batch", "events", evs);
	ctlc_send(c, req);
	json_decref(req);
	rep = ctlc_recv(c, 120000);
	json_decref(rep);
}

/* ---- limits: benchutil's, and the ZeroMQ round trip ---- */

struct rtt_arg {
	void	*ctx;
	char	 ep[64];
	int	 curve;
	char	 server_sk[41];
	int	 n;
};

static void *
rtt_server(void *arg)
{
	struct rtt_arg	*ra = arg;
	void		*s = zmq_socket(ra->ctx, ZMQ_REP);
	char		 buf[RTT_MSG];
	int		 i, one = 1, linger = 0;

	if (s == NULL)
		return NULL;
	(void)zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	if (ra->curve) {
		(void)zmq_setsockopt(s, ZMQ_CURVE_SERVER, &one, sizeof(one));
		(void)zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, ra->server_sk, 40);
	}
	if (zmq_bind(s, ra->ep) != 0) {
		zmq_close(s);
		return NULL;
	}
	for (i = 0; i < ra->n; i++) {
		if (zmq_recv(s, buf, sizeof(buf), 0) == -1 ||
		    zmq_send(s, buf, sizeof(buf), 0) == -1)
			break;
	}
	zmq_close(s);
	return NULL;
}

/* REQ/REP round trips of RTT_MSG bytes over TCP loopback. */
static void
rtt_measure(int curve, double *p50, double *p99)
{
	struct rtt_arg	 ra;
	pthread_t	 th;
	char		 server_pk[41], client_pk[41], client_sk[41];
	char		 buf[RTT_MSG];
	double		*lat, t0;
	void		*s;
	int		 i, n = RTT_N + RTT_WARM, linger = 0;

	memset(&ra, 0, sizeof(ra));
	memset(buf, 0x5a, sizeof(buf));
	ra.ctx = zmq_ctx_new();
	snprintf(ra.ep, sizeof(ra.ep), "tcp://127.0.0.1:%d", next_port());
	ra.curve = curve;
	ra.n = n;
	if (curve && (zmq_curve_keypair(server_pk, ra.server_sk) != 0 ||
	    zmq_curve_keypair(client_pk, client_sk) != 0))
		die("zmq_curve_keypair: %s", zmq_strerror(zmq_errno()));
	if (pthread_create(&th, NULL, rtt_server, &ra) != 0)
		die("pthread_create");
	if ((lat = calloc((size_t)RTT_N, sizeof(*lat))) == NULL)
		die("out of memory");
	s = zmq_socket(ra.ctx, ZMQ_REQ);
	(void)zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	if (curve) {
		(void)zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server_pk, 40);
		(void)zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, client_pk, 40);
		(void)zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, client_sk, 40);
	}
	if (zmq_connect(s, ra.ep) != 0)
		die("connect %s", ra.ep);
	for (i = 0; i < n; i++) {
		t0 = bench_now();
		if (zmq_send(s, buf, sizeof(buf), 0) == -1 ||
		    zmq_recv(s, buf, sizeof(buf), 0) == -1)
			die("rtt: %s", zmq_strerror(zmq_errno()));
		if (i >= RTT_WARM)
			lat[i - RTT_WARM] = (bench_now() - t0) * 1e6;
	}
	zmq_close(s);
	pthread_join(th, NULL);
	zmq_ctx_term(ra.ctx);
	*p50 = bench_percentile(lat, RTT_N, 50);
	*p99 = bench_percentile(lat, RTT_N, 99);
	free(lat);
}

static void
mode_rtt(void)
{
	if (g_rtt.done)
		return;
	rtt_measure(0, &g_rtt.plain_p50, &g_rtt.plain_p99);
	rtt_measure(1, &g_rtt.curve_p50, &g_rtt.curve_p99);
	g_rtt.done = 1;
	out("zeromq REQ/REP %d B over TCP loopback (this run):\n", RTT_MSG);
	out("  plain  round trip p50 %6.1f us  p99 %6.1f us\n",
	    g_rtt.plain_p50, g_rtt.plain_p99);
	out("  CURVE  round trip p50 %6.1f us  p99 %6.1f us\n",
	    g_rtt.curve_p50, g_rtt.curve_p99);
	res_set("rtt", "plain_p50_us", g_rtt.plain_p50);
	res_set("rtt", "plain_p99_us", g_rtt.plain_p99);
	res_set("rtt", "curve_p50_us", g_rtt.curve_p50);
	res_set("rtt", "curve_p99_us", g_rtt.curve_p99);
}

/* ---- propagate ---- */

/*
 * A bare LMDB commit of one put, fsync'd, on a scratch env next to the
 * agents' data: the disk's latency at that moment (the agents' commits
 * pay it too). Returns microseconds, or -1.
 */
struct probe {
	MDB_env	*env;
	MDB_dbi	 dbi[1 + WIDE_DBS];	/* the bare one, then the wide ones */
	uint64_t n;
};

static int
probe_open(struct probe *pr)
{
	char	 dir[PATH_MAX], name[8];
	MDB_txn	*txn;
	int	 i;

	memset(pr, 0, sizeof(*pr));
	snprintf(dir, sizeof(dir), "%s/probe", g_base);
	if (mkdir(dir, 0700) != 0 || mdb_env_create(&pr->env) != 0 ||
	    mdb_env_set_mapsize(pr->env, 64u << 20) != 0 ||
	    mdb_env_set_maxdbs(pr->env, 2 + WIDE_DBS) != 0 ||
	    mdb_env_open(pr->env, dir, 0, 0600) != 0 ||
	    mdb_txn_begin(pr->env, NULL, 0, &txn) != 0)
		return -1;
	for (i = 0; i < 1 + WIDE_DBS; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		if (mdb_dbi_open(txn, name, MDB_CREATE, &pr->dbi[i]) != 0) {
			mdb_txn_abort(txn);
			return -1;
		}
	}
	return mdb_txn_commit(txn) == 0 ? 0 : -1;
}

/*
 * A commit of one put in each of ndb databases: microseconds, or -1.
 * nometa: without the meta page's sync, as a register commits events it
 * received (store/store.c); the next commit syncs it.
 */
static double
probe_commit(struct probe *pr, const MDB_dbi *dbi, int ndb, int nometa)
{
	uint8_t	 key[8], val[300];
	MDB_val	 k = { sizeof(key), key }, v = { sizeof(val), val };
	MDB_txn	*txn;
	double	 t0 = bench_now();
	int	 i;

	pr->n++;
	for (i = 0; i < 8; i++)
		key[i] = (uint8_t)(pr->n >> (56 - 8 * i));
	memset(val, 0x42, sizeof(val));
	if (mdb_txn_begin(pr->env, NULL, 0, &txn) != 0)
		return -1;
	for (i = 0; i < ndb; i++)
		if (mdb_put(txn, dbi[i], &k, &v, 0) != 0) {
			mdb_txn_abort(txn);
			return -1;
		}
	if (nometa && mdb_env_set_flags(pr->env, MDB_NOMETASYNC, 1) != 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	i = mdb_txn_commit(txn);
	if (nometa)
		(void)mdb_env_set_flags(pr->env, MDB_NOMETASYNC, 0);
	return i == 0 ? (bench_now() - t0) * 1e6 : -1;
}

static void
mode_propagate(int samples, double interval_ms)
{
	struct agent	 ag[2];
	struct ctlc	 c;
	struct vclock	*vc = malloc(sizeof(*vc));
	uint8_t		 dev_a[ID_LEN];
	double		*from_req, *from_ack, *ack, *probe, *wide, *wide_rx;
	double		 t0, t1, t2, floor_us;
	double		 c50, c99, floor2_us, w50, wr50, floor3_us;
	double		 floor4_us;
	struct probe	 pr;
	double		 p50, p90, p99, pmax, a50, a99, q50, q99;
	char		 watch[PATH_MAX + 16], ev[4096];
	json_t		*req, *rep;
	uint64_t	 seq, want;
	int		 ifd, i, k, warm = 50, woke, late = 0;
	FILE		*f = NULL;

	if (vc == NULL)
		die("out of memory");
	mode_rtt();
	note("propagate: 2 registers, %d events", samples);
	make_store(ag, 2, "p", "Bench propagate");
	agent_start(&ag[0], ag, 2);
	agent_start(&ag[1], ag, 2);
	agent_wait_ready(&ag[0]);
	agent_wait_ready(&ag[1]);
	wait_mesh(ag, 2, 1, 60);
	agent_device(&ag[0], dev_a);
	ro_vclock(&ag[1], vc);
	want = vclock_get(vc, dev_a);

	snprintf(watch, sizeof(watch), "%s/data.mdb", ag[1].dir);
	if ((ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1 ||
	    inotify_add_watch(ifd, watch, IN_MODIFY) == -1)
		die("inotify %s: %s", watch, strerror(errno));
	from_req = calloc((size_t)samples, sizeof(double));
	from_ack = calloc((size_t)samples, sizeof(double));
	ack = calloc((size_t)samples, sizeof(double));
	probe = calloc((size_t)samples, sizeof(double));
	wide = calloc((size_t)samples, sizeof(double));
	wide_rx = calloc((size_t)samples, sizeof(double));
	if (from_req == NULL || from_ack == NULL || ack == NULL ||
	    probe == NULL || wide == NULL || wide_rx == NULL)
		die("out of memory");
	if (g_out != NULL) {
		char	path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/propagation.tsv", g_out);
		if ((f = fopen(path, "w")) == NULL)
			die("%s: %s", path, strerror(errno));
		fprintf(f, "# us: request->ack_on_A request->visible_on_B "
		    "ack->visible_on_B\n");
	}
	if (probe_open(&pr) != 0)
		die("probe env");
	ctlc_open(&c, &ag[0]);
	for (i = -warm; i < samples; i++) {
		zmq_pollitem_t	pi[2] = {
			{ c.req, 0, ZMQ_POLLIN, 0 },
			{ NULL, ifd, ZMQ_POLLIN, 0 }
		};

		want++;
		req = append_req("prop", (uint64_t)(i + warm));
		while (read(ifd, ev, sizeof(ev)) > 0)
			;
		t0 = bench_now();
		ctlc_send(&c, req);
		json_decref(req);
		t1 = t2 = 0;
		/*
		 * The ack and B's commit, in whichever order they come. A
		 * reader sees a commit once the writer updated the txnid in
		 * lock.mdb (shared memory, no inotify event), a few
		 * microseconds after its last write to data.mdb: after a wake
		 * we look again at +10, +40 and +140 us, and then every
		 * millisecond until the next wake (counted as "late").
		 */
		woke = 0;
		while (t1 == 0 || t2 == 0) {
			int	to = t2 == 0 && woke ? 1 : 10000, n, r;

			pi[0].revents = pi[1].revents = 0;
			if ((n = zmq_poll(pi, 2, to)) == -1 && zmq_errno() ==
			    EINTR)
				continue;
			if (n == -1 || (n == 0 && to == 10000))
				die("propagate: event %d not seen on B after "
				    "10 s", i);
			if (pi[1].revents & ZMQ_POLLIN) {
				while (read(ifd, ev, sizeof(ev)) > 0)
					;
				woke = 1;
			}
			for (r = 0; t2 == 0 && woke && r < 4 &&
			    (n == 0 || (pi[1].revents & ZMQ_POLLIN)); r++) {
				if (r > 0)
					sleep_ms(0.01 * (r == 1 ? 1 : r == 2 ?
					    3 : 10));
				ro_vclock(&ag[1], vc);
				if (vclock_get(vc, dev_a) >= want) {
					t2 = bench_now();
					if (n == 0)
						late++;
				}
				if (n == 0)
					break;
			}
			if (t1 == 0 && (pi[0].revents & ZMQ_POLLIN)) {
				t1 = bench_now();
				rep = ctlc_recv(&c, 1000);
				seq = (uint64_t)json_integer_value(
				    json_object_get(rep, "seq"));
				json_decref(rep);
				if (seq != want)
					die("A gave seq %" PRIu64 ", expected "
					    "%" PRIu64 " (someone else "
					    "appends?)", seq, want);
			}
		}
		if (i >= 0) {
			from_req[i] = (t2 - t0) * 1e6;
			ack[i] = (t1 - t0) * 1e6;
			from_ack[i] = (t2 - t1) * 1e6;
			if (f != NULL)
				fprintf(f, "%.1f\t%.1f\t%.1f\n", ack[i],
				    from_req[i], from_ack[i]);
		}
		/* The disk right now, between two samples: commits as wide
		 * as B's (meta page not synced) and A's, and a bare one. */
		if (i >= 0 && ((wide_rx[i] = probe_commit(&pr, pr.dbi + 1,
		    WIDE_DBS, 1)) < 0 ||
		    (probe[i] = probe_commit(&pr, pr.dbi, 1, 0)) < 0 ||
		    (wide[i] = probe_commit(&pr, pr.dbi + 1, WIDE_DBS, 0)) < 0))
			die("probe commit failed");
		/* Uniform in [interval/2, 3 interval/2]: no phase lock with
		 * the agents' timers. */
		sleep_ms(interval_ms * (0.5 +
		    (double)(bench_rnd(&g_rng) % 1000) / 1000));
	}
	ctlc_close(&c);
	mdb_env_close(pr.env);
	if (f != NULL)
		fclose(f);
	close(ifd);
	for (k = 0; k < 2; k++) {
		store_close(&ag[k].ro);
		agent_stop(&ag[k]);
	}

	q50 = bench_percentile(ack, (size_t)samples, 50);
	q99 = bench_percentile(ack, (size_t)samples, 99);
	a50 = bench_percentile(from_ack, (size_t)samples, 50);
	a99 = bench_percentile(from_ack, (size_t)samples, 99);
	p90 = bench_percentile(from_req, (size_t)samples, 90);
	p50 = bench_percentile(from_req, (size_t)samples, 50);
	p99 = bench_percentile(from_req, (size_t)samples, 99);
	pmax = from_req[samples - 1];	/* sorted */
	c50 = bench_percentile(probe, (size_t)samples, 50);
	c99 = bench_percentile(probe, (size_t)samples, 99);
	w50 = bench_percentile(wide, (size_t)samples, 50);
	wr50 = bench_percentile(wide_rx, (size_t)samples, 50);
	floor2_us = 2 * c50 + g_rtt.curve_p50 / 2 +
	    (g_lim.verify_per_s > 0 ? 1e6 / g_lim.verify_per_s : 0);
	floor3_us = floor2_us - 2 * c50 + w50 + wr50;
	/* What one event must go through, at the medians of this run: a
	 * commit on A, half a CURVE round trip, one signature check and a
	 * commit on B. */
	floor_us = 2 * g_lim.commit_p50_us + g_rtt.curve_p50 / 2 +
	    (g_lim.verify_per_s > 0 ? 1e6 / g_lim.verify_per_s : 0);
	out("propagation A -> B, %d events of the POS mix, one at a time "
	    "(~%.0f ms apart):\n", samples, interval_ms);
	out("  request -> visible on B  p50 %7.2f ms  p90 %7.2f ms  "
	    "p99 %7.2f ms  max %7.2f ms\n", p50 / 1e3, p90 / 1e3, p99 / 1e3,
	    pmax / 1e3);
	out("  of which append on A     p50 %7.2f ms  p99 %7.2f ms "
	    "(request -> ack, includes A's fsync)\n", q50 / 1e3, q99 / 1e3);
	out("  ack on A -> visible on B p50 %7.2f ms  p99 %7.2f ms\n",
	    a50 / 1e3, a99 / 1e3);
	out("  (%d of %d arrivals seen by the 1 ms fallback look, up to 1 ms "
	    "late)\n", late, samples + warm);
	out("  goal p50 < 2 ms: %s (%.2fx the goal); p99 < 10 ms: %s "
	    "(%.2fx)\n", p50 < 2000 ? "met" : "MISSED", p50 / 2000,
	    p99 < 10000 ? "met" : "MISSED", p99 / 10000);
	if (g_limits)
		out("  floor of this run (2 fsync'd commits p50 %.0f us + "
		    "CURVE RTT/2 %.0f us + 1 verify %.0f us) = %.2f ms: "
		    "p50 = %.2fx the floor, %.1fx the CURVE RTT p50\n",
		    g_lim.commit_p50_us, g_rtt.curve_p50 / 2,
		    1e6 / g_lim.verify_per_s, floor_us / 1e3, p50 / floor_us,
		    p50 / g_rtt.curve_p50);
	out("  the disk meanwhile: a bare LMDB commit+fsync between samples "
	    "p50 %.2f ms p99 %.2f ms; floor with it = %.2f ms: p50 = %.2fx "
	    "that floor, p99 = %.2fx two such commits at their p99\n",
	    c50 / 1e3, c99 / 1e3, floor2_us / 1e3, p50 / floor2_us,
	    p99 / (2 * c99));
	out("  the same with a put in %d databases (about what an event "
	    "changes): p50 %.2f ms, %.2f ms without the meta page's sync (as "
	    "B commits); floor with them = %.2f ms: p50 = %.2fx that "
	    "floor%s\n", WIDE_DBS, w50 / 1e3, wr50 / 1e3, floor3_us / 1e3,
	    p50 / floor3_us, floor3_us >= 2000 ? " (the goal is below it on "
	    "this disk)" : "");
	if (g_limits && g_lim.wide_alone_p50_us > 0) {
		/* A's appends come alone (~interval apart), B's commit right
		 * after A's: what the disk charges at that rhythm. */
		floor4_us = floor3_us - w50 + g_lim.wide_alone_p50_us;
		out("  A's appends come alone: a commit as wide %d ms after "
		    "the last one (limits) p50 %.2f ms, against %.2f ms back "
		    "to back; A's append p50 = %.2fx it; floor with it and "
		    "B's commit = %.2f ms: p50 = %.2fx that floor\n",
		    WIDE_ALONE_MS, g_lim.wide_alone_p50_us / 1e3,
		    g_lim.wide_commit_p50_us / 1e3,
		    q50 / g_lim.wide_alone_p50_us, floor4_us / 1e3,
		    p50 / floor4_us);
		res_set("propagate", "floor_alone_ms", floor4_us / 1e3);
	}
	res_set("propagate", "probe_wide_commit_p50_ms", w50 / 1e3);
	res_set("propagate", "probe_wide_rx_commit_p50_ms", wr50 / 1e3);
	res_set("propagate", "floor_wide_ms", floor3_us / 1e3);
	res_set("propagate", "probe_commit_p50_ms", c50 / 1e3);
	res_set("propagate", "probe_commit_p99_ms", c99 / 1e3);
	res_set("propagate", "floor_now_ms", floor2_us / 1e3);
	res_set("propagate", "samples", samples);
	res_set("propagate", "p50_ms", p50 / 1e3);
	res_set("propagate", "p90_ms", p90 / 1e3);
	res_set("propagate", "p99_ms", p99 / 1e3);
	res_set("propagate", "max_ms", pmax / 1e3);
	res_set("propagate", "append_p50_ms", q50 / 1e3);
	res_set("propagate", "append_p99_ms", q99 / 1e3);
	res_set("propagate", "ack_to_visible_p50_ms", a50 / 1e3);
	res_set("propagate", "ack_to_visible_p99_ms", a99 / 1e3);
	res_set("propagate", "floor_ms", floor_us / 1e3);
	free(from_req);
	free(from_ack);
	free(ack);
	free(probe);
	free(wide);
	free(wide_rx);
	free(vc);
}

/* ---- converge ---- */

/* Starts n agents (full mesh) and returns ms until all answer ping. */
static double
start_all(struct agent *ag, int n)
{
	double	t0 = bench_now();
	int	i;

	for (i = 0; i < n; i++)
		agent_start(&ag[i], ag, n);
	for (i = 0; i < n; i++)
		agent_wait_ready(&ag[i]);
	return (bench_now() - t0) * 1e3;
}

static void
mode_converge(int n, uint64_t per)
{
	struct agent	 ag[MAXAG];
	struct vclock	*target = malloc(sizeof(*target));
	struct vclock	*vc = malloc(sizeof(*vc));
	uint8_t		 dg[MAXAG][HASH_LEN];
	double		 t0, t_all = 0, t_done[MAXAG], cpu[MAXAG];
	double		 cpu_sum = 0;
	double		 startup, first_up = 0, lim, cpu_max = 0;
	double		 run, wait, run_sum = 0, wait_sum = 0;
	struct counts	 cnt = { 0, 0, 0, 0 };
	char		 tag[32], path[PATH_MAX];
	long		 hwm[MAXAG], hwm_max = 0;
	int		 i, k, left, done[MAXAG];
	FILE		*f = NULL;

	if (target == NULL || vc == NULL)
		die("out of memory");
	if (n < 2 || n > MAXAG)
		die("--registers: 2..%d", MAXAG);
	note("converge: %d registers, %" PRIu64 " events each", n, per);
	make_store(ag, n, "c", "Bench converge");
	/* Once together, so that they know each other (DIR/peers). */
	(void)start_all(ag, n);
	wait_mesh(ag, n, n - 1, 120);
	sleep_ms(1500);		/* DIR/peers saved */
	ro_close(ag, n);
	for (i = 0; i < n; i++)
		agent_stop(&ag[i]);
	/* Start-up alone, for reference: n agents with nothing new. */
	startup = start_all(ag, n);
	t0 = bench_now();
	while (first_up == 0 && bench_now() - t0 < 60) {
		for (i = 0, k = 0; i < n; i++)
			k += agent_up(&ag[i]) == n - 1;
		if (k == n)
			first_up = (bench_now() - t0) * 1e3 + startup;
		else
			sleep_ms(20);
	}
	for (i = 0; i < n; i++)
		agent_stop(&ag[i]);

	/* The partition: each register writes its own events. */
	for (i = 0; i < n; i++) {
		snprintf(tag, sizeof(tag), "c%d", i);
		fill(ag[i].dir, tag, per);
	}
	vclock_init(target);
	for (i = 0; i < n; i++) {
		ro_vclock(&ag[i], vc);
		if (vclock_merge(target, vc) != 0)
			die("vclock merge");
	}
	ro_close(ag, n);

	/* The heal. */
	note("converge: heal");
	t0 = bench_now();
	for (i = 0; i < n; i++)
		agent_start(&ag[i], ag, n);
	memset(done, 0, sizeof(done));
	left = n;
	while (left > 0) {
		for (i = 0; i < n; i++) {
			if (done[i])
				continue;
			ro_vclock(&ag[i], vc);
			if (vclock_cmp(vc, target) == VCLOCK_EQUAL) {
				t_done[i] = bench_now() - t0;
				done[i] = 1;
				left--;
			}
		}
		if (left > 0 && bench_now() - t0 > 300)
			die("converge: not converged after 300 s");
		if (left > 0)
			sleep_ms(10);
	}
	t_all = bench_now() - t0;
	for (i = 0; i < n; i++) {
		cpu[i] = proc_cpu_s(ag[i].pid);
		cpu_sum += cpu[i];
		if (cpu[i] > cpu_max)
			cpu_max = cpu[i];
		proc_sched_s(ag[i].pid, &run, &wait);
		run_sum += run;
		wait_sum += wait;
		agent_counts(&ag[i], &cnt);
		hwm[i] = proc_status_kb(ag[i].pid, "VmHWM");
		if (hwm[i] > hwm_max)
			hwm_max = hwm[i];
	}
	for (i = 0; i < n; i++) {
		int	rc;

		if ((rc = store_digest(ag[i].ro, dg[i])) != 0)
			die("digest of %s: %s", ag[i].name, err_str(rc));
		if (memcmp(dg[i], dg[0], HASH_LEN) != 0)
			die("converge: %s's digest differs from %s's",
			    ag[i].name, ag[0].name);
	}
	ro_close(ag, n);
	for (i = 0; i < n; i++)
		agent_stop(&ag[i]);
	if (g_out != NULL) {
		snprintf(path, sizeof(path), "%s/converge.tsv", g_out);
		if ((f = fopen(path, "w")) != NULL) {
			fprintf(f, "# register seconds_to_converge cpu_s\n");
			for (i = 0; i < n; i++)
				fprintf(f, "%s\t%.3f\t%.2f\n", ag[i].name,
				    t_done[i], cpu[i]);
			fclose(f);
		}
	}
	out("convergence after a partition: %d registers x %" PRIu64
	    " fresh events (%" PRIu64 " events to move, %" PRIu64 " ingests)"
	    ":\n", n, per, (uint64_t)n * per,
	    (uint64_t)n * (uint64_t)(n - 1) * per);
	out("  all %d vector clocks equal %.2f s after the agents were "
	    "started; digests equal\n", n, t_all);
	out("  per register:");
	for (i = 0; i < n; i++)
		out(" %.2f", t_done[i]);
	out(" s\n");
	out("  of which start-up: %d agents answer ping in %.0f ms, all "
	    "sessions up in %.0f ms (measured alone, nothing to send)\n",
	    n, startup, first_up);
	out("  goal < 2 s: %s (%.2fx the goal)\n", t_all < 2 ? "met" :
	    "MISSED", t_all / 2);
	out("  events received from peers: %" PRIu64 " (%.3fx the %" PRIu64
	    " needed), %" PRIu64 " of them duplicates; %" PRIu64 " more "
	    "dropped unread (the rest of answers asked again)\n", cnt.recv,
	    (double)cnt.recv / ((double)n * (n - 1) * (double)per),
	    (uint64_t)n * (uint64_t)(n - 1) * per, cnt.dup, cnt.skipped);
	out("  the agents' threads ran %.2f s and waited %.2f s for a core "
	    "(run queue): %.2f cores' worth of demand over the %.2f s\n",
	    run_sum, wait_sum, (run_sum + wait_sum) / t_all, t_all);
	out("  busiest agent's CPU: %.2f s (what one register on its own "
	    "2-core box would spend: a bound for a real store)\n", cpu_max);
	out("  agents' CPU during it: %.2f s in all (%.2f cores busy on "
	    "average; this machine has %ld), %.1f us per ingested event; "
	    "peak RSS of an agent %ld KiB\n", cpu_sum, cpu_sum / t_all,
	    sysconf(_SC_NPROCESSORS_ONLN),
	    cpu_sum * 1e6 / ((double)n * (n - 1) * (double)per), hwm_max);
	if (g_limits) {
		lim = (double)n * (n - 1) * (double)per / g_lim.verify_per_s;
		out("  for scale: verifying every ingested event one signature "
		    "each would take %.1f s of one core (%.0f verify/s)\n",
		    lim, g_lim.verify_per_s);
	}
	res_set("converge", "registers", n);
	res_set("converge", "events_per_register", (double)per);
	res_set("converge", "seconds", t_all);
	res_set("converge", "startup_ms", startup);
	res_set("converge", "sessions_up_ms", first_up);
	res_set("converge", "agents_cpu_s", cpu_sum);
	res_set("converge", "busiest_agent_cpu_s", cpu_max);
	res_set("converge", "runqueue_wait_s", wait_sum);
	res_set("converge", "received", (double)cnt.recv);
	res_set("converge", "duplicates", (double)cnt.dup);
	res_set("converge", "skipped", (double)cnt.skipped);
	res_set("converge", "peak_rss_kb", (double)hwm_max);
	free(target);
	free(vc);
}

/* ---- catchup ---- */

static void
mode_catchup(uint64_t total, int nsrc)
{
	enum { NFILL = 5 };
	struct agent	 ag[NFILL + 1], *tg = &ag[NFILL];
	struct counts	 cnt = { 0, 0, 0, 0 };
	struct vclock	*want = malloc(sizeof(*want));
	struct vclock	*vc = malloc(sizeof(*vc));
	char		 file[NFILL][PATH_MAX + 16], path[PATH_MAX];
	char		 tag[16];
	double		 t0, t, setup0, rate, cpu, last_print = 0;
	uint64_t	 per, have = 0, need = 0, start_have;
	long		 hwm, src_hwm = 0, rss, anon, anon_max = 0;
	double		 run, wait;
	int		 i, j;
	FILE		*f = NULL;

	if (want == NULL || vc == NULL)
		die("out of memory");
	if (nsrc < 1 || nsrc > NFILL)
		die("--sources: 1..%d", NFILL);
	per = total / NFILL;
	note("catchup: building a store of %" PRIu64 " events (%d devices), "
	    "held by %d registers...", per * NFILL, NFILL, nsrc);
	setup0 = bench_now();
	make_store(ag, NFILL + 1, "k", "Bench catch-up");
	for (i = 0; i < NFILL; i++) {
		snprintf(tag, sizeof(tag), "k%d", i);
		fill(ag[i].dir, tag, per);
		snprintf(file[i], sizeof(file[i]), "%s/k%d-all.caja", g_base,
		    i);
		export_to(ag[i].dir, file[i]);
	}
	for (i = 0; i < nsrc; i++)
		for (j = 0; j < NFILL; j++)
			if (j != i)
				import_from(ag[i].dir, file[j]);
	for (i = 0; i < NFILL; i++)
		(void)unlink(file[i]);
	note("catchup: setup took %.0f s", bench_now() - setup0);

	for (i = 0; i < nsrc; i++)
		agent_start(&ag[i], ag, nsrc);
	for (i = 0; i < nsrc; i++)
		agent_wait_ready(&ag[i]);
	if (nsrc > 1)
		wait_mesh(ag, nsrc, nsrc - 1, 60);
	ro_vclock(&ag[0], want);
	for (i = 0; i < (int)want->n; i++)
		need += want->e[i].seq;
	ro_vclock(tg, vc);
	for (i = 0; i < (int)vc->n; i++)
		have += vc->e[i].seq;
	start_have = have;
	if (g_out != NULL) {
		snprintf(path, sizeof(path), "%s/catchup.tsv", g_out);
		if ((f = fopen(path, "w")) != NULL)
			fprintf(f, "# seconds events_held rss_kib "
			    "rss_anon_kib\n");
	}

	/* The new register dials the sources. */
	t0 = bench_now();
	agent_start(tg, ag, nsrc);
	for (;;) {
		ro_vclock(tg, vc);
		t = bench_now() - t0;
		for (i = 0, have = 0; i < (int)vc->n; i++)
			have += vc->e[i].seq;
		rss = proc_status_kb(tg->pid, "VmRSS");
		anon = proc_status_kb(tg->pid, "RssAnon");
		if (anon > anon_max)
			anon_max = anon;
		if (f != NULL)
			fprintf(f, "%.3f\t%" PRIu64 "\t%ld\t%ld\n", t, have,
			    rss, anon);
		if (vclock_covers(vc, want))
			break;
		if (t - last_print >= 5) {
			note("catchup: %.0f s, %" PRIu64 " of %" PRIu64, t,
			    have, need);
			last_print = t;
		}
		if (t > 900)
			die("catchup: not done after 900 s");
		sleep_ms(20);
	}
	hwm = proc_status_kb(tg->pid, "VmHWM");
	cpu = proc_cpu_s(tg->pid);
	agent_counts(tg, &cnt);
	proc_sched_s(tg->pid, &run, &wait);
	for (i = 0; i < nsrc; i++) {
		long	h = proc_status_kb(ag[i].pid, "VmHWM");

		if (h > src_hwm)
			src_hwm = h;
	}
	if (f != NULL)
		fclose(f);
	ro_close(ag, NFILL + 1);
	agent_stop(tg);
	for (i = 0; i < nsrc; i++)
		agent_stop(&ag[i]);
	rate = (double)(have - start_have) / t;
	out("catch-up of a new register from %d peer%s: %" PRIu64 " events "
	    "(%d devices) in %.2f s = %.0f events/s\n", nsrc,
	    nsrc > 1 ? "s" : "", have - start_have, NFILL, t, rate);
	out("  new register's CPU %.2f s = %.0f events per CPU-second; its "
	    "threads waited %.2f s for a core (run queue)\n",
	    cpu, (double)(have - start_have) / cpu, wait);
	out("  frames it received: %" PRIu64 " accepted, %" PRIu64
	    " duplicates, %" PRIu64 " refused (to be asked again), %" PRIu64
	    " dropped unread (answers asked again)\n", cnt.recv, cnt.dup,
	    cnt.refused, cnt.skipped);
	out("  new register's peak RSS (VmHWM) %ld KiB, of which at most "
	    "%ld KiB anonymous (heap; sampled every 20 ms), the rest LMDB's "
	    "mapped file; sources' peak RSS %ld KiB\n", hwm, anon_max,
	    src_hwm);
	if (g_limits) {
		out("  = %.1fx one-verify-per-event (%.0f verify/s): goal >= "
		    "5x %s; by CPU time %.1fx (%.0f verify per CPU-second)\n",
		    rate / g_lim.verify_per_s, g_lim.verify_per_s,
		    rate >= 5 * g_lim.verify_per_s ? "met" : "MISSED",
		    (double)(have - start_have) / cpu / g_lim.verify_cpu_per_s,
		    g_lim.verify_cpu_per_s);
		out("  = %.2fx the lmdb 1000-puts/commit rate of this run\n",
		    rate / g_lim.batch_put_per_s);
		res_set("catchup", "x_verify", rate / g_lim.verify_per_s);
	}
	res_set("catchup", "events", (double)(have - start_have));
	res_set("catchup", "seconds", t);
	res_set("catchup", "events_per_s", rate);
	res_set("catchup", "cpu_s", cpu);
	res_set("catchup", "runqueue_wait_s", wait);
	res_set("catchup", "peak_rss_kb", (double)hwm);
	res_set("catchup", "peak_rss_anon_kb", (double)anon_max);
	res_set("catchup", "sources_peak_rss_kb", (double)src_hwm);
	free(want);
	free(vc);
}

/* ---- wire ---- */

/*
 * TCP payload bytes (sent + received) of the established loopback
 * connections whose remote port is one of ports[], i.e. the client side of
 * each agent-to-agent connection (each connection counted once).
 */
static uint64_t
tcp_bytes(const int *ports, int nports)
{
	FILE		*p = popen("ss -tinH state established 2>/dev/null",
			    "r");
	char		 line[4096], *s;
	int		 match = 0, i, rport;
	uint64_t	 total = 0, v;

	if (p == NULL)
		die("ss: %s", strerror(errno));
	while (fgets(line, sizeof(line), p) != NULL) {
		if (line[0] != '\t' && line[0] != ' ') {
			char	la[128], ra[128];

			match = 0;
			if (sscanf(line, "%*s %*s %127s %127s", la, ra) != 2)
				continue;
			if ((s = strrchr(ra, ':')) == NULL)
				continue;
			rport = (int)strtol(s + 1, NULL, 10);
			for (i = 0; i < nports; i++)
				if (ports[i] == rport &&
				    strncmp(ra, "127.0.0.1:", 10) == 0)
					match = 1;
			continue;
		}
		if (!match)
			continue;
		if ((s = strstr(line, "bytes_sent:")) != NULL &&
		    sscanf(s, "bytes_sent:%" SCNu64, &v) == 1)
			total += v;
		if ((s = strstr(line, "bytes_received:")) != NULL &&
		    sscanf(s, "bytes_received:%" SCNu64, &v) == 1)
			total += v;
		match = 0;
	}
	pclose(p);
	return total;
}

struct frames {
	struct buf	 data;
	size_t		 n, cap;
	size_t		*off, *len;
};

static int
frames_cb(void *arg, uint64_t seq, const uint8_t *f, size_t len)
{
	struct frames	*fr = arg;

	(void)seq;
	if (fr->n == fr->cap) {
		size_t	 nc = fr->cap ? 2 * fr->cap : 1024;
		size_t	*o = realloc(fr->off, nc * sizeof(*o));
		size_t	*l;

		if (o == NULL)
			return CAJA_ENOMEM;
		fr->off = o;
		if ((l = realloc(fr->len, nc * sizeof(*l))) == NULL)
			return CAJA_ENOMEM;
		fr->len = l;
		fr->cap = nc;
	}
	fr->off[fr->n] = fr->data.len;
	fr->len[fr->n] = len;
	fr->n++;
	return buf_add(&fr->data, f, len);
}

/* Until b's vector clock covers a's (timeout s). */
static void
wait_has(struct agent *b, struct agent *a, int timeout)
{
	struct vclock	*va = malloc(sizeof(*va));
	struct vclock	*vb = malloc(sizeof(*vb));
	double		 t0 = bench_now();

	if (va == NULL || vb == NULL)
		die("out of memory");
	ro_vclock(a, va);
	for (;;) {
		ro_vclock(b, vb);
		if (vclock_covers(vb, va))
			break;
		if (bench_now() - t0 > timeout)
			die("%s does not hold %s's events after %d s",
			    b->name, a->name, timeout);
		sleep_ms(5);
	}
	free(va);
	free(vb);
}

/*
 * What ZeroMQ adds to a message of len bytes on a CURVE session (ZMTP 3,
 * RFC 26): a MESSAGE command "\x07MESSAGE", an 8-byte short nonce, the
 * box (1 flags byte + data + 16-byte MAC), in a frame with a 1-byte
 * flags and a 1-byte size (body <= 255) or 8-byte size.
 */
static double
curve_over(double len)
{
	double	body = 8 + 8 + 1 + len + 16;

	return body - len + (body <= 255 ? 2 : 9);
}

static void
mode_wire(int idle_s)
{
	struct agent	 ag[3];
	struct ctlc	 c;
	struct frames	 fr;
	struct buf	 w;
	struct vclock	*vc = malloc(sizeof(*vc));
	struct vclock	*acked = malloc(sizeof(*acked));
	uint8_t		 dev_a[ID_LEN], store_id[ID_LEN];
	uint64_t	 b0, b1, seq0, i, nlive = 500, nburst = 10000, ncatch;
	double		 t0, t1, idle_bps, live, burst, catchup;
	double		 frame_mean, push_over, run_over, sum1, ping;
	double		 hello[4], hello_a[4];
	double		 pred, app;
	int		 ports[3], k, nd[4] = { 2, 3, 8, 20 };
	size_t		 j, done, typ_n[EV_TYPE_MAX], typ_b[EV_TYPE_MAX];
	json_t		*r, *req;

	if (vc == NULL || acked == NULL)
		die("out of memory");
	note("wire: 3 registers; idle %d s, %" PRIu64 " live events, "
	    "a burst of %" PRIu64 ", a catch-up", idle_s, nlive, nburst);
	make_store(ag, 3, "w", "Bench wire");
	for (k = 0; k < 3; k++)
		ports[k] = ag[k].port;
	agent_start(&ag[0], ag, 2);
	agent_start(&ag[1], ag, 2);
	agent_wait_ready(&ag[0]);
	agent_wait_ready(&ag[1]);
	wait_mesh(ag, 2, 1, 60);
	agent_device(&ag[0], dev_a);
	sleep_ms(2000);

	/* Idle: nothing changes. */
	b0 = tcp_bytes(ports, 2);
	t0 = bench_now();
	sleep_ms(idle_s * 1000.0);
	b1 = tcp_bytes(ports, 2);
	t1 = bench_now();
	idle_bps = (double)(b1 - b0) / (t1 - t0);

	/* Live: one event at a time, each its own gossip round. */
	ro_vclock(&ag[0], vc);
	seq0 = vclock_get(vc, dev_a);
	ctlc_open(&c, &ag[0]);
	b0 = tcp_bytes(ports, 2);
	t0 = bench_now();
	for (i = 0; i < nlive; i++) {
		req = append_req("wl", i);
		ctlc_send(&c, req);
		json_decref(req);
		r = ctlc_recv(&c, 10000);
		json_decref(r);
		sleep_ms(25);	/* > PEER_SUMMARY_MIN_MS */
	}
	wait_has(&ag[1], &ag[0], 30);
	sleep_ms(200);		/* B's SUMMARY back */
	b1 = tcp_bytes(ports, 2);
	t1 = bench_now();
	live = ((double)(b1 - b0) - idle_bps * (t1 - t0)) / (double)nlive;

	/* Burst: one append_batch. */
	b0 = tcp_bytes(ports, 2);
	t0 = bench_now();
	append_batch(&c, "wb", 0, nburst);
	wait_has(&ag[1], &ag[0], 60);
	sleep_ms(200);
	b1 = tcp_bytes(ports, 2);
	t1 = bench_now();
	burst = ((double)(b1 - b0) - idle_bps * (t1 - t0)) / (double)nburst;
	ctlc_close(&c);

	/* Catch-up: C (enrollments only) dials A and fetches the rest. */
	ro_vclock(&ag[0], vc);
	ncatch = 0;
	for (k = 0; k < (int)vc->n; k++)
		ncatch += vc->e[k].seq;
	ro_vclock(&ag[2], acked);
	for (k = 0; k < (int)acked->n; k++)
		ncatch -= acked->e[k].seq;
	b0 = tcp_bytes(ports, 3);
	t0 = bench_now();
	agent_start(&ag[2], ag, 1);
	wait_has(&ag[2], &ag[0], 120);
	sleep_ms(200);
	b1 = tcp_bytes(ports, 3);
	t1 = bench_now();
	catchup = ((double)(b1 - b0) - idle_bps * (t1 - t0)) /
	    (double)ncatch;
	for (k = 0; k < 3; k++)
		agent_stop(&ag[k]);

	/* The same messages through the codec. */
	memset(&fr, 0, sizeof(fr));
	buf_init(&fr.data, 0);
	buf_init(&w, 0);
	if (store_frames_range(ag[0].ro, dev_a, seq0 + 1, nlive + nburst, 0,
	    frames_cb, &fr, &done) != 0 || fr.n != nlive + nburst)
		die("reading A's frames");
	memset(typ_n, 0, sizeof(typ_n));
	memset(typ_b, 0, sizeof(typ_b));
	frame_mean = 0;
	push_over = 0;
	for (j = 0; j < fr.n; j++) {
		struct event	ev;

		frame_mean += (double)fr.len[j];
		if (event_decode(&ev, fr.data.p + fr.off[j], fr.len[j]) == 0 &&
		    ev.type < EV_TYPE_MAX) {
			typ_n[ev.type]++;
			typ_b[ev.type] += fr.len[j];
		}
		buf_clear(&w);
		if (wire_encode_push(&w, fr.data.p + fr.off[j], fr.len[j]) != 0)
			die("encode PUSH");
		push_over += (double)(w.len - fr.len[j]);
	}
	frame_mean /= (double)fr.n;
	push_over /= (double)fr.n;
	{
		struct wire_frame	*wf = calloc(WIRE_MAX_RUN,
					    sizeof(*wf));
		size_t			 nrun = 0, bytes = 0, m;

		if (wf == NULL)
			die("out of memory");
		/* Runs as the agent cuts them: <= 1024 events, 256 KiB. */
		for (j = nlive; j < fr.n; j += nrun) {
			size_t	sz = 0;

			for (m = 0, nrun = 0; j + m < fr.n && m < WIRE_MAX_RUN;
			    m++) {
				if (m > 0 && sz + fr.len[j + m] > 256u * 1024)
					break;
				sz += fr.len[j + m];
				wf[m].p = fr.data.p + fr.off[j + m];
				wf[m].len = fr.len[j + m];
				nrun++;
			}
			buf_clear(&w);
			if (wire_encode_events(&w, dev_a, seq0 + 1 + j, wf,
			    nrun) != 0)
				die("encode EVENTS");
			bytes += w.len - sz;
		}
		run_over = (double)bytes / (double)(fr.n - nlive);
		free(wf);
	}
	memset(store_id, 0x11, sizeof(store_id));
	for (k = 0; k < 4; k++) {
		vclock_init(vc);
		for (j = 0; j < (size_t)nd[k]; j++) {
			uint8_t	d[ID_LEN];

			randombytes_buf(d, sizeof(d));
			if (vclock_set(vc, d,
			    100000 + bench_rnd(&g_rng) % 1000000) != 0)
				die("vclock_set");
		}
		buf_clear(&w);
		if (wire_encode_hello(&w, store_id, vc->e[0].dev, vc, NULL,
		    "tcp://192.168.1.20:7700") != 0)
			die("encode HELLO");
		hello[k] = (double)w.len;
		/* acked: the same devices (a store with a cloud uplink) */
		buf_clear(&w);
		if (wire_encode_hello(&w, store_id, vc->e[0].dev, vc, vc,
		    "tcp://192.168.1.20:7700") != 0)
			die("encode HELLO");
		hello_a[k] = (double)w.len;
	}
	vclock_init(vc);
	if (vclock_set(vc, dev_a, 123456) != 0)
		die("vclock_set");
	buf_clear(&w);
	if (wire_encode_summary(&w, 42, vc, NULL) != 0)
		die("encode SUMMARY");
	sum1 = (double)w.len;
	buf_clear(&w);
	if (wire_encode_ping(&w, bench_rnd(&g_rng), wall_ms()) != 0)
		die("encode PING");
	ping = (double)w.len;
	ro_close(ag, 3);

	pred = frame_mean + push_over + curve_over(frame_mean + push_over) +
	    sum1 + curve_over(sum1);
	out("bytes on the wire (TCP payload through the kernel, both "
	    "directions: ZMTP + CURVE + caja messages):\n");
	out("  idle, 2 registers: %.0f B/s per pair of agents = %.0f B/s "
	    "per agent per peer (PING/PONG every %d ms, HELLO every %d s, "
	    "ZMTP heartbeats)\n", idle_bps, idle_bps / 2, 1000, 10);
	app = 2 * 2 * (ping + curve_over(ping)) +
	    2 * (hello[1] + curve_over(hello[1])) / 10;
	out("    of which caja's PING/PONG and HELLO %.0f B/s (codec + "
	    "ZMTP/CURVE), ZeroMQ's own heartbeats the other %.0f B/s\n",
	    app, idle_bps - app);
	out("  live (one event at a time): %.0f B per event (its PUSH, "
	    "SUMMARY A->B and back)\n", live);
	out("  burst (append_batch of %" PRIu64 "): %.0f B per event\n",
	    nburst, burst);
	out("  catch-up (WANT/EVENTS runs, %" PRIu64 " events to a new "
	    "register): %.0f B per event\n", ncatch, catchup);
	out("  the POS mix through the codec: event frame %.0f B on average "
	    "(", frame_mean);
	for (k = 0; k < EV_TYPE_MAX; k++)
		if (typ_n[k] > 0)
			out("%s %.0f B %.0f%%; ", event_type_name(k),
			    (double)typ_b[k] / (double)typ_n[k],
			    100.0 * (double)typ_n[k] / (double)fr.n);
	out("),\n    PUSH adds %.1f B, an EVENTS run %.2f B per event\n",
	    push_over, run_over);
	out("  ZMTP + CURVE per message: %.0f B (box <= 255 B) or %.0f B; "
	    "live event predicted from the codec = PUSH %.0f + %.0f, "
	    "SUMMARY %.0f + %.0f = %.0f B; measured %.0f B (%.2fx)\n",
	    curve_over(1), curve_over(1000), frame_mean + push_over,
	    curve_over(frame_mean + push_over), sum1, curve_over(sum1), pred,
	    live, live / pred);
	out("  gossip round, per device: nothing changed: no SUMMARY, 0 B "
	    "(PING %.0f B + PONG each way every second, and ZMTP heartbeats, "
	    "are the idle bytes above); anti-entropy HELLO every 10 s: "
	    "%.0f/%.0f/%.0f/%.0f B for 2/3/8/20 devices (%.0f/%.0f/%.0f/%.0f "
	    "B with the cloud-acked clock), i.e. %.1f B per device; one "
	    "device advanced: SUMMARY %.0f B + %.0f B ZMTP/CURVE, %.0f B per "
	    "further device in it\n", ping, hello[0], hello[1], hello[2],
	    hello[3], hello_a[0], hello_a[1], hello_a[2], hello_a[3],
	    (hello[3] - hello[2]) / 12, sum1, curve_over(sum1),
	    (hello[3] - hello[2]) / 12);
	res_set("wire", "idle_Bps_per_pair", idle_bps);
	res_set("wire", "idle_caja_Bps_per_pair", app);
	res_set("wire", "live_B_per_event", live);
	res_set("wire", "burst_B_per_event", burst);
	res_set("wire", "catchup_B_per_event", catchup);
	res_set("wire", "frame_mean_B", frame_mean);
	res_set("wire", "push_overhead_B", push_over);
	res_set("wire", "events_overhead_B", run_over);
	res_set("wire", "hello_3dev_B", hello[1]);
	res_set("wire", "hello_20dev_B", hello[3]);
	res_set("wire", "summary_1dev_B", sum1);
	res_set("wire", "live_predicted_B", pred);
	res_set("wire", "ping_B", ping);
	buf_reset(&w);
	buf_reset(&fr.data);
	free(fr.off);
	free(fr.len);
	free(vc);
	free(acked);
}

/* ---- main ---- */

static void
usage(FILE *f)
{
	fprintf(f, "usage: bench_lan [--cajad PATH] [--samples N] "
	    "[--interval MS] [--registers N] [--events N]\n"
	    "                 [--catchup-events N] [--sources N] "
	    "[--idle-seconds N] [--out DIR] [--shm]\n"
	    "                 [--skip-limits] [--json] "
	    "[rtt|propagate|converge|catchup|wire]...\n");
}

int
main(int argc, char **argv)
{
	const char	*modes[8];
	int		 nmodes = 0, i, samples = 1000, regs = 8, nsrc = 2;
	int		 idle_s = 20;
	uint64_t	 per = 10000, total = 1000000;
	double		 interval = 10;
	char		*slash;

	snprintf(g_cajad, sizeof(g_cajad), "%s", argv[0]);
	if ((slash = strrchr(g_cajad, '/')) != NULL)
		snprintf(slash + 1, sizeof(g_cajad) - (size_t)(slash + 1 -
		    g_cajad), "cajad");
	else
		snprintf(g_cajad, sizeof(g_cajad), "./cajad");
	for (i = 1; i < argc; i++) {
		const char	*a = argv[i];
		const char	*v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--cajad") == 0 && v)
			snprintf(g_cajad, sizeof(g_cajad), "%s", argv[++i]);
		else if (strcmp(a, "--samples") == 0 && v)
			samples = (int)strtol(argv[++i], NULL, 10);
		else if (strcmp(a, "--interval") == 0 && v)
			interval = strtod(argv[++i], NULL);
		else if (strcmp(a, "--registers") == 0 && v)
			regs = (int)strtol(argv[++i], NULL, 10);
		else if (strcmp(a, "--events") == 0 && v)
			per = strtoull(argv[++i], NULL, 10);
		else if (strcmp(a, "--catchup-events") == 0 && v)
			total = strtoull(argv[++i], NULL, 10);
		else if (strcmp(a, "--sources") == 0 && v)
			nsrc = (int)strtol(argv[++i], NULL, 10);
		else if (strcmp(a, "--idle-seconds") == 0 && v)
			idle_s = (int)strtol(argv[++i], NULL, 10);
		else if (strcmp(a, "--out") == 0 && v)
			g_out = argv[++i];
		else if (strcmp(a, "--shm") == 0)
			snprintf(g_base, sizeof(g_base),
			    "/dev/shm/caja-benchlan.XXXXXX");
		else if (strcmp(a, "--skip-limits") == 0)
			g_limits = 0;
		else if (strcmp(a, "--json") == 0)
			g_json = 1;
		else if (strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (a[0] != '-' && nmodes < 8 &&
		    (strcmp(a, "rtt") == 0 || strcmp(a, "propagate") == 0 ||
		    strcmp(a, "converge") == 0 || strcmp(a, "catchup") == 0 ||
		    strcmp(a, "wire") == 0))
			modes[nmodes++] = a;
		else {
			usage(stderr);
			return 1;
		}
	}
	if (samples < 10 || regs < 2 || per < 1 || total < 5 || idle_s < 1)
		die("bad numbers");
	if (access(g_cajad, X_OK) != 0)
		die("no agent at %s (--cajad)", g_cajad);
	if (nmodes == 0) {
		modes[nmodes++] = "rtt";
		modes[nmodes++] = "propagate";
		modes[nmodes++] = "converge";
		modes[nmodes++] = "catchup";
		modes[nmodes++] = "wire";
	}
	if (sig_init() != 0 || mkdtemp(g_base) == NULL)
		die("setup");
	g_have_base = 1;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGPIPE, SIG_IGN);
	g_res = json_object();
	g_rng ^= (uint64_t)getpid() << 20;
	if (g_out != NULL)
		(void)mkdir(g_out, 0755);
	if (g_limits) {
		if (bench_limits_measure(g_base, &g_lim) != 0)
			die("limits");
		if (!g_json)
			bench_limits_print(&g_lim, 0);
		res_set("limits", "verify_per_s", g_lim.verify_per_s);
		res_set("limits", "verify_per_cpu_s", g_lim.verify_cpu_per_s);
		res_set("limits", "commit_p50_us", g_lim.commit_p50_us);
		res_set("limits", "batch_put_per_s", g_lim.batch_put_per_s);
	}
	for (i = 0; i < nmodes; i++) {
		if (strcmp(modes[i], "rtt") == 0)
			mode_rtt();
		else if (strcmp(modes[i], "propagate") == 0)
			mode_propagate(samples, interval);
		else if (strcmp(modes[i], "converge") == 0)
			mode_converge(regs, per);
		else if (strcmp(modes[i], "catchup") == 0)
			mode_catchup(total, nsrc);
		else if (strcmp(modes[i], "wire") == 0)
			mode_wire(idle_s);
	}
	if (g_json) {
		char	*txt = json_dumps(g_res, JSON_COMPACT);

		printf("%s\n", txt ? txt : "{}");
		free(txt);
	}
	json_decref(g_res);
	cleanup();
	return 0;
}
