/*
 * store: the data dir (keys, LMDB environment), create and join, open and
 * close, write batches (group commit, map growth).
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "store/sdb.h"

#define KEY_DEVICE	"device.key"
#define KEY_STORE	"store.key"
#define DEFAULT_NAME	"caja"

static int
path_join(char *out, size_t cap, const char *dir, const char *name)
{
	int	n;

	n = snprintf(out, cap, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= cap)
		return CAJA_ETOOBIG;
	return 0;
}

static int
key_write(const char *dir, const char *name, const struct sig_key *k)
{
	char	path[SDB_PATH_MAX];
	uint8_t	seed[SIG_SEED_LEN];
	ssize_t	w;
	int	fd = -1, rc;

	if ((rc = path_join(path, sizeof(path), dir, name)) != 0)
		return rc;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd < 0)
		return errno == EEXIST ? CAJA_EEXIST : sdb_err(errno);
	sig_key_seed(k, seed);
	w = write(fd, seed, sizeof(seed));
	sodium_memzero(seed, sizeof(seed));
	rc = w == (ssize_t)sizeof(seed) ? 0 : CAJA_EIO;
	if (rc == 0 && fsync(fd) != 0)
		rc = CAJA_EIO;
	close(fd);
	if (rc != 0)
		unlink(path);
	return rc;
}

/* CAJA_ENOTFOUND when the file is absent. */
static int
key_read(const char *dir, const char *name, struct sig_key **k)
{
	char	path[SDB_PATH_MAX];
	uint8_t	seed[SIG_SEED_LEN + 1];
	ssize_t	r;
	int	fd, rc;

	if ((rc = path_join(path, sizeof(path), dir, name)) != 0)
		return rc;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return errno == ENOENT ? CAJA_ENOTFOUND : sdb_err(errno);
	r = read(fd, seed, sizeof(seed));
	close(fd);
	if (r != SIG_SEED_LEN)
		rc = CAJA_ECORRUPT;
	else
		rc = sig_key_from_seed(k, seed);
	sodium_memzero(seed, sizeof(seed));
	return rc;
}

static int
exists(const char *dir, const char *name)
{
	char		path[SDB_PATH_MAX];
	struct stat	st;

	if (path_join(path, sizeof(path), dir, name) != 0)
		return 0;
	return stat(path, &st) == 0;
}

/* Opens the environment and the databases (created when writable). */
static int
env_open(struct store *s, const char *dir)
{
	MDB_txn		*txn = NULL;
	unsigned	 flags = MDB_NOTLS;
	int		 rc, i;

	if ((rc = sdb_err(mdb_env_create(&s->env))) != 0)
		return rc;
	if ((rc = sdb_err(mdb_env_set_maxdbs(s->env, DB_COUNT + 2))) != 0 ||
	    (rc = sdb_err(mdb_env_set_maxreaders(s->env, 126))) != 0)
		return rc;
	if (!s->rdonly && (rc = sdb_err(mdb_env_set_mapsize(s->env,
	    (size_t)s->map_size))) != 0)
		return rc;
	if (s->rdonly)
		flags |= MDB_RDONLY;
	if (s->nosync)
		flags |= MDB_NOSYNC;
	if ((rc = mdb_env_open(s->env, dir, flags, 0600)) != 0)
		return rc == ENOENT ? CAJA_ENOTFOUND : sdb_err(rc);
	if (s->rdonly)
		rc = sdb_rtxn(s, &txn);
	else
		rc = sdb_err(mdb_txn_begin(s->env, NULL, 0, &txn));
	if (rc != 0)
		return rc;
	for (i = 0; i < DB_COUNT; i++) {
		rc = mdb_dbi_open(txn, sdb_names[i], s->rdonly ? 0 :
		    MDB_CREATE, &s->dbi[i]);
		if (rc != 0) {
			mdb_txn_abort(txn);
			return rc == MDB_NOTFOUND ? CAJA_ENOTFOUND :
			    sdb_err(rc);
		}
	}
	/* committing keeps the handles, read-only or not */
	return sdb_err(mdb_txn_commit(txn));
}

static int
meta_fixed(MDB_txn *txn, struct store *s, const char *key, void *out,
    size_t len)
{
	MDB_val	v;
	int	rc;

	rc = sdb_get(txn, s->dbi[DB_META], key, strlen(key), &v);
	if (rc != 0)
		return rc;
	if (v.mv_size != len)
		return CAJA_ECORRUPT;
	memcpy(out, v.mv_data, len);
	return 0;
}

