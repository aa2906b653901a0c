/*
 * runner.c - `replay --run`: run scenario files, each in its own child
 * process group with a time limit, so a crash or a hang of the plugin shows
 * as FAIL for that scenario and the run goes on.
 *
 *   replay --run [--plugin PATH] [--cli PATH] [--root DIR] [--timeout S]
 *                [--timeout-scale F] [--wrap "CMD ARGS..."] FILE...
 *
 * For each FILE (in the order given; the Makefile sorts them) the runner
 * makes ROOT/NAME/ (NAME = file name without .txt) holding the server
 * directory ROOT/NAME/server (created by the plugin), a work directory for
 * marker files, the log of the scenario and the byte counters its
 * processes append. It prints one line per scenario, the tail of the log
 * of a failed one, and finally "N passed, N failed". Exit status 0 only if
 * every scenario passed.
 *
 * A scenario may set its own limit with a line "timeout SECONDS".
 * --cli names the administrator's CLI (`exec combstore ...` in scenarios);
 * it is handed down as $COMBSTORE_BIN.
 */
#define _GNU_SOURCE
#include "replay.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double file_timeout(const char *path, double def)
{
    FILE *f = fopen(path, "r");
    char line[512];
    if (!f) return def;
    while (fgets(line, sizeof line, f)) {
        char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (!strncmp(p, "timeout", 7) && (p[7] == ' ' || p[7] == '\t')) {
            double v = atof(p + 8);
            if (v > 0) def = v;
            break;
        }
    }
    fclose(f);
    return def;
}

static void print_tail(const char *path, int lines)
{
    FILE *f = fopen(path, "r");
    char **ring;
    char buf[4096];
    long n = 0, i;
    if (!f) return;
    ring = calloc((size_t)lines, sizeof *ring);
    if (!ring) {
        fclose(f);
        return;
    }
    while (fgets(buf, sizeof buf, f)) {
        free(ring[n % lines]);
        ring[n % lines] = strdup(buf);
        n++;
    }
    fclose(f);
    for (i = n > lines ? n - lines : 0; i < n; i++) {
        const char *s = ring[i % lines];
        printf("    | %s%s", s, (s[0] && s[strlen(s) - 1] == '\n') ? "" : "\n");
    }
    for (i = 0; i < lines; i++) free(ring[i]);
    free(ring);
}

/* print the FAIL lines of the log (they name file, line and seed) */
static void print_fail_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    char buf[4096];
    int shown = 0;
    if (!f) return;
    while (fgets(buf, sizeof buf, f) && shown < 10)
        if (strstr(buf, "] FAIL ")) {
            printf("    > %s", buf);
            shown++;
        }
    fclose(f);
}

