/*
 * cajactl: the operator's and integrator's tool for caja.
 *
 * Reads (get, list, totals, conflicts, devices, log, digest, export, and
 * status when no agent runs) open the store read-only and work whether or
 * not cajad runs. Writes (invite, revoke, append, resolve, import) go
 * through the agent's control socket (agent/ctl.h). init and join make a
 * new data dir directly. Exit: 0 done, 1 usage, 2 refused or failed (one
 * line on stderr saying what and why).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/conf.h"
#include "agent/ctl.h"
#include "proto/event.h"
#include "proto/ids.h"
#include "proto/ident.h"
#include "proto/sig.h"
#include "proto/vclock.h"
#include "store/crdt.h"
#include "store/store.h"

#define EXIT_USAGE	1
#define EXIT_FAIL	2
#define DIR_DEFAULT	"/var/lib/caja"
#define BATCH_FILE_MAX	(CTL_MSG_MAX - 1024)

static const char	*dir;
static int		 json_out;
static int		 timeout_ms = CTL_TIMEOUT_MS;
static int		 timeout_given;	/* --timeout on the command line */
#define IMPORT_TIMEOUT_MS	(3600 * 1000)	/* import's default wait */

struct cmd {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*usage;
	const char	*help;
};

static const struct cmd	*cur;

static void __attribute__((format(printf, 1, 2), noreturn))
fail(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "cajactl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(EXIT_FAIL);
}

static void __attribute__((format(printf, 1, 2), noreturn))
usage_fail(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "cajactl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (cur != NULL)
		fprintf(stderr, "\nusage: cajactl %s %s\n", cur->name,
		    cur->usage);
	else
		fprintf(stderr, "\ntry 'cajactl --help'\n");
	exit(EXIT_USAGE);
}

static uint64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- output ---- */

static void
print_json(const json_t *j)
{
	char	*s;

	if ((s = json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY)) == NULL)
		fail("out of memory");
	printf("%s\n", s);
	free(s);
}

static void
print_compact(FILE *f, const json_t *j)
{
	char	*s;

	if ((s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL)
		fail("out of memory");
	fprintf(f, "%s", s);
	free(s);
}

static void
print_scalar(FILE *f, const json_t *v)
{
	if (json_is_string(v))
		fprintf(f, "%s", json_string_value(v));
	else if (json_is_null(v))
		fprintf(f, "-");
	else
		print_compact(f, v);
}

static int
is_scalar(const json_t *v)
{
	return !json_is_object(v) && !json_is_array(v);
}

/* key: value lines; objects flatten as a.b; arrays of objects indent. */
static void
print_human(const json_t *o, const char *prefix)
{
	const char	*k;
	json_t		*v, *e;
	size_t		 i;
	char		 p[256];

	if (!json_is_object(o)) {
		print_scalar(stdout, o);
		printf("\n");
		return;
	}
	json_object_foreach((json_t *)o, k, v) {
		if (strcmp(k, "ok") == 0 && prefix[0] == '\0')
			continue;
		snprintf(p, sizeof(p), "%s%s%s", prefix, prefix[0] ? "." : "",
		    k);
		if (json_is_object(v) && json_object_size(v) > 0) {
			print_human(v, p);
			continue;
		}
		printf("%-20s ", p);
		if (json_is_array(v)) {
			json_array_foreach(v, i, e) {
				if (i > 0)
					printf(is_scalar(e) ? ", " : "\n%-20s ",
					    "");
				if (is_scalar(e))
					print_scalar(stdout, e);
				else
					print_compact(stdout, e);
			}
			if (json_array_size(v) == 0)
				printf("-");
		} else if (json_is_object(v))
			printf("-");
		else
			print_scalar(stdout, v);
		printf("\n");
	}
}

/* One line per object: its scalar members as key=value. */
static void
print_rows(const json_t *a)
{
	const char	*k;
	json_t		*v, *e;
	size_t		 i;
	int		 first;

	if (!json_is_array(a)) {
		print_human(a, "");
		return;
	}
	json_array_foreach(a, i, e) {
		if (!json_is_object(e)) {
			print_scalar(stdout, e);
			printf("\n");
			continue;
		}
		first = 1;
		json_object_foreach(e, k, v) {
			if (!is_scalar(v))
				continue;
			printf("%s%s=", first ? "" : "  ", k);
			print_scalar(stdout, v);
			first = 0;
		}
		printf("\n");
	}
	if (json_array_size(a) == 0)
		printf("(none)\n");
}

static const char *
jstr(const json_t *o, const char *k)
{
	const char	*s = json_string_value(json_object_get(o, k));

	return s != NULL ? s : "-";
}

/* Text of a scalar member, for tables. */
static void
jtext(char *out, size_t cap, const json_t *o, const char *k)
{
	json_t	*v = json_object_get(o, k);
	char	*s;

	if (v == NULL || json_is_null(v))
		snprintf(out, cap, "-");
	else if (json_is_string(v))
		snprintf(out, cap, "%s", json_string_value(v));
	else if ((s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)) != NULL) {
		snprintf(out, cap, "%s", s);
		free(s);
	} else
		snprintf(out, cap, "?");
}

/* ---- the store, directly ---- */

static struct store *
open_ro(void)
{
	struct store		*st = NULL;
	struct store_opts	 o;
	struct stat		 sb;
	int			 rc;

	if (stat(dir, &sb) == -1)
		fail("%s: %s", dir, strerror(errno));
	memset(&o, 0, sizeof(o));
	o.rdonly = 1;
	if ((rc = store_open(&st, dir, &o)) != 0)
		fail("cannot open the store in %s: %s", dir, err_str(rc));
	return st;
}

static void
check_rc(int rc, const char *what)
{
	if (rc != 0)
		fail("%s: %s", what, err_str(rc));
}

/*
 * An id on the command line: hex, ID_PREFIX_MIN digits or more (a unique
 * prefix), at most len bytes' worth. A usage error otherwise.
 */
static void
check_id(const char *what, const char *s, size_t len)
{
	size_t	n = strlen(s);

	if (n < ID_PREFIX_MIN || n > len * 2 ||
	    strspn(s, "0123456789abcdefABCDEF") != n)
		usage_fail("%s '%s': expected an id (hex) or a unique prefix "
		    "of at least %d hex digits", what, s, ID_PREFIX_MIN);
}

/*
 * A device id or unique prefix -> the id. A full id need not be enrolled
 * here (another register may know it); a prefix must match one device.
 */
