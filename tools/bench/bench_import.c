/*
 * bench_import: import of N events from D devices with full verification,
 * then reads on the resulting store: get latency, digest time, bytes on
 * disk per event, peak RSS. Figures are stated against the limits measured
 * in the same run (benchutil.c).
 *
 * usage: bench_import [--events N] [--devices D] [--json]
 *                     [--save DIR | --reuse DIR] [--skip-limits]
 *
 * It builds D data dirs of one store (an admin and D-1 joined registers),
 * appends a realistic POS mix on each (bench.h, BENCH_MIX_BASIC: sales of
 * 1-5 items, stock moves, price changes, customer edits), exports them,
 * and imports every file into a fresh joined register, timing the import
 * alone.
 *
 * For profiling: --save DIR keeps the export files and a copy of the
 * fresh register in DIR; --reuse DIR imports those instead of building
 * new ones (the fill is most of the run time under valgrind);
 * --skip-limits leaves the limits out (then no ratios are printed).
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <inttypes.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto/sig.h"
#include "store/store.h"
#include "tools/bench/bench.h"

#define MAXDEV		16
#define BATCH		10000

static uint64_t	 rng = BENCH_RNG_SEED;

static uint64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
die(const char *what, int rc, const char *msg)
{
	fprintf(stderr, "bench_import: %s: %s%s%s\n", what, err_str(rc),
	    msg && *msg ? ": " : "", msg ? msg : "");
	exit(2);
}

static void
fill(struct store *st, int dev, uint64_t n)
{
	struct bench_mix	 mix = { .kind = BENCH_MIX_BASIC, .rng = &rng };
	struct bench_mix_ev	 ev;
	struct store_batch	*b = NULL;
	struct store_appended	 out;
	char			 msg[STORE_ERRMSG], tag[16];
	json_t			*pl;
	uint64_t		 i;
	int			 rc;

	snprintf(tag, sizeof(tag), "d%d", dev);
	mix.tag = tag;
	for (i = 0; i < n; i++) {
		if (b == NULL && (rc = store_batch_begin(st, &b)) != 0)
			die("batch", rc, NULL);
		pl = bench_mix_event(&mix, i, &ev);
		msg[0] = '\0';
		rc = store_append_json(b, ev.type, pl, now_ms(), &out, msg);
		json_decref(pl);
		if (rc != 0)
			die("append", rc, msg);
		if ((i + 1) % BATCH == 0 || i + 1 == n) {
			if ((rc = store_batch_commit(&b)) != 0)
				die("commit", rc, NULL);
		}
	}
}

/* CPU seconds (user + system) of this process so far. */
static double
cpu_now(void)
{
	struct rusage	ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* Seconds this thread waited for a core (run queue), from schedstat. */
static double
runq_now(void)
{
	FILE			*f;
	unsigned long long	 run = 0, wait = 0;

	if ((f = fopen("/proc/thread-self/schedstat", "r")) == NULL)
		return 0;
	if (fscanf(f, "%llu %llu", &run, &wait) != 2)
		wait = 0;
	fclose(f);
	return (double)wait / 1e9;
}

static void
sh(const char *fmt, const char *a, const char *b)
{
	char	cmd[9000];

	snprintf(cmd, sizeof(cmd), fmt, a, b);
	if (system(cmd) != 0) {
		fprintf(stderr, "bench_import: failed: %s\n", cmd);
		exit(2);
	}
}

/* Resets the peak RSS (VmHWM) so that it covers what follows only. */
static void
reset_peak_rss(void)
{
	int	fd = open("/proc/self/clear_refs", O_WRONLY);

	if (fd < 0)
		return;
	if (write(fd, "5", 1) != 1)
		fprintf(stderr, "bench_import: could not reset VmHWM\n");
	close(fd);
}

/* Bytes per event of each LMDB database of the store in dir (pages). */
static void
db_breakdown(const char *dir, uint64_t held)
{
	static const char *const names[] = { "log", "ids", "devices",
	    "invites", "products", "customers", "sales", "conflicts",
	    "totals", "forks", "meta" };
	MDB_env		*env = NULL;
	MDB_txn		*txn = NULL;
	MDB_dbi		 dbi;
	MDB_stat	 st;
	MDB_envinfo	 info;
	size_t		 i, pages, total = 0;

	if (mdb_env_create(&env) != 0 || mdb_env_set_maxdbs(env, 16) != 0 ||
	    mdb_env_open(env, dir, MDB_RDONLY, 0600) != 0 ||
	    mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) != 0)
		goto out;
	printf("  per database (bytes/event, pages of 4 KiB):");
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (mdb_dbi_open(txn, names[i], 0, &dbi) != 0 ||
		    mdb_stat(txn, dbi, &st) != 0)
			continue;
		pages = st.ms_branch_pages + st.ms_leaf_pages +
		    st.ms_overflow_pages;
		total += pages;
		if (pages * st.ms_psize >= held)	/* >= 1 B/event */
			printf(" %s %.0f", names[i],
			    (double)pages * st.ms_psize / (double)held);
	}
	if (mdb_env_info(env, &info) == 0 && mdb_env_stat(env, &st) == 0)
		printf("; free/unused %.0f",
		    ((double)info.me_last_pgno + 1 - (double)total) *
		    st.ms_psize / (double)held);
	printf("\n");
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	if (env != NULL)
		mdb_env_close(env);
}

