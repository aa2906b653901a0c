/*
 * hcarchive.c - an archive application written against the 5800
 * ("Honeycomb") synchronous C API (hcclient.h), linked normally with
 * -lhoneycomb (no dlopen). Each subcommand runs one group of checks
 * against a server directory, prints what it does, and exits 1 on the
 * first mismatch (0 when everything matched).
 *
 *   hcarchive schema DIR     schema listing over the factory schema
 *   hcarchive store DIR      store (several sizes, short reads), system
 *                            record, retrieve, range retrieve, metadata,
 *                            store_metadata, check_indexed
 *   hcarchive query DIR      where / select queries, paging, prepared
 *                            statements, integrity
 *   hcarchive delete DIR     delete: retrieve/metadata/delete give
 *                            NO_SUCH_OBJECT, gone from queries
 *   hcarchive errors DIR     bad inputs: nothing stored, error codes,
 *                            session status text, hc_decode_hcerr
 *   hcarchive ost DIR NAME COUNT SIZE
 *                            COUNT objects match ost.basename = 'NAME'
 *                            (backup images written through stsp_*),
 *                            each SIZE bytes of data
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdint.h>
#include <time.h>
#include <sys/time.h>

#include "hcclient.h"
#include "../sha1.h"

static const char *cmd = "?";

#define FAIL(...)                                                              \
    do {                                                                       \
        fprintf(stderr, "hcarchive %s: FAIL %s:%d: ", cmd, __FILE__, __LINE__); \
        fprintf(stderr, __VA_ARGS__);                                          \
        fprintf(stderr, "\n");                                                 \
        exit(1);                                                               \
    } while (0)

/* expect a return code */
#define EXPECT(call, want)                                                     \
    do {                                                                       \
        hcerr_t got_ = (call);                                                 \
        if (got_ != (want))                                                    \
            FAIL("%s returned %s (%d), expected %s (%d)", #call,                \
                 hc_decode_hcerr(got_), (int)got_, hc_decode_hcerr(want),      \
                 (int)(want));                                                 \
    } while (0)
#define OK(call) EXPECT(call, HCERR_OK)
#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (!(cond))                                                           \
            FAIL(__VA_ARGS__);                                                 \
    } while (0)

