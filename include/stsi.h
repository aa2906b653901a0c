/*
 * stsi.h - OpenStorage types, constants and error codes (combstore's
 * clean-room contract; no vendor SDK is used or needed).
 *
 * Applications and plugins include stspi.h, which includes this file.
 * This file includes stsplat.h, which is platform-specific: build with
 * -I<include dir> -I<platforms dir>/linux and define STS_EXTERNAL_VENDOR.
 *
 * Layout rules: every struct here has a fixed size and explicit field
 * order, uses only the fixed-width types of stsplat.h, fixed-size char
 * arrays and opaque handle pointers, and contains no implicit padding
 * (explicit *_pad fields fill any gap). The sizes are pinned by
 * STS_STATIC_ASSERT below and checked against the Rust view by the layout
 * test in ffi-tests/.
 *
 * Strings in structs are NUL-terminated within their array; a string that
 * fills its array without a NUL is rejected with STS_ENAME.
 */
#ifndef STSI_H
#define STSI_H

#ifndef STS_EXTERNAL_VENDOR
#error "define STS_EXTERNAL_VENDOR when building against the OpenStorage headers"
#endif

#include "stsplat.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Versions                                                            */
/* ------------------------------------------------------------------ */

/* API version this header describes; a host passes it to stsp_init. */
#ifndef STS_VERSION
#define STS_VERSION 11
#endif
/* Oldest and newest API versions combstore implements. */
#define STS_VERSION_MIN 11
#define STS_VERSION_MAX 11

/* ------------------------------------------------------------------ */
/* Limits (array sizes include the terminating NUL)                    */
/* ------------------------------------------------------------------ */

#define STS_BLOCK_SIZE 512          /* read/write lengths and offsets are multiples */
#define STS_MAX_SERVERNAME 1024     /* "combstore:" + absolute directory path */
#define STS_MAX_SERVER_DIR 480      /* that directory path, also with symbolic links
                                       resolved (a limit of the SQLite catalog) */
#define STS_MAX_LSUNAME 128
#define STS_MAX_IMAGENAME 256       /* img_basename */
#define STS_MAX_DATE 32             /* img_date */
#define STS_MAX_LABEL 128
#define STS_MAX_OBJID 64            /* a 5800 OID: 60 lower-case hex digits + NUL, padded */
#define STS_MAX_SHA1_HEX 48         /* 40 lower-case hex digits + NUL, padded */
#define STS_MAX_PLUGIN_STR 64
#define STS_MAX_OPNAME 128          /* named asynchronous operations */
#define STS_MAX_EVTEXT 256          /* sts_event_t.ev_text */
#define STS_MAX_USER 64
#define STS_MAX_SECRET 256
#define STS_MAX_IO_SIZE (1024u * 1024u * 1024u)       /* one read or write */
#define STS_MAX_IMAGE_META (8u * 1024u * 1024u)       /* metadata bytes per image */
#define STS_SRV_CAP_WORDS 8                           /* 256 capability bits */

/* Server names this plugin claims start with this prefix. */
#define STS_COMBSTORE_PREFIX "combstore:"

/* ------------------------------------------------------------------ */
/* Error codes. Every entry point returns int: STS_EOK or one of these. */
/* The numbers are a frozen contract: never renumbered or reused.       */
/* ------------------------------------------------------------------ */

#define STS_EOK 0

/* 1-19: the caller's arguments */
#define STS_EINVAL 1       /* an argument is invalid in a way no code below names
                              (unknown flag bits, a non-zero reserved field) */
#define STS_ENULL 2        /* a required pointer argument is NULL */
#define STS_EHANDLE 3      /* handle unknown, already closed, or of the wrong kind */
#define STS_ENAME 4        /* a name is empty, not NUL-terminated within its array,
                              too long, not valid UTF-8, or contains '/', '\\',
                              a control character, or "..", or is "." */
#define STS_EALIGN 5       /* a length or offset is not a multiple of STS_BLOCK_SIZE */
#define STS_ERANGE 6       /* an offset lies beyond the end of the image or metadata */
#define STS_ETOOBIG 7      /* a length exceeds STS_MAX_IO_SIZE, or metadata would
                              exceed STS_MAX_IMAGE_META */
