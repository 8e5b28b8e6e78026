/*
 * disco: mDNS/DNS-SD discovery through avahi-daemon, on an AvahiThreadedPoll
 * thread. See disco.h for the contract.
 *
 * Everything below the public functions runs on disco's thread with the
 * poll lock held (Avahi calls its callbacks that way), except the first
 * client creation, which disco_new() does before starting the thread. The
 * public functions that touch Avahi state take the lock. The PAIR socket
 * is only used with the lock held, so its use moves between threads only
 * across a mutex (the memory barrier ZeroMQ asks for).
 *
 * The peer table holds one entry per service instance the browser reported
 * (interface, name) that is ours to care about: unresolved yet, or resolved
 * to a device of our store. Services of other stores and our own are
 * dropped once resolved. An entry keeps its resolver, so a change of
 * address or port is a new resolution and a new UP. When the client is
 * freed (daemon gone), entries become stale; the new browser's NEW makes
 * them fresh again, and its first ALL_FOR_NOW drops those that did not
 * come back.
 */
#include <sys/types.h>
#include <sys/time.h>

#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-client/publish.h>
#include <avahi-common/address.h>
#include <avahi-common/alternative.h>
#include <avahi-common/domain.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/strlst.h>
#include <avahi-common/thread-watch.h>
#include <avahi-common/timeval.h>
#include <zmq.h>

#include "agent/disco.h"

/* IPv4 only: publish, browse and resolve (see disco.h). */
#define DISCO_PROTO		AVAHI_PROTO_INET
#define DISCO_LOG_LINE		512
/* Renames in a row before giving up. */
#define DISCO_COLLISIONS_MAX	32
#define DISCO_STATE_UNSET	(-1)

struct disco_peer {
	int			 used;
	/* device_id, endpoint set; seen before the last reconnection. */
	int			 resolved;
	int			 stale;
	AvahiIfIndex		 iface;
	AvahiServiceResolver	*resolver;
	char			 name[DISCO_NAME_MAX];
	char			 device_id[DISCO_ID_HEX_MAX + 1];
	char			 endpoint[DISCO_ENDPOINT_MAX];
};

struct disco {
	/* Set by disco_new(), read-only afterwards. */
	char			 store_id[DISCO_ID_HEX_MAX + 1];
	char			 device_id[DISCO_ID_HEX_MAX + 1];
	/* "": the daemon's host name. */
	char			 host[AVAHI_DOMAIN_NAME_MAX];
	AvahiIfIndex		 iface;
	uint16_t		 port;
	disco_log_fn		*log;
	void			*log_arg;
	AvahiThreadedPoll	*poll;
	int			 started;

	/* Under the poll lock. */
	void			*pipe;
	AvahiClient		*client;
	AvahiEntryGroup		*group;
	AvahiServiceBrowser	*browser;
	AvahiStringList		*txt;
	AvahiTimeout		*restart_timer;
	AvahiTimeout		*resolve_timer;
	int			 resolve_armed;
	unsigned		 retry_ms;	/* next reconnection delay */
	unsigned		 connect_failures;
	int			 collisions;
	int			 sweep_pending;
	int			 table_full_logged;
	uint64_t		 dropped;
	char			 name[DISCO_NAME_MAX];
	struct disco_peer	 peers[DISCO_PEERS_MAX];

	/* enum disco_state or DISCO_STATE_UNSET; read by any thread. */
	_Atomic int		 state;
};

static void	dlog(struct disco *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static void	client_cb(AvahiClient *, AvahiClientState, void *);
static void	schedule_restart(struct disco *);

static void
dlog(struct disco *d, int level, const char *fmt, ...)
{
	char	line[DISCO_LOG_LINE];
	va_list	ap;
	int	n;

	if (d->log == NULL)
		return;
	n = snprintf(line, sizeof(line), "disco: ");
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	d->log(d->log_arg, level, line);
}

/* min..max lowercase hex digits, NUL-terminated. */
static int
is_hex_id(const char *s)
{
	size_t	i;

	if (s == NULL)
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= DISCO_ID_HEX_MAX)
			return 0;
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	}
	return i >= DISCO_ID_HEX_MIN;
}

