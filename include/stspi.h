/*
 * stspi.h - OpenStorage plugin entry points implemented by combstore
 * (libstspicombstore.so). A host loads the library (dlopen) and resolves
 * these symbols (dlsym), or links with it directly.
 *
 * Build with: -I<include dir> -I<platforms dir>/linux -DSTS_EXTERNAL_VENDOR
 *
 * General rules, true of every function below unless its text says more:
 *
 * - Return value: STS_EOK (0) or one of the STS_E* codes of stsi.h. Every
 *   function can also return STS_EINTERNAL (a bug was caught inside the
 *   plugin; no panic or abort ever reaches the host) and, except
 *   stsp_init, stsp_strerror and the close functions, STS_ENOT_INIT before
 *   stsp_init or after stsp_terminate.
 * - Out-parameters are written only when the call returns STS_EOK. A
 *   required pointer that is NULL, a NULL handle included, gives
 *   STS_ENULL; nothing is changed.
 * - Buffers: the caller owns every buffer it passes; the plugin reads or
 *   writes it only during the call and keeps no pointer to it. The plugin
 *   returns no memory the caller must free.
 * - Overlapping arguments: every input is read before any output is
 *   written, so an out-parameter may overlap an input of the same call
 *   (stsp_get_image_prop_byname(&lsu, &info.imo_def, &info) refreshes info
 *   in place), and a data buffer is filled before the byte count is
 *   stored.
 * - Handles: a handle is valid from the call that returns it until the
 *   call that closes it (or until its server handle is closed, or
 *   stsp_terminate). A closed, unknown or wrong-kind handle gives
 *   STS_EHANDLE: handle values are never reused within a process, so a
 *   double close is detected, not undefined.
 * - Threads: every function is thread-safe. Any handle may be used from
 *   any thread; calls on one image handle are serialized by the plugin.
 * - Processes: many processes may open the same server at once. The
 *   catalog (SQLite, WAL) and file locks coordinate them.
 * - Names (LSU names, img_basename, img_date): NUL-terminated within their
 *   arrays, valid UTF-8, with no '/', '\\' or control character and no
 *   ".." anywhere (so "v1..2" is refused too), and not "."; img_basename
 *   and LSU names must be non-empty. Otherwise STS_ENAME.
 * - Bad input never changes stored data.
 */
#ifndef STSPI_H
#define STSPI_H

#include "stsi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ================================================================== */
/* Plugin lifecycle                                                   */
/* ================================================================== */

/*
 * stsp_init - first call a host makes; negotiates the API version.
 *   host_api_version  the STS_VERSION the host was built with.
 *   info              out: plugin name, vendor, version and API versions.
 * Returns STS_EOK; STS_ENULL (info NULL); STS_EVERSION (host_api_version
 * outside STS_VERSION_MIN..STS_VERSION_MAX). Calling it again is allowed
 * and returns the same information; a failed call leaves an earlier
 * successful initialization in force.
 */
STS_EXPORT int stsp_init(sts_uint32_t host_api_version, sts_plugin_info_t *info);

/*
 * stsp_terminate - last call. Closes every handle still open in this
 * process, as stsp_close_server does. After it, calls other than stsp_init
 * return STS_ENOT_INIT.
 * Returns STS_EOK (also when not initialized).
 */
STS_EXPORT int stsp_terminate(void);

/*
 * stsp_claim - does this plugin serve the named storage server?
 *   server_name  NUL-terminated; combstore claims names that start with
 *                STS_COMBSTORE_PREFIX ("combstore:").
 * Returns STS_EOK (claimed); STS_ENOT_MINE (another plugin's name);
 * STS_ENULL; STS_ENAME (longer than STS_MAX_SERVERNAME - 1 bytes).
 * Nothing is opened or checked on disk.
 */
STS_EXPORT int stsp_claim(const char *server_name);

/*
 * stsp_strerror - the name and meaning of an error code, as a static
 * string (never NULL, never to be freed); unknown codes give
 * "STS_E?: unknown error code". May be called at any time.
 */
