/*
 * ctl: control socket, request decoding, client calls.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <zmq.h>

#include "agent/ctl.h"
#include "agent/log.h"
#include "proto/buf.h"
#include "proto/event.h"
#include "proto/schema.h"

static const char *const cmd_names[CTL_CMD_MAX] = {
	[CTL_PING] = "ping",
	[CTL_STATUS] = "status",
	[CTL_APPEND] = "append",
	[CTL_APPEND_BATCH] = "append_batch",
	[CTL_INVITE] = "invite",
	[CTL_REVOKE] = "revoke",
	[CTL_RESOLVE] = "resolve",
	[CTL_IMPORT] = "import",
};

const char *
ctl_cmd_name(int c)
{
	if (c <= CTL_NONE || c >= CTL_CMD_MAX)
		return NULL;
	return cmd_names[c];
}

int
ctl_cmd_is_write(int c)
{
	switch (c) {
	case CTL_APPEND:
	case CTL_APPEND_BATCH:
	case CTL_INVITE:
	case CTL_REVOKE:
	case CTL_RESOLVE:
	case CTL_IMPORT:
		return 1;
	default:
		return 0;
	}
}

void
ctl_request_reset(struct ctl_request *r)
{
	free(r->events);
	json_decref(r->root);
	memset(r, 0, sizeof(*r));
}

/*
 * Nesting depth of a JSON text, without parsing it: brackets outside
 * strings. Bounds jansson's recursion before it starts.
 */
static int
depth_ok(const unsigned char *p, size_t len, int max)
{
	size_t	i;
	int	depth = 0, instr = 0, esc = 0;

	for (i = 0; i < len; i++) {
		if (instr) {
			if (esc)
				esc = 0;
			else if (p[i] == '\\')
				esc = 1;
			else if (p[i] == '"')
				instr = 0;
			continue;
		}
		switch (p[i]) {
		case '"':
			instr = 1;
			break;
		case '[':
		case '{':
			if (++depth > max)
				return 0;
			break;
		case ']':
		case '}':
			depth--;
			break;
		}
	}
	return 1;
}

/* Members allowed for each command, NULL-terminated. */
static const char *const keys_none[] = { NULL };
static const char *const keys_append[] = { "type", "payload", NULL };
static const char *const keys_batch[] = { "events", NULL };
static const char *const keys_invite[] = { "role", "ttl_ms", "expires_ms",
    NULL };
static const char *const keys_revoke[] = { "device", "reason", NULL };
static const char *const keys_resolve[] = { "conflict", "value", "by", NULL };
static const char *const keys_import[] = { "path", NULL };

static const char *const *
cmd_keys(int c)
{
	switch (c) {
	case CTL_APPEND:
		return keys_append;
	case CTL_APPEND_BATCH:
		return keys_batch;
	case CTL_INVITE:
		return keys_invite;
	case CTL_REVOKE:
		return keys_revoke;
	case CTL_RESOLVE:
		return keys_resolve;
	case CTL_IMPORT:
		return keys_import;
	default:
		return keys_none;
	}
}

static int
key_allowed(const char *const *keys, const char *k)
{
	if (strcmp(k, "cmd") == 0 || strcmp(k, "id") == 0)
		return 1;
	for (; *keys != NULL; keys++)
		if (strcmp(*keys, k) == 0)
			return 1;
	return 0;
}

/*
 * A string member: absent is fine unless required; present must be a
 * string of 1..CTL_STR_MAX bytes.
 */
static int
get_str(json_t *o, const char *k, int required, const char **out,
    char err[CTL_ERRMSG])
{
	json_t	*v = json_object_get(o, k);
	size_t	 n;

	*out = NULL;
	if (v == NULL) {
		if (!required)
			return 0;
		msgf(err, CTL_ERRMSG, "missing member '%s'", k);
		return CAJA_EINVAL;
	}
	if (!json_is_string(v)) {
		msgf(err, CTL_ERRMSG, "member '%s' must be a string", k);
		return CAJA_EINVAL;
	}
	n = json_string_length(v);
	if (n == 0 || n > CTL_STR_MAX) {
		msgf(err, CTL_ERRMSG, "member '%s' must have 1..%d bytes",
		    k, CTL_STR_MAX);
		return CAJA_EINVAL;
	}
	*out = json_string_value(v);
	return 0;
}