/* "tcp://HOST:PORT": HOST printable, no spaces; PORT 1..65535. */
static int
is_endpoint(const char *s)
{
	const char	*host, *colon, *p;
	unsigned long	 port;
	size_t		 len;

	if (s == NULL)
		return 0;
	len = strnlen(s, DISCO_ENDPOINT_MAX);
	if (len >= DISCO_ENDPOINT_MAX || strncmp(s, "tcp://", 6) != 0)
		return 0;
	host = s + 6;
	if ((colon = strrchr(host, ':')) == NULL || colon == host)
		return 0;
	for (p = host; p < colon; p++)
		if (*p <= ' ' || *p > '~')
			return 0;
	p = colon + 1;
	if (*p < '1' || *p > '9')
		return 0;
	port = 0;
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return 0;
		port = port * 10 + (unsigned long)(*p - '0');
		if (port > 65535)
			return 0;
	}
	return 1;
}

const char *
disco_state_name(enum disco_state st)
{
	switch (st) {
	case DISCO_STATE_CONNECTING:
		return "connecting";
	case DISCO_STATE_RUNNING:
		return "running";
	}
	return "unknown";
}

int
disco_event_encode(const struct disco_event *ev, char buf[DISCO_EVENT_MAX],
    size_t *len)
{
	int	n;

	*len = 0;
	switch (ev->type) {
	case DISCO_EV_UP:
		if (!is_hex_id(ev->device_id) || !is_hex_id(ev->store_id) ||
		    !is_endpoint(ev->endpoint))
			return CAJA_EINVAL;
		n = snprintf(buf, DISCO_EVENT_MAX, "UP %s %s %s",
		    ev->device_id, ev->store_id, ev->endpoint);
		break;
	case DISCO_EV_DOWN:
		if (!is_hex_id(ev->device_id))
			return CAJA_EINVAL;
		n = snprintf(buf, DISCO_EVENT_MAX, "DOWN %s", ev->device_id);
		break;
	case DISCO_EV_STATE:
		if (ev->state != DISCO_STATE_CONNECTING &&
		    ev->state != DISCO_STATE_RUNNING)
			return CAJA_EINVAL;
		n = snprintf(buf, DISCO_EVENT_MAX, "STATE %s",
		    disco_state_name(ev->state));
		break;
	default:
		return CAJA_EINVAL;
	}
	if (n < 0 || n >= DISCO_EVENT_MAX)
		return CAJA_EINVAL;
	*len = (size_t)n;
	return 0;
}

int
disco_event_decode(const void *buf, size_t len, struct disco_event *ev)
{
	char	 s[DISCO_EVENT_MAX + 1];
	char	*tok[4], *p, *sp;
	size_t	 i, n;

	memset(ev, 0, sizeof(*ev));
	if (buf == NULL || len == 0 || len > DISCO_EVENT_MAX)
		goto bad;
	memcpy(s, buf, len);
	s[len] = '\0';
	/* Printable ASCII only; this also refuses embedded NULs. */
	for (i = 0; i < len; i++)
		if (s[i] < ' ' || s[i] > '~')
			goto bad;
	n = 0;
	for (p = s;; p = sp + 1) {
		if (n == 4 || *p == '\0')
			goto bad;	/* too many tokens, or an empty one */
		tok[n++] = p;
		if ((sp = strchr(p, ' ')) == NULL)
			break;
		*sp = '\0';
	}
	if (strcmp(tok[0], "UP") == 0 && n == 4) {
		if (!is_hex_id(tok[1]) || !is_hex_id(tok[2]) ||
		    !is_endpoint(tok[3]))
			goto bad;
		ev->type = DISCO_EV_UP;
		memcpy(ev->device_id, tok[1], strlen(tok[1]) + 1);
		memcpy(ev->store_id, tok[2], strlen(tok[2]) + 1);
		memcpy(ev->endpoint, tok[3], strlen(tok[3]) + 1);
	} else if (strcmp(tok[0], "DOWN") == 0 && n == 2) {
		if (!is_hex_id(tok[1]))
			goto bad;
		ev->type = DISCO_EV_DOWN;
		memcpy(ev->device_id, tok[1], strlen(tok[1]) + 1);
	} else if (strcmp(tok[0], "STATE") == 0 && n == 2) {
		ev->type = DISCO_EV_STATE;
		if (strcmp(tok[1], "connecting") == 0)
			ev->state = DISCO_STATE_CONNECTING;
		else if (strcmp(tok[1], "running") == 0)
			ev->state = DISCO_STATE_RUNNING;
		else
			goto bad;
	} else
		goto bad;
	return 0;
bad:
	memset(ev, 0, sizeof(*ev));
	return CAJA_EDECODE;
}

