/*
 * loader.h - load the plugin the way a backup application does: dlopen the
 * shared library and resolve every stsp_* entry point of stspi.h (39) with dlsym
 * into a table of function pointers. Nothing here links against the plugin.
 */
#ifndef HARNESS_LOADER_H
#define HARNESS_LOADER_H

#include "stspi.h"

#include <stddef.h>

typedef struct {
    void *dl;
    const char *path;
    int (*init)(sts_uint32_t, sts_plugin_info_t *);
    int (*terminate)(void);
    int (*claim)(const char *);
    const char *(*strerror)(int);
    int (*open_server)(const char *, const sts_cred_t *, sts_server_handle_t *);
    int (*close_server)(sts_server_handle_t);
    int (*get_server_prop)(sts_server_handle_t, sts_server_info_t *);
    int (*get_server_prop_byname)(const char *, const sts_cred_t *, sts_server_info_t *);
    int (*open_lsu_list)(sts_server_handle_t, sts_lsu_list_handle_t *);
    int (*list_lsu)(sts_lsu_list_handle_t, sts_lsu_name_t *);
    int (*close_lsu_list)(sts_lsu_list_handle_t);
    int (*get_lsu_prop_byname)(const sts_lsu_t *, sts_lsu_info_t *);
    int (*create_image)(const sts_lsu_t *, const sts_image_def_t *, int, sts_image_handle_t *);
    int (*write_image)(sts_image_handle_t, const sts_stat_t *, const void *, sts_uint64_t,
                       sts_uint64_t, sts_uint64_t *);
    int (*flush)(sts_image_handle_t);
    int (*close_image)(sts_image_handle_t, int);
    int (*open_image)(const sts_lsu_t *, const sts_image_def_t *, int, sts_image_handle_t *);
    int (*read_image)(sts_image_handle_t, void *, sts_uint64_t, sts_uint64_t, sts_uint64_t *);
    int (*delete_image)(const sts_lsu_t *, const sts_image_def_t *, int);
    int (*open_image_list)(const sts_lsu_t *, sts_image_list_handle_t *);
    int (*list_image)(sts_image_list_handle_t, sts_image_def_t *);
    int (*close_image_list)(sts_image_list_handle_t);
    int (*get_image_prop)(sts_image_handle_t, sts_image_info_t *);
    int (*get_image_prop_byname)(const sts_lsu_t *, const sts_image_def_t *, sts_image_info_t *);
    int (*read_image_meta)(sts_image_handle_t, void *, sts_uint64_t, sts_uint64_t,
                           sts_uint64_t *);
    int (*write_image_meta)(sts_image_handle_t, const void *, sts_uint64_t, sts_uint64_t,
                            sts_uint64_t *);
    int (*open_target_server)(sts_server_handle_t, const char *, const sts_cred_t *,
                              sts_server_handle_t *);
    int (*copy_extent)(sts_image_handle_t, sts_image_handle_t, sts_uint64_t, sts_uint64_t,
                       sts_uint64_t, int, sts_uint64_t *);
    int (*copy_image)(const sts_lsu_t *, const sts_image_def_t *, const sts_lsu_t *,
                      const sts_image_def_t *, int);
    int (*include_in_image)(sts_image_handle_t, sts_image_handle_t, sts_uint64_t, sts_uint64_t,
                            sts_uint64_t, int, sts_uint64_t *);
    int (*open_evchannel)(sts_server_handle_t, sts_evchannel_handle_t *);
    int (*get_event)(sts_evchannel_handle_t, sts_uint32_t, sts_event_t *);
    int (*delete_event)(sts_evchannel_handle_t, sts_uint64_t);
    int (*close_evchannel)(sts_evchannel_handle_t);
    int (*async_copy_image)(const sts_lsu_t *, const sts_image_def_t *, const sts_lsu_t *,
                            const sts_image_def_t *, int, sts_uint64_t *);
    int (*named_async_copy_image)(const sts_lsu_t *, const sts_image_def_t *, const sts_lsu_t *,
                                  const sts_image_def_t *, int, const char *);
    int (*named_async_wait)(sts_server_handle_t, const char *, sts_uint32_t, int *);
    int (*named_async_cancel)(sts_server_handle_t, const char *);
    int (*label_lsu)(const sts_lsu_t *, const char *);
} sts_api_t;

/*
 * dlopen(path, RTLD_NOW | RTLD_LOCAL) and resolve all entry points. A
 * missing symbol leaves its pointer NULL and is listed in missing (comma
 * separated); the load still succeeds so a partial plugin can be tested.
 * Returns 0, or -1 with a message in err when dlopen itself fails.
 */
int api_load(sts_api_t *api, const char *path, char *missing, size_t missing_len, char *err,
             size_t err_len);
void api_unload(sts_api_t *api);

/* the symbol name of a table field, for messages ("stsp_write_image") */
const char *api_symbol_of(const sts_api_t *api, const void *field_addr);

/* Our own names for STS_E* codes (independent of the plugin):
 * "STS_ENOENT"; unknown codes give "STS_E?<n>" in a static buffer. */
const char *code_name(int code);
/* parse "STS_ENOENT", "ENOENT" or a number; returns 0 on success */
int code_parse(const char *s, int *code);

/* named constants from stsi.h (STS_II_*, STS_O_*, STS_LSUF_*, ...);
 * name may omit the "STS_" or "STS_II_" prefix. Returns 0 if found. */
int const_lookup(const char *name, unsigned long long *value);

/* "IMAGE_PENDING|BUSY_WRITE" for an imo_flags value (static-free: writes buf) */
void image_flags_str(unsigned flags, char *buf, size_t len);
void lsu_flags_str(unsigned flags, char *buf, size_t len);
void srv_flags_str(unsigned flags, char *buf, size_t len);

#endif
