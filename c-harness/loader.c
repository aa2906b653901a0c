/* loader.c - see loader.h */
#define _POSIX_C_SOURCE 200809L
#include "loader.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/*
 * Each entry: symbol name and the offset of its pointer in sts_api_t. The
 * sizeof() assignments in api_load make the compiler check every
 * pointer type against the prototype in stspi.h without referencing the
 * symbol (sizeof does not evaluate its operand).
 */
#define ENTRY(field, sym) { #sym, offsetof(sts_api_t, field) }
static const struct {
    const char *sym;
    size_t off;
} entries[] = {
    ENTRY(init, stsp_init),
    ENTRY(terminate, stsp_terminate),
    ENTRY(claim, stsp_claim),
    ENTRY(strerror, stsp_strerror),
    ENTRY(open_server, stsp_open_server),
    ENTRY(close_server, stsp_close_server),
    ENTRY(get_server_prop, stsp_get_server_prop),
    ENTRY(get_server_prop_byname, stsp_get_server_prop_byname),
    ENTRY(open_lsu_list, stsp_open_lsu_list),
    ENTRY(list_lsu, stsp_list_lsu),
    ENTRY(close_lsu_list, stsp_close_lsu_list),
    ENTRY(get_lsu_prop_byname, stsp_get_lsu_prop_byname),
    ENTRY(create_image, stsp_create_image),
    ENTRY(write_image, stsp_write_image),
    ENTRY(flush, stsp_flush),
    ENTRY(close_image, stsp_close_image),
    ENTRY(open_image, stsp_open_image),
    ENTRY(read_image, stsp_read_image),
    ENTRY(delete_image, stsp_delete_image),
    ENTRY(open_image_list, stsp_open_image_list),
    ENTRY(list_image, stsp_list_image),
    ENTRY(close_image_list, stsp_close_image_list),
    ENTRY(get_image_prop, stsp_get_image_prop),
    ENTRY(get_image_prop_byname, stsp_get_image_prop_byname),
    ENTRY(read_image_meta, stsp_read_image_meta),
    ENTRY(write_image_meta, stsp_write_image_meta),
    ENTRY(open_target_server, stsp_open_target_server),
    ENTRY(copy_extent, stsp_copy_extent),
    ENTRY(copy_image, stsp_copy_image),
    ENTRY(include_in_image, stsp_include_in_image),
    ENTRY(open_evchannel, stsp_open_evchannel),
    ENTRY(get_event, stsp_get_event),
    ENTRY(delete_event, stsp_delete_event),
    ENTRY(close_evchannel, stsp_close_evchannel),
    ENTRY(async_copy_image, stsp_async_copy_image),
    ENTRY(named_async_copy_image, stsp_named_async_copy_image),
    ENTRY(named_async_wait, stsp_named_async_wait),
    ENTRY(named_async_cancel, stsp_named_async_cancel),
    ENTRY(label_lsu, stsp_label_lsu),
};

static void type_check(sts_api_t *a)
{
#define TC(field, sym) (void)sizeof(a->field = sym)
    TC(init, stsp_init);
    TC(terminate, stsp_terminate);
    TC(claim, stsp_claim);
    TC(strerror, stsp_strerror);
    TC(open_server, stsp_open_server);
    TC(close_server, stsp_close_server);
    TC(get_server_prop, stsp_get_server_prop);
    TC(get_server_prop_byname, stsp_get_server_prop_byname);
    TC(open_lsu_list, stsp_open_lsu_list);
    TC(list_lsu, stsp_list_lsu);
    TC(close_lsu_list, stsp_close_lsu_list);
    TC(get_lsu_prop_byname, stsp_get_lsu_prop_byname);
    TC(create_image, stsp_create_image);
    TC(write_image, stsp_write_image);
    TC(flush, stsp_flush);
    TC(close_image, stsp_close_image);
    TC(open_image, stsp_open_image);
    TC(read_image, stsp_read_image);
    TC(delete_image, stsp_delete_image);
    TC(open_image_list, stsp_open_image_list);
    TC(list_image, stsp_list_image);
    TC(close_image_list, stsp_close_image_list);
    TC(get_image_prop, stsp_get_image_prop);
    TC(get_image_prop_byname, stsp_get_image_prop_byname);
    TC(read_image_meta, stsp_read_image_meta);
    TC(write_image_meta, stsp_write_image_meta);
    TC(open_target_server, stsp_open_target_server);
    TC(copy_extent, stsp_copy_extent);
    TC(copy_image, stsp_copy_image);
    TC(include_in_image, stsp_include_in_image);
    TC(open_evchannel, stsp_open_evchannel);
    TC(get_event, stsp_get_event);
    TC(delete_event, stsp_delete_event);
    TC(close_evchannel, stsp_close_evchannel);
    TC(async_copy_image, stsp_async_copy_image);
    TC(named_async_copy_image, stsp_named_async_copy_image);
    TC(named_async_wait, stsp_named_async_wait);
    TC(named_async_cancel, stsp_named_async_cancel);
    TC(label_lsu, stsp_label_lsu);
#undef TC
}