/* Queues one event for the main loop; never blocks (drops when full). */
static void
send_event(struct disco *d, const struct disco_event *ev)
{
	char	buf[DISCO_EVENT_MAX];
	size_t	len;

	if (disco_event_encode(ev, buf, &len) != 0) {
		dlog(d, DISCO_LOG_ERROR, "cannot encode event type %d",
		    (int)ev->type);
		return;
	}
	if (zmq_send(d->pipe, buf, len, ZMQ_DONTWAIT) < 0) {
		int	zerr = zmq_errno();

		/* Main loop not reading: mDNS is only a hint, drop. */
		if (d->dropped++ % 100 == 0)
			dlog(d, DISCO_LOG_WARN, "main loop not reading, "
			    "dropped %llu event(s): %s",
			    (unsigned long long)d->dropped, zmq_strerror(zerr));
		return;
	}
	dlog(d, DISCO_LOG_DEBUG, "-> %.*s", (int)len, buf);
}

static void
set_state(struct disco *d, enum disco_state st)
{
	struct disco_event	ev;

	if (atomic_exchange(&d->state, (int)st) == (int)st)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.type = DISCO_EV_STATE;
	ev.state = st;
	send_event(d, &ev);
}

static void
send_down(struct disco *d, const char *device_id)
{
	struct disco_event	ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = DISCO_EV_DOWN;
	memcpy(ev.device_id, device_id, strlen(device_id) + 1);
	dlog(d, DISCO_LOG_INFO, "peer %s gone", device_id);
	send_event(d, &ev);
}

static struct disco_peer *
peer_find(struct disco *d, AvahiIfIndex iface, const char *name)
{
	size_t	i;

	for (i = 0; i < DISCO_PEERS_MAX; i++)
		if (d->peers[i].used && d->peers[i].iface == iface &&
		    strcmp(d->peers[i].name, name) == 0)
			return &d->peers[i];
	return NULL;
}

/* 1 when another resolved entry still stands for device_id. */
static int
device_is_listed(struct disco *d, const char *device_id)
{
	size_t	i;

	for (i = 0; i < DISCO_PEERS_MAX; i++)
		if (d->peers[i].used && d->peers[i].resolved &&
		    strcmp(d->peers[i].device_id, device_id) == 0)
			return 1;
	return 0;
}

/* Forgets an entry; DOWN when it was the device's last one. */
static void
peer_drop(struct disco *d, struct disco_peer *p)
{
	char	device_id[DISCO_ID_HEX_MAX + 1];
	int	was_resolved;

	was_resolved = p->resolved;
	memcpy(device_id, p->device_id, sizeof(device_id));
	if (p->resolver != NULL)
		avahi_service_resolver_free(p->resolver);
	memset(p, 0, sizeof(*p));
	if (was_resolved && !device_is_listed(d, device_id))
		send_down(d, device_id);
}

/* Copies TXT value of key into out; CAJA_ENOTFOUND, CAJA_EDECODE. */
static int
txt_get(AvahiStringList *txt, const char *key, char *out, size_t outlen)
{
	AvahiStringList	*l;
	char		*k = NULL, *v = NULL;
	size_t		 size = 0;
	int		 rc = CAJA_EDECODE;

	if ((l = avahi_string_list_find(txt, key)) == NULL)
		return CAJA_ENOTFOUND;
	if (avahi_string_list_get_pair(l, &k, &v, &size) < 0)
		return CAJA_ENOMEM;
	if (v == NULL || size >= outlen || strlen(v) != size)
		goto out;
	memcpy(out, v, size + 1);
	rc = 0;
out:
	avahi_free(k);
	avahi_free(v);
	return rc;
}