STS_EXPORT const char *stsp_strerror(int code);

/* ================================================================== */
/* Servers                                                            */
/* ================================================================== */

/*
 * stsp_open_server - open a storage server (a directory).
 *   server_name  "combstore:<absolute path>". If the directory does not
 *                exist (its parent must) or is empty, a new server is
 *                created in it with one LSU named "default". A directory
 *                that is neither empty nor a combstore server is refused.
 *                The path must be valid UTF-8 with no control character
 *                and no "." or ".." component, and at most
 *                STS_MAX_SERVER_DIR bytes, also with symbolic links
 *                resolved (STS_ENAME). It may lead through symbolic links
 *                (the administrator's choice); inside it the plugin
 *                creates only names of its own: no argument of any call
 *                (LSU, image or operation names, labels) becomes a path.
 *                Directories it creates are 0700, files 0600, whatever
 *                the umask.
 *   cred         the user name (UTF-8) and secret (any bytes) set by the
 *                administrator (combstore init --user, combstore
 *                credentials set); both must match, else STS_EAUTH (also
 *                for NULL), and nothing is locked or recovered. A server
 *                without credentials (STS_SRV_CRED clear in srv_flags)
 *                admits every client: cred may be NULL and is ignored
 *                (its strings must still be NUL-terminated: STS_ENAME).
 *                Credentials are checked when a handle is opened; changing
 *                them does not close handles already open.
 *   sh           out: the server handle.
 * Opening runs recovery: images whose writer process is gone are
 * completed abnormally (see stsp_create_image) and unreferenced segment
 * space is reclaimed.
 * Returns STS_EOK; STS_ENULL; STS_ENAME (name too long, or a path breaking
 * the rules above); STS_ENOT_MINE (not a combstore name); STS_ENOSERVER
 * (path not absolute, parent missing, foreign directory); STS_EAUTH;
 * STS_EIO; STS_ECORRUPT (catalog damaged); STS_ETIMEDOUT.
 */
STS_EXPORT int stsp_open_server(const char *server_name, const sts_cred_t *cred,
                                sts_server_handle_t *sh);

/*
 * stsp_close_server - close a server handle and every image and list
 * handle opened through it. An image still open for writing is handled
 * as an abnormal completion: data written through stsp_flush or an
 * incomplete close is kept, data written after it may be lost, and the
 * image stays pending (reopenable) with STS_II_ABNORMAL set.
 * Returns STS_EOK; STS_EHANDLE. A NULL handle gives STS_ENULL.
 */
STS_EXPORT int stsp_close_server(sts_server_handle_t sh);

/*
 * stsp_get_server_prop - properties of an open server.
 *   info  out: name, capability bitmap (STS_CAP_*), STS_SRV_* flags
 *         (STS_SRV_CRED: opening requires credentials), number of LSUs.
 * Returns STS_EOK; STS_ENULL; STS_EHANDLE; STS_EIO.
 */
STS_EXPORT int stsp_get_server_prop(sts_server_handle_t sh, sts_server_info_t *info);

/*
 * stsp_get_server_prop_byname - as stsp_get_server_prop, for a server
 * named but not open. The server must exist; it is not created.
 * Returns the codes of stsp_open_server and stsp_get_server_prop.
 */
STS_EXPORT int stsp_get_server_prop_byname(const char *server_name, const sts_cred_t *cred,
                                           sts_server_info_t *info);

/* ================================================================== */
/* LSUs                                                               */
/* ================================================================== */

/*
 * stsp_open_lsu_list - start listing the LSUs of a server, in name order.
 *   lh  out: a list handle; close it with stsp_close_lsu_list.
 * Returns STS_EOK; STS_ENULL; STS_EHANDLE; STS_EIO.
 */
STS_EXPORT int stsp_open_lsu_list(sts_server_handle_t sh, sts_lsu_list_handle_t *lh);

