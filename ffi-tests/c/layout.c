/*
 * layout.c - prints the C view of every struct of stsi.h (size, alignment,
 * offset and size of every field) and the value of every numeric constant,
 * one per line, for ffi-tests/layout.rs to compare with the Rust view
 * (combstore::sys). Build:
 *   cc -std=c11 -Wall -Werror -Iinclude -Iplatforms/linux -DSTS_EXTERNAL_VENDOR \
 *      ffi-tests/c/layout.c -o layout
 * Lines:  S <struct> <sizeof> <alignof>
 *         F <struct>.<field> <offsetof> <sizeof>
 *         K <CONSTANT> <value>
 */
#include <stdio.h>
#include <stddef.h>
#include "stspi.h"

#define S(t) printf("S %s %zu %zu\n", #t, sizeof(t), _Alignof(t))
#define F(t, f) printf("F %s.%s %zu %zu\n", #t, #f, offsetof(t, f), sizeof(((t *)0)->f))
#define K(k) printf("K %s %lld\n", #k, (long long)(k))

int main(void)
{
    S(sts_plugin_info_t);
    F(sts_plugin_info_t, pi_name);
    F(sts_plugin_info_t, pi_vendor);
    F(sts_plugin_info_t, pi_version);
    F(sts_plugin_info_t, pi_api_version_min);
    F(sts_plugin_info_t, pi_api_version_max);
    F(sts_plugin_info_t, pi_api_version);
    F(sts_plugin_info_t, pi_pad);

    S(sts_cred_t);
    F(sts_cred_t, sc_user);
    F(sts_cred_t, sc_secret);

    S(sts_lsu_name_t);
    F(sts_lsu_name_t, sln_name);

    S(sts_lsu_t);
    F(sts_lsu_t, sl_server_handle);
    F(sts_lsu_t, sl_lsu_name);

    S(sts_image_def_t);
    F(sts_image_def_t, img_basename);
    F(sts_image_def_t, img_date);
    F(sts_image_def_t, img_flags);
    F(sts_image_def_t, img_pad);

    S(sts_stat_t);
    F(sts_stat_t, ss_reserved);

    S(sts_image_info_t);
    F(sts_image_info_t, imo_flags);
    F(sts_image_info_t, imo_block_size);
    F(sts_image_info_t, imo_size);
    F(sts_image_info_t, imo_ctime_ms);
    F(sts_image_info_t, imo_mtime_ms);
    F(sts_image_info_t, imo_complete_ms);
    F(sts_image_info_t, imo_extent_count);
    F(sts_image_info_t, imo_def);
    F(sts_image_info_t, imo_lsu);
    F(sts_image_info_t, imo_objid);
    F(sts_image_info_t, imo_sha1);

    S(sts_lsu_info_t);
    F(sts_lsu_info_t, lsu_capacity);
    F(sts_lsu_info_t, lsu_used);
    F(sts_lsu_info_t, lsu_used_phys);
    F(sts_lsu_info_t, lsu_images);
    F(sts_lsu_info_t, lsu_flags);
    F(sts_lsu_info_t, lsu_block_size);
    F(sts_lsu_info_t, lsu_name);
    F(sts_lsu_info_t, lsu_label);

    S(sts_server_info_t);
    F(sts_server_info_t, srv_server);
    F(sts_server_info_t, srv_cap);
    F(sts_server_info_t, srv_flags);
    F(sts_server_info_t, srv_lsu_count);
    F(sts_server_info_t, srv_block_size);
    F(sts_server_info_t, srv_api_version);

    S(sts_event_t);
    F(sts_event_t, ev_id);
    F(sts_event_t, ev_time_ms);
    F(sts_event_t, ev_op_id);
    F(sts_event_t, ev_bytes);
    F(sts_event_t, ev_type);
    F(sts_event_t, ev_status);
    F(sts_event_t, ev_lsu);
    F(sts_event_t, ev_image);
    F(sts_event_t, ev_op_name);
    F(sts_event_t, ev_text);

    /* handle types are pointers */
    printf("H sts_server_handle_t %zu\n", sizeof(sts_server_handle_t));
    printf("H sts_image_handle_t %zu\n", sizeof(sts_image_handle_t));
    printf("H sts_lsu_list_handle_t %zu\n", sizeof(sts_lsu_list_handle_t));
    printf("H sts_image_list_handle_t %zu\n", sizeof(sts_image_list_handle_t));
    printf("H sts_evchannel_handle_t %zu\n", sizeof(sts_evchannel_handle_t));

    K(STS_VERSION); K(STS_VERSION_MIN); K(STS_VERSION_MAX);
    K(STS_BLOCK_SIZE); K(STS_MAX_SERVERNAME); K(STS_MAX_SERVER_DIR); K(STS_MAX_LSUNAME); K(STS_MAX_IMAGENAME);
    K(STS_MAX_DATE); K(STS_MAX_LABEL); K(STS_MAX_OBJID); K(STS_MAX_SHA1_HEX);
    K(STS_MAX_PLUGIN_STR); K(STS_MAX_OPNAME); K(STS_MAX_EVTEXT); K(STS_MAX_USER);
    K(STS_MAX_SECRET); K(STS_MAX_IO_SIZE);
    K(STS_MAX_IMAGE_META); K(STS_SRV_CAP_WORDS);
    K(STS_EOK); K(STS_EINVAL); K(STS_ENULL); K(STS_EHANDLE); K(STS_ENAME); K(STS_EALIGN);
    K(STS_ERANGE); K(STS_ETOOBIG); K(STS_EVERSION); K(STS_ENOT_INIT); K(STS_EMODE);
    K(STS_ENOT_MINE); K(STS_ENOSERVER); K(STS_ENOLSU); K(STS_ENOENT); K(STS_EEXIST);
    K(STS_EBUSY); K(STS_ECOMPLETE); K(STS_ENOTCOMPLETE); K(STS_EBROKEN); K(STS_ENO_MORE);
    K(STS_EAUTH); K(STS_ENOTSUP); K(STS_EXDEV); K(STS_ENOOP); K(STS_ECANCELED);
    K(STS_EOPFAILED); K(STS_ENOSPC); K(STS_EIO); K(STS_ECORRUPT);
    K(STS_EPREVIO); K(STS_ETIMEDOUT); K(STS_EINPROGRESS); K(STS_EINTERNAL); K(STS_ENOMEM);
    K(STS_II_IMAGE_PENDING); K(STS_II_BUSY_WRITE); K(STS_II_IMAGE_CREATED);
    K(STS_II_IMAGE_COMPLETE); K(STS_II_FILES_PENDING); K(STS_II_FILES_CREATED); K(STS_II_ABNORMAL);
    K(STS_O_READ); K(STS_O_WRITE); K(STS_CLOSEF_IH_INCOMPLETE); K(STS_CLOSEF_IH_COMPLETE);
    K(STS_TIMEOUT_NONE); K(STS_TIMEOUT_INFINITE);
    K(STS_EVT_ASYNC_DONE); K(STS_EVT_DELETE_DONE); K(STS_EVT_LABEL); K(STS_EVT_LOW_SPACE);
    K(STS_CX_APPEND); K(STS_CX_REMAINDER);
    K(STS_LSUF_DISK); K(STS_LSUF_STORAGE_NOT_FREED); K(STS_LSUF_STORAGE_FREED);
    K(STS_LSUF_STORAGE_FREED_DEFERRED); K(STS_LSUF_STORAGE_SHARED);
    K(STS_LSUF_DEDUP); K(STS_LSUF_COMPRESSED);
    K(STS_SRV_IMAGELIST); K(STS_SRV_IMAGE_COPY); K(STS_SRV_VIRTUAL_IMAGE); K(STS_SRV_EVENTS);
    K(STS_SRV_CRED);
    K(STS_SRV_DEDUP);
    K(STS_CAP_CLAIM); K(STS_CAP_OPEN_SERVER); K(STS_CAP_CLOSE_SERVER); K(STS_CAP_GET_SERVER_PROP);
    K(STS_CAP_GET_SERVER_PROP_BYNAME); K(STS_CAP_LSU_LIST); K(STS_CAP_GET_LSU_PROP_BYNAME);
    K(STS_CAP_CREATE_IMAGE); K(STS_CAP_WRITE_IMAGE); K(STS_CAP_FLUSH); K(STS_CAP_CLOSE_IMAGE);
    K(STS_CAP_OPEN_IMAGE); K(STS_CAP_READ_IMAGE); K(STS_CAP_DELETE_IMAGE); K(STS_CAP_IMAGE_LIST);
    K(STS_CAP_GET_IMAGE_PROP); K(STS_CAP_GET_IMAGE_PROP_BYNAME); K(STS_CAP_READ_IMAGE_META);
    K(STS_CAP_WRITE_IMAGE_META); K(STS_CAP_OPEN_TARGET_SERVER); K(STS_CAP_COPY_EXTENT);
    K(STS_CAP_COPY_IMAGE); K(STS_CAP_INCLUDE_IN_IMAGE); K(STS_CAP_ASYNC_COPY_IMAGE);
    K(STS_CAP_NAMED_ASYNC_COPY_IMAGE); K(STS_CAP_NAMED_ASYNC_WAIT); K(STS_CAP_NAMED_ASYNC_CANCEL);
    K(STS_CAP_EVCHANNEL); K(STS_CAP_LABEL_LSU);
    printf("P STS_COMBSTORE_PREFIX %s\n", STS_COMBSTORE_PREFIX);

    /* STS_CAP_ISSET on a fixed bitmap, for the Rust helper to match */
    {
        sts_uint32_t cap[STS_SRV_CAP_WORDS] = {0x80000001u, 0x2u, 0, 0xffffffffu, 0, 0, 0, 0x40000000u};
        int b;
        printf("C");
        for (b = 0; b < 32 * STS_SRV_CAP_WORDS; b++)
            if (STS_CAP_ISSET(cap, b))
                printf(" %d", b);
        printf("\n");
    }
    return 0;
}