static void
resolve_cb(AvahiServiceResolver *r, AvahiIfIndex iface, AvahiProtocol proto,
    AvahiResolverEvent event, const char *name, const char *type,
    const char *domain, const char *host, const AvahiAddress *a,
    uint16_t port, AvahiStringList *txt, AvahiLookupResultFlags flags,
    void *arg)
{
	struct disco		*d = arg;
	struct disco_peer	*p;
	struct disco_event	 ev;
	char			 addr[AVAHI_ADDRESS_STR_MAX];
	char			 ver[8], store[DISCO_ID_HEX_MAX + 1];
	char			 device[DISCO_ID_HEX_MAX + 1];
	char			 endpoint[DISCO_ENDPOINT_MAX];
	int			 n;

	if ((p = peer_find(d, iface, name)) == NULL || p->resolver != r) {
		/* Not ours any more (cannot happen: we free on drop). */
		avahi_service_resolver_free(r);
		return;
	}
	if (event != AVAHI_RESOLVER_FOUND) {
		dlog(d, DISCO_LOG_DEBUG, "cannot resolve '%s': %s", name,
		    avahi_strerror(avahi_client_errno(d->client)));
		avahi_service_resolver_free(r);
		p->resolver = NULL;
		if (!p->resolved && !d->resolve_armed) {
			struct timeval	tv;

			avahi_threaded_poll_get(d->poll)->timeout_update(
			    d->resolve_timer, avahi_elapse_time(&tv,
			    DISCO_RESOLVE_RETRY_MS, 0));
			d->resolve_armed = 1;
		}
		return;
	}

	/* Untrusted: another host's TXT record. */
	if (txt_get(txt, "v", ver, sizeof(ver)) != 0 ||
	    strcmp(ver, DISCO_TXT_VERSION) != 0 ||
	    txt_get(txt, "store", store, sizeof(store)) != 0 ||
	    txt_get(txt, "device", device, sizeof(device)) != 0 ||
	    !is_hex_id(store) || !is_hex_id(device)) {
		dlog(d, DISCO_LOG_DEBUG, "ignoring '%s': no caja v%s TXT",
		    name, DISCO_TXT_VERSION);
		goto drop;
	}
	if (strcmp(store, d->store_id) != 0 ||
	    strcmp(device, d->device_id) == 0)
		goto drop;	/* another store's agent, or ourselves */
	if (a == NULL || a->proto != AVAHI_PROTO_INET || port == 0) {
		dlog(d, DISCO_LOG_DEBUG, "ignoring '%s': no IPv4 address",
		    name);
		goto drop;
	}
	avahi_address_snprint(addr, sizeof(addr), a);
	n = snprintf(endpoint, sizeof(endpoint), "tcp://%s:%u", addr,
	    (unsigned)port);
	if (n < 0 || (size_t)n >= sizeof(endpoint) || !is_endpoint(endpoint))
		goto drop;

	if (p->resolved && strcmp(p->device_id, device) == 0 &&
	    strcmp(p->endpoint, endpoint) == 0)
		return;		/* nothing new */
	if (p->resolved && strcmp(p->device_id, device) != 0) {
		/* The name now stands for another device. */
		char	old[DISCO_ID_HEX_MAX + 1];

		memcpy(old, p->device_id, sizeof(old));
		p->resolved = 0;
		if (!device_is_listed(d, old))
			send_down(d, old);
	}
	memcpy(p->device_id, device, strlen(device) + 1);
	memcpy(p->endpoint, endpoint, strlen(endpoint) + 1);
	p->resolved = 1;
	dlog(d, DISCO_LOG_INFO, "peer %s at %s ('%s' on %s)", device,
	    endpoint, name, host);
	memset(&ev, 0, sizeof(ev));
	ev.type = DISCO_EV_UP;
	memcpy(ev.device_id, device, strlen(device) + 1);
	memcpy(ev.store_id, store, strlen(store) + 1);
	memcpy(ev.endpoint, endpoint, strlen(endpoint) + 1);
	send_event(d, &ev);
	return;
drop:
	peer_drop(d, p);	/* frees r */
}

static void
start_resolve(struct disco *d, struct disco_peer *p, const char *domain)
{
	p->resolver = avahi_service_resolver_new(d->client, p->iface,
	    DISCO_PROTO, p->name, DISCO_SERVICE_TYPE, domain, DISCO_PROTO, 0,
	    resolve_cb, d);
	if (p->resolver == NULL)
		dlog(d, DISCO_LOG_WARN, "cannot resolve '%s': %s", p->name,
		    avahi_strerror(avahi_client_errno(d->client)));
}

static void
resolve_retry_cb(AvahiTimeout *t, void *arg)
{
	struct disco	*d = arg;
	size_t		 i;

	d->resolve_armed = 0;
	if (d->client == NULL ||
	    avahi_client_get_state(d->client) != AVAHI_CLIENT_S_RUNNING)
		return;		/* a new browser reports them again */
	for (i = 0; i < DISCO_PEERS_MAX; i++) {
		struct disco_peer	*p = &d->peers[i];

		if (p->used && !p->resolved && !p->stale &&
		    p->resolver == NULL)
			start_resolve(d, p, NULL);
	}
}

