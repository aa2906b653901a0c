/*
 * hc.h - the 5800 ("Honeycomb") client API: scalar types, object ids,
 * error codes, the system record, data callbacks, allocator hooks.
 *
 * combstore's own header (clean-room), ABI-compatible with the 5800
 * synchronous C API so existing archive applications compile against it
 * and link with -lhoneycomb (a link to libstspicombstore.so) unchanged.
 * Applications include hcclient.h, which includes this file.
 *
 * In combstore a session's "host" names a local server directory; the
 * port is accepted (default 8080) and must match the server's.
 */
#ifndef HC_H
#define HC_H

#include <sys/types.h>
#include "hchost.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Scalar types                                                        */
/* ------------------------------------------------------------------ */

typedef size_t hcsize_t;
typedef int64_t hc_buffer_index_t;
typedef uint32_t hc_string_index_t;
typedef uint32_t hc_handle_type_t;
typedef int64_t hc_long_t;
typedef int64_t hc_date_t;
typedef uint64_t hc_time_t;
typedef int64_t hc_timestamp_t;
typedef double hc_double_t;
typedef char *hc_string_t;
typedef short hc_byte_t;

typedef struct {
    int len;
    unsigned char *bytes;
} hc_bytearray_t;

#define RANGE_RETRIEVE_UNKNOWN_SIZE -1

/* Lengths include the terminating NUL. (Unparenthesized, as in the
 * original API, which applications rely on textually.) */
#define OID_HEX_CHRSTR_LENGTH 60+1
#define DIGEST_ALGO_CHRSTR_LENGTH 10+1
#define DIGEST_HEX_CHRSTR_LENGTH 40+1
#define COMMIT_ACK_HEX_CHRSTR_LENGTH 1060

typedef char hc_oid[OID_HEX_CHRSTR_LENGTH];            /* 60 hex digits + NUL */
typedef char hc_digest_algo[DIGEST_ALGO_CHRSTR_LENGTH]; /* "sha1" */
typedef char hc_digest[DIGEST_HEX_CHRSTR_LENGTH];      /* 40 lower-case hex + NUL */
typedef char hc_commit_ack[COMMIT_ACK_HEX_CHRSTR_LENGTH];

typedef enum { HC_SHA1 = 0 } hc_digest_algs_t;

/* ------------------------------------------------------------------ */
/* Error codes (hcerr_t). Values are the original API's.               */
/* ------------------------------------------------------------------ */

