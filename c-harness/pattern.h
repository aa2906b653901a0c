/*
 * pattern.h - deterministic, position-addressable test data.
 *
 * The byte at absolute position p of the stream for seed S is byte (p % 8)
 * (little-endian) of splitmix64_at(S, p / 8), where splitmix64_at(S, k) is
 * the k-th output (k from 0) of a splitmix64 generator whose state starts
 * at S. Any range of any image can therefore be regenerated and compared
 * without keeping a copy: a random-offset read is checked against
 * pattern_fill(seed, offset, ...), and an image written in several parts
 * (checkpoint/restart) is one continuous stream.
 */
#ifndef HARNESS_PATTERN_H
#define HARNESS_PATTERN_H

#include <stddef.h>
#include <stdint.h>

uint64_t splitmix64_at(uint64_t seed, uint64_t k);

/* fill buf with len bytes of the stream for seed, starting at position pos */
void pattern_fill(uint64_t seed, uint64_t pos, void *buf, size_t len);

/* index of the first byte of buf that differs from the stream, or len */
size_t pattern_mismatch(uint64_t seed, uint64_t pos, const void *buf, size_t len);

/* SHA-1 (hex) of bytes [0, size) of the stream for seed */
void pattern_sha1(uint64_t seed, uint64_t size, char hex[41]);

/* a small sequential PRNG (splitmix64) for choosing offsets etc. */
typedef struct {
    uint64_t state;
} prng_t;
void prng_seed(prng_t *r, uint64_t seed);
uint64_t prng_next(prng_t *r);
/* uniform in [0, n) (n > 0) */
uint64_t prng_below(prng_t *r, uint64_t n);

#endif
