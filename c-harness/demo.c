/*
 * demo.c - the sequence of calls a backup application makes to back up one
 * image to combstore and restore it, loading the plugin with dlopen/dlsym
 * exactly as such an application does.
 *
 *   demo [SERVER_DIR [PLUGIN]]
 *
 * SERVER_DIR defaults to $PWD/demo-server; its previous contents are
 * removed first so the demo can be re-run (only if it is empty, looks like
 * a combstore server, or is named demo-server). PLUGIN defaults to
 * $COMBSTORE_PLUGIN, then ../target/release/libcombstore.so.
 *
 * Every step prints one line: what was called, the result code, the time
 * it took and what it returned. Any unexpected code or data mismatch ends
 * the demo with a message and exit status 1.
 *
 * The backup image stays on the server for you to look at with the
 * administrator's CLI; the demo ends by printing the commands to try
 * (lines starting with "  $ ", which c-harness/demo_check.sh runs). An
 * older, small image is written and deleted to show expiration.
 *
 * Throughput lines give two figures: the plugin's calls alone, and the
 * whole loop, which also generates the data and hashes every byte with
 * this program's own (plain C) SHA-1, usually the slower part. The
 * README's Performance section measures the plugin alone.
 */
#define _GNU_SOURCE
#include "loader.h"
#include "pattern.h"
#include "sha1.h"

#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024u * 1024u)
#define IMAGE_BYTES (256ull * MIB)
#define IO_SIZE MIB
#define SEED 0x5EED0001ull

static sts_api_t A;
static int stepno;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stdout, "\nDEMO FAILED: ");
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fprintf(stdout, "\n");
    fflush(stdout);
    exit(1);
}

static const char *says(int rc)
{
    const char *s = A.strerror ? A.strerror(rc) : NULL;
    return s ? s : "?";
}

