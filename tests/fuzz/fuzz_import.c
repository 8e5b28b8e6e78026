/*
 * fuzz_import: export files and the ingest path behind them. Import files
 * come from USB sticks and other registers: untrusted bytes.
 *
 * At start-up the target makes a real store: an admin register a, two
 * joined registers b and c, a copy of a that forks a's log, prices set
 * concurrently, a sale id created twice, a note, a void, a revocation;
 * the valid signed events of all of them are the pool. Each input is then
 * either
 *   - an export file ("CAJAEXP1..."): parsed (store_export_parse), each
 *     frame through event_decode, the whole through store_ingest; or
 *   - a recipe: pairs of bytes, each picking a pool event and what to do
 *     with it (keep it, flip one of its bits, cut it short), so that valid
 *     signatures, chains, forks, causal waits, invites and revocations are
 *     reached in any order, with duplicates and damage.
 * The frames go to a scratch register (a copy of a's genesis) in one
 * batch, aborted afterwards: every input starts from the same state.
 * Every frame must be accounted for (accepted, duplicate or refused).
 *
 * An export file is also written to disk and imported as the agent does
 * it (store_import_open, then steps of 7 events, with their passes) into
 * another copy of that genesis, restored before each input: the file's
 * frame index must agree with store_export_parse (the same frames, the
 * same verdict on a malformed file) and the import must account for every
 * frame too.
 */
#define _GNU_SOURCE
#include <sys/stat.h>

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "proto/event.h"
#include "store/store.h"

#define MAXFRAMES	4096
#define POOL_MAX	128
#define T0		1700000000000ull

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct frames {
	const uint8_t	*p[MAXFRAMES];
	size_t		 len[MAXFRAMES];
	size_t		 n;
};

static struct {
	uint8_t	*p[POOL_MAX];
	size_t	 len[POOL_MAX];
	size_t	 n;
} pool;

static struct store	*scratch, *imp;
static char		 root[] = "/tmp/caja-fuzz-import.XXXXXX";

static void __attribute__((noreturn))
die(const char *what, int rc)
{
	fprintf(stderr, "fuzz_import: setup: %s: %s\n", what, err_str(rc));
	abort();
}

static const char *
path(const char *name)
{
	static char	b[4][512];
	static int	slot;
	char		*p = b[slot++ % 4];

	snprintf(p, 512, "%s/%s", root, name);
	return p;
}

static struct store *
open_dir(const char *name)
{
	struct store		*s = NULL;
	struct store_opts	 o = { .nosync = 1 };
	int			 rc;

	if ((rc = store_open(&s, path(name), &o)) != 0)
		die(name, rc);
	return s;
}

static void
append(struct store *s, const char *type, const char *json, uint64_t now)
{
	struct store_batch	*b = NULL;
	struct store_appended	 ap;
	char			 msg[STORE_ERRMSG];
	json_t			*j;
	int			 rc;

	if ((j = json_loads(json, 0, NULL)) == NULL)
		die(json, CAJA_EINVAL);
	if ((rc = store_batch_begin(s, &b)) != 0 ||
	    (rc = store_append_json(b, type, j, now, &ap, msg)) != 0 ||
	    (rc = store_batch_commit(&b)) != 0)
		die(type, rc);
	json_decref(j);
}

static void
sync_to(struct store *from, struct store *to, uint64_t now)
{
	struct store_report	rep;
	char			msg[STORE_ERRMSG];
	int			rc;

	if ((rc = store_export(from, NULL, path("x.exp"), NULL)) != 0 ||
	    (rc = store_import(to, path("x.exp"), now, &rep, msg)) != 0)
		die("sync", rc);
}

static struct store *
join(struct store *admin, const char *name, uint64_t now)
{
	struct store_batch	*b = NULL;
	struct store_ids	 ids;
	char			 token[IDENT_TOKEN_MAX], msg[STORE_ERRMSG];
	int			 rc;

	if ((rc = store_batch_begin(admin, &b)) != 0 ||
	    (rc = store_invite(b, "register", now + 86400000, now, token,
	    sizeof(token), msg)) != 0 ||
	    (rc = store_batch_commit(&b)) != 0 ||
	    (rc = store_join(path(name), token, name, now + 1, &ids)) != 0)
		die("join", rc);
	return open_dir(name);
}