static int64_t now_ms(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* ------------------------------------------------------------------ */
/* data source / destination callbacks                                 */
/* ------------------------------------------------------------------ */

typedef struct {
    unsigned char *data;
    size_t len, pos;
    long calls;
    long abort_after; /* return -1 after this many bytes (-1: never) */
} source_t;

/* Short counts on purpose: never more than n, and a varying chunk. */
static long read_source(void *stream, char *buff, long n) {
    source_t *s = stream;
    long chunk, left;
    s->calls++;
    if (s->abort_after >= 0 && (long)s->pos >= s->abort_after)
        return -1;
    left = (long)(s->len - s->pos);
    if (left == 0)
        return 0;
    chunk = 1 + (s->calls * 7919) % 70001; /* 1 .. 70001 bytes */
    if (chunk > n)
        chunk = n;
    if (chunk > left)
        chunk = left;
    memcpy(buff, s->data + s->pos, (size_t)chunk);
    s->pos += (size_t)chunk;
    return chunk;
}

typedef struct {
    unsigned char *buf;
    size_t len, cap;
    long calls;
    sha1_ctx sha;
} sink_t;

static long write_sink(void *stream, char *buff, long n) {
    sink_t *k = stream;
    k->calls++;
    if (n <= 0)
        FAIL("write callback called with n=%ld", n);
    if (k->len + (size_t)n > k->cap) {
        size_t cap = k->cap ? k->cap : 4096;
        while (cap < k->len + (size_t)n)
            cap *= 2;
        k->buf = realloc(k->buf, cap);
        if (!k->buf)
            FAIL("out of memory");
        k->cap = cap;
    }
    memcpy(k->buf + k->len, buff, (size_t)n);
    k->len += (size_t)n;
    sha1_update(&k->sha, buff, (size_t)n);
    return n;
}

static void sink_reset(sink_t *k) {
    k->len = 0;
    k->calls = 0;
    sha1_init(&k->sha);
}

static void sink_hex(sink_t *k, char hex[41]) {
    unsigned char d[20];
    sha1_final(&k->sha, d);
    sha1_hex(d, hex);
}

static unsigned char *make_data(size_t len, uint64_t seed) {
    unsigned char *p = malloc(len ? len : 1);
    uint64_t x = seed;
    size_t i;
    if (!p)
        FAIL("out of memory");
    for (i = 0; i < len; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        p[i] = (unsigned char)(x >> 56);
    }
    return p;
}

static hc_session_t *open_session(char *dir) {
    hc_session_t *s = (hc_session_t *)0x1;
    OK(hc_init(malloc, free, realloc));
    OK(hc_session_create_ez(dir, -1, &s));
    CHECK(s != NULL, "hc_session_create_ez gave a NULL session");
    printf("session on %s (port -1 = default)\n", dir);
    return s;
}

static void close_session(hc_session_t *s) {
    OK(hc_session_free(s));
    OK(hc_cleanup());
}

static void check_oid_text(const char *oid) {
    size_t i, n = strlen(oid);
    CHECK(n == 60, "OID '%s' has %zu characters, expected 60", oid, n);
    for (i = 0; i < n; i++)
        CHECK(strchr("0123456789abcdefABCDEF", oid[i]) != NULL, "OID '%s' is not hex", oid);
}

/* check a system record against what was stored */
static void check_record(const hc_system_record_t *r, size_t len, const char *hex, int64_t t0,
                         int64_t t1) {
    check_oid_text(r->oid);
    CHECK(strcmp(r->digest_algo, "sha1") == 0, "digest_algo '%s', expected sha1", r->digest_algo);
    CHECK(strcmp(r->data_digest, hex) == 0, "data_digest %s, expected (SHA-1 in C) %s", r->data_digest,
          hex);
    CHECK(r->size == (hc_long_t)len, "size %lld, expected %zu", (long long)r->size, len);
    CHECK(r->creation_time >= t0 - 1000 && r->creation_time <= t1 + 1000,
          "creation_time %lld not within [%lld, %lld] ms", (long long)r->creation_time,
          (long long)t0, (long long)t1);
    CHECK(r->deleted_time == 0, "deleted_time %lld, expected 0", (long long)r->deleted_time);
    CHECK(r->is_indexed == 1, "is_indexed %d, expected 1", r->is_indexed);
}

/* Store len bytes of seeded data; returns the record and the SHA-1. */
static void store_data(hc_session_t *s, size_t len, uint64_t seed, hc_nvr_t *nvr,
                       hc_system_record_t *rec, char hex[41]) {
    source_t src;
    int64_t t0, t1;
    memset(&src, 0, sizeof src);
    src.data = make_data(len, seed);
    src.len = len;
    src.abort_after = -1;
    sha1_buf_hex(src.data, len, hex);
    memset(rec, 0x5a, sizeof *rec);
    t0 = now_ms();
    OK(hc_store_both_ez(s, read_source, &src, nvr, rec));
    t1 = now_ms();
    CHECK(src.pos == len, "store consumed %zu of %zu bytes", src.pos, len);
    check_record(rec, len, hex, t0, t1);
    printf("hc_store_both_ez %9zu bytes (%ld reads): oid %s sha1 %s ctime %lld indexed %d\n", len,
           src.calls, rec->oid, rec->data_digest, (long long)rec->creation_time, rec->is_indexed);
    free(src.data);
}

static void retrieve_check(hc_session_t *s, hc_oid *oid, size_t len, uint64_t seed) {
    sink_t k;
    char hex[41], want[41];
    unsigned char *data = make_data(len, seed);
    memset(&k, 0, sizeof k);
    sink_reset(&k);
    OK(hc_retrieve_ez(s, write_sink, &k, oid));
    sink_hex(&k, hex);
    sha1_buf_hex(data, len, want);
    CHECK(k.len == len, "retrieve gave %zu bytes, expected %zu", k.len, len);
    CHECK(len == 0 || memcmp(k.buf, data, len) == 0, "retrieve: bytes differ");
    CHECK(strcmp(hex, want) == 0, "retrieve: sha1 %s, expected %s", hex, want);
    printf("hc_retrieve_ez %s: %zu bytes in %ld writes, sha1 %s\n", *oid, k.len, k.calls, hex);
    free(k.buf);
    free(data);
}

/* the NVR every stored object carries, with variations by i */
static struct tm the_date(void) {
    struct tm d;
    memset(&d, 0, sizeof d);
    d.tm_year = 2010 - 1900;
    d.tm_mon = 9;
    d.tm_mday = 20;
    return d;
}
static const time_t THE_TIME = 22 * 3600 + 10 * 60 + 29;
static struct timespec the_timestamp(void) {
    struct timespec ts;
    ts.tv_sec = 1161864000; /* 2006-10-26T12:00:00Z */
    ts.tv_nsec = 123000000;
    return ts;
}
static unsigned char THE_BINARY[5] = {0xde, 0xad, 0x00, 0xbe, 0xef};

static hc_nvr_t *make_nvr(hc_session_t *s, const char *str, hc_long_t l) {
    hc_nvr_t *nvr = NULL;
    struct tm d = the_date();
    struct timespec ts = the_timestamp();
    OK(hc_nvr_create(s, 0, &nvr));
    OK(hc_nvr_add_string(nvr, "system.test.type_string", (char *)str));
    OK(hc_nvr_add_long(nvr, "system.test.type_long", l));
    OK(hc_nvr_add_double(nvr, "system.test.type_double", 3.25 + (double)l));
    OK(hc_nvr_add_date(nvr, "system.test.type_date", &d));
    OK(hc_nvr_add_time(nvr, "system.test.type_time", THE_TIME));
    OK(hc_nvr_add_timestamp(nvr, "system.test.type_timestamp", &ts));
    OK(hc_nvr_add_binary(nvr, "system.test.type_binary", (int)sizeof THE_BINARY, THE_BINARY));
    OK(hc_nvr_add_char(nvr, "system.test.type_char", "latin"));
    return nvr;
}

/* ------------------------------------------------------------------ */
/* schema                                                              */
/* ------------------------------------------------------------------ */

static int cmd_schema(char *dir) {
    hc_session_t *s = open_session(dir);
    hc_schema_t *sch = NULL;
    hc_long_t n = 0, i;
    hc_type_t t;
    char *name;
    int len, seen = 0;
    static const struct {
        const char *name;
        hc_type_t type;
        int length;
    } want[] = {
        {"system.object_id", HC_OBJECTID_TYPE, -2},
        {"system.object_ctime", HC_LONG_TYPE, -1},
        {"system.object_size", HC_LONG_TYPE, -1},
        {"system.object_hash", HC_BINARY_TYPE, 20},
        {"system.object_hash_alg", HC_STRING_TYPE, 4},
        {"system.test.type_long", HC_LONG_TYPE, -1},
        {"system.test.type_double", HC_DOUBLE_TYPE, -1},
        {"system.test.type_string", HC_STRING_TYPE, 512},
        {"system.test.type_char", HC_CHAR_TYPE, 512},
        {"system.test.type_binary", HC_BINARY_TYPE, 512},
        {"system.test.type_date", HC_DATE_TYPE, -1},
        {"system.test.type_time", HC_TIME_TYPE, -1},
        {"system.test.type_timestamp", HC_TIMESTAMP_TYPE, -1},
        {"filesystem.uid", HC_LONG_TYPE, -1},
        {"filesystem.mimetype", HC_STRING_TYPE, 256},
    };
    size_t w;

    OK(hc_session_get_schema(s, &sch));
    CHECK(sch != NULL, "NULL schema");
    OK(hc_schema_get_count(sch, &n));
    printf("hc_schema_get_count: %lld fields\n", (long long)n);
    CHECK(n >= (hc_long_t)(sizeof want / sizeof want[0]), "only %lld fields", (long long)n);
    for (i = 0; i < n; i++) {
        name = NULL;
        OK(hc_schema_get_type_at_index(sch, i, &name, &t));
        CHECK(name != NULL && *name, "field %lld has no name", (long long)i);
        CHECK(t >= HC_STRING_TYPE && t <= HC_OBJECTID_TYPE, "field %s has type %d", name, (int)t);
        len = -99;
        OK(hc_schema_get_length(sch, name, &len));
        printf("  [%2lld] %-32s %-9s length %d\n", (long long)i, name, hc_decode_hc_type(t), len);
        for (w = 0; w < sizeof want / sizeof want[0]; w++) {
            if (strcmp(name, want[w].name) != 0)
                continue;
            seen++;
            CHECK(t == want[w].type, "%s listed as %s, expected %s", name, hc_decode_hc_type(t),
                  hc_decode_hc_type(want[w].type));
        }
    }
    CHECK(seen == (int)(sizeof want / sizeof want[0]), "only %d of %zu expected fields listed", seen,
          sizeof want / sizeof want[0]);
    for (w = 0; w < sizeof want / sizeof want[0]; w++) {
        t = HC_BOGUS_TYPE;
        OK(hc_schema_get_type(sch, (char *)want[w].name, &t));
        CHECK(t == want[w].type, "hc_schema_get_type(%s) = %d, expected %d", want[w].name, (int)t,
              (int)want[w].type);
        if (want[w].length == -2)
            continue;
        len = -99;
        OK(hc_schema_get_length(sch, (char *)want[w].name, &len));
        CHECK(len == want[w].length, "hc_schema_get_length(%s) = %d, expected %d", want[w].name, len,
              want[w].length);
    }
    printf("hc_schema_get_type/get_length: %zu factory fields as expected\n",
           sizeof want / sizeof want[0]);
    EXPECT(hc_schema_get_type(sch, "system.test.no_such_field", &t), HCERR_ILLEGAL_VALUE_FOR_METADATA);
    EXPECT(hc_schema_get_type_at_index(sch, n, &name, &t), HCERR_ILLEGAL_ARGUMENT);
    EXPECT(hc_schema_get_type_at_index(sch, -1, &name, &t), HCERR_ILLEGAL_ARGUMENT);
    EXPECT(hc_schema_get_count(NULL, &n), HCERR_INVALID_SCHEMA);
    CHECK(strcmp(hc_decode_hc_type(HC_TIMESTAMP_TYPE), "timestamp") == 0, "hc_decode_hc_type(9) = %s",
          hc_decode_hc_type(HC_TIMESTAMP_TYPE));
    printf("unknown name, index out of range, NULL schema: refused as expected\n");
    close_session(s);
    printf("schema: OK\n");
    return 0;
}

/* ------------------------------------------------------------------ */
/* store / retrieve / range / metadata / store_metadata                */
/* ------------------------------------------------------------------ */

static void range_check(hc_session_t *s, hc_oid *oid, const unsigned char *data, size_t len,
                        hc_long_t first, hc_long_t last) {
    sink_t k;
    size_t from = (size_t)first, to = last < 0 ? len : (size_t)last + 1, n;
    if (to > len)
        to = len;
    n = from < to ? to - from : 0;
    memset(&k, 0, sizeof k);
    sink_reset(&k);
    OK(hc_range_retrieve_ez(s, write_sink, &k, oid, first, last));
    CHECK(k.len == n, "range (%lld,%lld): %zu bytes, expected %zu", (long long)first,
          (long long)last, k.len, n);
    CHECK(n == 0 || memcmp(k.buf, data + from, n) == 0, "range (%lld,%lld): bytes differ",
          (long long)first, (long long)last);
    printf("hc_range_retrieve_ez (%lld,%lld): %zu bytes as expected\n", (long long)first,
           (long long)last, k.len);
    free(k.buf);
}

static void check_metadata(hc_session_t *s, hc_oid *oid, const hc_system_record_t *rec,
                           const char *str, hc_long_t l) {
    hc_nvr_t *nvr = NULL;
    hc_long_t v = 0, count = 0;
    hc_double_t dv = 0;
    char *sv = NULL, *name;
    struct tm d, dwant = the_date();
    time_t tv = 0;
    struct timespec ts, tswant = the_timestamp();
    unsigned char *b = NULL;
    int blen = 0, i;
    char hex[41];
    hc_value_t val;

    OK(hc_retrieve_metadata_ez(s, oid, &nvr));
    CHECK(nvr != NULL, "NULL nvr");
    OK(hc_nvr_get_count(nvr, &count));
    printf("hc_retrieve_metadata_ez %s: %lld fields\n", *oid, (long long)count);
    for (v = 0; v < count; v++) {
        OK(hc_nvr_get_value_at_index(nvr, v, &name, &val));
        printf("  %-28s %s\n", name, hc_decode_hc_type(val.hcv_type));
    }
    OK(hc_nvr_get_long(nvr, "system.object_size", &v));
    CHECK(v == rec->size, "system.object_size %lld, expected %lld", (long long)v, (long long)rec->size);
    OK(hc_nvr_get_long(nvr, "system.object_ctime", &v));
    CHECK(v == rec->creation_time, "system.object_ctime %lld, expected %lld", (long long)v,
          (long long)rec->creation_time);
    OK(hc_nvr_get_string(nvr, "system.object_hash_alg", &sv));
    CHECK(strcmp(sv, "sha1") == 0, "system.object_hash_alg '%s'", sv);
    OK(hc_nvr_get_binary(nvr, "system.object_hash", &blen, &b));
    CHECK(blen == 20, "system.object_hash is %d bytes", blen);
    sha1_hex(b, hex);
    CHECK(strcmp(hex, rec->data_digest) == 0, "system.object_hash %s, expected %s", hex,
          rec->data_digest);
    OK(hc_nvr_get_binary(nvr, "system.object_id", &blen, &b));
    CHECK(blen == 30, "system.object_id is %d bytes, expected 30", blen);
    for (i = 0; i < 30; i++) {
        char two[3];
        snprintf(two, sizeof two, "%02x", b[i]);
        CHECK((two[0] | 0x20) == ((*oid)[2 * i] | 0x20) && (two[1] | 0x20) == ((*oid)[2 * i + 1] | 0x20),
              "system.object_id differs from the OID at byte %d", i);
    }
    OK(hc_nvr_get_string(nvr, "system.test.type_string", &sv));
    CHECK(strcmp(sv, str) == 0, "type_string '%s', expected '%s'", sv, str);
    OK(hc_nvr_get_long(nvr, "system.test.type_long", &v));
    CHECK(v == l, "type_long %lld, expected %lld", (long long)v, (long long)l);
    OK(hc_nvr_get_double(nvr, "system.test.type_double", &dv));
    CHECK(dv == 3.25 + (double)l, "type_double %g", dv);
    memset(&d, 0x33, sizeof d);
    OK(hc_nvr_get_date(nvr, "system.test.type_date", &d));
    CHECK(d.tm_year == dwant.tm_year && d.tm_mon == dwant.tm_mon && d.tm_mday == dwant.tm_mday,
          "type_date %d-%d-%d", d.tm_year + 1900, d.tm_mon + 1, d.tm_mday);
    CHECK(d.tm_hour == 0 && d.tm_min == 0 && d.tm_sec == 0, "type_date has a time of day");
    OK(hc_nvr_get_time(nvr, "system.test.type_time", &tv));
    CHECK(tv == THE_TIME, "type_time %ld", (long)tv);
    OK(hc_nvr_get_timestamp(nvr, "system.test.type_timestamp", &ts));
    CHECK(ts.tv_sec == tswant.tv_sec && ts.tv_nsec == tswant.tv_nsec, "type_timestamp %ld.%09ld",
          (long)ts.tv_sec, ts.tv_nsec);
    OK(hc_nvr_get_binary(nvr, "system.test.type_binary", &blen, &b));
    CHECK(blen == (int)sizeof THE_BINARY && memcmp(b, THE_BINARY, sizeof THE_BINARY) == 0,
          "type_binary differs (%d bytes)", blen);
    OK(hc_nvr_get_string(nvr, "system.test.type_char", &sv));
    CHECK(strcmp(sv, "latin") == 0, "type_char '%s'", sv);
    EXPECT(hc_nvr_get_long(nvr, "system.test.type_string", &v), HCERR_ILLEGAL_VALUE_FOR_METADATA);
    EXPECT(hc_nvr_get_long(nvr, "filesystem.uid", &v), HCERR_NO_SUCH_ATTRIBUTE);
    printf("  system fields (size, ctime, hash, hash_alg, object_id) and 8 typed user fields as stored\n");
    OK(hc_nvr_free(nvr));
}

static int cmd_store(char *dir) {
    static const size_t sizes[] = {0, 1, 26, 65537, 3 * 1024 * 1024 + 17};
    hc_session_t *s = open_session(dir);
    hc_system_record_t rec, rec2, keep;
    char hex[41];
    size_t i;
    int r;

    for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        hc_nvr_t *nvr = make_nvr(s, "store-test", (hc_long_t)i);
        store_data(s, sizes[i], 100 + i, nvr, &rec, hex);
        OK(hc_nvr_free(nvr));
        retrieve_check(s, &rec.oid, sizes[i], 100 + i);
        r = 7;
        OK(hc_check_indexed_ez(s, &rec.oid, &r));
        CHECK(r == -1, "hc_check_indexed_ez = %d, expected -1 (already indexed)", r);
        printf("hc_check_indexed_ez: -1 (already indexed)\n");
        check_metadata(s, &rec.oid, &rec, "store-test", (hc_long_t)i);
    }
    /* a store with a NULL and an empty NVR */
    store_data(s, 10, 7, NULL, &rec, hex);
    {
        hc_nvr_t *empty = NULL;
        OK(hc_nvr_create(s, 1, &empty));
        store_data(s, 11, 8, empty, &rec, hex);
        OK(hc_nvr_free(empty));
    }

    /* ranges over a 100-byte object */
    {
        unsigned char *data = make_data(100, 55);
        hc_nvr_t *nvr = make_nvr(s, "range-test", 55);
        sink_t k;
        store_data(s, 100, 55, nvr, &rec, hex);
        OK(hc_nvr_free(nvr));
        range_check(s, &rec.oid, data, 100, 0, 25);
        range_check(s, &rec.oid, data, 100, 3, 25);
        range_check(s, &rec.oid, data, 100, 0, 0);
        range_check(s, &rec.oid, data, 100, 99, 99);
        range_check(s, &rec.oid, data, 100, 40, -1);
        range_check(s, &rec.oid, data, 100, 0, -1);
        range_check(s, &rec.oid, data, 100, 90, 1000);
        memset(&k, 0, sizeof k);
        sink_reset(&k);
        EXPECT(hc_range_retrieve_ez(s, write_sink, &k, &rec.oid, -2, 100), HCERR_ILLEGAL_ARGUMENT);
        EXPECT(hc_range_retrieve_ez(s, write_sink, &k, &rec.oid, 10, 0), HCERR_ILLEGAL_ARGUMENT);
        CHECK(k.len == 0, "an illegal range delivered %zu bytes", k.len);
        printf("hc_range_retrieve_ez (-2,100), (10,0): HCERR_ILLEGAL_ARGUMENT\n");
        free(data);
    }

    /* store_metadata: a new OID on the same data, the old one unchanged */
    {
        hc_nvr_t *nvr = make_nvr(s, "first", 1);
        hc_nvr_t *nvr2 = make_nvr(s, "second", 2);
        int64_t t0, t1;
        store_data(s, 5000, 77, nvr, &rec, hex);
        keep = rec;
        rec2 = rec;
        t0 = now_ms();
        OK(hc_store_metadata_ez(s, &rec2.oid, nvr2, &rec2));
        t1 = now_ms();
        check_record(&rec2, 5000, hex, t0, t1);
        CHECK(strcmp(rec2.oid, keep.oid) != 0, "hc_store_metadata_ez kept the OID %s", rec2.oid);
        printf("hc_store_metadata_ez(&rec.oid, nvr, &rec): new oid %s, same size and sha1\n", rec2.oid);
        retrieve_check(s, &rec2.oid, 5000, 77);
        retrieve_check(s, &keep.oid, 5000, 77);
        check_metadata(s, &rec2.oid, &rec2, "second", 2);
        check_metadata(s, &keep.oid, &keep, "first", 1);
        /* a chain: metadata on the metadata object */
        OK(hc_store_metadata_ez(s, &rec2.oid, nvr, &rec2));
        check_oid_text(rec2.oid);
        CHECK(strcmp(rec2.data_digest, hex) == 0, "chained store_metadata: digest %s", rec2.data_digest);
        retrieve_check(s, &rec2.oid, 5000, 77);
        OK(hc_nvr_free(nvr));
        OK(hc_nvr_free(nvr2));
    }
    close_session(s);
    printf("store: OK\n");
    return 0;
}