static void
browse_cb(AvahiServiceBrowser *b, AvahiIfIndex iface, AvahiProtocol proto,
    AvahiBrowserEvent event, const char *name, const char *type,
    const char *domain, AvahiLookupResultFlags flags, void *arg)
{
	struct disco		*d = arg;
	struct disco_peer	*p;
	size_t			 i;

	dlog(d, DISCO_LOG_DEBUG, "browse: %s '%s' if %d",
	    event == AVAHI_BROWSER_NEW ? "new" :
	    event == AVAHI_BROWSER_REMOVE ? "remove" :
	    event == AVAHI_BROWSER_ALL_FOR_NOW ? "all-for-now" :
	    event == AVAHI_BROWSER_CACHE_EXHAUSTED ? "cache-exhausted" :
	    "failure", name != NULL ? name : "", (int)iface);
	switch (event) {
	case AVAHI_BROWSER_NEW:
		if (strlen(name) >= DISCO_NAME_MAX)
			return;
		if ((p = peer_find(d, iface, name)) == NULL) {
			for (i = 0; i < DISCO_PEERS_MAX; i++)
				if (!d->peers[i].used)
					break;
			if (i == DISCO_PEERS_MAX) {
				if (!d->table_full_logged)
					dlog(d, DISCO_LOG_WARN, "more than %d "
					    "%s services: ignoring '%s'",
					    DISCO_PEERS_MAX,
					    DISCO_SERVICE_TYPE, name);
				d->table_full_logged = 1;
				return;
			}
			p = &d->peers[i];
			p->used = 1;
			p->iface = iface;
			memcpy(p->name, name, strlen(name) + 1);
		}
		p->stale = 0;
		if (p->resolver == NULL)
			start_resolve(d, p, domain);
		break;
	case AVAHI_BROWSER_REMOVE:
		if ((p = peer_find(d, iface, name)) != NULL) {
			peer_drop(d, p);
			d->table_full_logged = 0;
		}
		break;
	case AVAHI_BROWSER_ALL_FOR_NOW:
		if (!d->sweep_pending)
			break;
		d->sweep_pending = 0;
		for (i = 0; i < DISCO_PEERS_MAX; i++)
			if (d->peers[i].used && d->peers[i].stale)
				peer_drop(d, &d->peers[i]);
		break;
	case AVAHI_BROWSER_CACHE_EXHAUSTED:
		break;
	case AVAHI_BROWSER_FAILURE:
		dlog(d, DISCO_LOG_WARN, "browser failed: %s; reconnecting",
		    avahi_strerror(avahi_client_errno(d->client)));
		schedule_restart(d);
		break;
	}
}

/* Next alternative name: "caja-x" -> "caja-x #2" -> "caja-x #3". */
static int
rename_service(struct disco *d)
{
	char	*alt;
	int	 rc = CAJA_ENOMEM;

	if ((alt = avahi_alternative_service_name(d->name)) == NULL)
		return rc;
	if (strlen(alt) < sizeof(d->name)) {
		dlog(d, DISCO_LOG_INFO, "renamed to '%s'", alt);
		memcpy(d->name, alt, strlen(alt) + 1);
		rc = 0;
	} else
		rc = CAJA_ETOOBIG;
	avahi_free(alt);
	return rc;
}

/* (Re-)registers our service: reset the group, add, commit. */
static int
register_service(struct disco *d, AvahiClient *c);

static void
group_cb(AvahiEntryGroup *g, AvahiEntryGroupState st, void *arg)
{
	struct disco	*d = arg;

	switch (st) {
	case AVAHI_ENTRY_GROUP_ESTABLISHED:
		d->collisions = 0;
		dlog(d, DISCO_LOG_INFO, "published '%s' (%s port %u)",
		    d->name, DISCO_SERVICE_TYPE, (unsigned)d->port);
		break;
	case AVAHI_ENTRY_GROUP_COLLISION:
		/* Another host has the name: take the next one. */
		dlog(d, DISCO_LOG_INFO, "name '%s' in use on the network",
		    d->name);
		if (++d->collisions > DISCO_COLLISIONS_MAX) {
			dlog(d, DISCO_LOG_ERROR, "%d name collisions in a "
			    "row: not publishing", d->collisions - 1);
			break;
		}
		if (rename_service(d) != 0) {
			dlog(d, DISCO_LOG_ERROR, "no alternative to '%s': "
			    "not publishing", d->name);
			break;
		}
		(void)register_service(d, avahi_entry_group_get_client(g));
		break;
	case AVAHI_ENTRY_GROUP_FAILURE:
		dlog(d, DISCO_LOG_WARN, "publishing '%s' failed: %s; "
		    "reconnecting", d->name, avahi_strerror(avahi_client_errno(
		    avahi_entry_group_get_client(g))));
		schedule_restart(d);
		break;
	case AVAHI_ENTRY_GROUP_UNCOMMITED:
	case AVAHI_ENTRY_GROUP_REGISTERING:
		break;
	}
}

