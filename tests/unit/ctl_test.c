/*
 * ctl_test: the control request decoder (agent/ctl.c), with hostile input.
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "agent/ctl.h"
#include "proto/event.h"

static int
dec(const char *s, struct ctl_request *r, long *bad, char err[CTL_ERRMSG])
{
	return ctl_request_decode(s, strlen(s), r, bad, err);
}

Test(ctl, ping_and_status)
{
	struct ctl_request	r;
	char			err[CTL_ERRMSG];

	cr_assert_eq(dec("{\"cmd\":\"ping\"}", &r, NULL, err), 0, "%s", err);
	cr_assert_eq(r.cmd, CTL_PING);
	cr_assert_null(r.id);
	ctl_request_reset(&r);
	cr_assert_eq(dec(" {\"cmd\":\"status\",\"id\":\"abc\"}\n", &r, NULL,
	    err), 0, "%s", err);
	cr_assert_eq(r.cmd, CTL_STATUS);
	cr_assert_str_eq(json_string_value(r.id), "abc");
	ctl_request_reset(&r);
	cr_assert_null(r.root);
}

Test(ctl, append_decodes_type_and_payload)
{
	struct ctl_request	r;
	char			err[CTL_ERRMSG];

	cr_assert_eq(dec("{\"cmd\":\"append\",\"type\":\"ProductUpdated\","
	    "\"payload\":{\"product_id\":\"p1\",\"name\":\"Cafe\"}}", &r, NULL,
	    err), 0, "%s", err);
	cr_assert_eq(r.cmd, CTL_APPEND);
	cr_assert_eq(r.nevents, 1);
	cr_assert_eq(r.events[0].type, EV_PRODUCT_UPDATED);
	cr_assert_str_eq(r.events[0].type_name, "ProductUpdated");
	cr_assert_str_eq(json_string_value(json_object_get(r.events[0].payload,
	    "name")), "Cafe");
	cr_assert(ctl_cmd_is_write(r.cmd));
	ctl_request_reset(&r);
}

Test(ctl, unknown_type_is_refused_by_name)
{
	struct ctl_request	r;
	char			err[CTL_ERRMSG];

	cr_assert_eq(dec("{\"cmd\":\"append\",\"type\":\"Bogus\","
	    "\"payload\":{}}", &r, NULL, err), CAJA_ETYPE);
	cr_assert(strstr(err, "Bogus") != NULL, "%s", err);
	cr_assert_eq(r.root, NULL);
	cr_assert_eq(r.events, NULL);
}

Test(ctl, identity_types_cannot_be_appended)
{
	struct ctl_request	r;
	char			err[CTL_ERRMSG];

	cr_assert_eq(dec("{\"cmd\":\"append\",\"type\":\"ConflictResolved\","
	    "\"payload\":{}}", &r, NULL, err), CAJA_ETYPE);
	cr_assert(strstr(err, "resolve") != NULL, "%s", err);
	cr_assert_eq(dec("{\"cmd\":\"append\",\"type\":\"DeviceRevoked\","
	    "\"payload\":{}}", &r, NULL, err), CAJA_ETYPE);
}

Test(ctl, missing_field_is_named)
{
	struct ctl_request	r;
	char			err[CTL_ERRMSG];

	cr_assert_eq(dec("{\"cmd\":\"append\",\"type\":\"StockReceived\","
	    "\"payload\":{\"product_id\":\"p1\"}}", &r, NULL, err),
	    CAJA_EFIELD);
	cr_assert(strstr(err, "qty") != NULL, "%s", err);
	cr_assert_eq(dec("{\"cmd\":\"append\",\"type\":\"PriceChanged\","
	    "\"payload\":{\"product_id\":\"p1\",\"price_bs\":1.5}}", &r, NULL,
	    err), CAJA_EFIELD);
	cr_assert(strstr(err, "price_bs") != NULL, "%s", err);
	cr_assert_eq(dec("{\"cmd\":\"append\",\"type\":\"PriceChanged\"}",
	    &r, NULL, err), CAJA_EFIELD);
	cr_assert(strstr(err, "payload") != NULL, "%s", err);
	cr_assert_eq(dec("{\"cmd\":\"append\",\"type\":\"PriceChanged\","
	    "\"payload\":[1]}", &r, NULL, err), CAJA_EFIELD);
}

Test(ctl, batch_names_the_bad_event)
{
	struct ctl_request	r;
	char			err[CTL_ERRMSG];
	long			bad = 99;

	cr_assert_eq(dec("{\"cmd\":\"append_batch\",\"events\":["
	    "{\"type\":\"StockReceived\",\"payload\":{\"product_id\":\"p\","
	    "\"qty\":2}},"
	    "{\"type\":\"StockAdjusted\",\"payload\":{\"product_id\":\"p\","
	    "\"delta\":-1}},"
	    "{\"type\":\"StockReceived\",\"payload\":{\"product_id\":\"p\","
	    "\"qty\":0}}]}", &r, &bad, err), CAJA_EFIELD);
	cr_assert_eq(bad, 2);
	cr_assert(strncmp(err, "event 2: ", 9) == 0, "%s", err);
	cr_assert(strstr(err, "qty") != NULL, "%s", err);

	cr_assert_eq(dec("{\"cmd\":\"append_batch\",\"events\":["
	    "{\"type\":\"StockReceived\",\"payload\":{\"product_id\":\"p\","
	    "\"qty\":2}},"
	    "{\"type\":\"StockAdjusted\",\"payload\":{\"product_id\":\"p\","
	    "\"delta\":-1}}]}", &r, &bad, err), 0, "%s", err);
	cr_assert_eq(bad, -1);
	cr_assert_eq(r.nevents, 2);
	cr_assert_eq(r.events[1].type, EV_STOCK_ADJUSTED);
	ctl_request_reset(&r);

	cr_assert_eq(dec("{\"cmd\":\"append_batch\",\"events\":[]}", &r,
	    &bad, err), CAJA_EINVAL);
	cr_assert_eq(dec("{\"cmd\":\"append_batch\",\"events\":[{\"type\":"
	    "\"StockReceived\",\"payload\":{},\"x\":1}]}", &r, &bad, err),
	    CAJA_EINVAL);
	cr_assert(strstr(err, "'x'") != NULL, "%s", err);
	cr_assert_eq(bad, 0);
}

Test(ctl, malformed_json)
{
	struct ctl_request	r;
	char			err[CTL_ERRMSG];

	cr_assert_eq(dec("", &r, NULL, err), CAJA_EDECODE);
	cr_assert_eq(dec("{\"cmd\":\"ping\"} x", &r, NULL, err),
	    CAJA_EDECODE);
	cr_assert_eq(dec("{\"cmd\":\"ping\",\"cmd\":\"status\"}", &r, NULL,
	    err), CAJA_EDECODE);
	cr_assert_eq(dec("{\"cmd\":\"ping\"", &r, NULL, err), CAJA_EDECODE);
	cr_assert_eq(dec("[\"ping\"]", &r, NULL, err), CAJA_EINVAL);
	cr_assert_eq(dec("\"ping\"", &r, NULL, err), CAJA_EDECODE);
	cr_assert_eq(ctl_request_decode("{\"cmd\":\"pi\0g\"}", 15, &r, NULL,
	    err), CAJA_EDECODE);
}

Test(ctl, size_and_depth_limits)
{
	struct ctl_request	 r;
	char			 err[CTL_ERRMSG];
	char			*big;
	size_t			 i, n = CTL_MSG_MAX + 1;

	big = malloc(n);
	cr_assert_not_null(big);
	memset(big, ' ', n);
	big[0] = '{';
	cr_assert_eq(ctl_request_decode(big, n, &r, NULL, err), CAJA_ETOOBIG);
	cr_assert(strstr(err, "larger") != NULL, "%s", err);
	/* 1000 nested arrays in a member: refused before jansson runs. */
	n = 0;
	n += (size_t)snprintf(big, 64, "{\"cmd\":\"ping\",\"x\":");
	for (i = 0; i < 1000; i++)
		big[n++] = '[';
	for (i = 0; i < 1000; i++)
		big[n++] = ']';
	big[n++] = '}';
	cr_assert_eq(ctl_request_decode(big, n, &r, NULL, err), CAJA_ETOOBIG);
	cr_assert(strstr(err, "deeper") != NULL, "%s", err);
	/* Brackets inside strings do not count. */
	n = (size_t)snprintf(big, 4096, "{\"cmd\":\"ping\",\"id\":\"%s\"}",
	    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[");
	cr_assert_eq(ctl_request_decode(big, n, &r, NULL, err), 0, "%s", err);
	ctl_request_reset(&r);
	free(big);
}

Test(ctl, commands_and_members)
{
	struct ctl_request	r;
	char			err[CTL_ERRMSG];

	cr_assert_eq(dec("{\"cmd\":\"shutdown\"}", &r, NULL, err),
	    CAJA_EINVAL);
	cr_assert(strstr(err, "shutdown") != NULL, "%s", err);
	cr_assert_eq(dec("{\"type\":\"x\"}", &r, NULL, err), CAJA_EINVAL);
	cr_assert(strstr(err, "cmd") != NULL, "%s", err);
	cr_assert_eq(dec("{\"cmd\":\"ping\",\"force\":true}", &r, NULL, err),
	    CAJA_EINVAL);
	cr_assert(strstr(err, "force") != NULL, "%s", err);
	cr_assert_eq(dec("{\"cmd\":\"ping\",\"id\":[1]}", &r, NULL, err),
	    CAJA_EINVAL);

	cr_assert_eq(dec("{\"cmd\":\"invite\",\"role\":\"register\","
	    "\"ttl_ms\":3600000}", &r, NULL, err), 0, "%s", err);
	cr_assert_str_eq(r.role, "register");
	cr_assert_eq(r.ttl_ms, 3600000);
	cr_assert_eq(r.expires_ms, 0);
	ctl_request_reset(&r);
	cr_assert_eq(dec("{\"cmd\":\"invite\",\"ttl_ms\":1,\"expires_ms\":2}",
	    &r, NULL, err), CAJA_EINVAL);
	cr_assert_eq(dec("{\"cmd\":\"invite\",\"ttl_ms\":-1}", &r, NULL, err),
	    CAJA_EINVAL);

	cr_assert_eq(dec("{\"cmd\":\"revoke\",\"reason\":\"stolen\"}", &r,
	    NULL, err), CAJA_EINVAL);
	cr_assert(strstr(err, "device") != NULL, "%s", err);
	cr_assert_eq(dec("{\"cmd\":\"revoke\",\"device\":\"0123abcd\","
	    "\"reason\":\"stolen\"}", &r, NULL, err), 0, "%s", err);
	cr_assert_str_eq(r.device, "0123abcd");
	cr_assert_str_eq(r.reason, "stolen");
	ctl_request_reset(&r);

	cr_assert_eq(dec("{\"cmd\":\"resolve\",\"conflict\":\"abcdef01\"}",
	    &r, NULL, err), CAJA_EINVAL);
	cr_assert(strstr(err, "value") != NULL, "%s", err);
	cr_assert_eq(dec("{\"cmd\":\"resolve\",\"conflict\":\"abcdef01\","
	    "\"value\":\"12.50\",\"by\":\"ana\"}", &r, NULL, err), 0, "%s",
	    err);
	cr_assert_str_eq(json_string_value(r.value), "12.50");
	cr_assert_str_eq(r.by, "ana");
	ctl_request_reset(&r);

	cr_assert_eq(dec("{\"cmd\":\"import\",\"path\":\"rel/x\"}", &r, NULL,
	    err), CAJA_EINVAL);
	cr_assert(strstr(err, "absolute") != NULL, "%s", err);
	cr_assert_eq(dec("{\"cmd\":\"import\",\"path\":\"\"}", &r, NULL,
	    err), CAJA_EINVAL);
	cr_assert_eq(dec("{\"cmd\":\"import\",\"path\":\"/tmp/x\"}", &r,
	    NULL, err), 0, "%s", err);
	cr_assert_str_eq(r.path, "/tmp/x");
	ctl_request_reset(&r);
}

Test(ctl, replies)
{
	json_t	*r, *id = json_string("7");

	r = ctl_reply_error(CAJA_EFULL, "store full", id);
	cr_assert_not_null(r);
	cr_assert(json_is_false(json_object_get(r, "ok")));
	cr_assert_str_eq(json_string_value(json_object_get(r, "error")),
	    "store full");
	cr_assert_eq(json_integer_value(json_object_get(r, "code")),
	    CAJA_EFULL);
	cr_assert_str_eq(json_string_value(json_object_get(r, "id")), "7");
	json_decref(r);
	r = ctl_reply_ok(NULL);
	cr_assert(json_is_true(json_object_get(r, "ok")));
	json_decref(r);
	json_decref(id);
}