static int
get_u64(json_t *o, const char *k, uint64_t *out, char err[CTL_ERRMSG])
{
	json_t	*v = json_object_get(o, k);

	*out = 0;
	if (v == NULL)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		msgf(err, CTL_ERRMSG, "member '%s' must be an integer "
		    ">= 0", k);
		return CAJA_EINVAL;
	}
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

/* One {"type","payload"}: known user type, payload valid for it. */
static int
check_event(const char *tname, json_t *payload, struct ctl_event *ev,
    char err[CTL_ERRMSG])
{
	char		entity[EVENT_ENTITY_MAX + 1];
	char		msg[SCHEMA_ERRMSG];
	struct buf	b;
	int		t, rc;

	t = event_type_from_name(tname);
	if (t == EV_NONE) {
		msgf(err, CTL_ERRMSG, "unknown event type '%.64s'", tname);
		return CAJA_ETYPE;
	}
	switch (t) {
	case EV_DEVICE_ENROLLED:
	case EV_DEVICE_INVITED:
	case EV_DEVICE_REVOKED:
	case EV_CONFLICT_RESOLVED:
		msgf(err, CTL_ERRMSG, "event type '%s' is written by the "
		    "agent itself (cajactl join/invite/revoke/resolve), not "
		    "appended", tname);
		return CAJA_ETYPE;
	}
	if (!json_is_object(payload)) {
		msgf(err, CTL_ERRMSG, "%s: payload must be a JSON object",
		    tname);
		return CAJA_EFIELD;
	}
	buf_init(&b, EVENT_PAYLOAD_MAX);
	msg[0] = '\0';
	rc = schema_from_json(t, payload, &b, entity, msg);
	buf_reset(&b);
	if (rc != 0) {
		msgf(err, CTL_ERRMSG, "%s: %s", tname,
		    msg[0] ? msg : err_str(rc));
		return rc == CAJA_ENOMEM ? rc : (rc == CAJA_ETYPE ? rc :
		    CAJA_EFIELD);
	}
	ev->type = t;
	ev->type_name = tname;
	ev->payload = payload;
	return 0;
}

static int
decode_event_obj(json_t *e, int strict, struct ctl_event *ev,
    char err[CTL_ERRMSG])
{
	const char	*k;
	json_t		*v, *t;

	if (!json_is_object(e)) {
		msgf(err, CTL_ERRMSG, "not a JSON object");
		return CAJA_EINVAL;
	}
	json_object_foreach(e, k, v) {
		if (strict && strcmp(k, "type") != 0 && strcmp(k, "payload") != 0) {
			msgf(err, CTL_ERRMSG, "unknown member '%.64s' "
			    "(expected type and payload)", k);
			return CAJA_EINVAL;
		}
	}
	t = json_object_get(e, "type");
	if (!json_is_string(t)) {
		msgf(err, CTL_ERRMSG, "member 'type' missing or not a "
		    "string");
		return CAJA_EINVAL;
	}
	if (json_object_get(e, "payload") == NULL) {
		msgf(err, CTL_ERRMSG, "%s: missing member 'payload'",
		    json_string_value(t));
		return CAJA_EFIELD;
	}
	return check_event(json_string_value(t), json_object_get(e, "payload"),
	    ev, err);
}

