/* The README's C example ("Using the plugin from C"): writes a 1 MiB backup
 * image, closes it complete, reads it back and compares, deletes it.
 * Build (after `make install`) and run:
 *   cc -std=c99 -o backup backup.c $(pkg-config --cflags --libs combstore)
 *   ./backup /srv/backup          (a server directory; created if new) */
#include <stdio.h>
#include <string.h>
#include <stspi.h>

#define CHECK(call)                                               \
    do {                                                          \
        int rc_ = (call);                                         \
        if (rc_ != STS_EOK) {                                     \
            fprintf(stderr, "%s failed: %d\n", #call, rc_);       \
            return 1;                                             \
        }                                                         \
    } while (0)

static char buf[1 << 20], back[1 << 20];

int main(int argc, char **argv)
{
    char server[1024];
    sts_plugin_info_t pi;
    sts_server_handle_t sh;
    sts_lsu_t lsu;
    sts_image_def_t def;
    sts_image_handle_t ih;
    sts_uint64_t n;

    if (argc != 2 || argv[1][0] != '/') {
        fprintf(stderr, "usage: %s /absolute/server/dir\n", argv[0]);
        return 2;
    }
    snprintf(server, sizeof server, "combstore:%s", argv[1]);
    memset(buf, 'x', sizeof buf);
    memset(&lsu, 0, sizeof lsu);
    memset(&def, 0, sizeof def);

    CHECK(stsp_init(STS_VERSION, &pi));
    CHECK(stsp_open_server(server, NULL, &sh)); /* created if new */
    lsu.sl_server_handle = sh;
    strcpy(lsu.sl_lsu_name.sln_name, "default"); /* a new server's LSU */
    strcpy(def.img_basename, "client1_1700000000_C1_F1");
    strcpy(def.img_date, "1700000000");

    CHECK(stsp_create_image(&lsu, &def, 0, &ih));
    CHECK(stsp_write_image(ih, NULL, buf, sizeof buf, 0, &n)); /* n * STS_BLOCK_SIZE */
    CHECK(stsp_close_image(ih, STS_CLOSEF_IH_COMPLETE));       /* durable; SHA-1 recorded */

    CHECK(stsp_open_image(&lsu, &def, STS_O_READ, &ih));
    CHECK(stsp_read_image(ih, back, sizeof back, 0, &n));
    CHECK(stsp_close_image(ih, 0));
    if (n != sizeof buf || memcmp(buf, back, sizeof buf) != 0) {
        fprintf(stderr, "read back %lu bytes, not what was written\n", (unsigned long)n);
        return 1;
    }

    CHECK(stsp_delete_image(&lsu, &def, 0));
    CHECK(stsp_close_server(sh));
    CHECK(stsp_terminate());
    printf("wrote, read back and deleted %lu bytes on %s\n", (unsigned long)n, server);
    return 0;
}
