/*
 * bench: helpers shared by the benchmarks of tools/bench/. Single-threaded
 * callers; nothing here is used by the product.
 */
#ifndef CAJA_BENCH_H
#define CAJA_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Databases of the wide commit limit: about what an append of a sale
 * changes (log, device, sale, products, totals, meta). */
#define WIDE_DBS	6
/*
 * The disk's flush costs more when it comes alone: on the VMs of
 * BENCHMARKS.md an fdatasync 10 ms after the last one takes ~0.7 ms, one
 * right after another ~0.15 ms. Appends one at a time (a POS, the
 * propagation benchmark) pay the first; the limit measures it too.
 */
#define WIDE_ALONE_MS	10

struct bench_limits {
	double	sign_per_s;
	double	verify_per_s;
	double	verify_cpu_per_s;	/* per second of thread CPU */
	double	hash_per_s;
	double	commit_per_s;		/* one put per fsync'd commit */
	double	commit_p50_us;
	double	wide_commit_per_s;	/* a put in each of WIDE_DBS, fsync'd */
	double	wide_commit_p50_us;
	double	wide_alone_p50_us;	/* same, WIDE_ALONE_MS apart */
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

/*
 * The POS mix: the events the benchmarks write (bench_import, bench_lan,
 * bench_cloud), from the caller's xorshift64 generator, so that a program
 * run with the same seed writes the same events every time (figures of
 * different runs and builds stay comparable). Products are p00000 ..
 * p01999, customers c0000 .. c0499.
 */
#define BENCH_NPRODUCTS		2000
#define BENCH_NCUSTOMERS	500
#define BENCH_RNG_SEED		0x9e3779b97f4a7c15ull

/* Advances the generator *state (never 0) and returns its new value. */
uint64_t	bench_rnd(uint64_t *state);

enum bench_mix_kind {
	/*
	 * bench_import, bench_lan: 60% sales of 1-5 items, 15% stock
	 * received, 10% price changes, 10% customer phones, 5% product
	 * names; prices from 1.00 to 50.99 bs.
	 */
	BENCH_MIX_BASIC,
	/*
	 * bench_cloud: 60% sales of 1-5 items (one in five to a known
	 * customer), 10% stock received, 5% stock adjusted, 10% price
	 * changes, 10% customer edits (phone or address), 5% product edits
	 * (name or barcode); prices from 1.00 to 500.99 bs. Register dev of
	 * ndev changes the prices of the products p with p % ndev == dev
	 * only (a store sets a price at one place: no concurrent price
	 * conflicts).
	 */
	BENCH_MIX_FULL
};

struct bench_mix {
	enum bench_mix_kind	 kind;
	uint64_t		*rng;		/* the caller's generator */
	const char		*tag;		/* sale ids: "<tag>-s<i>" */
	int			 dev, ndev;	/* BENCH_MIX_FULL's prices */
};

/* What an event of the mix changes. */
struct bench_mix_ev {
	const char	*type;		/* "SaleCreated", ... */
	const char	*kind;		/* "sale", "product", "customer" */
	char		 entity[64];	/* the id of the entity */
};

/*
 * The payload of event i of the mix (the caller json_decref()s it), its
 * type and entity in *ev. NULL when out of memory.
 */
json_t	*bench_mix_event(const struct bench_mix *, uint64_t i,
	    struct bench_mix_ev *ev);

/*
 * The catalog a store starts from (bench_cloud): for each product its
 * ProductUpdated (name, barcode, active), PriceChanged (both prices),
 * StockReceived, then a CustomerUpdated (name, phone, address) for each
 * customer. Event i < BENCH_CATALOG_EVENTS; payload as bench_mix_event().
 */
#define BENCH_CATALOG_EVENTS	(3 * BENCH_NPRODUCTS + BENCH_NCUSTOMERS)
json_t	*bench_catalog_event(uint64_t *rng, uint64_t i, const char **type);

#endif