static long long
dir_bytes(const char *dir)
{
	char		path[4200];
	struct stat	sb;

	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	if (stat(path, &sb) != 0)
		return -1;
	return (long long)sb.st_blocks * 512;
}

int
main(int argc, char **argv)
{
	struct bench_limits	 lim;
	struct store_opts	 fast = { .nosync = 1 }, normal = { 0 };
	struct store_ids	 ids;
	struct store_report	 rep;
	struct store		*st[MAXDEV], *t = NULL;
	struct store_batch	*b = NULL;
	char			 base[] = "/tmp/caja-bench.XXXXXX";
	char			 dir[MAXDEV + 1][4200], file[MAXDEV][4200];
	char			 tok[MAXDEV + 1][512], msg[STORE_ERRMSG];
	const char		*save = NULL, *reuse = NULL;
	uint64_t		 nev = 1000000, per, held = 0;
	double			 t0, t_import, t_digest, *lat;
	double			 c0, c_import;
	double			 q0, q_import;
	size_t			 cnt, total_imported = 0, sigs = 0;
	uint8_t			 dg[HASH_LEN];
	int			 ndev = 5, json = 0, i, rc, k, limits = 1;
	long long		 bytes;
	long			 rss_anon, rss_file;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--events") == 0 && i + 1 < argc)
			nev = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--devices") == 0 && i + 1 < argc)
			ndev = (int)strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "--save") == 0 && i + 1 < argc)
			save = argv[++i];
		else if (strcmp(argv[i], "--reuse") == 0 && i + 1 < argc)
			reuse = argv[++i];
		else if (strcmp(argv[i], "--skip-limits") == 0)
			limits = 0;
		else {
			printf("usage: bench_import [--events N] [--devices D] "
			    "[--json] [--save DIR | --reuse DIR] "
			    "[--skip-limits]\n");
			return strcmp(argv[i], "--help") == 0 ? 0 : 1;
		}
	}
	if (ndev < 1 || ndev > MAXDEV || nev < (uint64_t)ndev) {
		fprintf(stderr, "bench_import: bad --devices or --events\n");
		return 1;
	}
	if (sig_init() != 0 || mkdtemp(base) == NULL)
		die("setup", CAJA_EIO, NULL);
	memset(&lim, 0, sizeof(lim));
	if (limits && bench_limits_measure(base, &lim) != 0)
		die("limits", CAJA_EIO, NULL);
	if (reuse != NULL) {
		snprintf(dir[ndev], sizeof(dir[ndev]), "%s/target", base);
		sh("cp -a '%s/target' '%s'", reuse, dir[ndev]);
		for (i = 0; i < ndev; i++)
			snprintf(file[i], sizeof(file[i]), "%s/dev%d.caja",
			    reuse, i);
		goto import;
	}

	/* The store: dir[0] is the admin, dir[1..ndev-1] and the target
	 * dir[ndev] join with invites minted on the admin. */
	for (i = 0; i <= ndev; i++) {
		snprintf(dir[i], sizeof(dir[i]), "%s/dev%d", base, i);
		mkdir(dir[i], 0700);
	}
	if ((rc = store_create(dir[0], "Bench", "dev0", now_ms(), &ids)) != 0)
		die("create", rc, NULL);
	if ((rc = store_open(&st[0], dir[0], &fast)) != 0)
		die("open", rc, NULL);
	if ((rc = store_batch_begin(st[0], &b)) != 0)
		die("batch", rc, NULL);
	for (i = 1; i <= ndev; i++)
		if ((rc = store_invite(b, "register", now_ms() + 3600000,
		    now_ms(), tok[i], sizeof(tok[i]), msg)) != 0)
			die("invite", rc, msg);
	if ((rc = store_batch_commit(&b)) != 0)
		die("commit", rc, NULL);
	for (i = 1; i <= ndev; i++) {
		char	name[16];

		snprintf(name, sizeof(name), "dev%d", i);
		if ((rc = store_join(dir[i], tok[i], name, now_ms(), &ids))
		    != 0)
			die("join", rc, NULL);
		if (i < ndev && (rc = store_open(&st[i], dir[i], &fast)) != 0)
			die("open", rc, NULL);
	}

	per = nev / (uint64_t)ndev;
	fprintf(stderr, "bench_import: appending %" PRIu64 " events on %d "
	    "devices...\n", per * (uint64_t)ndev, ndev);
	for (i = 0; i < ndev; i++) {
		fill(st[i], i, per);
		snprintf(file[i], sizeof(file[i]), "%s/dev%d.caja", base, i);
		if ((rc = store_export(st[i], NULL, file[i], &cnt)) != 0)
			die("export", rc, NULL);
		store_close(&st[i]);
	}
	if (save != NULL) {
		mkdir(save, 0700);
		sh("cp -a '%s' '%s/target'", dir[ndev], save);
		sh("cp %s/dev*.caja '%s'", base, save);
	}

