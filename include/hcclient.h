/*
 * hcclient.h - the 5800 ("Honeycomb") synchronous client API: sessions,
 * name-value records (metadata), store, retrieve, query, delete, schema.
 *
 * combstore's own header (clean-room), ABI-compatible with the original.
 * Conventions:
 * - Every function returns an hcerr_t (hc.h); HCERR_OK is success.
 * - A NULL session is HCERR_NULL_SESSION, an invalid one
 *   HCERR_INVALID_SESSION; a NULL or invalid NVR HCERR_INVALID_NVR; a
 *   NULL result set HCERR_INVALID_RESULT_SET; a NULL schema
 *   HCERR_INVALID_SCHEMA; a malformed OID (the first 60 characters must
 *   be hex) HCERR_INVALID_OID; an object that does not exist (or was
 *   deleted) HCERR_NO_SUCH_OBJECT.
 * - Buffers returned to the caller come from the allocator registered
 *   with hc_init (malloc by default); the caller frees them with its
 *   deallocator. Pointers into an NVR stay valid until it is freed.
 * - A session may be used by one thread at a time.
 */
#ifndef HCCLIENT_H
#define HCCLIENT_H

#include <time.h>
#include "hc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Types                                                               */
/* ------------------------------------------------------------------ */

typedef enum {
    HC_UNKNOWN_TYPE = -1,
    HC_BOGUS_TYPE = 0,
    HC_STRING_TYPE = 1,
    HC_LONG_TYPE = 2,
    HC_DOUBLE_TYPE = 3,
    HC_BYTE_TYPE = 4,
    HC_CHAR_TYPE = 5,
    HC_BINARY_TYPE = 6,
    HC_DATE_TYPE = 7,
    HC_TIME_TYPE = 8,
    HC_TIMESTAMP_TYPE = 9,
    HC_OBJECTID_TYPE = 10
} hc_type_t;

/* A typed value (64 bytes on x86_64; the union at offset 8). DATE uses
 * hcv_tm (year, month, day only); TIME hcv_timespec.tv_sec (seconds since
 * midnight); TIMESTAMP hcv_timespec (millisecond precision); BINARY and
 * OBJECTID hcv_bytearray; STRING and CHAR hcv_string. */
typedef struct {
    hc_type_t hcv_type;
    union {
        hc_long_t hcv_long;
        hc_string_t hcv_string;
        hc_double_t hcv_double;
        hc_byte_t hcv_byte;
        hc_bytearray_t hcv_bytearray;
        struct tm hcv_tm;
        struct timespec hcv_timespec;
    } hcv;
} hc_value_t;

#define HC_EMPTY_VALUE_INIT {0, {0}}

typedef void hc_schema_t;
typedef void hc_session_t;
typedef void hc_nvr_t;
typedef void hc_pstmt_t;
typedef void hc_query_result_set_t;
typedef void hc_unique_values_result_set_t;

/* ------------------------------------------------------------------ */
/* Sessions                                                            */
/* ------------------------------------------------------------------ */

/* host: the server directory (absolute path; the rules of stsp_open_server's
 * server names apply); port: -1 for the default 8080. Sets *sessionp =
 * NULL first. NULL arguments: HCERR_ILLEGAL_ARGUMENT; a host breaking the
 * rules, no server there, another port, or a server that requires
 * credentials (which this API cannot pass; see stsp_open_server):
 * HCERR_CONNECTION_FAILED; a bad schema file: HCERR_INVALID_SCHEMA. The
 * schema is read once per session. */
HONEYCOMB_EXTERN hcerr_t hc_session_create_ez(char *host, int port, hc_session_t **sessionp);
HONEYCOMB_EXTERN hcerr_t hc_session_free(hc_session_t *session);
/* HTTP-style status of the last operation (200 OK, 400, 404, 500) and its
 * error text (session-owned; valid until the next call on the session). */
HONEYCOMB_EXTERN hcerr_t hc_session_get_status(hc_session_t *session, int32_t *response_code,
                                               char **errstr);
HONEYCOMB_EXTERN hcerr_t hc_session_get_schema(hc_session_t *session, hc_schema_t **schema);
HONEYCOMB_EXTERN hcerr_t hc_session_get_host(hc_session_t *session, char **host, int *port);
HONEYCOMB_EXTERN hcerr_t hc_session_get_archive(hc_session_t *session, hc_archive_t **archive);
HONEYCOMB_EXTERN hcerr_t hc_session_get_platform_result(hc_session_t *session, int32_t *connect_errno,
                                                        int32_t *platform_result);

/* combstore extension: the reason for the calling thread's last hc_* call
 * that failed, "<function>: <reason>", or "" if none has. It is how an
 * application learns why hc_session_create_ez failed, when there is no
 * session whose status could hold the text (e.g. "/srv/x does not exist",
 * "/srv/x is not a combstore server yet: create it with `combstore init
 * /srv/x`", "the server's archive port is 8080, not 8081"). *errstr is
 * owned by the library (thread-local): never free it; it stays valid until
 * this thread's next failing hc_* call. NULL errstr: HCERR_ILLEGAL_ARGUMENT. */