/*
 * stsp_list_lsu - next LSU name.
 * Returns STS_EOK; STS_ENO_MORE (none left; name untouched); STS_ENULL;
 * STS_EHANDLE.
 */
STS_EXPORT int stsp_list_lsu(sts_lsu_list_handle_t lh, sts_lsu_name_t *name);

/* stsp_close_lsu_list - Returns STS_EOK; STS_ENULL; STS_EHANDLE. */
STS_EXPORT int stsp_close_lsu_list(sts_lsu_list_handle_t lh);

/*
 * stsp_get_lsu_prop_byname - properties of an LSU: capacity, logical and
 * physical bytes used, image count, flags (how deleted space is freed),
 * label. lsu_used and lsu_used_phys include data committed by writers
 * still writing (committed at least every 64 MiB and at each flush).
 * Returns STS_EOK; STS_ENULL; STS_EHANDLE; STS_ENAME; STS_ENOLSU; STS_EIO.
 */
STS_EXPORT int stsp_get_lsu_prop_byname(const sts_lsu_t *lsu, sts_lsu_info_t *info);

/* ================================================================== */
/* Images: create, write, close                                       */
/* ================================================================== */

/*
 * stsp_create_image - create an image and open it for writing.
 *   lsu          server handle + LSU name.
 *   def          the image's name (img_basename + img_date); img_flags 0.
 *   pendingflag  hint: non-zero if this process will create another image
 *                on the same LSU after this one. It changes no semantics.
 *   ih           out: a write handle.
 * The new image has STS_II_IMAGE_PENDING | STS_II_BUSY_WRITE.
 * Abnormal completion: if the handle's process dies (or its server handle
 * is closed) before stsp_close_image, the next open of the server clears
 * STS_II_BUSY_WRITE and sets STS_II_ABNORMAL; data committed by the last
 * stsp_flush (or periodic commit) is kept and the image stays
 * STS_II_IMAGE_PENDING, so it can be reopened with STS_O_WRITE. If its
 * stored data is found damaged, STS_II_IMAGE_PENDING is cleared too: the
 * image is broken and can only be deleted (STS_EBROKEN).
 * Returns STS_EOK; STS_ENULL; STS_EHANDLE; STS_ENAME; STS_EINVAL (img_flags
 * not 0); STS_ENOLSU; STS_EEXIST; STS_EIO; STS_ENOSPC; STS_ETIMEDOUT.
 */
STS_EXPORT int stsp_create_image(const sts_lsu_t *lsu, const sts_image_def_t *def,
                                 int pendingflag, sts_image_handle_t *ih);

/*
 * stsp_write_image - write len bytes from buf at offset.
 *   stat          content description; may be NULL; not recorded.
 *   buf           len bytes; may be NULL only when len is 0.
 *   len, offset   multiples of STS_BLOCK_SIZE; len <= STS_MAX_IO_SIZE.
 *   byteswritten  out: len on success.
 * Writes may land anywhere: gaps read back as zeros, and ranges already
 * written may be overwritten while the image is not complete. imo_size
 * becomes the highest offset + len written; a write of len 0 writes
 * nothing and leaves imo_size as it was. The call may return before
 * the bytes are on disk; an error in buffered data is returned by the
 * next stsp_write_image, stsp_flush or stsp_close_image, whichever comes
 * first, and STS_EPREVIO by every later call on the handle.
 * Returns STS_EOK; STS_ENULL; STS_EHANDLE; STS_EMODE (read handle);
 * STS_EALIGN; STS_ETOOBIG; STS_ERANGE (offset + len passes 2^63 - 1, the
 * largest image end the catalog stores); STS_ENOSPC;
 * STS_EIO; STS_EPREVIO.
 */
STS_EXPORT int stsp_write_image(sts_image_handle_t ih, const sts_stat_t *stat, const void *buf,
                                sts_uint64_t len, sts_uint64_t offset,
                                sts_uint64_t *byteswritten);

