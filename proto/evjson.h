/*
 * evjson: events as JSON, the way people and scripts read them: `cajactl
 * log` (store/view.c) and caja-cloud's API (tools/caja-cloud/API.md). Ids
 * and hashes as lowercase hex, times as ISO-8601 UTC with milliseconds,
 * the payload as schema_to_json() gives it (null when it does not
 * decode).
 *
 * Pure: no I/O; any thread. Returned JSON belongs to the caller; the
 * json_t * helpers return NULL when out of memory.
 */
#ifndef CAJA_EVJSON_H
#define CAJA_EVJSON_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "proto/err.h"
#include "proto/vclock.h"

#define EVJSON_HEX_MAX	64	/* bytes evjson_hex() writes (a signature) */

/* Fields of evjson_event(). */
#define EVJSON_FULL	0x01	/* also store_id, prev, causal_context,
				 * state and sig (caja-cloud) */

json_t	*evjson_hex(const uint8_t *, size_t len);	/* len <= HEX_MAX */
/* The HLC's physical time, "2026-11-28T08:00:00.123Z". */
json_t	*evjson_time(uint64_t hlc);
/* {"<device hex>": seq, ...} */
json_t	*evjson_vclock(const struct vclock *);
/* Reads that form back into vc: an object of at most VCLOCK_MAX ids of
 * 32 hex digits, each once, to integers >= 0 (0: left out).
 * CAJA_EDECODE for anything else. */
int	evjson_vclock_parse(const json_t *, struct vclock *vc) CAJA_WUR;

/*
 * The event in frame as an object: event_id, device_id, seq, hlc, time,
 * type, entity, payload (and the EVJSON_FULL fields). The frame's bytes
 * are decoded as event_decode() does: its error when they do not decode.
 */
int	evjson_event(const uint8_t *frame, size_t len, int flags,
	    json_t **out) CAJA_WUR;

#endif
