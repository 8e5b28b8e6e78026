/*
 * fuzz_ctl: the control socket's request decoder (ctl_request_decode).
 * Any bytes: no crash, no leak, and a decoded request is consistent.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "agent/ctl.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_request	r;
	char			err[CTL_ERRMSG];
	long			bad;
	size_t			i;

	if (ctl_request_decode(data, size, &r, &bad, err) != 0) {
		if (r.root != NULL || r.events != NULL || err[0] == '\0')
			abort();
		return 0;
	}
	if (ctl_cmd_name(r.cmd) == NULL || r.root == NULL || bad != -1)
		abort();
	if ((r.cmd == CTL_APPEND || r.cmd == CTL_APPEND_BATCH) &&
	    (r.nevents == 0 || r.events == NULL))
		abort();
	for (i = 0; i < r.nevents; i++)
		if (r.events[i].payload == NULL ||
		    r.events[i].type_name == NULL)
			abort();
	if (r.cmd == CTL_IMPORT && (r.path == NULL || r.path[0] != '/'))
		abort();
	if (r.cmd == CTL_REVOKE && r.device == NULL)
		abort();
	if (r.cmd == CTL_RESOLVE && (r.conflict == NULL || r.value == NULL))
		abort();
	ctl_request_reset(&r);
	return 0;
}
