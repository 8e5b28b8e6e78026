/*
 * fuzz_import: the export file decoder (store_export_parse) and every
 * frame in it through event_decode, then the whole file through
 * store_ingest into a scratch store, with the batch aborted afterwards so
 * that each input starts from the same state. Import files come from USB
 * sticks and other registers: untrusted bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/event.h"
#include "store/store.h"

#define MAXFRAMES	4096

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct frames {
	const uint8_t	*p[MAXFRAMES];
	size_t		 len[MAXFRAMES];
	size_t		 n;
};

static int
collect(void *arg, const uint8_t *p, size_t len)
{
	struct frames	*f = arg;
	struct event	 ev;

	if (len > EVENT_FRAME_MAX)
		abort();	/* the parser must bound frames */
	if (event_decode(&ev, p, len) == 0 && ev.frame_len != len)
		abort();
	if (f->n == MAXFRAMES)
		return CAJA_ETOOBIG;
	f->p[f->n] = p;
	f->len[f->n++] = len;
	return 0;
}

static struct store *
scratch(void)
{
	static struct store	*st;
	static char		 dir[] = "/tmp/caja-fuzz-import.XXXXXX";
	struct store_ids	 ids;
	struct store_opts	 o = { .nosync = 1 };

	if (st != NULL)
		return st;
	if (mkdtemp(dir) == NULL ||
	    store_create(dir, "Fuzz", "fuzz-1", 1700000000000ull, &ids) != 0 ||
	    store_open(&st, dir, &o) != 0) {
		fprintf(stderr, "fuzz_import: cannot make a scratch store\n");
		abort();
	}
	return st;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct frames	 f;
	static struct store_report rep;
	struct store_batch	*b = NULL;

	f.n = 0;
	if (store_export_parse(data, size, collect, &f) != 0 || f.n == 0)
		return 0;
	if (store_batch_begin(scratch(), &b) != 0)
		abort();
	memset(&rep, 0, sizeof(rep));
	if (store_ingest(b, f.p, f.len, f.n, 1700000000000ull, &rep) == 0 &&
	    rep.accepted + rep.duplicate + rep.refused != f.n)
		abort();	/* every frame is accounted for */
	store_batch_abort(&b);
	return 0;
}
