/*
 * caja-cloud: the reference cloud endpoint (API.md).
 *
 *   caja-cloud [serve] --listen IP:PORT --db URL [--data DIR] [options]
 *   caja-cloud enroll  --data DIR --token TOKEN [--name NAME]
 *   caja-cloud event   --data DIR --store ID [--url URL] TYPE --json JSON
 *   caja-cloud sign    --dir REGISTER_DIR --path PATH [--method M]
 *                      [--body FILE] [NAME=VALUE]...
 *   caja-cloud schema
 *
 * Exit: 0 done, 1 usage, 2 refused or failed (one line on stderr).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "proto/cloudreq.h"
#include "proto/ident.h"
#include "proto/sig.h"
#include "tools/caja-cloud/cloud.h"

#define EXIT_USAGE	1
#define EXIT_FAIL	2
#define DATA_DEFAULT	"/var/lib/caja-cloud"
#define URL_DEFAULT	"http://127.0.0.1:8080"
#define LISTEN_FILE	"listen"
#define SIGN_BODY_MAX	(64u << 20)

static void __attribute__((format(printf, 1, 2), noreturn))
fail(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "caja-cloud: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_FAIL);
}

static void __attribute__((noreturn))
usage(const char *msg)
{
	if (msg != NULL)
		fprintf(stderr, "caja-cloud: %s\n", msg);
	fprintf(stderr,
"usage: caja-cloud [serve] --listen IP:PORT --db URL [--data DIR]\n"
"           [--rate N] [--burst N] [--db-conns N] [--db-timeout MS]\n"
"           [--db-wait MS] [--db-slow MS] [--db-start-wait S]\n"
"           [--max-conns N] [--max-events N] [--pull-max N] [-v]\n"
"       caja-cloud enroll --data DIR --token TOKEN [--name NAME]\n"
"       caja-cloud event --data DIR --store ID [--url URL] TYPE --json JSON\n"
"       caja-cloud sign --dir REGISTER_DIR --path PATH [--method M]\n"
"           [--body FILE] [NAME=VALUE]...\n"
"       caja-cloud schema\n");
	exit(EXIT_USAGE);
}

static long
num(const char *opt, const char *s, long lo, long hi)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || *s == '\0' || v < lo || v > hi) {
		fprintf(stderr, "caja-cloud: %s: a number from %ld to %ld\n",
		    opt, lo, hi);
		exit(EXIT_USAGE);
	}
	return v;
}

static double
fnum(const char *opt, const char *s)
{
	char	*end;
	double	 v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || *s == '\0' || v < 0 || v > 1e9) {
		fprintf(stderr, "caja-cloud: %s: a non-negative number\n", opt);
		exit(EXIT_USAGE);
	}
	return v;
}

static const char *
data_default(void)
{
	const char	*d = getenv("CAJA_CLOUD_DIR");

	return d != NULL && *d != '\0' ? d : DATA_DEFAULT;
}

/* ---- serve ---- */