static void
device_arg(struct store *st, const char *what, const char *hex,
    uint8_t out[ID_LEN])
{
	char	lower[ID_HEX];
	size_t	i;
	int	rc;

	check_id(what, hex, ID_LEN);
	if (strlen(hex) == ID_LEN * 2) {
		for (i = 0; i < ID_LEN * 2; i++)
			lower[i] = (char)(hex[i] | 0x20);
		lower[i] = '\0';
		if (ids_unhex(out, ID_LEN, lower) == 0)
			return;
	}
	rc = store_device_find(st, hex, out);
	if (rc == CAJA_ENOTFOUND)
		fail("%s: no device %s in this store", what, hex);
	if (rc == CAJA_EAMBIGUOUS)
		fail("%s: device prefix %s matches more than one device", what,
		    hex);
	check_rc(rc, what);
}

/* ---- the agent ---- */

/* Sends req (stolen) to the agent; exits 2 on any failure. */
static json_t *
call(json_t *req)
{
	json_t		*rep = NULL;
	char		 err[CTL_ERRMSG];
	int		 rc;

	if (req == NULL)
		fail("out of memory");
	rc = ctl_call(dir, req, timeout_ms, &rep, err);
	json_decref(req);
	if (rc != 0)
		fail("%s", err);
	if (!json_is_true(json_object_get(rep, "ok")))
		fail("%s", jstr(rep, "error"));
	return rep;
}

/* ---- commands ---- */

static int
cmd_init_join(int argc, char **argv, int join)
{
	static const struct option	opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "name", required_argument, NULL, 'n' },
		{ "token", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	struct store_ids	 ids;
	const char		*store = NULL, *name = NULL, *token = NULL;
	char			 sid[ID_HEX], did[ID_HEX], host[65];
	int			 ch, rc;
	json_t			*o;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			store = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 't':
			token = optarg;
			break;
		default:
			usage_fail("bad option");
		}
	}
	if (optind != argc)
		usage_fail("unexpected argument '%s'", argv[optind]);
	if (join && token == NULL)
		usage_fail("join needs --token TOKEN (from cajactl invite)");
	if (!join && token != NULL)
		usage_fail("init takes no --token (did you mean join?)");
	if (join && store != NULL)
		usage_fail("join takes no --store: the token names the store");
	if (!join && store == NULL)
		usage_fail("init needs --store NAME");
	if (name == NULL) {
		if (gethostname(host, sizeof(host) - 1) == -1)
			snprintf(host, sizeof(host), "caja");
		host[sizeof(host) - 1] = '\0';
		name = host;
	}
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		fail("%s: %s", dir, strerror(errno));
	if (join)
		rc = store_join(dir, token, name, now_ms(), &ids);
	else
		rc = store_create(dir, store, name, now_ms(), &ids);
	if (rc == CAJA_EEXIST)
		fail("%s already holds a store", dir);
	if (join && rc == CAJA_EDECODE)
		fail("join: --token is not an invite token (the caja1-... "
		    "line printed by cajactl invite)");
	if (join && rc == CAJA_EEXPIRED)
		fail("join: the invite token has expired: ask for a new one");
	if (rc != 0)
		fail("%s %s: %s", join ? "join" : "init", dir, err_str(rc));
	ids_hex(sid, ids.store_id, ID_LEN);
	ids_hex(did, ids.device_id, ID_LEN);
	if (json_out) {
		o = json_pack("{s:s, s:s}", "store_id", sid, "device_id", did);
		print_json(o);
		json_decref(o);
	} else
		printf("store_id   %s\ndevice_id  %s\n", sid, did);
	return 0;
}

static int
cmd_init(int argc, char **argv)
{
	return cmd_init_join(argc, argv, 0);
}

static int
cmd_join(int argc, char **argv)
{
	return cmd_init_join(argc, argv, 1);
}

static int
cmd_invite(int argc, char **argv)
{
	static const struct option	opts[] = {
		{ "expires", required_argument, NULL, 'e' },
		{ "role", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*role = "register";
	uint64_t	 ttl = 24ull * 3600 * 1000;
	json_t		*rep, *inv;
	int		 ch;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'e':
			if (conf_parse_duration_ms(optarg, &ttl) || ttl == 0)
				usage_fail("--expires '%s': not a duration "
				    "(e.g. 30m, 24h, 7d)", optarg);
			break;
		case 'r':
			role = optarg;
			if (!ident_role_is_valid(role, strlen(role)))
				usage_fail("--role '%s': not admin, register "
				    "or cloud", role);
			break;
		default:
			usage_fail("bad option");
		}
	}
	if (optind != argc)
		usage_fail("unexpected argument '%s'", argv[optind]);
	rep = call(json_pack("{s:s, s:s, s:I}", "cmd", "invite", "role", role,
	    "ttl_ms", (json_int_t)ttl));
	inv = json_object_get(rep, "invite");
	if (json_out)
		print_json(inv);
	else
		printf("%s\n", jstr(inv, "token"));
	json_decref(rep);
	return 0;
}

static int
cmd_revoke(int argc, char **argv)
{
	static const struct option	opts[] = {
		{ "reason", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 }
	};
	const char		*reason = NULL;
	struct store		*st;
	struct store_device	 d;
	uint8_t			 id[ID_LEN];
	char			 hex[ID_HEX];
	json_t			*rep, *req;
	int			 ch;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'r')
			reason = optarg;
		else
			usage_fail("bad option");
	}
	if (argc - optind != 1)
		usage_fail("revoke needs one DEVICE_ID (or prefix of >= %d "
		    "hex digits)", ID_PREFIX_MIN);
	check_id("DEVICE_ID", argv[optind], ID_LEN);
	req = json_pack("{s:s, s:s}", "cmd", "revoke", "device", argv[optind]);
	if (req != NULL && reason != NULL)
		(void)json_object_set_new(req, "reason", json_string(reason));
	rep = call(req);
	(void)json_object_del(rep, "ok");
	if (json_out) {
		print_json(rep);
		json_decref(rep);
		return 0;
	}
	/* The cut-off, as the store now holds it. */
	st = open_ro();
	device_arg(st, "revoke", argv[optind], id);
	ids_hex(hex, id, ID_LEN);
	if (store_device_get(st, id, &d) == 0 && d.revoked)
		printf("revoked %s: its events up to seq %" PRIu64 " stay "
		    "valid, later ones are refused everywhere\n", hex,
		    d.revoked_upto);
	else
		printf("revoked %s\n", hex);
	store_close(&st);
	json_decref(rep);
	return 0;
}

