/*
 * breaker: the cloud uplink's client circuit breaker and retry backoff
 * (DESIGN.md decision 9). Pure: no I/O, no clock, no randomness of its
 * own (the caller passes `now` in ms and a uniform random number), so
 * that every transition can be tested alone.
 *
 * Circuit breaker:
 *  1. CLOSED: requests go. Each failure counts; a success resets the
 *     count. BREAKER_FAILS consecutive failures open it.
 *  2. OPEN: no request at all until BREAKER_OPEN_MS after it opened; then
 *     it is HALF_OPEN.
 *  3. HALF_OPEN: one request (the probe) at a time. A failure opens it
 *     again (for another BREAKER_OPEN_MS); BREAKER_CLOSE_OKS successes in
 *     a row close it.
 *  "Failure" is the caller's verdict: the cloud did not answer, answered
 *  5xx, or timed out. An answer that says "slow down" (429) or refuses the
 *  request (4xx) proves the cloud reachable and is not a failure.
 *
 * Backoff: after the n-th consecutive failure (n >= 1) the next attempt
 * waits BACKOFF_STEPS[n-1] seconds (1, 2, 4, 8, 16, 32, then 60 for ever),
 * times a jitter factor uniform in [1 - 20%, 1 + 20%), so that registers
 * that failed together do not retry together. A Retry-After from the
 * server is honoured: the wait is at least that long (a 429 waits exactly
 * that long plus up to 20% more, never less).
 *
 * Any thread; a struct breaker belongs to one.
 */
#ifndef CAJA_BREAKER_H
#define CAJA_BREAKER_H

#include <stddef.h>
#include <stdint.h>

#define BREAKER_FAILS		5
#define BREAKER_OPEN_MS		30000
#define BREAKER_CLOSE_OKS	2
#define BACKOFF_JITTER_PCT	20
#define BACKOFF_MAX_MS		60000

enum breaker_state {
	BREAKER_CLOSED = 0,
	BREAKER_OPEN,
	BREAKER_HALF_OPEN
};

struct breaker {
	int		state;		/* enum breaker_state */
	uint32_t	fails;		/* consecutive failures */
	uint32_t	oks;		/* consecutive successes (half-open) */
	uint64_t	opened_at;	/* ms, when it last opened */
	int		probing;	/* half-open: the probe is out */
	uint64_t	opens;		/* times it opened (a counter) */
};

void	breaker_init(struct breaker *);
/*
 * May a request start at now? OPEN turns HALF_OPEN once BREAKER_OPEN_MS
 * passed; HALF_OPEN allows one request at a time. 1: go (call
 * breaker_started() when it does), 0: not now.
 */
int	breaker_allow(struct breaker *, uint64_t now);
/* A request started (the half-open probe is out). */
void	breaker_started(struct breaker *);
/* The request succeeded / failed (see the top for what fails). */
void	breaker_success(struct breaker *, uint64_t now);
void	breaker_failure(struct breaker *, uint64_t now);
/* A request ended without a verdict on the cloud (429, 4xx): frees the
 * half-open probe slot, counts nothing. */
void	breaker_neutral(struct breaker *);
/* When an OPEN breaker allows its probe (0 when not OPEN). */
uint64_t breaker_reopen_at(const struct breaker *);
/* "CLOSED", "OPEN", "HALF_OPEN". */
const char	*breaker_state_name(int state);

/*
 * The wait before the next attempt after `fails` consecutive failures
 * (>= 1; 0 gives 0), with jitter: r uniform in [0, 1).
 */
uint64_t backoff_delay_ms(uint32_t fails, double r);
/*
 * The wait after an answer that carried Retry-After (seconds, > 0):
 * rate limited (429): retry_after plus 0..20% (r); else (503, 507) the
 * longer of retry_after and backoff_delay_ms(fails, r).
 */
uint64_t backoff_retry_after_ms(uint32_t retry_after_s, int rate_limited,
	    uint32_t fails, double r);

#endif