#define STS_EVERSION 8     /* the host's API version is not supported */
#define STS_ENOT_INIT 9    /* stsp_init has not been called (or stsp_terminate was) */
#define STS_EMODE 10       /* the handle's open mode does not allow the operation
                              (write on a read handle, read on a write handle, a
                              target-server handle used beyond what it allows) */

/* 20-39: the state of the server, LSU or image */
#define STS_ENOT_MINE 20   /* stsp_claim: the server name is not a combstore name */
#define STS_ENOSERVER 21   /* the server directory is missing, not absolute, or
                              not a combstore server directory */
#define STS_ENOLSU 22      /* no LSU of that name on the server */
#define STS_ENOENT 23      /* no image of that name (or it was deleted) */
#define STS_EEXIST 24      /* an image of that name already exists */
#define STS_EBUSY 25       /* the image is open for writing by another handle or
                              process (still alive) */
#define STS_ECOMPLETE 26   /* the image is complete: it cannot be written or
                              reopened for writing */
#define STS_ENOTCOMPLETE 27 /* the image is not complete: it cannot be opened
                              for reading */
#define STS_EBROKEN 28     /* the image was abnormally completed and cannot be
                              written any more; it can only be deleted */
#define STS_ENO_MORE 29    /* a list has no more entries */
#define STS_EAUTH 30       /* credentials do not match the server's */
#define STS_ENOTSUP 31     /* the operation is not supported by this plugin */
#define STS_EXDEV 32       /* the operation needs both images on one server
                              (stsp_include_in_image) */
#define STS_ENOOP 33       /* no asynchronous operation of that name */
#define STS_ECANCELED 34   /* the asynchronous operation was cancelled */
#define STS_EOPFAILED 35   /* the asynchronous operation failed; its event
                              carries the cause (ev_status) */
#define STS_EINPROGRESS 36 /* stsp_named_async_wait: the asynchronous operation
                              is still running when the timeout ends */

/* 40-59: storage */
#define STS_ENOSPC 40      /* no space left on the filesystem or in the LSU; any
                              call that changes the catalog may return it when
                              the filesystem is full */
#define STS_EIO 41         /* an I/O error from the filesystem or the catalog */
#define STS_ECORRUPT 42    /* stored bytes or catalog rows fail verification;
                              no bytes are returned for them; any call that
                              reads the catalog may return it when the catalog
                              is damaged */
#define STS_EPREVIO 43     /* an earlier buffered write on this handle failed; the
                              data since the last flush is lost; close the handle */
#define STS_ETIMEDOUT 44   /* another process held the catalog (or the server
                              directory's setup lock) for longer than 60 s;
                              returned for nothing else */

/* 60-69: the plugin itself */
#define STS_EINTERNAL 60   /* an internal error (a bug) was caught; nothing of the
                              call's effect should be assumed */
#define STS_ENOMEM 61      /* memory could not be allocated */

/* ------------------------------------------------------------------ */
/* Flags                                                               */
/* ------------------------------------------------------------------ */

/* sts_image_info_t.imo_flags */
#define STS_II_IMAGE_PENDING 0x0001u  /* created, not complete; may be written again */
#define STS_II_BUSY_WRITE 0x0002u     /* open for writing right now */
#define STS_II_IMAGE_CREATED 0x0004u  /* closed complete */
#define STS_II_IMAGE_COMPLETE 0x0008u /* closed complete: readable, never writable */
#define STS_II_FILES_PENDING 0x0010u  /* ignored by combstore; never set */
#define STS_II_FILES_CREATED 0x0020u  /* ignored by combstore; never set */
#define STS_II_ABNORMAL 0x0100u       /* combstore: the writer vanished before close
                                         (abnormal completion); cleared when the
                                         image is reopened for writing */

/* stsp_open_image modes */
#define STS_O_READ 0x1u   /* read a complete image */
#define STS_O_WRITE 0x2u  /* reopen a pending (incomplete) image to write or append */