static int
cmd_resolve(int argc, char **argv)
{
	static const struct option	opts[] = {
		{ "value", required_argument, NULL, 'v' },
		{ "by", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*value = NULL, *by = NULL;
	json_error_t	 jerr;
	json_t		*v, *rep, *req;
	int		 ch;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'v':
			value = optarg;
			break;
		case 'b':
			by = optarg;
			break;
		default:
			usage_fail("bad option");
		}
	}
	if (argc - optind != 1 || value == NULL)
		usage_fail("resolve needs CONFLICT_ID and --value JSON");
	check_id("CONFLICT_ID", argv[optind], ID_LEN);
	v = json_loads(value, JSON_DECODE_ANY, &jerr);
	if (v == NULL)
		usage_fail("--value: not JSON (%s); a string needs quotes: "
		    "'\"12.50\"'", jerr.text);
	if (by == NULL && (by = getenv("USER")) == NULL)
		by = "cajactl";
	req = json_pack("{s:s, s:s, s:o, s:s}", "cmd", "resolve", "conflict",
	    argv[optind], "value", v, "by", by);
	rep = call(req);
	(void)json_object_del(rep, "ok");
	if (json_out)
		print_json(rep);
	else
		printf("resolved %s (event seq %" JSON_INTEGER_FORMAT ")\n",
		    argv[optind], json_integer_value(json_object_get(rep,
		    "seq")));
	json_decref(rep);
	return 0;
}

/* Validates one event as the agent will (same decoder). */
static int
check_one(const char *type, json_t *payload, char err[CTL_ERRMSG])
{
	struct ctl_request	 r;
	json_t			*req;
	char			*txt;
	int			 rc;

	req = json_pack("{s:s, s:s, s:O}", "cmd", "append", "type", type,
	    "payload", payload);
	if (req == NULL || (txt = json_dumps(req, JSON_COMPACT)) == NULL) {
		json_decref(req);
		snprintf(err, CTL_ERRMSG, "out of memory");
		return CAJA_ENOMEM;
	}
	rc = ctl_request_decode(txt, strlen(txt), &r, NULL, err);
	if (rc == 0)
		ctl_request_reset(&r);
	free(txt);
	json_decref(req);
	return rc;
}

/* Globals, so that exiting half-way (fail) leaves nothing unreachable. */
static size_t	*lines;		/* line number of each event */
static json_t	*events;

static int
append_batch(const char *file)
{
	FILE		*f;
	char		*line = NULL, err[CTL_ERRMSG];
	size_t		 cap = 0, lineno = 0, n = 0, total = 0, i;
	ssize_t		 len;
	size_t		*nl;
	json_error_t	 jerr;
	json_t		*e, *req, *rep, *res;
	const char	*type;
	long		 idx;

	if (strcmp(file, "-") == 0)
		f = stdin;
	else if ((f = fopen(file, "r")) == NULL)
		fail("%s: %s", file, strerror(errno));
	if ((events = json_array()) == NULL)
		fail("out of memory");
	while ((len = getline(&line, &cap, f)) != -1) {
		lineno++;
		total += (size_t)len;
		if (total > BATCH_FILE_MAX)
			fail("%s: larger than %d bytes: split it", file,
			    BATCH_FILE_MAX);
		if (strspn(line, " \t\r\n") == (size_t)len)
			continue;
		if (n >= CTL_BATCH_EVENTS_MAX)
			fail("%s: more than %d events: split it", file,
			    CTL_BATCH_EVENTS_MAX);
		e = json_loadb(line, (size_t)len, JSON_REJECT_DUPLICATES, &jerr);
		if (e == NULL)
			fail("%s:%zu: not JSON: %s (nothing appended)", file,
			    lineno, jerr.text);
		if (!json_is_object(e) ||
		    (type = json_string_value(json_object_get(e, "type"))) ==
		    NULL || json_object_get(e, "payload") == NULL ||
		    json_object_size(e) != 2)
			fail("%s:%zu: expected {\"type\":..., \"payload\":{...}}"
			    " (nothing appended)", file, lineno);
		if (check_one(type, json_object_get(e, "payload"), err))
			fail("%s:%zu: %s (nothing appended)", file, lineno,
			    err);
		if ((nl = reallocarray(lines, n + 1, sizeof(*lines))) == NULL)
			fail("out of memory");
		lines = nl;
		lines[n++] = lineno;
		if (json_array_append_new(events, e) == -1)
			fail("out of memory");
	}
	if (ferror(f))
		fail("%s: %s", file, strerror(errno));
	if (f != stdin)
		fclose(f);
	free(line);
	if (n == 0)
		fail("%s: no events", file);
	req = json_pack("{s:s, s:o}", "cmd", "append_batch", "events", events);
	events = req;	/* reachable until sent */
	if (req == NULL)
		fail("out of memory");
	if (ctl_call(dir, req, timeout_ms, &rep, err) != 0)
		fail("%s", err);
	json_decref(req);
	events = NULL;
	if (!json_is_true(json_object_get(rep, "ok"))) {
		idx = json_is_integer(json_object_get(rep, "index")) ?
		    (long)json_integer_value(json_object_get(rep, "index")) :
		    -1;
		if (idx >= 0 && (size_t)idx < n)
			fail("%s:%zu: %s (nothing appended)", file,
			    lines[idx], jstr(rep, "error"));
		fail("%s (nothing appended)", jstr(rep, "error"));
	}
	res = json_object_get(rep, "results");
	if (json_out)
		print_json(res);
	else
		json_array_foreach(res, i, e) {
			print_compact(stdout, e);
			printf("\n");
		}
	json_decref(rep);
	free(lines);
	lines = NULL;
	return 0;
}