/* ------------------------------------------------------------------ */
/* query                                                               */
/* ------------------------------------------------------------------ */

#define NOBJ 6

typedef struct {
    hc_oid oid;
    int seen;
} obj_t;

/* run a query and check the set of OIDs (want[i] != 0: objs[i] expected) */
static char query_tag[64];

static void query_check(hc_session_t *s, const char *where0, obj_t *objs, const int *want, int per_fetch,
                        int with_select) {
    hc_query_result_set_t *rs = NULL;
    hc_string_t selects[2] = {"system.test.type_string", "system.test.type_long"};
    hc_oid oid;
    hc_nvr_t *nvr;
    int finished = 0, rows = 0, i, expected = 0, complete = -1;
    hc_long_t itime = -5;
    int64_t before = now_ms();
    char where[1024];

    /* only this run's objects: the server may hold others */
    snprintf(where, sizeof where, "(%s) AND system.test.type_char = '%s'", where0, query_tag);
    for (i = 0; i < NOBJ; i++) {
        objs[i].seen = 0;
        expected += want[i] != 0;
    }
    OK(hc_query_ez(s, (char *)where, with_select ? selects : NULL, with_select ? 2 : 0, per_fetch, &rs));
    for (;;) {
        nvr = (hc_nvr_t *)0x1;
        memset(oid, 0, sizeof oid);
        OK(hc_qrs_next_ez(rs, &oid, &nvr, &finished));
        if (finished)
            break;
        rows++;
        check_oid_text(oid);
        for (i = 0; i < NOBJ; i++)
            if (strcasecmp(oid, objs[i].oid) == 0)
                break;
        CHECK(i < NOBJ, "query \"%s\" returned an unknown oid %s", where, oid);
        CHECK(want[i], "query \"%s\" returned object %d (%s), not expected", where, i, oid);
        CHECK(!objs[i].seen, "query \"%s\" returned object %d twice", where, i);
        objs[i].seen = 1;
        if (with_select) {
            hc_long_t count = 0, l = -1;
            char *sv = NULL, name[32];
            CHECK(nvr != NULL && nvr != (hc_nvr_t *)0x1, "select query: no nvr for a row");
            OK(hc_nvr_get_count(nvr, &count));
            CHECK(count == 3, "select row has %lld fields, expected 3 (2 + system.object_id)",
                  (long long)count);
            OK(hc_nvr_get_long(nvr, "system.test.type_long", &l));
            CHECK(l == i, "row type_long %lld, expected %d", (long long)l, i);
            OK(hc_nvr_get_string(nvr, "system.test.type_string", &sv));
            snprintf(name, sizeof name, "obj-%d", i);
            CHECK(strcmp(sv, name) == 0, "row type_string '%s', expected '%s'", sv, name);
            OK(hc_nvr_free(nvr));
        } else {
            CHECK(nvr == NULL, "OID-only query: *nvr not set to NULL");
        }
    }
    OK(hc_qrs_next_ez(rs, &oid, NULL, &finished));
    CHECK(finished == 1, "hc_qrs_next_ez after the end: finished=%d", finished);
    OK(hc_qrs_is_query_complete(rs, &complete));
    OK(hc_qrs_get_query_integrity_time(rs, &itime));
    CHECK(complete == 1, "hc_qrs_is_query_complete = %d, expected 1", complete);
    CHECK(itime >= before - 1000 && itime <= now_ms() + 1000,
          "query integrity time %lld not about now (%lld)", (long long)itime, (long long)before);
    OK(hc_qrs_free(rs));
    CHECK(rows == expected, "query \"%s\": %d rows, expected %d", where, rows, expected);
    printf("hc_query_ez \"%s\"%s (%d per fetch): %d rows as expected, complete, integrity time %lld\n",
           where0, with_select ? " select type_string,type_long" : "", per_fetch, rows, (long long)itime);
}