int
ctl_request_decode(const void *buf, size_t len, struct ctl_request *out,
    long *bad_index, char err[CTL_ERRMSG])
{
	json_error_t	 jerr;
	json_t		*root = NULL, *c, *v, *arr;
	const char	*k, *cs;
	char		 sub[CTL_ERRMSG];
	size_t		 i, n;
	int		 rc = CAJA_EINVAL, cmd;

	memset(out, 0, sizeof(*out));
	if (bad_index != NULL)
		*bad_index = -1;
	err[0] = '\0';
	if (len > CTL_MSG_MAX) {
		msgf(err, CTL_ERRMSG, "request larger than %d bytes",
		    CTL_MSG_MAX);
		return CAJA_ETOOBIG;
	}
	if (len == 0) {
		msgf(err, CTL_ERRMSG, "empty request");
		return CAJA_EDECODE;
	}
	if (!depth_ok(buf, len, CTL_DEPTH_MAX)) {
		msgf(err, CTL_ERRMSG, "request nested deeper than %d",
		    CTL_DEPTH_MAX);
		return CAJA_ETOOBIG;
	}
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		msgf(err, CTL_ERRMSG, "malformed JSON at byte %d: %s",
		    jerr.position, jerr.text);
		return CAJA_EDECODE;
	}
	if (!json_is_object(root)) {
		msgf(err, CTL_ERRMSG, "request must be a JSON object");
		rc = CAJA_EINVAL;
		goto fail;
	}
	out->root = root;
	c = json_object_get(root, "cmd");
	if (!json_is_string(c)) {
		msgf(err, CTL_ERRMSG, "missing member 'cmd' (a string)");
		goto fail;
	}
	cs = json_string_value(c);
	for (cmd = CTL_NONE + 1; cmd < CTL_CMD_MAX; cmd++)
		if (strcmp(cs, cmd_names[cmd]) == 0)
			break;
	if (cmd == CTL_CMD_MAX) {
		msgf(err, CTL_ERRMSG, "unknown cmd '%.64s'", cs);
		goto fail;
	}
	out->cmd = cmd;
	v = json_object_get(root, "id");
	if (v != NULL) {
		if (!json_is_string(v) && !json_is_integer(v)) {
			msgf(err, CTL_ERRMSG, "member 'id' must be a string "
			    "or an integer");
			goto fail;
		}
		if (json_is_string(v) && json_string_length(v) > 128) {
			msgf(err, CTL_ERRMSG, "member 'id' too long");
			goto fail;
		}
		out->id = v;
	}
	json_object_foreach(root, k, v) {
		if (!key_allowed(cmd_keys(cmd), k)) {
			msgf(err, CTL_ERRMSG, "%s: unknown member '%.64s'",
			    cs, k);
			goto fail;
		}
	}

	switch (cmd) {
	case CTL_APPEND:
		if ((out->events = calloc(1, sizeof(*out->events))) == NULL) {
			rc = CAJA_ENOMEM;
			msgf(err, CTL_ERRMSG, "out of memory");
			goto fail;
		}
		if ((rc = decode_event_obj(root, 0, &out->events[0], err)) != 0)
			goto fail;
		out->nevents = 1;
		break;
	case CTL_APPEND_BATCH:
		arr = json_object_get(root, "events");
		if (!json_is_array(arr)) {
			msgf(err, CTL_ERRMSG, "missing member 'events' "
			    "(an array)");
			goto fail;
		}
		n = json_array_size(arr);
		if (n == 0 || n > CTL_BATCH_EVENTS_MAX) {
			msgf(err, CTL_ERRMSG, "'events' must hold 1..%d "
			    "events", CTL_BATCH_EVENTS_MAX);
			rc = n ? CAJA_ETOOBIG : CAJA_EINVAL;
			goto fail;
		}
		if ((out->events = calloc(n, sizeof(*out->events))) == NULL) {
			rc = CAJA_ENOMEM;
			msgf(err, CTL_ERRMSG, "out of memory");
			goto fail;
		}
		for (i = 0; i < n; i++) {
			rc = decode_event_obj(json_array_get(arr, i), 1,
			    &out->events[i], sub);
			if (rc != 0) {
				msgf(err, CTL_ERRMSG, "event %zu: %s", i,
				    sub);
				if (bad_index != NULL)
					*bad_index = (long)i;
				goto fail;
			}
		}
		out->nevents = n;
		break;
	case CTL_INVITE:
		if ((rc = get_str(root, "role", 0, &out->role, err)) != 0 ||
		    (rc = get_u64(root, "ttl_ms", &out->ttl_ms, err)) != 0 ||
		    (rc = get_u64(root, "expires_ms", &out->expires_ms,
		    err)) != 0)
			goto fail;
		if (out->ttl_ms && out->expires_ms) {
			msgf(err, CTL_ERRMSG, "give ttl_ms or expires_ms, "
			    "not both");
			rc = CAJA_EINVAL;
			goto fail;
		}
		break;
	case CTL_REVOKE:
		if ((rc = get_str(root, "device", 1, &out->device, err)) != 0 ||
		    (rc = get_str(root, "reason", 0, &out->reason, err)) != 0)
			goto fail;
		break;
	case CTL_RESOLVE:
		if ((rc = get_str(root, "conflict", 1, &out->conflict,
		    err)) != 0 ||
		    (rc = get_str(root, "by", 0, &out->by, err)) != 0)
			goto fail;
		if ((out->value = json_object_get(root, "value")) == NULL ||
		    json_is_null(out->value)) {
			msgf(err, CTL_ERRMSG, "missing member 'value'");
			rc = CAJA_EINVAL;
			goto fail;
		}
		break;
	case CTL_IMPORT:
		if ((rc = get_str(root, "path", 1, &out->path, err)) != 0)
			goto fail;
		if (out->path[0] != '/') {
			msgf(err, CTL_ERRMSG, "import: path must be "
			    "absolute");
			rc = CAJA_EINVAL;
			goto fail;
		}
		break;
	default:
		break;
	}
	return 0;