static int
register_service(struct disco *d, AvahiClient *c)
{
	int	i, r;

	if (d->group == NULL &&
	    (d->group = avahi_entry_group_new(c, group_cb, d)) == NULL) {
		dlog(d, DISCO_LOG_ERROR, "cannot create entry group: %s",
		    avahi_strerror(avahi_client_errno(c)));
		return CAJA_EIO;
	}
	for (i = 0;; i++) {
		avahi_entry_group_reset(d->group);
		r = avahi_entry_group_add_service_strlst(d->group, d->iface,
		    DISCO_PROTO, 0, d->name, DISCO_SERVICE_TYPE, NULL,
		    d->host[0] != '\0' ? d->host : NULL, d->port, d->txt);
		if (r != AVAHI_ERR_COLLISION)
			break;
		/* A local service has the name. */
		dlog(d, DISCO_LOG_INFO, "name '%s' in use on this host",
		    d->name);
		if (i == DISCO_COLLISIONS_MAX || rename_service(d) != 0) {
			dlog(d, DISCO_LOG_ERROR, "no free name for '%s'",
			    d->name);
			return CAJA_EIO;
		}
	}
	if (r < 0 || (r = avahi_entry_group_commit(d->group)) < 0) {
		dlog(d, DISCO_LOG_ERROR, "cannot publish '%s': %s", d->name,
		    avahi_strerror(r));
		return CAJA_EIO;
	}
	dlog(d, DISCO_LOG_DEBUG, "registering '%s'", d->name);
	return 0;
}

/* Frees the client and all it owns; entries become stale. */
static void
client_stop(struct disco *d)
{
	size_t	i;

	if (d->client == NULL)
		return;
	/* Frees the group, the browser and the resolvers too. */
	avahi_client_free(d->client);
	d->client = NULL;
	d->group = NULL;
	d->browser = NULL;
	for (i = 0; i < DISCO_PEERS_MAX; i++) {
		d->peers[i].resolver = NULL;
		if (d->peers[i].used)
			d->peers[i].stale = 1;
	}
	d->sweep_pending = 1;
}

static void
client_start(struct disco *d)
{
	AvahiClient	*c;
	int		 err = 0;

	c = avahi_client_new(avahi_threaded_poll_get(d->poll),
	    AVAHI_CLIENT_NO_FAIL, client_cb, d, &err);
	d->client = c;
	if (c != NULL)
		return;
	d->group = NULL;
	d->browser = NULL;
	/* No system bus at all (NO_FAIL only covers a missing daemon). */
	dlog(d, d->connect_failures++ == 0 ? DISCO_LOG_WARN : DISCO_LOG_DEBUG,
	    "cannot reach avahi (system bus): %s; retrying",
	    avahi_strerror(err));
	set_state(d, DISCO_STATE_CONNECTING);
	schedule_restart(d);
}

static void
restart_cb(AvahiTimeout *t, void *arg)
{
	struct disco	*d = arg;

	client_stop(d);
	client_start(d);
}

/* Reconnects from a timer (never free the client inside its callbacks). */
static void
schedule_restart(struct disco *d)
{
	struct timeval	tv;

	avahi_threaded_poll_get(d->poll)->timeout_update(d->restart_timer,
	    avahi_elapse_time(&tv, d->retry_ms, 0));
	if (d->retry_ms == 0)
		d->retry_ms = DISCO_RETRY_MIN_MS;
	else if (d->retry_ms < DISCO_RETRY_MAX_MS / 2)
		d->retry_ms *= 2;
	else
		d->retry_ms = DISCO_RETRY_MAX_MS;
}

