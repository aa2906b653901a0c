/* pattern.c - see pattern.h */
#include "pattern.h"
#include "sha1.h"

#include <stdlib.h>
#include <string.h>

#define GOLDEN 0x9E3779B97F4A7C15ull

static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t splitmix64_at(uint64_t seed, uint64_t k) { return mix(seed + (k + 1) * GOLDEN); }

static void put_le64(unsigned char *p, uint64_t v)
{
    int i;
    for (i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

void pattern_fill(uint64_t seed, uint64_t pos, void *buf, size_t len)
{
    unsigned char *p = buf;
    unsigned char w[8];
    uint64_t k = pos / 8;
    size_t skip = (size_t)(pos % 8);

    if (len == 0) return;
    if (skip) {
        size_t n = 8 - skip;
        if (n > len) n = len;
        put_le64(w, splitmix64_at(seed, k));
        memcpy(p, w + skip, n);
        p += n; len -= n; k++;
    }
    while (len >= 8) {
        put_le64(p, splitmix64_at(seed, k));
        p += 8; len -= 8; k++;
    }
    if (len) {
        put_le64(w, splitmix64_at(seed, k));
        memcpy(p, w, len);
    }
}

size_t pattern_mismatch(uint64_t seed, uint64_t pos, const void *buf, size_t len)
{
    unsigned char tmp[4096];
    const unsigned char *p = buf;
    size_t done = 0;
    while (done < len) {
        size_t n = len - done;
        size_t i;
        if (n > sizeof tmp) n = sizeof tmp;
        pattern_fill(seed, pos + done, tmp, n);
        if (memcmp(tmp, p + done, n) != 0) {
            for (i = 0; i < n; i++)
                if (tmp[i] != p[done + i]) return done + i;
        }
        done += n;
    }
    return len;
}

void pattern_sha1(uint64_t seed, uint64_t size, char hex[41])
{
    static const size_t chunk = 1u << 20;
    unsigned char *buf = malloc(chunk);
    unsigned char dg[20];
    sha1_ctx c;
    uint64_t pos = 0;

    sha1_init(&c);
    if (!buf) abort();
    while (pos < size) {
        size_t n = (size - pos) < chunk ? (size_t)(size - pos) : chunk;
        pattern_fill(seed, pos, buf, n);
        sha1_update(&c, buf, n);
        pos += n;
    }
    sha1_final(&c, dg);
    sha1_hex(dg, hex);
    free(buf);
}

void prng_seed(prng_t *r, uint64_t seed) { r->state = seed; }

uint64_t prng_next(prng_t *r)
{
    r->state += GOLDEN;
    return mix(r->state);
}

uint64_t prng_below(prng_t *r, uint64_t n) { return n ? prng_next(r) % n : 0; }