/*
 * stsp_flush - make everything written through the handle durable: when
 * it returns STS_EOK the bytes are on stable storage and the catalog rows
 * that refer to them are committed; imo_size and the LSU statistics
 * include them for every process.
 * Returns STS_EOK; STS_ENULL; STS_EHANDLE; STS_EMODE (read handle); STS_EIO;
 * STS_ENOSPC; STS_EPREVIO.
 */
STS_EXPORT int stsp_flush(sts_image_handle_t ih);

/*
 * stsp_close_image - close an image handle.
 *   flags  for a write handle: STS_CLOSEF_IH_COMPLETE (normal completion:
 *          STS_II_IMAGE_PENDING and STS_II_BUSY_WRITE cleared,
 *          STS_II_IMAGE_CREATED | STS_II_IMAGE_COMPLETE set, system metadata
 *          - object id, SHA-1, completion time - recorded; the image can
 *          never be written again) or STS_CLOSEF_IH_INCOMPLETE
 *          (checkpoint: STS_II_BUSY_WRITE cleared; the image stays pending
 *          and can be reopened with STS_O_WRITE). For a read handle, 0.
 * On STS_EOK everything written is durable (as stsp_flush). On an I/O
 * error the handle is closed all the same and the image is left as an
 * abnormal completion (see stsp_create_image). With invalid flags
 * (STS_EINVAL) nothing happens and the handle stays open.
 * Returns STS_EOK; STS_ENULL; STS_EHANDLE; STS_EINVAL; STS_EIO; STS_ENOSPC;
 * STS_EPREVIO; STS_ECORRUPT (SHA-1 read-back found damage).
 */
STS_EXPORT int stsp_close_image(sts_image_handle_t ih, int flags);

/* ================================================================== */
/* Images: open, read, delete, list, properties                       */
/* ================================================================== */

/*
 * stsp_open_image - open an existing image.
 *   mode  STS_O_READ: the image must be complete; many readers may share
 *         it. STS_O_WRITE: the image must be pending and not open for
 *         writing (checkpoint/restart); writing continues at any aligned
 *         offset, typically appending at imo_size.
 *   ih    out: the handle.
 * Returns STS_EOK; STS_ENULL; STS_EHANDLE; STS_ENAME; STS_EINVAL (mode);
 * STS_ENOLSU; STS_ENOENT; STS_ENOTCOMPLETE (read of a pending image);
 * STS_ECOMPLETE (write of a complete image); STS_EBUSY (already open for
 * writing); STS_EBROKEN; STS_EIO.
 */
STS_EXPORT int stsp_open_image(const sts_lsu_t *lsu, const sts_image_def_t *def, int mode,
                               sts_image_handle_t *ih);

/*
 * stsp_read_image - read up to len bytes at offset into buf.
 *   len, offset  multiples of STS_BLOCK_SIZE; len <= STS_MAX_IO_SIZE.
 *   bytesread    out: bytes placed in buf. Less than len only at the end
 *                of the image; 0 when offset == imo_size.
 * Every byte returned has passed its extent checksum; damaged extents
 * give STS_ECORRUPT and no bytes. If the image is deleted while open, a
 * read returns correct bytes or STS_ENOENT, never other bytes.
 * Returns STS_EOK; STS_ENULL; STS_EHANDLE; STS_EMODE (write handle);
 * STS_EALIGN; STS_ETOOBIG; STS_ERANGE (offset > imo_size); STS_ECORRUPT;
 * STS_ENOENT; STS_EIO.
 */
STS_EXPORT int stsp_read_image(sts_image_handle_t ih, void *buf, sts_uint64_t len,
                               sts_uint64_t offset, sts_uint64_t *bytesread);