typedef enum {
    HCERR_OK = 0,
    HCERR_NOT_INITED = 1,
    HCERR_ALREADY_INITED = 2,
    HCERR_INIT_FAILED = 3,
    HCERR_OOM = 4,
    HCERR_NOT_YET_IMPLEMENTED = 5,
    HCERR_SESSION_CREATE_FAILED = 6,
    HCERR_ADD_HEADER_FAILED = 7,
    HCERR_IO_ERR = 8,
    HCERR_FAILOVER_OCCURRED = 9,
    HCERR_CAN_CALL_AGAIN = 10,
    HCERR_GET_RESPONSE_CODE_FAILED = 11,
    HCERR_CONNECTION_FAILED = 12,
    HCERR_BAD_REQUEST = 13,
    HCERR_NO_SUCH_OBJECT = 14,
    HCERR_INTERNAL_SERVER_ERROR = 15,
    HCERR_FAILED_GETTING_FDSET = 16,
    HCERR_FAILED_CHECKING_FDSET = 17,
    HCERR_MISSING_SELECT_CLAUSE = 18,
    HCERR_URL_TOO_LONG = 19,
    HCERR_COULD_NOT_OPEN_FILE = 20,
    HCERR_FAILED_TO_WRITE_TO_FILE = 21,
    HCERR_NULL_SESSION = 22,
    HCERR_NULL_ARCHIVE = 23,
    HCERR_INVALID_ARCHIVE = 24,
    HCERR_INVALID_SESSION = 25,
    HCERR_INVALID_OID = 26,
    HCERR_NULL_HANDLE = 27,
    HCERR_INVALID_HANDLE = 28,
    HCERR_INVALID_SCHEMA = 29,
    HCERR_INVALID_RESULT_SET = 30,
    HCERR_INVALID_NVR = 31,
    HCERR_WRONG_HANDLE_FOR_OPERATION = 32,
    HCERR_HANDLE_IN_WRONG_STATE_FOR_OPERATION = 33,
    HCERR_READ_PAST_LAST_RESULT = 34,
    HCERR_XML_PARSE_ERROR = 35,
    HCERR_XML_MALFORMED_XML = 36,
    HCERR_XML_EXPECTED_LT = 37,
    HCERR_XML_INVALID_ELEMENT_TAG = 38,
    HCERR_XML_MALFORMED_START_ELEMENT = 39,
    HCERR_XML_MALFORMED_END_ELEMENT = 40,
    HCERR_XML_BAD_ATTRIBUTE_NAME = 41,
    HCERR_XML_BUFFER_OVERFLOW = 42,
    HCERR_BUFFER_OVERFLOW = 43,
    HCERR_OUT_OF_MEMORY = 44,
    HCERR_NO_SUCH_TYPE = 45,
    HCERR_ILLEGAL_VALUE_FOR_METADATA = 46,
    HCERR_NO_SUCH_ATTRIBUTE = 47,
    HCERR_NO_MORE_ATTRIBUTES = 48,
    HCERR_FAILED_GETTING_SILO_DATA = 49,
    HCERR_PLATFORM_NOT_INITED = 50,
    HCERR_PLATFORM_ALREADY_INITED = 51,
    HCERR_PLATFORM_INIT_FAILED = 52,
    HCERR_PLATFORM_HEADER_TOO_LONG = 53,
    HCERR_PLATFORM_TOO_LATE_FOR_HEADERS = 54,
    HCERR_PLATFORM_NOT_ALLOWED_FOR_GET = 55,
    HCERR_FAILED_TO_GET_SYSTEM_RECORD = 56,
    HCERR_PARTIAL_FILE = 57,
    HCERR_ABORTED_BY_CALLBACK = 58,
    HCERR_PLATFORM_GENERAL_ERROR = 59,
    HCERR_ILLEGAL_ARGUMENT = 60,
    HCERR_CLIENT_GAVE_UP = 61
} hcerr_t;

/* ------------------------------------------------------------------ */
/* The system record a store returns (x86_64: 152 bytes)               */
/* ------------------------------------------------------------------ */

typedef struct {
    hc_oid oid;                 /* offset 0 */
    hc_digest_algo digest_algo; /* 61: "sha1" */
    hc_digest data_digest;      /* 72: SHA-1 of the data, lower-case hex */
    hc_long_t size;             /* 120 */
    hc_long_t creation_time;    /* 128: ms since the epoch */
    hc_long_t deleted_time;     /* 136: 0 */
    char shredMode;             /* 144: unused */
    char is_indexed;            /* 145: 0 = a store index exception */
} hc_system_record_t;

/* ------------------------------------------------------------------ */
/* Data callbacks                                                      */
/* ------------------------------------------------------------------ */

/* Store source: place 1..n bytes in buff and return how many; return 0 at
 * the end (the store then commits); return -1 to cancel the store
 * (HCERR_ABORTED_BY_CALLBACK). It is called until it returns 0.
 * Ownership: buff is the library's, writable for n bytes during the call
 * only; stream is the caller's, passed through. */
HONEYCOMB_EXTERN typedef long (*read_from_data_source)(void *stream, char *buff, long n);

/* Retrieve destination: consume all n bytes and return n; any other value
 * aborts the transfer (HCERR_CLIENT_GAVE_UP). n is never 0.
 * Ownership: buff is the library's, readable for n bytes during the call
 * only (copy what you keep); stream is the caller's, passed through. */
HONEYCOMB_EXTERN typedef long (*write_to_data_destination)(void *stream, char *buff, long n);

/* ------------------------------------------------------------------ */
/* Allocation, initialisation, debugging                               */
/* ------------------------------------------------------------------ */

typedef void *(*allocator_t)(size_t size);
typedef void (*deallocator_t)(void *p);
typedef void *(*reallocator_t)(void *p, size_t size);
typedef void (*hc_debug_function_t)(const char *fmt, ...);
typedef void hc_archive_t;

