/*
 * fuzz_wire: the peer message decoder on arbitrary bytes.
 *
 * Holds wire_decode() to its contract: never crash, never read outside the
 * input, and, since the form is canonical, a frame it accepts re-encodes to
 * exactly the same bytes (the one documented exception, a HELLO of another
 * protocol version, must at least carry a version other than ours). Event
 * frames must point inside the input. Any breach aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/wire.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct wire_msg	msg;	/* about 17 KiB: not on the stack */
static struct buf	out;
static int		ready;

static void
check_inside(const struct wire_frame *f, const uint8_t *data, size_t size)
{
	if (f->len == 0 || f->p < data || f->len > size ||
	    f->p > data + size - f->len)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t	i;

	if (!ready) {
		buf_init(&out, 0);
		ready = 1;
	}
	if (wire_decode(&msg, data, size) != 0) {
		if (msg.kind != WIRE_NONE)
			abort();
		return 0;
	}
	switch (msg.kind) {
	case WIRE_HELLO:
		if (msg.u.hello.version != WIRE_VERSION) {
			if (msg.u.hello.version == 0 ||
			    msg.u.hello.vc.n != 0 || msg.u.hello.acked.n != 0)
				abort();
			return 0;
		}
		break;
	case WIRE_EVENTS:
		if (msg.u.events.n == 0 || msg.u.events.n > WIRE_MAX_RUN)
			abort();
		for (i = 0; i < msg.u.events.n; i++)
			check_inside(&msg.u.events.f[i], data, size);
		break;
	case WIRE_PUSH:
		check_inside(&msg.u.push, data, size);
		break;
	default:
		break;
	}
	buf_clear(&out);
	if (wire_encode(&out, &msg) != 0)
		abort();
	if (out.len != size || memcmp(out.p, data, size) != 0)
		abort();
	return 0;
}
