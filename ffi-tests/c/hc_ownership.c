/* The ownership each hc_* declaration documents (include/hc.h,
 * include/hcclient.h), checked with a counting allocator registered with
 * hc_init: getters allocate nothing and hand out library-owned pointers;
 * hc_nvr_convert_to_string_arrays hands out exactly the buffers the caller
 * frees; hc_nvr_add_value takes its pointer only on success. At the end
 * every buffer of ours is freed exactly once (live == 0, no unknown free).
 * Usage: hc_ownership SERVER_DIR; prints "ownership OK". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <hcclient.h>

#define MAXP 4096
static void *ptrs[MAXP];
static long live, allocs, bad_frees;

static void *my_alloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    int i;
    for (i = 0; i < MAXP; i++)
        if (ptrs[i] == NULL) {
            ptrs[i] = p;
            live++;
            allocs++;
            return p;
        }
    abort();
}

static void my_free(void *p)
{
    int i;
    if (p == NULL)
        return;
    for (i = 0; i < MAXP; i++)
        if (ptrs[i] == p) {
            ptrs[i] = NULL;
            live--;
            free(p);
            return;
        }
    bad_frees++; /* not ours, or freed twice: never call free on it */
}

static void *my_realloc(void *p, size_t n)
{
    void *q = my_alloc(n);
    if (p != NULL) {
        memcpy(q, p, n); /* test only: our buffers are never grown */
        my_free(p);
    }
    return q;
}

static int failures;
#define EXPECT(cond)                                                        \
    do {                                                                    \
        if (!(cond)) {                                                      \
            printf("line %d: EXPECT(%s) failed\n", __LINE__, #cond);        \
            failures++;                                                     \
        }                                                                   \
    } while (0)
#define OK(call) EXPECT((call) == HCERR_OK)

static char *dup_alloc(const char *s)
{
    char *p = hc_alloc(strlen(s) + 1);
    strcpy(p, s);
    return p;
}

int main(int argc, char **argv)
{
    hc_session_t *s = NULL;
    hc_schema_t *sch = NULL, *sch2 = NULL;
    hc_nvr_t *nvr = NULL;
    char *host, *host2, *name, *name2, *err, *str, *str2;
    char **names = NULL, **values = NULL;
    int port, n = -1, i;
    int32_t code;
    hc_type_t t;
    hc_value_t v = HC_EMPTY_VALUE_INIT, got;
    long before;

    if (argc != 2)
        return 2;
    OK(hc_init(my_alloc, my_free, my_realloc));
    OK(hc_session_create_ez(argv[1], 8080, &s));

    /* session and schema getters: library-owned, nothing allocated */
    before = allocs;
    OK(hc_session_get_host(s, &host, &port));
    OK(hc_session_get_host(s, &host2, &port));
    EXPECT(host == host2 && strcmp(host, argv[1]) == 0 && port == 8080);
    OK(hc_session_get_schema(s, &sch));
    OK(hc_session_get_schema(s, &sch2));
    EXPECT(sch == sch2);
    OK(hc_schema_get_type_at_index(sch, 0, &name, &t));
    OK(hc_schema_get_type_at_index(sch, 0, &name2, &t));
    EXPECT(name == name2 && name[0] != '\0');
    OK(hc_session_get_status(s, &code, &err));
    EXPECT(code == 200 && err != NULL);
    EXPECT(hc_decode_hcerr(HCERR_OK) == hc_decode_hcerr(HCERR_OK));
    EXPECT(hc_decode_hc_type(HC_LONG_TYPE) == hc_decode_hc_type(HC_LONG_TYPE));
    EXPECT(allocs == before);
    /* freeing them as the old general rule said would be a double free:
     * hc_free refuses nothing, so only check they are not our buffers */
    for (i = 0; i < MAXP; i++)
        EXPECT(ptrs[i] == NULL || (ptrs[i] != host && ptrs[i] != name && ptrs[i] != err));

    /* typed adders copy: the caller keeps its string */
    OK(hc_nvr_create(s, 0, &nvr));
    str = dup_alloc("kept by the caller");
    before = live;
    OK(hc_nvr_add_string(nvr, "system.test.type_string", str));
    EXPECT(live == before + 1); /* the NVR's own copy */
    hc_free(str);

    /* add_value takes the pointer on success: the NVR frees it */
    v.hcv_type = HC_STRING_TYPE;
    v.hcv.hcv_string = dup_alloc("taken by the NVR");
    OK(hc_nvr_add_value(nvr, "system.test.type_char", v));
    /* ... and not on failure: still the caller's */
    v.hcv.hcv_string = dup_alloc("refused");
    EXPECT(hc_nvr_add_value(nvr, "no.such.field", v) == HCERR_ILLEGAL_VALUE_FOR_METADATA);
    EXPECT(strcmp(v.hcv.hcv_string, "refused") == 0);
    hc_free(v.hcv.hcv_string);

    /* NVR getters: pointers into the NVR, stable, nothing allocated */
    before = allocs;
    OK(hc_nvr_get_string(nvr, "system.test.type_string", &str));
    OK(hc_nvr_get_string(nvr, "system.test.type_string", &str2));
    EXPECT(str == str2 && strcmp(str, "kept by the caller") == 0);
    OK(hc_nvr_get_value_at_index(nvr, 0, &name, &got));
    EXPECT(got.hcv.hcv_string == str);
    EXPECT(allocs == before);

    /* convert consumes the NVR and returns 2 + 2n caller-freed buffers */
    OK(hc_nvr_add_long(nvr, "system.test.type_long", 42));
    before = allocs;
    OK(hc_nvr_convert_to_string_arrays(nvr, &names, &values, &n));
    EXPECT(n == 3);
    EXPECT(allocs - before == 2 + 2 * n);
    for (i = 0; i < n; i++) {
        if (strcmp(names[i], "system.test.type_long") == 0)
            EXPECT(strcmp(values[i], "42") == 0);
        hc_free(names[i]);
        hc_free(values[i]);
    }
    hc_free(names);
    hc_free(values);
    EXPECT(hc_nvr_free(nvr) == HCERR_INVALID_NVR); /* consumed */

    /* an NVR outlives the session; freeing it frees its values */
    OK(hc_nvr_create(s, 0, &nvr));
    OK(hc_nvr_add_string(nvr, "system.test.type_string", "x"));
    OK(hc_session_free(s));
    OK(hc_nvr_free(nvr));

    EXPECT(live == 0);
    EXPECT(bad_frees == 0);
    if (failures) {
        printf("%d failures (live %ld, bad frees %ld)\n", failures, live, bad_frees);
        return 1;
    }
    printf("ownership OK\n");
    return 0;
}
