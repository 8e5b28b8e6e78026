/*
 * xfer: export files (signed events for another agent or a USB stick),
 * their import, and catch-up reads for peers.
 *
 * File: STORE_EXPORT_MAGIC, then frames, each a u32 big-endian length and
 * the exact event bytes, in (device, seq) order. Import reads the whole
 * file (bounded by XFER_FILE_MAX), checks every length against
 * EVENT_FRAME_MAX before looking at the bytes, and ingests in batches of
 * XFER_BATCH events, one commit each. Events that wait for others (causal
 * order across batches, an invite from a device later in the file) are
 * retried in further passes while any pass makes progress.
 */
#include <sys/mman.h>
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
#define MAGIC_LEN	(sizeof(STORE_EXPORT_MAGIC) - 1)

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
		n = (uint32_t)buf[off] << 24 | (uint32_t)buf[off + 1] << 16 |
		    (uint32_t)buf[off + 2] << 8 | buf[off + 3];
		off += 4;
		if (n == 0 || n > EVENT_FRAME_MAX || n > len - off)
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

struct frames {
	const uint8_t	**p;
	size_t		 *len;
	size_t		  n, cap;
};

static int
collect(void *arg, const uint8_t *p, size_t len)
{
	struct frames	*f = arg;

	if (f->n == f->cap)
		return CAJA_ETOOBIG;
	f->p[f->n] = p;
	f->len[f->n] = len;
	f->n++;
	return 0;
}

int
store_import(struct store *s, const char *path, uint64_t now_ms,
    struct store_report *rep, char errmsg[STORE_ERRMSG])
{
	struct store_report	*r = NULL;
	struct store_batch	*b = NULL;
	struct frames		 f;
	struct stat		 st;
	const uint8_t		**cp = NULL;
	size_t			 *cl = NULL, *pend = NULL, *next = NULL;
	size_t			  npend, nnext, nwait, i, j, k, m;
	size_t			  progress;
	struct store_refusal	 *detail = NULL, *wait = NULL;
	uint8_t			 *map = MAP_FAILED, *retry = NULL;
	int			 *verdict = NULL;
	int			  fd = -1, rc;
	char			  scratch[STORE_ERRMSG];

	memset(rep, 0, sizeof(*rep));
	memset(&f, 0, sizeof(f));
	if (errmsg == NULL)
		errmsg = scratch;
	errmsg[0] = '\0';
	if (path == NULL)
		return CAJA_EINVAL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = sdb_err(errno);
		snprintf(errmsg, STORE_ERRMSG, "%s: %s", path,
		    strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = CAJA_EINVAL;
		snprintf(errmsg, STORE_ERRMSG, "%s: not a regular file", path);
		goto out;
	}
	if ((uint64_t)st.st_size > XFER_FILE_MAX ||
	    (size_t)st.st_size < MAGIC_LEN) {
		rc = st.st_size < (off_t)MAGIC_LEN ? CAJA_EDECODE :
		    CAJA_ETOOBIG;
		snprintf(errmsg, STORE_ERRMSG, "%s: %s", path,
		    rc == CAJA_EDECODE ? "not an export file" : "too big");
		goto out;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		rc = CAJA_EIO;
		snprintf(errmsg, STORE_ERRMSG, "%s: %s", path, strerror(errno));
		goto out;
	}
	f.cap = (size_t)st.st_size / 5 + 1;
	f.p = malloc(f.cap * sizeof(*f.p));
	f.len = malloc(f.cap * sizeof(*f.len));
	pend = malloc(f.cap * sizeof(*pend));
	next = malloc(f.cap * sizeof(*next));
	cp = malloc(XFER_BATCH * sizeof(*cp));
	cl = malloc(XFER_BATCH * sizeof(*cl));
	verdict = malloc(XFER_BATCH * sizeof(*verdict));
	retry = malloc(XFER_BATCH);
	detail = calloc(XFER_BATCH, sizeof(*detail));
	r = malloc(sizeof(*r));
	wait = calloc(STORE_REFUSED_MAX, sizeof(*wait));
	if (wait == NULL || f.p == NULL || f.len == NULL || pend == NULL || next == NULL ||
	    cp == NULL || cl == NULL || verdict == NULL || retry == NULL ||
	    detail == NULL || r == NULL) {
		rc = CAJA_ENOMEM;
		goto out;
	}
	if ((rc = store_export_parse(map, (size_t)st.st_size, collect,
	    &f)) != 0) {
		snprintf(errmsg, STORE_ERRMSG, "%s: malformed export file "
		    "(after %zu events)", path, f.n);
		goto out;
	}
	for (i = 0; i < f.n; i++)
		pend[i] = i;
	npend = f.n;
	while (npend > 0) {
		progress = 0;
		nnext = 0;
		nwait = 0;
		for (i = 0; i < npend; i += m) {
			m = npend - i < XFER_BATCH ? npend - i : XFER_BATCH;
			for (j = 0; j < m; j++) {
				cp[j] = f.p[pend[i + j]];
				cl[j] = f.len[pend[i + j]];
			}
			if ((rc = store_batch_begin(s, &b)) != 0)
				goto out;
			rc = ingest_frames(b, cp, cl, m, now_ms, r, verdict,
			    retry, detail);
			if (rc == 0)
				rc = store_batch_commit(&b);
			store_batch_abort(&b);
			if (rc != 0) {
				snprintf(errmsg, STORE_ERRMSG, "import "
				    "stopped: %s", err_str(rc));
				goto out;
			}
			rep->accepted += r->accepted;
			rep->duplicate += r->duplicate;
			rep->forks += r->forks;
			rep->sig_checks += r->sig_checks;
			progress += r->accepted;
			for (j = 0; j < m; j++) {
				if (verdict[j] <= 0)
					continue;
				if (retry[j]) {
					next[nnext++] = pend[i + j];
					if (nwait < STORE_REFUSED_MAX)
						wait[nwait++] = detail[j];
					continue;
				}
				ingest_refusal(rep, detail[j].dev,
				    detail[j].seq, detail[j].err, 0,
				    detail[j].msg);
			}
		}
		if (progress == 0 || nnext == 0) {
			/* What still waits now waits for good. */
			for (k = 0; k < nwait; k++)
				ingest_refusal(rep, wait[k].dev, wait[k].seq,
				    wait[k].err, 1, wait[k].msg);
			rep->refused += nnext - nwait;
			break;
		}
		memcpy(pend, next, nnext * sizeof(*pend));
		npend = nnext;
	}
	/* Its batches were received ones (store.c commit()): make the last
	 * durable before the import is reported done. */
	rc = s->nosync ? 0 : sdb_err(mdb_env_sync(s->env, 1));
	if (rc != 0)
		snprintf(errmsg, STORE_ERRMSG, "import: sync: %s",
		    err_str(rc));
out:
	store_batch_abort(&b);
	if (map != MAP_FAILED)
		munmap(map, (size_t)st.st_size);
	if (fd >= 0)
		close(fd);
	free(f.p);
	free(f.len);
	free(pend);
	free(next);
	free(cp);
	free(cl);
	free(verdict);
	free(retry);
	free(detail);
	free(wait);
	free(r);
	return rc;
}