static int
load_meta(struct store *s)
{
	MDB_txn	*txn;
	int	 rc;

	if ((rc = sdb_rtxn(s, &txn)) != 0)
		return rc;
	if ((rc = meta_fixed(txn, s, "store_id", s->ids.store_id,
	    ID_LEN)) == 0 &&
	    (rc = meta_fixed(txn, s, "store_pk", s->store_pk,
	    SIG_PK_LEN)) == 0 &&
	    (rc = meta_fixed(txn, s, "device_id", s->ids.device_id,
	    ID_LEN)) == 0)
		rc = sdb_meta_get_u64(txn, s, "hlc", &s->hlc.last);
	mdb_txn_abort(txn);
	return rc;
}

int
store_open(struct store **sp, const char *dir, const struct store_opts *o)
{
	struct store	*s = NULL;
	int		 rc;

	*sp = NULL;
	if (dir == NULL || strlen(dir) >= SDB_PATH_MAX)
		return CAJA_EINVAL;
	if ((rc = sig_init()) != 0)
		return rc;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return CAJA_ENOMEM;
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	s->rdonly = o != NULL && o->rdonly;
	s->nosync = o != NULL && o->nosync;
	s->map_max = o != NULL && o->map_max ? o->map_max : STORE_MAP_MAX;
	s->map_size = o != NULL && o->map_size ? o->map_size :
	    STORE_MAP_INITIAL;
	if (s->map_size > s->map_max)
		s->map_size = s->map_max;
	s->max_skew_ms = o != NULL && o->max_skew_ms ? o->max_skew_ms :
	    HLC_MAX_SKEW_MS;
	if (!exists(dir, "data.mdb")) {
		rc = CAJA_ENOTFOUND;
		goto fail;
	}
	if ((rc = env_open(s, dir)) != 0)
		goto fail;
	if ((rc = load_meta(s)) != 0)
		goto fail;
	if (!s->rdonly) {
		if ((rc = key_read(dir, KEY_DEVICE, &s->dev_key)) != 0)
			goto fail;
		if (memcmp(s->dev_key->id, s->ids.device_id, ID_LEN) != 0) {
			rc = CAJA_ECORRUPT;
			goto fail;
		}
		rc = key_read(dir, KEY_STORE, &s->store_key);
		if (rc == CAJA_ENOTFOUND)
			rc = 0;
		else if (rc == 0 && memcmp(s->store_key->pk, s->store_pk,
		    SIG_PK_LEN) != 0)
			rc = CAJA_ECORRUPT;
		if (rc != 0)
			goto fail;
	} else if (exists(dir, KEY_STORE))
		s->store_key = NULL;	/* read-only: keys stay on disk */
	*sp = s;
	return 0;
fail:
	store_close(&s);
	return rc;
}

void
store_close(struct store **sp)
{
	struct store	*s;

	if (sp == NULL || (s = *sp) == NULL)
		return;
	if (s->batch != NULL)
		store_batch_abort(&s->batch);
	if (s->env != NULL)
		mdb_env_close(s->env);
	sig_key_destroy(&s->dev_key);
	sig_key_destroy(&s->store_key);
	free(s);
	*sp = NULL;
}

void
store_ids(const struct store *s, struct store_ids *out)
{
	*out = s->ids;
}

int
store_is_admin(const struct store *s)
{
	char	path[SDB_PATH_MAX];

	if (s->store_key != NULL)
		return 1;
	/* read-only opens do not load keys: look for the file */
	return path_join(path, sizeof(path), s->dir, KEY_STORE) == 0 &&
	    access(path, F_OK) == 0;
}

const struct sig_key *
store_device_key(const struct store *s)
{
	return s->dev_key;
}

/* ---- batches ---- */

/* Grows the map ahead of need when it is more than 3/4 used. */
static int
grow_ahead(struct store *s)
{
	MDB_envinfo	info;
	MDB_stat	st;
	uint64_t	used, size;

	if (mdb_env_info(s->env, &info) != 0 || mdb_env_stat(s->env, &st) != 0)
		return 0;
	used = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
	size = info.me_mapsize;
	if (used < size / 4 * 3 || size >= s->map_max)
		return 0;
	size = size * 2 > s->map_max ? s->map_max : size * 2;
	if (mdb_env_set_mapsize(s->env, (size_t)size) == 0)
		s->map_size = size;
	return 0;
}

int
store_batch_begin(struct store *s, struct store_batch **bp)
{
	struct store_batch	*b;
	int			 rc;

	*bp = NULL;
	if (s->rdonly || s->dev_key == NULL)
		return CAJA_EPERM;
	if (s->batch != NULL)
		return CAJA_EAGAIN;
	if ((rc = grow_ahead(s)) != 0)
		return rc;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return CAJA_ENOMEM;
	b->s = s;
	rc = mdb_txn_begin(s->env, NULL, 0, &b->txn);
	if (rc == MDB_MAP_RESIZED) {
		if ((rc = mdb_env_set_mapsize(s->env, 0)) == 0)
			rc = mdb_txn_begin(s->env, NULL, 0, &b->txn);
	}
	if (rc != 0) {
		free(b);
		return sdb_err(rc);
	}
	s->batch = b;
	*bp = b;
	return 0;
}

