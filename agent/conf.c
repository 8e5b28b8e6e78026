/*
 * conf: defaults, `key = value` file, flags, checks.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/hlc.h"
#include "store/store.h"

#include "agent/conf.h"
#include "agent/log.h"

static int
copy_str(char *dst, size_t cap, const char *src)
{
	int	n;

	n = snprintf(dst, cap, "%s", src);
	if (n < 0 || (size_t)n >= cap)
		return CAJA_ETOOBIG;
	return 0;
}

void
conf_defaults(struct conf *c)
{
	memset(c, 0, sizeof(*c));
	(void)copy_str(c->listen, sizeof(c->listen), CONF_LISTEN_DEFAULT);
	(void)copy_str(c->http, sizeof(c->http), CONF_HTTP_DEFAULT);
	c->mdns = 1;
	c->map_max = 0;
	c->max_skew_ms = HLC_MAX_SKEW_MS;
	c->log_level = LOG_LEVEL_INFO;
	c->batch_max = CONF_BATCH_DEFAULT;
	c->cloud_batch_min = CONF_CLOUD_BATCH_MIN;
	c->cloud_batch_max = CONF_CLOUD_BATCH_MAX;
	c->cloud_poll_ms = CONF_CLOUD_POLL_MS;
	c->cloud_timeout_ms = CONF_CLOUD_TIMEOUT_MS;
}

int
conf_parse_bool(const char *s, int *out)
{
	if (strcasecmp(s, "yes") == 0 || strcasecmp(s, "true") == 0 ||
	    strcasecmp(s, "on") == 0 || strcmp(s, "1") == 0) {
		*out = 1;
		return 0;
	}
	if (strcasecmp(s, "no") == 0 || strcasecmp(s, "false") == 0 ||
	    strcasecmp(s, "off") == 0 || strcmp(s, "0") == 0) {
		*out = 0;
		return 0;
	}
	return CAJA_EINVAL;
}

/* Leading decimal digits into *v; returns the rest or NULL on error. */
static const char *
parse_u64(const char *s, uint64_t *v)
{
	uint64_t	n = 0;

	if (!isdigit((unsigned char)*s))
		return NULL;
	while (isdigit((unsigned char)*s)) {
		if (n > (UINT64_MAX - 9) / 10)
			return NULL;
		n = n * 10 + (uint64_t)(*s - '0');
		s++;
	}
	*v = n;
	return s;
}

int
conf_parse_size(const char *s, uint64_t *out)
{
	uint64_t	 v, mul = 1;
	const char	*r;

	if ((r = parse_u64(s, &v)) == NULL)
		return CAJA_EINVAL;
	if (*r == '\0' || strcasecmp(r, "b") == 0)
		mul = 1;
	else if (strcasecmp(r, "k") == 0 || strcasecmp(r, "kib") == 0 ||
	    strcasecmp(r, "kb") == 0)
		mul = 1ull << 10;
	else if (strcasecmp(r, "m") == 0 || strcasecmp(r, "mib") == 0 ||
	    strcasecmp(r, "mb") == 0)
		mul = 1ull << 20;
	else if (strcasecmp(r, "g") == 0 || strcasecmp(r, "gib") == 0 ||
	    strcasecmp(r, "gb") == 0)
		mul = 1ull << 30;
	else
		return CAJA_EINVAL;
	if (v > UINT64_MAX / mul)
		return CAJA_ETOOBIG;
	*out = v * mul;
	return 0;
}

int
conf_parse_duration_ms(const char *s, uint64_t *out)
{
	uint64_t	 v, mul;
	const char	*r;

	if ((r = parse_u64(s, &v)) == NULL)
		return CAJA_EINVAL;
	if (strcmp(r, "ms") == 0)
		mul = 1;
	else if (*r == '\0' || strcmp(r, "s") == 0)
		mul = 1000;
	else if (strcmp(r, "m") == 0)
		mul = 60 * 1000;
	else if (strcmp(r, "h") == 0)
		mul = 3600 * 1000;
	else if (strcmp(r, "d") == 0)
		mul = 24 * 3600 * 1000;
	else
		return CAJA_EINVAL;
	if (v > UINT64_MAX / mul)
		return CAJA_ETOOBIG;
	*out = v * mul;
	return 0;
}

