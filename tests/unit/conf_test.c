/*
 * conf_test: cajad's configuration: file syntax, flags over file, checks.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "agent/conf.h"
#include "agent/log.h"

static int
load(struct conf *c, const char *text, char err[CONF_ERRMSG])
{
	conf_defaults(c);
	return conf_load_buf(c, "t.conf", text, strlen(text), err);
}

Test(conf, defaults)
{
	struct conf	c;

	conf_defaults(&c);
	cr_assert_str_eq(c.listen, CONF_LISTEN_DEFAULT);
	cr_assert_str_eq(c.http, CONF_HTTP_DEFAULT);
	cr_assert_eq(c.mdns, 1);
	cr_assert_eq(c.npeers, 0);
	cr_assert_eq(c.log_level, LOG_LEVEL_INFO);
	cr_assert_eq(c.batch_max, CONF_BATCH_DEFAULT);
	cr_assert_eq(c.max_skew_ms, 300000);
}

Test(conf, file_keys)
{
	struct conf	c;
	char		err[CONF_ERRMSG];

	cr_assert_eq(load(&c,
	    "# comment\n"
	    "\n"
	    "dir = /var/lib/caja   # trailing comment\n"
	    "listen=tcp://127.0.0.1:7701\n"
	    "peer = tcp://10.0.0.2:7700\n"
	    "  peer = tcp://[::1]:7700\n"
	    "mdns = no\n"
	    "http = off\n"
	    "cloud = \"http://127.0.0.1:8080/x#y\"\n"
	    "map_max = 2M\n"
	    "max_skew = 30s\n"
	    "log_level = debug\n"
	    "batch_max = 64", err), 0, "%s", err);
	cr_assert_str_eq(c.dir, "/var/lib/caja");
	cr_assert_str_eq(c.listen, "tcp://127.0.0.1:7701");
	cr_assert_eq(c.npeers, 2);
	cr_assert_str_eq(c.peers[1], "tcp://[::1]:7700");
	cr_assert_eq(c.mdns, 0);
	cr_assert_str_eq(c.http, "off");
	cr_assert_str_eq(c.cloud, "http://127.0.0.1:8080/x#y");
	cr_assert_eq(c.map_max, 2u << 20);
	cr_assert_eq(c.max_skew_ms, 30000);
	cr_assert_eq(c.log_level, LOG_LEVEL_DEBUG);
	cr_assert_eq(c.batch_max, 64);
}

Test(conf, errors_name_line_and_key)
{
	struct conf	c;
	char		err[CONF_ERRMSG];

	cr_assert_neq(load(&c, "dir = /x\nfoo = 1\n", err), 0);
	cr_assert_str_eq(err, "t.conf:2: unknown key 'foo'");
	cr_assert_neq(load(&c, "listen = 10.0.0.1:7700\n", err), 0);
	cr_assert(strstr(err, "t.conf:1: listen") != NULL, "%s", err);
	cr_assert_neq(load(&c, "peer = tcp://h:99999\n", err), 0);
	cr_assert_neq(load(&c, "mdns = maybe\n", err), 0);
	cr_assert(strstr(err, "mdns") != NULL, "%s", err);
	cr_assert_neq(load(&c, "map_max = 12Q\n", err), 0);
	cr_assert_neq(load(&c, "map_max = 1K\n", err), 0);
	cr_assert_neq(load(&c, "max_skew = 0\n", err), 0);
	cr_assert_neq(load(&c, "log_level = loud\n", err), 0);
	cr_assert_neq(load(&c, "batch_max = 0\n", err), 0);
	cr_assert_neq(load(&c, "batch_max = 99999\n", err), 0);
	cr_assert_neq(load(&c, "cloud = ftp://x\n", err), 0);
	cr_assert_neq(load(&c, "just words\n", err), 0);
	cr_assert(strstr(err, "key = value") != NULL, "%s", err);
	cr_assert_neq(load(&c, "cloud = \"http://x\n", err), 0);
	cr_assert(strstr(err, "quote") != NULL, "%s", err);
}

Test(conf, flags_win_and_replace_peers)
{
	struct conf		c;
	char			err[CONF_ERRMSG];
	struct conf_arg		args[] = {
		{ "dir", "/d" },
		{ "peer", "tcp://10.0.0.9:7700" },
		{ "log_level", "warn" },
	};

	cr_assert_eq(conf_build(&c, NULL, args, 3, err), 0, "%s", err);
	cr_assert_str_eq(c.dir, "/d");
	cr_assert_eq(c.npeers, 1);
	cr_assert_eq(c.log_level, LOG_LEVEL_WARN);
	cr_assert_neq(conf_build(&c, NULL, args + 1, 2, err), 0);
	cr_assert(strstr(err, "dir") != NULL, "%s", err);
	cr_assert_neq(conf_build(&c, "/nonexistent/cajad.conf", args, 3,
	    err), 0);
	cr_assert(strstr(err, "/nonexistent/cajad.conf") != NULL, "%s", err);
}

Test(conf, sizes_and_durations)
{
	uint64_t	v;

	cr_assert_eq(conf_parse_size("4096", &v), 0);
	cr_assert_eq(v, 4096);
	cr_assert_eq(conf_parse_size("64G", &v), 0);
	cr_assert_eq(v, 64ull << 30);
	cr_assert_eq(conf_parse_size("512MiB", &v), 0);
	cr_assert_eq(v, 512ull << 20);
	cr_assert_neq(conf_parse_size("-1", &v), 0);
	cr_assert_neq(conf_parse_size("99999999999999999999", &v), 0);
	cr_assert_eq(conf_parse_duration_ms("500ms", &v), 0);
	cr_assert_eq(v, 500);
	cr_assert_eq(conf_parse_duration_ms("24h", &v), 0);
	cr_assert_eq(v, 86400000);
	cr_assert_eq(conf_parse_duration_ms("10", &v), 0);
	cr_assert_eq(v, 10000);
	cr_assert_neq(conf_parse_duration_ms("5 m", &v), 0);
}