static void
client_cb(AvahiClient *c, AvahiClientState st, void *arg)
{
	struct disco	*d = arg;

	/* Called from inside avahi_client_new() too: d->client not set. */
	d->client = c;
	switch (st) {
	case AVAHI_CLIENT_S_RUNNING:
		if (d->connect_failures > 0 ||
		    atomic_load(&d->state) != DISCO_STATE_RUNNING)
			dlog(d, DISCO_LOG_INFO, "connected to avahi-daemon "
			    "(%s)", avahi_client_get_host_name_fqdn(c));
		d->connect_failures = 0;
		d->retry_ms = 0;
		/* Failure is logged; a reconnection tries again. */
		(void)register_service(d, c);
		if (d->browser == NULL) {
			d->browser = avahi_service_browser_new(c, d->iface,
			    DISCO_PROTO, DISCO_SERVICE_TYPE, NULL, 0,
			    browse_cb, d);
			if (d->browser == NULL) {
				dlog(d, DISCO_LOG_ERROR, "cannot browse %s: "
				    "%s", DISCO_SERVICE_TYPE,
				    avahi_strerror(avahi_client_errno(c)));
				schedule_restart(d);
			}
		}
		set_state(d, DISCO_STATE_RUNNING);
		break;
	case AVAHI_CLIENT_S_COLLISION:
	case AVAHI_CLIENT_S_REGISTERING:
		/* The daemon's host name changes; register on RUNNING. */
		if (d->group != NULL)
			avahi_entry_group_reset(d->group);
		break;
	case AVAHI_CLIENT_CONNECTING:
		dlog(d, DISCO_LOG_WARN, "avahi-daemon not running; waiting "
		    "for it");
		set_state(d, DISCO_STATE_CONNECTING);
		break;
	case AVAHI_CLIENT_FAILURE:
		dlog(d, DISCO_LOG_WARN, "avahi client failed: %s; reconnecting",
		    avahi_strerror(avahi_client_errno(c)));
		set_state(d, DISCO_STATE_CONNECTING);
		schedule_restart(d);
		break;
	}
}

int
disco_new(struct disco **out, void *zmq_ctx, const char *endpoint,
    const struct disco_config *cfg)
{
	struct disco	*d = NULL;
	const AvahiPoll	*api;
	char		 vtxt[16], stxt[DISCO_ID_HEX_MAX + 8];
	char		 dtxt[DISCO_ID_HEX_MAX + 8];
	int		 hwm = DISCO_QUEUE_MAX, linger = 0, n, rc;

	if (out != NULL)
		*out = NULL;
	if (out == NULL || zmq_ctx == NULL || endpoint == NULL ||
	    cfg == NULL || !is_hex_id(cfg->store_id) ||
	    !is_hex_id(cfg->device_id) || cfg->port == 0)
		return CAJA_EINVAL;
	if (cfg->name != NULL && (strlen(cfg->name) >= DISCO_NAME_MAX ||
	    !avahi_is_valid_service_name(cfg->name)))
		return CAJA_EINVAL;
	if (cfg->host != NULL && (strlen(cfg->host) >= AVAHI_DOMAIN_NAME_MAX ||
	    !avahi_is_valid_domain_name(cfg->host)))
		return CAJA_EINVAL;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return CAJA_ENOMEM;
	atomic_init(&d->state, DISCO_STATE_UNSET);
	d->log = cfg->log;
	d->log_arg = cfg->log_arg;
	d->port = cfg->port;
	d->iface = AVAHI_IF_UNSPEC;
	memcpy(d->store_id, cfg->store_id, strlen(cfg->store_id) + 1);
	memcpy(d->device_id, cfg->device_id, strlen(cfg->device_id) + 1);
	if (cfg->host != NULL)
		memcpy(d->host, cfg->host, strlen(cfg->host) + 1);
	if (cfg->name != NULL)
		memcpy(d->name, cfg->name, strlen(cfg->name) + 1);
	else
		snprintf(d->name, sizeof(d->name), "%s%.8s",
		    DISCO_NAME_PREFIX, d->device_id);
	if (cfg->ifname != NULL) {
		unsigned	idx = if_nametoindex(cfg->ifname);

		if (idx == 0 || idx > 0x7fffffff) {
			dlog(d, DISCO_LOG_ERROR, "no interface '%s'",
			    cfg->ifname);
			rc = CAJA_EINVAL;
			goto fail;
		}
		d->iface = (AvahiIfIndex)idx;
	}

	snprintf(vtxt, sizeof(vtxt), "v=%s", DISCO_TXT_VERSION);
	snprintf(stxt, sizeof(stxt), "store=%s", d->store_id);
	n = snprintf(dtxt, sizeof(dtxt), "device=%s", d->device_id);
	if (n < 0 || (size_t)n >= sizeof(dtxt)) {
		rc = CAJA_EINVAL;
		goto fail;
	}
	if ((d->txt = avahi_string_list_new(vtxt, stxt, dtxt, NULL)) == NULL) {
		rc = CAJA_ENOMEM;
		goto fail;
	}

	rc = CAJA_EIO;
	if ((d->pipe = zmq_socket(zmq_ctx, ZMQ_PAIR)) == NULL ||
	    zmq_setsockopt(d->pipe, ZMQ_SNDHWM, &hwm, sizeof(hwm)) != 0 ||
	    zmq_setsockopt(d->pipe, ZMQ_LINGER, &linger, sizeof(linger)) != 0) {
		dlog(d, DISCO_LOG_ERROR, "pipe socket: %s",
		    zmq_strerror(zmq_errno()));
		goto fail;
	}
	if (zmq_connect(d->pipe, endpoint) != 0) {
		int	zerr = zmq_errno();

		dlog(d, DISCO_LOG_ERROR, "connect %s: %s", endpoint,
		    zmq_strerror(zerr));
		rc = zerr == EINVAL || zerr == EPROTONOSUPPORT ? CAJA_EINVAL :
		    CAJA_EIO;
		goto fail;
	}

	rc = CAJA_ENOMEM;
	if ((d->poll = avahi_threaded_poll_new()) == NULL)
		goto fail;
	api = avahi_threaded_poll_get(d->poll);
	if ((d->restart_timer = api->timeout_new(api, NULL, restart_cb,
	    d)) == NULL ||
	    (d->resolve_timer = api->timeout_new(api, NULL, resolve_retry_cb,
	    d)) == NULL)
		goto fail;

	/* Before the thread starts: callbacks run here, on our thread. */
	client_start(d);
	if (atomic_load(&d->state) == DISCO_STATE_UNSET)
		set_state(d, DISCO_STATE_CONNECTING);

	if (avahi_threaded_poll_start(d->poll) < 0) {
		dlog(d, DISCO_LOG_ERROR, "cannot start thread");
		rc = CAJA_EIO;
		goto fail;
	}
	d->started = 1;
	dlog(d, DISCO_LOG_DEBUG, "started: '%s' store %s device %s port %u",
	    d->name, d->store_id, d->device_id, (unsigned)d->port);
	*out = d;
	return 0;
fail:
	disco_destroy(&d);
	return rc;
}