/* HOST:PORT with a port in 1..65535 and a non-empty host. */
static int
check_hostport(const char *s)
{
	const char	*colon, *r;
	uint64_t	 port;

	colon = strrchr(s, ':');
	if (colon == NULL || colon == s)
		return CAJA_EINVAL;
	if ((r = parse_u64(colon + 1, &port)) == NULL || *r != '\0' ||
	    port == 0 || port > 65535)
		return CAJA_EINVAL;
	for (r = s; r < colon; r++)
		if (isspace((unsigned char)*r))
			return CAJA_EINVAL;
	return 0;
}

int
conf_check_endpoint(const char *s)
{
	if (strncmp(s, "tcp://", 6) != 0)
		return CAJA_EINVAL;
	return check_hostport(s + 6);
}

static int
check_url(const char *s)
{
	const char	*h;

	if (strncmp(s, "http://", 7) == 0)
		h = s + 7;
	else if (strncmp(s, "https://", 8) == 0)
		h = s + 8;
	else
		return CAJA_EINVAL;
	if (*h == '\0' || *h == '/')
		return CAJA_EINVAL;
	for (; *h != '\0'; h++)
		if (isspace((unsigned char)*h) || iscntrl((unsigned char)*h))
			return CAJA_EINVAL;
	return 0;
}

int
conf_set(struct conf *c, const char *key, const char *v,
    char err[CONF_ERRMSG])
{
	uint64_t	u;
	int		b, l;

	if (strcmp(key, "dir") == 0) {
		if (*v == '\0')
			goto empty;
		if (copy_str(c->dir, sizeof(c->dir), v))
			goto toolong;
	} else if (strcmp(key, "listen") == 0) {
		if (conf_check_endpoint(v)) {
			msgf(err, CONF_ERRMSG, "listen: '%s' is not "
			    "tcp://IP:PORT", v);
			return CAJA_EINVAL;
		}
		if (copy_str(c->listen, sizeof(c->listen), v))
			goto toolong;
	} else if (strcmp(key, "peer") == 0) {
		if (conf_check_endpoint(v)) {
			msgf(err, CONF_ERRMSG, "peer: '%s' is not "
			    "tcp://IP:PORT", v);
			return CAJA_EINVAL;
		}
		if (c->npeers >= CONF_PEERS_MAX) {
			msgf(err, CONF_ERRMSG, "peer: more than %d static "
			    "peers", CONF_PEERS_MAX);
			return CAJA_ETOOBIG;
		}
		if (copy_str(c->peers[c->npeers], sizeof(c->peers[0]), v))
			goto toolong;
		c->npeers++;
	} else if (strcmp(key, "mdns") == 0) {
		if (conf_parse_bool(v, &b))
			goto notbool;
		c->mdns = b;
	} else if (strcmp(key, "foreground") == 0) {
		if (conf_parse_bool(v, &b))
			goto notbool;
		c->foreground = b;
	} else if (strcmp(key, "http") == 0) {
		if (strcmp(v, "off") != 0 && check_hostport(v)) {
			msgf(err, CONF_ERRMSG, "http: '%s' is not "
			    "IP:PORT or off", v);
			return CAJA_EINVAL;
		}
		if (copy_str(c->http, sizeof(c->http), v))
			goto toolong;
	} else if (strcmp(key, "cloud") == 0) {
		if (*v == '\0' || strcmp(v, "off") == 0) {
			c->cloud[0] = '\0';
			return 0;
		}
		if (check_url(v)) {
			msgf(err, CONF_ERRMSG, "cloud: '%s' is not an "
			    "http:// or https:// URL", v);
			return CAJA_EINVAL;
		}
		if (copy_str(c->cloud, sizeof(c->cloud), v))
			goto toolong;
	} else if (strcmp(key, "map_max") == 0) {
		if (conf_parse_size(v, &u) || u < CONF_MAP_MIN) {
			msgf(err, CONF_ERRMSG, "map_max: '%s' is not a size "
			    ">= 1M (e.g. 512M, 4G)", v);
			return CAJA_EINVAL;
		}
		c->map_max = u;
	} else if (strcmp(key, "max_skew") == 0) {
		if (conf_parse_duration_ms(v, &u) || u == 0) {
			msgf(err, CONF_ERRMSG, "max_skew: '%s' is not a "
			    "duration > 0 (e.g. 500ms, 30s, 5m)", v);
			return CAJA_EINVAL;
		}
		c->max_skew_ms = u;
	} else if (strcmp(key, "log_level") == 0) {
		if ((l = log_level_from_name(v)) < 0) {
			msgf(err, CONF_ERRMSG, "log_level: '%s' is not one "
			    "of error, warn, info, debug", v);
			return CAJA_EINVAL;
		}
		c->log_level = l;
	} else if (strcmp(key, "batch_max") == 0) {
		if (parse_u64(v, &u) == NULL || *parse_u64(v, &u) != '\0' ||
		    u < 1 || u > CONF_BATCH_MAX) {
			msgf(err, CONF_ERRMSG, "batch_max: '%s' is not a "
			    "number in 1..%d", v, CONF_BATCH_MAX);
			return CAJA_EINVAL;
		}
		c->batch_max = (int)u;
	} else if (strcmp(key, "cloud_batch_min") == 0 ||
	    strcmp(key, "cloud_batch_max") == 0) {
		if (parse_u64(v, &u) == NULL || *parse_u64(v, &u) != '\0' ||
		    u < 1 || u > CONF_CLOUD_BATCH_LIMIT) {
			msgf(err, CONF_ERRMSG, "%s: '%s' is not a number in "
			    "1..%d", key, v, CONF_CLOUD_BATCH_LIMIT);
			return CAJA_EINVAL;
		}
		if (strcmp(key, "cloud_batch_min") == 0)
			c->cloud_batch_min = (uint32_t)u;
		else
			c->cloud_batch_max = (uint32_t)u;
	} else if (strcmp(key, "cloud_poll") == 0 ||
	    strcmp(key, "cloud_timeout") == 0) {
		if (conf_parse_duration_ms(v, &u) || u < 100 ||
		    u > 3600 * 1000) {
			msgf(err, CONF_ERRMSG, "%s: '%s' is not a duration "
			    "in 100ms..1h (e.g. 2s)", key, v);
			return CAJA_EINVAL;
		}
		if (strcmp(key, "cloud_poll") == 0)
			c->cloud_poll_ms = u;
		else
			c->cloud_timeout_ms = u;
	} else {
		msgf(err, CONF_ERRMSG, "unknown key '%s'", key);
		return CAJA_EINVAL;
	}
	return 0;
empty:
	msgf(err, CONF_ERRMSG, "%s: empty value", key);
	return CAJA_EINVAL;
toolong:
	msgf(err, CONF_ERRMSG, "%s: value too long", key);
	return CAJA_ETOOBIG;
notbool:
	msgf(err, CONF_ERRMSG, "%s: '%s' is not yes or no", key, v);
	return CAJA_EINVAL;
}

