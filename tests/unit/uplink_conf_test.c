/*
 * uplink_conf_test: the uplink's configuration keys (agent/conf.h):
 * cloud_batch_min, cloud_batch_max, cloud_poll, cloud_timeout.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "agent/conf.h"

Test(uplink_conf, defaults_and_keys)
{
	struct conf	c;
	char		err[CONF_ERRMSG];
	const char	*file = "dir = /tmp/x\ncloud = http://127.0.0.1:8080/\n"
	    "cloud_batch_min = 20\ncloud_batch_max = 500\n"
	    "cloud_poll = 5s\ncloud_timeout = 1500ms\n";

	conf_defaults(&c);
	cr_assert_eq(c.cloud_batch_min, 10);
	cr_assert_eq(c.cloud_batch_max, 1000);
	cr_assert_eq(c.cloud_poll_ms, 2000);
	cr_assert_eq(c.cloud_timeout_ms, 30000);
	cr_assert_eq(conf_load_buf(&c, "t", file, strlen(file), err), 0, "%s",
	    err);
	cr_assert_eq(c.cloud_batch_min, 20);
	cr_assert_eq(c.cloud_batch_max, 500);
	cr_assert_eq(c.cloud_poll_ms, 5000);
	cr_assert_eq(c.cloud_timeout_ms, 1500);
	cr_assert_eq(conf_check(&c, err), 0, "%s", err);
}

Test(uplink_conf, bad_values_are_refused)
{
	static const char *const bad[][2] = {
		{ "cloud_batch_min", "0" },
		{ "cloud_batch_max", "10001" },
		{ "cloud_batch_max", "12x" },
		{ "cloud_batch_min", "" },
		{ "cloud_poll", "50ms" },
		{ "cloud_poll", "2h" },
		{ "cloud_timeout", "soon" },
		{ "cloud", "ftp://x" },
	};
	struct conf	c;
	char		err[CONF_ERRMSG];
	size_t		i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		conf_defaults(&c);
		cr_assert_neq(conf_set(&c, bad[i][0], bad[i][1], err), 0,
		    "%s = '%s' accepted", bad[i][0], bad[i][1]);
		cr_assert(strstr(err, bad[i][0]) != NULL, "error names the "
		    "key: %s", err);
	}
	conf_defaults(&c);
	cr_assert_eq(conf_set(&c, "dir", "/tmp/x", err), 0);
	cr_assert_eq(conf_set(&c, "cloud_batch_min", "2000", err), 0);
	cr_assert_neq(conf_check(&c, err), 0, "min above max");
	cr_assert(strstr(err, "cloud_batch_min") != NULL, "%s", err);
}
