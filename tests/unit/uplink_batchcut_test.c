/*
 * uplink_batchcut_test: store_frames_closed (store/batchcut.c), the cut of
 * the uplink's pushes. Two registers whose logs depend on each other
 * (each one's later events were written after it saw the other's), cut
 * in small batches into a third store: every batch is applied on its own,
 * nothing refused, until the receiver holds exactly what the sender holds.
 */
#include "store_fixture.h"

TestSuite(batchcut, .init = fx_setup, .fini = fx_teardown);

struct frames {
	const uint8_t	*f[4096];
	size_t		 len[4096];
	size_t		 n;
};

static int
frame_cb(void *arg, const uint8_t *p, size_t len)
{
	struct frames	*fr = arg;

	cr_assert_lt(fr->n, 4096);
	fr->f[fr->n] = p;
	fr->len[fr->n++] = len;
	return 0;
}

/* Ingests a cut into s; returns the report. */
static void
ingest(struct store *s, const struct buf *b, size_t count,
    struct store_report *rep)
{
	static struct frames	fr;
	struct store_batch	*bt = NULL;

	fr.n = 0;
	cr_assert_eq(store_export_parse(b->p, b->len, frame_cb, &fr), 0);
	cr_assert_eq(fr.n, count, "frames in the body");
	memset(rep, 0, sizeof(*rep));
	cr_assert_eq(store_batch_begin(s, &bt), 0);
	cr_assert_eq(store_ingest(bt, fr.f, fr.len, fr.n, T0 + 10000, rep),
	    0);
	cr_assert_eq(store_batch_commit(&bt), 0);
}

/* a and b, entangled; c joined, holding nothing of theirs. */
static void
three(struct store **a, struct store **b, struct store **c)
{
	char	j[128];
	int	i, k;

	*a = fx_create(fx_path("a"), "caja-1");
	*b = fx_join(*a, fx_path("b"), "caja-2", T0 + 100);
	*c = fx_join(*a, fx_path("c"), "caja-3", T0 + 150);
	fx_sync(*c, *a, "c0.exp", T0 + 160);
	for (k = 0; k < 3; k++) {
		for (i = 0; i < 7; i++) {
			snprintf(j, sizeof(j), "{\"product_id\":\"a%d-%d\","
			    "\"name\":\"x\"}", k, i);
			fx_append(*a, "ProductUpdated", j, T0 + 200 + k * 100);
		}
		fx_sync(*a, *b, "ab.exp", T0 + 220 + k * 100);
		for (i = 0; i < 7; i++) {
			snprintf(j, sizeof(j), "{\"product_id\":\"a%d-%d\","
			    "\"qty\":%d}", k, i, i + 1);
			fx_append(*b, "StockReceived", j, T0 + 250 + k * 100);
		}
		fx_sync(*b, *a, "ba.exp", T0 + 280 + k * 100);
	}
}

static void
drain(struct store *from, struct store *to, size_t max, size_t max_bytes,
    size_t *rounds)
{
	struct store_report	rep;
	struct vclock		since;
	struct buf		out;
	size_t			n, total = 0;
	int			more;

	buf_init(&out, 0);
	*rounds = 0;
	for (;;) {
		cr_assert_eq(store_vclock(to, &since), 0);
		cr_assert_eq(store_frames_closed(from, &since, max, max_bytes,
		    &out, &n, &more), 0);
		cr_assert_geq(out.len, 8);
		cr_assert_eq(memcmp(out.p, STORE_EXPORT_MAGIC, 8), 0);
		if (n == 0) {
			cr_assert_eq(more, 0);
			break;
		}
		cr_assert_leq(n, max);
		ingest(to, &out, n, &rep);
		cr_assert_eq(rep.refused, 0, "round %zu: %zu of %zu refused: "
		    "%s", *rounds, rep.refused, n, rep.nrefusals ?
		    rep.refusals[0].msg : "");
		cr_assert_eq(rep.accepted, n, "round %zu: accepted %zu of %zu",
		    *rounds, rep.accepted, n);
		total += n;
		(*rounds)++;
		cr_assert_lt(*rounds, 1000, "no end");
	}
	buf_reset(&out);
	(void)total;
}

Test(batchcut, every_cut_applies_on_its_own)
{
	struct store	*a, *b, *c;
	char		 da[HASH_HEX], dc[HASH_HEX];
	size_t		 max, rounds;

	for (max = 1; max <= 9; max += 4) {
		fx_teardown();
		fx_setup();
		three(&a, &b, &c);
		drain(a, c, max, 0, &rounds);
		fx_digest(a, da);
		fx_digest(c, dc);
		cr_assert_str_eq(da, dc, "max %zu: receiver differs", max);
		cr_assert_eq(fx_count(a), fx_count(c));
		cr_assert_geq(rounds, (fx_count(a) - 1) / max);
		store_close(&a);
		store_close(&b);
		store_close(&c);
	}
}

Test(batchcut, byte_bound_and_first_frame)
{
	struct store	*a, *b, *c;
	struct buf	 out;
	size_t		 n, rounds;
	int		 more;

	three(&a, &b, &c);
	buf_init(&out, 0);
	/* 1 byte: still one frame, so that it always makes progress. */
	cr_assert_eq(store_frames_closed(a, NULL, 100, 1, &out, &n, &more), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(more, 1);
	cr_assert_eq(store_frames_closed(a, NULL, 100, 2000, &out, &n, &more),
	    0);
	cr_assert_leq(out.len, 8 + 2000);
	cr_assert_gt(n, 1);
	cr_assert_eq(store_frames_closed(a, NULL, 0, 0, &out, &n, &more),
	    CAJA_EINVAL);
	drain(a, c, 50, 1, &rounds);
	cr_assert_eq(rounds, fx_count(a) - 1, "one frame per cut");
	buf_reset(&out);
	store_close(&a);
	store_close(&b);
	store_close(&c);
}

Test(batchcut, holder_of_everything_gets_nothing)
{
	struct store	*a, *b, *c;
	struct vclock	 vc;
	struct buf	 out;
	size_t		 n;
	int		 more;

	three(&a, &b, &c);
	buf_init(&out, 0);
	cr_assert_eq(store_vclock(a, &vc), 0);
	cr_assert_eq(store_frames_closed(a, &vc, 10, 0, &out, &n, &more), 0);
	cr_assert_eq(n, 0);
	cr_assert_eq(more, 0);
	cr_assert_eq(out.len, 8);
	buf_reset(&out);
	store_close(&a);
	store_close(&b);
	store_close(&c);
}