static int
cmd_append(int argc, char **argv)
{
	const char	*type = NULL, *payload = NULL, *batch = NULL;
	char		 err[CTL_ERRMSG];
	json_error_t	 jerr;
	json_t		*p, *rep;
	int		 i, rc;

	/* By hand: --json takes the payload here, and is a flag with
	 * --batch (array output). */
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--batch") == 0) {
			if (++i >= argc)
				usage_fail("--batch needs FILE");
			batch = argv[i];
		} else if (strncmp(argv[i], "--batch=", 8) == 0)
			batch = argv[i] + 8;
	}
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--batch") == 0)
			i++;
		else if (strncmp(argv[i], "--batch=", 8) == 0)
			continue;
		else if (strcmp(argv[i], "--json") == 0 ||
		    strcmp(argv[i], "--payload") == 0) {
			if (batch != NULL) {
				json_out = 1;
				continue;
			}
			if (++i >= argc)
				usage_fail("%s needs a JSON payload",
				    argv[i - 1]);
			payload = argv[i];
		} else if (strncmp(argv[i], "--json=", 7) == 0)
			payload = argv[i] + 7;
		else if (strncmp(argv[i], "--payload=", 10) == 0)
			payload = argv[i] + 10;
		else if (argv[i][0] == '-' && argv[i][1] != '\0')
			usage_fail("unknown option '%s'", argv[i]);
		else if (type == NULL)
			type = argv[i];
		else
			usage_fail("unexpected argument '%s'", argv[i]);
	}
	if (batch != NULL) {
		if (type != NULL || payload != NULL)
			usage_fail("--batch takes no TYPE or payload");
		return append_batch(batch);
	}
	if (type == NULL || payload == NULL)
		usage_fail("append needs TYPE and --json PAYLOAD, or --batch "
		    "FILE");
	p = json_loads(payload, JSON_REJECT_DUPLICATES, &jerr);
	if (p == NULL)
		usage_fail("--json: not a JSON object: %s", jerr.text);
	if ((rc = check_one(type, p, err)) != 0)
		fail("%s (not appended)", err);
	rep = call(json_pack("{s:s, s:s, s:o}", "cmd", "append", "type", type,
	    "payload", p));
	(void)json_object_del(rep, "ok");
	print_compact(stdout, rep);
	printf("\n");
	json_decref(rep);
	return 0;
}

static int
cmd_import(int argc, char **argv)
{
	char	 path[PATH_MAX], did[ID_HEX + 2];
	json_t	*rep, *refs, *e;
	size_t	 i, nref;

	if (argc != 2 || argv[1][0] == '-')
		usage_fail("import needs one FILE");
	if (realpath(argv[1], path) == NULL)
		fail("%s: %s", argv[1], strerror(errno));
	/* The agent answers when the whole file is merged (a million events
	 * take tens of seconds): wait for it, unless told otherwise. */
	if (!timeout_given)
		timeout_ms = IMPORT_TIMEOUT_MS;
	rep = call(json_pack("{s:s, s:s}", "cmd", "import", "path", path));
	(void)json_object_del(rep, "ok");
	refs = json_object_get(rep, "refusals");
	nref = (size_t)json_integer_value(json_object_get(rep, "refused"));
	if (json_out)
		print_json(rep);
	else
		printf("imported %s: %" JSON_INTEGER_FORMAT " accepted, %"
		    JSON_INTEGER_FORMAT " duplicate, %" JSON_INTEGER_FORMAT
		    " refused\n", path,
		    json_integer_value(json_object_get(rep, "accepted")),
		    json_integer_value(json_object_get(rep, "duplicate")),
		    json_integer_value(json_object_get(rep, "refused")));
	fflush(stdout);		/* the summary before the refusals */
	json_array_foreach(refs, i, e) {
		snprintf(did, sizeof(did), "%s", jstr(e, "device_id"));
		fprintf(stderr, "cajactl: refused event %s seq %"
		    JSON_INTEGER_FORMAT ": %s\n", did,
		    json_integer_value(json_object_get(e, "seq")),
		    jstr(e, "error"));
	}
	json_decref(rep);
	if (nref > 0) {
		fprintf(stderr, "cajactl: %zu event(s) refused, the rest "
		    "kept\n", nref);
		return EXIT_FAIL;
	}
	return 0;
}

static int
cmd_export(int argc, char **argv)
{
	static const struct option	opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "since", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*out = NULL, *since = NULL, *k;
	struct vclock	 vc;
	uint8_t		 dev[ID_LEN];
	struct store	*st;
	json_error_t	 jerr;
	json_t		*j, *v;
	size_t		 count = 0;
	int		 ch, rc;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'o':
			out = optarg;
			break;
		case 's':
			since = optarg;
			break;
		default:
			usage_fail("bad option");
		}
	}
	if (optind != argc || out == NULL)
		usage_fail("export needs --out FILE");
	vclock_init(&vc);
	j = NULL;
	if (since != NULL) {
		/* A vector clock, as `status` prints it: {device: seq}. */
		if ((j = json_loads(since, 0, &jerr)) == NULL ||
		    !json_is_object(j))
			usage_fail("--since: expected a JSON object "
			    "{\"DEVICE_ID\": SEQ, ...}");
		json_object_foreach(j, k, v) {
			check_id("--since: device", k, ID_LEN);
			if (!json_is_integer(v) || json_integer_value(v) < 0)
				usage_fail("--since: seq of %s must be an "
				    "integer >= 0", k);
		}
	}
	st = open_ro();
	json_object_foreach(j, k, v) {
		device_arg(st, "--since", k, dev);
		if (vclock_get(&vc, dev) > (uint64_t)json_integer_value(v))
			continue;
		if (vclock_set(&vc, dev, (uint64_t)json_integer_value(v)))
			fail("--since: more than %d devices", VCLOCK_MAX);
	}
	json_decref(j);
	rc = store_export(st, since ? &vc : NULL, out, &count);
	store_close(&st);
	if (rc != 0)
		fail("export to %s: %s", out, err_str(rc));
	if (json_out) {
		j = json_pack("{s:s, s:I}", "path", out, "events",
		    (json_int_t)count);
		print_json(j);
		json_decref(j);
	} else
		printf("exported %zu events to %s\n", count, out);
	return 0;
}

static int
check_kind(const char *k)
{
	return strcmp(k, "product") == 0 || strcmp(k, "customer") == 0 ||
	    strcmp(k, "sale") == 0;
}

static int
cmd_get(int argc, char **argv)
{
	struct store	*st;
	json_t		*j = NULL;
	int		 rc;

	if (argc != 3)
		usage_fail("get needs KIND and ID");
	if (!check_kind(argv[1]))
		usage_fail("unknown kind '%s': product, customer or sale",
		    argv[1]);
	st = open_ro();
	rc = store_get_json(st, argv[1], argv[2], &j);
	store_close(&st);
	if (rc == CAJA_ENOTFOUND)
		fail("%s %s: not found", argv[1], argv[2]);
	check_rc(rc, "get");
	if (json_out)
		print_json(j);
	else
		print_human(j, "");
	json_decref(j);
	return 0;
}

static int
cmd_list(int argc, char **argv)
{
	struct store	*st;
	json_t		*j = NULL;
	int		 rc;

	if (argc != 2)
		usage_fail("list needs KIND");
	if (!check_kind(argv[1]))
		usage_fail("unknown kind '%s': product, customer or sale",
		    argv[1]);
	st = open_ro();
	rc = store_list_json(st, argv[1], &j);
	store_close(&st);
	check_rc(rc, "list");
	if (json_out)
		print_json(j);
	else
		print_rows(json_is_array(j) ? j : json_object_get(j, "items"));
	json_decref(j);
	return 0;
}

