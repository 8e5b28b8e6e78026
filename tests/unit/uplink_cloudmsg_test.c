/*
 * uplink_cloudmsg_test: what the uplink reads back from caja-cloud
 * (agent/cloudmsg.h): the push answer of API.md, Retry-After; hostile
 * answers return an error, never crash. Compact vector clocks:
 * vclock_test.c; the signed-request message: cloudreq_test.c.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "agent/cloudmsg.h"

#define DA	"74f510067d5f683ba7eb61a7cea0cc34"
#define DB	"2553e8edbd9dc75b7569f5749c101354"
#define DC	"d1ee000000000000000000000000e8bd"

/* The example answer of tools/caja-cloud/API.md (ids completed). */
static const char push_answer[] =
"{\"store_id\": \"f51018c3ddae297f1953f8b6aee09e45\","
" \"accepted\": 3, \"duplicate\": 11, \"conflicted\": 1, \"rejected\": 2,"
" \"retry\": 1, \"conflicts_pending\": 1,"
" \"vector_clock\": {\"" DA "\": 9, \"" DB "\": 2},"
" \"server_time_ms\": 1795844856322,"
" \"results\": ["
"  {\"event_id\": \"6c96\", \"device_id\": \"" DA "\", \"seq\": 1,"
"   \"status\": \"duplicate\"},"
"  {\"event_id\": \"a41e\", \"device_id\": \"" DA "\", \"seq\": 7,"
"   \"status\": \"accepted\"},"
"  {\"event_id\": \"3a94\", \"device_id\": \"" DC "\", \"seq\": 4,"
"   \"status\": \"conflicted\"},"
"  {\"event_id\": \"0636\", \"device_id\": \"" DA "\", \"seq\": 8,"
"   \"status\": \"rejected\", \"error\": \"signature\","
"   \"reason\": \"bad signature\", \"retry\": false},"
"  {\"event_id\": \"9b1c\", \"device_id\": \"" DA "\", \"seq\": 9,"
"   \"status\": \"rejected\", \"error\": \"chain\","
"   \"reason\": \"causal: waits for device 1c90a6087687b3d0 seq 3\","
"   \"retry\": true},"
"  {\"event_id\": \"77aa\", \"status\": \"rejected\", \"error\":"
"   \"malformed\", \"retry\": false}"
" ]}";

Test(cloudmsg, push_answer_of_the_api)
{
	struct cloudmsg_push	*p = malloc(sizeof(*p));
	uint8_t			 id[ID_LEN];

	cr_assert_eq(cloudmsg_push_parse(push_answer, strlen(push_answer), p),
	    0);
	cr_assert_eq(p->accepted, 3);
	cr_assert_eq(p->duplicate, 11);
	cr_assert_eq(p->conflicted, 1);
	cr_assert_eq(p->rejected, 2);
	cr_assert_eq(p->retry, 1);
	cr_assert_eq(p->results, 6);
	cr_assert_eq(p->conflicts_pending, 1);
	cr_assert_eq(p->vc.n, 2);
	cr_assert_eq(ids_unhex(id, ID_LEN, DA), 0);
	cr_assert_eq(vclock_get(&p->vc, id), 9);
	/* Only the refusal for good that names a device. */
	cr_assert_eq(p->nreject, 1);
	cr_assert_eq(memcmp(p->reject[0].dev, id, ID_LEN), 0);
	cr_assert_eq(p->reject[0].seq, 8);
	cr_assert_str_eq(p->reject[0].error, "signature");
	cr_assert_str_eq(p->first_error, "rejected: signature: bad signature");
	free(p);
}

Test(cloudmsg, hostile_answers_are_errors)
{
	static const char *const bad[] = {
		"",
		"[]",
		"{",
		"{\"accepted\": 1}",			/* no clock */
		"{\"vector_clock\": []}",
		"{\"vector_clock\": {\"xyz\": 1}}",
		"{\"vector_clock\": {\"" DA "\": -1}}",
		"{\"vector_clock\": {\"" DA "\": \"1\"}}",
		"{\"vector_clock\": {}, \"results\": {}}",
		"{\"vector_clock\": {}, \"vector_clock\": {}}",
	};
	struct cloudmsg_push	*p = malloc(sizeof(*p));
	size_t			 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(cloudmsg_push_parse(bad[i], strlen(bad[i]), p),
		    CAJA_EDECODE, "accepted '%s'", bad[i]);
	/* Odd results are skipped, not trusted. */
	{
		const char	*odd = "{\"vector_clock\": {}, \"results\": "
		    "[1, null, {\"status\": 3}, {\"status\": \"rejected\"}]}";

		cr_assert_eq(cloudmsg_push_parse(odd, strlen(odd), p), 0);
	}
	cr_assert_eq(p->nreject, 0);
	free(p);
}

Test(cloudmsg, error_text)
{
	char	out[64];

	cloudmsg_error_text("{\"error\": \"rate limit\", \"status\": 429}", 38,
	    out, sizeof(out));
	cr_assert_str_eq(out, "rate limit");
	cloudmsg_error_text("<html>\n", 7, out, sizeof(out));
	cr_assert_str_eq(out, "<html>?");
	cloudmsg_error_text(NULL, 0, out, sizeof(out));
	cr_assert_str_eq(out, "");
}

Test(cloudmsg, retry_after)
{
	cr_assert_eq(cloudmsg_retry_after("2"), 2);
	cr_assert_eq(cloudmsg_retry_after(" 30 "), 30);
	cr_assert_eq(cloudmsg_retry_after("0"), 0);
	cr_assert_eq(cloudmsg_retry_after(NULL), 0);
	cr_assert_eq(cloudmsg_retry_after("soon"), 0);
	cr_assert_eq(cloudmsg_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), 0);
	cr_assert_eq(cloudmsg_retry_after("1e9"), 0);
	cr_assert_eq(cloudmsg_retry_after("99999999999999"), 3600);
}
