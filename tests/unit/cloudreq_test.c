/*
 * cloudreq: the message a signed request to caja-cloud signs
 * (proto/cloudreq.h, tools/caja-cloud/API.md "Signed requests"), byte for
 * byte: the agent signs it and caja-cloud verifies it, so any change of
 * these bytes breaks every pull between builds.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "proto/cloudreq.h"

#define STORE	"f51018c3ddae297f1953f8b6aee09e45"
#define DA	"74f510067d5f683ba7eb61a7cea0cc34"
#define DB	"2553e8edbd9dc75b7569f5749c101354"
#define TIME	"1795844856322"
/* Hex BLAKE2b-256 of zero bytes and of "abc". */
#define H_EMPTY	"0e5751c026e543b2e8ab2eb06099daa1" \
		"d1e5df47778f7787faab45cdf12fe3a8"
#define H_ABC	"bddd813c634239723171ef3fee98579b" \
		"94964e3bb1cb3e427262c8c068d52319"

static void
assert_bytes(const struct buf *b, const char *want)
{
	cr_assert_eq(b->len, strlen(want), "length %zu, want %zu:\n%.*s",
	    b->len, strlen(want), (int)b->len, (const char *)b->p);
	cr_assert_eq(memcmp(b->p, want, b->len), 0, "got:\n%.*s\nwant:\n%s",
	    (int)b->len, (const char *)b->p, want);
}

/* The 8 lines of API.md, for the pull the uplink sends. */
Test(cloudreq, pull_message_of_the_api)
{
	struct cloudreq_arg	args[] = {
		{ "store", STORE },
		{ "since", DA ":4" },
		{ "max", "1000" },
	};
	struct buf		b;

	buf_init(&b, 0);
	cr_assert_eq(cloudreq_message(&b, "GET", "/v2/sync/pull", STORE, DB,
	    TIME, args, 3, NULL, 0), 0);
	assert_bytes(&b,
	    "caja-cloud-req-v1\n"
	    "GET\n"
	    "/v2/sync/pull\n"
	    STORE "\n"
	    DB "\n"
	    TIME "\n"
	    "max=1000&since=" DA ":4&store=" STORE "\n"
	    H_EMPTY);
	/* args sorted in place, by name */
	cr_assert_str_eq(args[0].name, "max");
	cr_assert_str_eq(args[1].name, "since");
	cr_assert_str_eq(args[2].name, "store");
	buf_reset(&b);
}

/* Every order of the same arguments gives the same bytes; equal names
 * are ordered by value. */
Test(cloudreq, argument_order_does_not_matter)
{
	static const struct cloudreq_arg	in[4] = {
		{ "b", "2" }, { "a", "y" }, { "a", "x" }, { "c", "" },
	};
	static const int	perms[][4] = {
		{ 0, 1, 2, 3 }, { 3, 2, 1, 0 }, { 2, 0, 3, 1 }, { 1, 3, 0, 2 },
	};
	struct cloudreq_arg	args[4];
	struct buf		b;
	size_t			p, i;

	buf_init(&b, 0);
	for (p = 0; p < sizeof(perms) / sizeof(perms[0]); p++) {
		for (i = 0; i < 4; i++)
			args[i] = in[perms[p][i]];
		cr_assert_eq(cloudreq_message(&b, "GET", "/p", STORE, DA,
		    "1", args, 4, NULL, 0), 0);
		assert_bytes(&b, "caja-cloud-req-v1\nGET\n/p\n" STORE "\n"
		    DA "\n1\na=x&a=y&b=2&c=\n" H_EMPTY);
	}
	buf_reset(&b);
}

/* A body is hashed; NULL fields are empty lines; no arguments, an empty
 * query line; the buffer is cleared first. */
Test(cloudreq, body_hash_and_empty_fields)
{
	struct buf	b;

	buf_init(&b, 0);
	cr_assert_eq(buf_add(&b, "stale", 5), 0);
	cr_assert_eq(cloudreq_message(&b, "POST", "/v2/stores/" STORE
	    "/events", STORE, DA, TIME, NULL, 0, (const uint8_t *)"abc", 3),
	    0);
	assert_bytes(&b, "caja-cloud-req-v1\nPOST\n/v2/stores/" STORE
	    "/events\n" STORE "\n" DA "\n" TIME "\n\n" H_ABC);
	cr_assert_eq(cloudreq_message(&b, NULL, NULL, NULL, NULL, NULL, NULL,
	    0, NULL, 0), 0);
	assert_bytes(&b, "caja-cloud-req-v1\n\n\n\n\n\n\n" H_EMPTY);
	buf_reset(&b);
}

/* The buffer's maximum is an error, not a truncated message. */
Test(cloudreq, bounded_by_the_buffer)
{
	struct cloudreq_arg	args[] = { { "since", DA ":4" } };
	struct buf		b;
	size_t			full, max;

	buf_init(&b, 0);
	cr_assert_eq(cloudreq_message(&b, "GET", "/v2/sync/pull", STORE, DB,
	    TIME, args, 1, NULL, 0), 0);
	full = b.len;
	buf_reset(&b);
	for (max = 1; max < full; max += 7) {
		buf_init(&b, max);
		cr_assert_eq(cloudreq_message(&b, "GET", "/v2/sync/pull",
		    STORE, DB, TIME, args, 1, NULL, 0), CAJA_ETOOBIG,
		    "max %zu of %zu", max, full);
		buf_reset(&b);
	}
	buf_init(&b, full);
	cr_assert_eq(cloudreq_message(&b, "GET", "/v2/sync/pull", STORE, DB,
	    TIME, args, 1, NULL, 0), 0, "exactly full");
	cr_assert_eq(b.len, full);
	buf_reset(&b);
}