fail:
	if (out->root == NULL)
		json_decref(root);
	ctl_request_reset(out);
	if (rc == 0)
		rc = CAJA_EINVAL;
	return rc;
}

json_t *
ctl_reply_error(int code, const char *msg, json_t *id)
{
	json_t	*r;

	r = json_pack("{s:b, s:s, s:i, s:s}", "ok", 0, "error", msg, "code",
	    code, "reason", err_str(code));
	if (r != NULL && id != NULL)
		(void)json_object_set(r, "id", id);
	return r;
}

json_t *
ctl_reply_ok(json_t *id)
{
	json_t	*r;

	r = json_pack("{s:b}", "ok", 1);
	if (r != NULL && id != NULL)
		(void)json_object_set(r, "id", id);
	return r;
}

int
ctl_path(char *out, size_t cap, const char *dir, const char *name)
{
	int	n;

	n = snprintf(out, cap, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= cap)
		return CAJA_ETOOBIG;
	return 0;
}

int
ctl_listen(void *zctx, const char *dir, void **sockp, char err[CTL_ERRMSG])
{
	char		 path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char		 ep[sizeof(path) + 8];
	void		*s = NULL;
	int64_t		 maxsz = CTL_MSG_MAX;
	int		 linger = 0, rc = CAJA_EIO;
	mode_t		 old;

	*sockp = NULL;
	if (ctl_path(path, sizeof(path), dir, CTL_SOCK_NAME)) {
		msgf(err, CTL_ERRMSG, "%s/%s: path too long for a unix "
		    "socket (max %zu)", dir, CTL_SOCK_NAME, sizeof(path) - 1);
		return CAJA_ETOOBIG;
	}
	snprintf(ep, sizeof(ep), "ipc://%s", path);
	/* We hold the dir lock: a socket file left here is stale. */
	if (unlink(path) == -1 && errno != ENOENT) {
		msgf(err, CTL_ERRMSG, "unlink %s: %s", path,
		    strerror(errno));
		return CAJA_EIO;
	}
	if ((s = zmq_socket(zctx, ZMQ_ROUTER)) == NULL)
		goto zfail;
	if (zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxsz, sizeof(maxsz)) == -1 ||
	    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger)) == -1)
		goto zfail;
	old = umask(0077);
	if (zmq_bind(s, ep) == -1) {
		umask(old);
		goto zfail;
	}
	umask(old);
	if (chmod(path, 0600) == -1) {
		msgf(err, CTL_ERRMSG, "chmod %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	*sockp = s;
	return 0;
zfail:
	msgf(err, CTL_ERRMSG, "control socket %s: %s", ep,
	    zmq_strerror(zmq_errno()));
fail:
	if (s != NULL)
		zmq_close(s);
	return rc;
}

int
ctl_agent_running(const char *dir, long *pid)
{
	char	path[PATH_MAX], buf[32];
	ssize_t	n;
	int	fd, running = 0;

	if (pid != NULL)
		*pid = 0;
	if (ctl_path(path, sizeof(path), dir, CTL_LOCK_NAME))
		return 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK)
			running = 1;
	} else
		(void)flock(fd, LOCK_UN);
	close(fd);
	if (running && pid != NULL &&
	    !ctl_path(path, sizeof(path), dir, CTL_PID_NAME) &&
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) != -1) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0) {
			buf[n] = '\0';
			*pid = strtol(buf, NULL, 10);
		}
	}
	return running;
}