static int
valid_day(const char *d)
{
	static const int	mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31,
				    30, 31, 30, 31 };
	int			i, y, m, day;

	if (strlen(d) != 10 || d[4] != '-' || d[7] != '-')
		return 0;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (d[i] < '0' || d[i] > '9'))
			return 0;
	y = (d[0] - '0') * 1000 + (d[1] - '0') * 100 + (d[2] - '0') * 10 +
	    (d[3] - '0');
	m = (d[5] - '0') * 10 + (d[6] - '0');
	day = (d[8] - '0') * 10 + (d[9] - '0');
	if (m < 1 || m > 12 || day < 1 || day > mdays[m - 1])
		return 0;
	return m != 2 || day < 29 ||
	    (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0));
}

static void
totals_row(const char *who, const json_t *t)
{
	printf("%-32s %6" JSON_INTEGER_FORMAT " %14s %6" JSON_INTEGER_FORMAT
	    " %14s %14s\n", who, json_integer_value(json_object_get(t,
	    "count")), jstr(t, "total_bs"), json_integer_value(
	    json_object_get(t, "voided")), jstr(t, "voided_bs"),
	    jstr(t, "net_bs"));
}

static int
cmd_totals(int argc, char **argv)
{
	static const struct option	opts[] = {
		{ "day", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*day = NULL;
	struct store	*st;
	json_t		*j = NULL, *d;
	size_t		 i;
	int		 ch, rc;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch != 'd')
			usage_fail("bad option");
		day = optarg;
		if (!valid_day(day))
			usage_fail("--day '%s': expected YYYY-MM-DD", day);
	}
	if (optind != argc)
		usage_fail("unexpected argument '%s'", argv[optind]);
	st = open_ro();
	rc = store_totals_json(st, day, &j);
	store_close(&st);
	check_rc(rc, "totals");
	if (json_out) {
		print_json(j);
		json_decref(j);
		return 0;
	}
	printf("sales %s%s\n", day != NULL ? "of " : "(every day)",
	    day != NULL ? day : "");
	printf("%-32s %6s %14s %6s %14s %14s\n", "DEVICE", "SALES", "TOTAL_BS",
	    "VOIDED", "VOIDED_BS", "NET_BS");
	json_array_foreach(json_object_get(j, "devices"), i, d)
		totals_row(jstr(d, "device_id"), d);
	totals_row("store", json_object_get(j, "store"));
	json_decref(j);
	return 0;
}

static int
cmd_conflicts(int argc, char **argv)
{
	static const struct option	opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 }
	};
	struct store	*st;
	json_t		*j = NULL, *c, *arr;
	char		 field[24], val[CRDT_VALUE_MAX + 8];
	size_t		 i;
	int		 ch, rc, all = 0;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch != 'a')
			usage_fail("bad option");
		all = 1;
	}
	if (optind != argc)
		usage_fail("unexpected argument '%s'", argv[optind]);
	st = open_ro();
	rc = store_conflicts_json(st, all, &j);
	store_close(&st);
	check_rc(rc, "conflicts");
	if (json_out) {
		print_json(j);
		json_decref(j);
		return 0;
	}
	arr = json_is_array(j) ? j : json_object_get(j, "conflicts");
	if (json_array_size(arr) == 0)
		printf("no %sconflicts\n", all ? "" : "pending ");
	/* One block per conflict: what, then each competing value. */
	json_array_foreach(arr, i, c) {
		json_t	*vals = json_object_get(c, "values"), *v;
		size_t	 k;

		jtext(field, sizeof(field), c, "field");
		printf("%sCONFLICT %s  %s  %s %s  %s  %s (%s priority)\n",
		    i ? "\n" : "",
		    jstr(c, "conflict_id"), jstr(c, "conflict_type"),
		    jstr(c, "entity_type"), jstr(c, "entity_id"), field,
		    jstr(c, "resolution_status"), jstr(c, "priority"));
		json_array_foreach(vals, k, v) {
			jtext(val, sizeof(val), v, "value");
			printf("  %-24s device %.8s seq %-6" JSON_INTEGER_FORMAT
			    " %s\n", val, jstr(v, "device_id"),
			    json_integer_value(json_object_get(v, "seq")),
			    jstr(v, "time"));
		}
		if (json_is_string(json_object_get(c, "resolved_at"))) {
			jtext(val, sizeof(val), c, "resolution_value");
			printf("  resolved to %s by %s at %s\n", val,
			    jstr(c, "resolved_by"), jstr(c, "resolved_at"));
		}
	}
	json_decref(j);
	return 0;
}

static int
cmd_devices(int argc, char **argv)
{
	struct store	*st;
	json_t		*j = NULL, *arr, *d;
	char		 rev[64];
	size_t		 i;
	int		 rc;

	if (argc != 1)
		usage_fail("unexpected argument '%s'", argv[1]);
	st = open_ro();
	rc = store_devices_json(st, &j);
	store_close(&st);
	check_rc(rc, "devices");
	if (json_out) {
		print_json(j);
		json_decref(j);
		return 0;
	}
	arr = json_is_array(j) ? j : json_object_get(j, "devices");
	printf("%-32s  %-16s %-9s %6s  %s\n", "DEVICE", "NAME", "ROLE", "SEQ",
	    "STATE");
	json_array_foreach(arr, i, d) {
		if (json_is_true(json_object_get(d, "revoked")))
			snprintf(rev, sizeof(rev), "revoked after seq %"
			    JSON_INTEGER_FORMAT "%s", json_integer_value(
			    json_object_get(d, "revoked_upto_seq")),
			    json_is_true(json_object_get(d, "forked")) ?
			    ", forked" : "");
		else
			snprintf(rev, sizeof(rev), "enrolled%s",
			    json_is_true(json_object_get(d, "forked")) ?
			    ", forked" : "");
		printf("%-32s  %-16s %-9s %6" JSON_INTEGER_FORMAT "  %s\n",
		    jstr(d, "device_id"), jstr(d, "name"), jstr(d, "role"),
		    json_integer_value(json_object_get(d, "head_seq")), rev);
	}
	json_decref(j);
	return 0;
}

