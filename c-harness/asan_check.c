/*
 * asan_check.c - proves the setting `make asan` relies on: an executable
 * built with -fsanitize=address that dlopens the uninstrumented plugin
 * (no LD_PRELOAD) has the ASan runtime, so an overflow or a leak in our C
 * code next to the plugin is reported and fails the process.
 *
 *   asan_check PLUGIN            load the plugin, call stsp_strerror: exit 0
 *   asan_check PLUGIN overflow   then read one byte past a heap block
 *   asan_check PLUGIN leak       then lose a heap block
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef const char *(*strerror_fn)(int);

static void *volatile g_block;

/* Allocates a block and drops the only pointer to it, in a frame of its
 * own, so no stale copy stays where LeakSanitizer looks. */
static void __attribute__((noinline)) lose_a_block(void)
{
    g_block = malloc(64);
    g_block = NULL;
}

int main(int argc, char **argv)
{
    void *lib;
    strerror_fn f;
    const char *what = argc > 2 ? argv[2] : "";

    if (argc < 2) {
        fprintf(stderr, "usage: asan_check PLUGIN [overflow|leak]\n");
        return 2;
    }
    lib = dlopen(argv[1], RTLD_NOW);
    if (!lib) {
        fprintf(stderr, "dlopen %s: %s\n", argv[1], dlerror());
        return 2;
    }
    *(void **)(&f) = dlsym(lib, "stsp_strerror");
    if (!f) {
        fprintf(stderr, "%s exports no stsp_strerror\n", argv[1]);
        return 2;
    }
    printf("%s\n", f(0));
    if (!strcmp(what, "overflow")) {
        size_t n = 16 + (size_t)(argc > 9); /* known only at run time */
        volatile char *p = malloc(n);
        int c = p[n]; /* one past the end: ASan must report it */
        free((void *)p);
        return c == 12345;
    }
    if (!strcmp(what, "leak")) lose_a_block(); /* LeakSanitizer must report it */
    return 0;
}
