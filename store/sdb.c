/*
 * sdb: LMDB plumbing, key layouts, device records, batch growth and replay.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/sdb.h"

const char *const sdb_names[DB_COUNT] = {
	[DB_META] = "meta",
	[DB_LOG] = "log",
	[DB_IDS] = "ids",
	[DB_DEVICES] = "devices",
	[DB_INVITES] = "invites",
	[DB_PRODUCTS] = "products",
	[DB_CUSTOMERS] = "customers",
	[DB_SALES] = "sales",
	[DB_CONFLICTS] = "conflicts",
	[DB_TOTALS] = "totals",
	[DB_FORKS] = "forks",
};

int
sdb_err(int rc)
{
	switch (rc) {
	case 0:
		return 0;
	case MDB_NOTFOUND:
		return CAJA_ENOTFOUND;
	case MDB_MAP_FULL:
		return SDB_EMAPFULL;
	case MDB_TXN_FULL:
	case ENOSPC:
	case EDQUOT:
		return CAJA_EFULL;
	case ENOMEM:
		return CAJA_ENOMEM;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
		return CAJA_ECORRUPT;
	case EACCES:
	case EROFS:
		return CAJA_EPERM;
	case ENOENT:
		return CAJA_ENOTFOUND;
	default:
		return CAJA_EIO;
	}
}

int
sdb_get(MDB_txn *txn, MDB_dbi dbi, const void *k, size_t kl, MDB_val *v)
{
	MDB_val	key;

	key.mv_data = (void *)(uintptr_t)k;
	key.mv_size = kl;
	return sdb_err(mdb_get(txn, dbi, &key, v));
}

int
sdb_put(MDB_txn *txn, MDB_dbi dbi, const void *k, size_t kl, const void *v,
    size_t vl)
{
	MDB_val	key, val;

	key.mv_data = (void *)(uintptr_t)k;
	key.mv_size = kl;
	val.mv_data = (void *)(uintptr_t)v;
	val.mv_size = vl;
	return sdb_err(mdb_put(txn, dbi, &key, &val, 0));
}

int
sdb_del(MDB_txn *txn, MDB_dbi dbi, const void *k, size_t kl)
{
	MDB_val	key;
	int	rc;

	key.mv_data = (void *)(uintptr_t)k;
	key.mv_size = kl;
	rc = mdb_del(txn, dbi, &key, NULL);
	if (rc == MDB_NOTFOUND)
		return 0;
	return sdb_err(rc);
}

int
sdb_bput(struct store *s, MDB_txn *txn, int db, const void *k, size_t kl,
    const void *v, size_t vl)
{
	struct store_batch	*b = s->batch;
	MDB_val			 key, val;
	int			 rc;

	if (b == NULL || txn == NULL || txn != b->txn)
		return sdb_put(txn, s->dbi[db], k, kl, v, vl);
	if (b->wcur[db] == NULL && (rc = mdb_cursor_open(txn, s->dbi[db],
	    &b->wcur[db])) != 0) {
		b->wcur[db] = NULL;
		return sdb_err(rc);
	}
	key.mv_data = (void *)(uintptr_t)k;
	key.mv_size = kl;
	val.mv_data = (void *)(uintptr_t)v;
	val.mv_size = vl;
	return sdb_err(mdb_cursor_put(b->wcur[db], &key, &val, 0));
}

int
sdb_bget(struct store *s, MDB_txn *txn, int db, const void *k, size_t kl,
    MDB_val *v)
{
	struct store_batch	*b = s->batch;
	MDB_val			 key;
	int			 rc;

	if (b == NULL || txn == NULL || txn != b->txn)
		return sdb_get(txn, s->dbi[db], k, kl, v);
	if (b->wcur[db] == NULL && (rc = mdb_cursor_open(txn, s->dbi[db],
	    &b->wcur[db])) != 0) {
		b->wcur[db] = NULL;
		return sdb_err(rc);
	}
	key.mv_data = (void *)(uintptr_t)k;
	key.mv_size = kl;
	return sdb_err(mdb_cursor_get(b->wcur[db], &key, v, MDB_SET_KEY));
}

void
sdb_batch_txn_end(struct store_batch *b)
{
	/* LMDB freed them with the write transaction */
	memset(b->wcur, 0, sizeof(b->wcur));
}

int
sdb_rtxn(struct store *s, MDB_txn **txn)
{
	int	rc;

	rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
	if (rc == MDB_MAP_RESIZED) {
		/* Another process grew the map: adopt its size. */
		if ((rc = mdb_env_set_mapsize(s->env, 0)) == 0)
			rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
	}
	if (rc != 0) {
		*txn = NULL;
		return sdb_err(rc);
	}
	return 0;
}