static int
cmd_log(int argc, char **argv)
{
	static const struct option	opts[] = {
		{ "device", required_argument, NULL, 'D' },
		{ "since", required_argument, NULL, 's' },
		{ "limit", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*dev = NULL;
	char		*end;
	uint64_t	 since = 0;
	size_t		 limit = SIZE_MAX, i;
	unsigned long long	v;
	struct store	*st;
	json_t		*j = NULL, *arr, *e;
	int		 ch, rc;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'D':
			dev = optarg;
			break;
		case 's':
		case 'l':
			errno = 0;
			v = strtoull(optarg, &end, 10);
			if (errno || *end != '\0' || optarg[0] == '-' ||
			    optarg[0] == '\0')
				usage_fail("--%s '%s': not a number",
				    ch == 's' ? "since" : "limit", optarg);
			if (ch == 's')
				since = v;
			else
				limit = (size_t)v;
			break;
		default:
			usage_fail("bad option");
		}
	}
	if (optind != argc)
		usage_fail("unexpected argument '%s'", argv[optind]);
	if (dev != NULL)
		check_id("--device", dev, ID_LEN);
	st = open_ro();
	rc = store_log_json(st, dev, since, limit, &j);
	store_close(&st);
	if (rc == CAJA_ENOTFOUND && dev != NULL)
		fail("no device %s", dev);
	if (rc == CAJA_EAMBIGUOUS)
		fail("device prefix %s matches more than one device", dev);
	check_rc(rc, "log");
	if (json_out) {
		print_json(j);
		json_decref(j);
		return 0;
	}
	arr = json_is_array(j) ? j : json_object_get(j, "events");
	json_array_foreach(arr, i, e) {
		printf("%.12s %6" JSON_INTEGER_FORMAT "  %-18s %s\n",
		    jstr(e, "device_id"),
		    json_integer_value(json_object_get(e, "seq")),
		    jstr(e, "type"), jstr(e, "entity"));
	}
	json_decref(j);
	return 0;
}

static int
cmd_digest(int argc, char **argv)
{
	struct store	*st;
	uint8_t		 d[HASH_LEN];
	char		 hex[HASH_HEX];
	json_t		*j;
	int		 rc;

	if (argc != 1)
		usage_fail("unexpected argument '%s'", argv[1]);
	st = open_ro();
	rc = store_digest(st, d);
	store_close(&st);
	check_rc(rc, "digest");
	ids_hex(hex, d, HASH_LEN);
	if (json_out) {
		j = json_pack("{s:s}", "digest", hex);
		print_json(j);
		json_decref(j);
	} else
		printf("%s\n", hex);
	return 0;
}

/* status, human form: one line per peer. */
static void
print_peers(const json_t *a)
{
	const json_t	*p, *v;
	size_t		 i;

	if (!json_is_array(a) || json_array_size(a) == 0) {
		printf("%-20s -\n", "peers");
		return;
	}
	printf("%-20s %-12s %-9s %-10s %-28s %9s %6s %8s %8s %4s\n", "peers",
	    "NAME", "DEVICE", "STATE", "ENDPOINT", "LAST_SEEN", "RTT",
	    "SENT", "RECEIVED", "BAD");
	json_array_foreach(a, i, p) {
		printf("%-20s %-12.12s %-9.8s %-10s %-28.28s ", "",
		    json_is_string(json_object_get(p, "name")) ?
		    jstr(p, "name") : "-",
		    json_is_string(json_object_get(p, "device_id")) ?
		    jstr(p, "device_id") : "?",
		    jstr(p, "state"), jstr(p, "endpoint"));
		v = json_object_get(p, "last_seen_ms");
		if (json_is_integer(v))
			printf("%7" JSON_INTEGER_FORMAT "ms ",
			    json_integer_value(v));
		else
			printf("%9s ", "-");
		v = json_object_get(p, "rtt_ms");
		if (json_is_integer(v))
			printf("%4" JSON_INTEGER_FORMAT "ms ",
			    json_integer_value(v));
		else
			printf("%6s ", "-");
		printf("%8" JSON_INTEGER_FORMAT " %8" JSON_INTEGER_FORMAT
		    " %4" JSON_INTEGER_FORMAT "\n",
		    json_integer_value(json_object_get(p, "sent_events")),
		    json_integer_value(json_object_get(p, "received_events")),
		    json_integer_value(json_object_get(p, "bad_frames")));
	}
}

/* The cloud uplink in a few lines (status without --json). */
static void
print_cloud(const json_t *c)
{
	const json_t	*n = json_object_get(c, "counters");
	const char	*up = json_string_value(json_object_get(c, "uploader"));
	json_int_t	 last;

#define CI(o, k)	json_integer_value(json_object_get((o), (k)))
	if (!json_is_object(c))
		return;
	printf("%-20s %s%s%s, breaker %s\n", "cloud", jstr(c, "state"),
	    json_is_string(json_object_get(c, "url")) ? " " : "",
	    json_is_string(json_object_get(c, "url")) ? jstr(c, "url") : "",
	    jstr(c, "breaker"));
	if (!json_is_integer(json_object_get(c, "pending")))
		return;
	printf("%-20s %" JSON_INTEGER_FORMAT " events not acknowledged by "
	    "the cloud (acked from %zu devices)\n", "cloud.pending",
	    CI(c, "pending"), json_object_size(json_object_get(c,
	    "acked_vector_clock")));
	printf("%-20s %s\n", "cloud.uploader", up != NULL ? up :
	    "- (none right now)");
	if ((last = CI(c, "last_success_ms")) > 0) {
		time_t	t = (time_t)(last / 1000);

		printf("%-20s %s", "cloud.last_success", ctime(&t));
	}
	if (json_is_string(json_object_get(c, "last_error")))
		printf("%-20s %s\n", "cloud.last_error", jstr(c, "last_error"));
	if (CI(c, "next_attempt_ms") > 0)
		printf("%-20s in %" JSON_INTEGER_FORMAT " ms (%"
		    JSON_INTEGER_FORMAT " failures in a row)\n",
		    "cloud.next_attempt", CI(c, "next_attempt_ms"),
		    CI(c, "consecutive_failures"));
	if (!json_is_object(n))
		return;
	printf("%-20s %" JSON_INTEGER_FORMAT " requests (%" JSON_INTEGER_FORMAT
	    " failed, %" JSON_INTEGER_FORMAT " rate limited), %"
	    JSON_INTEGER_FORMAT " events sent, %" JSON_INTEGER_FORMAT
	    " acknowledged, %" JSON_INTEGER_FORMAT " pulled\n",
	    "cloud.traffic", CI(n, "requests"), CI(n, "failures"),
	    CI(n, "rate_limited"), CI(n, "events_sent"), CI(n, "events_acked"),
	    CI(n, "events_pulled"));
	printf("%-20s %" JSON_INTEGER_FORMAT " bytes on the wire for %"
	    JSON_INTEGER_FORMAT " raw; batch %" JSON_INTEGER_FORMAT
	    " events, %" JSON_INTEGER_FORMAT " events/s\n", "cloud.bytes",
	    CI(n, "bytes_wire"), CI(n, "bytes_raw"), CI(c, "batch_size"),
	    CI(c, "rate_eps"));
#undef CI
}