static int cmd_query(char *dir) {
    hc_session_t *s = open_session(dir);
    obj_t objs[NOBJ];
    hc_system_record_t rec;
    char hex[41], str[32];
    int i, f, want[NOBJ];
    int pf[2] = {1, 1000};

    snprintf(query_tag, sizeof query_tag, "run-%ld-%lld", (long)getpid(), (long long)now_ms());

    for (i = 0; i < NOBJ; i++) {
        hc_nvr_t *nvr;
        snprintf(str, sizeof str, "obj-%d", i);
        nvr = make_nvr(s, str, i);
        OK(hc_nvr_add_char(nvr, "system.test.type_char", query_tag)); /* replaces "latin" */
        store_data(s, (size_t)(100 * i), 300 + (uint64_t)i, nvr, &rec, hex);
        memcpy(objs[i].oid, rec.oid, sizeof objs[i].oid);
        OK(hc_nvr_free(nvr));
    }
    for (f = 0; f < 2; f++) {
        for (i = 0; i < NOBJ; i++)
            want[i] = i >= 2;
        query_check(s, "system.test.type_long >= 2", objs, want, pf[f], 0);
        query_check(s, "system.test.type_long >= 2", objs, want, pf[f], 1);
        for (i = 0; i < NOBJ; i++)
            want[i] = i == 3 || i == 5;
        query_check(s, "system.test.type_string = 'obj-3' OR \"system.test.type_string\" LIKE '%-5'",
                    objs, want, pf[f], 1);
        for (i = 0; i < NOBJ; i++)
            want[i] = 1;
        query_check(s, "system.test.type_date = '2010-10-20' AND system.test.type_time = '22:10:29'",
                    objs, want, pf[f], 0);
        query_check(s, "system.test.type_long IN (0, 1, 2, 3, 4, 5)", objs, want, pf[f], 1);
        for (i = 0; i < NOBJ; i++)
            want[i] = 0;
        query_check(s, "system.test.type_string = 'nothing'", objs, want, pf[f], 0);
    }
    /* prepared statements */
    {
        hc_pstmt_t *p = NULL;
        hc_query_result_set_t *rs = NULL;
        hc_oid oid;
        hc_nvr_t *nvr = NULL;
        int finished = 0, rows = 0, complete = 0;
        struct tm d = the_date();
        hc_string_t sel[1] = {"system.test.type_long"};

        OK(hc_pstmt_create(s, "system.test.type_long = ? AND system.test.type_string = ? AND "
                              "system.test.type_date = ? AND system.test.type_double > ? AND "
                              "system.test.type_char = ?",
                           &p));
        OK(hc_pstmt_set_long(p, 1, 2));
        OK(hc_pstmt_set_long(p, 1, 4)); /* re-binding replaces */
        OK(hc_pstmt_set_string(p, 2, "obj-4"));
        OK(hc_pstmt_set_date(p, 3, &d));
        OK(hc_pstmt_set_double(p, 4, 1.5));
        OK(hc_pstmt_set_string(p, 5, query_tag)); /* a string binding for a char field */
        OK(hc_pstmt_query_ez(p, sel, 1, 1, &rs));
        for (;;) {
            hc_long_t l = -1;
            OK(hc_qrs_next_ez(rs, &oid, &nvr, &finished));
            if (finished)
                break;
            rows++;
            CHECK(strcasecmp(oid, objs[4].oid) == 0, "pstmt returned %s, expected object 4", oid);
            OK(hc_nvr_get_long(nvr, "system.test.type_long", &l));
            CHECK(l == 4, "pstmt row type_long %lld", (long long)l);
            OK(hc_nvr_free(nvr));
        }
        OK(hc_qrs_is_query_complete(rs, &complete));
        CHECK(complete == 1, "pstmt query not complete");
        OK(hc_qrs_free(rs));
        CHECK(rows == 1, "pstmt query: %d rows, expected 1", rows);
        printf("hc_pstmt_create + set_long/string/date/double + hc_pstmt_query_ez: object 4 only\n");
        /* the same statement, new bindings, OID-only */
        OK(hc_pstmt_free(p));
        p = NULL;
        {
            struct timespec ts = the_timestamp();
            OK(hc_pstmt_create(s, "system.test.type_timestamp = ? AND system.test.type_time = ? AND "
                                  "system.test.type_long < ? AND system.test.type_char = ?",
                               &p));
            OK(hc_pstmt_set_timestamp(p, 1, &ts));
            OK(hc_pstmt_set_time(p, 2, THE_TIME));
            OK(hc_pstmt_set_long(p, 3, 2));
            OK(hc_pstmt_set_string(p, 4, query_tag));
            OK(hc_pstmt_query_ez(p, NULL, 0, 1000, &rs));
            rows = 0;
            for (;;) {
                OK(hc_qrs_next_ez(rs, &oid, NULL, &finished));
                if (finished)
                    break;
                rows++;
                CHECK(strcasecmp(oid, objs[0].oid) == 0 || strcasecmp(oid, objs[1].oid) == 0,
                      "pstmt returned %s", oid);
            }
            OK(hc_qrs_free(rs));
            CHECK(rows == 2, "timestamp/time pstmt: %d rows, expected 2", rows);
            printf("hc_pstmt set_timestamp/set_time/set_long, OID only: objects 0 and 1\n");
        }
        OK(hc_pstmt_free(p));
    }
    close_session(s);
    printf("query: OK\n");
    return 0;
}

