/*
 * bench_limits: prints the physical limits of this machine (see benchutil.c)
 * that the other benchmarks are stated against.
 *
 * usage: bench_limits [--json] [DIR]    (DIR: where the LMDB test goes)
 */
#include <stdio.h>
#include <string.h>

#include "tools/bench/bench.h"

int
main(int argc, char **argv)
{
	struct bench_limits	 l;
	const char		*base = "/tmp";
	int			 json = 0, i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "--help") == 0) {
			printf("usage: bench_limits [--json] [DIR]\n");
			return 0;
		} else
			base = argv[i];
	}
	if (bench_limits_measure(base, &l) != 0) {
		fprintf(stderr, "bench_limits: measurement failed\n");
		return 2;
	}
	bench_limits_print(&l, json);
	if (json)
		printf("\n");
	return 0;
}