static int
cmd_status(int argc, char **argv)
{
	struct store	*st;
	json_t		*j = NULL, *req;
	char		 err[CTL_ERRMSG];
	const char	*agent = "stopped";
	int		 rc;

	if (argc != 1)
		usage_fail("unexpected argument '%s'", argv[1]);
	if (ctl_agent_running(dir, NULL)) {
		req = json_pack("{s:s}", "cmd", "status");
		rc = ctl_call(dir, req, timeout_ms, &j, err);
		json_decref(req);
		if (rc == 0 && json_is_true(json_object_get(j, "ok")))
			goto print;
		fprintf(stderr, "cajactl: %s; reading the store directly\n",
		    rc ? err : jstr(j, "error"));
		json_decref(j);
		j = NULL;
		agent = "not responding";
	}
	st = open_ro();
	rc = store_status_json(st, &j);
	store_close(&st);
	check_rc(rc, "status");
	(void)json_object_set_new(j, "agent", json_string(agent));
	/* The agent's own fields, empty: nothing is known without it. */
	if (json_object_get(j, "peers") == NULL)
		(void)json_object_set_new(j, "peers", json_array());
	if (json_object_get(j, "cloud") == NULL)
		(void)json_object_set_new(j, "cloud", json_pack("{s:n, s:s, "
		    "s:n, s:n, s:n}", "url", "state", "unknown (agent not "
		    "running)", "breaker", "pending", "acked_vector_clock"));
print:
	(void)json_object_del(j, "ok");
	if (json_out)
		print_json(j);
	else {
		json_t	*cloud = json_incref(json_object_get(j, "cloud"));

		print_peers(json_object_get(j, "peers"));
		(void)json_object_del(j, "peers");
		(void)json_object_del(j, "cloud");
		print_human(j, "");
		print_cloud(cloud);
		json_decref(cloud);
	}
	json_decref(j);
	return 0;
}

static int cmd_help(int, char **);

static const struct cmd cmds[] = {
	{ "init", cmd_init, "--store NAME [--name DEVICE_NAME]",
	  "Creates a new store in DIR: the store key (its holder is the store\n"
	  "admin) and this device's key, both mode 0600 in DIR. NAME is the\n"
	  "store's name; DEVICE_NAME defaults to the host name. Prints the\n"
	  "store and device ids. Then start the agent: cajad --dir DIR.\n"
	  "Example: cajactl init --dir /var/lib/caja --store \"Tienda Centro\" "
	  "--name caja-1" },
	{ "join", cmd_join, "--token TOKEN [--name DEVICE_NAME]",
	  "Enrolls a new, empty DIR as a device of an existing store with a\n"
	  "token from 'cajactl invite' on the admin register. Works offline:\n"
	  "the other registers accept this device once they hold the invite.\n"
	  "Example: cajactl join --dir /var/lib/caja --token caja1-... "
	  "--name caja-2" },
	{ "invite", cmd_invite, "[--expires 24h] [--role register]",
	  "Mints a one-use join token (admin device; needs the agent). The\n"
	  "token is a secret: it lets one device enroll until it expires\n"
	  "(--expires: 30m, 24h, 7d; default 24h). Roles: register (default),\n"
	  "admin, cloud. A token used by two devices enrolls both and raises\n"
	  "an invite_reused conflict: revoke the one that should not be\n"
	  "there." },
	{ "revoke", cmd_revoke, "DEVICE_ID [--reason TEXT]",
	  "Revokes a device (admin device; needs the agent): a signed event\n"
	  "that every register applies. The device's events up to the highest\n"
	  "sequence number this register holds stay valid; later ones are\n"
	  "refused everywhere. DEVICE_ID: the id or a unique prefix of at\n"
	  "least 8 hex digits (see 'cajactl devices')." },
	{ "devices", cmd_devices, "",
	  "Lists the enrolled devices: id, name, role, highest sequence\n"
	  "number held, and whether revoked (after which seq) or forked." },
	{ "append", cmd_append, "TYPE --json PAYLOAD | --batch FILE.jsonl",
	  "Appends events (needs the agent); each is acknowledged only once\n"
	  "it is on disk. TYPE: ProductUpdated, PriceChanged, StockReceived,\n"
	  "StockAdjusted, SaleCreated, SaleVoided, CustomerUpdated,\n"
	  "DebtPaymentAdded, NoteEdited. Money is a decimal string (\"5.50\")\n"
	  "or whole units (5); unknown types and unknown, missing or\n"
	  "ill-typed fields are refused with a message naming them, and\n"
	  "nothing is written. Prints event_id, device_id and seq.\n"
	  "--batch FILE: one {\"type\":...,\"payload\":{...}} per line (- for\n"
	  "stdin); all or nothing: every line is checked first and one bad\n"
	  "line refuses the whole file, naming the line. Prints one result\n"
	  "per line (an array with --json).\n"
	  "Example: cajactl append SaleCreated --json \\\n"
	  "  '{\"sale_id\":\"A-1\",\"items\":[{\"product_id\":\"coca-1l\","
	  "\"qty\":2,\"price_bs\":\"5.00\"}]}'" },
	{ "log", cmd_log, "[--device ID] [--since SEQ] [--limit N]",
	  "Lists events held, in (device, seq) order: device, seq, type,\n"
	  "entity (with --json: ids, hybrid logical clock, time, payload).\n"
	  "--device: one device (id or prefix of >= 8 hex digits);\n"
	  "--since SEQ: only events with seq > SEQ; --limit N: at most N." },
	{ "export", cmd_export, "--out FILE [--since VCLOCK]",
	  "Writes the signed events held (no agent needed) to FILE, for\n"
	  "'cajactl import' on another register or a USB stick. --since\n"
	  "VCLOCK: only what a register with that vector clock lacks, as\n"
	  "'cajactl status --json' prints it: '{\"DEVICE_ID\": SEQ, ...}'\n"
	  "(ids or prefixes of >= 8 hex digits)." },
	{ "import", cmd_import, "FILE",
	  "Verifies and merges an export file (needs the agent): signatures\n"
	  "(one per contiguous run), hash chains, enrollment and revocation.\n"
	  "A tampered, forged, unenrolled, revoked or forking event is\n"
	  "refused and named on stderr; the rest are kept. Exit 2 if any\n"
	  "was refused. The agent merges it in steps and goes on serving\n"
	  "appends and peers meanwhile ('status' shows its progress); this\n"
	  "command waits for the end (up to an hour unless --timeout)." },
	{ "get", cmd_get, "product|customer|sale ID",
	  "Shows one entity's state (read model) by its exact id." },
	{ "list", cmd_list, "product|customer|sale",
	  "Lists every entity of a kind, one per line (an array with\n"
	  "--json)." },
	{ "totals", cmd_totals, "[--day YYYY-MM-DD]",
	  "Sales count, totals, voids and net per device and for the store;\n"
	  "--day: one UTC day of the sales' hybrid logical clock." },
	{ "conflicts", cmd_conflicts, "[--all]",
	  "Lists pending conflicts (--all: resolved ones too), with every\n"
	  "competing value and the event, device and time of each. Types:\n"
	  "concurrent_update (a price set to different values concurrently),\n"
	  "fork (two events with one device sequence number), duplicate_id\n"
	  "(one sale id created with different contents), invite_reused." },
	{ "resolve", cmd_resolve, "CONFLICT_ID --value JSON [--by NAME]",
	  "Closes a conflict with the chosen value (needs the agent): a\n"
	  "replicated event, so the conflict closes on every register that\n"
	  "receives it. CONFLICT_ID: the id or a prefix of >= 8 hex digits.\n"
	  "--value is JSON: a price is '\"5.50\"'. --by: who (default $USER).\n"
	  "Example: cajactl resolve 3f2a91c0 --value '\"5.50\"' --by gerente" },
	{ "status", cmd_status, "",
	  "Device and store ids, vector clock, events held, pending\n"
	  "conflicts, and, from the running agent, peers, cloud and\n"
	  "counters (without an agent: the store's fields, agent\n"
	  "\"stopped\")." },
	{ "digest", cmd_digest, "",
	  "Prints a hash of the replicated content (events and the state\n"
	  "derived from them): two registers print the same digest exactly\n"
	  "when they hold the same events." },
	{ "help", cmd_help, "[COMMAND]", "This text, or one command's." },
	{ NULL, NULL, NULL, NULL }
};