/*
 * stsp_delete_image - delete an image and its metadata. Stored bytes no
 * other image refers to are freed (see lsu_flags for how). All or
 * nothing: after an error the image is intact.
 *   asyncflag  0: the deletion is complete when the call returns.
 *              Non-zero: the call checks the request (LSU, name, image
 *              exists and is not open for writing) and returns; the
 *              deletion, still all or nothing, runs in the background and
 *              raises STS_EVT_DELETE_DONE with its result.
 * Readers already open see correct bytes or STS_ENOENT (stsp_read_image).
 * Returns STS_EOK; STS_ENULL; STS_EHANDLE; STS_ENAME; STS_EINVAL
 * (img_flags); STS_ENOLSU; STS_ENOENT; STS_EBUSY (open for writing by a
 * live handle); STS_EIO; STS_ETIMEDOUT.
 */
STS_EXPORT int stsp_delete_image(const sts_lsu_t *lsu, const sts_image_def_t *def,
                                 int asyncflag);

/*
 * stsp_open_image_list - start listing the images of an LSU, in any state,
 * ordered by (img_basename, img_date) bytewise. Images created or
 * deleted while listing may or may not appear; none appears twice.
 *   lh  out: a list handle; close with stsp_close_image_list.
 * Returns STS_EOK; STS_ENULL; STS_EHANDLE; STS_ENAME; STS_ENOLSU; STS_EIO.
 */
STS_EXPORT int stsp_open_image_list(const sts_lsu_t *lsu, sts_image_list_handle_t *lh);

/*
 * stsp_list_image - next image name.
 * Returns STS_EOK; STS_ENO_MORE; STS_ENULL; STS_EHANDLE; STS_EIO.
 */
STS_EXPORT int stsp_list_image(sts_image_list_handle_t lh, sts_image_def_t *def);

/* stsp_close_image_list - Returns STS_EOK; STS_ENULL; STS_EHANDLE. */
STS_EXPORT int stsp_close_image_list(sts_image_list_handle_t lh);

/*
 * stsp_get_image_prop - properties of an open image. For a write handle
 * imo_size includes bytes written but not yet flushed.
 * Returns STS_EOK; STS_ENULL; STS_EHANDLE; STS_ENOENT (deleted); STS_EIO.
 */
STS_EXPORT int stsp_get_image_prop(sts_image_handle_t ih, sts_image_info_t *info);

/*
 * stsp_get_image_prop_byname - properties of a named image, as committed
 * (other processes' unflushed writes are not counted).
 * Returns STS_EOK; STS_ENULL; STS_EHANDLE; STS_ENAME; STS_EINVAL; STS_ENOLSU;
 * STS_ENOENT; STS_EIO.
 */
STS_EXPORT int stsp_get_image_prop_byname(const sts_lsu_t *lsu, const sts_image_def_t *def,
                                          sts_image_info_t *info);

/* ================================================================== */
/* Optimized duplication and virtual images (seed 000, slides 11-16)  */
/*                                                                    */
/* On one server (one directory) copies and virtual images refer to   */
/* the stored extents of their sources: no image byte is copied, the  */
/* cost grows with the number of extents, and stored bytes are freed  */
/* only when no image refers to them any more. Between two servers    */
/* the plugin streams the bytes itself with bounded memory.           */
/* ================================================================== */

/*
 * stsp_open_target_server - open the server images are copied to.
 *   source_sh    an open (source) server handle.
 *   target_name  "combstore:<absolute path>"; may name the source's own
 *                directory (copies then share stored extents) or another.
 *                Created as stsp_open_server creates servers.
 *   cred         may be NULL, as for stsp_open_server.
 *   target_sh    out: a target handle. It is valid only for
 *                stsp_create_image, stsp_open_image, stsp_copy_image,
 *                stsp_async_copy_image, stsp_named_async_copy_image,
 *                stsp_named_async_wait, stsp_named_async_cancel,
 *                stsp_get_server_prop and stsp_close_server; any other use
 *                gives STS_EMODE.
 * Returns the codes of stsp_open_server, and STS_EHANDLE (source_sh).
 */
STS_EXPORT int stsp_open_target_server(sts_server_handle_t source_sh, const char *target_name,
                                       const sts_cred_t *cred, sts_server_handle_t *target_sh);