HONEYCOMB_EXTERN hcerr_t hc_get_last_error(char **errstr);

/* ------------------------------------------------------------------ */
/* Schema                                                              */
/* ------------------------------------------------------------------ */

HONEYCOMB_EXTERN hcerr_t hc_schema_get_type(hc_schema_t *schema, char *name, hc_type_t *type);
HONEYCOMB_EXTERN hcerr_t hc_schema_get_length(hc_schema_t *schema, char *name, int *length);
HONEYCOMB_EXTERN hcerr_t hc_schema_get_count(hc_schema_t *schema, hc_long_t *count);
HONEYCOMB_EXTERN hcerr_t hc_schema_get_type_at_index(hc_schema_t *schema, hc_long_t index, char **name,
                                                     hc_type_t *type);
HONEYCOMB_EXTERN char *hc_decode_hc_type(hc_type_t type);

/* ------------------------------------------------------------------ */
/* Name-value records (metadata)                                       */
/* ------------------------------------------------------------------ */

HONEYCOMB_EXTERN hcerr_t hc_nvr_create(hc_session_t *session, hc_long_t initsize, hc_nvr_t **nvrp);
HONEYCOMB_EXTERN hcerr_t hc_nvr_free(hc_nvr_t *nvr);
/* Takes ownership of the string/byte pointers inside value. */
HONEYCOMB_EXTERN hcerr_t hc_nvr_add_value(hc_nvr_t *nvr, char *name, hc_value_t value);
HONEYCOMB_EXTERN hcerr_t hc_nvr_add_long(hc_nvr_t *nvr, char *name, hc_long_t value);
HONEYCOMB_EXTERN hcerr_t hc_nvr_add_double(hc_nvr_t *nvr, char *name, hc_double_t value);
HONEYCOMB_EXTERN hcerr_t hc_nvr_add_string(hc_nvr_t *nvr, char *name, hc_string_t value);
HONEYCOMB_EXTERN hcerr_t hc_nvr_add_char(hc_nvr_t *nvr, char *name, hc_string_t value);
HONEYCOMB_EXTERN hcerr_t hc_nvr_add_binary(hc_nvr_t *nvr, char *name, int size, unsigned char *bytes);
HONEYCOMB_EXTERN hcerr_t hc_nvr_add_date(hc_nvr_t *nvr, char *name, struct tm *value);
HONEYCOMB_EXTERN hcerr_t hc_nvr_add_time(hc_nvr_t *nvr, char *name, time_t value);
HONEYCOMB_EXTERN hcerr_t hc_nvr_add_timestamp(hc_nvr_t *nvr, char *name, struct timespec *value);
HONEYCOMB_EXTERN hcerr_t hc_nvr_add_from_string(hc_nvr_t *nvr, char *name, char *value);
HONEYCOMB_EXTERN hcerr_t hc_nvr_get_count(hc_nvr_t *nvr, hc_long_t *count);
HONEYCOMB_EXTERN hcerr_t hc_nvr_get_value_at_index(hc_nvr_t *nvr, hc_long_t index, char **name,
                                                   hc_value_t *value);
HONEYCOMB_EXTERN hcerr_t hc_nvr_get_string(hc_nvr_t *nvr, char *name, hc_string_t *value);
HONEYCOMB_EXTERN hcerr_t hc_nvr_get_long(hc_nvr_t *nvr, char *name, hc_long_t *value);
HONEYCOMB_EXTERN hcerr_t hc_nvr_get_double(hc_nvr_t *nvr, char *name, hc_double_t *value);
HONEYCOMB_EXTERN hcerr_t hc_nvr_get_binary(hc_nvr_t *nvr, char *name, int *size, unsigned char **bytes);
HONEYCOMB_EXTERN hcerr_t hc_nvr_get_date(hc_nvr_t *nvr, char *name, struct tm *value);
HONEYCOMB_EXTERN hcerr_t hc_nvr_get_time(hc_nvr_t *nvr, char *name, time_t *value);
HONEYCOMB_EXTERN hcerr_t hc_nvr_get_timestamp(hc_nvr_t *nvr, char *name, struct timespec *value);
HONEYCOMB_EXTERN hcerr_t hc_nvr_create_from_string_arrays(hc_session_t *session, hc_nvr_t **nvrp,
                                                          char **names, char **values, hc_long_t nitems);
/* Consumes the NVR; the caller frees the arrays and strings. */
HONEYCOMB_EXTERN hcerr_t hc_nvr_convert_to_string_arrays(hc_nvr_t *nvr, char ***namesp, char ***valuesp,
                                                         int *nitemsp);

/* ------------------------------------------------------------------ */
/* Store, retrieve, delete                                             */
/* ------------------------------------------------------------------ */