#define CTL_SLICE_MS	100

int
ctl_call(const char *dir, const json_t *req, int timeout_ms, json_t **reply,
    char err[CTL_ERRMSG])
{
	char		 path[PATH_MAX], ep[PATH_MAX + 8];
	char		*txt = NULL;
	void		*ctx = NULL, *s = NULL;
	zmq_msg_t	 msg;
	zmq_pollitem_t	 pi;
	json_error_t	 jerr;
	json_t		*r;
	long		 pid0, pid;
	int		 linger = 0, waited = 0, rc = CAJA_EIO, n, msginit = 0;
	int64_t		 maxsz = 64 * 1024 * 1024;

	*reply = NULL;
	if (ctl_path(path, sizeof(path), dir, CTL_SOCK_NAME)) {
		msgf(err, CTL_ERRMSG, "dir path too long");
		return CAJA_ETOOBIG;
	}
	if (!ctl_agent_running(dir, &pid0)) {
		msgf(err, CTL_ERRMSG, "agent not running (%s)", path);
		return CAJA_ENOAGENT;
	}
	snprintf(ep, sizeof(ep), "ipc://%s", path);
	if ((txt = json_dumps(req, JSON_COMPACT)) == NULL) {
		msgf(err, CTL_ERRMSG, "out of memory");
		return CAJA_ENOMEM;
	}
	if ((ctx = zmq_ctx_new()) == NULL ||
	    (s = zmq_socket(ctx, ZMQ_REQ)) == NULL ||
	    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger)) == -1 ||
	    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxsz, sizeof(maxsz)) == -1 ||
	    zmq_connect(s, ep) == -1 ||
	    zmq_send(s, txt, strlen(txt), 0) == -1) {
		msgf(err, CTL_ERRMSG, "%s: %s", ep,
		    zmq_strerror(zmq_errno()));
		goto out;
	}
	pi.socket = s;
	pi.fd = -1;
	pi.events = ZMQ_POLLIN;
	for (;;) {
		pi.revents = 0;
		n = zmq_poll(&pi, 1, CTL_SLICE_MS);
		if (n == -1 && zmq_errno() == EINTR)
			continue;
		if (n == -1) {
			msgf(err, CTL_ERRMSG, "%s: %s", ep,
			    zmq_strerror(zmq_errno()));
			goto out;
		}
		if (n > 0)
			break;
		waited += CTL_SLICE_MS;
		if (!ctl_agent_running(dir, &pid) ||
		    (pid0 != 0 && pid != 0 && pid != pid0)) {
			msgf(err, CTL_ERRMSG, "agent stopped before "
			    "replying (%s); the request may not have been "
			    "applied", path);
			rc = CAJA_ENOAGENT;
			goto out;
		}
		if (pid0 == 0)
			pid0 = pid;
		if (timeout_ms > 0 && waited >= timeout_ms) {
			msgf(err, CTL_ERRMSG, "agent not responding after "
			    "%d ms (%s)", timeout_ms, path);
			rc = CAJA_EAGAIN;
			goto out;
		}
	}
	zmq_msg_init(&msg);
	msginit = 1;
	if (zmq_msg_recv(&msg, s, 0) == -1) {
		msgf(err, CTL_ERRMSG, "%s: %s", ep,
		    zmq_strerror(zmq_errno()));
		goto out;
	}
	r = json_loadb(zmq_msg_data(&msg), zmq_msg_size(&msg), 0, &jerr);
	if (r == NULL || !json_is_object(r)) {
		json_decref(r);
		msgf(err, CTL_ERRMSG, "malformed reply from the agent");
		rc = CAJA_EDECODE;
		goto out;
	}
	*reply = r;
	rc = 0;
out:
	if (msginit)
		zmq_msg_close(&msg);
	free(txt);
	if (s != NULL)
		zmq_close(s);
	if (ctx != NULL)
		zmq_ctx_term(ctx);
	return rc;
}