/*
 * stsp_copy_extent - copy len bytes of one image into another, server-side.
 *   from_image   a read handle (a complete image). A write handle gives
 *                STS_EMODE.
 *   to_image     a write handle. A read handle gives STS_ECOMPLETE (only
 *                complete images open for reading). The same handle or
 *                image as from_image gives STS_EINVAL (checked before the
 *                handle modes).
 *   from_offset, to_offset, len  multiples of STS_BLOCK_SIZE;
 *                from_offset + len must not pass the source's end,
 *                nor to_offset + len 2^63 - 1 (STS_ERANGE). len may
 *                exceed STS_MAX_IO_SIZE.
 *   flags        0, or STS_CX_APPEND (to_offset is ignored: the bytes go
 *                at the target's current size), or STS_CX_REMAINDER (len
 *                is ignored: everything from from_offset to the source's
 *                end), or both. Other bits give STS_EINVAL.
 *   bytescopied  out: the bytes copied.
 * On one server the target refers to the source's stored extents (partial
 * extents included, still checksum-verified when read); otherwise the
 * bytes are streamed. Either way the call is durable when it returns, and
 * when the target is closed complete its SHA-1 is that of its bytes (equal
 * to the source's when the whole source was copied from offset 0 to 0).
 * Returns STS_EOK; STS_ENULL; STS_EHANDLE; STS_EMODE; STS_ECOMPLETE;
 * STS_EINVAL; STS_EALIGN; STS_ERANGE; STS_ENOENT (source deleted);
 * STS_ECORRUPT; STS_EIO; STS_ENOSPC; STS_EPREVIO.
 */
STS_EXPORT int stsp_copy_extent(sts_image_handle_t from_image, sts_image_handle_t to_image,
                                sts_uint64_t from_offset, sts_uint64_t to_offset,
                                sts_uint64_t len, int flags, sts_uint64_t *bytescopied);

/*
 * stsp_copy_image - copy a whole complete image into a new image in one
 * call.
 *   to_lsu    the target LSU; its server handle may be a target handle
 *             (stsp_open_target_server) or an ordinary one.
 *   to_def    the new image's name; it must not exist (STS_EEXIST).
 *   from_lsu  the source LSU, on an ordinary server handle.
 *   from_def  the source image; it must be complete (STS_ENOTCOMPLETE).
 *   flags     reserved: 0.
 * The new image is complete, with the source's size, SHA-1 and metadata
 * and its own object id (imo_objid), or, after any error, does not exist. On one server the copy shares the source's
 * stored extents in one catalog transaction; between servers the bytes
 * are streamed and the target's SHA-1 is computed from them and checked
 * against the source's (a mismatch gives STS_ECORRUPT).
 * Returns STS_EOK; STS_ENULL; STS_EHANDLE; STS_EMODE; STS_ENAME; STS_EINVAL;
 * STS_ENOLSU; STS_ENOENT; STS_ENOTCOMPLETE; STS_EEXIST; STS_ECORRUPT; STS_EIO;
 * STS_ENOSPC.
 */
STS_EXPORT int stsp_copy_image(const sts_lsu_t *to_lsu, const sts_image_def_t *to_def,
                               const sts_lsu_t *from_lsu, const sts_image_def_t *from_def,
                               int flags);

/*
 * stsp_include_in_image - make a range of a virtual image refer to a range
 * of another image on the same server. Never copies data. Arguments,
 * flags and codes as stsp_copy_extent, except: the two images must be on
 * one server (the same directory), otherwise STS_EXDEV.
 *   bytesincluded  out: the bytes included.
 */
STS_EXPORT int stsp_include_in_image(sts_image_handle_t from_image, sts_image_handle_t to_image,
                                     sts_uint64_t from_offset, sts_uint64_t to_offset,
                                     sts_uint64_t len, int flags, sts_uint64_t *bytesincluded);

