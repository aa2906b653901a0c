/*
 * hcclient.h - the 5800 ("Honeycomb") synchronous client API: sessions,
 * name-value records (metadata), store, retrieve, query, delete, schema.
 *
 * combstore's own header (clean-room), ABI-compatible with the original.
 * Conventions:
 * - Every function but hc_decode_hc_type returns an hcerr_t (hc.h);
 *   HCERR_OK is success.
 * - A NULL session is HCERR_NULL_SESSION, an invalid one
 *   HCERR_INVALID_SESSION; a NULL or invalid NVR HCERR_INVALID_NVR; a
 *   NULL result set HCERR_INVALID_RESULT_SET; a NULL schema
 *   HCERR_INVALID_SCHEMA; a malformed OID (the first 60 characters must
 *   be hex) HCERR_INVALID_OID; an object that does not exist (or was
 *   deleted) HCERR_NO_SUCH_OBJECT.
 * - Every declaration says who owns what it returns ("Ownership:"; the
 *   terms are defined in hc.h). Only hc_nvr_convert_to_string_arrays
 *   returns buffers the caller frees with hc_free; getters return
 *   pointers into a session, schema or NVR, which the caller must not
 *   free; new handles are freed with their own *_free function.
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
 * schema is read once per session.
 * Ownership: host is copied. *sessionp is a new handle: free it with
 * hc_session_free. */
HONEYCOMB_EXTERN hcerr_t hc_session_create_ez(char *host, int port, hc_session_t **sessionp);
/* Ownership: frees the session, its schema handle and every pointer the
 * session getters returned. NVRs, prepared statements and result sets
 * made from it stay valid and are still freed with their own *_free. */
HONEYCOMB_EXTERN hcerr_t hc_session_free(hc_session_t *session);
/* HTTP-style status of the last operation (200 OK, 400, 404, 500) and its
 * error text ("" after success).
 * Ownership: *errstr is session-owned: valid until the next store,
 * retrieve, delete, check, query or result-set call on the session, or
 * hc_session_free; never free it. */
HONEYCOMB_EXTERN hcerr_t hc_session_get_status(hc_session_t *session, int32_t *response_code,
                                               char **errstr);
/* The session's schema (as read when the session was created).
 * Ownership: *schema is session-owned: valid until hc_session_free (then
 * HCERR_INVALID_SCHEMA); never free it. */
HONEYCOMB_EXTERN hcerr_t hc_session_get_schema(hc_session_t *session, hc_schema_t **schema);
/* The host and port the session was created with (port -1 reads 8080).
 * Ownership: *host is session-owned: valid until hc_session_free; never
 * free or modify it (freeing it is a double free). */
HONEYCOMB_EXTERN hcerr_t hc_session_get_host(hc_session_t *session, char **host, int *port);
/* The archive behind the session (for hcoa_* calls; opaque).
 * Ownership: *archive is session-owned (it is the session itself): valid
 * until hc_session_free; never free it. */
HONEYCOMB_EXTERN hcerr_t hc_session_get_archive(hc_session_t *session, hc_archive_t **archive);
/* Always 0 and 0 (no network: no connect errno, no transfer code).
 * Ownership: plain values into the caller's variables. */
HONEYCOMB_EXTERN hcerr_t hc_session_get_platform_result(hc_session_t *session, int32_t *connect_errno,
                                                        int32_t *platform_result);

/* combstore extension: the reason for the calling thread's last hc_* call
 * that failed, "<function>: <reason>", or "" if none has. It is how an
 * application learns why hc_session_create_ez failed, when there is no
 * session whose status could hold the text (e.g. "/srv/x does not exist",
 * "/srv/x is not a combstore server yet: create it with `combstore init
 * /srv/x`", "the server's archive port is 8080, not 8081"). NULL errstr:
 * HCERR_ILLEGAL_ARGUMENT.
 * Ownership: *errstr is the library's (one text per thread): never free or
 * modify it; valid until this thread's next failing hc_* call. */
HONEYCOMB_EXTERN hcerr_t hc_get_last_error(char **errstr);

/* ------------------------------------------------------------------ */
/* Schema                                                              */
/* ------------------------------------------------------------------ */

/* The type of field name: unknown name: HCERR_ILLEGAL_VALUE_FOR_METADATA;
 * NULL name or empty schema: HCERR_ILLEGAL_ARGUMENT.
 * Ownership: name stays the caller's; *type is a value. */
