/*
 * ctl: cajad's control socket and its request decoder.
 *
 * The socket is a ZeroMQ ROUTER bound at ipc://DIR/ctl.sock (mode 0600).
 * A request is one JSON object in the last frame of a message (REQ or
 * DEALER clients; the frames before it are the envelope, echoed back); the
 * reply is one JSON object: {"ok":true, ...} or
 * {"ok":false,"error":"one line","code":N} with N a caja_err code.
 *
 * Requests (unknown members are refused):
 *   {"cmd":"ping"}                                         -> {"ok":true,"pid":N}
 *   {"cmd":"status"}
 *   {"cmd":"append","type":T,"payload":{...}}      -> event_id, device_id, seq
 *   {"cmd":"append_batch","events":[{"type":T,"payload":{...}},...]}
 *                                                  -> results [...]
 *       all or nothing: any bad event refuses the whole batch ("index":i)
 *   {"cmd":"invite","role":R?,"ttl_ms":N? | "expires_ms":N?} -> token
 *   {"cmd":"revoke","device":ID,"reason":TEXT?}
 *   {"cmd":"resolve","conflict":ID,"value":V,"by":NAME?}
 *   {"cmd":"import","path":ABSOLUTE_PATH}          -> report
 * Optional in every request: "id" (any scalar), echoed in the reply.
 *
 * ctl_request_decode() is pure (no I/O) and bounded: size check first,
 * then a nesting-depth scan, then jansson. The socket functions are for
 * the agent's main thread; ctl_call() is for clients (cajactl, tests).
 */
#ifndef CAJA_CTL_H
#define CAJA_CTL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "proto/err.h"

#define CTL_MSG_MAX		(4 * 1024 * 1024)	/* ZMQ_MAXMSGSIZE */
#define CTL_DEPTH_MAX		32	/* JSON nesting */
#define CTL_BATCH_EVENTS_MAX	10000	/* events of one append_batch */
#define CTL_STR_MAX		4096	/* device, reason, path, by, ... */
#define CTL_ERRMSG		256
#define CTL_ENVELOPE_MAX	4	/* frames before the body */
#define CTL_TIMEOUT_MS		10000
#define CTL_SOCK_NAME		"ctl.sock"
#define CTL_LOCK_NAME		"cajad.lock"
#define CTL_PID_NAME		"cajad.pid"

enum ctl_cmd {
	CTL_NONE = 0,
	CTL_PING,
	CTL_STATUS,
	CTL_APPEND,
	CTL_APPEND_BATCH,
	CTL_INVITE,
	CTL_REVOKE,
	CTL_RESOLVE,
	CTL_IMPORT,
	CTL_CMD_MAX
};

struct ctl_event {
	int		 type;		/* enum event_type */
	const char	*type_name;
	json_t		*payload;	/* borrowed from the request */
};

/* A decoded request. Strings and json_t members point into root. */
struct ctl_request {
	int			 cmd;
	json_t			*root;		/* owns everything below */
	json_t			*id;		/* echoed; may be NULL */
	size_t			 nevents;	/* append: 1 */
	struct ctl_event	*events;	/* malloc'ed array */
	const char		*role;		/* invite; NULL: "register" */
	uint64_t		 ttl_ms;	/* invite: relative, 0 if none */
	uint64_t		 expires_ms;	/* invite: absolute, 0 if none */
	const char		*device, *reason;	/* revoke */
	const char		*conflict, *by;		/* resolve */
	json_t			*value;
	const char		*path;			/* import */
};

/* "append" etc. for a command; NULL if unknown. */
const char	*ctl_cmd_name(int);
/* 1 when the command writes to the store. */
int		 ctl_cmd_is_write(int);

/*
 * Decodes one request. On success out owns its memory (ctl_request_reset).
 * On error out is reset, err holds one line naming the member and the
 * problem, and the return code says what kind (CAJA_ETOOBIG, CAJA_EDECODE,
 * CAJA_EINVAL, CAJA_ETYPE, CAJA_EFIELD). Events are checked against the
 * schema here (proto/schema.h), so a batch with one bad event is refused
 * as a whole before anything is written; *bad_index (if not NULL) gets
 * its index, or -1.
 */
int	ctl_request_decode(const void *buf, size_t len, struct ctl_request *out,
	    long *bad_index, char err[CTL_ERRMSG]) CAJA_WUR;
void	ctl_request_reset(struct ctl_request *);

/* {"ok":false,"error":msg,"code":code} (+ "id" if not NULL). */
json_t	*ctl_reply_error(int code, const char *msg, json_t *id);
/* {"ok":true} (+ "id"). */
json_t	*ctl_reply_ok(json_t *id);

/* Paths inside DIR: ctl.sock, cajad.lock, cajad.pid. */
int	ctl_path(char *out, size_t cap, const char *dir, const char *name)
	    CAJA_WUR;

/*
 * Server: binds a ROUTER on ipc://DIR/ctl.sock (removing a stale socket
 * file: the caller holds the dir lock), mode 0600, ZMQ_MAXMSGSIZE.
 */
int	ctl_listen(void *zctx, const char *dir, void **sock, char err[CTL_ERRMSG])
	    CAJA_WUR;

/*
 * Client: sends req to the agent of DIR and waits up to timeout_ms for its
 * reply (*reply: caller json_decref). CAJA_ENOAGENT when no agent holds the
 * dir lock (checked first, and again while waiting: an agent that dies or
 * restarts before replying fails the call), CAJA_EAGAIN on timeout,
 * CAJA_EDECODE for a malformed reply. err says which.
 */
int	ctl_call(const char *dir, const json_t *req, int timeout_ms,
	    json_t **reply, char err[CTL_ERRMSG]) CAJA_WUR;
/*
 * 1 when an agent holds DIR's lock, 0 when none; *pid gets the pid from
 * DIR/cajad.pid (0 if unknown).
 */
int	ctl_agent_running(const char *dir, long *pid);

#endif