static void
copy(const char *from, const char *to)
{
	char	 a[512], b[512], buf[65536];
	FILE	*in, *out;
	size_t	 n;

	snprintf(a, sizeof(a), "%s", from);
	snprintf(b, sizeof(b), "%s", to);
	if ((in = fopen(a, "rb")) == NULL || (out = fopen(b, "wb")) == NULL)
		die(a, CAJA_EIO);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			die(b, CAJA_EIO);
	fclose(in);
	fclose(out);
	chmod(b, 0600);
}

/* A copy of data dir `from` (closed) as `to`: the same device. */
static void
clone(const char *from, const char *to)
{
	char	a[512], b[512];

	if (mkdir(path(to), 0700) != 0)
		die(to, CAJA_EIO);
	snprintf(a, sizeof(a), "%s/data.mdb", path(from));
	snprintf(b, sizeof(b), "%s/data.mdb", path(to));
	copy(a, b);
	snprintf(a, sizeof(a), "%s/device.key", path(from));
	snprintf(b, sizeof(b), "%s/device.key", path(to));
	copy(a, b);
}

static int
grab(void *arg, const uint8_t *p, size_t len)
{
	(void)arg;
	if (pool.n == POOL_MAX)
		return 0;
	if ((pool.p[pool.n] = malloc(len)) == NULL)
		die("pool", CAJA_ENOMEM);
	memcpy(pool.p[pool.n], p, len);
	pool.len[pool.n++] = len;
	return 0;
}

/* The pool in a stable order (a, b, c, then seq; the fork after the event
 * it forks), so that a recipe means the same in every run. */
static uint8_t	rank_dev[3][ID_LEN];

static int
rank(const uint8_t *p, size_t len, uint64_t *seq)
{
	struct event	ev;
	int		i;

	if (event_decode(&ev, p, len) != 0)
		die("pool", CAJA_EDECODE);
	*seq = ev.seq;
	for (i = 0; i < 3; i++)
		if (memcmp(ev.dev, rank_dev[i], ID_LEN) == 0)
			return i;
	return 3;
}

static int
pool_cmp(const void *x, const void *y)
{
	size_t		a = *(const size_t *)x, b = *(const size_t *)y;
	uint64_t	sa, sb;
	int		ra, rb;

	ra = rank(pool.p[a], pool.len[a], &sa);
	rb = rank(pool.p[b], pool.len[b], &sb);
	if (ra != rb)
		return ra < rb ? -1 : 1;
	if (sa != sb)
		return sa < sb ? -1 : 1;
	return a < b ? -1 : a > b;
}