static void
usage(FILE *f)
{
	const struct cmd	*c;

	fprintf(f, "usage: cajactl [--dir DIR] [--json] COMMAND [ARGS]\n\n");
	for (c = cmds; c->name != NULL; c++)
		fprintf(f, "  %-10s %s\n", c->name, c->usage);
	fprintf(f,
"\nOptions (before or after COMMAND):\n"
"  --dir DIR     data dir (default $CAJA_DIR, else " DIR_DEFAULT ")\n"
"  --json        one JSON document on stdout\n"
"  --timeout S   seconds to wait for the agent (default %d; import: %d)\n"
"  -h, --help    help; 'cajactl COMMAND --help' for one command\n"
"\nReads open the store directly and work without the agent; writes go\n"
"through the agent's control socket DIR/ctl.sock.\n"
"Exit status: 0 done, 1 usage error, 2 refused or failed.\n",
	    CTL_TIMEOUT_MS / 1000, IMPORT_TIMEOUT_MS / 1000);
}

static void
cmd_usage(FILE *f, const struct cmd *c)
{
	const char	*p, *nl;

	fprintf(f, "usage: cajactl %s [--dir DIR] [--json]%s%s\n\n",
	    c->name, c->usage[0] ? " " : "", c->usage);
	for (p = c->help; *p != '\0'; p = nl + (*nl != '\0')) {
		if ((nl = strchr(p, '\n')) == NULL)
			nl = p + strlen(p);
		fprintf(f, "  %.*s\n", (int)(nl - p), p);
	}
}

static int
cmd_help(int argc, char **argv)
{
	const struct cmd	*c;

	if (argc > 1)
		for (c = cmds; c->name != NULL; c++)
			if (strcmp(c->name, argv[1]) == 0) {
				cmd_usage(stdout, c);
				return 0;
			}
	usage(stdout);
	return 0;
}

static int
parse_timeout(const char *s)
{
	uint64_t	ms;

	if (conf_parse_duration_ms(s, &ms) || ms == 0 || ms > 3600000)
		usage_fail("--timeout '%s': not a duration (e.g. 10, 500ms)",
		    s);
	return (int)ms;
}

int
main(int argc, char *argv[])
{
	const struct cmd	*c;
	char			**av;
	int			  i, n = 0, help = 0, rc;

	if ((dir = getenv("CAJA_DIR")) == NULL || dir[0] == '\0')
		dir = DIR_DEFAULT;
	/*
	 * Pull the common options (--dir, --json, --timeout, --help) out of
	 * argv wherever they are; "append --json" is left to append.
	 */
	if ((av = calloc((size_t)argc + 1, sizeof(*av))) == NULL)
		fail("out of memory");
	av[n++] = argv[0];
	c = NULL;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dir") == 0) {
			if (++i >= argc)
				usage_fail("--dir needs DIR");
			dir = argv[i];
		} else if (strncmp(argv[i], "--dir=", 6) == 0)
			dir = argv[i] + 6;
		else if (strcmp(argv[i], "--timeout") == 0) {
			if (++i >= argc)
				usage_fail("--timeout needs seconds");
			timeout_ms = parse_timeout(argv[i]);
			timeout_given = 1;
		} else if (strcmp(argv[i], "--json") == 0 &&
		    (c == NULL || strcmp(c->name, "append") != 0))
			json_out = 1;
		else if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0)
			help = 1;
		else {
			if (c == NULL && argv[i][0] != '-') {
				for (c = cmds; c->name != NULL; c++)
					if (strcmp(c->name, argv[i]) == 0)
						break;
				if (c->name == NULL)
					usage_fail("unknown command '%s'",
					    argv[i]);
				cur = c;
			} else if (c == NULL)
				usage_fail("unknown option '%s'", argv[i]);
			av[n++] = argv[i];
		}
	}
	if (c == NULL) {
		free(av);
		usage(help ? stdout : stderr);
		return help ? 0 : EXIT_USAGE;
	}
	if (help) {
		free(av);
		cmd_usage(stdout, c);
		return 0;
	}
	if (dir[0] == '\0')
		usage_fail("--dir: empty");
	if (sig_init() != 0)
		fail("libsodium initialisation failed");
	/* av: argv[0], COMMAND, its args: commands see COMMAND as argv[0]. */
	optind = 1;
	rc = c->fn(n - 1, av + 1);
	free(av);
	return rc;
}