void
sdb_be64_put(uint8_t *p, uint64_t v)
{
	int	i;

	for (i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

uint64_t
sdb_be64_get(const uint8_t *p)
{
	uint64_t	v = 0;
	int		i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

void
sdb_log_key(uint8_t out[SDB_LOGKEY_LEN], const uint8_t dev[ID_LEN],
    uint64_t seq)
{
	memcpy(out, dev, ID_LEN);
	sdb_be64_put(out + ID_LEN, seq);
}

/*
 * By arithmetic, not gmtime_r/strftime: it runs for every sale merged.
 * Days to civil date: H. Hinnant's days_from_civil inverse (proleptic
 * Gregorian, UTC), as gmtime_r would give for years 0..9999.
 */
void
sdb_day(char out[11], uint64_t hlc)
{
	int64_t		z = (int64_t)(HLC_MS(hlc) / 86400000u) + 719468;
	int64_t		era = z / 146097, y;
	unsigned	doe, yoe, doy, mp, d, m;
	int		i;

	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = (int64_t)yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	if (y > 9999) {
		memcpy(out, "0000-00-00", 11);
		return;
	}
	for (i = 3; i >= 0; i--) {
		out[i] = (char)('0' + y % 10);
		y /= 10;
	}
	out[4] = '-';
	out[5] = (char)('0' + m / 10);
	out[6] = (char)('0' + m % 10);
	out[7] = '-';
	out[8] = (char)('0' + d / 10);
	out[9] = (char)('0' + d % 10);
	out[10] = '\0';
}

/* ---- device records ---- */

static int
dev_encode(const struct sdb_dev *d, struct buf *out)
{
	struct codec_wr	w;
	uint32_t	i;

	codec_wr_init(&w, out);
	codec_write_array(&w, 11);
	codec_write_bin(&w, d->pk, SIG_PK_LEN);
	codec_write_cstr(&w, d->name);
	codec_write_cstr(&w, d->role);
	codec_write_uint(&w, d->enrolled_hlc);
	codec_write_bin(&w, d->invite_pk, d->has_invite ? SIG_PK_LEN : 0);
	codec_write_bool(&w, d->revoked);
	codec_write_uint(&w, d->revoked_upto);
	codec_write_uint(&w, d->head_seq);
	codec_write_bin(&w, d->head_id, HASH_LEN);
	codec_write_array(&w, d->vv.n);
	for (i = 0; i < d->vv.n; i++) {
		codec_write_array(&w, 2);
		codec_write_bin(&w, d->vv.e[i].dev, ID_LEN);
		codec_write_uint(&w, d->vv.e[i].seq);
	}
	codec_write_bool(&w, d->forked);
	return codec_wr_error(&w);
}

static int
dev_decode(const uint8_t id[ID_LEN], const uint8_t *b, size_t len,
    struct sdb_dev *d)
{
	struct codec_rd	 r;
	const char	*p;
	const uint8_t	*bp;
	uint32_t	 n, k, i, plen;

	memset(d, 0, sizeof(*d));
	memcpy(d->id, id, ID_LEN);
	codec_rd_init(&r, b, len);
	if (codec_read_array(&r, &n) || n != 11 ||
	    codec_read_fixbin(&r, d->pk, SIG_PK_LEN) ||
	    codec_read_str(&r, &p, &plen) || plen > IDENT_NAME_MAX)
		return CAJA_ECORRUPT;
	memcpy(d->name, p, plen);
	if (codec_read_str(&r, &p, &plen) || plen > IDENT_ROLE_MAX)
		return CAJA_ECORRUPT;
	memcpy(d->role, p, plen);
	if (codec_read_uint(&r, &d->enrolled_hlc) ||
	    codec_read_bin(&r, &bp, &k) || (k != 0 && k != SIG_PK_LEN))
		return CAJA_ECORRUPT;
	if (k == SIG_PK_LEN) {
		d->has_invite = 1;
		memcpy(d->invite_pk, bp, SIG_PK_LEN);
	}
	if (codec_read_bool(&r, &d->revoked) ||
	    codec_read_uint(&r, &d->revoked_upto) ||
	    codec_read_uint(&r, &d->head_seq) ||
	    codec_read_fixbin(&r, d->head_id, HASH_LEN) ||
	    codec_read_array(&r, &n) || n > VCLOCK_MAX)
		return CAJA_ECORRUPT;
	for (i = 0; i < n; i++) {
		if (codec_read_array(&r, &k) || k != 2 ||
		    codec_read_fixbin(&r, d->vv.e[i].dev, ID_LEN) ||
		    codec_read_uint(&r, &d->vv.e[i].seq))
			return CAJA_ECORRUPT;
	}
	d->vv.n = n;
	if (codec_read_bool(&r, &d->forked) || r.p != r.end)
		return CAJA_ECORRUPT;
	return 0;
}

int
sdb_dev_get(MDB_txn *txn, struct store *s, const uint8_t id[ID_LEN],
    struct sdb_dev *d)
{
	MDB_val	v;
	int	rc;

	if (cache_dev_get(s, txn, id, d, &rc))
		return rc;
	if ((rc = sdb_get(txn, s->dbi[DB_DEVICES], id, ID_LEN, &v)) != 0)
		return rc;
	return dev_decode(id, v.mv_data, v.mv_size, d);
}

int
sdb_dev_put(MDB_txn *txn, struct store *s, const struct sdb_dev *d)
{
	struct buf	b;
	int		rc;

	if (cache_dev_put(s, txn, d, &rc))
		return rc;
	buf_init(&b, 0);
	if ((rc = dev_encode(d, &b)) == 0)
		rc = sdb_put(txn, s->dbi[DB_DEVICES], d->id, ID_LEN, b.p,
		    b.len);
	buf_reset(&b);
	return rc;
}

int
sdb_dev_foreach(MDB_txn *txn, struct store *s,
    int (*fn)(void *, const struct sdb_dev *), void *arg)
{
	MDB_cursor	*c = NULL;
	MDB_val		 k, v;
	struct sdb_dev	*d = NULL;
	int		 rc, op = MDB_FIRST;

	if ((d = malloc(sizeof(*d))) == NULL)
		return CAJA_ENOMEM;
	if ((rc = cache_dev_sync(s, txn)) != 0 ||
	    (rc = sdb_err(mdb_cursor_open(txn, s->dbi[DB_DEVICES], &c))) != 0)
		goto out;
	for (;;) {
		rc = mdb_cursor_get(c, &k, &v, op);
		op = MDB_NEXT;
		if (rc == MDB_NOTFOUND) {
			rc = 0;
			break;
		}
		if ((rc = sdb_err(rc)) != 0)
			break;
		if (k.mv_size != ID_LEN) {
			rc = CAJA_ECORRUPT;
			break;
		}
		if ((rc = dev_decode(k.mv_data, v.mv_data, v.mv_size, d)) != 0)
			break;
		if ((rc = fn(arg, d)) != 0)
			break;
	}
out:
	if (c != NULL)
		mdb_cursor_close(c);
	free(d);
	return rc;
}

static int
vclock_cb(void *arg, const struct sdb_dev *d)
{
	if (d->head_seq == 0)
		return 0;
	return vclock_set(arg, d->id, d->head_seq);
}

int
sdb_vclock(MDB_txn *txn, struct store *s, struct vclock *vc)
{
	vclock_init(vc);
	return sdb_dev_foreach(txn, s, vclock_cb, vc);
}

struct find_arg {
	const char	*hex;
	uint8_t		 id[ID_LEN];
	int		 n;
};

static int
find_cb(void *arg, const struct sdb_dev *d)
{
	struct find_arg	*f = arg;

	if (ids_has_prefix(d->id, ID_LEN, f->hex)) {
		memcpy(f->id, d->id, ID_LEN);
		f->n++;
	}
	return 0;
}

int
sdb_dev_find(MDB_txn *txn, struct store *s, const char *hex,
    uint8_t out[ID_LEN])
{
	struct find_arg	f;
	int		rc;

	if (hex == NULL || strlen(hex) < ID_PREFIX_MIN ||
	    strlen(hex) > ID_LEN * 2)
		return CAJA_EINVAL;
	memset(&f, 0, sizeof(f));
	f.hex = hex;
	if ((rc = sdb_dev_foreach(txn, s, find_cb, &f)) != 0)
		return rc;
	if (f.n == 0)
		return CAJA_ENOTFOUND;
	if (f.n > 1)
		return CAJA_EAMBIGUOUS;
	memcpy(out, f.id, ID_LEN);
	return 0;
}

/* ---- meta ---- */

int
sdb_meta_get_u64(MDB_txn *txn, struct store *s, const char *key,
    uint64_t *v)
{
	MDB_val	val;
	int	rc;

	*v = 0;
	rc = sdb_get(txn, s->dbi[DB_META], key, strlen(key), &val);
	if (rc == CAJA_ENOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if (val.mv_size != 8)
		return CAJA_ECORRUPT;
	*v = sdb_be64_get(val.mv_data);
	return 0;
}

int
sdb_meta_put_u64(MDB_txn *txn, struct store *s, const char *key, uint64_t v)
{
	uint8_t	b[8];

	sdb_be64_put(b, v);
	return sdb_put(txn, s->dbi[DB_META], key, strlen(key), b, 8);
}

int
sdb_meta_put(MDB_txn *txn, struct store *s, const char *key, const void *v,
    size_t len)
{
	return sdb_put(txn, s->dbi[DB_META], key, strlen(key), v, len);
}

int
sdb_log_id(MDB_txn *txn, struct store *s, const uint8_t dev[ID_LEN],
    uint64_t seq, uint8_t id[HASH_LEN])
{
	uint8_t	k[SDB_LOGKEY_LEN];
	MDB_val	v;
	int	rc;

	if (cache_log_id(s, txn, dev, seq, id))
		return 0;
	sdb_log_key(k, dev, seq);
	if ((rc = sdb_get(txn, s->dbi[DB_LOG], k, sizeof(k), &v)) != 0)
		return rc;
	sig_hash(id, v.mv_data, v.mv_size);
	return 0;
}

/* ---- batch replay log and map growth ---- */

int
sdb_batch_record(struct store_batch *b, int kind, const uint8_t *frame,
    size_t len)
{
	struct sdb_op	*ops;
	size_t		 cap, off = b->frames.len;
	int		 rc;

	if (b->nops == b->capops) {
		cap = b->capops == 0 ? 64 : b->capops * 2;
		ops = realloc(b->ops, cap * sizeof(*ops));
		if (ops == NULL)
			return CAJA_ENOMEM;
		b->ops = ops;
		b->capops = cap;
	}
	/* one buffer for all frames: no allocation per event */
	if (b->frames.max == 0)
		b->frames.max = SDB_BATCH_FRAMES_MAX;
	if ((rc = buf_add(&b->frames, frame, len)) != 0)
		return rc;
	b->ops[b->nops].kind = kind;
	b->ops[b->nops].off = off;
	b->ops[b->nops].len = len;
	b->nops++;
	return 0;
}

static int
replay(struct store_batch *b)
{
	struct event	*ev = NULL;
	uint8_t		 id[HASH_LEN], held[HASH_LEN];
	size_t		 i;
	int		 rc = 0;

	if ((ev = malloc(sizeof(*ev))) == NULL)
		return CAJA_ENOMEM;
	for (i = 0; i < b->nops; i++) {
		/* frames we applied before: they passed event_decode() */
		if ((rc = event_decode_again(ev, b->frames.p + b->ops[i].off,
		    b->ops[i].len)) != 0)
			break;
		event_id(ev, id);
		if (b->ops[i].kind == SDB_OP_EVENT)
			rc = apply_event(b, b->txn, ev, id, NULL);
		else {
			rc = sdb_log_id(b->txn, b->s, ev->dev, ev->seq, held);
			if (rc == 0)
				rc = apply_fork(b, b->txn, ev, id, held);
		}
		if (rc != 0)
			break;
	}
	free(ev);
	return rc;
}

int
sdb_batch_grow(struct store_batch *b)
{
	struct store	*s = b->s;
	MDB_envinfo	 info;
	uint64_t	 size;
	int		 rc, cached;

	if (b->txn != NULL) {
		mdb_txn_abort(b->txn);
		b->txn = NULL;
	}
	sdb_batch_txn_end(b);
	/* What the cache held belonged to the aborted txn; the replay goes
	 * straight to LMDB. */
	cached = b->cache != NULL && cache_is_on(b);
	cache_drop(b);
	for (;;) {
		if ((rc = mdb_env_info(s->env, &info)) != 0)
			goto dead;
		size = (uint64_t)info.me_mapsize;
		if (size >= s->map_max) {
			rc = CAJA_EFULL;
			goto dead;
		}
		size = size * 2 > s->map_max ? s->map_max : size * 2;
		if ((rc = mdb_env_set_mapsize(s->env, (size_t)size)) != 0) {
			rc = sdb_err(rc);
			goto dead;
		}
		s->map_size = size;
		if ((rc = mdb_txn_begin(s->env, NULL, 0, &b->txn)) != 0) {
			b->txn = NULL;
			rc = sdb_err(rc);
			goto dead;
		}
		cache_set_on(b, 0);
		rc = replay(b);
		cache_set_on(b, cached);
		if (rc == 0)
			return 0;
		mdb_txn_abort(b->txn);
		b->txn = NULL;
		sdb_batch_txn_end(b);
		if (rc != SDB_EMAPFULL)
			goto dead;
	}
dead:
	if (rc == SDB_EMAPFULL)
		rc = CAJA_EFULL;
	b->dead = 1;
	return rc;
}