/* stsp_close_image flags */
#define STS_CLOSEF_IH_INCOMPLETE 0x0u /* checkpoint: the image may be reopened */
#define STS_CLOSEF_IH_COMPLETE 0x1u   /* normal completion */

/* Timeouts in milliseconds for stsp_get_event and stsp_named_async_wait */
#define STS_TIMEOUT_NONE 0u              /* do not wait */
#define STS_TIMEOUT_INFINITE 0xffffffffu /* wait as long as it takes */

/* sts_event_t.ev_type. Events are stored rows of the server's catalog:
 * every process with the server open sees them, and they outlive the
 * process that raised them until stsp_delete_event acknowledges them. */
#define STS_EVT_ASYNC_DONE 1    /* an asynchronous copy finished: ev_status is
                                   STS_EOK, STS_ECANCELED, or the failure's
                                   code (an operation whose process died is
                                   STS_EOPFAILED); ev_op_id / ev_op_name name
                                   it; ev_lsu/ev_image name the target;
                                   ev_bytes the bytes of the target image */
#define STS_EVT_DELETE_DONE 2   /* an asynchronous delete finished: ev_status
                                   STS_EOK or the failure's code; ev_lsu and
                                   ev_image name the image */
#define STS_EVT_LABEL 3         /* an LSU's label changed: ev_lsu, ev_text =
                                   the new label */
#define STS_EVT_LOW_SPACE 4     /* an LSU's filesystem fell below its low-space
                                   threshold: ev_lsu; ev_bytes = free bytes;
                                   raised once per crossing */

/* stsp_copy_extent flags (optimized duplication) */
#define STS_CX_APPEND 0x1u     /* append to the target; to_offset is ignored */
#define STS_CX_REMAINDER 0x2u  /* copy all of the source from from_offset on */

/* sts_lsu_info_t.lsu_flags */
#define STS_LSUF_DISK 0x0001u                  /* disk storage, random access */
#define STS_LSUF_STORAGE_NOT_FREED 0x0100u     /* deleting an image frees no space */
#define STS_LSUF_STORAGE_FREED 0x0200u         /* space is freed by the delete call */
#define STS_LSUF_STORAGE_FREED_DEFERRED 0x0400u /* space is freed later, in background */
#define STS_LSUF_STORAGE_SHARED 0x0800u        /* images may share stored extents, so
                                                  lsu_used_phys may be below lsu_used */
#define STS_LSUF_DEDUP 0x1000u                 /* data is deduplicated: a chunk of bytes the
                                                  server already holds (any image, any LSU,
                                                  archive objects) is stored once */
#define STS_LSUF_COMPRESSED 0x2000u            /* stored chunks are compressed where that
                                                  pays; lsu_used_phys counts stored bytes */

/* sts_server_info_t.srv_flags */
#define STS_SRV_IMAGELIST 0x0001u      /* images can be listed */
#define STS_SRV_IMAGE_COPY 0x0002u     /* optimized (server-side) duplication */
#define STS_SRV_VIRTUAL_IMAGE 0x0004u  /* stsp_include_in_image */
#define STS_SRV_EVENTS 0x0008u         /* event channels */
#define STS_SRV_CRED 0x0010u           /* the server requires credentials */
#define STS_SRV_DEDUP 0x0020u          /* the server deduplicates across all its LSUs;
                                          a copy to another such server sends only
                                          the chunks the target lacks */

/* Capability bits in sts_server_info_t.srv_cap: one bit per entry point.
 * Test with STS_CAP_ISSET(info.srv_cap, STS_CAP_...). */