/* ------------------------------------------------------------------ */
/* delete                                                              */
/* ------------------------------------------------------------------ */

static int count_query(hc_session_t *s, const char *where, const char *oid_wanted, int *found) {
    hc_query_result_set_t *rs = NULL;
    hc_oid oid;
    int finished = 0, rows = 0;
    *found = 0;
    OK(hc_query_ez(s, (char *)where, NULL, 0, 100, &rs));
    for (;;) {
        OK(hc_qrs_next_ez(rs, &oid, NULL, &finished));
        if (finished)
            break;
        rows++;
        if (oid_wanted && strcasecmp(oid, oid_wanted) == 0)
            *found = 1;
    }
    OK(hc_qrs_free(rs));
    return rows;
}

static int cmd_delete(char *dir) {
    hc_session_t *s = open_session(dir);
    hc_system_record_t a, b;
    hc_nvr_t *nvr = make_nvr(s, "to-delete", 1), *nvr2 = make_nvr(s, "to-keep", 2), *md = NULL;
    char hex[41];
    sink_t k;
    int found, n0, n1, r;

    n0 = count_query(s, "system.test.type_string = 'to-delete'", NULL, &found);
    store_data(s, 4096, 900, nvr, &a, hex);
    b = a;
    OK(hc_store_metadata_ez(s, &b.oid, nvr2, &b));
    n1 = count_query(s, "system.test.type_string = 'to-delete'", a.oid, &found);
    CHECK(n1 == n0 + 1 && found, "the stored object is not found by a query before deletion");
    OK(hc_delete_ez(s, &a.oid));
    printf("hc_delete_ez %s: OK\n", a.oid);
    memset(&k, 0, sizeof k);
    sink_reset(&k);
    EXPECT(hc_retrieve_ez(s, write_sink, &k, &a.oid), HCERR_NO_SUCH_OBJECT);
    EXPECT(hc_range_retrieve_ez(s, write_sink, &k, &a.oid, 0, 10), HCERR_NO_SUCH_OBJECT);
    CHECK(k.len == 0, "a deleted object delivered %zu bytes", k.len);
    EXPECT(hc_retrieve_metadata_ez(s, &a.oid, &md), HCERR_NO_SUCH_OBJECT);
    EXPECT(hc_delete_ez(s, &a.oid), HCERR_NO_SUCH_OBJECT);
    EXPECT(hc_store_metadata_ez(s, &a.oid, nvr2, &b), HCERR_NO_SUCH_OBJECT);
    printf("after delete: retrieve, range retrieve, retrieve_metadata, delete, store_metadata -> "
           "HCERR_NO_SUCH_OBJECT\n");
    n1 = count_query(s, "system.test.type_string = 'to-delete'", a.oid, &found);
    CHECK(n1 == n0 && !found, "the deleted object is still returned by a query (%d rows)", n1);
    n1 = count_query(s, "system.object_id IS NOT NULL", a.oid, &found);
    CHECK(!found, "the deleted object is still returned by 'system.object_id IS NOT NULL'");
    printf("the deleted object is gone from queries\n");
    /* the other metadata record of the same data still works */
    retrieve_check(s, &b.oid, 4096, 900);
    OK(hc_check_indexed_ez(s, &b.oid, &r));
    CHECK(r == -1, "check_indexed %d", r);
    n1 = count_query(s, "system.test.type_string = 'to-keep'", b.oid, &found);
    CHECK(found, "the surviving metadata record is not found by a query");
    OK(hc_delete_ez(s, &b.oid));
    EXPECT(hc_retrieve_ez(s, write_sink, &k, &b.oid), HCERR_NO_SUCH_OBJECT);
    EXPECT(hc_check_indexed_ez(s, &b.oid, &r), HCERR_NO_SUCH_OBJECT);
    n1 = count_query(s, "system.test.type_string = 'to-keep'", b.oid, &found);
    CHECK(!found, "the second deleted record is still queryable");
    printf("the last record of the data deleted: gone too\n");
    free(k.buf);
    OK(hc_nvr_free(nvr));
    OK(hc_nvr_free(nvr2));
    close_session(s);
    printf("delete: OK\n");
    return 0;
}

