/*
 * bench: helpers shared by the benchmarks of tools/bench/. Single-threaded
 * callers; nothing here is used by the product.
 */
#ifndef CAJA_BENCH_H
#define CAJA_BENCH_H

#include <stddef.h>

struct bench_limits {
	double	sign_per_s;
	double	verify_per_s;
	double	verify_cpu_per_s;	/* per second of thread CPU */
	double	hash_per_s;
	double	commit_per_s;		/* one put per fsync'd commit */
	double	commit_p50_us;
	double	batch_put_per_s;	/* 1000 (device, seq) puts per commit */
	double	random_put_per_s;	/* same, random 16-byte keys */
};

/* Monotonic seconds. */
double	bench_now(void);
/* CPU seconds of the calling thread. */
double	bench_cpu_now(void);
/* Sorts v in place and returns its pct-th percentile. */
double	bench_percentile(double *v, size_t n, double pct);
/* Peak resident set (VmHWM) in KiB, or -1. */
long	bench_peak_rss_kb(void);
/* A field of /proc/self/status in KiB ("RssAnon", "RssFile"), or -1. */
long	bench_status_kb(const char *field);
/* rm -rf of a directory under /tmp (refuses anything else). */
void	bench_rmdir(const char *dir);
/* Measures the limits with an LMDB env in a temp dir under base. */
int	bench_limits_measure(const char *base, struct bench_limits *);
void	bench_limits_print(const struct bench_limits *, int json);

#endif