int api_load(sts_api_t *api, const char *path, char *missing, size_t missing_len, char *err,
             size_t err_len)
{
    size_t i;
    memset(api, 0, sizeof *api);
    type_check(api);
    if (missing_len) missing[0] = '\0';
    api->path = path;
    api->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!api->dl) {
        const char *e = dlerror();
        snprintf(err, err_len, "dlopen(%s): %s", path, e ? e : "unknown error");
        return -1;
    }
    for (i = 0; i < sizeof entries / sizeof entries[0]; i++) {
        void *sym;
        dlerror();
        sym = dlsym(api->dl, entries[i].sym);
        if (!sym) {
            size_t l = strlen(missing);
            if (l + strlen(entries[i].sym) + 3 < missing_len)
                snprintf(missing + l, missing_len - l, "%s%s", l ? ", " : "", entries[i].sym);
            continue;
        }
        /* POSIX guarantees object and function pointers convert via dlsym */
        memcpy((char *)api + entries[i].off, &sym, sizeof sym);
    }
    return 0;
}

void api_unload(sts_api_t *api)
{
    if (api->dl) dlclose(api->dl);
    api->dl = NULL;
}

const char *api_symbol_of(const sts_api_t *api, const void *field_addr)
{
    size_t off = (size_t)((const char *)field_addr - (const char *)api);
    size_t i;
    for (i = 0; i < sizeof entries / sizeof entries[0]; i++)
        if (entries[i].off == off) return entries[i].sym;
    return "stsp_?";
}

/* ------------------------------------------------------------------ */

#define C(x) { #x, x }
static const struct {
    const char *name;
    int code;
} codes[] = {
    C(STS_EOK), C(STS_EINVAL), C(STS_ENULL), C(STS_EHANDLE), C(STS_ENAME), C(STS_EALIGN),
    C(STS_ERANGE), C(STS_ETOOBIG), C(STS_EVERSION), C(STS_ENOT_INIT), C(STS_EMODE),
    C(STS_ENOT_MINE), C(STS_ENOSERVER), C(STS_ENOLSU), C(STS_ENOENT), C(STS_EEXIST),
    C(STS_EBUSY), C(STS_ECOMPLETE), C(STS_ENOTCOMPLETE), C(STS_EBROKEN), C(STS_ENO_MORE),
    C(STS_EAUTH), C(STS_ENOTSUP), C(STS_EXDEV), C(STS_ENOSPC), C(STS_EIO), C(STS_ECORRUPT), C(STS_EPREVIO),
    C(STS_ENOOP), C(STS_ECANCELED), C(STS_EOPFAILED), C(STS_EINPROGRESS),
    C(STS_ETIMEDOUT), C(STS_EINTERNAL), C(STS_ENOMEM),
};

const char *code_name(int code)
{
    static __thread char buf[32];
    size_t i;
    for (i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (codes[i].code == code) return codes[i].name;
    snprintf(buf, sizeof buf, "STS_E?%d", code);
    return buf;
}

int code_parse(const char *s, int *code)
{
    size_t i;
    char *end;
    long v;
    for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        if (strcmp(codes[i].name, s) == 0 || strcmp(codes[i].name + 4, s) == 0) {
            *code = codes[i].code;
            return 0;
        }
    }
    v = strtol(s, &end, 0);
    if (*s && !*end) {
        *code = (int)v;
        return 0;
    }
    return -1;
}