/* ------------------------------------------------------------------ */
/* errors                                                              */
/* ------------------------------------------------------------------ */

static int all_objects(hc_session_t *s) {
    int found;
    return count_query(s, "system.object_id IS NOT NULL", NULL, &found);
}

static void store_refused(hc_session_t *s, hc_nvr_t *nvr, hcerr_t want, const char *what) {
    source_t src;
    hc_system_record_t rec;
    int before = all_objects(s), after;
    int32_t code = 0;
    char *text = NULL, msg[512];
    memset(&src, 0, sizeof src);
    src.data = make_data(1000, 1);
    src.len = 1000;
    src.abort_after = -1;
    memset(&rec, 0, sizeof rec);
    EXPECT(hc_store_both_ez(s, read_source, &src, nvr, &rec), want);
    OK(hc_session_get_status(s, &code, &text));
    /* the text is valid until the next call on the session: keep a copy */
    snprintf(msg, sizeof msg, "%s", text ? text : "(null)");
    CHECK(code == 400, "%s: status %d, expected 400", what, (int)code);
    CHECK(msg[0] != 0, "%s: no status text", what);
    after = all_objects(s);
    CHECK(after == before, "%s: %d objects after the refused store, %d before", what, after, before);
    printf("store with %s: %s (status %d \"%s\"), nothing stored\n", what, hc_decode_hcerr(want),
           (int)code, msg);
    free(src.data);
}

