/*
 * Helpers shared by the store tests (header only: each test is one program).
 * Data dirs live under a mkdtemp() dir in /tmp, removed at the end.
 */
#ifndef CAJA_STORE_FIXTURE_H
#define CAJA_STORE_FIXTURE_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/stat.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "proto/event.h"
#include "store/store.h"

#define T0	UINT64_C(1700000000000)	/* 2023-11-14T22:13:20Z */

static char	fx_root[256];

static __attribute__((unused)) int
fx_rm(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static __attribute__((unused)) void
fx_setup(void)
{
	snprintf(fx_root, sizeof(fx_root), "/tmp/caja-store-XXXXXX");
	cr_assert_not_null(mkdtemp(fx_root));
}

static __attribute__((unused)) void
fx_teardown(void)
{
	if (fx_root[0] != '\0')
		nftw(fx_root, fx_rm, 16, FTW_DEPTH | FTW_PHYS);
	fx_root[0] = '\0';
}

/* A path under the test's root; a static buffer per slot. */
static __attribute__((unused)) const char *
fx_path(const char *name)
{
	static char	bufs[16][512];
	static int	slot;
	char		*b = bufs[slot++ % 16];

	snprintf(b, 512, "%s/%s", fx_root, name);
	return b;
}

static __attribute__((unused)) struct store *
fx_open(const char *dir)
{
	struct store	*s = NULL;
	int		 rc;

	rc = store_open(&s, dir, NULL);
	cr_assert_eq(rc, 0, "open %s: %s", dir, err_str(rc));
	return s;
}

/* Appends one event from JSON text, in its own batch; returns the seq. */
static __attribute__((unused)) uint64_t
fx_append(struct store *s, const char *type, const char *json, uint64_t now)
{
	struct store_batch	*b = NULL;
	struct store_appended	 a;
	json_error_t		 jerr;
	json_t			*j;
	char			 msg[STORE_ERRMSG] = "";
	int			 rc;

	j = json_loads(json, 0, &jerr);
	cr_assert_not_null(j, "bad test JSON: %s", json);
	cr_assert_eq(store_batch_begin(s, &b), 0);
	rc = store_append_json(b, type, j, now, &a, msg);
	cr_assert_eq(rc, 0, "append %s %s: %s (%s)", type, json, err_str(rc),
	    msg);
	cr_assert_eq(store_batch_commit(&b), 0);
	json_decref(j);
	return a.seq;
}

/* A new store in dir; returns it open. */
static __attribute__((unused)) struct store *
fx_create(const char *dir, const char *name)
{
	struct store_ids	ids;
	int			rc;

	rc = store_create(dir, "Tienda Centro", name, T0, &ids);
	cr_assert_eq(rc, 0, "create: %s", err_str(rc));
	return fx_open(dir);
}

/* Invites from admin and joins dir with the token; returns it open. */
static __attribute__((unused)) struct store *
fx_join(struct store *admin, const char *dir, const char *name,
    uint64_t now)
{
	struct store_batch	*b = NULL;
	struct store_ids	 ids;
	char			 token[IDENT_TOKEN_MAX], msg[STORE_ERRMSG];
	int			 rc;

	cr_assert_eq(store_batch_begin(admin, &b), 0);
	rc = store_invite(b, "register", now + 86400000, now, token,
	    sizeof(token), msg);
	cr_assert_eq(rc, 0, "invite: %s (%s)", err_str(rc), msg);
	cr_assert_eq(store_batch_commit(&b), 0);
	rc = store_join(dir, token, name, now + 1, &ids);
	cr_assert_eq(rc, 0, "join: %s", err_str(rc));
	return fx_open(dir);
}

static __attribute__((unused)) size_t
fx_export(struct store *s, const char *path)
{
	size_t	n = 0;
	int	rc;

	rc = store_export(s, NULL, path, &n);
	cr_assert_eq(rc, 0, "export: %s", err_str(rc));
	return n;
}

static __attribute__((unused)) void
fx_import(struct store *s, const char *path, uint64_t now,
    struct store_report *rep)
{
	char	msg[STORE_ERRMSG] = "";
	int	rc;

	rc = store_import(s, path, now, rep, msg);
	cr_assert_eq(rc, 0, "import: %s (%s)", err_str(rc), msg);
}

/* Export a, import into b. */
static __attribute__((unused)) void
fx_sync(struct store *a, struct store *b, const char *file, uint64_t now)
{
	struct store_report	rep;

	fx_export(a, fx_path(file));
	fx_import(b, fx_path(file), now, &rep);
}

static __attribute__((unused)) void
fx_digest(struct store *s, char hex[HASH_HEX])
{
	uint8_t	d[HASH_LEN];

	cr_assert_eq(store_digest(s, d), 0);
	ids_hex(hex, d, HASH_LEN);
}

static __attribute__((unused)) json_t *
fx_get(struct store *s, const char *kind, const char *id)
{
	json_t	*o = NULL;
	int	 rc;

	rc = store_get_json(s, kind, id, &o);
	cr_assert_eq(rc, 0, "get %s %s: %s", kind, id, err_str(rc));
	return o;
}

static __attribute__((unused)) const char *
fx_str(json_t *o, const char *k)
{
	json_t	*v = json_object_get(o, k);

	cr_assert(json_is_string(v), "field %s is not a string", k);
	return json_string_value(v);
}

static __attribute__((unused)) uint64_t
fx_count(struct store *s)
{
	uint64_t	n = 0;

	cr_assert_eq(store_count(s, &n), 0);
	return n;
}

static __attribute__((unused)) json_t *
fx_conflicts(struct store *s, int all)
{
	json_t	*a = NULL;

	cr_assert_eq(store_conflicts_json(s, all, &a), 0);
	return a;
}

/* The refusal naming (dev, seq), or NULL. */
static __attribute__((unused)) const struct store_refusal *
fx_refusal(const struct store_report *r, const uint8_t dev[ID_LEN],
    uint64_t seq)
{
	size_t	i;

	for (i = 0; i < r->nrefusals; i++)
		if (r->refusals[i].seq == seq &&
		    memcmp(r->refusals[i].dev, dev, ID_LEN) == 0)
			return &r->refusals[i];
	return NULL;
}

/* Resolves conflict cid (id or prefix) with a string value, in its own
 * batch. */
static __attribute__((unused)) void
fx_resolve(struct store *s, const char *cid, const char *value,
    const char *by, uint64_t now)
{
	struct store_batch	*b = NULL;
	struct store_appended	 ap;
	char			 msg[STORE_ERRMSG] = "";
	json_t			*v;
	int			 rc;

	cr_assert_eq(store_batch_begin(s, &b), 0);
	v = json_string(value);
	rc = store_resolve(b, cid, v, by, now, &ap, msg);
	cr_assert_eq(rc, 0, "resolve %s: %s (%s)", cid, err_str(rc), msg);
	json_decref(v);
	cr_assert_eq(store_batch_commit(&b), 0);
}

/* ---- delivery in any order (convergence tests) ---- */

#define FX_FRAMES_MAX	256

struct fx_frames {
	uint8_t	*p[FX_FRAMES_MAX];
	size_t	 len[FX_FRAMES_MAX];
	size_t	 n;
};

static __attribute__((unused)) int
fx_grab(void *arg, const uint8_t *p, size_t len)
{
	struct fx_frames	*f = arg;

	cr_assert_lt(f->n, FX_FRAMES_MAX);
	f->p[f->n] = malloc(len);
	cr_assert_not_null(f->p[f->n]);
	memcpy(f->p[f->n], p, len);
	f->len[f->n++] = len;
	return 0;
}

/* Every event s holds, in (device, seq) order. */
static __attribute__((unused)) void
fx_frames_all(struct store *s, struct fx_frames *f)
{
	memset(f, 0, sizeof(*f));
	cr_assert_eq(store_frames_since(s, NULL, 0, fx_grab, f), 0);
}

static __attribute__((unused)) void
fx_frames_free(struct fx_frames *f)
{
	size_t	i;

	for (i = 0; i < f->n; i++)
		free(f->p[i]);
	f->n = 0;
}

/*
 * Gossip-like delivery: chunks of `chunk` frames in the given order, each
 * its own batch; what is refused with retry set comes again, until done.
 * Any final refusal fails the test.
 */
static __attribute__((unused)) void
fx_deliver(struct store *s, const struct fx_frames *f, const size_t *order,
    size_t chunk)
{
	struct store_batch	*b = NULL;
	struct store_report	 rep;
	struct event		 ev;
	const uint8_t		*cp[FX_FRAMES_MAX];
	size_t			 cl[FX_FRAMES_MAX], pend[FX_FRAMES_MAX];
	size_t			 next[FX_FRAMES_MAX], np, nn, i, j, m, k;
	size_t			 round = 0, progress;

	for (i = 0; i < f->n; i++)
		pend[i] = order[i];
	np = f->n;
	while (np > 0) {
		cr_assert_lt(round++, 64, "no convergence");
		nn = 0;
		progress = 0;
		for (i = 0; i < np; i += m) {
			m = np - i < chunk ? np - i : chunk;
			for (j = 0; j < m; j++) {
				cp[j] = f->p[pend[i + j]];
				cl[j] = f->len[pend[i + j]];
			}
			cr_assert_eq(store_batch_begin(s, &b), 0);
			cr_assert_eq(store_ingest(b, cp, cl, m, T0 + 99999,
			    &rep), 0);
			cr_assert_eq(store_batch_commit(&b), 0);
			progress += rep.accepted;
			cr_assert_lt(rep.nrefusals, STORE_REFUSED_MAX);
			for (k = 0; k < rep.nrefusals; k++)
				cr_assert(rep.refusals[k].retry,
				    "final refusal: %s", rep.refusals[k].msg);
			for (j = 0; j < m && rep.refused > 0; j++) {
				cr_assert_eq(event_decode(&ev, cp[j], cl[j]),
				    0);
				if (fx_refusal(&rep, ev.dev, ev.seq) != NULL)
					next[nn++] = pend[i + j];
			}
		}
		cr_assert(progress > 0 || nn == 0, "stuck with %zu", nn);
		memcpy(pend, next, nn * sizeof(*pend));
		np = nn;
	}
}

/* order[0..n) := a permutation of 0..n-1 drawn from seed. */
static __attribute__((unused)) void
fx_shuffle(size_t *order, size_t n, uint32_t seed)
{
	size_t	i, j, t;

	for (i = 0; i < n; i++)
		order[i] = i;
	for (i = n; i > 1; i--) {
		seed = seed * 1103515245u + 12345u;
		j = (seed >> 8) % i;
		t = order[i - 1];
		order[i - 1] = order[j];
		order[j] = t;
	}
}

static __attribute__((unused)) void
fx_copy_file(const char *from, const char *to)
{
	FILE	*in, *out;
	char	 buf[65536];
	size_t	 n;

	cr_assert_not_null(in = fopen(from, "rb"), "%s", from);
	cr_assert_not_null(out = fopen(to, "wb"), "%s", to);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		cr_assert_eq(fwrite(buf, 1, n, out), n);
	fclose(in);
	cr_assert_eq(fclose(out), 0);
	chmod(to, 0600);
}

/*
 * A copy of the (closed) data dir `from` as `to`: the same device, so the
 * copy must never append; it is a fresh register to deliver events to.
 */
static __attribute__((unused)) void
fx_clone(const char *from, const char *to)
{
	char	a[512], b[512];

	cr_assert_eq(mkdir(to, 0700), 0);
	snprintf(a, sizeof(a), "%s/data.mdb", from);
	snprintf(b, sizeof(b), "%s/data.mdb", to);
	fx_copy_file(a, b);
	snprintf(a, sizeof(a), "%s/device.key", from);
	snprintf(b, sizeof(b), "%s/device.key", to);
	fx_copy_file(a, b);
}

#endif