#define STS_CAP_CLAIM 0
#define STS_CAP_OPEN_SERVER 1
#define STS_CAP_CLOSE_SERVER 2
#define STS_CAP_GET_SERVER_PROP 3
#define STS_CAP_GET_SERVER_PROP_BYNAME 4
#define STS_CAP_LSU_LIST 5
#define STS_CAP_GET_LSU_PROP_BYNAME 6
#define STS_CAP_CREATE_IMAGE 7
#define STS_CAP_WRITE_IMAGE 8
#define STS_CAP_FLUSH 9
#define STS_CAP_CLOSE_IMAGE 10
#define STS_CAP_OPEN_IMAGE 11
#define STS_CAP_READ_IMAGE 12
#define STS_CAP_DELETE_IMAGE 13
#define STS_CAP_IMAGE_LIST 14
#define STS_CAP_GET_IMAGE_PROP 15
#define STS_CAP_GET_IMAGE_PROP_BYNAME 16
#define STS_CAP_READ_IMAGE_META 17
#define STS_CAP_WRITE_IMAGE_META 18
#define STS_CAP_OPEN_TARGET_SERVER 19
#define STS_CAP_COPY_EXTENT 20
#define STS_CAP_COPY_IMAGE 21
#define STS_CAP_INCLUDE_IN_IMAGE 22
#define STS_CAP_ASYNC_COPY_IMAGE 23
#define STS_CAP_NAMED_ASYNC_COPY_IMAGE 24
#define STS_CAP_NAMED_ASYNC_WAIT 25
#define STS_CAP_NAMED_ASYNC_CANCEL 26
#define STS_CAP_EVCHANNEL 27
#define STS_CAP_LABEL_LSU 28
#define STS_CAP_ISSET(cap, bit) (((cap)[(bit) / 32] >> ((bit) % 32)) & 1u)

/* ------------------------------------------------------------------ */
/* Handles: opaque; never dereference. A closed handle is rejected with */
/* STS_EHANDLE (handle values are never reused within a process).       */
/* ------------------------------------------------------------------ */

typedef struct sts_server_s *sts_server_handle_t;
typedef struct sts_image_s *sts_image_handle_t;
typedef struct sts_lsu_list_s *sts_lsu_list_handle_t;
typedef struct sts_image_list_s *sts_image_list_handle_t;
typedef struct sts_evchannel_s *sts_evchannel_handle_t;

/* ------------------------------------------------------------------ */
/* Structures                                                          */
/* ------------------------------------------------------------------ */

/* Plugin identity, filled by stsp_init. 208 bytes. */
typedef struct {
    char pi_name[STS_MAX_PLUGIN_STR];    /* "combstore" */
    char pi_vendor[STS_MAX_PLUGIN_STR];  /* "combstore project" */
    char pi_version[STS_MAX_PLUGIN_STR]; /* the plugin's version, e.g. "0.1.0" */
    sts_uint32_t pi_api_version_min;     /* STS_VERSION_MIN */
    sts_uint32_t pi_api_version_max;     /* STS_VERSION_MAX */
    sts_uint32_t pi_api_version;         /* the version agreed with the host */
    sts_uint32_t pi_pad;
} sts_plugin_info_t;

/* Credentials for stsp_open_server. 320 bytes. */
typedef struct {
    char sc_user[STS_MAX_USER];
    char sc_secret[STS_MAX_SECRET];
} sts_cred_t;

/* An LSU name. 128 bytes. */
typedef struct {
    char sln_name[STS_MAX_LSUNAME];
} sts_lsu_name_t;

/* An LSU on an open server: server handle + LSU name. 136 bytes. */
typedef struct {
    sts_server_handle_t sl_server_handle;
    sts_lsu_name_t sl_lsu_name;
} sts_lsu_t;

/* An image's identity within an LSU: basename and date together. 296 bytes. */
typedef struct {
    char img_basename[STS_MAX_IMAGENAME]; /* required */
    char img_date[STS_MAX_DATE];          /* may be empty; same character rules */
    sts_uint32_t img_flags;               /* reserved: must be 0 */
    sts_uint32_t img_pad;
} sts_image_def_t;

/* Image content description passed to stsp_write_image (section VI of the
 * API). combstore accepts it, may be NULL, and records nothing from it.
 * 32 bytes. */
typedef struct {
    sts_uint64_t ss_reserved[4];
} sts_stat_t;

