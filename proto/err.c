#include "proto/err.h"

static const char *const err_text[CAJA_ERR_MAX] = {
	[CAJA_OK] = "success",
	[CAJA_ENOMEM] = "out of memory",
	[CAJA_EINVAL] = "invalid argument",
	[CAJA_ETOOBIG] = "too big",
	[CAJA_EDECODE] = "malformed input",
	[CAJA_ETYPE] = "unknown event type",
	[CAJA_EFIELD] = "bad or missing field",
	[CAJA_ESIG] = "bad signature",
	[CAJA_ECHAIN] = "broken hash chain",
	[CAJA_EUNENROLLED] = "device not enrolled",
	[CAJA_EREVOKED] = "device revoked",
	[CAJA_EFORK] = "fork: two events with one sequence number",
	[CAJA_ESTORE] = "event of another store",
	[CAJA_ENOTFOUND] = "not found",
	[CAJA_EEXIST] = "already exists",
	[CAJA_EPERM] = "not permitted",
	[CAJA_EFULL] = "store full (map or disk)",
	[CAJA_EIO] = "I/O error",
	[CAJA_ECORRUPT] = "store corrupt",
	[CAJA_EAGAIN] = "try again",
	[CAJA_EAMBIGUOUS] = "ambiguous id prefix",
	[CAJA_EEXPIRED] = "expired",
	[CAJA_ENOAGENT] = "agent not running",
};

const char *
err_str(int e)
{
	if (e < 0 || e >= CAJA_ERR_MAX || err_text[e] == 0)
		return "unknown error";
	return err_text[e];
}