import:
	/* The measured part: verify and merge every file, durably. */
	reset_peak_rss();
	if ((rc = store_open(&t, dir[ndev], &normal)) != 0)
		die("open target", rc, NULL);
	t0 = bench_now();
	c0 = cpu_now();
	q0 = runq_now();
	for (i = 0; i < ndev; i++) {
		memset(&rep, 0, sizeof(rep));
		if ((rc = store_import(t, file[i], now_ms(), &rep, msg)) != 0)
			die("import", rc, msg);
		if (rep.refused != 0)
			die("import refused events", CAJA_EINVAL,
			    rep.nrefusals ? rep.refusals[0].msg : "");
		total_imported += rep.accepted;
		sigs += rep.sig_checks;
	}
	t_import = bench_now() - t0;
	c_import = cpu_now() - c0;
	q_import = runq_now() - q0;
	if ((rc = store_count(t, &held)) != 0)
		die("count", rc, NULL);

	/* get latency: random products. */
	lat = calloc(20000, sizeof(*lat));
	for (k = 0; k < 20000; k++) {
		char	 pid[32];
		json_t	*o = NULL;

		snprintf(pid, sizeof(pid), "p%05d",
		    (int)(bench_rnd(&rng) % BENCH_NPRODUCTS));
		t0 = bench_now();
		rc = store_get_json(t, "product", pid, &o);
		lat[k] = (bench_now() - t0) * 1e6;
		if (rc != 0 && rc != CAJA_ENOTFOUND)
			die("get", rc, NULL);
		json_decref(o);
	}
	t0 = bench_now();
	if ((rc = store_digest(t, dg)) != 0)
		die("digest", rc, NULL);
	t_digest = bench_now() - t0;
	bytes = dir_bytes(dir[ndev]);
	rss_anon = bench_status_kb("RssAnon");
	rss_file = bench_status_kb("RssFile");
	store_close(&t);

	if (json) {
		printf("{\"limits\":");
		bench_limits_print(&lim, 1);
		printf(",\"events\":%" PRIu64 ",\"devices\":%d,"
		    "\"import_s\":%.3f,\"import_per_s\":%.0f,"
		    "\"import_cpu_s\":%.3f,\"import_runq_s\":%.3f,"
		    "\"signatures_verified\":%zu,"
		    "\"get_p50_us\":%.1f,\"get_p99_us\":%.1f,"
		    "\"digest_s\":%.3f,\"bytes_per_event\":%.0f,"
		    "\"peak_rss_kb\":%ld,\"rss_anon_kb\":%ld,"
		    "\"rss_file_kb\":%ld}\n", held, ndev, t_import,
		    total_imported / t_import, c_import, q_import, sigs,
		    bench_percentile(lat, 20000, 50),
		    bench_percentile(lat, 20000, 99), t_digest,
		    (double)bytes / (double)held, bench_peak_rss_kb(),
		    rss_anon, rss_file);
	} else {
		if (limits)
			bench_limits_print(&lim, 0);
		printf("import: %zu events from %d devices in %.2f s = %.0f "
		    "events/s; %zu signatures checked\n", total_imported,
		    ndev, t_import, total_imported / t_import, sigs);
		printf("  CPU %.2f s (%.1f us/event: %.0f events/s of CPU), "
		    "waiting for a core %.2f s, for the disk %.2f s\n",
		    c_import, c_import * 1e6 / (double)total_imported,
		    total_imported / c_import, q_import,
		    t_import - c_import - q_import);
		if (limits)
			printf("  = %.1fx one-verify-per-event (by CPU time: "
			    "%.1fx), %.2fx the lmdb 1000-puts/commit rate\n",
			    total_imported / t_import / lim.verify_per_s,
			    total_imported / c_import / lim.verify_cpu_per_s,
			    total_imported / t_import / lim.batch_put_per_s);
		printf("get product on %" PRIu64 " events: p50 %.1f us, "
		    "p99 %.1f us\n", held, bench_percentile(lat, 20000, 50),
		    bench_percentile(lat, 20000, 99));
		printf("digest: %.3f s (%.0f events/s): ", t_digest,
		    held / t_digest);
		for (k = 0; k < HASH_LEN; k++)
			printf("%02x", dg[k]);
		printf("\n");
		printf("disk: %.0f bytes/event (%lld bytes)\n",
		    (double)bytes / (double)held, bytes);
		db_breakdown(dir[ndev], held);
		printf("peak RSS: %ld KiB (import, gets, digest; now %ld KiB "
		    "of heap and %ld KiB of mapped files, mostly LMDB's map)\n",
		    bench_peak_rss_kb(), rss_anon, rss_file);
	}
	free(lat);
	bench_rmdir(base);
	return 0;
}