/* ================================================================== */
/* Events and asynchronous operations (seed 000, part III, slide 22)  */
/*                                                                    */
/* Event model: stored and pulled. Each event is a row in the         */
/* server's catalog, so every process with the server open sees it    */
/* and it outlives the process that raised it; a channel is a cursor  */
/* over those rows with a blocking get; stsp_delete_event             */
/* acknowledges an event for the whole server. Operations run on a    */
/* pool of worker threads inside the process that started them; their */
/* state is a catalog row too, so any process can wait for or cancel  */
/* a named operation. Closing the server handle or stsp_terminate     */
/* does not stop running operations: they finish while the process   */
/* lives. An operation's events are stored on the server it copies to */
/* (read them through an ordinary handle on it). If the process dies, */
/* the next open of the server marks its running operations failed   */
/* (STS_EOPFAILED, with an event): never lost silently, never done    */
/* twice, and a half-copied target never lists as complete (it is     */
/* deleted).                                                          */
/* ================================================================== */

/*
 * stsp_open_evchannel - open a channel that delivers the server's
 * events, oldest first, starting with those stored (not yet deleted)
 * when it opens. Each channel keeps its own position.
 *   evc  out: the channel; close it with stsp_close_evchannel.
 * Returns STS_EOK; STS_ENULL; STS_EHANDLE; STS_EMODE (target handle).
 */
STS_EXPORT int stsp_open_evchannel(sts_server_handle_t sh, sts_evchannel_handle_t *evc);

/*
 * stsp_get_event - the channel's next event.
 *   timeout_ms  how long to wait for one: STS_TIMEOUT_NONE,
 *               STS_TIMEOUT_INFINITE, or milliseconds.
 *   ev          out: the event.
 * Returns STS_EOK; STS_ENO_MORE (no event arrived within the timeout);
 * STS_ENULL; STS_EHANDLE (unknown or closed channel); STS_EIO.
 */
STS_EXPORT int stsp_get_event(sts_evchannel_handle_t evc, sts_uint32_t timeout_ms, sts_event_t *ev);

/*
 * stsp_delete_event - acknowledge an event: it is removed from the server
 * and no channel delivers it again.
 * Returns STS_EOK; STS_ENOENT (no such event, or already deleted);
 * STS_ENULL; STS_EHANDLE; STS_EIO.
 */
STS_EXPORT int stsp_delete_event(sts_evchannel_handle_t evc, sts_uint64_t ev_id);

/* stsp_close_evchannel - Returns STS_EOK; STS_ENULL; STS_EHANDLE. */
STS_EXPORT int stsp_close_evchannel(sts_evchannel_handle_t evc);

/*
 * stsp_async_copy_image - start stsp_copy_image in the background and
 * return at once. The arguments are checked first (the codes of
 * stsp_copy_image for names, LSUs, an existing target, a missing or
 * incomplete source); the copy's result comes as STS_EVT_ASYNC_DONE.
 *   op_id  out: the operation's id (also in its event).
 * Returns STS_EOK or the codes of stsp_copy_image.
 */
STS_EXPORT int stsp_async_copy_image(const sts_lsu_t *to_lsu, const sts_image_def_t *to_def,
                                     const sts_lsu_t *from_lsu, const sts_image_def_t *from_def,
                                     int flags, sts_uint64_t *op_id);

/*
 * stsp_named_async_copy_image - as stsp_async_copy_image, under a name
 * by which any process with the server open can wait for it or cancel it.
 *   op_name  NUL-terminated, name rules as for images, at most
 *            STS_MAX_OPNAME - 1 bytes; no running operation on the target
 *            server may have it (STS_EEXIST).
 * Returns STS_EOK; STS_ENAME; STS_EEXIST; or the codes of stsp_copy_image.
 */
STS_EXPORT int stsp_named_async_copy_image(const sts_lsu_t *to_lsu, const sts_image_def_t *to_def,
                                           const sts_lsu_t *from_lsu, const sts_image_def_t *from_def,
                                           int flags, const char *op_name);