HONEYCOMB_EXTERN hcerr_t hc_schema_get_type(hc_schema_t *schema, char *name, hc_type_t *type);
/* Declared length of a string, char or binary field; -1 for other types.
 * Ownership: name stays the caller's; *length is a value. */
HONEYCOMB_EXTERN hcerr_t hc_schema_get_length(hc_schema_t *schema, char *name, int *length);
/* Number of fields. Ownership: *count is a value. */
HONEYCOMB_EXTERN hcerr_t hc_schema_get_count(hc_schema_t *schema, hc_long_t *count);
/* Field index (0 .. count-1; otherwise HCERR_ILLEGAL_ARGUMENT): its name
 * and type.
 * Ownership: *name is schema-owned: valid until hc_session_free of the
 * session the schema came from; never free or modify it (freeing it is a
 * double free). */
HONEYCOMB_EXTERN hcerr_t hc_schema_get_type_at_index(hc_schema_t *schema, hc_long_t index, char **name,
                                                     hc_type_t *type);
/* "string", "long", "double", "byte", "char", "binary", "date", "time",
 * "timestamp", "objectid", or "<hc_decode_hc_type:UNKNOWN TYPE>".
 * Ownership: static; never free it. */
HONEYCOMB_EXTERN char *hc_decode_hc_type(hc_type_t type);

/* ------------------------------------------------------------------ */
/* Name-value records (metadata)                                       */
/* ------------------------------------------------------------------ */

/* A new, empty NVR for the session's schema (initsize: 0 for 100 slots;
 * negative: HCERR_ILLEGAL_ARGUMENT).
 * Ownership: *nvrp is a new handle: free it with hc_nvr_free (also after
 * hc_session_free: the NVR keeps its own reference to the schema). */
HONEYCOMB_EXTERN hcerr_t hc_nvr_create(hc_session_t *session, hc_long_t initsize, hc_nvr_t **nvrp);
/* Ownership: frees the NVR and every value in it, with the registered
 * deallocator; pointers the NVR getters returned become invalid. */
HONEYCOMB_EXTERN hcerr_t hc_nvr_free(hc_nvr_t *nvr);
/* Adds (or replaces) field name. The value's type must be the field's,
 * or HC_STRING_TYPE (decoded at store time); otherwise
 * HCERR_ILLEGAL_VALUE_FOR_METADATA.
 * Ownership: name is copied. On HCERR_OK the NVR takes the pointer inside
 * value (hcv_string, or hcv_bytearray.bytes): it must come from hc_alloc
 * (the registered allocator), is freed by the NVR with the deallocator,
 * and the caller must not use or free it any more. On an error it stays
 * the caller's. A replaced value's pointer is freed. */
HONEYCOMB_EXTERN hcerr_t hc_nvr_add_value(hc_nvr_t *nvr, char *name, hc_value_t value);
/* Ownership: name is copied; nothing is taken. */
HONEYCOMB_EXTERN hcerr_t hc_nvr_add_long(hc_nvr_t *nvr, char *name, hc_long_t value);
/* Ownership: name is copied; nothing is taken. */
HONEYCOMB_EXTERN hcerr_t hc_nvr_add_double(hc_nvr_t *nvr, char *name, hc_double_t value);
/* Ownership: name and value are copied; the caller keeps value. */
HONEYCOMB_EXTERN hcerr_t hc_nvr_add_string(hc_nvr_t *nvr, char *name, hc_string_t value);
/* Ownership: name and value are copied; the caller keeps value. */
HONEYCOMB_EXTERN hcerr_t hc_nvr_add_char(hc_nvr_t *nvr, char *name, hc_string_t value);
/* size < 1 or NULL bytes: HCERR_ILLEGAL_ARGUMENT.
 * Ownership: name and the size bytes are copied; the caller keeps bytes. */
HONEYCOMB_EXTERN hcerr_t hc_nvr_add_binary(hc_nvr_t *nvr, char *name, int size, unsigned char *bytes);
/* Only tm_year, tm_mon and tm_mday are kept.
 * Ownership: name and *value are copied. */