/* print one step; die unless rc == want */
static void step(const char *what, int rc, int want, double t0, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void step(const char *what, int rc, int want, double t0, const char *fmt, ...)
{
    double ms = (now_s() - t0) * 1000.0;
    va_list ap;
    printf("%2d. %-44s %-13s %9.2f ms  ", ++stepno, what, code_name(rc), ms);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    if (rc != want)
        die("%s returned %s (%d: \"%s\"), expected %s", what, code_name(rc), rc, says(rc),
            code_name(want));
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    if (ftw->level == 0) return 0; /* keep the directory itself */
    if (remove(path) != 0) {
        fprintf(stderr, "demo: remove %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

static void reset_dir(const char *dir)
{
    struct stat sb;
    char probe[4096];
    const char *base = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
    if (dir[0] != '/' || strcmp(dir, "/") == 0) die("server directory must be an absolute path, not \"%s\"", dir);
    if (stat(dir, &sb) != 0) return; /* the plugin creates it (its parent must exist) */
    if (!S_ISDIR(sb.st_mode)) die("%s exists and is not a directory", dir);
    snprintf(probe, sizeof probe, "%s/catalog.db", dir);
    if (access(probe, F_OK) != 0 && strcmp(base, "demo-server") != 0) {
        /* refuse to wipe a directory that does not look like ours */
        int empty = 1;
        FILE *p;
        char cmd[4200];
        snprintf(cmd, sizeof cmd, "ls -A '%s' 2>/dev/null | head -1", dir);
        p = popen(cmd, "r");
        if (p) {
            empty = fgetc(p) == EOF;
            pclose(p);
        }
        if (!empty)
            die("%s is not empty and does not look like a combstore server; not wiping it", dir);
    }
    if (nftw(dir, rm_entry, 32, FTW_DEPTH | FTW_PHYS) != 0) die("could not clear %s", dir);
}

static void fill_def(sts_image_def_t *d, const char *name, const char *date)
{
    memset(d, 0, sizeof *d);
    snprintf(d->img_basename, sizeof d->img_basename, "%s", name);
    snprintf(d->img_date, sizeof d->img_date, "%s", date);
}

int main(int argc, char **argv)
{
    char dirbuf[4096], server[4200], missing[4096], err[4096], flags[256], sha_w[41], sha_r[41];
    const char *dir, *plugin;
    sts_plugin_info_t pi;
    sts_server_handle_t sh;
    sts_server_info_t si;
    sts_lsu_list_handle_t llh;
    sts_image_list_handle_t ilh;
    sts_lsu_name_t ln;
    sts_lsu_t lsu;
    sts_lsu_info_t li0, li1, li2;
    sts_image_def_t def, ld;
    sts_image_handle_t ih;
    sts_image_info_t ii;
    sha1_ctx sc;
    unsigned char dg[20], *buf;
    sts_uint64_t done, n;
    const char *meta = "combstore demo: client1 full backup, policy=demo, schedule=full, "
                       "fragment 1 of 1, 256 MiB of seeded data";
    char metabuf[512];
    double t, t0, in_plugin, tc;
    char cli[4200];
    const char *slash;
    int rc, count;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 1) dir = argv[1];
    else {
        if (!getcwd(dirbuf, sizeof dirbuf - 16)) die("getcwd: %s", strerror(errno));
        strcat(dirbuf, "/demo-server");
        dir = dirbuf;
    }
    plugin = argc > 2 ? argv[2] : getenv("COMBSTORE_PLUGIN");
    if (!plugin) plugin = "../target/release/libcombstore.so";
    snprintf(server, sizeof server, "%s%s", STS_COMBSTORE_PREFIX, dir);

    printf("combstore demo: one backup image of %llu MiB written and restored\n", IMAGE_BYTES / MIB);
    printf("plugin %s\nserver %s\n\n", plugin, server);
    reset_dir(dir);

    t = now_s();
    if (api_load(&A, plugin, missing, sizeof missing, err, sizeof err) != 0) die("%s", err);
    printf("%2d. %-44s %-13s %9.2f ms  %s\n", ++stepno, "dlopen + dlsym stsp_*", "ok",
           (now_s() - t) * 1000.0, missing[0] ? missing : "all 39 entry points resolved");
    if (missing[0]) die("plugin lacks %s", missing);
    t0 = now_s();

    t = now_s();
    rc = A.init(STS_VERSION, &pi);
    step("stsp_init(STS_VERSION)", rc, STS_EOK, t, "%.64s, vendor \"%.64s\", version %.64s, API %u (%u..%u)",
         pi.pi_name, pi.pi_vendor, pi.pi_version, pi.pi_api_version, pi.pi_api_version_min,
         pi.pi_api_version_max);

    t = now_s();
    rc = A.claim(server);
    step("stsp_claim(server)", rc, STS_EOK, t, "claimed");

    t = now_s();
    rc = A.open_server(server, NULL, &sh);
    step("stsp_open_server(\"combstore:<dir>\")", rc, STS_EOK, t, "server handle open");

    t = now_s();
    rc = A.get_server_prop(sh, &si);
    srv_flags_str(si.srv_flags, flags, sizeof flags);
    step("stsp_get_server_prop", rc, STS_EOK, t, "%u LSU(s), flags %s, block %u, API %u",
         si.srv_lsu_count, flags, si.srv_block_size, si.srv_api_version);

    t = now_s();
    rc = A.open_lsu_list(sh, &llh);
    if (rc != STS_EOK) step("stsp_open_lsu_list", rc, STS_EOK, t, "-");
    count = 0;
    err[0] = '\0';
    while ((rc = A.list_lsu(llh, &ln)) == STS_EOK) {
        size_t l = strlen(err);
        snprintf(err + l, sizeof err - l, "%s%.128s", count++ ? ", " : "", ln.sln_name);
    }
    if (rc != STS_ENO_MORE) step("stsp_list_lsu", rc, STS_ENO_MORE, t, "-");
    rc = A.close_lsu_list(llh);
    step("stsp_open/list/close_lsu_list", rc, STS_EOK, t, "%d LSU(s): %s", count, err);

    memset(&lsu, 0, sizeof lsu);
    lsu.sl_server_handle = sh;
    snprintf(lsu.sl_lsu_name.sln_name, sizeof lsu.sl_lsu_name.sln_name, "default");
    t = now_s();
    rc = A.get_lsu_prop_byname(&lsu, &li0);
    lsu_flags_str(li0.lsu_flags, flags, sizeof flags);
    step("stsp_get_lsu_prop_byname(\"default\")", rc, STS_EOK, t,
         "capacity %llu, used %llu, used_phys %llu, %llu images, flags %s",
         (unsigned long long)li0.lsu_capacity, (unsigned long long)li0.lsu_used,
         (unsigned long long)li0.lsu_used_phys, (unsigned long long)li0.lsu_images, flags);

    fill_def(&def, "client1_1700000000_C1_F1", "1700000000");
    t = now_s();
    rc = A.create_image(&lsu, &def, 0, &ih);
    step("stsp_create_image", rc, STS_EOK, t, "%s date %s", def.img_basename, def.img_date);

    buf = malloc(IO_SIZE);
    if (!buf) die("out of memory");
    sha1_init(&sc);
    in_plugin = 0;
    t = now_s();
    for (done = 0; done < IMAGE_BYTES; done += n) {
        sts_uint64_t bw = 0;
        pattern_fill(SEED, done, buf, IO_SIZE);
        sha1_update(&sc, buf, IO_SIZE);
        tc = now_s();
        rc = A.write_image(ih, NULL, buf, IO_SIZE, done, &bw);
        in_plugin += now_s() - tc;
        if (rc != STS_EOK) step("stsp_write_image", rc, STS_EOK, t, "at offset %llu", (unsigned long long)done);
        if (bw != IO_SIZE) die("stsp_write_image at %llu wrote %llu bytes, expected %u", (unsigned long long)done, (unsigned long long)bw, IO_SIZE);
        n = bw;
    }
    sha1_final(&sc, dg);
    sha1_hex(dg, sha_w);
    step("stsp_write_image x 256 (1 MiB each)", rc, STS_EOK, t,
         "%llu bytes, plugin calls %.0f MB/s, with the demo's data and SHA-1 %.0f MB/s, SHA-1 %s",
         (unsigned long long)done, (double)done / 1e6 / in_plugin, (double)done / 1e6 / (now_s() - t), sha_w);

    t = now_s();
    rc = A.write_image_meta(ih, meta, strlen(meta), 0, &n);
    step("stsp_write_image_meta", rc, STS_EOK, t, "%llu bytes of text", (unsigned long long)n);

    t = now_s();
    rc = A.close_image(ih, STS_CLOSEF_IH_COMPLETE);
    step("stsp_close_image(COMPLETE)", rc, STS_EOK, t, "image complete");

    t = now_s();
    rc = A.get_image_prop_byname(&lsu, &def, &ii);
    image_flags_str(ii.imo_flags, flags, sizeof flags);
    step("stsp_get_image_prop_byname", rc, STS_EOK, t, "size %llu, flags %s, SHA-1 %.48s, objid %.64s",
         (unsigned long long)ii.imo_size, flags, ii.imo_sha1, ii.imo_objid);
    if (ii.imo_size != IMAGE_BYTES) die("imo_size %llu, expected %llu", (unsigned long long)ii.imo_size, IMAGE_BYTES);
    if ((ii.imo_flags & (STS_II_IMAGE_COMPLETE | STS_II_IMAGE_CREATED)) != (STS_II_IMAGE_COMPLETE | STS_II_IMAGE_CREATED) ||
        (ii.imo_flags & (STS_II_IMAGE_PENDING | STS_II_BUSY_WRITE)))
        die("flags %s, expected IMAGE_CREATED|IMAGE_COMPLETE", flags);
    if (strcmp(ii.imo_sha1, sha_w) != 0) die("imo_sha1 %.48s != SHA-1 computed while writing %s", ii.imo_sha1, sha_w);

    t = now_s();
    rc = A.open_image_list(&lsu, &ilh);
    if (rc != STS_EOK) step("stsp_open_image_list", rc, STS_EOK, t, "-");
    count = 0;
    err[0] = '\0';
    while ((rc = A.list_image(ilh, &ld)) == STS_EOK) {
        size_t l = strlen(err);
        snprintf(err + l, sizeof err - l, "%s%.256s/%.32s", count++ ? ", " : "", ld.img_basename, ld.img_date);
    }
    if (rc != STS_ENO_MORE) step("stsp_list_image", rc, STS_ENO_MORE, t, "-");
    rc = A.close_image_list(ilh);
    step("stsp_open/list/close_image_list", rc, STS_EOK, t, "%d image(s): %s", count, err);

    t = now_s();
    rc = A.open_image(&lsu, &def, STS_O_READ, &ih);
    step("stsp_open_image(STS_O_READ)", rc, STS_EOK, t, "read handle open");

    sha1_init(&sc);
    in_plugin = 0;
    t = now_s();
    for (done = 0;; done += n) {
        tc = now_s();
        rc = A.read_image(ih, buf, IO_SIZE, done, &n);
        in_plugin += now_s() - tc;
        if (rc != STS_EOK) step("stsp_read_image", rc, STS_EOK, t, "at offset %llu", (unsigned long long)done);
        if (n == 0) break;
        if (pattern_mismatch(SEED, done, buf, (size_t)n) != n)
            die("data read at offset %llu differs from what was written", (unsigned long long)done);
        sha1_update(&sc, buf, (size_t)n);
    }
    sha1_final(&sc, dg);
    sha1_hex(dg, sha_r);
    step("stsp_read_image x 256 (1 MiB each)", rc, STS_EOK, t,
         "%llu bytes, plugin calls %.0f MB/s, with the demo's checks and SHA-1 %.0f MB/s, SHA-1 %s",
         (unsigned long long)done, (double)done / 1e6 / in_plugin, (double)done / 1e6 / (now_s() - t), sha_r);
    if (done != IMAGE_BYTES) die("read %llu bytes, expected %llu", (unsigned long long)done, IMAGE_BYTES);
    if (strcmp(sha_r, sha_w) != 0) die("SHA-1 of the restore %s != SHA-1 written %s", sha_r, sha_w);
    if (strcmp(sha_r, ii.imo_sha1) != 0) die("SHA-1 of the restore %s != imo_sha1 %.48s", sha_r, ii.imo_sha1);
    printf("    SHA-1 check: restored %s == written == imo_sha1\n", sha_r);

    memset(metabuf, 0, sizeof metabuf);
    t = now_s();
    rc = A.read_image_meta(ih, metabuf, sizeof metabuf, 0, &n);
    step("stsp_read_image_meta", rc, STS_EOK, t, "%llu bytes: \"%.40s...\"", (unsigned long long)n, metabuf);
    if (n != strlen(meta) || memcmp(metabuf, meta, strlen(meta)) != 0) die("metadata read back differs from what was written");

    t = now_s();
    rc = A.close_image(ih, 0);
    step("stsp_close_image(read handle)", rc, STS_EOK, t, "closed");

    t = now_s();
    rc = A.get_lsu_prop_byname(&lsu, &li1);
    step("stsp_get_lsu_prop_byname(\"default\")", rc, STS_EOK, t, "used %llu, used_phys %llu, %llu images",
         (unsigned long long)li1.lsu_used, (unsigned long long)li1.lsu_used_phys, (unsigned long long)li1.lsu_images);

    /* an older backup, written and then expired */
    fill_def(&ld, "client1_1699913600_C1_F1", "1699913600");
    t = now_s();
    rc = A.create_image(&lsu, &ld, 0, &ih);
    if (rc != STS_EOK) step("stsp_create_image", rc, STS_EOK, t, "%s", ld.img_basename);
    for (done = 0; done < 4 * IO_SIZE; done += n) {
        pattern_fill(SEED + 1, done, buf, IO_SIZE);
        rc = A.write_image(ih, NULL, buf, IO_SIZE, done, &n);
        if (rc != STS_EOK) step("stsp_write_image", rc, STS_EOK, t, "at offset %llu", (unsigned long long)done);
    }
    rc = A.close_image(ih, STS_CLOSEF_IH_COMPLETE);
    step("stsp_create/write/close_image (older)", rc, STS_EOK, t, "%s, 4 MiB, complete", ld.img_basename);

    t = now_s();
    rc = A.delete_image(&lsu, &ld, 0);
    step("stsp_delete_image (older)", rc, STS_EOK, t, "%s deleted (expiration)", ld.img_basename);

    t = now_s();
    rc = A.get_lsu_prop_byname(&lsu, &li2);
    step("stsp_get_lsu_prop_byname(\"default\")", rc, STS_EOK, t, "used %llu, used_phys %llu, %llu images",
         (unsigned long long)li2.lsu_used, (unsigned long long)li2.lsu_used_phys, (unsigned long long)li2.lsu_images);
    if (li1.lsu_used != li0.lsu_used + IMAGE_BYTES || li1.lsu_images != li0.lsu_images + 1)
        die("with the backup image lsu_used=%llu images=%llu, expected %llu / %llu",
            (unsigned long long)li1.lsu_used, (unsigned long long)li1.lsu_images,
            (unsigned long long)(li0.lsu_used + IMAGE_BYTES), (unsigned long long)(li0.lsu_images + 1));
    if (li2.lsu_used != li1.lsu_used || li2.lsu_images != li1.lsu_images)
        die("after the delete lsu_used=%llu images=%llu, expected %llu / %llu as before the older image",
            (unsigned long long)li2.lsu_used, (unsigned long long)li2.lsu_images,
            (unsigned long long)li1.lsu_used, (unsigned long long)li1.lsu_images);
    if ((li2.lsu_flags & STS_LSUF_STORAGE_FREED) && li2.lsu_used_phys != li1.lsu_used_phys)
        die("STORAGE_FREED, but lsu_used_phys is %llu after the delete, %llu before the older image",
            (unsigned long long)li2.lsu_used_phys, (unsigned long long)li1.lsu_used_phys);

    t = now_s();
    rc = A.close_server(sh);
    step("stsp_close_server", rc, STS_EOK, t, "closed");

    t = now_s();
    rc = A.terminate();
    step("stsp_terminate", rc, STS_EOK, t, "done");

    free(buf);
    printf("\ndemo OK in %.2f s: %llu MiB written and restored, SHA-1 verified three ways\n",
           now_s() - t0, IMAGE_BYTES / MIB);

    /* the administrator's CLI next to the plugin, else on the PATH */
    slash = strrchr(plugin, '/');
    snprintf(cli, sizeof cli, "%.*scombstore", slash ? (int)(slash - plugin + 1) : 0, plugin);
    if (access(cli, X_OK) != 0) snprintf(cli, sizeof cli, "combstore");
    printf("\nThe image %s (%llu MiB) stays on the server. Look at it with the\n"
           "administrator's CLI:\n\n",
           def.img_basename, IMAGE_BYTES / MIB);
    printf("  $ %s -s %s image list\n", cli, dir);
    printf("  $ %s -s %s image show %s --date %s\n", cli, dir, def.img_basename, def.img_date);
    printf("  $ %s -s %s verify\n", cli, dir);
    printf("  $ %s -s %s stats\n", cli, dir);
    printf("  $ %s -s %s query \"ost.basename LIKE 'client1%%'\" --select ost.date,system.object_size\n", cli, dir);
    printf("  $ %s -s %s events\n", cli, dir);
    printf("\nRun the demo again to start over (it clears %s first).\n", dir);
    return 0;
}