static int cmd_errors(char *dir) {
    hc_session_t *s = NULL, *bad = (hc_session_t *)0x1;
    hc_nvr_t *nvr = NULL;
    hc_query_result_set_t *rs = NULL;
    hc_system_record_t rec;
    char hex[41], *text = NULL, *big;
    int32_t code = 0;
    hcerr_t rc;
    sink_t k;
    int r;
    hc_oid badoid, goodoid;

    /* hc_decode_hcerr */
    CHECK(strcmp(hc_decode_hcerr(HCERR_OK), "HCERR_OK") == 0, "decode 0: %s", hc_decode_hcerr(HCERR_OK));
    CHECK(strcmp(hc_decode_hcerr(HCERR_NO_SUCH_OBJECT), "HCERR_NO_SUCH_OBJECT") == 0, "decode 14: %s",
          hc_decode_hcerr(HCERR_NO_SUCH_OBJECT));
    CHECK(strcmp(hc_decode_hcerr(HCERR_BAD_REQUEST), "HCERR_BAD_REQUEST") == 0, "decode 13");
    CHECK(strcmp(hc_decode_hcerr(HCERR_CLIENT_GAVE_UP), "HCERR_CLIENT_GAVE_UP") == 0, "decode 61");
    CHECK(strcmp(hc_decode_hcerr((hcerr_t)9999), "UNKNOWN ERROR") == 0, "decode 9999: %s",
          hc_decode_hcerr((hcerr_t)9999));
    printf("hc_decode_hcerr: names as expected, 9999 -> UNKNOWN ERROR\n");

    /* sessions that cannot be made */
    OK(hc_init(malloc, free, realloc));
    {
        char nodir[4096];
        snprintf(nodir, sizeof nodir, "%s/no-such-server", dir);
        EXPECT(hc_session_create_ez(nodir, -1, &bad), HCERR_CONNECTION_FAILED);
        CHECK(bad == NULL, "failed hc_session_create_ez left *sessionp non-NULL");
        bad = (hc_session_t *)0x1;
        EXPECT(hc_session_create_ez(dir, 8081, &bad), HCERR_CONNECTION_FAILED);
        CHECK(bad == NULL, "failed hc_session_create_ez left *sessionp non-NULL");
        printf("hc_session_create_ez on a missing server / wrong port: HCERR_CONNECTION_FAILED\n");
    }
    s = open_session(dir);
    store_data(s, 333, 5, NULL, &rec, hex);
    memcpy(goodoid, rec.oid, sizeof goodoid);

    /* adders refuse unknown names and wrong types */
    OK(hc_nvr_create(s, 0, &nvr));
    EXPECT(hc_nvr_add_string(nvr, "system.test.no_such_field", "x"), HCERR_ILLEGAL_VALUE_FOR_METADATA);
    EXPECT(hc_nvr_add_long(nvr, "system.test.no_such_field", 1), HCERR_ILLEGAL_VALUE_FOR_METADATA);
    EXPECT(hc_nvr_add_long(nvr, "system.test.type_string", 1), HCERR_ILLEGAL_VALUE_FOR_METADATA);
    EXPECT(hc_nvr_add_double(nvr, "system.test.type_long", 1.0), HCERR_ILLEGAL_VALUE_FOR_METADATA);
    EXPECT(hc_nvr_add_binary(nvr, "system.test.type_binary", 0, THE_BINARY), HCERR_ILLEGAL_ARGUMENT);
    printf("hc_nvr_add_*: unknown field, wrong type -> HCERR_ILLEGAL_VALUE_FOR_METADATA\n");
    /* a string value for a long field is accepted by the adder, refused at store if not a number */
    OK(hc_nvr_add_string(nvr, "system.test.type_long", "not-a-number"));
    store_refused(s, nvr, HCERR_BAD_REQUEST, "a non-numeric string for a long field");
    OK(hc_nvr_free(nvr));

    /* over-length string: added OK, refused at store */
    big = malloc(600);
    memset(big, 'x', 599);
    big[599] = 0;
    OK(hc_nvr_create(s, 0, &nvr));
    OK(hc_nvr_add_string(nvr, "system.test.type_string", big));
    store_refused(s, nvr, HCERR_BAD_REQUEST, "a 599-character string in a string(512)");
    OK(hc_nvr_free(nvr));
    /* exactly 512 fits */
    big[512] = 0;
    OK(hc_nvr_create(s, 0, &nvr));
    OK(hc_nvr_add_string(nvr, "system.test.type_string", big));
    store_data(s, 3, 6, nvr, &rec, hex);
    printf("a 512-character string in a string(512): stored\n");
    OK(hc_nvr_free(nvr));
    free(big);
    /* a non-writable namespace */
    OK(hc_nvr_create(s, 0, &nvr));
    OK(hc_nvr_add_long(nvr, "system.object_size", 5));
    store_refused(s, nvr, HCERR_BAD_REQUEST, "system.object_size (not writable)");
    OK(hc_nvr_free(nvr));
    /* a reader that gives up */
    {
        source_t src;
        int before = all_objects(s);
        memset(&src, 0, sizeof src);
        src.data = make_data(200000, 3);
        src.len = 200000;
        src.abort_after = 100000;
        EXPECT(hc_store_both_ez(s, read_source, &src, NULL, &rec), HCERR_ABORTED_BY_CALLBACK);
        CHECK(all_objects(s) == before, "a cancelled store left an object");
        printf("reader returning -1: HCERR_ABORTED_BY_CALLBACK, nothing stored\n");
        free(src.data);
    }
    EXPECT(hc_store_both_ez(s, read_source, NULL, NULL, NULL), HCERR_ILLEGAL_ARGUMENT);

    /* malformed queries */
    {
        static const char *badq[] = {
            "system.test.type_long = = 3",
            "system.test.type_long = 'unterminated",
            "system.test.no_such_field = 1",
            "DELETE system.test.type_long",
        };
        size_t i;
        for (i = 0; i < sizeof badq / sizeof badq[0]; i++) {
            hc_oid oid;
            int finished = 0;
            rs = NULL;
            rc = hc_query_ez(s, (char *)badq[i], NULL, 0, 10, &rs);
            if (rc == HCERR_OK) { /* the error may surface on the first fetch or at free */
                rc = hc_qrs_next_ez(rs, &oid, NULL, &finished);
                if (rc == HCERR_OK)
                    rc = hc_qrs_free(rs);
                else
                    (void)hc_qrs_free(rs);
            }
            CHECK(rc == HCERR_BAD_REQUEST, "query \"%s\": %s, expected HCERR_BAD_REQUEST", badq[i],
                  hc_decode_hcerr(rc));
            text = NULL;
            OK(hc_session_get_status(s, &code, &text));
            CHECK(code == 400, "query \"%s\": status %d, expected 400", badq[i], (int)code);
            CHECK(text != NULL && *text, "query \"%s\": no status text", badq[i]);
            printf("hc_query_ez \"%s\": HCERR_BAD_REQUEST, status %d \"%s\"\n", badq[i], (int)code, text);
        }
        EXPECT(hc_query_ez(s, NULL, NULL, 0, 10, &rs), HCERR_ILLEGAL_ARGUMENT);
        EXPECT(hc_query_ez(s, "system.test.type_long = 1", NULL, 0, 0, &rs), HCERR_ILLEGAL_ARGUMENT);
        {
            hc_string_t sel[1] = {"system.test.type_long"};
            EXPECT(hc_query_ez(s, "system.test.type_long = 1", sel, 0, 10, &rs),
                   HCERR_MISSING_SELECT_CLAUSE);
        }
        printf("NULL query, results_per_fetch 0, empty select list: refused\n");
    }

    /* bad OIDs */
    memset(badoid, 0, sizeof badoid);
    memset(badoid, 'z', 60);
    memset(&k, 0, sizeof k);
    sink_reset(&k);
    EXPECT(hc_retrieve_ez(s, write_sink, &k, &badoid), HCERR_INVALID_OID);
    EXPECT(hc_range_retrieve_ez(s, write_sink, &k, &badoid, 0, 5), HCERR_INVALID_OID);
    EXPECT(hc_retrieve_metadata_ez(s, &badoid, &nvr), HCERR_INVALID_OID);
    EXPECT(hc_delete_ez(s, &badoid), HCERR_INVALID_OID);
    EXPECT(hc_check_indexed_ez(s, &badoid, &r), HCERR_INVALID_OID);
    memcpy(badoid, goodoid, sizeof badoid);
    badoid[10] = 'g';
    EXPECT(hc_retrieve_ez(s, write_sink, &k, &badoid), HCERR_INVALID_OID);
    CHECK(k.len == 0, "a bad OID delivered bytes");
    printf("non-hex OIDs: HCERR_INVALID_OID (retrieve, range, metadata, delete, check_indexed)\n");
    /* a well-formed OID that names nothing */
    memcpy(badoid, goodoid, sizeof badoid);
    badoid[20] = badoid[20] == '0' ? '1' : '0';
    badoid[21] = badoid[21] == '0' ? '1' : '0';
    EXPECT(hc_retrieve_ez(s, write_sink, &k, &badoid), HCERR_NO_SUCH_OBJECT);
    printf("a well-formed OID naming no object: HCERR_NO_SUCH_OBJECT\n");
    /* upper-case OIDs are OIDs */
    {
        int i;
        for (i = 0; i < 60; i++)
            if (goodoid[i] >= 'a' && goodoid[i] <= 'f')
                goodoid[i] = (char)(goodoid[i] - 'a' + 'A');
        retrieve_check(s, &goodoid, 333, 5);
    }
    /* a writer that gives up */
    {
        hc_oid o;
        memcpy(o, rec.oid, sizeof o);
        EXPECT(hc_retrieve_ez(s, NULL, &k, &o), HCERR_ILLEGAL_ARGUMENT);
    }
    free(k.buf);
    /* NULL handles */
    EXPECT(hc_session_get_schema(NULL, NULL), HCERR_NULL_SESSION);
    EXPECT(hc_nvr_free(NULL), HCERR_INVALID_NVR);
    EXPECT(hc_qrs_free(NULL), HCERR_INVALID_RESULT_SET);
    close_session(s);
    printf("errors: OK\n");
    return 0;
}