static int
cmd_serve(int argc, char **argv)
{
	static const struct option	opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "db", required_argument, NULL, 'D' },
		{ "data", required_argument, NULL, 'd' },
		{ "rate", required_argument, NULL, 'r' },
		{ "burst", required_argument, NULL, 'b' },
		{ "db-conns", required_argument, NULL, 'c' },
		{ "db-timeout", required_argument, NULL, 't' },
		{ "db-wait", required_argument, NULL, 'w' },
		{ "db-slow", required_argument, NULL, 's' },
		{ "db-start-wait", required_argument, NULL, 'S' },
		{ "max-conns", required_argument, NULL, 'm' },
		{ "max-events", required_argument, NULL, 'e' },
		{ "pull-max", required_argument, NULL, 'p' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 }
	};
	struct cloud_conf	 conf;
	struct cdb		*db = NULL;
	struct cstores		*stores = NULL;
	struct chttp		*http = NULL;
	char			 err[CLOUD_ERRMSG], token[CLOUD_TOKEN_LEN + 1];
	char			*path = NULL;
	sigset_t		 set;
	int			 ch, sig, rc, fd;

	cloud_conf_defaults(&conf);
	conf.data_dir = data_default();
	conf.db_url = getenv("CAJA_CLOUD_DB");
	if (conf.db_url == NULL)
		conf.db_url = getenv("DATABASE_URL");
	while ((ch = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
		switch (ch) {
		case 'l': conf.listen = optarg; break;
		case 'D': conf.db_url = optarg; break;
		case 'd': conf.data_dir = optarg; break;
		case 'r': conf.rate = fnum("--rate", optarg); break;
		case 'b': conf.burst = fnum("--burst", optarg); break;
		case 'c': conf.db_conns = (int)num("--db-conns", optarg, 1,
		    CLOUD_DB_CONNS_MAX); break;
		case 't': conf.db_timeout_ms = (int)num("--db-timeout", optarg,
		    50, 600000); break;
		case 'w': conf.db_wait_ms = (int)num("--db-wait", optarg, 0,
		    60000); break;
		case 's': conf.db_slow_ms = (int)num("--db-slow", optarg, 1,
		    600000); break;
		case 'S': conf.db_start_s = (int)num("--db-start-wait", optarg,
		    0, 3600); break;
		case 'm': conf.max_conns = (int)num("--max-conns", optarg, 2,
		    10000); break;
		case 'e': conf.max_events = (size_t)num("--max-events", optarg,
		    1, CLOUD_MAX_EVENTS); break;
		case 'p': conf.pull_max = (size_t)num("--pull-max", optarg, 1,
		    CLOUD_PULL_MAX_HARD); break;
		case 'v': cloud_verbose = conf.verbose = 1; break;
		default: usage(NULL);
		}
	}
	if (optind != argc)
		usage("serve takes no arguments");
	if (conf.db_url == NULL || *conf.db_url == '\0')
		usage("--db URL required (or CAJA_CLOUD_DB)");
	if (mkdir(conf.data_dir, 0700) != 0 && errno != EEXIST)
		fail("%s: %s", conf.data_dir, strerror(errno));
	if (sig_init() != 0)
		fail("libsodium failed to start");
	rc = cauth_admin_token(conf.data_dir, 1, token, sizeof(token));
	if (rc != 0)
		fail("%s/%s: %s", conf.data_dir, CLOUD_TOKEN_FILE, err_str(rc));
	/* Signals go to sigwait() below, never to a worker thread. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	err[0] = '\0';
	if ((rc = cdb_new(&db, &conf, err, sizeof(err))) != 0)
		fail("database: %s", err[0] ? err : err_str(rc));
	if ((rc = cstores_open(&stores, conf.data_dir, db)) != 0)
		fail("stores: %s", err_str(rc));
	if ((rc = chttp_start(&http, &conf, db, stores, token, err,
	    sizeof(err))) != 0)
		fail("%s", err);
	if (asprintf(&path, "%s/%s", conf.data_dir, LISTEN_FILE) >= 0 &&
	    (fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) >= 0) {
		dprintf(fd, "%s\n", conf.listen);
		close(fd);
	}
	free(path);
	cloud_log("serving %zu store(s) on %s (data %s)",
	    cstores_count(stores), conf.listen, conf.data_dir);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			cloud_log("SIGHUP: nothing to reload");
			continue;
		}
		break;
	}
	cloud_log("stopping (%s)", sig == SIGINT ? "SIGINT" : "SIGTERM");
	chttp_stop(&http);
	cstores_close(&stores);
	cdb_destroy(&db);
	return 0;
}

/* ---- enroll ---- */

static int
cmd_enroll(int argc, char **argv)
{
	static const struct option	opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "token", required_argument, NULL, 't' },
		{ "name", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	struct ident_token	 t;
	struct store_ids	 ids;
	const char		*data = data_default(), *token = NULL;
	const char		*name = "head-office";
	uint8_t			 sid[ID_LEN];
	char			 hex[ID_HEX], dhex[ID_HEX], tok[CLOUD_TOKEN_LEN + 1];
	char			*stores = NULL, *dir = NULL;
	int			 ch, rc;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': data = optarg; break;
		case 't': token = optarg; break;
		case 'n': name = optarg; break;
		default: usage(NULL);
		}
	}
	if (token == NULL || optind != argc)
		usage("enroll wants --token TOKEN");
	if (sig_init() != 0)
		fail("libsodium failed to start");
	if (ident_token_decode(&t, token) != 0)
		fail("not an invite token (caja1-...)");
	sig_id_of_pk(sid, t.store_pk);
	ids_hex(hex, sid, ID_LEN);
	if (asprintf(&stores, "%s/%s", data, CLOUD_STORES_DIR) < 0 ||
	    asprintf(&dir, "%s/%s", stores, hex) < 0)
		fail("out of memory");
	if (mkdir(data, 0700) != 0 && errno != EEXIST)
		fail("%s: %s", data, strerror(errno));
	if (mkdir(stores, 0700) != 0 && errno != EEXIST)
		fail("%s: %s", stores, strerror(errno));
	rc = store_join(dir, token, name, cloud_wall_ms(), &ids);
	if (rc == CAJA_EEXIST)
		fail("already enrolled in store %s (%s)", hex, dir);
	if (rc != 0)
		fail("join store %s: %s", hex, err_str(rc));
	if ((rc = cauth_admin_token(data, 1, tok, sizeof(tok))) != 0)
		fail("%s/%s: %s", data, CLOUD_TOKEN_FILE, err_str(rc));
	ids_hex(dhex, ids.device_id, ID_LEN);
	printf("{\"store_id\": \"%s\", \"device_id\": \"%s\", \"dir\": "
	    "\"%s\"}\n", hex, dhex, dir);
	free(stores);
	free(dir);
	return 0;
}