static void sleep_ms(long ms)
{
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

int runner_main(int argc, char **argv, const char *self)
{
    const char *plugin = getenv("COMBSTORE_PLUGIN");
    const char *root = NULL, *cli = getenv("COMBSTORE_BIN");
    double timeout = 120, scale = 1;
    char *wrapv[64], *plugin_rp;
    int nwrap = 0, i, passed = 0, failed = 0;
    char rootbuf[4096];

    if (!plugin) plugin = "../target/release/libcombstore.so";
    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--plugin") && i + 1 < argc) plugin = argv[++i];
        else if (!strcmp(argv[i], "--root") && i + 1 < argc) root = argv[++i];
        else if (!strcmp(argv[i], "--cli") && i + 1 < argc) cli = argv[++i];
        else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) timeout = atof(argv[++i]);
        else if (!strcmp(argv[i], "--timeout-scale") && i + 1 < argc) scale = atof(argv[++i]);
        else if (!strcmp(argv[i], "--wrap") && i + 1 < argc) {
            char *w = strdup(argv[++i]), *tok, *save = NULL;
            for (tok = strtok_r(w, " \t", &save); tok && nwrap < 60; tok = strtok_r(NULL, " \t", &save))
                wrapv[nwrap++] = tok;
        } else {
            fprintf(stderr, "replay --run: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (i >= argc) {
        fprintf(stderr, "replay --run: no scenario files\n");
        return 2;
    }
    if (!root) {
        char tmpl[] = "/tmp/combstore-harness.XXXXXX";
        char *d = mkdtemp(tmpl);
        if (!d) {
            perror("mkdtemp");
            return 2;
        }
        snprintf(rootbuf, sizeof rootbuf, "%s", d);
        root = rootbuf;
    }
    plugin_rp = realpath(plugin, NULL);
    if (!plugin_rp) {
        printf("plugin %s: %s\n", plugin, strerror(errno));
        printf("0 passed, %d failed\n", argc - i);
        return 1;
    }
    plugin = plugin_rp;
    if (!cli || !*cli) cli = "../target/release/combstore";
    {
        char *rp = realpath(cli, NULL);
        setenv("COMBSTORE_BIN", rp ? rp : cli, 1);
        printf("plugin %s\ncli    %s%s\n", plugin, rp ? rp : cli,
               rp && access(rp, X_OK) == 0 ? "" : " (missing: scenarios that run it will fail)");
        free(rp);
    }
    printf("server dirs under %s\n", root);
    fflush(stdout);

    for (; i < argc; i++) {
        const char *file = argv[i];
        const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
        char name[256], dir[4096], server[4200], work[4200], log[4200], stats[4200], why[256];
        char *cargv[96];
        int n = 0, st = 0, ok;
        double lim = file_timeout(file, timeout) * scale, t0, dt;
        unsigned long long w = 0, r = 0;
        pid_t pid;
        char *absfile = realpath(file, NULL);
        FILE *sf;

        snprintf(name, sizeof name, "%.200s", base);
        if (strlen(name) > 4 && !strcmp(name + strlen(name) - 4, ".txt")) name[strlen(name) - 4] = '\0';
        snprintf(dir, sizeof dir, "%.3800s/%.200s", root, name);
        snprintf(server, sizeof server, "%s/server", dir);
        snprintf(work, sizeof work, "%s/work", dir);
        snprintf(log, sizeof log, "%s/log.txt", dir);
        snprintf(stats, sizeof stats, "%s/stats", dir);
        mkdir(dir, 0755);
        mkdir(work, 0755);
        unlink(stats);

        for (n = 0; n < nwrap; n++) cargv[n] = wrapv[n];
        cargv[n++] = (char *)self;
        cargv[n++] = "--plugin";
        cargv[n++] = (char *)plugin;
        cargv[n++] = "--server";
        cargv[n++] = server;
        cargv[n++] = "--work";
        cargv[n++] = work;
        cargv[n++] = "--stats";
        cargv[n++] = stats;
        cargv[n++] = absfile ? absfile : (char *)file;
        cargv[n] = NULL;

        fflush(stdout);
        t0 = now_s();
        pid = fork();
        if (pid < 0) {
            perror("fork");
            return 2;
        }
        if (pid == 0) {
            int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            setpgid(0, 0);
            if (fd >= 0) {
                dup2(fd, 1);
                dup2(fd, 2);
                close(fd);
            }
            execvp(cargv[0], cargv);
            fprintf(stderr, "exec %s: %s\n", cargv[0], strerror(errno));
            _exit(127);
        }
        setpgid(pid, pid);
        why[0] = '\0';
        for (;;) {
            pid_t x = waitpid(pid, &st, WNOHANG);
            if (x == pid) break;
            if (x < 0 && errno != EINTR) {
                snprintf(why, sizeof why, "waitpid: %s", strerror(errno));
                break;
            }
            if (now_s() - t0 > lim) {
                kill(-pid, SIGKILL);
                waitpid(pid, &st, 0);
                snprintf(why, sizeof why, "timed out after %.0f s", lim);
                break;
            }
            sleep_ms(10);
        }
        dt = now_s() - t0;
        /* whatever the scenario left behind (spawned children) goes too */
        kill(-pid, SIGKILL);
        free(absfile);

        ok = !why[0] && WIFEXITED(st) && WEXITSTATUS(st) == 0;
        if (!why[0] && !ok) {
            if (WIFSIGNALED(st)) snprintf(why, sizeof why, "killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
            else if (WIFEXITED(st) && WEXITSTATUS(st) == 99) snprintf(why, sizeof why, "valgrind reported errors (exit 99)");
            else if (WIFEXITED(st)) snprintf(why, sizeof why, "exit status %d", WEXITSTATUS(st));
        }
        sf = fopen(stats, "r");
        if (sf) {
            unsigned long long a, b;
            while (fscanf(sf, "%llu %llu", &a, &b) == 2) {
                w += a;
                r += b;
            }
            fclose(sf);
        }
        printf("%-28s %s %8.2fs %10.1f MiB moved (%.1f written, %.1f read)%s%s\n", name,
               ok ? "PASS" : "FAIL", dt, (double)(w + r) / 1048576.0, (double)w / 1048576.0,
               (double)r / 1048576.0, ok ? "" : "  -- ", ok ? "" : why);
        if (!ok) {
            print_fail_lines(log);
            printf("    last lines of %s:\n", log);
            print_tail(log, 25);
        }
        fflush(stdout);
        if (ok) passed++;
        else failed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    fflush(stdout);
    free(plugin_rp);
    return failed ? 1 : 0;
}