HONEYCOMB_EXTERN hcerr_t hc_nvr_add_date(hc_nvr_t *nvr, char *name, struct tm *value);
/* value: seconds since midnight. Ownership: name is copied. */
HONEYCOMB_EXTERN hcerr_t hc_nvr_add_time(hc_nvr_t *nvr, char *name, time_t value);
/* Kept to the millisecond. Ownership: name and *value are copied. */
HONEYCOMB_EXTERN hcerr_t hc_nvr_add_timestamp(hc_nvr_t *nvr, char *name, struct timespec *value);
/* Parses value by the field's schema type (long: digits; double; date
 * Y-M-D; time H:M:S; timestamp Y-M-DTh:m:s.ms[Z]; binary: hex).
 * Ownership: name and value are copied; the caller keeps value. */
HONEYCOMB_EXTERN hcerr_t hc_nvr_add_from_string(hc_nvr_t *nvr, char *name, char *value);
/* Number of values. Ownership: *count is a value. */
HONEYCOMB_EXTERN hcerr_t hc_nvr_get_count(hc_nvr_t *nvr, hc_long_t *count);
/* Value index (0 .. count-1; negative: HCERR_ILLEGAL_ARGUMENT; past the
 * end: HCERR_NO_MORE_ATTRIBUTES); name may be NULL.
 * Ownership: *name and the pointers inside *value (hcv_string,
 * hcv_bytearray.bytes) are NVR-owned: valid until hc_nvr_free or until
 * that field is added again; never free them. */
HONEYCOMB_EXTERN hcerr_t hc_nvr_get_value_at_index(hc_nvr_t *nvr, hc_long_t index, char **name,
                                                   hc_value_t *value);
/* A string or char field. Missing: HCERR_NO_SUCH_ATTRIBUTE; another type:
 * HCERR_ILLEGAL_VALUE_FOR_METADATA (the same for every getter).
 * Ownership: *value is NVR-owned: valid until hc_nvr_free or until the
 * field is added again; never free it. */
HONEYCOMB_EXTERN hcerr_t hc_nvr_get_string(hc_nvr_t *nvr, char *name, hc_string_t *value);
/* Ownership: *value is a copy. */
HONEYCOMB_EXTERN hcerr_t hc_nvr_get_long(hc_nvr_t *nvr, char *name, hc_long_t *value);
/* Ownership: *value is a copy. */
HONEYCOMB_EXTERN hcerr_t hc_nvr_get_double(hc_nvr_t *nvr, char *name, hc_double_t *value);
/* A binary or objectid field: its length and bytes.
 * Ownership: *bytes is NVR-owned: valid until hc_nvr_free or until the
 * field is added again; never free it. */
HONEYCOMB_EXTERN hcerr_t hc_nvr_get_binary(hc_nvr_t *nvr, char *name, int *size, unsigned char **bytes);
/* Year, month and day set, every other field 0.
 * Ownership: *value is a copy. */
HONEYCOMB_EXTERN hcerr_t hc_nvr_get_date(hc_nvr_t *nvr, char *name, struct tm *value);
/* Seconds since midnight. Ownership: *value is a copy. */
HONEYCOMB_EXTERN hcerr_t hc_nvr_get_time(hc_nvr_t *nvr, char *name, time_t *value);
/* Millisecond precision (tv_nsec a multiple of 1000000).
 * Ownership: *value is a copy. */
HONEYCOMB_EXTERN hcerr_t hc_nvr_get_timestamp(hc_nvr_t *nvr, char *name, struct timespec *value);
/* A new NVR from nitems names and values, each parsed as by
 * hc_nvr_add_from_string (a malformed value: HCERR_ILLEGAL_ARGUMENT).
 * Ownership: the arrays and strings are copied and stay the caller's.
 * *nvrp (set only on success) is a new handle: free it with hc_nvr_free. */
HONEYCOMB_EXTERN hcerr_t hc_nvr_create_from_string_arrays(hc_session_t *session, hc_nvr_t **nvrp,
                                                          char **names, char **values, hc_long_t nitems);
/* Every value of the NVR as names[i] = values[i] strings (canonical
 * forms: long decimal, double %.17G, date YYYY-MM-DD, time HH:MM:SS,
 * timestamp YYYY-MM-DDTHH:MM:SS.mmmZ, binary lower-case hex).
 * Ownership: consumes the NVR (do not hc_nvr_free it) whatever the
 * result, except on HCERR_INVALID_NVR and on HCERR_ILLEGAL_ARGUMENT (a
 * NULL out pointer), when it stays the caller's. On HCERR_OK the caller
 * frees with hc_free each of the *nitemsp strings of *namesp and
 * *valuesp, then the two arrays themselves (allocated even when
 * *nitemsp is 0). */
