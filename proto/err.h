/*
 * err: the one error space of caja.
 *
 * Every fallible function returns 0 or one of these codes. Library codes
 * (errno, MDB_*, zmq_errno(), msgpack, libsodium, CURLcode) are translated
 * once, where they arrive. err_str() returns a static string; any thread.
 */
#ifndef CAJA_ERR_H
#define CAJA_ERR_H

#define CAJA_WUR	__attribute__((warn_unused_result))

enum caja_err {
	CAJA_OK = 0,
	CAJA_ENOMEM,		/* out of memory */
	CAJA_EINVAL,		/* bad argument or malformed request */
	CAJA_ETOOBIG,		/* over a named limit */
	CAJA_EDECODE,		/* malformed bytes (msgpack, JSON, token) */
	CAJA_ETYPE,		/* unknown event type */
	CAJA_EFIELD,		/* missing, unknown or ill-typed payload field */
	CAJA_ESIG,		/* signature does not verify */
	CAJA_ECHAIN,		/* hash chain broken or gap in sequence */
	CAJA_EUNENROLLED,	/* device not enrolled in this store */
	CAJA_EREVOKED,		/* device revoked before this event */
	CAJA_EFORK,		/* two different events with one (device, seq) */
	CAJA_ESTORE,		/* event of another store */
	CAJA_ENOTFOUND,		/* no such entity, conflict, device */
	CAJA_EEXIST,		/* already exists (e.g. init on a used dir) */
	CAJA_EPERM,		/* not allowed (e.g. invite from non-admin) */
	CAJA_EFULL,		/* map or disk full: writes refused, reads go on */
	CAJA_EIO,		/* I/O error (see errno in the log) */
	CAJA_ECORRUPT,		/* stored data fails its own checks */
	CAJA_EAGAIN,		/* try again (e.g. agent busy) */
	CAJA_EAMBIGUOUS,	/* id prefix matches more than one */
	CAJA_EEXPIRED,		/* token or invite expired */
	CAJA_ENOAGENT,		/* agent not running */
	CAJA_ERR_MAX
};

/* Static, human-readable text for a code. Never NULL. */
const char	*err_str(int);

#endif