/* Ownership, in every declaration's comment below ("Ownership:"):
 * - "caller frees with hc_free": the buffer comes from the allocator
 *   registered with hc_init (malloc by default); free it with hc_free (or
 *   that deallocator), once.
 * - "session-owned", "schema-owned", "NVR-owned": a pointer into the
 *   library's object; never free or modify it; it is valid until the
 *   event the comment names (at the latest until that object is freed).
 * - "static": a constant string; never free or modify it.
 * - handles (hc_session_t, hc_nvr_t, hc_pstmt_t, hc_query_result_set_t)
 *   are freed only with their own *_free function.
 * - inputs (names, strings, arrays, structs) are copied, and stay the
 *   caller's, unless the comment says the library takes them. */

/* Registers the allocators every buffer handed to the caller comes from;
 * a NULL one means malloc, free or realloc. Repeat calls return HCERR_OK
 * and replace them: call it before anything else, because buffers and
 * NVR values allocated earlier are then freed with the new deallocator.
 * Ownership: the functions stay the caller's and must stay callable. */
HONEYCOMB_EXTERN hcerr_t hc_init(allocator_t, deallocator_t, reallocator_t);
/* Global teardown; later sessions still work (allocators are kept).
 * Ownership: frees nothing the caller holds: sessions, NVRs, statements
 * and result sets stay valid until their own *_free. */
HONEYCOMB_EXTERN hcerr_t hc_cleanup(void);

/* size bytes from the registered allocator (malloc by default); NULL if
 * it fails. Ownership: caller frees with hc_free (or hands the buffer to
 * hc_nvr_add_value, which then owns it). */
HONEYCOMB_EXTERN void *hc_alloc(size_t size);
/* Frees p (NULL is ignored) with the registered deallocator.
 * Ownership: takes p, which must come from hc_alloc/hc_realloc, the
 * registered allocator, or a "caller frees with hc_free" result. */
HONEYCOMB_EXTERN void hc_free(void *p);
/* Resizes p with the registered reallocator. Ownership: as realloc: p is
 * taken (unless NULL is returned); caller frees the result with hc_free. */
HONEYCOMB_EXTERN void *hc_realloc(void *p, size_t size);

/* printf(fmt, ...) to the process's stdout, then a newline (the
 * application's own output; the library itself never prints).
 * Ownership: fmt and the arguments stay the caller's. */
HONEYCOMB_EXTERN void hc_printf(const char *fmt, ...);
/* Error reports go to fn when debug flag 1 is set (NULL: none).
 * Ownership: fn stays the caller's and must stay callable. */
HONEYCOMB_EXTERN void hc_set_debug_function(hc_debug_function_t fn);
/* Debug flag bits (1 errors, 2 platform, 4 debug, 8 detail, 16 I/O,
 * 32 multicell). Ownership: nothing is passed or returned. */
HONEYCOMB_EXTERN void hc_set_debug_flags(hc_long_t flags);

typedef enum {
    HCOPTTYPE_LONG = 0,
    HCOPTTYPE_HCLONG = 10000,
    HCOPTTYPE_OBJPOINTER = 20000,
    HCOPTTYPE_FUNCPOINTER = 30000
} hc_option_type;

typedef enum {
    HCOPT_LOW_SPEED_TIME = HCOPTTYPE_LONG + 3,
    HCOPT_DEBUG_FLAGS = HCOPTTYPE_HCLONG + 1,
    HCOPT_DEBUG_FUNCTION = HCOPTTYPE_FUNCPOINTER + 2
} hc_option;

/* HCOPT_LOW_SPEED_TIME (a long, seconds >= 0), HCOPT_DEBUG_FLAGS (an
 * hc_long_t), HCOPT_DEBUG_FUNCTION (an hc_debug_function_t); anything
 * else: HCERR_ILLEGAL_ARGUMENT. Ownership: as hc_set_debug_function. */
HONEYCOMB_EXTERN hcerr_t hc_set_global_parameter(hc_option opt, ...);
/* "<sysname> Release <release> Version <version>" into buf (len bytes,
 * NUL included); HCERR_BUFFER_OVERFLOW if it does not fit.
 * Ownership: buf is the caller's; nothing is allocated. */
HONEYCOMB_EXTERN hcerr_t hcoa_get_platform_name(char *buf, int len);

/* The enumerator's name ("HCERR_NO_SUCH_OBJECT"), or "UNKNOWN ERROR".
 * Ownership: static; never free it. */
HONEYCOMB_EXTERN char *hc_decode_hcerr(hcerr_t res);

#ifdef __cplusplus
}
#endif

#endif /* HC_H */
