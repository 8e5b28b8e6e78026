/*
 * util: logging, clocks, error names and the configuration's defaults,
 * shared by caja-cloud's modules (and the benchmark that links them).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/caja-cloud/cloud.h"

int	cloud_verbose;

static pthread_mutex_t	log_mu = PTHREAD_MUTEX_INITIALIZER;

static void
vlog(const char *fmt, va_list ap)
{
	struct timespec	ts;
	struct tm	tm;
	char		when[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	pthread_mutex_lock(&log_mu);
	fprintf(stderr, "%s.%03ldZ caja-cloud: ", when, ts.tv_nsec / 1000000);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	pthread_mutex_unlock(&log_mu);
}

void
cloud_log(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

void
cloud_debug(const char *fmt, ...)
{
	va_list	ap;

	if (!cloud_verbose)
		return;
	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

uint64_t
cloud_mono_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t
cloud_mono_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t
cloud_wall_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int
cloud_crash_point(const char *name)
{
	const char	*e = getenv("CAJA_CLOUD_CRASH");

	return e != NULL && strcmp(e, name) == 0;
}

const char *
cloud_err_name(int e)
{
	switch (e) {
	case CAJA_EDECODE:	return "malformed";
	case CAJA_ETOOBIG:	return "too_big";
	case CAJA_ETYPE:	return "type";
	case CAJA_EFIELD:	return "field";
	case CAJA_ESIG:		return "signature";
	case CAJA_ECHAIN:	return "chain";
	case CAJA_EUNENROLLED:	return "unenrolled";
	case CAJA_EREVOKED:	return "revoked";
	case CAJA_EFORK:	return "fork";
	case CAJA_ESTORE:	return "wrong_store";
	case CAJA_EEXPIRED:	return "expired";
	case CAJA_EPERM:	return "not_allowed";
	default:		return "refused";
	}
}

void
cloud_conf_defaults(struct cloud_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->listen = "127.0.0.1:8080";
	c->rate = CLOUD_RATE_DEFAULT;
	c->burst = CLOUD_BURST_DEFAULT;
	c->db_conns = CLOUD_DB_CONNS_DEFAULT;
	c->db_timeout_ms = CLOUD_DB_TIMEOUT_MS;
	c->db_wait_ms = CLOUD_DB_WAIT_MS;
	c->db_slow_ms = CLOUD_DB_SLOW_MS;
	c->db_start_s = CLOUD_DB_START_S;
	c->max_conns = CLOUD_MAX_CONNS;
	c->max_body = CLOUD_MAX_BODY;
	c->max_raw = CLOUD_MAX_RAW;
	c->max_events = CLOUD_MAX_EVENTS;
	c->pull_max = CLOUD_PULL_MAX;
	c->pull_max_bytes = CLOUD_PULL_BYTES;
}

