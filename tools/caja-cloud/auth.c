/*
 * auth: signed requests and the admin token.
 *
 * A pull hands out a store's events, so it must come from a device
 * enrolled in that store: the device signs the request (API.md "Signed
 * requests") with its Ed25519 key, the one that signs its events. Store
 * ids are not secrets (mDNS announces them); device keys are.
 *
 * The head office writes through POST /v2/stores/{id}/events with a
 * bearer token kept in DATA/admin.token (created by enroll, mode 0600).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "proto/sig.h"
#include "tools/caja-cloud/cloud.h"

static int
arg_cmp(const void *x, const void *y)
{
	const struct cauth_arg	*a = x, *b = y;
	int			 c;

	if ((c = strcmp(a->name, b->name)) != 0)
		return c;
	return strcmp(a->value, b->value);
}

static int
line(struct buf *b, const char *s)
{
	int	rc;

	if (s == NULL)
		s = "";
	if ((rc = buf_add(b, s, strlen(s))) != 0)
		return rc;
	return buf_add(b, "\n", 1);
}

int
cauth_message(struct buf *b, const char *method, const char *path,
    const char *store, const char *device, const char *time_ms,
    struct cauth_arg *args, size_t nargs, const uint8_t *body,
    size_t body_len)
{
	uint8_t	h[HASH_LEN];
	char	hex[HASH_HEX];
	size_t	i;
	int	rc;

	buf_clear(b);
	if (nargs > 0)
		qsort(args, nargs, sizeof(*args), arg_cmp);
	if ((rc = line(b, "caja-cloud-req-v1")) != 0 ||
	    (rc = line(b, method)) != 0 || (rc = line(b, path)) != 0 ||
	    (rc = line(b, store)) != 0 || (rc = line(b, device)) != 0 ||
	    (rc = line(b, time_ms)) != 0)
		return rc;
	for (i = 0; i < nargs; i++) {
		if (i > 0 && (rc = buf_add(b, "&", 1)) != 0)
			return rc;
		if ((rc = buf_add(b, args[i].name, strlen(args[i].name))) ||
		    (rc = buf_add(b, "=", 1)) ||
		    (rc = buf_add(b, args[i].value, strlen(args[i].value))))
			return rc;
	}
	if ((rc = buf_add(b, "\n", 1)) != 0)
		return rc;
	sig_hash(h, body != NULL ? body : (const uint8_t *)"", body_len);
	ids_hex(hex, h, HASH_LEN);
	return buf_add(b, hex, HASH_HEX - 1);
}

int
cauth_admin_token(const char *data_dir, int create, char *out, size_t cap)
{
	uint8_t	 rnd[CLOUD_TOKEN_LEN / 2];
	char	*path = NULL, tmp[CLOUD_TOKEN_LEN + 2];
	ssize_t	 r;
	int	 fd = -1, rc = 0;

	if (cap < CLOUD_TOKEN_LEN + 1)
		return CAJA_ETOOBIG;
	if (asprintf(&path, "%s/%s", data_dir, CLOUD_TOKEN_FILE) < 0)
		return CAJA_ENOMEM;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) >= 0) {
		r = read(fd, tmp, sizeof(tmp));
		if (r < CLOUD_TOKEN_LEN || strspn(tmp, "0123456789abcdef") <
		    CLOUD_TOKEN_LEN)
			rc = CAJA_ECORRUPT;
		else {
			memcpy(out, tmp, CLOUD_TOKEN_LEN);
			out[CLOUD_TOKEN_LEN] = '\0';
		}
		goto out;
	}
	if (errno != ENOENT || !create) {
		rc = errno == ENOENT ? CAJA_ENOTFOUND : CAJA_EIO;
		goto out;
	}
	if (sig_init() != 0) {
		rc = CAJA_ENOMEM;
		goto out;
	}
	randombytes_buf(rnd, sizeof(rnd));
	ids_hex(out, rnd, sizeof(rnd));
	sodium_memzero(rnd, sizeof(rnd));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd < 0) {
		rc = errno == EEXIST ? CAJA_EAGAIN : CAJA_EIO;
		goto out;
	}
	memcpy(tmp, out, CLOUD_TOKEN_LEN);
	tmp[CLOUD_TOKEN_LEN] = '\n';
	if (write(fd, tmp, CLOUD_TOKEN_LEN + 1) != CLOUD_TOKEN_LEN + 1 ||
	    fsync(fd) != 0) {
		rc = CAJA_EIO;
		unlink(path);
	}
out:
	sodium_memzero(tmp, sizeof(tmp));
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}

int
cauth_token_eq(const char *a, const char *b)
{
	size_t	la = strlen(a), lb = strlen(b);

	if (la != lb || la == 0)
		return 0;
	return sodium_memcmp(a, b, la) == 0;
}