HONEYCOMB_EXTERN hcerr_t hc_store_both_ez(hc_session_t *session, read_from_data_source data_source_reader,
                                          void *stream, hc_nvr_t *pubnvr,
                                          hc_system_record_t *system_record);
HONEYCOMB_EXTERN hcerr_t hc_store_both_cell_ez(hc_session_t *session, int cellid,
                                               read_from_data_source data_source_reader, void *stream,
                                               hc_nvr_t *pubnvr, hc_system_record_t *system_record);
HONEYCOMB_EXTERN hcerr_t hc_store_metadata_ez(hc_session_t *session, hc_oid *oid, hc_nvr_t *pubnvr,
                                              hc_system_record_t *system_record);
HONEYCOMB_EXTERN hcerr_t hc_retrieve_ez(hc_session_t *session, write_to_data_destination data_writer,
                                        void *stream, hc_oid *oid);
/* Bytes firstbyte..lastbyte inclusive; lastbyte -1 means to the end,
 * firstbyte -1 from the start; other negative positions, or lastbyte <
 * firstbyte: HCERR_ILLEGAL_ARGUMENT. A range past the end is clipped. */
HONEYCOMB_EXTERN hcerr_t hc_range_retrieve_ez(hc_session_t *session, write_to_data_destination data_writer,
                                              void *stream, hc_oid *oid, hc_long_t firstbyte,
                                              hc_long_t lastbyte);
HONEYCOMB_EXTERN hcerr_t hc_retrieve_metadata_ez(hc_session_t *session, hc_oid *oid, hc_nvr_t **nvrp);
HONEYCOMB_EXTERN hcerr_t hc_delete_ez(hc_session_t *session, hc_oid *oid);
/* *result: -1 already indexed, 1 indexed by this call, 0 still not. */
HONEYCOMB_EXTERN hcerr_t hc_check_indexed_ez(hc_session_t *session, hc_oid *oid, int *result);

/* ------------------------------------------------------------------ */
/* Query                                                               */
/* ------------------------------------------------------------------ */

HONEYCOMB_EXTERN hcerr_t hc_query_ez(hc_session_t *session, hc_string_t query, hc_string_t selects[],
                                     int n_selects, int results_per_fetch, hc_query_result_set_t **rsetp);
HONEYCOMB_EXTERN hcerr_t hc_pstmt_create(hc_session_t *session, hc_string_t query, hc_pstmt_t **pstmtp);
HONEYCOMB_EXTERN hcerr_t hc_pstmt_free(hc_pstmt_t *pstmt);
HONEYCOMB_EXTERN hcerr_t hc_pstmt_set_string(hc_pstmt_t *pstmt, int which, hc_string_t value);
HONEYCOMB_EXTERN hcerr_t hc_pstmt_set_char(hc_pstmt_t *pstmt, int which, hc_string_t value);
HONEYCOMB_EXTERN hcerr_t hc_pstmt_set_double(hc_pstmt_t *pstmt, int which, hc_double_t value);
HONEYCOMB_EXTERN hcerr_t hc_pstmt_set_long(hc_pstmt_t *pstmt, int which, hc_long_t value);
HONEYCOMB_EXTERN hcerr_t hc_pstmt_set_date(hc_pstmt_t *pstmt, int which, struct tm *value);
HONEYCOMB_EXTERN hcerr_t hc_pstmt_set_time(hc_pstmt_t *pstmt, int which, time_t value);
HONEYCOMB_EXTERN hcerr_t hc_pstmt_set_timestamp(hc_pstmt_t *pstmt, int which, struct timespec *value);
HONEYCOMB_EXTERN hcerr_t hc_pstmt_set_binary(hc_pstmt_t *pstmt, int which, unsigned char *bytes, int len);
HONEYCOMB_EXTERN hcerr_t hc_pstmt_query_ez(hc_pstmt_t *pstmt, hc_string_t selects[], int n_selects,
                                           int results_per_fetch, hc_query_result_set_t **rsetp);
HONEYCOMB_EXTERN hcerr_t hc_qrs_next_ez(hc_query_result_set_t *rset, hc_oid *oid, hc_nvr_t **nvrp,
                                        int *finishedp);
HONEYCOMB_EXTERN hcerr_t hc_qrs_is_query_complete(hc_query_result_set_t *rset, int *completep);
HONEYCOMB_EXTERN hcerr_t hc_qrs_get_query_integrity_time(hc_query_result_set_t *rset, hc_long_t *timep);
HONEYCOMB_EXTERN hcerr_t hc_qrs_free(hc_query_result_set_t *rset);
HONEYCOMB_EXTERN hcerr_t hc_query_holds_ez(hc_session_t *session, hc_string_t query, int max,
                                           hc_query_result_set_t **rsetp);

#ifdef __cplusplus
}
#endif

#endif /* HCCLIENT_H */
