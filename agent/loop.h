/*
 * loop: cajad's single poll loop.
 *
 * Owns the store (opened read-write), the ZeroMQ context, the control
 * socket and a signalfd for SIGTERM/SIGINT (stop) and SIGHUP (reload).
 * Group commit: when the control socket is readable the loop drains up to
 * conf.batch_max requests without blocking, runs all their writes in one
 * store batch (one fsync), then replies; a write is acknowledged only after
 * its commit succeeded. A failed commit (CAJA_EFULL...) answers every write
 * of the group with an error naming the cause; reads and status go on.
 * Main thread only.
 */
#ifndef CAJA_LOOP_H
#define CAJA_LOOP_H

#include <stddef.h>
#include <stdint.h>

#include "agent/conf.h"
#include "proto/err.h"

#define LOOP_ERRMSG	320
#define LOOP_TICK_MS	1000	/* poll timeout: periodic work */

struct loop;

struct loop_counters {
	uint64_t	requests;	/* decoded requests */
	uint64_t	bad_requests;	/* refused by the decoder */
	uint64_t	refused;	/* write requests refused (rules) */
	uint64_t	failed;		/* writes lost to a failed commit */
	uint64_t	appended;	/* events appended and committed */
	uint64_t	commits;
	uint64_t	imports;
};

/*
 * Blocks SIGTERM/SIGINT/SIGHUP (before any thread starts), opens the store
 * of c->dir read-write and binds the control socket. args/nargs are kept
 * (not copied) to rebuild the configuration on SIGHUP.
 */
int	loop_new(struct loop **, const struct conf *c,
	    const struct conf_arg *args, size_t nargs, char err[LOOP_ERRMSG])
	    CAJA_WUR;
/* Runs until SIGTERM/SIGINT: 0, or an error that stopped the loop. */
int	loop_run(struct loop *) CAJA_WUR;
/* Ask the loop to stop after the current iteration. */
void	loop_stop(struct loop *);
const struct loop_counters	*loop_counters(const struct loop *);
void	loop_destroy(struct loop **);

#endif