#define K(x) { #x, (unsigned long long)(x) }
static const struct {
    const char *name;
    unsigned long long value;
} consts[] = {
    K(STS_VERSION), K(STS_VERSION_MIN), K(STS_VERSION_MAX), K(STS_BLOCK_SIZE),
    K(STS_MAX_SERVERNAME), K(STS_MAX_LSUNAME), K(STS_MAX_IMAGENAME), K(STS_MAX_DATE),
    K(STS_MAX_LABEL), K(STS_MAX_OBJID), K(STS_MAX_SHA1_HEX), K(STS_MAX_PLUGIN_STR),
    K(STS_MAX_USER), K(STS_MAX_SECRET), K(STS_MAX_IO_SIZE), K(STS_MAX_IMAGE_META),
    K(STS_II_IMAGE_PENDING), K(STS_II_BUSY_WRITE), K(STS_II_IMAGE_CREATED),
    K(STS_II_IMAGE_COMPLETE), K(STS_II_FILES_PENDING), K(STS_II_FILES_CREATED),
    K(STS_II_ABNORMAL), K(STS_O_READ), K(STS_O_WRITE), K(STS_CLOSEF_IH_INCOMPLETE),
    K(STS_CLOSEF_IH_COMPLETE), K(STS_CX_APPEND), K(STS_CX_REMAINDER), K(STS_LSUF_DISK), K(STS_LSUF_STORAGE_NOT_FREED),
    K(STS_LSUF_STORAGE_FREED), K(STS_LSUF_STORAGE_FREED_DEFERRED), K(STS_LSUF_STORAGE_SHARED),
    K(STS_LSUF_DEDUP), K(STS_LSUF_COMPRESSED),
    K(STS_SRV_IMAGELIST), K(STS_SRV_IMAGE_COPY), K(STS_SRV_VIRTUAL_IMAGE), K(STS_SRV_EVENTS),
    K(STS_SRV_CRED), K(STS_SRV_DEDUP), K(STS_MAX_OPNAME), K(STS_MAX_EVTEXT), K(STS_TIMEOUT_NONE),
    K(STS_TIMEOUT_INFINITE), K(STS_EVT_ASYNC_DONE), K(STS_EVT_DELETE_DONE), K(STS_EVT_LABEL),
    K(STS_EVT_LOW_SPACE),
};

int const_lookup(const char *name, unsigned long long *value)
{
    static const char *prefixes[] = { "", "STS_", "STS_II_", "STS_LSUF_", "STS_SRV_" };
    size_t p, i;
    char buf[128];
    for (p = 0; p < sizeof prefixes / sizeof prefixes[0]; p++) {
        snprintf(buf, sizeof buf, "%s%s", prefixes[p], name);
        for (i = 0; i < sizeof consts / sizeof consts[0]; i++) {
            if (strcmp(consts[i].name, buf) == 0) {
                *value = consts[i].value;
                return 0;
            }
        }
    }
    return -1;
}

static void flags_str(unsigned flags, const char *prefix, char *buf, size_t len)
{
    size_t i, pl = strlen(prefix);
    unsigned rest = flags;
    buf[0] = '\0';
    for (i = 0; i < sizeof consts / sizeof consts[0]; i++) {
        unsigned long long v = consts[i].value;
        if (strncmp(consts[i].name, prefix, pl) != 0) continue;
        if (v && (flags & v) == v) {
            size_t l = strlen(buf);
            snprintf(buf + l, len - l, "%s%s", l ? "|" : "", consts[i].name + pl);
            rest &= ~(unsigned)v;
        }
    }
    if (rest) {
        size_t l = strlen(buf);
        snprintf(buf + l, len - l, "%s0x%x", l ? "|" : "", rest);
    }
    if (!buf[0]) snprintf(buf, len, "0");
}

void image_flags_str(unsigned flags, char *buf, size_t len) { flags_str(flags, "STS_II_", buf, len); }
void lsu_flags_str(unsigned flags, char *buf, size_t len) { flags_str(flags, "STS_LSUF_", buf, len); }
void srv_flags_str(unsigned flags, char *buf, size_t len) { flags_str(flags, "STS_SRV_", buf, len); }