/* Image properties. 584 bytes. */
typedef struct {
    sts_uint32_t imo_flags;        /* STS_II_* */
    sts_uint32_t imo_block_size;   /* STS_BLOCK_SIZE */
    sts_uint64_t imo_size;         /* bytes: highest written offset + length */
    sts_uint64_t imo_ctime_ms;     /* creation, ms since the Unix epoch (UTC) */
    sts_uint64_t imo_mtime_ms;     /* last committed write or state change */
    sts_uint64_t imo_complete_ms;  /* completion time; 0 until complete */
    sts_uint64_t imo_extent_count; /* stored extents the image refers to */
    sts_image_def_t imo_def;       /* the image's name */
    sts_lsu_name_t imo_lsu;        /* the LSU holding it */
    char imo_objid[STS_MAX_OBJID]; /* system metadata: the OID of the image's archive
                                      object (hc_* API); "" until complete */
    char imo_sha1[STS_MAX_SHA1_HEX]; /* system metadata: SHA-1 of the bytes in
                                      lower-case hex; "" until complete */
} sts_image_info_t;

/* LSU properties. 296 bytes. */
typedef struct {
    sts_uint64_t lsu_capacity;   /* bytes the LSU may hold (filesystem size) */
    sts_uint64_t lsu_used;       /* logical bytes: sum of imo_size of its images */
    sts_uint64_t lsu_used_phys;  /* bytes its stored extents occupy on disk */
    sts_uint64_t lsu_images;     /* number of images */
    sts_uint32_t lsu_flags;      /* STS_LSUF_* */
    sts_uint32_t lsu_block_size; /* STS_BLOCK_SIZE */
    sts_lsu_name_t lsu_name;
    char lsu_label[STS_MAX_LABEL];
} sts_lsu_info_t;

/* Server properties. 1072 bytes. */
typedef struct {
    char srv_server[STS_MAX_SERVERNAME];  /* "combstore:/path" */
    sts_uint32_t srv_cap[STS_SRV_CAP_WORDS]; /* STS_CAP_* bitmap */
    sts_uint32_t srv_flags;               /* STS_SRV_* */
    sts_uint32_t srv_lsu_count;
    sts_uint32_t srv_block_size;          /* STS_BLOCK_SIZE */
    sts_uint32_t srv_api_version;         /* API version in use */
} sts_server_info_t;

/* An event, filled by stsp_get_event. 848 bytes. */
typedef struct {
    sts_uint64_t ev_id;            /* unique on the server; pass to stsp_delete_event */
    sts_uint64_t ev_time_ms;       /* when it was raised, ms since the epoch */
    sts_uint64_t ev_op_id;         /* STS_EVT_ASYNC_DONE: the operation's id */
    sts_uint64_t ev_bytes;         /* see the event type */
    sts_uint32_t ev_type;          /* STS_EVT_* */
    sts_int32_t ev_status;         /* STS_EOK or an STS_E* code */
    sts_lsu_name_t ev_lsu;
    sts_image_def_t ev_image;
    char ev_op_name[STS_MAX_OPNAME]; /* "" for unnamed operations */
    char ev_text[STS_MAX_EVTEXT];  /* human-readable detail */
} sts_event_t;

/* C99 compile-time size checks (a negative array size fails to compile). */
#define STS_STATIC_ASSERT(cond, tag) typedef char sts_static_assert_##tag[(cond) ? 1 : -1]
STS_STATIC_ASSERT(sizeof(sts_plugin_info_t) == 208, plugin_info);
STS_STATIC_ASSERT(sizeof(sts_cred_t) == 320, cred);
STS_STATIC_ASSERT(sizeof(sts_lsu_name_t) == 128, lsu_name);
STS_STATIC_ASSERT(sizeof(sts_lsu_t) == 136, lsu);
STS_STATIC_ASSERT(sizeof(sts_image_def_t) == 296, image_def);
STS_STATIC_ASSERT(sizeof(sts_stat_t) == 32, stat);
STS_STATIC_ASSERT(sizeof(sts_image_info_t) == 584, image_info);
STS_STATIC_ASSERT(sizeof(sts_lsu_info_t) == 296, lsu_info);
STS_STATIC_ASSERT(sizeof(sts_server_info_t) == 1072, server_info);
STS_STATIC_ASSERT(sizeof(sts_event_t) == 848, event);

#ifdef __cplusplus
}
#endif

#endif /* STSI_H */