static void
batch_free(struct store_batch *b)
{
	if (b->txn != NULL)
		mdb_txn_abort(b->txn);
	sdb_batch_txn_end(b);
	cache_free(b);
	buf_reset(&b->frames);
	free(b->ops);
	if (b->s != NULL && b->s->batch == b)
		b->s->batch = NULL;
	free(b);
}

/* Local bookkeeping (never in the digest), in the batch's txn. */
static int
batch_meta(struct store_batch *b)
{
	struct store	*s = b->s;
	uint8_t		 blob[CAJA_ERR_MAX * 8];
	uint64_t	 v;
	MDB_val		 val;
	int		 rc, i;

	if ((rc = sdb_meta_put_u64(b->txn, s, "hlc", s->hlc.last)) != 0)
		return rc;
	if (b->clamped != 0) {
		if ((rc = sdb_meta_get_u64(b->txn, s, "clamped", &v)) != 0 ||
		    (rc = sdb_meta_put_u64(b->txn, s, "clamped",
		    v + b->clamped)) != 0)
			return rc;
	}
	for (i = 0; i < CAJA_ERR_MAX; i++)
		if (b->refused[i] != 0)
			break;
	if (i == CAJA_ERR_MAX)
		return 0;
	memset(blob, 0, sizeof(blob));
	rc = sdb_get(b->txn, s->dbi[DB_META], "refused", 7, &val);
	if (rc == 0 && val.mv_size == sizeof(blob))
		memcpy(blob, val.mv_data, sizeof(blob));
	else if (rc != 0 && rc != CAJA_ENOTFOUND)
		return rc;
	for (i = 0; i < CAJA_ERR_MAX; i++)
		sdb_be64_put(blob + 8 * i, sdb_be64_get(blob + 8 * i) +
		    b->refused[i]);
	return sdb_meta_put(b->txn, s, "refused", blob, sizeof(blob));
}

/*
 * Commits b's transaction. A batch of events merged from elsewhere and
 * nothing appended here skips the sync of LMDB's meta page
 * (MDB_NOMETASYNC): its data pages are synced, and a power cut can undo
 * this commit only (never corrupt the store) until the next commit syncs
 * the meta page with its own. Nothing was promised for those events: they
 * are still on the registers that sent them, and come again. Appends,
 * which clients are told are durable, always sync both.
 */
static int
commit(struct store_batch *b)
{
	MDB_env	*env = b->s->env;
	int	 lazy = b->received && !b->local && !b->s->nosync, rc;

	if (lazy && mdb_env_set_flags(env, MDB_NOMETASYNC, 1) != 0)
		lazy = 0;
	rc = sdb_err(mdb_txn_commit(b->txn));
	if (lazy)
		(void)mdb_env_set_flags(env, MDB_NOMETASYNC, 0);
	return rc;
}

int
store_batch_commit(struct store_batch **bp)
{
	struct store_batch	*b;
	int			 rc;

	if (bp == NULL || (b = *bp) == NULL)
		return CAJA_EINVAL;
	*bp = NULL;
	for (;;) {
		if (b->dead || b->txn == NULL) {
			rc = CAJA_EFULL;
			break;
		}
		/* (ingest_frames() ends its cache; this is a safety net) */
		rc = cache_end(b);
		if (rc == 0)
			rc = batch_meta(b);
		if (rc == 0) {
			rc = commit(b);
			b->txn = NULL;	/* committed or freed */
			sdb_batch_txn_end(b);
		}
		if (rc != SDB_EMAPFULL)
			break;
		if ((rc = sdb_batch_grow(b)) != 0)
			break;
	}
	batch_free(b);
	return rc;
}

void
store_batch_abort(struct store_batch **bp)
{
	if (bp == NULL || *bp == NULL)
		return;
	batch_free(*bp);
	*bp = NULL;
}

/* ---- create and join ---- */

static int
dir_prepare(const char *dir)
{
	struct stat	st;

	if (dir == NULL || strlen(dir) >= SDB_PATH_MAX - 32)
		return CAJA_EINVAL;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return sdb_err(errno);
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return CAJA_EINVAL;
	if (exists(dir, "data.mdb") || exists(dir, KEY_DEVICE) ||
	    exists(dir, KEY_STORE))
		return CAJA_EEXIST;
	return 0;
}

