/*
 * clock: the agent's two clocks, in milliseconds. Wall time (CLOCK_REALTIME)
 * stamps events and goes on the wire; monotonic time (CLOCK_MONOTONIC)
 * measures intervals (timeouts, backoff, liveness), which a wall clock
 * set back or forward must not stretch. Any thread.
 */
#ifndef CAJA_CLOCK_H
#define CAJA_CLOCK_H

#include <stdint.h>

uint64_t	clock_wall_ms(void);
uint64_t	clock_mono_ms(void);

#endif
