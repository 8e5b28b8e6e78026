/*
 * xfer: export files (signed events for another agent or a USB stick),
 * their import, and catch-up reads for peers.
 *
 * File: STORE_EXPORT_MAGIC, then frames, each a u32 big-endian length and
 * the exact event bytes, in (device, seq) order. Import indexes the whole
 * file first (bounded by XFER_FILE_MAX), checking every length against
 * EVENT_FRAME_MAX, then ingests in batches of XFER_BATCH events (and at
 * most XFER_STEP_BYTES), one commit each. Events that wait for others
 * (causal order across batches, an invite from a device later in the
 * file) are retried in further passes while any pass makes progress.
 *
 * The file is read, never mapped: each batch's frames are copied into
 * memory of ours before they are verified, so the bytes verified are the
 * bytes merged. A file cut short under us, or whose length headers
 * changed, is an error ("shrank", "changed"), never a SIGBUS; events
 * rewritten in place otherwise fail their verification like any forgery.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/sdb.h"

#define XFER_FILE_MAX	(4ull << 30)
#define XFER_BATCH	25000
#define XFER_STEP_BYTES	(16u << 20)	/* of frames read for one batch */
#define XFER_CHUNK	(1u << 20)	/* reads of the index pass */
#define XFER_GAP	4096		/* bytes skipped by one read */
#define MAGIC_LEN	(sizeof(STORE_EXPORT_MAGIC) - 1)

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* A frame's length header n, with left bytes after it in the file. */
static int
frame_len_ok(uint32_t n, uint64_t left)
{
	return n > 0 && n <= EVENT_FRAME_MAX && n <= left;
}

int
store_export_parse(const uint8_t *buf, size_t len,
    int (*fn)(void *, const uint8_t *, size_t), void *arg)
{
	size_t		off;
	uint32_t	n;
	int		rc;

	if (buf == NULL || len < MAGIC_LEN ||
	    memcmp(buf, STORE_EXPORT_MAGIC, MAGIC_LEN) != 0)
		return CAJA_EDECODE;
	off = MAGIC_LEN;
	while (off < len) {
		if (len - off < 4)
			return CAJA_EDECODE;
		n = be32(buf + off);
		off += 4;
		if (!frame_len_ok(n, len - off))
			return CAJA_EDECODE;
		if ((rc = fn(arg, buf + off, n)) != 0)
			return rc;
		off += n;
	}
	return 0;
}