static char *
trim(char *s)
{
	char	*e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int
conf_load_buf(struct conf *c, const char *name, const char *buf, size_t len,
    char err[CONF_ERRMSG])
{
	char		 line[CONF_LINE_MAX], sub[CONF_ERRMSG];
	char		*k, *v, *eq, *hash;
	size_t		 pos = 0, n, lineno = 0;
	const char	*nl;
	int		 rc;

	while (pos < len) {
		lineno++;
		nl = memchr(buf + pos, '\n', len - pos);
		n = (nl != NULL ? (size_t)(nl - (buf + pos)) : len - pos);
		if (n >= sizeof(line)) {
			msgf(err, CONF_ERRMSG, "%s:%zu: line too long",
			    name, lineno);
			return CAJA_ETOOBIG;
		}
		memcpy(line, buf + pos, n);
		line[n] = '\0';
		pos += n + (nl != NULL ? 1 : 0);
		if (memchr(line, '\0', n) != NULL) {
			msgf(err, CONF_ERRMSG, "%s:%zu: NUL byte",
			    name, lineno);
			return CAJA_EINVAL;
		}
		k = trim(line);
		if (*k == '\0' || *k == '#')
			continue;
		if ((eq = strchr(k, '=')) == NULL) {
			msgf(err, CONF_ERRMSG, "%s:%zu: expected "
			    "'key = value'", name, lineno);
			return CAJA_EINVAL;
		}
		*eq = '\0';
		v = eq + 1;
		k = trim(k);
		v = trim(v);
		if (*v == '"') {
			/* Quoted: up to the closing quote; # allowed inside. */
			char	*q = strchr(v + 1, '"');

			if (q == NULL || (*trim(q + 1) != '\0' &&
			    *trim(q + 1) != '#')) {
				msgf(err, CONF_ERRMSG, "%s:%zu: %s: "
				    "unterminated quote", name, lineno, k);
				return CAJA_EINVAL;
			}
			*q = '\0';
			v++;
		} else if ((hash = strchr(v, '#')) != NULL) {
			*hash = '\0';
			v = trim(v);
		}
		if ((rc = conf_set(c, k, v, sub)) != 0) {
			msgf(err, CONF_ERRMSG, "%s:%zu: %s", name, lineno,
			    sub);
			return rc;
		}
	}
	return 0;
}

int
conf_load_file(struct conf *c, const char *path, char err[CONF_ERRMSG])
{
	char		*buf = NULL;
	struct stat	 st;
	ssize_t		 r;
	size_t		 got = 0;
	int		 fd, rc = CAJA_EIO;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		msgf(err, CONF_ERRMSG, "%s: %s", path, strerror(errno));
		return CAJA_EIO;
	}
	if (fstat(fd, &st) == -1) {
		msgf(err, CONF_ERRMSG, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		msgf(err, CONF_ERRMSG, "%s: not a regular file", path);
		rc = CAJA_EINVAL;
		goto out;
	}
	if (st.st_size > CONF_FILE_MAX) {
		msgf(err, CONF_ERRMSG, "%s: larger than %d bytes", path,
		    CONF_FILE_MAX);
		rc = CAJA_ETOOBIG;
		goto out;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		rc = CAJA_ENOMEM;
		msgf(err, CONF_ERRMSG, "%s: out of memory", path);
		goto out;
	}
	while (got < (size_t)st.st_size) {
		r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			msgf(err, CONF_ERRMSG, "%s: %s", path,
			    strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	rc = conf_load_buf(c, path, buf, got, err);
out:
	free(buf);
	close(fd);
	return rc;
}

int
conf_check(const struct conf *c, char err[CONF_ERRMSG])
{
	if (c->dir[0] == '\0') {
		msgf(err, CONF_ERRMSG, "no data dir: give --dir DIR or "
		    "'dir = DIR' in the config file");
		return CAJA_EINVAL;
	}
	if (c->cloud_batch_min > c->cloud_batch_max) {
		msgf(err, CONF_ERRMSG, "cloud_batch_min %u is more than "
		    "cloud_batch_max %u", c->cloud_batch_min,
		    c->cloud_batch_max);
		return CAJA_EINVAL;
	}
	return 0;
}

int
conf_build(struct conf *c, const char *file, const struct conf_arg *args,
    size_t nargs, char err[CONF_ERRMSG])
{
	size_t	i;
	int	rc, cli_peers = 0;

	conf_defaults(c);
	if (file != NULL) {
		if ((rc = conf_load_file(c, file, err)) != 0)
			return rc;
		if (copy_str(c->file, sizeof(c->file), file)) {
			msgf(err, CONF_ERRMSG, "config path too long");
			return CAJA_ETOOBIG;
		}
	}
	for (i = 0; i < nargs; i++) {
		if (strcmp(args[i].key, "peer") == 0 && !cli_peers) {
			c->npeers = 0;
			cli_peers = 1;
		}
		if ((rc = conf_set(c, args[i].key, args[i].value, err)) != 0)
			return rc;
	}
	return conf_check(c, err);
}

void
conf_print(FILE *f, const struct conf *c)
{
	size_t	i;

	fprintf(f, "# effective configuration%s%s\n",
	    c->file[0] ? " (file " : "", c->file[0] ? c->file : "");
	if (c->file[0])
		fprintf(f, "#   plus command-line flags)\n");
	fprintf(f, "dir = %s\n", c->dir);
	fprintf(f, "listen = %s\n", c->listen);
	for (i = 0; i < c->npeers; i++)
		fprintf(f, "peer = %s\n", c->peers[i]);
	fprintf(f, "mdns = %s\n", c->mdns ? "yes" : "no");
	fprintf(f, "http = %s\n", c->http);
	fprintf(f, "cloud = %s\n", c->cloud[0] ? c->cloud : "off");
	fprintf(f, "cloud_batch_min = %u\n", c->cloud_batch_min);
	fprintf(f, "cloud_batch_max = %u\n", c->cloud_batch_max);
	fprintf(f, "cloud_poll = %" PRIu64 "ms\n", c->cloud_poll_ms);
	fprintf(f, "cloud_timeout = %" PRIu64 "ms\n", c->cloud_timeout_ms);
	if (c->map_max)
		fprintf(f, "map_max = %" PRIu64 "\n", c->map_max);
	else
		fprintf(f, "map_max = %" PRIu64 "  # store default\n",
		    (uint64_t)STORE_MAP_MAX);
	fprintf(f, "max_skew = %" PRIu64 "ms\n", c->max_skew_ms);
	fprintf(f, "log_level = %s\n", log_level_name(c->log_level));
	fprintf(f, "foreground = %s\n", c->foreground ? "yes" : "no");
	fprintf(f, "batch_max = %d\n", c->batch_max);
}