HONEYCOMB_EXTERN hcerr_t hc_nvr_convert_to_string_arrays(hc_nvr_t *nvr, char ***namesp, char ***valuesp,
                                                         int *nitemsp);

/* ------------------------------------------------------------------ */
/* Store, retrieve, delete                                             */
/* ------------------------------------------------------------------ */

/* Stores the bytes data_source_reader gives (called with stream until it
 * returns 0) with the metadata of pubnvr (NULL or empty: none),
 * atomically; fills *system_record (NULL: HCERR_ILLEGAL_ARGUMENT).
 * Ownership: pubnvr is read, not consumed (free it with hc_nvr_free);
 * stream stays the caller's; *system_record is the caller's struct. */
HONEYCOMB_EXTERN hcerr_t hc_store_both_ez(hc_session_t *session, read_from_data_source data_source_reader,
                                          void *stream, hc_nvr_t *pubnvr,
                                          hc_system_record_t *system_record);
/* As hc_store_both_ez on cell 0, the only cell; another cellid:
 * HCERR_ILLEGAL_ARGUMENT.
 * Ownership: as hc_store_both_ez. */
HONEYCOMB_EXTERN hcerr_t hc_store_both_cell_ez(hc_session_t *session, int cellid,
                                               read_from_data_source data_source_reader, void *stream,
                                               hc_nvr_t *pubnvr, hc_system_record_t *system_record);
/* A new object (new OID) with the data of *oid and the metadata of
 * pubnvr; oid may point into system_record.
 * Ownership: *oid is read; pubnvr is read, not consumed; *system_record
 * is the caller's struct. */
HONEYCOMB_EXTERN hcerr_t hc_store_metadata_ez(hc_session_t *session, hc_oid *oid, hc_nvr_t *pubnvr,
                                              hc_system_record_t *system_record);
/* Gives the object's bytes to data_writer (with stream), in order.
 * Ownership: *oid is read; the buffers passed to data_writer are the
 * library's, valid only during that call. */
HONEYCOMB_EXTERN hcerr_t hc_retrieve_ez(hc_session_t *session, write_to_data_destination data_writer,
                                        void *stream, hc_oid *oid);
/* Bytes firstbyte..lastbyte inclusive; lastbyte -1 means to the end,
 * firstbyte -1 from the start; other negative positions, or lastbyte <
 * firstbyte: HCERR_ILLEGAL_ARGUMENT. A range past the end is clipped.
 * Ownership: as hc_retrieve_ez. */
HONEYCOMB_EXTERN hcerr_t hc_range_retrieve_ez(hc_session_t *session, write_to_data_destination data_writer,
                                              void *stream, hc_oid *oid, hc_long_t firstbyte,
                                              hc_long_t lastbyte);
/* Every field of the object that the session's schema defines.
 * Ownership: *oid is read. *nvrp (set only on success) is a new NVR:
 * free it with hc_nvr_free. */
HONEYCOMB_EXTERN hcerr_t hc_retrieve_metadata_ez(hc_session_t *session, hc_oid *oid, hc_nvr_t **nvrp);
/* Deletes that metadata record (the data goes with its last record).
 * Ownership: *oid is read. */
HONEYCOMB_EXTERN hcerr_t hc_delete_ez(hc_session_t *session, hc_oid *oid);
/* *result: -1 already indexed, 1 indexed by this call, 0 still not.
 * Ownership: *oid is read; *result is a value. */
HONEYCOMB_EXTERN hcerr_t hc_check_indexed_ez(hc_session_t *session, hc_oid *oid, int *result);

/* ------------------------------------------------------------------ */
/* Query                                                               */
/* ------------------------------------------------------------------ */

/* Runs query (5800 query language); selects == NULL returns OIDs only,
 * else n_selects (>= 1, otherwise HCERR_MISSING_SELECT_CLAUSE) fields per
 * row; results_per_fetch (>= 1) is the page size.
 * Ownership: query and selects are read during the call and stay the
 * caller's. *rsetp is a new handle: free it with hc_qrs_free. */
HONEYCOMB_EXTERN hcerr_t hc_query_ez(hc_session_t *session, hc_string_t query, hc_string_t selects[],
                                     int n_selects, int results_per_fetch, hc_query_result_set_t **rsetp);
