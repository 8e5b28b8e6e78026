/*
 * conf: cajad's configuration, from the command line and `-f cajad.conf`.
 *
 * Every command-line flag has a `key = value` twin in the file; flags win
 * over the file. Keys (see etc/cajad.conf): dir, listen, peer (repeatable;
 * peers given on the command line replace those of the file), mdns,
 * http, cloud, map_max, max_skew, log_level, foreground, batch_max;
 * file only: cloud_batch_min, cloud_batch_max, cloud_poll, cloud_timeout.
 * A struct conf is a plain value (copy with assignment). Main thread only.
 */
#ifndef CAJA_CONF_H
#define CAJA_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "proto/err.h"

#define CONF_PATH_MAX		1024
#define CONF_ENDPOINT_MAX	256
#define CONF_URL_MAX		512
#define CONF_PEERS_MAX		32
#define CONF_LINE_MAX		1024
#define CONF_FILE_MAX		(64 * 1024)
#define CONF_ERRMSG		320
#define CONF_ARGS_MAX		64

#define CONF_LISTEN_DEFAULT	"tcp://0.0.0.0:7700"
#define CONF_HTTP_DEFAULT	"127.0.0.1:7780"
#define CONF_BATCH_DEFAULT	256
#define CONF_BATCH_MAX		4096
#define CONF_MAP_MIN		(1ull << 20)
#define CONF_CLOUD_BATCH_MIN	10	/* events per push, adaptive */
#define CONF_CLOUD_BATCH_MAX	1000
#define CONF_CLOUD_BATCH_LIMIT	10000	/* the cloud's --max-events */
#define CONF_CLOUD_POLL_MS	2000	/* idle poll of the cloud */
#define CONF_CLOUD_TIMEOUT_MS	30000	/* one HTTP request */

struct conf {
	char		dir[CONF_PATH_MAX];
	char		listen[CONF_ENDPOINT_MAX];
	char		peers[CONF_PEERS_MAX][CONF_ENDPOINT_MAX];
	size_t		npeers;
	int		mdns;
	char		http[CONF_ENDPOINT_MAX];	/* "off": disabled */
	char		cloud[CONF_URL_MAX];		/* "": none */
	uint32_t	cloud_batch_min, cloud_batch_max;	/* events */
	uint64_t	cloud_poll_ms, cloud_timeout_ms;
	uint64_t	map_max;			/* bytes, 0: store default */
	uint64_t	max_skew_ms;
	int		log_level;			/* enum log_level */
	int		foreground;
	int		batch_max;	/* requests per group commit */
	char		file[CONF_PATH_MAX];		/* "" when none */
};

/* One setting from the command line, as its file twin. */
struct conf_arg {
	const char	*key;
	const char	*value;
};

void	conf_defaults(struct conf *);
/*
 * Sets one key from text (file line or flag). "peer" appends. err gets a
 * one-line message naming the key and the problem.
 */
int	conf_set(struct conf *, const char *key, const char *value,
	    char err[CONF_ERRMSG]) CAJA_WUR;
/* Reads `key = value` lines; err names file:line. */
int	conf_load_file(struct conf *, const char *path, char err[CONF_ERRMSG])
	    CAJA_WUR;
/* Same, from a buffer (tests, fuzzing). name is used in messages. */
int	conf_load_buf(struct conf *, const char *name, const char *buf,
	    size_t len, char err[CONF_ERRMSG]) CAJA_WUR;
/*
 * The effective configuration: defaults, then file (if not NULL), then the
 * flags (peers on the command line replace the file's), then checks.
 */
int	conf_build(struct conf *, const char *file, const struct conf_arg *,
	    size_t nargs, char err[CONF_ERRMSG]) CAJA_WUR;
/* Cross-field checks (dir given, endpoints well formed). */
int	conf_check(const struct conf *, char err[CONF_ERRMSG]) CAJA_WUR;
/* Prints the configuration in the file's syntax. */
void	conf_print(FILE *, const struct conf *);

/* "2M", "2MiB", "64G", "4096" -> bytes. */
int	conf_parse_size(const char *, uint64_t *) CAJA_WUR;
/* "500ms", "30s", "5m", "24h", "2d"; a bare number is seconds. */
int	conf_parse_duration_ms(const char *, uint64_t *) CAJA_WUR;
/* "yes"/"no"/"true"/"false"/"on"/"off"/"1"/"0". */
int	conf_parse_bool(const char *, int *) CAJA_WUR;
/* "tcp://HOST:PORT" */
int	conf_check_endpoint(const char *) CAJA_WUR;

#endif
