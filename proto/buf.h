/*
 * buf: a growable byte buffer with a hard maximum.
 *
 * Owns its memory; buf_reset() frees it. Not thread-safe. Pure.
 */
#ifndef CAJA_BUF_H
#define CAJA_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "proto/err.h"

#define BUF_MAX_DEFAULT	(64u * 1024 * 1024)

struct buf {
	uint8_t	*p;
	size_t	 len;
	size_t	 cap;
	size_t	 max;	/* 0: BUF_MAX_DEFAULT */
};

void	buf_init(struct buf *, size_t max);
void	buf_reset(struct buf *);		/* frees */
void	buf_clear(struct buf *);		/* len = 0, keeps memory */
int	buf_reserve(struct buf *, size_t extra) CAJA_WUR;
int	buf_add(struct buf *, const void *, size_t) CAJA_WUR;

#endif