void
disco_destroy(struct disco **dp)
{
	struct disco	*d;
	const AvahiPoll	*api;

	if (dp == NULL || (d = *dp) == NULL)
		return;
	*dp = NULL;
	/* Joins the thread: from here on, no lock is needed. */
	if (d->started)
		avahi_threaded_poll_stop(d->poll);
	if (d->client != NULL)
		avahi_client_free(d->client);	/* withdraws the service */
	if (d->poll != NULL) {
		api = avahi_threaded_poll_get(d->poll);
		if (d->restart_timer != NULL)
			api->timeout_free(d->restart_timer);
		if (d->resolve_timer != NULL)
			api->timeout_free(d->resolve_timer);
		avahi_threaded_poll_free(d->poll);
	}
	avahi_string_list_free(d->txt);
	if (d->pipe != NULL)
		zmq_close(d->pipe);
	if (d->started)
		dlog(d, DISCO_LOG_DEBUG, "stopped '%s'", d->name);
	free(d);
}

int
disco_reannounce(struct disco *d)
{
	int	rc = 0;

	if (d == NULL)
		return CAJA_EINVAL;
	avahi_threaded_poll_lock(d->poll);
	if (d->client != NULL &&
	    avahi_client_get_state(d->client) == AVAHI_CLIENT_S_RUNNING) {
		d->collisions = 0;
		dlog(d, DISCO_LOG_DEBUG, "re-announcing '%s'", d->name);
		rc = register_service(d, d->client);
	}
	avahi_threaded_poll_unlock(d->poll);
	return rc;
}

enum disco_state
disco_get_state(struct disco *d)
{
	int	st;

	if (d == NULL)
		return DISCO_STATE_CONNECTING;
	st = atomic_load(&d->state);

	return st == DISCO_STATE_RUNNING ? DISCO_STATE_RUNNING :
	    DISCO_STATE_CONNECTING;
}

int
disco_get_name(struct disco *d, char *buf, size_t len)
{
	size_t	n;
	int	rc = 0;

	if (d == NULL || buf == NULL)
		return CAJA_EINVAL;
	avahi_threaded_poll_lock(d->poll);
	n = strlen(d->name);
	if (n >= len)
		rc = CAJA_ETOOBIG;
	else
		memcpy(buf, d->name, n + 1);
	avahi_threaded_poll_unlock(d->poll);
	return rc;
}