/* ------------------------------------------------------------------ */
/* ost: backup images written through stsp_* are archive objects        */
/* ------------------------------------------------------------------ */

static int cmd_ost(char *dir, const char *basename, int count, long size) {
    hc_session_t *s = open_session(dir);
    hc_query_result_set_t *rs = NULL;
    hc_oid oid;
    hc_nvr_t *nvr = NULL;
    hc_string_t sel[2] = {"ost.basename", "ost.date"};
    char where[600];
    int finished = 0, rows = 0;

    snprintf(where, sizeof where, "ost.basename = '%s'", basename);
    OK(hc_query_ez(s, where, sel, 2, 1, &rs));
    for (;;) {
        char *b = NULL;
        hc_nvr_t *md = NULL;
        hc_long_t sz = -1;
        sink_t k;
        OK(hc_qrs_next_ez(rs, &oid, &nvr, &finished));
        if (finished)
            break;
        rows++;
        check_oid_text(oid);
        OK(hc_nvr_get_string(nvr, "ost.basename", &b));
        CHECK(strcmp(b, basename) == 0, "ost.basename '%s'", b);
        OK(hc_nvr_free(nvr));
        OK(hc_retrieve_metadata_ez(s, &oid, &md));
        OK(hc_nvr_get_long(md, "system.object_size", &sz));
        CHECK(sz == size, "image object %s: system.object_size %lld, expected %ld", oid, (long long)sz,
              size);
        OK(hc_nvr_free(md));
        memset(&k, 0, sizeof k);
        sink_reset(&k);
        OK(hc_range_retrieve_ez(s, write_sink, &k, &oid, 0, 99));
        CHECK((long)k.len == (size < 100 ? size : 100), "range of the image: %zu bytes", k.len);
        free(k.buf);
        printf("image object %s: ost.basename '%s', %lld bytes\n", oid, basename, (long long)sz);
    }
    OK(hc_qrs_free(rs));
    CHECK(rows == count, "query \"%s\": %d objects, expected %d", where, rows, count);
    printf("hc_query_ez \"%s\": %d objects as expected\n", where, rows);
    close_session(s);
    printf("ost: OK\n");
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 3) {
        fprintf(stderr, "usage: hcarchive schema|store|query|delete|errors DIR\n"
                        "       hcarchive ost DIR BASENAME COUNT SIZE\n");
        return 2;
    }
    cmd = argv[1];
    printf("hcarchive %s %s\n", argv[1], argv[2]);
    if (strcmp(cmd, "schema") == 0)
        return cmd_schema(argv[2]);
    if (strcmp(cmd, "store") == 0)
        return cmd_store(argv[2]);
    if (strcmp(cmd, "query") == 0)
        return cmd_query(argv[2]);
    if (strcmp(cmd, "delete") == 0)
        return cmd_delete(argv[2]);
    if (strcmp(cmd, "errors") == 0)
        return cmd_errors(argv[2]);
    if (strcmp(cmd, "ost") == 0 && argc == 6)
        return cmd_ost(argv[2], argv[3], atoi(argv[4]), atol(argv[5]));
    fprintf(stderr, "hcarchive: unknown subcommand %s\n", cmd);
    return 2;
}