/* ---- event (head office, through a running serve) ---- */

struct sink {
	char	*p;
	size_t	 len;
};

static size_t
sink_cb(char *p, size_t sz, size_t n, void *arg)
{
	struct sink	*s = arg;
	char		*np;

	if (s->len + sz * n > (1u << 24))
		return 0;
	if ((np = realloc(s->p, s->len + sz * n + 1)) == NULL)
		return 0;
	s->p = np;
	memcpy(s->p + s->len, p, sz * n);
	s->len += sz * n;
	s->p[s->len] = '\0';
	return sz * n;
}

static char *
url_default(const char *data)
{
	char	*path = NULL, line[256], *url = NULL;
	FILE	*f;

	if (asprintf(&path, "%s/%s", data, LISTEN_FILE) < 0)
		return NULL;
	if ((f = fopen(path, "r")) != NULL) {
		if (fgets(line, sizeof(line), f) != NULL) {
			line[strcspn(line, "\n")] = '\0';
			if (strncmp(line, "0.0.0.0:", 8) == 0)
				(void)asprintf(&url, "http://127.0.0.1:%s",
				    line + 8);
			else if (line[0] == ':')
				(void)asprintf(&url, "http://127.0.0.1%s",
				    line);
			else
				(void)asprintf(&url, "http://%s", line);
		}
		fclose(f);
	}
	free(path);
	return url != NULL ? url : strdup(URL_DEFAULT);
}

static int
cmd_event(int argc, char **argv)
{
	static const struct option	opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "store", required_argument, NULL, 's' },
		{ "url", required_argument, NULL, 'u' },
		{ "json", required_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	const char		*data = data_default(), *store = NULL;
	const char		*url = NULL, *js = NULL, *type;
	char			 tok[CLOUD_TOKEN_LEN + 1], *full = NULL;
	char			*auth = NULL, *body = NULL, *dflt = NULL;
	struct curl_slist	*hdrs = NULL;
	struct sink		 out = { NULL, 0 };
	json_t			*pl, *req;
	json_error_t		 jerr;
	CURL			*c;
	CURLcode		 cr;
	long			 status = 0;
	int			 ch, rc;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': data = optarg; break;
		case 's': store = optarg; break;
		case 'u': url = optarg; break;
		case 'j': js = optarg; break;
		default: usage(NULL);
		}
	}
	if (store == NULL || js == NULL || optind != argc - 1)
		usage("event wants --store ID TYPE --json JSON");
	type = argv[optind];
	if ((pl = json_loads(js, JSON_REJECT_DUPLICATES, &jerr)) == NULL ||
	    !json_is_object(pl))
		usage("--json: a JSON object");
	req = json_pack("{s:s, s:o}", "type", type, "payload", pl);
	if (req == NULL || (body = json_dumps(req, JSON_COMPACT)) == NULL)
		fail("out of memory");
	json_decref(req);
	if ((rc = cauth_admin_token(data, 0, tok, sizeof(tok))) != 0)
		fail("%s/%s: %s (is the cloud enrolled there?)", data,
		    CLOUD_TOKEN_FILE, err_str(rc));
	if (url == NULL)
		url = dflt = url_default(data);
	if (url == NULL ||
	    asprintf(&full, "%s/v2/stores/%s/events", url, store) < 0 ||
	    asprintf(&auth, "Authorization: Bearer %s", tok) < 0)
		fail("out of memory");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if ((c = curl_easy_init()) == NULL)
		fail("libcurl failed to start");
	hdrs = curl_slist_append(hdrs, auth);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, full);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	cr = curl_easy_perform(c);
	if (cr != CURLE_OK)
		fail("%s: %s (is caja-cloud serve running?)", full,
		    curl_easy_strerror(cr));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	sodium_memzero(tok, sizeof(tok));
	if (status != 200) {
		json_t	*e = out.p ? json_loads(out.p, 0, NULL) : NULL;
		const char *m = e ? json_string_value(json_object_get(e,
		    "error")) : NULL;

		fail("HTTP %ld: %s", status, m != NULL ? m : out.p ? out.p :
		    "no answer");
	}
	fputs(out.p != NULL ? out.p : "{}\n", stdout);
	free(out.p);
	free(full);
	free(auth);
	free(body);
	free(dflt);
	return 0;
}