int
store_frames_since(struct store *s, const struct vclock *since, size_t max,
    int (*fn)(void *, const uint8_t *, size_t), void *arg)
{
	MDB_txn		*txn = NULL;
	MDB_cursor	*c = NULL;
	MDB_val		 k, v;
	uint8_t		 key[SDB_LOGKEY_LEN];
	uint64_t	 seq, have;
	size_t		 n = 0;
	int		 rc, op = MDB_FIRST;

	if ((rc = sdb_rtxn(s, &txn)) != 0)
		return rc;
	if ((rc = sdb_err(mdb_cursor_open(txn, s->dbi[DB_LOG], &c))) != 0)
		goto out;
	while ((rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if (k.mv_size != SDB_LOGKEY_LEN) {
			rc = CAJA_ECORRUPT;
			goto out;
		}
		seq = sdb_be64_get((uint8_t *)k.mv_data + ID_LEN);
		have = since != NULL ? vclock_get(since, k.mv_data) : 0;
		if (seq <= have) {
			/* jump past what `since` has of this device */
			memcpy(key, k.mv_data, ID_LEN);
			sdb_be64_put(key + ID_LEN, have + 1);
			k.mv_data = key;
			k.mv_size = sizeof(key);
			op = MDB_SET_RANGE;
			continue;
		}
		if (max != 0 && n >= max)
			break;
		if ((rc = fn(arg, v.mv_data, v.mv_size)) != 0)
			goto out;
		n++;
	}
	rc = rc == 0 || rc == MDB_NOTFOUND ? 0 : sdb_err(rc);
out:
	if (c != NULL)
		mdb_cursor_close(c);
	mdb_txn_abort(txn);
	return rc;
}

struct wr {
	FILE	*f;
	size_t	 n;
};

static int
write_frame(void *arg, const uint8_t *p, size_t len)
{
	struct wr	*w = arg;
	uint8_t		 hdr[4];

	hdr[0] = (uint8_t)(len >> 24);
	hdr[1] = (uint8_t)(len >> 16);
	hdr[2] = (uint8_t)(len >> 8);
	hdr[3] = (uint8_t)len;
	if (fwrite(hdr, 1, 4, w->f) != 4 || fwrite(p, 1, len, w->f) != len)
		return errno == ENOSPC ? CAJA_EFULL : CAJA_EIO;
	w->n++;
	return 0;
}

int
store_export(struct store *s, const struct vclock *since, const char *path,
    size_t *count)
{
	char		 tmp[SDB_PATH_MAX];
	struct wr	 w;
	int		 fd = -1, rc, n;

	if (count != NULL)
		*count = 0;
	if (path == NULL)
		return CAJA_EINVAL;
	n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return CAJA_ETOOBIG;
	memset(&w, 0, sizeof(w));
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return sdb_err(errno);
	if ((w.f = fdopen(fd, "wb")) == NULL) {
		close(fd);
		rc = CAJA_ENOMEM;
		goto fail;
	}
	if (fwrite(STORE_EXPORT_MAGIC, 1, MAGIC_LEN, w.f) != MAGIC_LEN) {
		rc = CAJA_EIO;
		goto fail;
	}
	if ((rc = store_frames_since(s, since, 0, write_frame, &w)) != 0)
		goto fail;
	if (fflush(w.f) != 0 || fsync(fileno(w.f)) != 0) {
		rc = errno == ENOSPC ? CAJA_EFULL : CAJA_EIO;
		goto fail;
	}
	if (fclose(w.f) != 0) {
		w.f = NULL;
		rc = CAJA_EIO;
		goto fail;
	}
	w.f = NULL;
	if (rename(tmp, path) != 0) {
		rc = sdb_err(errno);
		goto fail;
	}
	if (count != NULL)
		*count = w.n;
	return 0;
fail:
	if (w.f != NULL)
		fclose(w.f);
	unlink(tmp);
	return rc;
}

/* ---- import ---- */

/* store_export_frames()'s collector: grows by doubling, up to f->max. */
static int
collect(void *arg, const uint8_t *p, size_t len)
{
	struct store_frames	*f = arg;
	const uint8_t		**np;
	size_t			 *nl, cap;

	if (f->n == f->cap) {
		if (f->max != 0 && f->n >= f->max)
			return CAJA_ETOOBIG;
		cap = f->cap ? f->cap * 2 : 256;
		if ((np = realloc(f->p, cap * sizeof(*np))) == NULL)
			return CAJA_ENOMEM;
		f->p = np;
		if ((nl = realloc(f->len, cap * sizeof(*nl))) == NULL)
			return CAJA_ENOMEM;
		f->len = nl;
		f->cap = cap;
	}
	if (f->max != 0 && f->n >= f->max)
		return CAJA_ETOOBIG;
	f->p[f->n] = p;
	f->len[f->n] = len;
	f->n++;
	return 0;
}

int
store_export_frames(const uint8_t *buf, size_t len, size_t max,
    struct store_frames *f)
{
	memset(f, 0, sizeof(*f));
	f->max = max;
	return store_export_parse(buf, len, collect, f);
}

void
store_frames_free(struct store_frames *f)
{
	free(f->p);
	free(f->len);
	memset(f, 0, sizeof(*f));
}

/*
 * An import in steps (store_import_open/step/close): the file's frame
 * index, and the passes over what is still pending. A pass ingests the
 * pending frames in batches; what was refused with retry (it waits for
 * something later in the file) goes to the next pass, while a pass makes
 * progress.
 */
struct store_import {
	struct store		*s;
	char			 path[SDB_PATH_MAX];
	int			 fd;
	uint64_t		 size;		/* at open */
	uint64_t		*off;		/* frame i's bytes at off[i], */
	uint32_t		*len;		/* len[i] long */
	size_t			 n, cap;
	size_t			*pend, npend, *next, nnext, pos;
	size_t			 progress;	/* accepted in this pass */
	struct store_refusal	*wait;		/* of this pass, detailed */
	size_t			 nwait;
	/* one batch's scratch, XFER_BATCH long, and its frames' bytes */
	const uint8_t		**cp;
	size_t			 *cl;
	int			 *verdict;
	uint8_t			 *retry;
	struct store_refusal	 *detail;
	struct store_report	 *r;
	uint8_t			 *buf;
	size_t			  bufcap;
	struct store_report	  rep;		/* the whole import's */
	int			  done;		/* everything tried */
	int			  committed;	/* a step committed */
	int			  synced;	/* ... and made durable */
};

/* The steps' commits were of received events (store.c commit(): meta
 * page not synced): one sync makes them all durable. */
static int
import_sync(struct store_import *im)
{
	int	rc = 0;

	if (im->committed && !im->synced && !im->s->nosync)
		rc = sdb_err(mdb_env_sync(im->s->env, 1));
	if (rc == 0)
		im->synced = 1;
	return rc;
}

void
store_import_close(struct store_import **ip)
{
	struct store_import	*im;

	if (ip == NULL || (im = *ip) == NULL)
		return;
	*ip = NULL;
	/* Stopped half-way: what was merged is kept, durably. */
	(void)import_sync(im);
	if (im->fd >= 0)
		close(im->fd);
	free(im->off);
	free(im->len);
	free(im->pend);
	free(im->next);
	free(im->cp);
	free(im->cl);
	free(im->verdict);
	free(im->retry);
	free(im->detail);
	free(im->wait);
	free(im->r);
	free(im->buf);
	free(im);
}

/* Exactly len bytes at off, or CAJA_EIO with the reason in errmsg. */
static int
read_at(struct store_import *im, uint8_t *p, size_t len, uint64_t off,
    char *errmsg)
{
	ssize_t	n;

	while (len > 0) {
		n = pread(im->fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(errmsg, STORE_ERRMSG, n == 0 ? "the file "
			    "shrank during the import" : "read: %s",
			    strerror(errno));
			return CAJA_EIO;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/*
 * The frame index: every length header read and bounded, in chunks of
 * XFER_CHUNK (a header may straddle two), no frame's bytes kept.
 */
static int
index_file(struct store_import *im, char *errmsg)
{
	uint8_t		*chunk, magic[MAGIC_LEN];
	uint64_t	 base = 0, pos = MAGIC_LEN, want;
	uint64_t	*no;
	uint32_t	 n, *nl;
	size_t		 have = 0, cap;
	int		 rc;

	if ((rc = read_at(im, magic, MAGIC_LEN, 0, errmsg)) != 0)
		return rc;
	if (memcmp(magic, STORE_EXPORT_MAGIC, MAGIC_LEN) != 0) {
		snprintf(errmsg, STORE_ERRMSG, "not an export file");
		return CAJA_EDECODE;
	}
	if ((chunk = malloc(XFER_CHUNK)) == NULL)
		return CAJA_ENOMEM;
	while (pos < im->size) {
		if (im->size - pos < 4) {
			rc = CAJA_EDECODE;
			break;
		}
		if (pos < base || pos + 4 > base + have) {
			base = pos;
			want = im->size - pos < XFER_CHUNK ? im->size - pos :
			    XFER_CHUNK;
			have = (size_t)want;
			if ((rc = read_at(im, chunk, have, base, errmsg)) != 0)
				break;
		}
		n = be32(chunk + (pos - base));
		if (!frame_len_ok(n, im->size - pos - 4)) {
			rc = CAJA_EDECODE;
			break;
		}
		if (im->n == im->cap) {
			cap = im->cap ? im->cap * 2 : 256;
			no = realloc(im->off, cap * sizeof(*no));
			if (no == NULL) {
				rc = CAJA_ENOMEM;
				break;
			}
			im->off = no;
			nl = realloc(im->len, cap * sizeof(*nl));
			if (nl == NULL) {
				rc = CAJA_ENOMEM;
				break;
			}
			im->len = nl;
			im->cap = cap;
		}
		im->off[im->n] = pos + 4;
		im->len[im->n] = n;
		im->n++;
		pos += 4 + (uint64_t)n;
	}
	free(chunk);
	if (rc == CAJA_EDECODE)
		snprintf(errmsg, STORE_ERRMSG, "malformed export file (after "
		    "%zu events)", im->n);
	return rc;
}

int
store_import_open(struct store *s, const char *path,
    struct store_import **out, char errmsg[STORE_ERRMSG])
{
	struct store_import	*im;
	struct stat		 st;
	size_t			 i;
	int			 rc;
	char			 scratch[STORE_ERRMSG], m[STORE_ERRMSG];

	*out = NULL;
	if (errmsg == NULL)
		errmsg = scratch;
	errmsg[0] = '\0';
	if (s == NULL || path == NULL)
		return CAJA_EINVAL;
	if ((im = calloc(1, sizeof(*im))) == NULL)
		return CAJA_ENOMEM;
	im->s = s;
	im->fd = -1;
	snprintf(im->path, sizeof(im->path), "%s", path);
	if ((im->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = sdb_err(errno);
		snprintf(errmsg, STORE_ERRMSG, "%s: %s", path,
		    strerror(errno));
		goto fail;
	}
	if (fstat(im->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = CAJA_EINVAL;
		snprintf(errmsg, STORE_ERRMSG, "%s: not a regular file", path);
		goto fail;
	}
	if ((uint64_t)st.st_size > XFER_FILE_MAX ||
	    (size_t)st.st_size < MAGIC_LEN) {
		rc = st.st_size < (off_t)MAGIC_LEN ? CAJA_EDECODE :
		    CAJA_ETOOBIG;
		snprintf(errmsg, STORE_ERRMSG, "%s: %s", path,
		    rc == CAJA_EDECODE ? "not an export file" : "too big");
		goto fail;
	}
	im->size = (uint64_t)st.st_size;
	im->cp = malloc(XFER_BATCH * sizeof(*im->cp));
	im->cl = malloc(XFER_BATCH * sizeof(*im->cl));
	im->verdict = malloc(XFER_BATCH * sizeof(*im->verdict));
	im->retry = malloc(XFER_BATCH);
	im->detail = calloc(XFER_BATCH, sizeof(*im->detail));
	im->r = malloc(sizeof(*im->r));
	im->wait = calloc(STORE_REFUSED_MAX, sizeof(*im->wait));
	if (im->wait == NULL || im->cp == NULL || im->cl == NULL ||
	    im->verdict == NULL || im->retry == NULL || im->detail == NULL ||
	    im->r == NULL) {
		rc = CAJA_ENOMEM;
		goto fail;
	}
	m[0] = '\0';
	if ((rc = index_file(im, m)) != 0) {
		if (m[0] != '\0')
			snprintf(errmsg, STORE_ERRMSG, "%s: %.160s", path, m);
		goto fail;
	}
	im->pend = malloc((im->n + 1) * sizeof(*im->pend));
	im->next = malloc((im->n + 1) * sizeof(*im->next));
	if (im->pend == NULL || im->next == NULL) {
		rc = CAJA_ENOMEM;
		goto fail;
	}
	for (i = 0; i < im->n; i++)
		im->pend[i] = i;
	im->npend = im->n;
	im->done = im->npend == 0;
	*out = im;
	return 0;
fail:
	store_import_close(&im);
	return rc;
}

/* Bytes between frames a and b (b later in the file) when one read takes
 * both, else UINT64_MAX. */
static uint64_t
gap(const struct store_import *im, size_t a, size_t b)
{
	uint64_t	end = im->off[a] + im->len[a], start = im->off[b] - 4;

	return start >= end && start - end <= XFER_GAP ? start - end :
	    UINT64_MAX;
}

/*
 * Reads the frames pend[pos .. pos + *m) into im->buf, each with its
 * length header (checked against the index: frames moved since the file
 * was opened are refused, not misread), and points cp/cl at them. Frames
 * close together in the file come in one read. *m shrinks to
 * XFER_STEP_BYTES (never below one frame).
 */
static int
read_frames(struct store_import *im, size_t *m, char *errmsg)
{
	const size_t	*pk = im->pend + im->pos;
	size_t		 j, k, run, need = 0, at = 0, more;
	uint64_t	 from, to, g;
	uint8_t		*nb, *h;
	int		 rc;

	for (j = 0; j < *m; j++) {
		g = j > 0 ? gap(im, pk[j - 1], pk[j]) : UINT64_MAX;
		more = (g != UINT64_MAX ? (size_t)g : 0) + 4 + im->len[pk[j]];
		if (j > 0 && need + more > XFER_STEP_BYTES)
			break;
		need += more;
	}
	*m = j;
	if (need > im->bufcap) {
		if ((nb = realloc(im->buf, need)) == NULL)
			return CAJA_ENOMEM;
		im->buf = nb;
		im->bufcap = need;
	}
	for (j = 0; j < *m; j = run) {
		from = im->off[pk[j]] - 4;
		to = im->off[pk[j]] + im->len[pk[j]];
		for (run = j + 1; run < *m &&
		    gap(im, pk[run - 1], pk[run]) != UINT64_MAX; run++)
			to = im->off[pk[run]] + im->len[pk[run]];
		if ((rc = read_at(im, im->buf + at, (size_t)(to - from), from,
		    errmsg)) != 0)
			return rc;
		for (k = j; k < run; k++) {
			h = im->buf + at + (im->off[pk[k]] - 4 - from);
			if (be32(h) != im->len[pk[k]]) {
				snprintf(errmsg, STORE_ERRMSG, "the file "
				    "changed during the import");
				return CAJA_EIO;
			}
			im->cp[k] = h + 4;
			im->cl[k] = im->len[pk[k]];
		}
		at += (size_t)(to - from);
	}
	return 0;
}

/* The end of a pass: another one, or the end of the import. */
static void
end_of_pass(struct store_import *im)
{
	size_t	k;

	if (im->progress == 0 || im->nnext == 0) {
		/* What still waits now waits for good. */
		for (k = 0; k < im->nwait; k++)
			ingest_refusal(&im->rep, im->wait[k].dev,
			    im->wait[k].seq, im->wait[k].err, 1,
			    im->wait[k].msg);
		im->rep.refused += im->nnext - im->nwait;
		im->done = 1;
		return;
	}
	memcpy(im->pend, im->next, im->nnext * sizeof(*im->pend));
	im->npend = im->nnext;
	im->nnext = 0;
	im->nwait = 0;
	im->pos = 0;
	im->progress = 0;
}

int
store_import_step(struct store_import *im, size_t max, uint64_t now_ms,
    int *done, char errmsg[STORE_ERRMSG])
{
	struct store_batch	*b = NULL;
	struct store_report	*r = im->r;
	size_t			 j, m;
	int			 rc;
	char			 scratch[STORE_ERRMSG];

	if (errmsg == NULL)
		errmsg = scratch;
	errmsg[0] = '\0';
	*done = 0;
	if (im->done)
		goto sync;	/* a failed final sync, tried again */
	if (max == 0 || max > XFER_BATCH)
		max = XFER_BATCH;
	m = im->npend - im->pos < max ? im->npend - im->pos : max;
	/* Nothing merged from a file cut short or rewritten (write a new
	 * file and rename it, as store_export() does). */
	if ((rc = read_frames(im, &m, errmsg)) != 0) {
		if (errmsg[0] == '\0')
			goto fail;
		return rc;
	}
	if ((rc = store_batch_begin(im->s, &b)) != 0)
		goto fail;
	rc = ingest_frames(b, im->cp, im->cl, m, now_ms, r, im->verdict,
	    im->retry, im->detail);
	if (rc == 0)
		rc = store_batch_commit(&b);
	store_batch_abort(&b);
	if (rc != 0)
		goto fail;
	im->committed = 1;
	im->synced = 0;
	im->rep.accepted += r->accepted;
	im->rep.duplicate += r->duplicate;
	im->rep.forks += r->forks;
	im->rep.sig_checks += r->sig_checks;
	im->progress += r->accepted;
	for (j = 0; j < m; j++) {
		if (im->verdict[j] <= 0)
			continue;
		if (im->retry[j]) {
			im->next[im->nnext++] = im->pend[im->pos + j];
			if (im->nwait < STORE_REFUSED_MAX)
				im->wait[im->nwait++] = im->detail[j];
			continue;
		}
		ingest_refusal(&im->rep, im->detail[j].dev, im->detail[j].seq,
		    im->detail[j].err, 0, im->detail[j].msg);
	}
	im->pos += m;
	if (im->pos == im->npend)
		end_of_pass(im);
	if (!im->done)
		return 0;
sync:
	/* Durable before the import is reported done. */
	if ((rc = import_sync(im)) != 0) {
		snprintf(errmsg, STORE_ERRMSG, "import: sync: %s",
		    err_str(rc));
		return rc;
	}
	*done = 1;
	return 0;
fail:
	snprintf(errmsg, STORE_ERRMSG, "import stopped: %s", err_str(rc));
	return rc;
}

const struct store_report *
store_import_report(const struct store_import *im)
{
	return &im->rep;
}

void
store_import_progress(const struct store_import *im, size_t *frames,
    size_t *pending, const char **path)
{
	*frames = im->n;
	*pending = im->done ? 0 : im->npend - im->pos + im->nnext;
	*path = im->path;
}

int
store_import(struct store *s, const char *path, uint64_t now_ms,
    struct store_report *rep, char errmsg[STORE_ERRMSG])
{
	struct store_import	*im = NULL;
	int			 rc, done = 0;

	memset(rep, 0, sizeof(*rep));
	if ((rc = store_import_open(s, path, &im, errmsg)) != 0)
		return rc;
	while (!done && (rc = store_import_step(im, XFER_BATCH, now_ms,
	    &done, errmsg)) == 0)
		;
	if (rc == 0)
		*rep = *store_import_report(im);
	store_import_close(&im);
	return rc;
}