static void
pool_sort(void)
{
	uint8_t	*p[POOL_MAX];
	size_t	 len[POOL_MAX], idx[POOL_MAX], i;

	for (i = 0; i < pool.n; i++)
		idx[i] = i;
	qsort(idx, pool.n, sizeof(idx[0]), pool_cmp);
	for (i = 0; i < pool.n; i++) {
		p[i] = pool.p[idx[i]];
		len[i] = pool.len[idx[i]];
	}
	memcpy(pool.p, p, sizeof(p[0]) * pool.n);
	memcpy(pool.len, len, sizeof(len[0]) * pool.n);
}

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void
cleanup(void)
{
	store_close(&scratch);
	store_close(&imp);
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
setup(void)
{
	struct store		*a, *b, *c, *f;
	struct store_batch	*bt = NULL;
	struct store_ids	 ids;
	struct vclock		 vc, fork;
	char			 msg[STORE_ERRMSG], hex[ID_HEX];
	int			 rc;

	if (sig_init() != 0 || mkdtemp(root) == NULL)
		die("temp dir", CAJA_EIO);
	atexit(cleanup);
	if ((rc = store_create(path("a"), "Fuzz", "caja-1", T0, &ids)) != 0)
		die("create", rc);
	clone("a", "g");
	a = open_dir("a");
	b = join(a, "b", T0 + 100);
	c = join(a, "c", T0 + 200);
	sync_to(a, b, T0 + 300);
	sync_to(a, c, T0 + 300);
	sync_to(b, c, T0 + 300);
	sync_to(c, a, T0 + 300);
	sync_to(c, b, T0 + 300);
	append(a, "ProductUpdated", "{\"product_id\":\"p1\",\"name\":\"Coca "
	    "Cola 1L\"}", T0 + 1000);
	append(a, "PriceChanged", "{\"product_id\":\"p1\",\"price_bs\":"
	    "\"5.00\"}", T0 + 1001);
	append(b, "PriceChanged", "{\"product_id\":\"p1\",\"price_bs\":"
	    "\"5.50\"}", T0 + 1002);
	append(b, "SaleCreated", "{\"sale_id\":\"s1\",\"items\":[{"
	    "\"product_id\":\"p1\",\"qty\":2,\"price_bs\":\"5\"}],"
	    "\"customer_id\":\"c1\",\"on_credit\":true}", T0 + 1003);
	append(c, "SaleCreated", "{\"sale_id\":\"s1\",\"items\":[{"
	    "\"product_id\":\"p2\",\"qty\":1,\"price_bs\":\"3\"}]}", T0 + 900);
	append(c, "NoteEdited", "{\"sale_id\":\"s1\",\"ops\":[{\"type\":"
	    "\"INSERT\",\"position\":0,\"text\":\"hola\"}]}", T0 + 1004);
	sync_to(b, a, T0 + 2000);
	sync_to(c, a, T0 + 2000);
	append(a, "SaleVoided", "{\"sale_id\":\"s1\"}", T0 + 2100);
	append(a, "DebtPaymentAdded", "{\"customer_id\":\"c1\",\"amount_bs\":"
	    "\"1\"}", T0 + 2101);
	/* a fork: a copy of a writes its own next event */
	store_close(&a);
	clone("a", "f");
	a = open_dir("a");
	f = open_dir("f");
	if ((rc = store_vclock(f, &fork)) != 0)
		die("vclock", rc);
	append(a, "StockReceived", "{\"product_id\":\"p1\",\"qty\":3}",
	    T0 + 3000);
	append(f, "StockReceived", "{\"product_id\":\"p1\",\"qty\":4}",
	    T0 + 3001);
	/* a revocation, and an event of the revoked device after it */
	store_ids(c, &ids);
	ids_hex(hex, ids.device_id, ID_LEN);
	if ((rc = store_batch_begin(a, &bt)) != 0 ||
	    (rc = store_revoke(bt, hex, "lost", T0 + 4000, NULL, msg)) != 0 ||
	    (rc = store_batch_commit(&bt)) != 0)
		die("revoke", rc);
	append(c, "StockAdjusted", "{\"product_id\":\"p1\",\"delta\":-1}",
	    T0 + 4001);
	if ((rc = store_frames_since(a, NULL, 0, grab, NULL)) != 0)
		die("frames", rc);
	/* what a lacks: f's fork event, c's last event */
	if ((rc = store_vclock(a, &vc)) != 0 ||
	    (rc = store_frames_since(f, &fork, 0, grab, NULL)) != 0 ||
	    (rc = store_frames_since(c, &vc, 0, grab, NULL)) != 0)
		die("frames", rc);
	store_ids(a, &ids);
	memcpy(rank_dev[0], ids.device_id, ID_LEN);
	store_ids(b, &ids);
	memcpy(rank_dev[1], ids.device_id, ID_LEN);
	store_ids(c, &ids);
	memcpy(rank_dev[2], ids.device_id, ID_LEN);
	pool_sort();
	store_close(&a);
	store_close(&b);
	store_close(&c);
	store_close(&f);
	clone("g", "h0");
	clone("g", "h");
	scratch = open_dir("g");
}

static int
collect(void *arg, const uint8_t *p, size_t len)
{
	struct frames	*f = arg;
	struct event	 ev;

	if (len > EVENT_FRAME_MAX)
		abort();	/* the parser must bound frames */
	if (event_decode(&ev, p, len) == 0 && ev.frame_len != len)
		abort();
	if (f->n == MAXFRAMES)
		return CAJA_ETOOBIG;
	f->p[f->n] = p;
	f->len[f->n++] = len;
	return 0;
}

static int
count(void *arg, const uint8_t *p, size_t len)
{
	(void)p;
	(void)len;
	(*(size_t *)arg)++;
	return 0;
}

/* The export file through store_import in steps, on a fresh copy of g. */
static void
import_file(const uint8_t *data, size_t size)
{
	const struct store_report	*r;
	struct store_import		*im = NULL;
	char				 msg[STORE_ERRMSG], a[512];
	const char			*p;
	size_t				 n = 0, frames, pending;
	int				 prc, rc, done = 0;
	FILE				*w;

	prc = store_export_parse(data, size, count, &n);
	if ((w = fopen(path("in.exp"), "wb")) == NULL ||
	    fwrite(data, 1, size, w) != size || fclose(w) != 0)
		die("in.exp", CAJA_EIO);
	store_close(&imp);
	snprintf(a, sizeof(a), "%s/data.mdb", path("h0"));
	copy(a, path("h/data.mdb"));
	imp = open_dir("h");
	rc = store_import_open(imp, path("in.exp"), &im, msg);
	if ((rc == CAJA_EDECODE) != (prc == CAJA_EDECODE))
		abort();	/* the index and the parser disagree */
	if (rc != 0)
		return;
	store_import_progress(im, &frames, &pending, &p);
	if (frames != n || pending != n)
		abort();
	while (!done && (rc = store_import_step(im, 7, T0 + 100000, &done,
	    msg)) == 0)
		;
	if (rc != 0 && rc != CAJA_EFULL)
		abort();
	r = store_import_report(im);
	if (rc == 0 && r->accepted + r->duplicate + r->refused != n)
		abort();	/* every frame is accounted for */
	store_import_close(&im);
}

/* Byte pairs: (pool index, what to do). Damaged copies go to scratch. */
static void
recipe(const uint8_t *data, size_t size, struct frames *f, uint8_t *mem)
{
	size_t		i, k, len;
	uint8_t		op, *q;
	const uint8_t	*p;

	for (i = 0; i + 1 < size && f->n < MAXFRAMES / 8; i += 2) {
		k = data[i] % pool.n;
		op = data[i + 1];
		p = pool.p[k];
		len = pool.len[k];
		if (op >= 0xc0) {
			q = mem + f->n * EVENT_FRAME_MAX;
			memcpy(q, p, len);
			if (op >= 0xf0)
				/* cut short */
				len = len * (op - 0xf0) / 16;
			else
				q[(op * 7u) % len] ^= (uint8_t)(1u << (op & 7));
			p = q;
			if (len == 0)
				continue;
		}
		f->p[f->n] = p;
		f->len[f->n++] = len;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct frames		 f;
	static struct store_report	 rep;
	static uint8_t			*mem;
	struct store_batch		*b = NULL;

	if (scratch == NULL) {
		setup();
		mem = malloc((size_t)(MAXFRAMES / 8) * EVENT_FRAME_MAX);
		if (mem == NULL)
			abort();
	}
	f.n = 0;
	if (size >= 8 && memcmp(data, STORE_EXPORT_MAGIC, 8) == 0) {
		import_file(data, size);
		if (store_export_parse(data, size, collect, &f) != 0)
			return 0;
	} else
		recipe(data, size, &f, mem);
	if (f.n == 0)
		return 0;
	if (store_batch_begin(scratch, &b) != 0)
		abort();
	memset(&rep, 0, sizeof(rep));
	if (store_ingest(b, f.p, f.len, f.n, T0 + 100000, &rep) == 0 &&
	    rep.accepted + rep.duplicate + rep.refused != f.n)
		abort();	/* every frame is accounted for */
	if (getenv("CAJA_FUZZ_VERBOSE") != NULL)
		fprintf(stderr, "fuzz_import: %zu frames (pool %zu): %zu "
		    "accepted, %zu duplicate, %zu refused, %zu forks\n", f.n,
		    pool.n, rep.accepted, rep.duplicate, rep.refused,
		    rep.forks);
	store_batch_abort(&b);
	return 0;
}