/*
 * stsp_named_async_wait - wait for the latest operation of that name on
 * the server to finish.
 *   sh          the server the operation copies to (any handle on it).
 *   timeout_ms  as for stsp_get_event.
 *   op_status   out (when it finished): STS_EOK, STS_ECANCELED, or the
 *               code it failed with. Unlike other out-parameters it is
 *               also written when the call returns STS_ECANCELED or
 *               STS_EOPFAILED (and only then, besides STS_EOK).
 * Returns STS_EOK (finished and succeeded); STS_ECANCELED (it was
 * cancelled); STS_EOPFAILED (it failed; see op_status); STS_EINPROGRESS
 * (still running when timeout_ms ended); STS_ENOOP (no operation of that name); STS_ENAME;
 * STS_ENULL; STS_EHANDLE; STS_EIO; STS_ETIMEDOUT (the catalog was locked
 * by another process for too long).
 */
STS_EXPORT int stsp_named_async_wait(sts_server_handle_t sh, const char *op_name, sts_uint32_t timeout_ms,
                                     int *op_status);

/*
 * stsp_named_async_cancel - ask the running operation of that name to
 * stop. It stops at its next check (at least every 16 MiB copied); no
 * target image remains of it, its space is freed, and its event carries
 * STS_ECANCELED. A copy that finished before it saw the request stays.
 * Returns STS_EOK (request recorded); STS_ENOOP (no running operation of
 * that name); STS_ENAME; STS_ENULL; STS_EHANDLE; STS_EIO.
 */
STS_EXPORT int stsp_named_async_cancel(sts_server_handle_t sh, const char *op_name);

/*
 * stsp_label_lsu - set an LSU's label (lsu_label in its properties) and
 * raise STS_EVT_LABEL.
 *   label  NUL-terminated UTF-8, at most STS_MAX_LABEL - 1 bytes, no
 *          control characters (DEL included) (STS_ENAME otherwise); an
 *          empty label clears it.
 * Returns STS_EOK; STS_ENULL; STS_EHANDLE; STS_EMODE; STS_ENAME; STS_ENOLSU;
 * STS_EIO.
 */
STS_EXPORT int stsp_label_lsu(const sts_lsu_t *lsu, const char *label);

/* ================================================================== */
/* Image metadata (application-defined bytes kept with the image)     */
/* ================================================================== */

/*
 * stsp_read_image_meta - read up to len metadata bytes at offset.
 * Metadata is readable through any handle, read or write, in any state.
 *   len, offset  any byte values (no alignment); len <= STS_MAX_IMAGE_META.
 *   bytesread    out: bytes placed in buf; short at the end; 0 at the end.
 * Returns STS_EOK; STS_ENULL; STS_EHANDLE; STS_ETOOBIG; STS_ERANGE (offset
 * beyond the metadata's size); STS_ENOENT (image deleted); STS_EIO.
 */
STS_EXPORT int stsp_read_image_meta(sts_image_handle_t ih, void *buf, sts_uint64_t len,
                                    sts_uint64_t offset, sts_uint64_t *bytesread);

/*
 * stsp_write_image_meta - write len metadata bytes at offset, before,
 * during or after the image data, through any handle (also read-only
 * handles and complete images). Metadata grows to offset + len; a gap
 * reads as zeros. Durable when the call returns.
 *   byteswritten  out: len on success.
 * Returns STS_EOK; STS_ENULL; STS_EHANDLE; STS_ETOOBIG (offset + len >
 * STS_MAX_IMAGE_META); STS_ENOENT (image deleted); STS_EIO; STS_ETIMEDOUT.
 */
STS_EXPORT int stsp_write_image_meta(sts_image_handle_t ih, const void *buf, sts_uint64_t len,
                                     sts_uint64_t offset, sts_uint64_t *byteswritten);

#ifdef __cplusplus
}
#endif

#endif /* STSPI_H */
