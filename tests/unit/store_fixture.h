/*
 * Helpers shared by the store tests (header only: each test is one program).
 * Data dirs live under a mkdtemp() dir in /tmp, removed at the end.
 */
#ifndef CAJA_STORE_FIXTURE_H
#define CAJA_STORE_FIXTURE_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

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

#endif