/* ---- sign (for curl and tests: a register signs a request) ---- */

static int
cmd_sign(int argc, char **argv)
{
	static const struct option	opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "path", required_argument, NULL, 'p' },
		{ "method", required_argument, NULL, 'm' },
		{ "body", required_argument, NULL, 'b' },
		{ "time", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	struct store		*s = NULL;
	struct store_ids	 ids;
	const struct sig_key	*key;
	struct cloudreq_arg	 args[16];
	struct buf		 msg, body;
	const char		*dir = NULL, *path = NULL, *method = "GET";
	const char		*bodyf = NULL;
	char			 sid[ID_HEX], did[ID_HEX], tm[24];
	char			 sighex[2 * SIG_LEN + 1], *eq;
	uint8_t			 sig[SIG_LEN], chunk[65536];
	uint64_t		 t = 0;
	size_t			 n = 0, r;
	FILE			*f;
	int			 ch, rc, i;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': dir = optarg; break;
		case 'p': path = optarg; break;
		case 'm': method = optarg; break;
		case 'b': bodyf = optarg; break;
		case 't': t = (uint64_t)num("--time", optarg, 0, LONG_MAX);
		    break;
		default: usage(NULL);
		}
	}
	if (dir == NULL || path == NULL)
		usage("sign wants --dir DIR --path PATH");
	for (i = optind; i < argc; i++) {
		if (n == 16 || (eq = strchr(argv[i], '=')) == NULL)
			usage("arguments: at most 16 NAME=VALUE");
		*eq = '\0';
		args[n].name = argv[i];
		args[n].value = eq + 1;
		n++;
	}
	buf_init(&body, SIGN_BODY_MAX);
	if (bodyf != NULL) {
		if ((f = fopen(bodyf, "rb")) == NULL)
			fail("%s: %s", bodyf, strerror(errno));
		while ((r = fread(chunk, 1, sizeof(chunk), f)) > 0)
			if (buf_add(&body, chunk, r) != 0)
				fail("%s: too big", bodyf);
		fclose(f);
	}
	if ((rc = store_open(&s, dir, NULL)) != 0)
		fail("%s: %s", dir, err_str(rc));
	store_ids(s, &ids);
	if ((key = store_device_key(s)) == NULL)
		fail("%s: no device key", dir);
	ids_hex(sid, ids.store_id, ID_LEN);
	ids_hex(did, ids.device_id, ID_LEN);
	snprintf(tm, sizeof(tm), "%" PRIu64, t ? t : cloud_wall_ms());
	buf_init(&msg, 0);
	if ((rc = cloudreq_message(&msg, method, path, sid, did, tm, args, n,
	    body.p, body.len)) != 0)
		fail("%s", err_str(rc));
	sig_sign(key, msg.p, msg.len, sig);
	ids_hex(sighex, sig, SIG_LEN);
	printf("X-Caja-Store: %s\nX-Caja-Device: %s\nX-Caja-Time: %s\n"
	    "X-Caja-Signature: %s\n", sid, did, tm, sighex);
	buf_reset(&msg);
	buf_reset(&body);
	store_close(&s);
	return 0;
}

int
main(int argc, char **argv)
{
	const char	*cmd = argc > 1 ? argv[1] : NULL;

	if (cmd == NULL)
		usage(NULL);
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 ||
	    strcmp(cmd, "help") == 0)
		usage(NULL);
	if (cmd[0] == '-')		/* CONTRACT.md: caja-cloud --listen */
		return cmd_serve(argc, argv);
	if (strcmp(cmd, "serve") == 0)
		return cmd_serve(argc - 1, argv + 1);
	if (strcmp(cmd, "enroll") == 0)
		return cmd_enroll(argc - 1, argv + 1);
	if (strcmp(cmd, "event") == 0)
		return cmd_event(argc - 1, argv + 1);
	if (strcmp(cmd, "sign") == 0)
		return cmd_sign(argc - 1, argv + 1);
	if (strcmp(cmd, "schema") == 0) {
		fputs(cdb_schema_sql, stdout);
		return 0;
	}
	usage("unknown command");
}