/* A prepared statement: query with ? placeholders, bound by the setters.
 * Ownership: query is copied. *pstmtp is a new handle: free it with
 * hc_pstmt_free (it keeps its own reference to the session). */
HONEYCOMB_EXTERN hcerr_t hc_pstmt_create(hc_session_t *session, hc_string_t query, hc_pstmt_t **pstmtp);
/* Ownership: frees the statement and its bindings; result sets it made
 * stay valid. */
HONEYCOMB_EXTERN hcerr_t hc_pstmt_free(hc_pstmt_t *pstmt);
/* Binds placeholder which (from 1; again: replaces).
 * Ownership: value is copied (so are all the setters' arguments). */
HONEYCOMB_EXTERN hcerr_t hc_pstmt_set_string(hc_pstmt_t *pstmt, int which, hc_string_t value);
/* Ownership: value is copied. */
HONEYCOMB_EXTERN hcerr_t hc_pstmt_set_char(hc_pstmt_t *pstmt, int which, hc_string_t value);
/* Ownership: value is copied. */
HONEYCOMB_EXTERN hcerr_t hc_pstmt_set_double(hc_pstmt_t *pstmt, int which, hc_double_t value);
/* Ownership: value is copied. */
HONEYCOMB_EXTERN hcerr_t hc_pstmt_set_long(hc_pstmt_t *pstmt, int which, hc_long_t value);
/* Ownership: *value is copied. */
HONEYCOMB_EXTERN hcerr_t hc_pstmt_set_date(hc_pstmt_t *pstmt, int which, struct tm *value);
/* Ownership: value is copied. */
HONEYCOMB_EXTERN hcerr_t hc_pstmt_set_time(hc_pstmt_t *pstmt, int which, time_t value);
/* Ownership: *value is copied. */
HONEYCOMB_EXTERN hcerr_t hc_pstmt_set_timestamp(hc_pstmt_t *pstmt, int which, struct timespec *value);
/* len < 1 or NULL bytes: HCERR_BAD_REQUEST.
 * Ownership: the len bytes are copied; the caller keeps bytes. */
HONEYCOMB_EXTERN hcerr_t hc_pstmt_set_binary(hc_pstmt_t *pstmt, int which, unsigned char *bytes, int len);
/* Runs the statement with its current bindings, as hc_query_ez.
 * Ownership: selects are read during the call. *rsetp is a new handle:
 * free it with hc_qrs_free (valid after hc_pstmt_free). */
HONEYCOMB_EXTERN hcerr_t hc_pstmt_query_ez(hc_pstmt_t *pstmt, hc_string_t selects[], int n_selects,
                                           int results_per_fetch, hc_query_result_set_t **rsetp);
/* The next row: its OID into *oid and, for a query with selects, its
 * fields; *finishedp = 1 (and *nvrp = NULL) when there are no more.
 * Ownership: *oid is the caller's buffer, filled. *nvrp is a new NVR per
 * row: free it with hc_nvr_free (NULL for OID-only queries); if nvrp is
 * NULL the library frees it. */
HONEYCOMB_EXTERN hcerr_t hc_qrs_next_ez(hc_query_result_set_t *rset, hc_oid *oid, hc_nvr_t **nvrp,
                                        int *finishedp);
/* *completep = 1 when the results are known complete.
 * Ownership: *completep is a value. */
HONEYCOMB_EXTERN hcerr_t hc_qrs_is_query_complete(hc_query_result_set_t *rset, int *completep);
/* The query's integrity time (ms since the epoch; 0: not known complete).
 * Ownership: *timep is a value. */
HONEYCOMB_EXTERN hcerr_t hc_qrs_get_query_integrity_time(hc_query_result_set_t *rset, hc_long_t *timep);
/* Ownership: frees the result set; NVRs it returned stay valid and are
 * still freed with hc_nvr_free. */
HONEYCOMB_EXTERN hcerr_t hc_qrs_free(hc_query_result_set_t *rset);
/* Legal holds are not supported: HCERR_NOT_YET_IMPLEMENTED.
 * Ownership: nothing is read, returned or allocated. */
HONEYCOMB_EXTERN hcerr_t hc_query_holds_ez(hc_session_t *session, hc_string_t query, int max,
                                           hc_query_result_set_t **rsetp);

#ifdef __cplusplus
}
#endif

#endif /* HCCLIENT_H */
