/*
 * auth: the admin token.
 *
 * A pull hands out a store's events, so it must come from a device
 * enrolled in that store: the device signs the request (API.md "Signed
 * requests") with its Ed25519 key, the one that signs its events. Store
 * ids are not secrets (mDNS announces them); device keys are. The message
 * signed is proto/cloudreq.c's, the same the agent's uplink signs;
 * http.c checks it.
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
