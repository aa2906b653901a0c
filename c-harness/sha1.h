/*
 * sha1.h - a small, dependency-free SHA-1 (FIPS 180-4) for the harness.
 * Written for this project; placed in the public domain.
 */
#ifndef HARNESS_SHA1_H
#define HARNESS_SHA1_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t h[5];
    uint64_t total;          /* bytes hashed so far */
    unsigned char block[64]; /* pending partial block */
    size_t used;             /* bytes in block */
} sha1_ctx;

void sha1_init(sha1_ctx *c);
void sha1_update(sha1_ctx *c, const void *data, size_t len);
void sha1_final(sha1_ctx *c, unsigned char digest[20]);
/* 40 lower-case hex digits + NUL */
void sha1_hex(const unsigned char digest[20], char hex[41]);
/* one-shot convenience */
void sha1_buf_hex(const void *data, size_t len, char hex[41]);

#endif