/* Writes meta of a new store and appends this device's enrollment. */
static int
found(const char *dir, const uint8_t store_pk[SIG_PK_LEN],
    const struct sig_key *dev, const struct sig_key *auth,
    const char *store_name, const char *name, uint64_t now_ms,
    struct store_ids *out)
{
	struct store		*s = NULL;
	struct store_batch	*b = NULL;
	struct store_opts	 o;
	MDB_txn			*txn = NULL;
	uint8_t			 ver[8];
	char			 msg[STORE_ERRMSG];
	int			 rc;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return CAJA_ENOMEM;
	s->map_size = STORE_MAP_INITIAL;
	s->map_max = STORE_MAP_MAX;
	if ((rc = env_open(s, dir)) != 0)
		goto out;
	sig_id_of_pk(s->ids.store_id, store_pk);
	if ((rc = sdb_err(mdb_txn_begin(s->env, NULL, 0, &txn))) != 0)
		goto out;
	sdb_be64_put(ver, SDB_VERSION);
	if ((rc = sdb_meta_put(txn, s, "store_id", s->ids.store_id,
	    ID_LEN)) != 0 ||
	    (rc = sdb_meta_put(txn, s, "store_pk", store_pk,
	    SIG_PK_LEN)) != 0 ||
	    (rc = sdb_meta_put(txn, s, "device_id", dev->id, ID_LEN)) != 0 ||
	    (rc = sdb_meta_put(txn, s, "version", ver, sizeof(ver))) != 0) {
		mdb_txn_abort(txn);
		goto out;
	}
	if ((rc = sdb_err(mdb_txn_commit(txn))) != 0)
		goto out;
	store_close(&s);
	memset(&o, 0, sizeof(o));
	if ((rc = store_open(&s, dir, &o)) != 0)
		goto out;
	if ((rc = store_batch_begin(s, &b)) != 0)
		goto out;
	msg[0] = '\0';
	if ((rc = append_enroll(b, auth, store_name, name, now_ms, NULL,
	    msg)) != 0)
		goto out;
	if ((rc = store_batch_commit(&b)) != 0)
		goto out;
	if (out != NULL)
		store_ids(s, out);
out:
	store_batch_abort(&b);
	store_close(&s);
	return rc;
}

static void
undo(const char *dir)
{
	static const char *const files[] = { "data.mdb", "lock.mdb",
	    KEY_DEVICE, KEY_STORE };
	char	path[SDB_PATH_MAX];
	size_t	i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (path_join(path, sizeof(path), dir, files[i]) == 0)
			unlink(path);
}

static int
name_ok(const char *name)
{
	size_t	n = strlen(name);

	return n > 0 && n <= IDENT_NAME_MAX;
}

int
store_create(const char *dir, const char *store_name,
    const char *device_name, uint64_t now_ms, struct store_ids *out)
{
	struct sig_key	*sk = NULL, *dk = NULL;
	int		 rc;

	if (store_name == NULL || !name_ok(store_name) ||
	    (device_name != NULL && !name_ok(device_name)))
		return CAJA_EINVAL;
	if (device_name == NULL)
		device_name = DEFAULT_NAME;
	if ((rc = sig_init()) != 0 || (rc = dir_prepare(dir)) != 0)
		return rc;
	if ((rc = sig_key_new(&sk)) != 0 || (rc = sig_key_new(&dk)) != 0)
		goto out;
	if ((rc = key_write(dir, KEY_STORE, sk)) != 0 ||
	    (rc = key_write(dir, KEY_DEVICE, dk)) != 0)
		goto fail;
	if ((rc = found(dir, sk->pk, dk, sk, store_name, device_name, now_ms,
	    out)) != 0)
		goto fail;
	goto out;
fail:
	undo(dir);
out:
	sig_key_destroy(&sk);
	sig_key_destroy(&dk);
	return rc;
}

int
store_join(const char *dir, const char *token, const char *device_name,
    uint64_t now_ms, struct store_ids *out)
{
	struct ident_token	 t;
	struct sig_key		*ik = NULL, *dk = NULL;
	int			 rc;

	if (device_name != NULL && !name_ok(device_name))
		return CAJA_EINVAL;
	if (device_name == NULL)
		device_name = DEFAULT_NAME;
	if ((rc = sig_init()) != 0)
		return rc;
	if ((rc = ident_token_decode(&t, token)) != 0)
		return rc;
	if (t.expires_ms < now_ms) {
		rc = CAJA_EEXPIRED;
		goto out;
	}
	if ((rc = dir_prepare(dir)) != 0)
		goto out;
	if ((rc = sig_key_from_seed(&ik, t.invite_seed)) != 0 ||
	    (rc = sig_key_new(&dk)) != 0)
		goto out;
	if ((rc = key_write(dir, KEY_DEVICE, dk)) != 0)
		goto fail;
	if ((rc = found(dir, t.store_pk, dk, ik, NULL, device_name, now_ms,
	    out)) != 0)
		goto fail;
	goto out;
fail:
	undo(dir);
out:
	sodium_memzero(&t, sizeof(t));
	sig_key_destroy(&ik);
	sig_key_destroy(&dk);
	return rc;
}
