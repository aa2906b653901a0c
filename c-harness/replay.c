/*
 * replay.c - scenario interpreter for the combstore plugin.
 *
 * Loads the plugin with dlopen/dlsym (loader.c) exactly as a backup
 * application does, then executes a plain-text scenario file: one API call
 * or harness step per line, each with its expected return code. The format
 * is documented in README.md; a new call sequence is a new data file.
 *
 *   replay [options] FILE [name=value ...]     run a scenario
 *   replay --run [runner options] FILE...      run scenarios, one child each
 *
 * Options: --plugin PATH   (default $COMBSTORE_PLUGIN or
 *                          ../target/release/libcombstore.so)
 *          --cli PATH      the administrator's CLI run by `exec combstore ...`
 *                          (default $COMBSTORE_BIN or ../target/release/combstore)
 *          --server DIR    server directory (default: a new temp dir)
 *          --work DIR      directory for marker files (default: beside it)
 *          --seed N        base seed (default 0xC0FFEE)
 *          --section NAME  run only this section (used by `spawn`)
 *          --who LABEL     label printed on every line of this process
 *          --stats FILE    append "written read" byte counts at exit
 */
#define _GNU_SOURCE
#include "loader.h"
#include "pattern.h"
#include "replay.h"
#include "sha1.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXTOK 128
#define MAXLINE 8192
#define STRVAL 4096

/* ================================================================== */
/* Program text                                                       */
/* ================================================================== */

typedef struct {
    int no;     /* 1-based line number in the file */
    char *text; /* raw text */
    char kw[32]; /* first word, for block matching */
    char arg1[128]; /* second word */
} line_t;

typedef struct {
    char *path;
    char *dir;
    line_t *l;
    int n;
} prog_t;

/* ================================================================== */
/* Variables and contexts                                             */
/* ================================================================== */

enum { VT_INT = 1, VT_STR, VT_SRV, VT_IMG, VT_LLIST, VT_ILIST, VT_EVC, VT_THREAD, VT_PROC };
static const char *vt_names[] = { "?", "integer", "string", "server handle", "image handle",
                                  "lsu-list handle", "image-list handle", "event channel",
                                  "thread", "process" };

typedef struct {
    char name[64];
    int type;
    unsigned long long n; /* VT_INT; pid for VT_PROC */
    char *s;              /* VT_STR */
    void *p;              /* handles, VT_THREAD */
} var_t;

typedef struct ctx {
    prog_t *prog;
    var_t *vars;
    int nvars, capvars;
    char who[64];
    int line;
    unsigned long long seed;
    int seed_set;
    /* results of the last calls, read by @fields */
    sts_image_info_t img;
    sts_lsu_info_t lsu;
    sts_server_info_t srv;
    sts_plugin_info_t plug;
    sts_event_t ev;       /* last event received (get_event, drain_events) */
    sts_event_t *evs;     /* events collected by get_event/drain_events */
    int nevs, capevs;
    int op_status;        /* named_async_wait's op_status */
    unsigned long long op_id; /* async_copy_image's op_id */
    int rc;
    unsigned long long bytes;
    char sha1[41];
    unsigned long long count;
    int exitst;     /* exit status of the last exec (128+N: signal N) */
    char note[512]; /* appended to the step's log line */
    int called;     /* this step called the plugin (chk/must ran) */
} ctx_t;

typedef struct {
    pthread_t t;
    ctx_t *ctx;
    int from, to;
    int result;
    int joined;
    char section[128];
} thr_t;

/* ================================================================== */
/* Globals                                                            */
/* ================================================================== */

static sts_api_t A;
static const char *g_plugin;
static char g_server_dir[2048];
static char g_server_name[4200];
static char g_work[2048];
static char g_cli[4096]; /* the administrator's CLI: --cli, $COMBSTORE_BIN */
static const char *g_stats;
static char g_self[4096];
static unsigned long long g_seed = 0xC0FFEEull;
static unsigned long long g_written, g_read;
static pthread_mutex_t g_out = PTHREAD_MUTEX_INITIALIZER;
static double g_t0;
static char g_label[64] = "main";
static pid_t g_children[256];
static int g_nchildren;
static pthread_mutex_t g_children_mu = PTHREAD_MUTEX_INITIALIZER;

double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void count_written(unsigned long long n) { __atomic_fetch_add(&g_written, n, __ATOMIC_RELAXED); }
static void count_read(unsigned long long n) { __atomic_fetch_add(&g_read, n, __ATOMIC_RELAXED); }

static void write_stats(void)
{
    char buf[128];
    int fd, len;
    if (!g_stats) return;
    fd = open(g_stats, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0) return;
    len = snprintf(buf, sizeof buf, "%llu %llu\n", __atomic_load_n(&g_written, __ATOMIC_RELAXED),
                   __atomic_load_n(&g_read, __ATOMIC_RELAXED));
    if (write(fd, buf, (size_t)len) != len) { /* best effort */ }
    close(fd);
}

#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
static void out(ctx_t *c, const char *fmt, ...) PRINTF_LIKE(2, 3);
static int fail(ctx_t *c, const char *fmt, ...) PRINTF_LIKE(2, 3);
static void note(ctx_t *c, const char *fmt, ...) PRINTF_LIKE(2, 3);

static void out(ctx_t *c, const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&g_out);
    printf("[%8.3f %s] ", now_s() - g_t0, c ? c->who : g_label);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    pthread_mutex_unlock(&g_out);
}

static int fail(ctx_t *c, const char *fmt, ...)
{
    va_list ap;
    char msg[2048];
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&g_out);
    printf("[%8.3f %s] FAIL %s:%d (seed %llu = 0x%llx): %s\n", now_s() - g_t0, c->who,
           c->prog ? c->prog->path : "?", c->line, c->seed_set ? c->seed : g_seed,
           c->seed_set ? c->seed : g_seed, msg);
    fflush(stdout);
    pthread_mutex_unlock(&g_out);
    return -1;
}

static void note(ctx_t *c, const char *fmt, ...)
{
    va_list ap;
    size_t l = strlen(c->note);
    va_start(ap, fmt);
    vsnprintf(c->note + l, sizeof c->note - l, fmt, ap);
    va_end(ap);
}

static const char *plugin_says(int code)
{
    const char *s;
    if (!A.strerror) return "(no stsp_strerror)";
    s = A.strerror(code);
    return s ? s : "(stsp_strerror returned NULL!)";
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "replay: out of memory (%zu bytes)\n", n);
        exit(3);
    }
    return p;
}

static char *xstrdup(const char *s)
{
    char *p = xmalloc(strlen(s) + 1);
    strcpy(p, s);
    return p;
}

static void children_add(pid_t p)
{
    pthread_mutex_lock(&g_children_mu);
    if (g_nchildren < (int)(sizeof g_children / sizeof g_children[0])) g_children[g_nchildren++] = p;
    pthread_mutex_unlock(&g_children_mu);
}

static void children_remove(pid_t p)
{
    int i;
    pthread_mutex_lock(&g_children_mu);
    for (i = 0; i < g_nchildren; i++)
        if (g_children[i] == p) g_children[i] = g_children[--g_nchildren];
    pthread_mutex_unlock(&g_children_mu);
}

static void children_kill_all(void)
{
    int i;
    pthread_mutex_lock(&g_children_mu);
    for (i = 0; i < g_nchildren; i++) kill(g_children[i], SIGKILL);
    pthread_mutex_unlock(&g_children_mu);
}

/* ---------------- variables ---------------- */

static var_t *var_find(ctx_t *c, const char *name)
{
    int i;
    if (name[0] == '$') name++;
    for (i = 0; i < c->nvars; i++)
        if (strcmp(c->vars[i].name, name) == 0) return &c->vars[i];
    return NULL;
}

static var_t *var_set(ctx_t *c, const char *name)
{
    var_t *v;
    if (name[0] == '$') name++;
    v = var_find(c, name);
    if (!v) {
        if (c->nvars == c->capvars) {
            c->capvars = c->capvars ? c->capvars * 2 : 32;
            c->vars = realloc(c->vars, (size_t)c->capvars * sizeof *c->vars);
            if (!c->vars) exit(3);
        }
        v = &c->vars[c->nvars++];
        memset(v, 0, sizeof *v);
        snprintf(v->name, sizeof v->name, "%s", name);
    }
    free(v->s);
    v->s = NULL;
    v->type = 0;
    v->n = 0;
    v->p = NULL;
    return v;
}

static void var_set_int(ctx_t *c, const char *name, unsigned long long n)
{
    var_t *v = var_set(c, name);
    v->type = VT_INT;
    v->n = n;
}

static void var_set_str(ctx_t *c, const char *name, const char *s)
{
    var_t *v = var_set(c, name);
    v->type = VT_STR;
    v->s = xstrdup(s);
}

static void var_set_ptr(ctx_t *c, const char *name, int type, void *p)
{
    var_t *v = var_set(c, name);
    v->type = type;
    v->p = p;
}

static ctx_t *ctx_new(prog_t *prog, const char *who)
{
    ctx_t *c = xmalloc(sizeof *c);
    memset(c, 0, sizeof *c);
    c->prog = prog;
    snprintf(c->who, sizeof c->who, "%s", who);
    return c;
}

static ctx_t *ctx_clone(const ctx_t *p, const char *who)
{
    ctx_t *c = ctx_new(p->prog, who);
    int i;
    c->capvars = p->nvars + 8;
    c->vars = xmalloc((size_t)c->capvars * sizeof *c->vars);
    c->nvars = p->nvars;
    for (i = 0; i < p->nvars; i++) {
        c->vars[i] = p->vars[i];
        if (p->vars[i].s) c->vars[i].s = xstrdup(p->vars[i].s);
    }
    c->img = p->img;
    c->lsu = p->lsu;
    c->srv = p->srv;
    c->plug = p->plug;
    return c;
}

static void ctx_free(ctx_t *c)
{
    int i;
    for (i = 0; i < c->nvars; i++) free(c->vars[i].s);
    free(c->vars);
    free(c->evs);
    free(c);
}

static void prog_free(prog_t *p)
{
    int i;
    for (i = 0; i < p->n; i++) free(p->l[i].text);
    free(p->l);
    free(p->path);
    free(p->dir);
    free(p);
}

/* ================================================================== */
/* Loading the program                                                */
/* ================================================================== */

static void first_words(const char *text, char *kw, size_t kwlen, char *a1, size_t a1len)
{
    const char *p = text;
    size_t n;
    kw[0] = a1[0] = '\0';
    while (*p == ' ' || *p == '\t') p++;
    if (*p == '#') return;
    for (n = 0; *p && !isspace((unsigned char)*p); p++)
        if (n + 1 < kwlen) kw[n++] = *p;
    kw[n] = '\0';
    while (*p == ' ' || *p == '\t') p++;
    for (n = 0; *p && !isspace((unsigned char)*p) && *p != '#'; p++)
        if (n + 1 < a1len) a1[n++] = *p;
    a1[n] = '\0';
}

static int match_end(prog_t *p, int i, const char *open, const char *close)
{
    int depth = 0, j;
    for (j = i; j < p->n; j++) {
        if (strcmp(p->l[j].kw, open) == 0) depth++;
        else if (strcmp(p->l[j].kw, close) == 0 && --depth == 0) return j;
    }
    return -1;
}

/* the "else" of the if at line i (whose endif is at end), or -1 */
static int find_else(prog_t *p, int i, int end)
{
    int depth = 0, j;
    for (j = i + 1; j < end; j++) {
        if (strcmp(p->l[j].kw, "if") == 0) depth++;
        else if (strcmp(p->l[j].kw, "endif") == 0) depth--;
        else if (depth == 0 && strcmp(p->l[j].kw, "else") == 0) return j;
    }
    return -1;
}

static prog_t *prog_load(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    prog_t *p;
    char buf[MAXLINE];
    int cap = 0, i, no = 0;
    char *slash;

    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    p = xmalloc(sizeof *p);
    memset(p, 0, sizeof *p);
    p->path = xstrdup(path);
    p->dir = xstrdup(path);
    slash = strrchr(p->dir, '/');
    if (slash) *slash = '\0';
    else strcpy(p->dir, ".");
    while (fgets(buf, sizeof buf, f)) {
        size_t l = strlen(buf);
        no++;
        while (l && (buf[l - 1] == '\n' || buf[l - 1] == '\r')) buf[--l] = '\0';
        if (p->n == cap) {
            cap = cap ? cap * 2 : 128;
            p->l = realloc(p->l, (size_t)cap * sizeof *p->l);
            if (!p->l) exit(3);
        }
        p->l[p->n].no = no;
        p->l[p->n].text = xstrdup(buf);
        first_words(buf, p->l[p->n].kw, sizeof p->l[p->n].kw, p->l[p->n].arg1,
                    sizeof p->l[p->n].arg1);
        p->n++;
    }
    fclose(f);
    /* block structure */
    for (i = 0; i < p->n; i++) {
        const char *kw = p->l[i].kw;
        if (strcmp(kw, "section") == 0) {
            int j = match_end(p, i, "section", "endsection");
            int k;
            if (j < 0) {
                snprintf(err, errlen, "%s:%d: section without endsection", path, p->l[i].no);
                return NULL;
            }
            for (k = i + 1; k < j; k++)
                if (strcmp(p->l[k].kw, "section") == 0) {
                    snprintf(err, errlen, "%s:%d: sections do not nest", path, p->l[k].no);
                    return NULL;
                }
        } else if (strcmp(kw, "for") == 0) {
            if (match_end(p, i, "for", "endfor") < 0) {
                snprintf(err, errlen, "%s:%d: for without endfor", path, p->l[i].no);
                return NULL;
            }
        } else if (strcmp(kw, "if") == 0) {
            int end = match_end(p, i, "if", "endif"), k, depth = 0, nelse = 0;
            if (end < 0) {
                snprintf(err, errlen, "%s:%d: if without endif", path, p->l[i].no);
                return NULL;
            }
            for (k = i + 1; k < end; k++) {
                if (!strcmp(p->l[k].kw, "if")) depth++;
                else if (!strcmp(p->l[k].kw, "endif")) depth--;
                else if (depth == 0 && !strcmp(p->l[k].kw, "else") && ++nelse > 1) {
                    snprintf(err, errlen, "%s:%d: a second else", path, p->l[k].no);
                    return NULL;
                }
            }
        }
    }
    {
        int d1 = 0, d2 = 0, d3 = 0;
        for (i = 0; i < p->n; i++) {
            const char *kw = p->l[i].kw;
            if (!strcmp(kw, "if")) d3++;
            if ((!strcmp(kw, "endif") && --d3 < 0) || (!strcmp(kw, "else") && d3 == 0)) {
                snprintf(err, errlen, "%s:%d: %s without if", path, p->l[i].no, kw);
                return NULL;
            }
            if (!strcmp(kw, "section")) d1++;
            if (!strcmp(kw, "endsection") && --d1 < 0) {
                snprintf(err, errlen, "%s:%d: endsection without section", path, p->l[i].no);
                return NULL;
            }
            if (!strcmp(kw, "for")) d2++;
            if (!strcmp(kw, "endfor") && --d2 < 0) {
                snprintf(err, errlen, "%s:%d: endfor without for", path, p->l[i].no);
                return NULL;
            }
        }
    }
    return p;
}

static int find_section(prog_t *p, const char *name, int *from, int *to)
{
    int i;
    for (i = 0; i < p->n; i++) {
        if (strcmp(p->l[i].kw, "section") == 0 && strcmp(p->l[i].arg1, name) == 0) {
            *from = i + 1;
            *to = match_end(p, i, "section", "endsection");
            return 0;
        }
    }
    return -1;
}

/* ================================================================== */
/* Tokenizing                                                         */
/* ================================================================== */

typedef struct {
    char *s;
    size_t len;
    int quoted; /* contained a quoted part */
    int eq;     /* index of a key's '=' (unquoted, before any quote), or -1 */
} tok_t;

typedef struct {
    char buf[MAXLINE * 2];
    tok_t t[MAXTOK];
    int n;
    char text[MAXLINE * 2]; /* the expanded line, for logging */
} toks_t;

static int builtin_var(ctx_t *c, const char *name, char *out, size_t outlen)
{
    if (!strcmp(name, "SERVER")) snprintf(out, outlen, "%.4000s", g_server_name);
    else if (!strcmp(name, "SERVER_DIR")) snprintf(out, outlen, "%s", g_server_dir);
    else if (!strcmp(name, "WORK")) snprintf(out, outlen, "%s", g_work);
    else if (!strcmp(name, "PID")) snprintf(out, outlen, "%ld", (long)getpid());
    else if (!strcmp(name, "SEED")) snprintf(out, outlen, "%llu", g_seed);
    else if (!strcmp(name, "WHO")) snprintf(out, outlen, "%s", c->who);
    else if (!strcmp(name, "DIR")) snprintf(out, outlen, "%s", c->prog->dir);
    else return -1;
    return 0;
}

/* expand ${name} (variables and builtins) */
static int expand(ctx_t *c, const char *in, char *outbuf, size_t outlen)
{
    size_t o = 0;
    const char *p = in;
    while (*p) {
        if (p[0] == '$' && p[1] == '{') {
            const char *e = strchr(p + 2, '}');
            char name[128], val[STRVAL];
            var_t *v;
            size_t nl, vl;
            if (!e) return fail(c, "unterminated ${ in line");
            nl = (size_t)(e - (p + 2));
            if (nl >= sizeof name) return fail(c, "variable name too long");
            memcpy(name, p + 2, nl);
            name[nl] = '\0';
            v = var_find(c, name);
            if (v && v->type == VT_INT) snprintf(val, sizeof val, "%llu", v->n);
            else if (v && v->type == VT_STR) snprintf(val, sizeof val, "%s", v->s);
            else if (v) return fail(c, "${%s} is a %s, not a value", name, vt_names[v->type]);
            else if (builtin_var(c, name, val, sizeof val) != 0)
                return fail(c, "undefined variable ${%s}", name);
            vl = strlen(val);
            if (o + vl + 1 >= outlen) return fail(c, "line too long after expansion");
            memcpy(outbuf + o, val, vl);
            o += vl;
            p = e + 1;
        } else {
            if (o + 2 >= outlen) return fail(c, "line too long after expansion");
            outbuf[o++] = *p++;
        }
    }
    outbuf[o] = '\0';
    return 0;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

static int tokenize(ctx_t *c, const char *raw, toks_t *T)
{
    const char *p;
    size_t o = 0;
    if (expand(c, raw, T->text, sizeof T->text) != 0) return -1;
    p = T->text;
    T->n = 0;
    for (;;) {
        tok_t *t;
        int inq = 0, sawq = 0;
        while (*p == ' ' || *p == '\t') p++;
        if (!*p || *p == '#') break;
        if (T->n == MAXTOK) return fail(c, "too many tokens");
        t = &T->t[T->n++];
        t->s = T->buf + o;
        t->eq = -1;
        for (; *p; p++) {
            char ch = *p;
            if (!inq && (ch == ' ' || ch == '\t')) break;
            if (ch == '"') {
                inq = !inq;
                sawq = 1;
                continue;
            }
            if (inq && ch == '\\' && p[1]) {
                p++;
                switch (*p) {
                case 'n': ch = '\n'; break;
                case 't': ch = '\t'; break;
                case 'r': ch = '\r'; break;
                case '0': ch = '\0'; break;
                case 'x':
                    if (hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
                        ch = (char)(hexval(p[1]) * 16 + hexval(p[2]));
                        p += 2;
                    } else {
                        return fail(c, "bad \\x escape");
                    }
                    break;
                default: ch = *p; break;
                }
            } else if (!inq && !sawq && ch == '=' && t->eq < 0) {
                t->eq = (int)(T->buf + o - t->s);
            }
            if (o + 2 >= sizeof T->buf) return fail(c, "line too long");
            T->buf[o++] = ch;
        }
        if (inq) return fail(c, "unterminated quote");
        t->len = (size_t)(T->buf + o - t->s);
        T->buf[o++] = '\0';
        t->quoted = sawq;
        /* a key must look like an identifier */
        if (t->eq > 0) {
            int i;
            for (i = 0; i < t->eq; i++)
                if (!(islower((unsigned char)t->s[i]) || isdigit((unsigned char)t->s[i]) ||
                      t->s[i] == '_'))
                    break;
            if (i != t->eq) t->eq = -1;
        } else {
            t->eq = -1;
        }
    }
    return 0;
}

/* ================================================================== */
/* Arguments                                                          */
/* ================================================================== */

typedef struct {
    tok_t *pos[MAXTOK];
    int npos;
    struct {
        char key[64];
        char *val;
        size_t len;
        int quoted;
    } kv[MAXTOK];
    int nkv;
    const char *expect; /* text after "->" or "expect", or NULL */
    toks_t *T;
} args_t;

static int split_args(ctx_t *c, toks_t *T, args_t *a)
{
    int i;
    memset(a, 0, sizeof *a);
    a->T = T;
    for (i = 1; i < T->n; i++) {
        tok_t *t = &T->t[i];
        if (!t->quoted && (!strcmp(t->s, "->") || !strcmp(t->s, "expect"))) {
            if (i + 1 >= T->n) return fail(c, "'%s' needs a value", t->s);
            if (i + 2 != T->n) return fail(c, "'%s %s' must end the line", t->s, T->t[i + 1].s);
            a->expect = T->t[i + 1].s;
            break;
        }
        if (t->eq > 0) {
            int k = a->nkv++;
            snprintf(a->kv[k].key, sizeof a->kv[k].key, "%.*s", t->eq, t->s);
            a->kv[k].val = t->s + t->eq + 1;
            a->kv[k].len = t->len - (size_t)t->eq - 1;
            a->kv[k].quoted = t->quoted;
        } else {
            a->pos[a->npos++] = t;
        }
    }
    return 0;
}

static int kv_index(args_t *a, const char *key)
{
    int i;
    for (i = 0; i < a->nkv; i++)
        if (!strcmp(a->kv[i].key, key)) return i;
    return -1;
}

static int has_kv(args_t *a, const char *key) { return kv_index(a, key) >= 0; }

/* a positional flag word such as "complete" or "eof" */
static int has_word(args_t *a, const char *w)
{
    int i;
    for (i = 0; i < a->npos; i++)
        if (!a->pos[i]->quoted && !strcmp(a->pos[i]->s, w)) return 1;
    return 0;
}

/* null=a,b,c: pass NULL for the named pointer parameters */
static int want_null(args_t *a, const char *what)
{
    int i = kv_index(a, "null");
    const char *p;
    size_t wl = strlen(what);
    if (i < 0) return 0;
    p = a->kv[i].val;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == wl && !strncmp(p, what, l)) return 1;
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

/* value of a string argument, with @fill(c,n) expanded; returns length or -1 */
static long get_str(ctx_t *c, args_t *a, const char *key, const char *def, char *outbuf,
                    size_t outlen)
{
    int i = kv_index(a, key);
    const char *v;
    size_t vl, o = 0, k;
    if (i < 0) {
        if (!def) return fail(c, "missing argument %s=", key), -1;
        snprintf(outbuf, outlen, "%s", def);
        return (long)strlen(outbuf);
    }
    v = a->kv[i].val;
    vl = a->kv[i].len;
    for (k = 0; k < vl;) {
        if (!a->kv[i].quoted && vl - k > 6 && !strncmp(v + k, "@fill(", 6)) {
            /* @fill(CHAR,COUNT) */
            const char *q = v + k + 6;
            char ch = *q;
            char *end;
            unsigned long n;
            if (q[1] != ',') return fail(c, "bad @fill(): use @fill(c,count)"), -1;
            n = strtoul(q + 2, &end, 0);
            if (*end != ')') return fail(c, "bad @fill(): use @fill(c,count)"), -1;
            if (o + n + 1 > outlen) return fail(c, "@fill too long"), -1;
            memset(outbuf + o, ch, n);
            o += n;
            k = (size_t)(end + 1 - v);
            continue;
        }
        if (o + 2 > outlen) return fail(c, "string argument too long"), -1;
        outbuf[o++] = v[k++];
    }
    outbuf[o] = '\0';
    return (long)o;
}

/* copy a string into a fixed char array; a string of >= size bytes fills
 * the array with no NUL (the "unterminated" test case) */
static void copy_fixed(char *dst, size_t size, const char *src, size_t len)
{
    memset(dst, 0, size);
    memcpy(dst, src, len < size ? len : size);
}

/* ---------------- expressions ---------------- */

typedef struct {
    int is_str;
    unsigned long long n;
    char s[STRVAL];
} val_t;

typedef struct {
    ctx_t *c;
    const char *p;
    char err[256];
} parser_t;

static void skipsp(parser_t *P)
{
    while (*P->p == ' ' || *P->p == '\t') P->p++;
}

static int field_value(ctx_t *c, const char *name, val_t *v, char *err, size_t errlen)
{
    v->is_str = 0;
    v->n = 0;
#define NUM(nm, expr) if (!strcmp(name, nm)) { v->n = (unsigned long long)(expr); return 0; }
#define STR(nm, arr) if (!strcmp(name, nm)) { v->is_str = 1; snprintf(v->s, sizeof v->s, "%.*s", (int)sizeof(arr), arr); return 0; }
    NUM("img.flags", c->img.imo_flags);
    NUM("img.block_size", c->img.imo_block_size);
    NUM("img.size", c->img.imo_size);
    NUM("img.ctime", c->img.imo_ctime_ms);
    NUM("img.mtime", c->img.imo_mtime_ms);
    NUM("img.complete", c->img.imo_complete_ms);
    NUM("img.extents", c->img.imo_extent_count);
    NUM("img.imgflags", c->img.imo_def.img_flags);
    STR("img.name", c->img.imo_def.img_basename);
    STR("img.date", c->img.imo_def.img_date);
    STR("img.lsu", c->img.imo_lsu.sln_name);
    STR("img.objid", c->img.imo_objid);
    STR("img.sha1", c->img.imo_sha1);
    NUM("lsu.capacity", c->lsu.lsu_capacity);
    NUM("lsu.used", c->lsu.lsu_used);
    NUM("lsu.used_phys", c->lsu.lsu_used_phys);
    NUM("lsu.images", c->lsu.lsu_images);
    NUM("lsu.flags", c->lsu.lsu_flags);
    NUM("lsu.block_size", c->lsu.lsu_block_size);
    STR("lsu.name", c->lsu.lsu_name.sln_name);
    STR("lsu.label", c->lsu.lsu_label);
    STR("srv.name", c->srv.srv_server);
    NUM("srv.cap", (unsigned long long)c->srv.srv_cap[0] | ((unsigned long long)c->srv.srv_cap[1] << 32));
    NUM("srv.flags", c->srv.srv_flags);
    NUM("srv.lsu_count", c->srv.srv_lsu_count);
    NUM("srv.block_size", c->srv.srv_block_size);
    NUM("srv.api_version", c->srv.srv_api_version);
    STR("plugin.name", c->plug.pi_name);
    STR("plugin.vendor", c->plug.pi_vendor);
    STR("plugin.version", c->plug.pi_version);
    NUM("plugin.api_min", c->plug.pi_api_version_min);
    NUM("plugin.api_max", c->plug.pi_api_version_max);
    NUM("plugin.api", c->plug.pi_api_version);
    NUM("ev.id", c->ev.ev_id);
    NUM("ev.time", c->ev.ev_time_ms);
    NUM("ev.op_id", c->ev.ev_op_id);
    NUM("ev.bytes", c->ev.ev_bytes);
    NUM("ev.type", c->ev.ev_type);
    NUM("ev.status", (unsigned)c->ev.ev_status);
    STR("ev.lsu", c->ev.ev_lsu.sln_name);
    STR("ev.name", c->ev.ev_image.img_basename);
    STR("ev.date", c->ev.ev_image.img_date);
    STR("ev.op_name", c->ev.ev_op_name);
    STR("ev.text", c->ev.ev_text);
    NUM("op_status", (unsigned)c->op_status);
    NUM("op_id", c->op_id);
    NUM("rc", c->rc);
    NUM("bytes", c->bytes);
    NUM("count", c->count);
    NUM("exit", c->exitst);
    STR("sha1", c->sha1);
#undef NUM
#undef STR
    snprintf(err, errlen, "unknown field @%s", name);
    return -1;
}

static int p_or(parser_t *P, val_t *v);

static int p_atom(parser_t *P, val_t *v)
{
    char name[128];
    size_t n = 0;
    skipsp(P);
    v->is_str = 0;
    v->n = 0;
    if (*P->p == '(') {
        P->p++;
        if (p_or(P, v)) return -1;
        skipsp(P);
        if (*P->p != ')') {
            snprintf(P->err, sizeof P->err, "missing ')'");
            return -1;
        }
        P->p++;
        return 0;
    }
    if (isdigit((unsigned char)*P->p)) {
        char *end;
        errno = 0;
        v->n = strtoull(P->p, &end, 0);
        if (errno) {
            snprintf(P->err, sizeof P->err, "bad number");
            return -1;
        }
        P->p = end;
        switch (*P->p) {
        case 'K': case 'k': v->n <<= 10; P->p++; break;
        case 'M': case 'm': v->n <<= 20; P->p++; break;
        case 'G': case 'g': v->n <<= 30; P->p++; break;
        case 'T': case 't': v->n <<= 40; P->p++; break;
        default: break;
        }
        if (isalnum((unsigned char)*P->p) || *P->p == '_') {
            snprintf(P->err, sizeof P->err, "bad number suffix '%c'", *P->p);
            return -1;
        }
        return 0;
    }
    if (*P->p == '$' || *P->p == '@') {
        int at = *P->p == '@';
        P->p++;
        while (isalnum((unsigned char)*P->p) || *P->p == '_' || (at && *P->p == '.'))
            if (n + 1 < sizeof name) name[n++] = *P->p++;
            else P->p++;
        name[n] = '\0';
        if (at) return field_value(P->c, name, v, P->err, sizeof P->err);
        {
            var_t *var = var_find(P->c, name);
            if (!var) {
                char tmp[STRVAL];
                if (builtin_var(P->c, name, tmp, sizeof tmp) == 0) {
                    v->is_str = 1;
                    snprintf(v->s, sizeof v->s, "%s", tmp);
                    return 0;
                }
                snprintf(P->err, sizeof P->err, "undefined variable $%s", name);
                return -1;
            }
            if (var->type == VT_INT) v->n = var->n;
            else if (var->type == VT_STR) {
                v->is_str = 1;
                snprintf(v->s, sizeof v->s, "%s", var->s);
            } else {
                snprintf(P->err, sizeof P->err, "$%s is a %s, not a value", name, vt_names[var->type]);
                return -1;
            }
            return 0;
        }
    }
    if (isalpha((unsigned char)*P->p) || *P->p == '_') {
        unsigned long long cv;
        int code;
        while (isalnum((unsigned char)*P->p) || *P->p == '_')
            if (n + 1 < sizeof name) name[n++] = *P->p++;
            else P->p++;
        name[n] = '\0';
        if (const_lookup(name, &cv) == 0) {
            v->n = cv;
            return 0;
        }
        if (!strncmp(name, "STS_E", 5) && code_parse(name, &code) == 0) {
            v->n = (unsigned long long)code;
            return 0;
        }
        if (!strncmp(name, "CAP_", 4) || !strncmp(name, "STS_CAP_", 8)) {
            static const char *caps[] = { "CLAIM", "OPEN_SERVER", "CLOSE_SERVER", "GET_SERVER_PROP",
                "GET_SERVER_PROP_BYNAME", "LSU_LIST", "GET_LSU_PROP_BYNAME", "CREATE_IMAGE",
                "WRITE_IMAGE", "FLUSH", "CLOSE_IMAGE", "OPEN_IMAGE", "READ_IMAGE", "DELETE_IMAGE",
                "IMAGE_LIST", "GET_IMAGE_PROP", "GET_IMAGE_PROP_BYNAME", "READ_IMAGE_META",
                "WRITE_IMAGE_META", "OPEN_TARGET_SERVER", "COPY_EXTENT", "COPY_IMAGE",
                "INCLUDE_IN_IMAGE", "ASYNC_COPY_IMAGE", "NAMED_ASYNC_COPY_IMAGE",
                "NAMED_ASYNC_WAIT", "NAMED_ASYNC_CANCEL", "EVCHANNEL", "LABEL_LSU" };
            const char *cn = strstr(name, "CAP_") + 4;
            size_t i;
            for (i = 0; i < sizeof caps / sizeof caps[0]; i++)
                if (!strcmp(caps[i], cn)) {
                    v->n = 1ull << i;
                    return 0;
                }
        }
        snprintf(P->err, sizeof P->err, "unknown name '%s'", name);
        return -1;
    }
    snprintf(P->err, sizeof P->err, "unexpected '%s'", P->p);
    return -1;
}

static int p_mul(parser_t *P, val_t *v)
{
    if (p_atom(P, v)) return -1;
    for (;;) {
        val_t r;
        char op;
        skipsp(P);
        op = *P->p;
        if (op != '*' && op != '/') return 0;
        P->p++;
        if (p_atom(P, &r)) return -1;
        if (v->is_str || r.is_str) {
            snprintf(P->err, sizeof P->err, "arithmetic on a string");
            return -1;
        }
        if (op == '*') v->n *= r.n;
        else if (r.n) v->n /= r.n;
        else {
            snprintf(P->err, sizeof P->err, "division by zero");
            return -1;
        }
    }
}

static int p_add(parser_t *P, val_t *v)
{
    if (p_mul(P, v)) return -1;
    for (;;) {
        val_t r;
        char op;
        skipsp(P);
        op = *P->p;
        if (op != '+' && op != '-') return 0;
        P->p++;
        if (p_mul(P, &r)) return -1;
        if (v->is_str || r.is_str) {
            snprintf(P->err, sizeof P->err, "arithmetic on a string");
            return -1;
        }
        v->n = op == '+' ? v->n + r.n : v->n - r.n;
    }
}

static int p_or(parser_t *P, val_t *v)
{
    if (p_add(P, v)) return -1;
    for (;;) {
        val_t r;
        skipsp(P);
        if (*P->p != '|') return 0;
        P->p++;
        if (p_add(P, &r)) return -1;
        if (v->is_str || r.is_str) {
            snprintf(P->err, sizeof P->err, "'|' on a string");
            return -1;
        }
        v->n |= r.n;
    }
}

static int eval_str(ctx_t *c, const char *s, val_t *v)
{
    parser_t P;
    P.c = c;
    P.p = s;
    P.err[0] = '\0';
    if (p_or(&P, v)) return fail(c, "in expression '%s': %s", s, P.err);
    skipsp(&P);
    if (*P.p) return fail(c, "in expression '%s': unexpected '%s'", s, P.p);
    return 0;
}

/* evaluate tokens [i, j) as one side of an assertion / assignment:
 * a single quoted token is a string literal; a single bare word that is
 * not a known name is a string literal too */
static int eval_toks(ctx_t *c, tok_t **t, int n, val_t *v)
{
    char buf[MAXLINE];
    size_t o = 0;
    int i;
    if (n <= 0) return fail(c, "missing expression");
    if (n == 1 && t[0]->quoted) {
        v->is_str = 1;
        snprintf(v->s, sizeof v->s, "%.*s", (int)t[0]->len, t[0]->s);
        return 0;
    }
    for (i = 0; i < n; i++) {
        size_t l = strlen(t[i]->s);
        if (o + l + 2 >= sizeof buf) return fail(c, "expression too long");
        memcpy(buf + o, t[i]->s, l);
        o += l;
        buf[o++] = ' ';
    }
    buf[o ? o - 1 : 0] = '\0';
    if (n == 1 && t[0]->s[0] != '$' && t[0]->s[0] != '@' && t[0]->s[0] != '(' &&
        !isdigit((unsigned char)t[0]->s[0])) {
        parser_t P;
        val_t tmp;
        P.c = c;
        P.p = buf;
        if (p_or(&P, &tmp) != 0 || *P.p) {
            v->is_str = 1;
            snprintf(v->s, sizeof v->s, "%.4000s", buf);
            return 0;
        }
        *v = tmp;
        return 0;
    }
    return eval_str(c, buf, v);
}

static int get_num(ctx_t *c, args_t *a, const char *key, int required, unsigned long long def,
                   unsigned long long *out)
{
    int i = kv_index(a, key);
    val_t v;
    if (i < 0) {
        if (required) return fail(c, "missing argument %s=", key);
        *out = def;
        return 0;
    }
    if (eval_str(c, a->kv[i].val, &v)) return -1;
    if (v.is_str) return fail(c, "%s= must be a number, got \"%s\"", key, v.s);
    *out = v.n;
    return 0;
}

static int get_seed(ctx_t *c, args_t *a, int required, unsigned long long *seed)
{
    if (!has_kv(a, "seed")) {
        if (required) return fail(c, "missing argument seed=");
        *seed = 0;
        return 0;
    }
    if (get_num(c, a, "seed", 1, 0, seed)) return -1;
    c->seed = *seed;
    c->seed_set = 1;
    return 0;
}

/* ---------------- content: a seed stream, zeros, or a composition ----------------
 *
 * A composition describes an image made of pieces of other images: piece k
 * covers image offsets [start_k, start_k + len_k) and holds the bytes of the
 * stream of seed S_k from position AT_k (or zeros). Written "S:AT:LEN,..." in
 * order from image offset 0; `compose` builds one, `comp=` uses it. */

#define MAXPIECES 128

typedef struct {
    int zeros;
    unsigned long long seed, at, len, start;
} piece_t;

typedef struct {
    int comp; /* 0: the plain stream of `seed` (or zeros) at the same positions */
    int zeros;
    unsigned long long seed;
    int n;
    piece_t p[MAXPIECES];
    unsigned long long total;
} content_t;

static void content_seed(content_t *ct, unsigned long long seed)
{
    memset(ct, 0, sizeof *ct);
    ct->seed = seed;
}

static void content_zeros(content_t *ct)
{
    memset(ct, 0, sizeof *ct);
    ct->zeros = 1;
}

/* the piece holding position pos, or -1 past the end */
static int piece_at(const content_t *ct, unsigned long long pos)
{
    int lo = 0, hi = ct->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        const piece_t *p = &ct->p[mid];
        if (pos < p->start) hi = mid - 1;
        else if (pos >= p->start + p->len) lo = mid + 1;
        else return mid;
    }
    return -1;
}

static void content_fill(const content_t *ct, unsigned long long pos, void *bufv, size_t len)
{
    unsigned char *buf = bufv;
    if (!ct->comp) {
        if (ct->zeros) memset(buf, 0, len);
        else pattern_fill(ct->seed, pos, buf, len);
        return;
    }
    while (len) {
        int k = piece_at(ct, pos);
        const piece_t *p;
        size_t n;
        if (k < 0) { /* past the composition: zeros */
            memset(buf, 0, len);
            return;
        }
        p = &ct->p[k];
        n = p->start + p->len - pos < len ? (size_t)(p->start + p->len - pos) : len;
        if (p->zeros) memset(buf, 0, n);
        else pattern_fill(p->seed, p->at + (pos - p->start), buf, n);
        buf += n;
        pos += n;
        len -= n;
    }
}

static size_t zeros_mismatch(const unsigned char *b, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (b[i]) return i;
    return n;
}

/* index of the first byte of buf differing from the content at pos, or len */
static size_t content_mismatch(const content_t *ct, unsigned long long pos, const void *bufv, size_t len)
{
    const unsigned char *buf = bufv;
    size_t done = 0;
    if (!ct->comp) return ct->zeros ? zeros_mismatch(buf, len) : pattern_mismatch(ct->seed, pos, buf, len);
    while (done < len) {
        int k = piece_at(ct, pos + done);
        const piece_t *p;
        size_t n, bad;
        if (k < 0) {
            bad = zeros_mismatch(buf + done, len - done);
            return done + bad;
        }
        p = &ct->p[k];
        n = p->start + p->len - (pos + done) < len - done ? (size_t)(p->start + p->len - (pos + done)) : len - done;
        bad = p->zeros ? zeros_mismatch(buf + done, n)
                       : pattern_mismatch(p->seed, p->at + (pos + done - p->start), buf + done, n);
        if (bad < n) return done + bad;
        done += n;
    }
    return len;
}

/* where the expected byte at pos comes from, for messages */
static void content_where(const content_t *ct, unsigned long long pos, char *out, size_t outlen)
{
    int k;
    if (!ct->comp) {
        if (ct->zeros) snprintf(out, outlen, "zeros");
        else snprintf(out, outlen, "seed %llu position %llu", ct->seed, pos);
        return;
    }
    k = piece_at(ct, pos);
    if (k < 0) snprintf(out, outlen, "past the composition's end %llu", ct->total);
    else if (ct->p[k].zeros)
        snprintf(out, outlen, "piece #%d [%llu, +%llu): zeros", k + 1, ct->p[k].start, ct->p[k].len);
    else
        snprintf(out, outlen, "piece #%d [%llu, +%llu): seed %llu position %llu", k + 1, ct->p[k].start,
                 ct->p[k].len, ct->p[k].seed, ct->p[k].at + (pos - ct->p[k].start));
}

/* SHA-1 (hex) of [0, size) of the content */
static void content_sha1(const content_t *ct, unsigned long long size, char hex[41])
{
    static const size_t chunk = 1u << 20;
    unsigned char *buf, dg[20];
    unsigned long long pos = 0;
    sha1_ctx sc;
    if (!ct->comp && !ct->zeros) {
        pattern_sha1(ct->seed, size, hex);
        return;
    }
    buf = xmalloc(chunk);
    sha1_init(&sc);
    while (pos < size) {
        size_t n = size - pos < chunk ? (size_t)(size - pos) : chunk;
        content_fill(ct, pos, buf, n);
        sha1_update(&sc, buf, n);
        pos += n;
    }
    sha1_final(&sc, dg);
    sha1_hex(dg, hex);
    free(buf);
}

/* parse "S:AT:LEN[,S:AT:LEN...]" (pieces also separated by blanks; S is an
 * expression or "zeros"; AT and LEN are expressions) */
static int parse_comp(ctx_t *c, const char *spec, content_t *ct)
{
    const char *p = spec;
    memset(ct, 0, sizeof *ct);
    ct->comp = 1;
    for (;;) {
        char piece[512], *f[3], *colon;
        size_t l;
        int k;
        val_t v;
        piece_t *pc;
        while (*p == ',' || *p == ' ' || *p == '\t') p++;
        if (!*p) break;
        l = strcspn(p, ", \t");
        if (l >= sizeof piece) return fail(c, "composition piece too long: '%.60s...'", p);
        memcpy(piece, p, l);
        piece[l] = '\0';
        p += l;
        f[0] = piece;
        for (k = 1; k < 3; k++) {
            colon = strchr(f[k - 1], ':');
            if (!colon) return fail(c, "composition piece '%s': use SEED:AT:LEN (SEED may be zeros)", piece);
            *colon = '\0';
            f[k] = colon + 1;
        }
        if (strchr(f[2], ':')) return fail(c, "composition piece '%s:%s:%s': use SEED:AT:LEN", f[0], f[1], f[2]);
        if (ct->n == MAXPIECES) return fail(c, "more than %d pieces in a composition", MAXPIECES);
        pc = &ct->p[ct->n];
        memset(pc, 0, sizeof *pc);
        if (!strcmp(f[0], "zeros")) pc->zeros = 1;
        else {
            if (eval_str(c, f[0], &v)) return -1;
            if (v.is_str) return fail(c, "composition: seed '%s' is not a number", f[0]);
            pc->seed = v.n;
        }
        if (eval_str(c, f[1], &v)) return -1;
        if (v.is_str) return fail(c, "composition: offset '%s' is not a number", f[1]);
        pc->at = pc->zeros ? 0 : v.n;
        if (eval_str(c, f[2], &v)) return -1;
        if (v.is_str) return fail(c, "composition: length '%s' is not a number", f[2]);
        pc->len = v.n;
        if (pc->len == 0) continue; /* empty pieces add nothing */
        pc->start = ct->total;
        ct->total += pc->len;
        ct->n++;
    }
    if (ct->n == 0) return fail(c, "empty composition '%s'", spec);
    return 0;
}

/* the canonical text of a composition: "S:AT:LEN,..." in decimal */
static void comp_text(const content_t *ct, char *out, size_t outlen)
{
    size_t o = 0;
    int k;
    out[0] = '\0';
    for (k = 0; k < ct->n && o + 1 < outlen; k++) {
        const piece_t *p = &ct->p[k];
        if (p->zeros) o += (size_t)snprintf(out + o, outlen - o, "%szeros:0:%llu", k ? "," : "", p->len);
        else o += (size_t)snprintf(out + o, outlen - o, "%s%llu:%llu:%llu", k ? "," : "", p->seed, p->at, p->len);
    }
}

/* the content named by a step's arguments: comp=SPEC|$var, seed=S or the
 * word zeros. Returns 1 if given, 0 if not (ct = seed 0), -1 on error. */
static int get_content(ctx_t *c, args_t *a, int required, content_t *ct)
{
    int i = kv_index(a, "comp");
    content_seed(ct, 0);
    if (i >= 0) {
        const char *spec = a->kv[i].val;
        if (has_kv(a, "seed") || has_word(a, "zeros")) return fail(c, "comp= and seed=/zeros exclude each other");
        if (spec[0] == '$' && !a->kv[i].quoted) {
            var_t *v = var_find(c, spec);
            if (!v) return fail(c, "undefined variable %s", spec);
            if (v->type != VT_STR) return fail(c, "%s is a %s, not a composition", spec, vt_names[v->type]);
            spec = v->s;
        }
        return parse_comp(c, spec, ct) ? -1 : 1;
    }
    if (has_word(a, "zeros")) {
        content_zeros(ct);
        return 1;
    }
    if (has_kv(a, "seed")) {
        unsigned long long seed = 0;
        if (get_seed(c, a, 1, &seed)) return -1;
        content_seed(ct, seed);
        return 1;
    }
    if (required) return fail(c, "missing argument seed= (or comp=)");
    return 0;
}

/* a handle operand: $var (any handle kind, even closed or of another
 * kind), "null", or a literal such as 0x1234 */
static int get_handle(ctx_t *c, tok_t *t, int want, void **outp)
{
    if (!t) return fail(c, "missing handle operand");
    if (!strcmp(t->s, "null") || !strcmp(t->s, "NULL")) {
        *outp = NULL;
        return 0;
    }
    if (t->s[0] == '$') {
        var_t *v = var_find(c, t->s);
        if (!v) return fail(c, "undefined handle %s", t->s);
        if (v->type < VT_SRV || v->type > VT_EVC)
            return fail(c, "%s is a %s, not a handle", t->s, vt_names[v->type]);
        if (want && v->type != want)
            out(c, "note: passing %s (%s) where a %s is expected", t->s, vt_names[v->type],
                vt_names[want]);
        *outp = v->p;
        return 0;
    }
    if (isdigit((unsigned char)t->s[0])) {
        char *end;
        unsigned long long n = strtoull(t->s, &end, 0);
        if (!*end) {
            *outp = (void *)(uintptr_t)n;
            return 0;
        }
    }
    return fail(c, "bad handle operand '%s' (use $name, null or a number)", t->s);
}

/* allowed keywords per command (space separated); NULL = anything */
static int check_keys(ctx_t *c, args_t *a, const char *allowed)
{
    int i;
    if (!allowed) return 0;
    for (i = 0; i < a->nkv; i++) {
        const char *k = a->kv[i].key;
        const char *p = allowed;
        size_t kl = strlen(k);
        int ok = 0;
        while (*p) {
            const char *e = strchr(p, ' ');
            size_t l = e ? (size_t)(e - p) : strlen(p);
            if (l == kl && !strncmp(p, k, l)) ok = 1;
            if (!e) break;
            p = e + 1;
        }
        if (!ok) return fail(c, "unknown argument %s= (allowed: %s)", k, allowed);
    }
    return 0;
}

/* ---------------- expected return codes ---------------- */

static int expect_has(ctx_t *c, args_t *a, int rc, int *matched)
{
    const char *p = a->expect;
    *matched = 0;
    if (!p) {
        *matched = rc == STS_EOK;
        return 0;
    }
    if (!strcmp(p, "any")) {
        *matched = 1;
        return 0;
    }
    while (*p) {
        const char *e = strchr(p, '|');
        char buf[64];
        size_t l = e ? (size_t)(e - p) : strlen(p);
        int code;
        if (l >= sizeof buf) return fail(c, "bad expected code list '%s'", a->expect);
        memcpy(buf, p, l);
        buf[l] = '\0';
        if (code_parse(buf, &code) != 0) return fail(c, "unknown return code '%s'", buf);
        if (code == rc) *matched = 1;
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

/* check a call's return code against the line's expectation */
static int chk(ctx_t *c, args_t *a, const char *fn, int rc)
{
    int m;
    c->rc = rc;
    c->called = 1;
    if (expect_has(c, a, rc, &m)) return -1;
    if (!m)
        return fail(c, "%s returned %s (plugin: \"%s\"), expected %s", fn, code_name(rc),
                    plugin_says(rc), a->expect ? a->expect : "STS_EOK");
    return 0;
}

/* for composite steps: every call must return STS_EOK */
static int must(ctx_t *c, const char *what, int rc)
{
    c->rc = rc;
    c->called = 1;
    if (rc != STS_EOK)
        return fail(c, "%s returned %s (plugin: \"%s\")", what, code_name(rc), plugin_says(rc));
    return 0;
}

/* out-parameters must be untouched when a call fails (stspi.h) */
static void sentinel(void *p, size_t n) { memset(p, 0xA5, n); }
static int untouched(ctx_t *c, const char *fn, const char *what, const void *p, size_t n, int rc)
{
    const unsigned char *b = p;
    size_t i;
    for (i = 0; i < n; i++)
        if (b[i] != 0xA5)
            return fail(c, "%s returned %s but wrote its out-parameter %s (byte %zu)", fn,
                        code_name(rc), what, i);
    return 0;
}

#define NEED(fn)                                                                         \
    do {                                                                                 \
        if (!A.fn) return fail(c, "plugin does not export %s", api_symbol_of(&A, &A.fn)); \
    } while (0)

/* ================================================================== */
/* Building API arguments                                             */
/* ================================================================== */

static int make_lsu_k(ctx_t *c, args_t *a, tok_t *srvtok, const char *key, sts_lsu_t *lsu)
{
    char name[STRVAL];
    long l;
    void *h;
    memset(lsu, 0, sizeof *lsu);
    if (get_handle(c, srvtok, VT_SRV, &h)) return -1;
    lsu->sl_server_handle = h;
    if ((l = get_str(c, a, key, "default", name, sizeof name)) < 0) return -1;
    copy_fixed(lsu->sl_lsu_name.sln_name, sizeof lsu->sl_lsu_name.sln_name, name, (size_t)l);
    return 0;
}

static int make_def_k(ctx_t *c, args_t *a, const char *nk, const char *dk, const char *fk,
                      sts_image_def_t *def)
{
    char buf[STRVAL];
    long l;
    unsigned long long f;
    memset(def, 0, sizeof *def);
    if ((l = get_str(c, a, nk, NULL, buf, sizeof buf)) < 0) return -1;
    copy_fixed(def->img_basename, sizeof def->img_basename, buf, (size_t)l);
    if ((l = get_str(c, a, dk, "", buf, sizeof buf)) < 0) return -1;
    copy_fixed(def->img_date, sizeof def->img_date, buf, (size_t)l);
    if (get_num(c, a, fk, 0, 0, &f)) return -1;
    def->img_flags = (sts_uint32_t)f;
    return 0;
}

static int make_lsu(ctx_t *c, args_t *a, tok_t *srvtok, sts_lsu_t *lsu)
{
    return make_lsu_k(c, a, srvtok, "lsu", lsu);
}

static int make_def(ctx_t *c, args_t *a, sts_image_def_t *def)
{
    return make_def_k(c, a, "name", "date", "imgflags", def);
}

/* name/date item as used by `images` */
static void def_str(const sts_image_def_t *d, char *buf, size_t len)
{
    snprintf(buf, len, "%.*s/%.*s", (int)sizeof d->img_basename, d->img_basename,
             (int)sizeof d->img_date, d->img_date);
}

static void describe_img(ctx_t *c)
{
    char f[256];
    image_flags_str(c->img.imo_flags, f, sizeof f);
    note(c, "size=%llu flags=%s extents=%llu sha1=%.48s objid=%.64s",
         (unsigned long long)c->img.imo_size, f, (unsigned long long)c->img.imo_extent_count,
         c->img.imo_sha1[0] ? c->img.imo_sha1 : "\"\"", c->img.imo_objid[0] ? c->img.imo_objid : "\"\"");
}

/* buffers for raw calls: lengths up to and beyond STS_MAX_IO_SIZE are
 * mapped lazily so "too big" cases never fault in the harness */
static void *buf_alloc(unsigned long long len)
{
    void *p;
    size_t n = (size_t)(len ? len : 1);
    p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        fprintf(stderr, "replay: mmap %zu bytes failed\n", n);
        exit(3);
    }
    return p;
}
static void buf_free(void *p, unsigned long long len) { munmap(p, (size_t)(len ? len : 1)); }

/* ================================================================== */
/* Commands: lifecycle and servers                                    */
/* ================================================================== */

typedef int (*cmd_fn)(ctx_t *, args_t *);

static int c_init(ctx_t *c, args_t *a)
{
    unsigned long long ver;
    sts_plugin_info_t info;
    int rc;
    NEED(init);
    if (get_num(c, a, "version", 0, STS_VERSION, &ver)) return -1;
    sentinel(&info, sizeof info);
    rc = A.init((sts_uint32_t)ver, want_null(a, "info") ? NULL : &info);
    if (chk(c, a, "stsp_init", rc)) return -1;
    if (rc != STS_EOK) return untouched(c, "stsp_init", "info", &info, sizeof info, rc);
    c->plug = info;
    note(c, "%.64s / %.64s / %.64s api %u (min %u max %u)", info.pi_name, info.pi_vendor,
         info.pi_version, info.pi_api_version, info.pi_api_version_min, info.pi_api_version_max);
    return 0;
}

static int c_terminate(ctx_t *c, args_t *a)
{
    NEED(terminate);
    return chk(c, a, "stsp_terminate", A.terminate());
}

static int c_claim(ctx_t *c, args_t *a)
{
    char name[STRVAL];
    NEED(claim);
    if (get_str(c, a, "name", g_server_name, name, sizeof name) < 0) return -1;
    return chk(c, a, "stsp_claim", A.claim(want_null(a, "name") ? NULL : name));
}

static int c_strerror(ctx_t *c, args_t *a)
{
    int code;
    const char *s;
    char want[STRVAL];
    NEED(strerror);
    if (a->npos < 1 || code_parse(a->pos[0]->s, &code)) return fail(c, "strerror CODE");
    s = A.strerror(code);
    if (!s) return fail(c, "stsp_strerror(%d) returned NULL", code);
    note(c, "\"%s\"", s);
    if (has_kv(a, "contains")) {
        if (get_str(c, a, "contains", NULL, want, sizeof want) < 0) return -1;
        if (!strstr(s, want)) return fail(c, "stsp_strerror(%d) = \"%s\" lacks \"%s\"", code, s, want);
    }
    return 0;
}

static int get_cred(ctx_t *c, args_t *a, sts_cred_t *cred, const sts_cred_t **out)
{
    char buf[STRVAL];
    long l;
    *out = NULL;
    if (!has_kv(a, "user") && !has_kv(a, "secret")) return 0;
    memset(cred, 0, sizeof *cred);
    if ((l = get_str(c, a, "user", "", buf, sizeof buf)) < 0) return -1;
    copy_fixed(cred->sc_user, sizeof cred->sc_user, buf, (size_t)l);
    if ((l = get_str(c, a, "secret", "", buf, sizeof buf)) < 0) return -1;
    copy_fixed(cred->sc_secret, sizeof cred->sc_secret, buf, (size_t)l);
    *out = cred;
    return 0;
}

static int c_open_server(ctx_t *c, args_t *a)
{
    char name[STRVAL];
    sts_cred_t cred;
    const sts_cred_t *cp;
    sts_server_handle_t sh;
    int rc;
    NEED(open_server);
    if (a->npos < 1 || a->pos[0]->s[0] != '$') return fail(c, "open_server $srv [name=...]");
    if (get_str(c, a, "name", g_server_name, name, sizeof name) < 0) return -1;
    if (get_cred(c, a, &cred, &cp)) return -1;
    sentinel(&sh, sizeof sh);
    rc = A.open_server(want_null(a, "name") ? NULL : name, cp, want_null(a, "sh") ? NULL : &sh);
    if (chk(c, a, "stsp_open_server", rc)) return -1;
    if (rc != STS_EOK) return untouched(c, "stsp_open_server", "sh", &sh, sizeof sh, rc);
    var_set_ptr(c, a->pos[0]->s, VT_SRV, sh);
    return 0;
}

static int c_close_server(ctx_t *c, args_t *a)
{
    void *h;
    NEED(close_server);
    if (get_handle(c, a->npos ? a->pos[0] : NULL, VT_SRV, &h)) return -1;
    return chk(c, a, "stsp_close_server", A.close_server(h));
}

static void describe_srv(ctx_t *c)
{
    char f[256];
    srv_flags_str(c->srv.srv_flags, f, sizeof f);
    note(c, "%.1024s lsus=%u flags=%s block=%u api=%u cap=%08x%08x", c->srv.srv_server,
         c->srv.srv_lsu_count, f, c->srv.srv_block_size, c->srv.srv_api_version,
         c->srv.srv_cap[1], c->srv.srv_cap[0]);
}

static int c_get_server_prop(ctx_t *c, args_t *a)
{
    void *h;
    sts_server_info_t info;
    int rc;
    NEED(get_server_prop);
    if (get_handle(c, a->npos ? a->pos[0] : NULL, VT_SRV, &h)) return -1;
    sentinel(&info, sizeof info);
    rc = A.get_server_prop(h, want_null(a, "info") ? NULL : &info);
    if (chk(c, a, "stsp_get_server_prop", rc)) return -1;
    if (rc != STS_EOK) return untouched(c, "stsp_get_server_prop", "info", &info, sizeof info, rc);
    c->srv = info;
    describe_srv(c);
    return 0;
}

static int c_get_server_prop_byname(ctx_t *c, args_t *a)
{
    char name[STRVAL];
    sts_cred_t cred;
    const sts_cred_t *cp;
    sts_server_info_t info;
    int rc;
    NEED(get_server_prop_byname);
    if (get_str(c, a, "name", g_server_name, name, sizeof name) < 0) return -1;
    if (get_cred(c, a, &cred, &cp)) return -1;
    sentinel(&info, sizeof info);
    rc = A.get_server_prop_byname(want_null(a, "name") ? NULL : name, cp,
                                  want_null(a, "info") ? NULL : &info);
    if (chk(c, a, "stsp_get_server_prop_byname", rc)) return -1;
    if (rc != STS_EOK)
        return untouched(c, "stsp_get_server_prop_byname", "info", &info, sizeof info, rc);
    c->srv = info;
    describe_srv(c);
    return 0;
}

/* ================================================================== */
/* Commands: LSUs                                                     */
/* ================================================================== */

static int c_open_lsu_list(ctx_t *c, args_t *a)
{
    void *sh;
    sts_lsu_list_handle_t lh;
    int rc;
    NEED(open_lsu_list);
    if (a->npos < 2 || a->pos[0]->s[0] != '$') return fail(c, "open_lsu_list $list $srv");
    if (get_handle(c, a->pos[1], VT_SRV, &sh)) return -1;
    sentinel(&lh, sizeof lh);
    rc = A.open_lsu_list(sh, want_null(a, "lh") ? NULL : &lh);
    if (chk(c, a, "stsp_open_lsu_list", rc)) return -1;
    if (rc != STS_EOK) return untouched(c, "stsp_open_lsu_list", "lh", &lh, sizeof lh, rc);
    var_set_ptr(c, a->pos[0]->s, VT_LLIST, lh);
    return 0;
}

static int c_list_lsu(ctx_t *c, args_t *a)
{
    void *lh;
    sts_lsu_name_t nm;
    int rc;
    char want[STRVAL];
    NEED(list_lsu);
    if (get_handle(c, a->npos ? a->pos[0] : NULL, VT_LLIST, &lh)) return -1;
    sentinel(&nm, sizeof nm);
    rc = A.list_lsu(lh, want_null(a, "name") ? NULL : &nm);
    if (chk(c, a, "stsp_list_lsu", rc)) return -1;
    if (rc != STS_EOK) return untouched(c, "stsp_list_lsu", "name", &nm, sizeof nm, rc);
    note(c, "\"%.128s\"", nm.sln_name);
    if (has_kv(a, "name")) {
        if (get_str(c, a, "name", NULL, want, sizeof want) < 0) return -1;
        if (strncmp(nm.sln_name, want, sizeof nm.sln_name) != 0)
            return fail(c, "stsp_list_lsu gave \"%.128s\", expected \"%s\"", nm.sln_name, want);
    }
    return 0;
}

static int c_close_lsu_list(ctx_t *c, args_t *a)
{
    void *lh;
    NEED(close_lsu_list);
    if (get_handle(c, a->npos ? a->pos[0] : NULL, VT_LLIST, &lh)) return -1;
    return chk(c, a, "stsp_close_lsu_list", A.close_lsu_list(lh));
}

/* compare a listing with the expected items: OP is == (exact, in order),
 * has (each present) or lacks (none present) */
static int compare_list(ctx_t *c, const char *what, char **got, int ngot, args_t *a, int first)
{
    const char *op;
    int i, j;
    char all[4096];
    size_t o = 0;
    all[0] = '\0';
    for (i = 0; i < ngot && o + 2 < sizeof all; i++)
        o += (size_t)snprintf(all + o, sizeof all - o, "%s%s", i ? " " : "", got[i]);
    c->count = (unsigned long long)ngot;
    note(c, "%d: %s", ngot, all);
    if (a->npos <= first) return 0;
    op = a->pos[first]->s;
    if (!strcmp(op, "==")) {
        int nwant = a->npos - first - 1;
        for (i = 0; i < nwant && i < ngot; i++)
            if (strcmp(got[i], a->pos[first + 1 + i]->s) != 0) break;
        if (i != nwant || nwant != ngot) {
            char exp[4096];
            size_t e = 0;
            exp[0] = '\0';
            for (j = 0; j < nwant && e + 2 < sizeof exp; j++)
                e += (size_t)snprintf(exp + e, sizeof exp - e, "%s%s", j ? " " : "", a->pos[first + 1 + j]->s);
            return fail(c, "%s listed [%s], expected exactly [%s]", what, all, exp);
        }
        return 0;
    }
    if (!strcmp(op, "has") || !strcmp(op, "lacks")) {
        int want_present = op[0] == 'h';
        for (j = first + 1; j < a->npos; j++) {
            int found = 0;
            for (i = 0; i < ngot; i++)
                if (!strcmp(got[i], a->pos[j]->s)) found = 1;
            if (found != want_present)
                return fail(c, "%s %s %s (listed: [%s])", what, want_present ? "lacks" : "has",
                            a->pos[j]->s, all);
        }
        return 0;
    }
    return fail(c, "list operator must be ==, has or lacks, not '%s'", op);
}

static int c_lsus(ctx_t *c, args_t *a)
{
    void *sh;
    sts_lsu_list_handle_t lh;
    char *got[512];
    int n = 0, rc, i, res;
    NEED(open_lsu_list);
    NEED(list_lsu);
    NEED(close_lsu_list);
    if (get_handle(c, a->npos ? a->pos[0] : NULL, VT_SRV, &sh)) return -1;
    if (must(c, "stsp_open_lsu_list", A.open_lsu_list(sh, &lh))) return -1;
    for (;;) {
        sts_lsu_name_t nm;
        rc = A.list_lsu(lh, &nm);
        if (rc == STS_ENO_MORE) break;
        if (must(c, "stsp_list_lsu", rc)) return -1;
        if (n == 512) return fail(c, "too many LSUs");
        got[n] = xmalloc(sizeof nm.sln_name + 1);
        snprintf(got[n], sizeof nm.sln_name + 1, "%.128s", nm.sln_name);
        n++;
    }
    if (must(c, "stsp_close_lsu_list", A.close_lsu_list(lh))) return -1;
    res = compare_list(c, "LSU list", got, n, a, 1);
    for (i = 0; i < n; i++) free(got[i]);
    return res;
}

static int c_get_lsu_prop(ctx_t *c, args_t *a)
{
    sts_lsu_t lsu;
    sts_lsu_info_t info;
    int rc;
    char f[256];
    NEED(get_lsu_prop_byname);
    if (make_lsu(c, a, a->npos ? a->pos[0] : NULL, &lsu)) return -1;
    sentinel(&info, sizeof info);
    rc = A.get_lsu_prop_byname(want_null(a, "lsu") ? NULL : &lsu, want_null(a, "info") ? NULL : &info);
    if (chk(c, a, "stsp_get_lsu_prop_byname", rc)) return -1;
    if (rc != STS_EOK) return untouched(c, "stsp_get_lsu_prop_byname", "info", &info, sizeof info, rc);
    c->lsu = info;
    lsu_flags_str(info.lsu_flags, f, sizeof f);
    note(c, "capacity=%llu used=%llu used_phys=%llu images=%llu flags=%s block=%u label=\"%.128s\"",
         (unsigned long long)info.lsu_capacity, (unsigned long long)info.lsu_used,
         (unsigned long long)info.lsu_used_phys, (unsigned long long)info.lsu_images, f,
         info.lsu_block_size, info.lsu_label);
    return 0;
}

/* ================================================================== */
/* Commands: images                                                   */
/* ================================================================== */

static int c_create_image(ctx_t *c, args_t *a)
{
    sts_lsu_t lsu;
    sts_image_def_t def;
    sts_image_handle_t ih;
    unsigned long long pending;
    int rc;
    NEED(create_image);
    if (a->npos < 2 || a->pos[0]->s[0] != '$') return fail(c, "create_image $img $srv name=... [date=...]");
    if (make_lsu(c, a, a->pos[1], &lsu) || make_def(c, a, &def)) return -1;
    if (get_num(c, a, "pending", 0, 0, &pending)) return -1;
    sentinel(&ih, sizeof ih);
    rc = A.create_image(want_null(a, "lsu") ? NULL : &lsu, want_null(a, "def") ? NULL : &def,
                        (int)pending, want_null(a, "ih") ? NULL : &ih);
    if (chk(c, a, "stsp_create_image", rc)) return -1;
    if (rc != STS_EOK) return untouched(c, "stsp_create_image", "ih", &ih, sizeof ih, rc);
    var_set_ptr(c, a->pos[0]->s, VT_IMG, ih);
    return 0;
}

static int parse_mode(ctx_t *c, args_t *a, int *mode)
{
    char m[64];
    if (get_str(c, a, "mode", NULL, m, sizeof m) < 0) return -1;
    if (!strcmp(m, "read")) *mode = STS_O_READ;
    else if (!strcmp(m, "write")) *mode = STS_O_WRITE;
    else {
        val_t v;
        if (eval_str(c, m, &v)) return -1;
        *mode = (int)v.n;
    }
    return 0;
}

static int c_open_image(ctx_t *c, args_t *a)
{
    sts_lsu_t lsu;
    sts_image_def_t def;
    sts_image_handle_t ih;
    int rc, mode;
    NEED(open_image);
    if (a->npos < 2 || a->pos[0]->s[0] != '$')
        return fail(c, "open_image $img $srv name=... [date=...] mode=read|write");
    if (make_lsu(c, a, a->pos[1], &lsu) || make_def(c, a, &def) || parse_mode(c, a, &mode)) return -1;
    sentinel(&ih, sizeof ih);
    rc = A.open_image(want_null(a, "lsu") ? NULL : &lsu, want_null(a, "def") ? NULL : &def, mode,
                      want_null(a, "ih") ? NULL : &ih);
    if (chk(c, a, "stsp_open_image", rc)) return -1;
    if (rc != STS_EOK) return untouched(c, "stsp_open_image", "ih", &ih, sizeof ih, rc);
    var_set_ptr(c, a->pos[0]->s, VT_IMG, ih);
    return 0;
}

static int c_close_image(ctx_t *c, args_t *a)
{
    void *ih;
    unsigned long long flags = 0;
    NEED(close_image);
    if (get_handle(c, a->npos ? a->pos[0] : NULL, VT_IMG, &ih)) return -1;
    if (has_word(a, "complete")) flags = STS_CLOSEF_IH_COMPLETE;
    else if (has_word(a, "incomplete")) flags = STS_CLOSEF_IH_INCOMPLETE;
    if (get_num(c, a, "flags", 0, flags, &flags)) return -1;
    return chk(c, a, "stsp_close_image", A.close_image(ih, (int)flags));
}

static int c_flush(ctx_t *c, args_t *a)
{
    void *ih;
    NEED(flush);
    if (get_handle(c, a->npos ? a->pos[0] : NULL, VT_IMG, &ih)) return -1;
    return chk(c, a, "stsp_flush", A.flush(ih));
}

/* one stsp_write_image call */
static int c_write_image(ctx_t *c, args_t *a)
{
    void *ih;
    unsigned long long len, off, seed;
    sts_uint64_t bw;
    void *buf;
    sts_stat_t st;
    int rc;
    NEED(write_image);
    if (get_handle(c, a->npos ? a->pos[0] : NULL, VT_IMG, &ih)) return -1;
    if (get_num(c, a, "len", 1, 0, &len) || get_num(c, a, "off", 0, 0, &off) ||
        get_seed(c, a, 0, &seed))
        return -1;
    /* "uninit" hands the plugin uninitialised bytes (a valgrind self-test) */
    buf = has_word(a, "uninit") ? xmalloc((size_t)len) : buf_alloc(len);
    if (!has_word(a, "zeros") && !has_word(a, "uninit") && len <= STS_MAX_IO_SIZE)
        pattern_fill(seed, off, buf, (size_t)len);
    memset(&st, 0, sizeof st);
    sentinel(&bw, sizeof bw);
    rc = A.write_image(ih, has_word(a, "stat") ? &st : NULL, want_null(a, "buf") ? NULL : buf, len,
                       off, want_null(a, "written") ? NULL : &bw);
    if (has_word(a, "uninit")) free(buf);
    else buf_free(buf, len);
    if (chk(c, a, "stsp_write_image", rc)) return -1;
    if (rc != STS_EOK) return untouched(c, "stsp_write_image", "byteswritten", &bw, sizeof bw, rc);
    c->bytes = bw;
    count_written(bw);
    if (bw != len) return fail(c, "stsp_write_image: byteswritten=%llu, expected %llu", (unsigned long long)bw, len);
    return 0;
}

/* a loop of writes: size bytes from off in bs-byte writes */
static int c_write_data(ctx_t *c, args_t *a)
{
    void *ih;
    unsigned long long size, bs, off, flush_every, done = 0, since_flush = 0;
    unsigned char *buf;
    content_t ct;
    double t0 = now_s(), dt;
    NEED(write_image);
    if (get_handle(c, a->npos ? a->pos[0] : NULL, VT_IMG, &ih)) return -1;
    if (get_content(c, a, 1, &ct) < 0 || get_num(c, a, "bs", 0, 1u << 20, &bs) ||
        get_num(c, a, "off", 0, 0, &off) ||
        get_num(c, a, "size", !ct.comp, ct.comp && ct.total > off ? ct.total - off : 0, &size) ||
        get_num(c, a, "flush_every", 0, 0, &flush_every))
        return -1;
    if (bs == 0 || bs > STS_MAX_IO_SIZE) return fail(c, "bad bs=%llu", bs);
    c->called = 1;
    c->rc = STS_EOK;
    buf = xmalloc((size_t)bs);
    while (done < size) {
        unsigned long long n = size - done < bs ? size - done : bs;
        sts_uint64_t bw = 0;
        int rc;
        content_fill(&ct, off + done, buf, (size_t)n);
        rc = A.write_image(ih, NULL, buf, n, off + done, &bw);
        if (rc != STS_EOK) {
            free(buf);
            c->rc = rc;
            return fail(c, "stsp_write_image(len=%llu, off=%llu) returned %s (plugin: \"%s\") after %llu bytes",
                        n, off + done, code_name(rc), plugin_says(rc), done);
        }
        if (bw != n) {
            free(buf);
            return fail(c, "stsp_write_image(len=%llu, off=%llu): byteswritten=%llu", n, off + done, (unsigned long long)bw);
        }
        count_written(n);
        done += n;
        since_flush += n;
        if (flush_every && since_flush >= flush_every) {
            NEED(flush);
            if (must(c, "stsp_flush", A.flush(ih))) {
                free(buf);
                return -1;
            }
            since_flush = 0;
        }
    }
    free(buf);
    dt = now_s() - t0;
    c->bytes = done;
    note(c, "%llu bytes at %.1f MiB/s", done, dt > 0 ? (double)done / 1048576.0 / dt : 0.0);
    return 0;
}

/* check n bytes read at image offset off against the content from
 * position pos (pos == off unless the range was copied from elsewhere) */
static int check_content(ctx_t *c, const char *what, const unsigned char *buf, unsigned long long n,
                         unsigned long long off, unsigned long long pos, const content_t *ct)
{
    size_t bad = content_mismatch(ct, pos, buf, (size_t)n);
    if (bad < n) {
        unsigned char exp = 0;
        char where[256];
        content_fill(ct, pos + bad, &exp, 1);
        content_where(ct, pos + bad, where, sizeof where);
        return fail(c, "%s: content differs at byte %llu (0x%02x, expected 0x%02x from %s)", what,
                    off + (unsigned long long)bad, buf[bad], exp, where);
    }
    return 0;
}

static int c_read_image(ctx_t *c, args_t *a)
{
    void *ih;
    unsigned long long len, off, got;
    sts_uint64_t br;
    unsigned char *buf;
    int rc, res = 0, check;
    content_t ct;
    NEED(read_image);
    if (get_handle(c, a->npos ? a->pos[0] : NULL, VT_IMG, &ih)) return -1;
    if (get_num(c, a, "len", 1, 0, &len) || get_num(c, a, "off", 0, 0, &off) ||
        (check = get_content(c, a, 0, &ct)) < 0)
        return -1;
    buf = buf_alloc(len);
    sentinel(&br, sizeof br);
    rc = A.read_image(ih, want_null(a, "buf") ? NULL : buf, len, off, want_null(a, "read") ? NULL : &br);
    if (chk(c, a, "stsp_read_image", rc)) {
        buf_free(buf, len);
        return -1;
    }
    if (rc != STS_EOK) {
        buf_free(buf, len);
        return untouched(c, "stsp_read_image", "bytesread", &br, sizeof br, rc);
    }
    c->bytes = br;
    count_read(br);
    note(c, "bytesread=%llu", (unsigned long long)br);
    if (br > len) res = fail(c, "stsp_read_image: bytesread=%llu > len=%llu", (unsigned long long)br, len);
    if (!res && has_kv(a, "got")) {
        if (get_num(c, a, "got", 1, 0, &got)) res = -1;
        else if (br != got) res = fail(c, "stsp_read_image: bytesread=%llu, expected %llu", (unsigned long long)br, got);
    }
    if (!res && check) res = check_content(c, "stsp_read_image", buf, br, off, off, &ct);
    buf_free(buf, len);
    return res;
}

/* sequential verification of [off, off+size) against the seed */
static int verify_range_at(ctx_t *c, void *ih, unsigned long long off, unsigned long long at,
                           unsigned long long size, unsigned long long bs, const content_t *ct,
                           sha1_ctx *sha)
{
    unsigned char *buf = xmalloc((size_t)bs);
    unsigned long long done = 0;
    while (done < size) {
        unsigned long long n = size - done < bs ? size - done : bs;
        sts_uint64_t br = 0;
        int rc = A.read_image(ih, buf, n, off + done, &br);
        if (rc != STS_EOK) {
            free(buf);
            c->rc = rc;
            return fail(c, "stsp_read_image(len=%llu, off=%llu) returned %s (plugin: \"%s\")", n,
                        off + done, code_name(rc), plugin_says(rc));
        }
        count_read(br);
        if (br != n) {
            free(buf);
            return fail(c, "stsp_read_image(len=%llu, off=%llu): bytesread=%llu, expected %llu", n,
                        off + done, (unsigned long long)br, n);
        }
        if (check_content(c, "stsp_read_image", buf, n, off + done, at + done, ct)) {
            free(buf);
            return -1;
        }
        if (sha) sha1_update(sha, buf, (size_t)n);
        done += n;
    }
    free(buf);
    return 0;
}

static int verify_range(ctx_t *c, void *ih, unsigned long long off, unsigned long long size,
                        unsigned long long bs, const content_t *ct, sha1_ctx *sha)
{
    return verify_range_at(c, ih, off, off, size, bs, ct, sha);
}

/* a read at the end must give STS_EOK with 0 bytes; beyond it STS_ERANGE */
static int check_eof(ctx_t *c, void *ih, unsigned long long size)
{
    unsigned char b[STS_BLOCK_SIZE];
    sts_uint64_t br = 12345;
    int rc = A.read_image(ih, b, STS_BLOCK_SIZE, size, &br);
    if (rc != STS_EOK) return fail(c, "read at offset == size (%llu) returned %s, expected STS_EOK", size, code_name(rc));
    if (br != 0) return fail(c, "read at offset == size (%llu) gave %llu bytes, expected 0", size, (unsigned long long)br);
    br = 12345;
    rc = A.read_image(ih, b, STS_BLOCK_SIZE, size + STS_BLOCK_SIZE, &br);
    if (rc != STS_ERANGE)
        return fail(c, "read at offset size+512 (%llu) returned %s, expected STS_ERANGE", size + STS_BLOCK_SIZE, code_name(rc));
    return 0;
}

static int c_verify_data(ctx_t *c, args_t *a)
{
    void *ih;
    unsigned long long size, bs, off, at;
    content_t ct;
    double t0 = now_s(), dt;
    NEED(read_image);
    if (get_handle(c, a->npos ? a->pos[0] : NULL, VT_IMG, &ih)) return -1;
    if (get_content(c, a, 1, &ct) < 0 || get_num(c, a, "bs", 0, 1u << 20, &bs) ||
        get_num(c, a, "off", 0, 0, &off) || get_num(c, a, "at", 0, off, &at))
        return -1;
    /* with a composition, size defaults to the rest of it from `at` */
    if (get_num(c, a, "size", !ct.comp, ct.comp && ct.total > at ? ct.total - at : 0, &size)) return -1;
    if (bs == 0 || bs > STS_MAX_IO_SIZE) return fail(c, "bad bs=%llu", bs);
    c->called = 1;
    c->rc = STS_EOK;
    if (verify_range_at(c, ih, off, at, size, bs, &ct, NULL)) return -1;
    if (has_word(a, "eof") && check_eof(c, ih, off + size)) return -1;
    dt = now_s() - t0;
    c->bytes = size;
    note(c, "%llu bytes verified at %.1f MiB/s", size, dt > 0 ? (double)size / 1048576.0 / dt : 0.0);
    return 0;
}

static int random_reads(ctx_t *c, void *ih, unsigned long long size, const content_t *ct,
                        unsigned long long count, unsigned long long maxlen, unsigned long long rseed)
{
    prng_t r;
    unsigned long long i, blocks = size / STS_BLOCK_SIZE, maxb = maxlen / STS_BLOCK_SIZE;
    unsigned char *buf = xmalloc((size_t)maxlen);
    if (maxb == 0) maxb = 1;
    prng_seed(&r, rseed);
    for (i = 0; i < count; i++) {
        unsigned long long off, len, exp;
        sts_uint64_t br = 0;
        int rc;
        /* a few fixed edge cases first, then random ones */
        if (i == 0) off = 0;
        else if (i == 1) off = blocks ? (blocks - 1) * STS_BLOCK_SIZE : 0;
        else off = prng_below(&r, blocks + 1) * STS_BLOCK_SIZE;
        len = (prng_below(&r, maxb) + 1) * STS_BLOCK_SIZE;
        exp = off + len <= size ? len : size - off;
        rc = A.read_image(ih, buf, len, off, &br);
        if (rc != STS_EOK) {
            free(buf);
            c->rc = rc;
            return fail(c, "random read #%llu (rng %llu): stsp_read_image(len=%llu, off=%llu) returned %s (plugin: \"%s\")",
                        i, rseed, len, off, code_name(rc), plugin_says(rc));
        }
        count_read(br);
        if (br != exp) {
            free(buf);
            return fail(c, "random read #%llu (rng %llu): stsp_read_image(len=%llu, off=%llu): bytesread=%llu, expected %llu",
                        i, rseed, len, off, (unsigned long long)br, exp);
        }
        if (check_content(c, "random read", buf, br, off, off, ct)) {
            free(buf);
            return -1;
        }
    }
    free(buf);
    return 0;
}

static int c_read_random(ctx_t *c, args_t *a)
{
    void *ih;
    unsigned long long size, count, maxlen, rng;
    content_t ct;
    NEED(read_image);
    if (get_handle(c, a->npos ? a->pos[0] : NULL, VT_IMG, &ih)) return -1;
    if (get_content(c, a, 1, &ct) < 0 || get_num(c, a, "size", !ct.comp, ct.total, &size) ||
        get_num(c, a, "count", 0, 64, &count) || get_num(c, a, "maxlen", 0, 4u << 20, &maxlen) ||
        get_num(c, a, "rng", 0, g_seed ^ (unsigned long long)c->line, &rng))
        return -1;
    if (maxlen < STS_BLOCK_SIZE || maxlen > (256u << 20)) return fail(c, "bad maxlen=%llu", maxlen);
    note(c, "rng=%llu", rng);
    c->called = 1;
    c->rc = STS_EOK;
    return random_reads(c, ih, size, &ct, count, maxlen, rng);
}

static int is_hex(const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return s[n] == '\0';
}

/* read a whole open image, SHA-1 it, compare with imo_sha1 and (seed=)
 * with the generated data's SHA-1 */
static int c_sha1_image(ctx_t *c, args_t *a)
{
    void *ih;
    sts_image_info_t info;
    unsigned long long pos = 0, bs;
    unsigned char *buf, dg[20];
    sha1_ctx sc;
    char hex[41];
    content_t ct;
    int check;
    NEED(get_image_prop);
    NEED(read_image);
    if (get_handle(c, a->npos ? a->pos[0] : NULL, VT_IMG, &ih)) return -1;
    if ((check = get_content(c, a, 0, &ct)) < 0 || get_num(c, a, "bs", 0, 1u << 20, &bs)) return -1;
    if (must(c, "stsp_get_image_prop", A.get_image_prop(ih, &info))) return -1;
    c->img = info;
    buf = xmalloc((size_t)bs);
    sha1_init(&sc);
    while (pos < info.imo_size) {
        sts_uint64_t br = 0;
        int rc = A.read_image(ih, buf, bs, pos, &br);
        if (rc != STS_EOK) {
            free(buf);
            return must(c, "stsp_read_image", rc);
        }
        if (br == 0) {
            free(buf);
            return fail(c, "stsp_read_image at %llu gave 0 bytes before imo_size %llu", pos,
                        (unsigned long long)info.imo_size);
        }
        count_read(br);
        sha1_update(&sc, buf, (size_t)br);
        pos += br;
    }
    free(buf);
    sha1_final(&sc, dg);
    sha1_hex(dg, hex);
    snprintf(c->sha1, sizeof c->sha1, "%s", hex);
    note(c, "sha1=%s size=%llu", hex, pos);
    if (!is_hex(info.imo_sha1, 40)) return fail(c, "imo_sha1 \"%.48s\" is not 40 lower-case hex digits", info.imo_sha1);
    if (strcmp(hex, info.imo_sha1) != 0)
        return fail(c, "SHA-1 of the bytes read (%s) != imo_sha1 (%s)", hex, info.imo_sha1);
    if (check) {
        char exp[41];
        if (ct.comp && ct.total != info.imo_size)
            return fail(c, "imo_size %llu != the composition's size %llu", (unsigned long long)info.imo_size, ct.total);
        content_sha1(&ct, info.imo_size, exp);
        if (strcmp(exp, hex) != 0)
            return fail(c, "SHA-1 of the bytes read (%s) != SHA-1 of the %s (%s)", hex,
                        ct.comp ? "composition" : "seed data", exp);
    }
    return 0;
}

/* the workhorse: check a complete image end to end */
static int c_verify_image(ctx_t *c, args_t *a)
{
    sts_lsu_t lsu;
    sts_image_def_t def;
    sts_image_info_t info, hinfo;
    sts_image_handle_t ih;
    unsigned long long size, bs, nrandom, maxlen;
    unsigned char dg[20];
    char hex[41], exp[41], f[256];
    sha1_ctx sc;
    content_t ct;
    int res;
    double t0 = now_s(), dt;
    NEED(get_image_prop_byname);
    NEED(open_image);
    NEED(read_image);
    NEED(close_image);
    NEED(get_image_prop);
    if (make_lsu(c, a, a->npos ? a->pos[0] : NULL, &lsu) || make_def(c, a, &def)) return -1;
    if (get_content(c, a, 1, &ct) < 0 || get_num(c, a, "size", !ct.comp, ct.total, &size) ||
        get_num(c, a, "bs", 0, 1u << 20, &bs) || get_num(c, a, "random", 0, 16, &nrandom) ||
        get_num(c, a, "maxlen", 0, 1u << 20, &maxlen))
        return -1;
    if (must(c, "stsp_get_image_prop_byname", A.get_image_prop_byname(&lsu, &def, &info))) return -1;
    c->img = info;
    image_flags_str(info.imo_flags, f, sizeof f);
    if ((info.imo_flags & (STS_II_IMAGE_COMPLETE | STS_II_IMAGE_CREATED)) !=
            (STS_II_IMAGE_COMPLETE | STS_II_IMAGE_CREATED) ||
        (info.imo_flags & (STS_II_IMAGE_PENDING | STS_II_BUSY_WRITE | STS_II_ABNORMAL)))
        return fail(c, "image %s/%s flags %s: expected IMAGE_CREATED|IMAGE_COMPLETE only",
                    def.img_basename, def.img_date, f);
    if (info.imo_size != size)
        return fail(c, "image %s/%s imo_size=%llu, expected %llu", def.img_basename, def.img_date,
                    (unsigned long long)info.imo_size, size);
    if (info.imo_block_size != STS_BLOCK_SIZE)
        return fail(c, "imo_block_size=%u, expected %u", info.imo_block_size, STS_BLOCK_SIZE);
    if (!is_hex(info.imo_sha1, 40)) return fail(c, "imo_sha1 \"%.48s\" is not 40 lower-case hex digits", info.imo_sha1);
    if (!is_hex(info.imo_objid, 60)) return fail(c, "imo_objid \"%.64s\" is not 60 lower-case hex digits", info.imo_objid);
    if (info.imo_complete_ms == 0) return fail(c, "imo_complete_ms is 0 for a complete image");
    if (strncmp(info.imo_def.img_basename, def.img_basename, sizeof def.img_basename) ||
        strncmp(info.imo_def.img_date, def.img_date, sizeof def.img_date))
        return fail(c, "imo_def is %.256s/%.32s, expected %s/%s", info.imo_def.img_basename,
                    info.imo_def.img_date, def.img_basename, def.img_date);
    if (ct.comp && size != ct.total)
        return fail(c, "size=%llu but the composition is %llu bytes", size, ct.total);
    content_sha1(&ct, size, exp);
    if (strcmp(exp, info.imo_sha1) != 0)
        return fail(c, "imo_sha1 %s != SHA-1 of the %s %s", info.imo_sha1, ct.comp ? "composition" : "seed data", exp);
    if (must(c, "stsp_open_image(STS_O_READ)", A.open_image(&lsu, &def, STS_O_READ, &ih))) return -1;
    sha1_init(&sc);
    res = verify_range(c, ih, 0, size, bs, &ct, &sc);
    if (!res) {
        sha1_final(&sc, dg);
        sha1_hex(dg, hex);
        snprintf(c->sha1, sizeof c->sha1, "%s", hex);
        if (strcmp(hex, info.imo_sha1) != 0)
            res = fail(c, "SHA-1 of the bytes read (%s) != imo_sha1 (%s)", hex, info.imo_sha1);
    }
    if (!res) res = check_eof(c, ih, size);
    if (!res && nrandom)
        res = random_reads(c, ih, size, &ct, nrandom, maxlen, (ct.comp ? ct.total : ct.seed) ^ 0x5151);
    if (!res) {
        if (must(c, "stsp_get_image_prop", A.get_image_prop(ih, &hinfo))) res = -1;
        else if (hinfo.imo_size != info.imo_size || strcmp(hinfo.imo_sha1, info.imo_sha1) ||
                 hinfo.imo_flags != info.imo_flags)
            res = fail(c, "stsp_get_image_prop on the read handle disagrees with _byname");
    }
    if (must(c, "stsp_close_image(read handle)", A.close_image(ih, 0))) res = -1;
    dt = now_s() - t0;
    if (!res)
        note(c, "%s/%s: %llu bytes ok, sha1 %s, %.1f MiB/s", def.img_basename, def.img_date, size,
             info.imo_sha1, dt > 0 ? (double)size / 1048576.0 / dt : 0.0);
    return res;
}

/* verify_all $srv [lsu=S] [count=N] [random=8] [bs=1M]: every image of the
 * LSU is complete and reads back as the composition its metadata names
 * ("content=SEED:AT:LEN,..."), SHA-1 = imo_sha1 */
static int c_verify_all(ctx_t *c, args_t *a)
{
    sts_lsu_t lsu;
    sts_image_list_handle_t lh;
    sts_image_def_t *defs = NULL;
    int n = 0, cap = 0, rc, i, res = 0;
    unsigned long long want, nrandom, bs, total = 0;
    char *meta = xmalloc(STRVAL * 2 + 1);
    double t0 = now_s(), dt;
    NEED(open_image_list);
    NEED(list_image);
    NEED(close_image_list);
    NEED(get_image_prop_byname);
    NEED(open_image);
    NEED(read_image_meta);
    if (make_lsu(c, a, a->npos ? a->pos[0] : NULL, &lsu) || get_num(c, a, "random", 0, 8, &nrandom) ||
        get_num(c, a, "bs", 0, 1u << 20, &bs)) {
        free(meta);
        return -1;
    }
    if (must(c, "stsp_open_image_list", A.open_image_list(&lsu, &lh))) {
        free(meta);
        return -1;
    }
    for (;;) {
        sts_image_def_t def;
        rc = A.list_image(lh, &def);
        if (rc == STS_ENO_MORE) break;
        if (must(c, "stsp_list_image", rc)) {
            free(defs);
            free(meta);
            return -1;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            defs = realloc(defs, (size_t)cap * sizeof *defs);
            if (!defs) exit(3);
        }
        defs[n++] = def;
    }
    if (must(c, "stsp_close_image_list", A.close_image_list(lh))) res = -1;
    for (i = 0; i < n && !res; i++) {
        sts_image_def_t *def = &defs[i];
        sts_image_info_t info;
        sts_image_handle_t ih;
        sts_uint64_t br = 0;
        content_t ct;
        char name[400], f[256], hex[41];
        unsigned char dg[20];
        sha1_ctx sc;
        def_str(def, name, sizeof name);
        if (must(c, "stsp_get_image_prop_byname", A.get_image_prop_byname(&lsu, def, &info))) {
            res = -1;
            break;
        }
        image_flags_str(info.imo_flags, f, sizeof f);
        if (info.imo_flags != (STS_II_IMAGE_CREATED | STS_II_IMAGE_COMPLETE)) {
            res = fail(c, "image %s: flags %s, expected IMAGE_CREATED|IMAGE_COMPLETE only", name, f);
            break;
        }
        if (must(c, "stsp_open_image(STS_O_READ)", A.open_image(&lsu, def, STS_O_READ, &ih))) {
            res = fail(c, "image %s could not be opened", name);
            break;
        }
        rc = A.read_image_meta(ih, meta, STRVAL * 2, 0, &br);
        if (rc != STS_EOK) res = fail(c, "image %s: stsp_read_image_meta returned %s", name, code_name(rc));
        else {
            meta[br] = '\0';
            meta[strcspn(meta, "\n")] = '\0';
            if (strncmp(meta, "content=", 8))
                res = fail(c, "image %s: its metadata does not start with content= (\"%.60s\")", name, meta);
            else if (parse_comp(c, meta + 8, &ct))
                res = fail(c, "image %s: bad content= in its metadata", name);
            else if (ct.total != info.imo_size)
                res = fail(c, "image %s: imo_size %llu, its composition is %llu bytes", name,
                           (unsigned long long)info.imo_size, ct.total);
        }
        if (!res) {
            sha1_init(&sc);
            res = verify_range(c, ih, 0, info.imo_size, bs, &ct, &sc);
            if (res) fail(c, "(in image %s)", name);
        }
        if (!res) {
            sha1_final(&sc, dg);
            sha1_hex(dg, hex);
            if (strcmp(hex, info.imo_sha1))
                res = fail(c, "image %s: SHA-1 of the bytes read (%s) != imo_sha1 (%.48s)", name, hex, info.imo_sha1);
        }
        if (!res) res = check_eof(c, ih, info.imo_size);
        if (!res && nrandom && info.imo_size) {
            res = random_reads(c, ih, info.imo_size, &ct, nrandom, 1u << 20, ct.total ^ (unsigned long long)i);
            if (res) fail(c, "(in image %s)", name);
        }
        if (must(c, "stsp_close_image(read handle)", A.close_image(ih, 0))) res = -1;
        total += info.imo_size;
    }
    c->count = (unsigned long long)n;
    free(defs);
    free(meta);
    if (res) return -1;
    dt = now_s() - t0;
    note(c, "%d images, %llu bytes verified at %.1f MiB/s", n, total, dt > 0 ? (double)total / 1048576.0 / dt : 0.0);
    if (has_kv(a, "count")) {
        if (get_num(c, a, "count", 1, 0, &want)) return -1;
        if ((unsigned long long)n != want) return fail(c, "verify_all: %d images, expected %llu", n, want);
    }
    return 0;
}

static int c_delete_image(ctx_t *c, args_t *a)
{
    sts_lsu_t lsu;
    sts_image_def_t def;
    unsigned long long async;
    NEED(delete_image);
    if (make_lsu(c, a, a->npos ? a->pos[0] : NULL, &lsu) || make_def(c, a, &def)) return -1;
    if (get_num(c, a, "async", 0, 0, &async)) return -1;
    return chk(c, a, "stsp_delete_image",
               A.delete_image(want_null(a, "lsu") ? NULL : &lsu, want_null(a, "def") ? NULL : &def, (int)async));
}

static int c_get_image_prop(ctx_t *c, args_t *a)
{
    void *ih;
    sts_image_info_t info;
    int rc;
    NEED(get_image_prop);
    if (get_handle(c, a->npos ? a->pos[0] : NULL, VT_IMG, &ih)) return -1;
    sentinel(&info, sizeof info);
    rc = A.get_image_prop(ih, want_null(a, "info") ? NULL : &info);
    if (chk(c, a, "stsp_get_image_prop", rc)) return -1;
    if (rc != STS_EOK) return untouched(c, "stsp_get_image_prop", "info", &info, sizeof info, rc);
    c->img = info;
    describe_img(c);
    return 0;
}

static int c_get_image_prop_byname(ctx_t *c, args_t *a)
{
    sts_lsu_t lsu;
    sts_image_def_t def;
    sts_image_info_t info;
    int rc;
    NEED(get_image_prop_byname);
    if (make_lsu(c, a, a->npos ? a->pos[0] : NULL, &lsu) || make_def(c, a, &def)) return -1;
    sentinel(&info, sizeof info);
    rc = A.get_image_prop_byname(want_null(a, "lsu") ? NULL : &lsu, want_null(a, "def") ? NULL : &def,
                                 want_null(a, "info") ? NULL : &info);
    if (chk(c, a, "stsp_get_image_prop_byname", rc)) return -1;
    if (rc != STS_EOK) return untouched(c, "stsp_get_image_prop_byname", "info", &info, sizeof info, rc);
    c->img = info;
    describe_img(c);
    return 0;
}

static int c_open_image_list(ctx_t *c, args_t *a)
{
    sts_lsu_t lsu;
    sts_image_list_handle_t lh;
    int rc;
    NEED(open_image_list);
    if (a->npos < 2 || a->pos[0]->s[0] != '$') return fail(c, "open_image_list $list $srv [lsu=...]");
    if (make_lsu(c, a, a->pos[1], &lsu)) return -1;
    sentinel(&lh, sizeof lh);
    rc = A.open_image_list(want_null(a, "lsu") ? NULL : &lsu, want_null(a, "lh") ? NULL : &lh);
    if (chk(c, a, "stsp_open_image_list", rc)) return -1;
    if (rc != STS_EOK) return untouched(c, "stsp_open_image_list", "lh", &lh, sizeof lh, rc);
    var_set_ptr(c, a->pos[0]->s, VT_ILIST, lh);
    return 0;
}

static int c_list_image(ctx_t *c, args_t *a)
{
    void *lh;
    sts_image_def_t def;
    char got[400], want[STRVAL];
    int rc;
    NEED(list_image);
    if (get_handle(c, a->npos ? a->pos[0] : NULL, VT_ILIST, &lh)) return -1;
    sentinel(&def, sizeof def);
    rc = A.list_image(lh, want_null(a, "def") ? NULL : &def);
    if (chk(c, a, "stsp_list_image", rc)) return -1;
    if (rc != STS_EOK) return untouched(c, "stsp_list_image", "def", &def, sizeof def, rc);
    def_str(&def, got, sizeof got);
    note(c, "%s", got);
    if (a->npos >= 2) {
        snprintf(want, sizeof want, "%s", a->pos[1]->s);
        if (!strchr(want, '/')) strcat(want, "/");
        if (strcmp(got, want)) return fail(c, "stsp_list_image gave %s, expected %s", got, want);
    }
    return 0;
}

static int c_close_image_list(ctx_t *c, args_t *a)
{
    void *lh;
    NEED(close_image_list);
    if (get_handle(c, a->npos ? a->pos[0] : NULL, VT_ILIST, &lh)) return -1;
    return chk(c, a, "stsp_close_image_list", A.close_image_list(lh));
}

static int c_images(ctx_t *c, args_t *a)
{
    sts_lsu_t lsu;
    sts_image_list_handle_t lh;
    char **got = NULL;
    int n = 0, cap = 0, rc, i, res;
    NEED(open_image_list);
    NEED(list_image);
    NEED(close_image_list);
    if (make_lsu(c, a, a->npos ? a->pos[0] : NULL, &lsu)) return -1;
    if (must(c, "stsp_open_image_list", A.open_image_list(&lsu, &lh))) return -1;
    for (;;) {
        sts_image_def_t def;
        rc = A.list_image(lh, &def);
        if (rc == STS_ENO_MORE) break;
        if (must(c, "stsp_list_image", rc)) return -1;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            got = realloc(got, (size_t)cap * sizeof *got);
            if (!got) exit(3);
        }
        got[n] = xmalloc(400);
        def_str(&def, got[n], 400);
        for (i = 0; i < n; i++)
            if (!strcmp(got[i], got[n])) return fail(c, "image %s listed twice", got[n]);
        n++;
    }
    if (must(c, "stsp_close_image_list", A.close_image_list(lh))) return -1;
    /* the contract orders the list by (basename, date) bytewise */
    for (i = 1; i < n; i++) {
        char *s1 = strchr(got[i - 1], '/'), *s2 = strchr(got[i], '/');
        int cmp;
        *s1 = *s2 = '\0';
        cmp = strcmp(got[i - 1], got[i]);
        if (cmp == 0) cmp = strcmp(s1 + 1, s2 + 1);
        *s1 = *s2 = '/';
        if (cmp > 0) return fail(c, "image list not in (basename, date) order: %s before %s", got[i - 1], got[i]);
    }
    res = compare_list(c, "image list", got, n, a, 1);
    for (i = 0; i < n; i++) free(got[i]);
    free(got);
    return res;
}

/* ---------------- metadata ---------------- */

static int c_write_meta(ctx_t *c, args_t *a)
{
    void *ih;
    unsigned long long off, len, seed;
    sts_uint64_t bw;
    char *buf;
    int rc;
    NEED(write_image_meta);
    if (get_handle(c, a->npos ? a->pos[0] : NULL, VT_IMG, &ih)) return -1;
    if (get_num(c, a, "off", 0, 0, &off) || get_seed(c, a, 0, &seed)) return -1;
    if (has_kv(a, "text")) {
        long l;
        buf = buf_alloc(STRVAL);
        if ((l = get_str(c, a, "text", NULL, buf, STRVAL)) < 0) return -1;
        len = (unsigned long long)l;
        if (has_kv(a, "len") && get_num(c, a, "len", 1, 0, &len)) return -1;
        if (len > STRVAL) return fail(c, "len= longer than the text buffer");
        sentinel(&bw, sizeof bw);
        rc = A.write_image_meta(ih, want_null(a, "buf") ? NULL : buf, len, off,
                                want_null(a, "written") ? NULL : &bw);
        buf_free(buf, STRVAL);
    } else {
        if (get_num(c, a, "len", 1, 0, &len)) return -1;
        buf = buf_alloc(len);
        if (len <= STS_MAX_IMAGE_META * 2ull) pattern_fill(seed, off, buf, (size_t)len);
        sentinel(&bw, sizeof bw);
        rc = A.write_image_meta(ih, want_null(a, "buf") ? NULL : buf, len, off,
                                want_null(a, "written") ? NULL : &bw);
        buf_free(buf, len);
    }
    if (chk(c, a, "stsp_write_image_meta", rc)) return -1;
    if (rc != STS_EOK) return untouched(c, "stsp_write_image_meta", "byteswritten", &bw, sizeof bw, rc);
    c->bytes = bw;
    if (bw != len) return fail(c, "stsp_write_image_meta: byteswritten=%llu, expected %llu", (unsigned long long)bw, len);
    note(c, "%llu bytes at %llu", len, off);
    return 0;
}

static int c_read_meta(ctx_t *c, args_t *a)
{
    void *ih;
    unsigned long long off, len, got;
    sts_uint64_t br;
    unsigned char *buf;
    char text[STRVAL];
    int rc, res = 0, check;
    long tl = -1;
    content_t ct;
    NEED(read_image_meta);
    if (get_handle(c, a->npos ? a->pos[0] : NULL, VT_IMG, &ih)) return -1;
    if (get_num(c, a, "off", 0, 0, &off) || (check = get_content(c, a, 0, &ct)) < 0) return -1;
    if (has_kv(a, "text") && (tl = get_str(c, a, "text", NULL, text, sizeof text)) < 0) return -1;
    if (has_kv(a, "len")) {
        if (get_num(c, a, "len", 1, 0, &len)) return -1;
    } else if (tl >= 0) {
        len = (unsigned long long)tl;
    } else {
        return fail(c, "read_meta needs len= (or text=)");
    }
    buf = buf_alloc(len);
    sentinel(&br, sizeof br);
    rc = A.read_image_meta(ih, want_null(a, "buf") ? NULL : buf, len, off, want_null(a, "read") ? NULL : &br);
    if (chk(c, a, "stsp_read_image_meta", rc)) {
        buf_free(buf, len);
        return -1;
    }
    if (rc != STS_EOK) {
        buf_free(buf, len);
        return untouched(c, "stsp_read_image_meta", "bytesread", &br, sizeof br, rc);
    }
    c->bytes = br;
    note(c, "bytesread=%llu", (unsigned long long)br);
    if (br > len) res = fail(c, "stsp_read_image_meta: bytesread=%llu > len=%llu", (unsigned long long)br, len);
    if (!res && has_kv(a, "got")) {
        if (get_num(c, a, "got", 1, 0, &got)) res = -1;
        else if (br != got) res = fail(c, "stsp_read_image_meta: bytesread=%llu, expected %llu", (unsigned long long)br, got);
    }
    if (!res && tl >= 0) {
        unsigned long long cmp = br < (unsigned long long)tl ? br : (unsigned long long)tl;
        if (!has_kv(a, "got") && br != (unsigned long long)tl && br != len)
            res = fail(c, "stsp_read_image_meta: bytesread=%llu, expected %ld", (unsigned long long)br, tl);
        else if (memcmp(buf, text, (size_t)cmp) != 0) {
            char shown[200];
            size_t i, n = cmp < 60 ? (size_t)cmp : 60;
            for (i = 0; i < n; i++) shown[i] = isprint(buf[i]) ? (char)buf[i] : '.';
            shown[n] = '\0';
            res = fail(c, "metadata at %llu reads \"%s\", expected \"%.60s\"", off, shown, text);
        }
    }
    if (!res && check) res = check_content(c, "stsp_read_image_meta", buf, br, off, off, &ct);
    buf_free(buf, len);
    return res;
}

/* ================================================================== */
/* Commands: duplication and virtual images                           */
/* ================================================================== */

static int c_open_target_server(ctx_t *c, args_t *a)
{
    char name[STRVAL];
    sts_cred_t cred;
    const sts_cred_t *cp;
    sts_server_handle_t th;
    void *sh;
    int rc;
    NEED(open_target_server);
    if (a->npos < 2 || a->pos[0]->s[0] != '$') return fail(c, "open_target_server $target $source [name=...]");
    if (get_handle(c, a->pos[1], VT_SRV, &sh)) return -1;
    if (get_str(c, a, "name", g_server_name, name, sizeof name) < 0) return -1;
    if (get_cred(c, a, &cred, &cp)) return -1;
    sentinel(&th, sizeof th);
    rc = A.open_target_server(sh, want_null(a, "name") ? NULL : name, cp, want_null(a, "sh") ? NULL : &th);
    if (chk(c, a, "stsp_open_target_server", rc)) return -1;
    if (rc != STS_EOK) return untouched(c, "stsp_open_target_server", "target_sh", &th, sizeof th, rc);
    var_set_ptr(c, a->pos[0]->s, VT_SRV, th);
    return 0;
}

/* copy_extent / include_in_image $from $to [from_off] [to_off] [len]
 * [append] [remainder] [flags=N] [got=N] */
static int extent_op(ctx_t *c, args_t *a, int include)
{
    void *from, *to;
    unsigned long long foff, toff, len, flags = 0, got;
    sts_uint64_t done;
    const char *fn = include ? "stsp_include_in_image" : "stsp_copy_extent";
    int rc;
    if (include) NEED(include_in_image);
    else NEED(copy_extent);
    if (a->npos < 2) return fail(c, "%s $from $to [from_off=] [to_off=] [len=] [append] [remainder]", fn + 5);
    if (get_handle(c, a->pos[0], VT_IMG, &from) || get_handle(c, a->pos[1], VT_IMG, &to)) return -1;
    if (get_num(c, a, "from_off", 0, 0, &foff) || get_num(c, a, "to_off", 0, 0, &toff) ||
        get_num(c, a, "len", 0, 0, &len))
        return -1;
    if (has_word(a, "append")) flags |= STS_CX_APPEND;
    if (has_word(a, "remainder")) flags |= STS_CX_REMAINDER;
    if (get_num(c, a, "flags", 0, flags, &flags)) return -1;
    sentinel(&done, sizeof done);
    rc = include ? A.include_in_image(from, to, foff, toff, len, (int)flags, want_null(a, "done") ? NULL : &done)
                 : A.copy_extent(from, to, foff, toff, len, (int)flags, want_null(a, "done") ? NULL : &done);
    if (chk(c, a, fn, rc)) return -1;
    if (rc != STS_EOK) return untouched(c, fn, "bytes", &done, sizeof done, rc);
    c->bytes = done;
    note(c, "%llu bytes", (unsigned long long)done);
    if (has_kv(a, "got")) {
        if (get_num(c, a, "got", 1, 0, &got)) return -1;
    } else if (flags & STS_CX_REMAINDER) {
        return 0;
    } else {
        got = len;
    }
    if (done != got) return fail(c, "%s: %llu bytes, expected %llu", fn, (unsigned long long)done, got);
    return 0;
}

static int c_copy_extent(ctx_t *c, args_t *a) { return extent_op(c, a, 0); }
static int c_include_in_image(ctx_t *c, args_t *a) { return extent_op(c, a, 1); }

/* copy_image $to_srv $from_srv to_name= [to_date=] [to_lsu=] from_name=
 * [from_date=] [from_lsu=] [flags=] */
static int c_copy_image(ctx_t *c, args_t *a)
{
    sts_lsu_t tl, fl;
    sts_image_def_t td, fd;
    unsigned long long flags;
    NEED(copy_image);
    if (a->npos < 2) return fail(c, "copy_image $to_srv $from_srv to_name=... from_name=...");
    if (make_lsu_k(c, a, a->pos[0], "to_lsu", &tl) || make_lsu_k(c, a, a->pos[1], "from_lsu", &fl) ||
        make_def_k(c, a, "to_name", "to_date", "to_imgflags", &td) ||
        make_def_k(c, a, "from_name", "from_date", "from_imgflags", &fd) ||
        get_num(c, a, "flags", 0, 0, &flags))
        return -1;
    return chk(c, a, "stsp_copy_image",
               A.copy_image(want_null(a, "to_lsu") ? NULL : &tl, want_null(a, "to_def") ? NULL : &td,
                            want_null(a, "from_lsu") ? NULL : &fl, want_null(a, "from_def") ? NULL : &fd,
                            (int)flags));
}

/* ================================================================== */
/* Commands: events and asynchronous operations                       */
/* ================================================================== */

static int parse_duration_ms(ctx_t *c, const char *s, unsigned long long *ms);

/* timeout=none|infinite|DURATION (100ms, 2s) for get_event and
 * named_async_wait; def when absent */
static int get_timeout(ctx_t *c, args_t *a, sts_uint32_t def, sts_uint32_t *ms)
{
    int i = kv_index(a, "timeout");
    unsigned long long v;
    *ms = def;
    if (i < 0) return 0;
    if (!strcmp(a->kv[i].val, "none")) *ms = STS_TIMEOUT_NONE;
    else if (!strcmp(a->kv[i].val, "infinite")) *ms = STS_TIMEOUT_INFINITE;
    else if (parse_duration_ms(c, a->kv[i].val, &v)) return -1;
    else if (v >= STS_TIMEOUT_INFINITE) return fail(c, "timeout too long");
    else *ms = (sts_uint32_t)v;
    return 0;
}

static const char *evt_name(unsigned t)
{
    switch (t) {
    case STS_EVT_ASYNC_DONE: return "ASYNC_DONE";
    case STS_EVT_DELETE_DONE: return "DELETE_DONE";
    case STS_EVT_LABEL: return "LABEL";
    case STS_EVT_LOW_SPACE: return "LOW_SPACE";
    default: return "EVT_?";
    }
}

static void ev_str(const sts_event_t *e, char *buf, size_t len)
{
    snprintf(buf, len, "id=%llu %s status=%s op_id=%llu op_name=\"%.128s\" lsu=%.128s image=%.256s/%.32s bytes=%llu text=\"%.256s\"",
             (unsigned long long)e->ev_id, evt_name(e->ev_type), code_name(e->ev_status),
             (unsigned long long)e->ev_op_id, e->ev_op_name, e->ev_lsu.sln_name,
             e->ev_image.img_basename, e->ev_image.img_date, (unsigned long long)e->ev_bytes,
             e->ev_text);
}

/* an event type: ASYNC_DONE, EVT_ASYNC_DONE, STS_EVT_ASYNC_DONE or a number */
static int parse_evt(ctx_t *c, const char *s, unsigned *t)
{
    static const char *names[] = { NULL, "ASYNC_DONE", "DELETE_DONE", "LABEL", "LOW_SPACE" };
    unsigned i;
    char *end;
    const char *n = s;
    if (!strncmp(n, "STS_", 4)) n += 4;
    if (!strncmp(n, "EVT_", 4)) n += 4;
    for (i = 1; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(n, names[i])) {
            *t = i;
            return 0;
        }
    *t = (unsigned)strtoul(s, &end, 0);
    if (*s && !*end) return 0;
    return fail(c, "unknown event type '%s'", s);
}

/* does event e match the filters of the line (type= status= lsu= name=
 * date= op_name= op_id= text= bytes=)? why says the first difference */
static int ev_match(ctx_t *c, args_t *a, const sts_event_t *e, int *ok, char *why, size_t wl)
{
    char buf[STRVAL];
    long l;
    unsigned long long n;
    *ok = 0;
    if (has_kv(a, "type")) {
        unsigned t;
        if (parse_evt(c, a->kv[kv_index(a, "type")].val, &t)) return -1;
        if (e->ev_type != t) return snprintf(why, wl, "ev_type %s (%u), expected %s", evt_name(e->ev_type), e->ev_type, evt_name(t)), 0;
    }
    if (has_kv(a, "status")) {
        int code;
        if (code_parse(a->kv[kv_index(a, "status")].val, &code)) return fail(c, "unknown code status=%s", a->kv[kv_index(a, "status")].val);
        if (e->ev_status != code) return snprintf(why, wl, "ev_status %s, expected %s", code_name(e->ev_status), code_name(code)), 0;
    }
#define EVSTR(key, field, what)                                                                         \
    if (has_kv(a, key)) {                                                                               \
        if ((l = get_str(c, a, key, "", buf, sizeof buf)) < 0) return -1;                               \
        if (strnlen(field, sizeof field) != (size_t)l || memcmp(field, buf, (size_t)l))                  \
            return snprintf(why, wl, "%s \"%.*s\", expected \"%.200s\"", what, (int)strnlen(field, sizeof field), field, buf), 0; \
    }
    EVSTR("lsu", e->ev_lsu.sln_name, "ev_lsu")
    EVSTR("name", e->ev_image.img_basename, "ev_image.img_basename")
    EVSTR("date", e->ev_image.img_date, "ev_image.img_date")
    EVSTR("op_name", e->ev_op_name, "ev_op_name")
    EVSTR("text", e->ev_text, "ev_text")
#undef EVSTR
    if (has_kv(a, "op_id")) {
        if (get_num(c, a, "op_id", 1, 0, &n)) return -1;
        if (e->ev_op_id != n) return snprintf(why, wl, "ev_op_id %llu, expected %llu", (unsigned long long)e->ev_op_id, n), 0;
    }
    if (has_kv(a, "bytes")) {
        if (get_num(c, a, "bytes", 1, 0, &n)) return -1;
        if (e->ev_bytes != n) return snprintf(why, wl, "ev_bytes %llu, expected %llu", (unsigned long long)e->ev_bytes, n), 0;
    }
    *ok = 1;
    return 0;
}

static void ev_keep(ctx_t *c, const sts_event_t *e)
{
    if (c->nevs == c->capevs) {
        c->capevs = c->capevs ? c->capevs * 2 : 64;
        c->evs = realloc(c->evs, (size_t)c->capevs * sizeof *c->evs);
        if (!c->evs) exit(3);
    }
    c->evs[c->nevs++] = *e;
    c->ev = *e;
}

/* open_evchannel $evc $srv */
static int c_open_evchannel(ctx_t *c, args_t *a)
{
    void *sh;
    sts_evchannel_handle_t evc;
    int rc;
    NEED(open_evchannel);
    if (a->npos < 2 || a->pos[0]->s[0] != '$') return fail(c, "open_evchannel $evc $srv");
    if (get_handle(c, a->pos[1], VT_SRV, &sh)) return -1;
    sentinel(&evc, sizeof evc);
    rc = A.open_evchannel(sh, want_null(a, "evc") ? NULL : &evc);
    if (chk(c, a, "stsp_open_evchannel", rc)) return -1;
    if (rc != STS_EOK) return untouched(c, "stsp_open_evchannel", "evc", &evc, sizeof evc, rc);
    var_set_ptr(c, a->pos[0]->s, VT_EVC, evc);
    return 0;
}

static int c_close_evchannel(ctx_t *c, args_t *a)
{
    void *evc;
    NEED(close_evchannel);
    if (get_handle(c, a->npos ? a->pos[0] : NULL, VT_EVC, &evc)) return -1;
    return chk(c, a, "stsp_close_evchannel", A.close_evchannel(evc));
}

/* get_event $evc [timeout=..] [filters...]: one stsp_get_event; with
 * STS_EOK the event must match the filters; @ev.* */
static int c_get_event(ctx_t *c, args_t *a)
{
    void *evc;
    sts_uint32_t ms;
    sts_event_t e;
    char d[1200], why[512];
    int rc, ok;
    NEED(get_event);
    if (get_handle(c, a->npos ? a->pos[0] : NULL, VT_EVC, &evc)) return -1;
    if (get_timeout(c, a, STS_TIMEOUT_NONE, &ms)) return -1;
    sentinel(&e, sizeof e);
    rc = A.get_event(evc, ms, want_null(a, "ev") ? NULL : &e);
    if (chk(c, a, "stsp_get_event", rc)) return -1;
    if (rc != STS_EOK) return untouched(c, "stsp_get_event", "ev", &e, sizeof e, rc);
    ev_keep(c, &e);
    ev_str(&e, d, sizeof d);
    note(c, "%s", d);
    if (ev_match(c, a, &e, &ok, why, sizeof why)) return -1;
    if (!ok) return fail(c, "stsp_get_event: %s (event %s)", why, d);
    return 0;
}

/* drain_events $evc [timeout=300ms] [keep] [delete]: stsp_get_event until
 * STS_ENO_MORE, each call waiting up to timeout; the events are kept for
 * count_events (replacing those kept before, unless keep); delete
 * acknowledges each one (stsp_delete_event). @count = events received. */
static int c_drain_events(ctx_t *c, args_t *a)
{
    void *evc;
    sts_uint32_t ms;
    int n = 0, rc, del = has_word(a, "delete");
    NEED(get_event);
    if (get_handle(c, a->npos ? a->pos[0] : NULL, VT_EVC, &evc)) return -1;
    if (get_timeout(c, a, 300, &ms)) return -1;
    if (!has_word(a, "keep")) c->nevs = 0;
    for (;;) {
        sts_event_t e;
        char d[1200];
        sentinel(&e, sizeof e);
        rc = A.get_event(evc, ms, &e);
        if (rc == STS_ENO_MORE) {
            if (untouched(c, "stsp_get_event", "ev", &e, sizeof e, rc)) return -1;
            break;
        }
        if (must(c, "stsp_get_event", rc)) return -1;
        ev_keep(c, &e);
        n++;
        ev_str(&e, d, sizeof d);
        out(c, "  event %s", d);
        if (del && must(c, "stsp_delete_event", A.delete_event(evc, e.ev_id))) return -1;
    }
    c->rc = STS_ENO_MORE;
    c->count = (unsigned long long)n;
    note(c, "%d events%s", n, del ? " (deleted)" : "");
    return 0;
}

/* count_events [filters...] [count=N]: the events kept by drain_events /
 * get_event that match; @count */
static int c_count_events(ctx_t *c, args_t *a)
{
    int i, n = 0, ok;
    char why[512];
    unsigned long long want;
    for (i = 0; i < c->nevs; i++) {
        if (ev_match(c, a, &c->evs[i], &ok, why, sizeof why)) return -1;
        if (ok) n++;
    }
    c->count = (unsigned long long)n;
    note(c, "%d of %d events match", n, c->nevs);
    if (has_kv(a, "count")) {
        if (get_num(c, a, "count", 1, 0, &want)) return -1;
        if ((unsigned long long)n != want) {
            for (i = 0; i < c->nevs; i++) {
                char d[1200];
                ev_str(&c->evs[i], d, sizeof d);
                out(c, "  kept event %s", d);
            }
            return fail(c, "count_events: %d matching events, expected %llu", n, want);
        }
    }
    return 0;
}

/* delete_event $evc [id=N] (default: the last event received) */
static int c_delete_event(ctx_t *c, args_t *a)
{
    void *evc;
    unsigned long long id;
    NEED(delete_event);
    if (get_handle(c, a->npos ? a->pos[0] : NULL, VT_EVC, &evc)) return -1;
    if (get_num(c, a, "id", 0, c->ev.ev_id, &id)) return -1;
    note(c, "id=%llu", id);
    return chk(c, a, "stsp_delete_event", A.delete_event(evc, id));
}

/* async_copy_image / named_async_copy_image $to_srv $from_srv to_name=
 * [to_date=] [to_lsu=] from_name= [from_date=] [from_lsu=] [flags=]
 * (unnamed: [op=$var] gets the op id; named: op_name=S) */
static int async_copy(ctx_t *c, args_t *a, int named)
{
    sts_lsu_t tl, fl;
    sts_image_def_t td, fd;
    unsigned long long flags;
    const char *fn = named ? "stsp_named_async_copy_image" : "stsp_async_copy_image";
    int rc;
    if (named) NEED(named_async_copy_image);
    else NEED(async_copy_image);
    if (a->npos < 2) return fail(c, "%s $to_srv $from_srv to_name=... from_name=...", fn + 5);
    if (make_lsu_k(c, a, a->pos[0], "to_lsu", &tl) || make_lsu_k(c, a, a->pos[1], "from_lsu", &fl) ||
        make_def_k(c, a, "to_name", "to_date", "to_imgflags", &td) ||
        make_def_k(c, a, "from_name", "from_date", "from_imgflags", &fd) ||
        get_num(c, a, "flags", 0, 0, &flags))
        return -1;
    if (named) {
        char name[STRVAL];
        if (get_str(c, a, "op_name", NULL, name, sizeof name) < 0) return -1;
        rc = A.named_async_copy_image(want_null(a, "to_lsu") ? NULL : &tl, want_null(a, "to_def") ? NULL : &td,
                                      want_null(a, "from_lsu") ? NULL : &fl,
                                      want_null(a, "from_def") ? NULL : &fd, (int)flags,
                                      want_null(a, "op_name") ? NULL : name);
        return chk(c, a, fn, rc);
    } else {
        sts_uint64_t id;
        sentinel(&id, sizeof id);
        rc = A.async_copy_image(want_null(a, "to_lsu") ? NULL : &tl, want_null(a, "to_def") ? NULL : &td,
                                want_null(a, "from_lsu") ? NULL : &fl, want_null(a, "from_def") ? NULL : &fd,
                                (int)flags, want_null(a, "op_id") ? NULL : &id);
        if (chk(c, a, fn, rc)) return -1;
        if (rc != STS_EOK) return untouched(c, fn, "op_id", &id, sizeof id, rc);
        c->op_id = id;
        note(c, "op_id=%llu", (unsigned long long)id);
        if (has_kv(a, "op")) var_set_int(c, a->kv[kv_index(a, "op")].val, id);
        return 0;
    }
}

static int c_async_copy_image(ctx_t *c, args_t *a) { return async_copy(c, a, 0); }
static int c_named_async_copy_image(ctx_t *c, args_t *a) { return async_copy(c, a, 1); }

/* named_async_wait $srv op_name=S [timeout=..] [status=CODE]: @op_status;
 * op_status must be written exactly for STS_EOK, STS_ECANCELED and
 * STS_EOPFAILED (STS_EOK / STS_ECANCELED for the first two) */
static int c_named_async_wait(ctx_t *c, args_t *a)
{
    void *sh;
    char name[STRVAL];
    sts_uint32_t ms;
    int st, rc;
    NEED(named_async_wait);
    if (get_handle(c, a->npos ? a->pos[0] : NULL, VT_SRV, &sh)) return -1;
    if (get_str(c, a, "op_name", NULL, name, sizeof name) < 0) return -1;
    if (get_timeout(c, a, STS_TIMEOUT_INFINITE, &ms)) return -1;
    sentinel(&st, sizeof st);
    rc = A.named_async_wait(sh, want_null(a, "op_name") ? NULL : name, ms, want_null(a, "op_status") ? NULL : &st);
    if (chk(c, a, "stsp_named_async_wait", rc)) return -1;
    if (rc != STS_EOK && rc != STS_ECANCELED && rc != STS_EOPFAILED)
        return untouched(c, "stsp_named_async_wait", "op_status", &st, sizeof st, rc);
    if (want_null(a, "op_status")) return 0;
    {
        int s2;
        sentinel(&s2, sizeof s2);
        if (st == s2) return fail(c, "stsp_named_async_wait returned %s but left op_status unwritten", code_name(rc));
    }
    c->op_status = st;
    note(c, "op_status=%s", code_name(st));
    if (rc == STS_EOK && st != STS_EOK)
        return fail(c, "stsp_named_async_wait returned STS_EOK with op_status %s", code_name(st));
    if (rc == STS_ECANCELED && st != STS_ECANCELED)
        return fail(c, "stsp_named_async_wait returned STS_ECANCELED with op_status %s", code_name(st));
    if (has_kv(a, "status")) {
        int code;
        if (code_parse(a->kv[kv_index(a, "status")].val, &code)) return fail(c, "unknown code status=%s", a->kv[kv_index(a, "status")].val);
        if (st != code) return fail(c, "stsp_named_async_wait: op_status %s, expected %s", code_name(st), code_name(code));
    }
    return 0;
}

/* named_async_cancel $srv op_name=S */
static int c_named_async_cancel(ctx_t *c, args_t *a)
{
    void *sh;
    char name[STRVAL];
    NEED(named_async_cancel);
    if (get_handle(c, a->npos ? a->pos[0] : NULL, VT_SRV, &sh)) return -1;
    if (get_str(c, a, "op_name", NULL, name, sizeof name) < 0) return -1;
    return chk(c, a, "stsp_named_async_cancel", A.named_async_cancel(sh, want_null(a, "op_name") ? NULL : name));
}

/* label_lsu $srv [lsu=S] label=S */
static int c_label_lsu(ctx_t *c, args_t *a)
{
    sts_lsu_t lsu;
    char label[STRVAL];
    NEED(label_lsu);
    if (make_lsu(c, a, a->npos ? a->pos[0] : NULL, &lsu)) return -1;
    if (get_str(c, a, "label", NULL, label, sizeof label) < 0) return -1;
    return chk(c, a, "stsp_label_lsu", A.label_lsu(want_null(a, "lsu") ? NULL : &lsu, want_null(a, "label") ? NULL : label));
}

/* ================================================================== */
/* Commands: variables, assertions, misc                              */
/* ================================================================== */

static int c_set(ctx_t *c, args_t *a)
{
    tok_t *tv[MAXTOK];
    int i, n = 0, start = 2;
    val_t v;
    if (a->T->n < 3 || a->T->t[1].s[0] != '$') return fail(c, "set $var [=] expression");
    if (!strcmp(a->T->t[2].s, "=") && !a->T->t[2].quoted) start = 3;
    for (i = start; i < a->T->n; i++) tv[n++] = &a->T->t[i];
    if (eval_toks(c, tv, n, &v)) return -1;
    if (v.is_str) var_set_str(c, a->T->t[1].s, v.s);
    else var_set_int(c, a->T->t[1].s, v.n);
    if (v.is_str) note(c, "%s = \"%s\"", a->T->t[1].s, v.s);
    else note(c, "%s = %llu", a->T->t[1].s, v.n);
    return 0;
}

/* evaluate "LEFT OP RIGHT" (tokens t[0..n)); *ok = the result, desc = the
 * values compared (for messages). Returns -1 on a malformed condition. */
static int eval_cond(ctx_t *c, tok_t *t, int n, int *ok, char *desc, size_t desclen)
{
    static const char *ops[] = { "==", "!=", "<=", ">=", "<", ">", "has", "lacks", "is" };
    tok_t *lt[MAXTOK], *rt[MAXTOK];
    int i, k = -1, nl = 0, nr = 0, opi = -1;
    size_t j;
    val_t l, r;
    char ls[STRVAL + 64], rs[STRVAL + 64];
    *ok = 0;
    for (i = 0; i < n && k < 0; i++)
        for (j = 0; j < sizeof ops / sizeof ops[0]; j++)
            if (!t[i].quoted && !strcmp(t[i].s, ops[j])) {
                k = i;
                opi = (int)j;
                break;
            }
    if (k < 0) return fail(c, "condition must be LEFT OP RIGHT (OP: == != < <= > >= has lacks is)");
    for (i = 0; i < k; i++) lt[nl++] = &t[i];
    for (i = k + 1; i < n; i++) rt[nr++] = &t[i];
    if (eval_toks(c, lt, nl, &l)) return -1;
    if (!strcmp(ops[opi], "is")) {
        const char *cls = nr == 1 ? rt[0]->s : "";
        if (!l.is_str) return fail(c, "'is' needs a string on the left");
        if (!strcmp(cls, "hex40")) *ok = is_hex(l.s, 40);
        else if (!strcmp(cls, "hex60")) *ok = is_hex(l.s, 60);
        else if (!strcmp(cls, "empty")) *ok = l.s[0] == '\0';
        else return fail(c, "'is' classes: hex40 hex60 empty");
        snprintf(desc, desclen, "\"%.2000s\" is %s", l.s, cls);
        return 0;
    }
    if (eval_toks(c, rt, nr, &r)) return -1;
    if (l.is_str) snprintf(ls, sizeof ls, "\"%s\"", l.s);
    else snprintf(ls, sizeof ls, "%llu (0x%llx)", l.n, l.n);
    if (r.is_str) snprintf(rs, sizeof rs, "\"%s\"", r.s);
    else snprintf(rs, sizeof rs, "%llu (0x%llx)", r.n, r.n);
    if (l.is_str != r.is_str) return fail(c, "a string compared with a number: %s %s %s", ls, ops[opi], rs);
    if (l.is_str) {
        int cmp = strcmp(l.s, r.s);
        if (!strcmp(ops[opi], "==")) *ok = cmp == 0;
        else if (!strcmp(ops[opi], "!=")) *ok = cmp != 0;
        else return fail(c, "strings compare only with == and !=");
    } else {
        switch (opi) {
        case 0: *ok = l.n == r.n; break;
        case 1: *ok = l.n != r.n; break;
        case 2: *ok = l.n <= r.n; break;
        case 3: *ok = l.n >= r.n; break;
        case 4: *ok = l.n < r.n; break;
        case 5: *ok = l.n > r.n; break;
        case 6: *ok = (l.n & r.n) == r.n; break;
        case 7: *ok = (l.n & r.n) == 0; break;
        default: break;
        }
    }
    {
        char extra[300] = "";
        int fl = 0;
        for (i = 0; i < n; i++)
            if (strstr(t[i].s, "flags")) fl = 1;
        if (!l.is_str && (opi >= 6 || fl)) {
            char f1[256];
            image_flags_str((unsigned)l.n, f1, sizeof f1);
            snprintf(extra, sizeof extra, " [as image flags: %s]", f1);
        }
        snprintf(desc, desclen, "%.2000s %s %.2000s%s", ls, ops[opi], rs, extra);
    }
    return 0;
}

static int c_assert(ctx_t *c, args_t *a)
{
    char desc[STRVAL * 2 + 512];
    int ok;
    if (a->T->n < 2) return fail(c, "assert LEFT OP RIGHT (OP: == != < <= > >= has lacks is)");
    if (eval_cond(c, &a->T->t[1], a->T->n - 1, &ok, desc, sizeof desc)) return -1;
    if (!ok) return fail(c, "assertion failed: %s", desc);
    note(c, "ok: %s", desc);
    return 0;
}

static int c_print(ctx_t *c, args_t *a)
{
    int i;
    for (i = 1; i < a->T->n; i++) {
        val_t v;
        tok_t *t = &a->T->t[i];
        if (!t->quoted && (t->s[0] == '$' || t->s[0] == '@') && eval_toks(c, &t, 1, &v) == 0) {
            if (v.is_str) note(c, "%s ", v.s);
            else note(c, "%llu ", v.n);
        } else {
            note(c, "%s ", t->s);
        }
    }
    return 0;
}

static int c_pattern_sha1(ctx_t *c, args_t *a)
{
    unsigned long long size;
    char hex[41];
    content_t ct;
    if (a->npos < 1 || a->pos[0]->s[0] != '$') return fail(c, "pattern_sha1 $var seed=S size=N | comp=C [size=N]");
    if (get_content(c, a, 1, &ct) < 0 || get_num(c, a, "size", !ct.comp, ct.total, &size)) return -1;
    content_sha1(&ct, size, hex);
    var_set_str(c, a->pos[0]->s, hex);
    note(c, "%s", hex);
    return 0;
}

/* compose $var PIECE... : $var = the composition (canonical text) */
static int c_compose(ctx_t *c, args_t *a)
{
    char spec[STRVAL * 2], canon[STRVAL * 2];
    size_t o = 0;
    int i;
    content_t ct;
    if (a->npos < 2 || a->pos[0]->s[0] != '$') return fail(c, "compose $var SEED:AT:LEN...");
    spec[0] = '\0';
    for (i = 1; i < a->npos; i++) {
        size_t l = strlen(a->pos[i]->s);
        if (o + l + 2 >= sizeof spec) return fail(c, "composition too long");
        if (o) spec[o++] = ',';
        memcpy(spec + o, a->pos[i]->s, l + 1);
        o += l;
    }
    if (parse_comp(c, spec, &ct)) return -1;
    comp_text(&ct, canon, sizeof canon);
    if (strlen(canon) + 1 >= sizeof canon) return fail(c, "composition too long");
    var_set_str(c, a->pos[0]->s, canon);
    note(c, "%d pieces, %llu bytes", ct.n, ct.total);
    return 0;
}

static int parse_duration_ms(ctx_t *c, const char *s, unsigned long long *ms)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s) return fail(c, "bad duration '%s'", s);
    if (!strcmp(end, "ms")) *ms = (unsigned long long)v;
    else if (!strcmp(end, "s") || !*end) *ms = (unsigned long long)(v * 1000.0);
    else return fail(c, "bad duration '%s' (use 100ms or 2s)", s);
    return 0;
}

static void sleep_ms(unsigned long long ms)
{
    struct timespec ts;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) { }
}

static int c_sleep(ctx_t *c, args_t *a)
{
    unsigned long long ms;
    if (a->npos < 1) return fail(c, "sleep DURATION");
    if (parse_duration_ms(c, a->pos[0]->s, &ms)) return -1;
    sleep_ms(ms);
    return 0;
}

static int c_touch(ctx_t *c, args_t *a)
{
    int fd;
    if (a->npos < 1) return fail(c, "touch PATH");
    fd = open(a->pos[0]->s, O_WRONLY | O_CREAT, 0644);
    if (fd < 0) return fail(c, "touch %s: %s", a->pos[0]->s, strerror(errno));
    fsync(fd);
    close(fd);
    return 0;
}

static int c_mkdir(ctx_t *c, args_t *a)
{
    if (a->npos < 1) return fail(c, "mkdir PATH");
    if (mkdir(a->pos[0]->s, 0755) != 0 && errno != EEXIST) return fail(c, "mkdir %s: %s", a->pos[0]->s, strerror(errno));
    return 0;
}

static int cmp_str(const void *x, const void *y) { return strcmp(*(char *const *)x, *(char *const *)y); }

/* files DIR [== NAME... | has NAME... | lacks NAME...]: the entries of a
 * directory (sorted; "." and ".." left out); a missing directory has none */
static int c_files(ctx_t *c, args_t *a)
{
    DIR *d;
    struct dirent *e;
    char *got[1024];
    int n = 0, i, res;
    if (a->npos < 1) return fail(c, "files DIR [== NAME...|has NAME...|lacks NAME...]");
    d = opendir(a->pos[0]->s);
    if (d) {
        while ((e = readdir(d)) != NULL && n < 1024) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            got[n++] = xstrdup(e->d_name);
        }
        closedir(d);
    } else if (errno != ENOENT) {
        return fail(c, "opendir %s: %s", a->pos[0]->s, strerror(errno));
    }
    qsort(got, (size_t)n, sizeof got[0], cmp_str);
    res = compare_list(c, "directory", got, n, a, 1);
    for (i = 0; i < n; i++) free(got[i]);
    return res;
}

static int c_rm(ctx_t *c, args_t *a)
{
    if (a->npos < 1) return fail(c, "rm PATH");
    if (unlink(a->pos[0]->s) != 0 && errno != ENOENT) return fail(c, "rm %s: %s", a->pos[0]->s, strerror(errno));
    return 0;
}

static void describe_status(int st, char *buf, size_t len)
{
    if (WIFEXITED(st)) snprintf(buf, len, "exit %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st)) snprintf(buf, len, "signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
    else snprintf(buf, len, "status 0x%x", st);
}

static int c_wait_file(ctx_t *c, args_t *a)
{
    unsigned long long timeout_ms = 60000;
    double t0 = now_s();
    pid_t watch = 0;
    if (a->npos < 1) return fail(c, "wait_file PATH [timeout=60s] [proc=$p]");
    if (has_kv(a, "timeout") && parse_duration_ms(c, a->kv[kv_index(a, "timeout")].val, &timeout_ms)) return -1;
    if (has_kv(a, "proc")) {
        var_t *v = var_find(c, a->kv[kv_index(a, "proc")].val);
        if (!v || v->type != VT_PROC) return fail(c, "proc= must name a process variable");
        watch = (pid_t)v->n;
    }
    for (;;) {
        struct stat sb;
        if (stat(a->pos[0]->s, &sb) == 0) break;
        if (watch) {
            int st;
            pid_t r = waitpid(watch, &st, WNOHANG);
            if (r == watch) {
                char d[128];
                var_t *v = var_find(c, a->kv[kv_index(a, "proc")].val);
                describe_status(st, d, sizeof d);
                children_remove(watch);
                v->p = (void *)1; /* reaped */
                v->n = (unsigned long long)st | (1ull << 40);
                if (stat(a->pos[0]->s, &sb) == 0) break;
                return fail(c, "process %s ended (%s) before %s appeared", a->kv[kv_index(a, "proc")].val, d, a->pos[0]->s);
            }
        }
        if ((now_s() - t0) * 1000.0 > (double)timeout_ms)
            return fail(c, "timed out after %llu ms waiting for %s", timeout_ms, a->pos[0]->s);
        sleep_ms(5);
    }
    note(c, "after %.0f ms", (now_s() - t0) * 1000.0);
    return 0;
}

static int c_hang(ctx_t *c, args_t *a)
{
    (void)a;
    out(c, "hanging until killed");
    for (;;) pause();
    return 0;
}

/* raise SIGNAL: die of a signal, as a crashing plugin would (self-tests) */
static int c_raise(ctx_t *c, args_t *a)
{
    const char *s = a->npos ? a->pos[0]->s : "SEGV";
    int sig = !strcmp(s, "SEGV") ? SIGSEGV : !strcmp(s, "ABRT") ? SIGABRT : !strcmp(s, "KILL") ? SIGKILL : atoi(s);
    if (sig <= 0) return fail(c, "raise SEGV|ABRT|KILL|N");
    out(c, "raising signal %d", sig);
    signal(sig, SIG_DFL);
    raise(sig);
    return fail(c, "still alive after raising signal %d", sig);
}

static int c_noop(ctx_t *c, args_t *a)
{
    (void)c;
    (void)a;
    return 0;
}

/* ================================================================== */
/* Commands: external programs (the administrator's CLI)              */
/* ================================================================== */

static int exec_opt(const tok_t *t)
{
    static const char *opts[] = { "out", "err", "contains", "lacks", "timeout", "env" };
    size_t i;
    if (t->eq <= 0) return 0;
    for (i = 0; i < sizeof opts / sizeof opts[0]; i++)
        if ((size_t)t->eq == strlen(opts[i]) && !strncmp(t->s, opts[i], (size_t)t->eq)) return 1;
    return 0;
}

/* the whole of a small file (at most 1 MiB), NUL-terminated */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = xmalloc((1u << 20) + 1);
    size_t n = 0;
    if (f) {
        n = fread(buf, 1, 1u << 20, f);
        fclose(f);
    }
    buf[n] = '\0';
    return buf;
}

static void log_output(ctx_t *c, const char *what, const char *text, int maxlines)
{
    const char *p = text;
    int n = 0;
    while (*p && n < maxlines) {
        size_t l = strcspn(p, "\n");
        out(c, "L%-3d   %s| %.*s", c->line, what, (int)(l > 500 ? 500 : l), p);
        n++;
        p += l;
        if (*p == '\n') p++;
    }
    if (*p) out(c, "L%-3d   %s| ... (%zu more bytes)", c->line, what, strlen(p));
}

/* does the exit status st match one of "exit=N|signal=NAME|any" */
static int status_matches(ctx_t *c, const char *want, int st, int *matched)
{
    const char *p = want;
    *matched = 0;
    while (*p) {
        char w[64];
        size_t l = strcspn(p, "|");
        if (l >= sizeof w) return fail(c, "bad expectation '%s'", want);
        memcpy(w, p, l);
        w[l] = '\0';
        if (!strcmp(w, "any")) *matched = 1;
        else if (!strncmp(w, "exit=", 5) || (w[0] && strspn(w, "0123456789") == l)) {
            /* exit=N, or a bare N after the first: exit=2|5 */
            if (WIFEXITED(st) && WEXITSTATUS(st) == atoi(w[0] == 'e' ? w + 5 : w)) *matched = 1;
        } else if (!strncmp(w, "signal=", 7)) {
            const char *s = w + 7;
            int sig = isdigit((unsigned char)*s) ? atoi(s) : !strcmp(s, "KILL") ? SIGKILL : !strcmp(s, "TERM") ? SIGTERM
                    : !strcmp(s, "SEGV") ? SIGSEGV : !strcmp(s, "ABRT") ? SIGABRT : 0;
            if (!sig) return fail(c, "unknown signal name '%s'", s);
            if (WIFSIGNALED(st) && WTERMSIG(st) == sig) *matched = 1;
        } else {
            return fail(c, "exec expectation must be exit=N, signal=NAME or any (alternatives joined with |: exit=2|5), not '%s'", w);
        }
        p += l;
        if (*p == '|') p++;
    }
    return 0;
}

/* exec [out=$v] [err=$v] [contains=S] [lacks=S] [timeout=DUR] [env=NAME=VALUE] PROGRAM ARGS...
 * [-> exit=N|signal=NAME|any]: run a program (combstore = the administrator's
 * CLI), log its output, check its exit status (default exit=0) */
static int c_exec(ctx_t *c, args_t *a)
{
    static int counter;
    char *argv[MAXTOK + 1], outp[4200], errp[4200], d[128], env[STRVAL];
    char *so, *se;
    const char *want = a->expect ? a->expect : "exit=0";
    unsigned long long timeout_ms = 60000;
    int n = 0, i, st = 0, matched, res = 0, seq;
    pid_t pid;
    double t0 = now_s();
    env[0] = '\0';
    for (i = 1; i < a->T->n; i++) {
        tok_t *t = &a->T->t[i];
        if (!t->quoted && (!strcmp(t->s, "->") || !strcmp(t->s, "expect"))) break;
        if (exec_opt(t)) continue;
        argv[n++] = t->s;
    }
    argv[n] = NULL;
    if (n == 0) return fail(c, "exec [options] PROGRAM [ARGS...] [-> exit=N]");
    if (!strcmp(argv[0], "combstore")) {
        if (access(g_cli, X_OK) != 0)
            return fail(c, "the administrator's CLI %s is missing (%s): build it with `cargo build --release --bins` "
                        "or pass COMBSTORE_BIN=/path/to/combstore to make (replay --cli PATH)", g_cli, strerror(errno));
        argv[0] = g_cli;
    }
    if (has_kv(a, "timeout") && parse_duration_ms(c, a->kv[kv_index(a, "timeout")].val, &timeout_ms)) return -1;
    if (has_kv(a, "env") && get_str(c, a, "env", NULL, env, sizeof env) < 0) return -1;
    if (env[0] && !strchr(env, '=')) return fail(c, "env= must be NAME=VALUE");
    seq = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
    snprintf(outp, sizeof outp, "%s/exec.%ld.%d.out", g_work, (long)getpid(), seq);
    snprintf(errp, sizeof errp, "%s/exec.%ld.%d.err", g_work, (long)getpid(), seq);
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) return fail(c, "fork: %s", strerror(errno));
    if (pid == 0) {
        int fo = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fe = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fi = open("/dev/null", O_RDONLY);
        if (fo < 0 || fe < 0 || fi < 0) _exit(126);
        dup2(fi, 0);
        dup2(fo, 1);
        dup2(fe, 2);
        if (env[0]) putenv(env);
        execvp(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    children_add(pid);
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) break;
        if (r < 0 && errno != EINTR) {
            children_remove(pid);
            return fail(c, "waitpid: %s", strerror(errno));
        }
        if ((now_s() - t0) * 1000.0 > (double)timeout_ms) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            children_remove(pid);
            so = slurp(outp);
            se = slurp(errp);
            log_output(c, "stdout", so, 40);
            log_output(c, "stderr", se, 40);
            free(so);
            free(se);
            unlink(outp);
            unlink(errp);
            return fail(c, "%s still running after %llu ms (killed)", argv[0], timeout_ms);
        }
        sleep_ms(2);
    }
    children_remove(pid);
    so = slurp(outp);
    se = slurp(errp);
    unlink(outp);
    unlink(errp);
    log_output(c, "stdout", so, 60);
    log_output(c, "stderr", se, 60);
    describe_status(st, d, sizeof d);
    note(c, "%s after %.0f ms", d, (now_s() - t0) * 1000.0);
    c->exitst = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 255;
    if (status_matches(c, want, st, &matched)) res = -1;
    else if (!matched) {
        size_t l = strcspn(se, "\n");
        res = fail(c, "%s ended with %s, expected %s%s%.*s", argv[0], d, want, l ? "; stderr: " : "",
                   (int)(l > 300 ? 300 : l), se);
    }
    if (!res && has_kv(a, "contains")) {
        char want_s[STRVAL];
        if (get_str(c, a, "contains", NULL, want_s, sizeof want_s) < 0) res = -1;
        else if (!strstr(so, want_s)) res = fail(c, "the output of %s lacks \"%s\"", argv[0], want_s);
    }
    if (!res && has_kv(a, "lacks")) {
        char want_s[STRVAL];
        if (get_str(c, a, "lacks", NULL, want_s, sizeof want_s) < 0) res = -1;
        else if (strstr(so, want_s)) res = fail(c, "the output of %s has \"%s\"", argv[0], want_s);
    }
    if (!res && has_kv(a, "out")) {
        const char *v = a->kv[kv_index(a, "out")].val;
        if (v[0] != '$') res = fail(c, "out= must name a variable ($name)");
        else var_set_str(c, v, so);
    }
    if (!res && has_kv(a, "err")) {
        const char *v = a->kv[kv_index(a, "err")].val;
        if (v[0] != '$') res = fail(c, "err= must name a variable ($name)");
        else var_set_str(c, v, se);
    }
    free(so);
    free(se);
    return res;
}

/* json_get $var SOURCE KEY: the value of the first "KEY": in the text of
 * SOURCE (a string variable, e.g. an exec out=), as a number or a string */
static int c_json_get(ctx_t *c, args_t *a)
{
    var_t *src;
    const char *p, *key;
    char pat[256];
    if (a->npos != 3 || a->pos[0]->s[0] != '$' || a->pos[1]->s[0] != '$')
        return fail(c, "json_get $var $source KEY");
    src = var_find(c, a->pos[1]->s);
    if (!src || src->type != VT_STR) return fail(c, "%s is not a string variable", a->pos[1]->s);
    key = a->pos[2]->s;
    snprintf(pat, sizeof pat, "\"%s\"", key);
    for (p = strstr(src->s, pat); p; p = strstr(p + 1, pat)) {
        const char *q = p + strlen(pat);
        while (isspace((unsigned char)*q)) q++;
        if (*q != ':') continue;
        q++;
        while (isspace((unsigned char)*q)) q++;
        if (*q == '"') {
            char buf[STRVAL];
            size_t o = 0;
            for (q++; *q && *q != '"' && o + 8 < sizeof buf; q++) {
                if (*q == '\\' && q[1]) {
                    q++;
                    switch (*q) {
                    case 'n': buf[o++] = '\n'; break;
                    case 't': buf[o++] = '\t'; break;
                    case 'r': buf[o++] = '\r'; break;
                    case 'b': buf[o++] = '\b'; break;
                    case 'f': buf[o++] = '\f'; break;
                    case 'u': {
                        unsigned cp = 0;
                        int k;
                        for (k = 1; k <= 4 && hexval(q[k]) >= 0; k++) cp = cp * 16 + (unsigned)hexval(q[k]);
                        if (k != 5) return fail(c, "json_get %s: bad \\u escape", key);
                        q += 4;
                        if (cp < 0x80) buf[o++] = (char)cp;
                        else if (cp < 0x800) {
                            buf[o++] = (char)(0xC0 | (cp >> 6));
                            buf[o++] = (char)(0x80 | (cp & 0x3F));
                        } else {
                            buf[o++] = (char)(0xE0 | (cp >> 12));
                            buf[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                            buf[o++] = (char)(0x80 | (cp & 0x3F));
                        }
                        break;
                    }
                    default: buf[o++] = *q; break;
                    }
                } else {
                    buf[o++] = *q;
                }
            }
            if (*q != '"') return fail(c, "json_get %s: unterminated string", key);
            buf[o] = '\0';
            var_set_str(c, a->pos[0]->s, buf);
            note(c, "%s = \"%s\"", a->pos[0]->s, buf);
            return 0;
        }
        if (isdigit((unsigned char)*q)) {
            char *end;
            unsigned long long v;
            errno = 0;
            v = strtoull(q, &end, 10);
            if (errno || *end == '.' || *end == 'e' || *end == 'E')
                return fail(c, "json_get %s: %.40s is not an unsigned integer", key, q);
            var_set_int(c, a->pos[0]->s, v);
            note(c, "%s = %llu", a->pos[0]->s, v);
            return 0;
        }
        if (!strncmp(q, "true", 4) || !strncmp(q, "false", 5)) {
            var_set_int(c, a->pos[0]->s, q[0] == 't');
            note(c, "%s = %d", a->pos[0]->s, q[0] == 't');
            return 0;
        }
        return fail(c, "json_get %s: unsupported value %.40s", key, q);
    }
    return fail(c, "json_get: no key \"%s\" in %s (%.200s)", key, a->pos[1]->s, src->s);
}

/* ================================================================== */
/* Commands: sections, threads, processes                             */
/* ================================================================== */

static int exec_block(ctx_t *c, int from, int to);

/* name=value pairs of call/thread/spawn/fork become variables */
static void set_params(ctx_t *c, args_t *a)
{
    int i;
    for (i = 0; i < a->nkv; i++) {
        val_t v;
        char *end;
        const char *s = a->kv[i].val;
        if (!strcmp(a->kv[i].key, "file") || !strcmp(a->kv[i].key, "who")) continue;
        /* numbers (also expressions like 300+$i) become integers */
        if (!a->kv[i].quoted && *s && (isdigit((unsigned char)*s) || *s == '$' || *s == '@' || *s == '(')) {
            parser_t P;
            P.c = c;
            P.p = s;
            if (p_or(&P, &v) == 0 && !*P.p) {
                if (v.is_str) var_set_str(c, a->kv[i].key, v.s);
                else var_set_int(c, a->kv[i].key, v.n);
                continue;
            }
        }
        (void)end;
        var_set_str(c, a->kv[i].key, s);
    }
}

static int c_call(ctx_t *c, args_t *a)
{
    int from, to;
    if (a->npos < 1) return fail(c, "call SECTION [name=value ...]");
    if (find_section(c->prog, a->pos[0]->s, &from, &to)) return fail(c, "no section '%s'", a->pos[0]->s);
    set_params(c, a);
    {
        int saved = c->line, r;
        out(c, "L%d call %s", c->line, a->pos[0]->s);
        r = exec_block(c, from, to);
        c->line = saved;
        return r;
    }
}

/* every thread started, so main can free the joined ones at the end */
static thr_t **g_threads;
static int g_nthreads, g_capthreads;
static pthread_mutex_t g_threads_mu = PTHREAD_MUTEX_INITIALIZER;

static void threads_add(thr_t *t)
{
    pthread_mutex_lock(&g_threads_mu);
    if (g_nthreads == g_capthreads) {
        g_capthreads = g_capthreads ? g_capthreads * 2 : 16;
        g_threads = realloc(g_threads, (size_t)g_capthreads * sizeof *g_threads);
        if (!g_threads) exit(3);
    }
    g_threads[g_nthreads++] = t;
    pthread_mutex_unlock(&g_threads_mu);
}

static void threads_free_joined(void)
{
    int i;
    pthread_mutex_lock(&g_threads_mu);
    for (i = 0; i < g_nthreads; i++)
        if (g_threads[i]->joined) free(g_threads[i]);
    free(g_threads);
    g_threads = NULL;
    g_nthreads = g_capthreads = 0;
    pthread_mutex_unlock(&g_threads_mu);
}

static void *thread_main(void *arg)
{
    thr_t *t = arg;
    t->result = exec_block(t->ctx, t->from, t->to);
    if (t->result == 0) out(t->ctx, "section %s done", t->section);
    return NULL;
}

static int c_thread(ctx_t *c, args_t *a)
{
    thr_t *t;
    char who[64];
    if (a->npos < 2 || a->pos[0]->s[0] != '$') return fail(c, "thread $t SECTION [name=value ...]");
    t = xmalloc(sizeof *t);
    memset(t, 0, sizeof *t);
    if (find_section(c->prog, a->pos[1]->s, &t->from, &t->to)) {
        free(t);
        return fail(c, "no section '%s'", a->pos[1]->s);
    }
    snprintf(t->section, sizeof t->section, "%s", a->pos[1]->s);
    snprintf(who, sizeof who, "%.40s/%.20s", c->who, a->pos[0]->s + 1);
    t->ctx = ctx_clone(c, who);
    set_params(t->ctx, a);
    if (pthread_create(&t->t, NULL, thread_main, t) != 0) return fail(c, "pthread_create failed");
    threads_add(t);
    var_set_ptr(c, a->pos[0]->s, VT_THREAD, t);
    return 0;
}

static int c_join(ctx_t *c, args_t *a)
{
    var_t *v;
    thr_t *t;
    const char *want = a->expect ? a->expect : "ok";
    if (a->npos < 1) return fail(c, "join $t");
    v = var_find(c, a->pos[0]->s);
    if (!v || v->type != VT_THREAD) return fail(c, "%s is not a thread", a->pos[0]->s);
    t = v->p;
    if (t->joined) return fail(c, "thread %s already joined", a->pos[0]->s);
    pthread_join(t->t, NULL);
    t->joined = 1;
    ctx_free(t->ctx); /* the thread's variables; t stays for the checks */
    t->ctx = NULL;
    if (!strcmp(want, "ok") && t->result != 0) return fail(c, "thread %s (section %s) failed", a->pos[0]->s, t->section);
    if (!strcmp(want, "fail") && t->result == 0) return fail(c, "thread %s succeeded, expected it to fail", a->pos[0]->s);
    return 0;
}

static int c_spawn(ctx_t *c, args_t *a)
{
    char *argv[MAXTOK + 32];
    char file[4096], seedbuf[64], who[64], t0buf[64], kvbuf[MAXTOK][STRVAL];
    const char *section = NULL;
    int n = 0, i, nk = 0;
    pid_t pid;
    ctx_t *tmp;
    if (a->npos < 1 || a->pos[0]->s[0] != '$') return fail(c, "spawn $p SECTION [name=value ...] | spawn $p file=PATH [section=NAME]");
    if (has_kv(a, "file")) {
        const char *f = a->kv[kv_index(a, "file")].val;
        if (f[0] == '/') snprintf(file, sizeof file, "%s", f);
        else snprintf(file, sizeof file, "%s/%s", c->prog->dir, f);
        if (a->npos >= 2) section = a->pos[1]->s;
    } else {
        int from, to;
        if (a->npos < 2) return fail(c, "spawn $p SECTION");
        section = a->pos[1]->s;
        if (find_section(c->prog, section, &from, &to)) return fail(c, "no section '%s'", section);
        snprintf(file, sizeof file, "%s", c->prog->path);
    }
    snprintf(who, sizeof who, "%s", a->pos[0]->s + 1);
    snprintf(seedbuf, sizeof seedbuf, "%llu", g_seed);
    snprintf(t0buf, sizeof t0buf, "%.6f", g_t0);
    argv[n++] = g_self;
    argv[n++] = "--plugin";
    argv[n++] = (char *)g_plugin;
    argv[n++] = "--server";
    argv[n++] = g_server_dir;
    argv[n++] = "--work";
    argv[n++] = g_work;
    argv[n++] = "--seed";
    argv[n++] = seedbuf;
    argv[n++] = "--who";
    argv[n++] = who;
    argv[n++] = "--t0";
    argv[n++] = t0buf;
    if (g_stats) {
        argv[n++] = "--stats";
        argv[n++] = (char *)g_stats;
    }
    if (section) {
        argv[n++] = "--section";
        argv[n++] = (char *)section;
    }
    argv[n++] = file;
    /* parameters, evaluated here so expressions like seed=300+$i work */
    tmp = ctx_new(c->prog, c->who);
    for (i = 0; i < c->nvars; i++) { /* visible for evaluation only */
        if (c->vars[i].type == VT_INT) var_set_int(tmp, c->vars[i].name, c->vars[i].n);
        else if (c->vars[i].type == VT_STR) var_set_str(tmp, c->vars[i].name, c->vars[i].s);
    }
    tmp->line = c->line;
    set_params(tmp, a);
    for (i = 0; i < a->nkv; i++) {
        var_t *v;
        if (!strcmp(a->kv[i].key, "file")) continue;
        v = var_find(tmp, a->kv[i].key);
        if (!v) continue;
        if (v->type == VT_INT) snprintf(kvbuf[nk], STRVAL, "%s=%llu", v->name, v->n);
        else snprintf(kvbuf[nk], STRVAL, "%s=%s", v->name, v->s);
        argv[n++] = kvbuf[nk++];
    }
    ctx_free(tmp);
    argv[n] = NULL;
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) return fail(c, "fork: %s", strerror(errno));
    if (pid == 0) {
        execv(g_self, argv);
        fprintf(stderr, "replay: exec %s: %s\n", g_self, strerror(errno));
        _exit(127);
    }
    children_add(pid);
    {
        var_t *v = var_set(c, a->pos[0]->s);
        v->type = VT_PROC;
        v->n = (unsigned long long)pid;
        v->p = NULL;
    }
    note(c, "pid %ld", (long)pid);
    return 0;
}

static int c_fork(ctx_t *c, args_t *a)
{
    int from, to;
    pid_t pid;
    if (a->npos < 2 || a->pos[0]->s[0] != '$') return fail(c, "fork $p SECTION [name=value ...]");
    if (find_section(c->prog, a->pos[1]->s, &from, &to)) return fail(c, "no section '%s'", a->pos[1]->s);
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) return fail(c, "fork: %s", strerror(errno));
    if (pid == 0) {
        int r;
        snprintf(c->who, sizeof c->who, "%s", a->pos[0]->s + 1);
        g_written = g_read = 0;
        g_nchildren = 0;
        set_params(c, a);
        r = exec_block(c, from, to);
        write_stats();
        fflush(stdout);
        _exit(r == 0 ? 0 : 1);
    }
    children_add(pid);
    {
        var_t *v = var_set(c, a->pos[0]->s);
        v->type = VT_PROC;
        v->n = (unsigned long long)pid;
    }
    note(c, "pid %ld", (long)pid);
    return 0;
}

static int c_wait(ctx_t *c, args_t *a)
{
    var_t *v;
    int st;
    char d[128];
    const char *want = a->expect ? a->expect : "exit=0";
    unsigned long long timeout_ms = 0;
    double t0 = now_s();
    if (a->npos < 1) return fail(c, "wait $p [timeout=..] [-> exit=N|signal=KILL|any]");
    v = var_find(c, a->pos[0]->s);
    if (!v || v->type != VT_PROC) return fail(c, "%s is not a process", a->pos[0]->s);
    if (has_kv(a, "timeout") && parse_duration_ms(c, a->kv[kv_index(a, "timeout")].val, &timeout_ms)) return -1;
    if (v->p == (void *)1) {
        st = (int)(v->n & 0xffffffffu); /* already reaped by wait_file */
    } else {
        for (;;) {
            pid_t r = waitpid((pid_t)v->n, &st, timeout_ms ? WNOHANG : 0);
            if (r == (pid_t)v->n) break;
            if (r < 0 && errno != EINTR) return fail(c, "waitpid(%llu): %s", v->n, strerror(errno));
            if (timeout_ms && (now_s() - t0) * 1000.0 > (double)timeout_ms)
                return fail(c, "process %s still running after %llu ms", a->pos[0]->s, timeout_ms);
            if (timeout_ms) sleep_ms(5);
        }
        children_remove((pid_t)v->n);
        v->p = (void *)1;
        v->n = (unsigned long long)(unsigned)st | (1ull << 40);
    }
    describe_status(st, d, sizeof d);
    note(c, "%s", d);
    if (!strcmp(want, "any")) return 0;
    if (!strncmp(want, "exit=", 5)) {
        if (WIFEXITED(st) && WEXITSTATUS(st) == atoi(want + 5)) return 0;
    } else if (!strncmp(want, "signal=", 7) || !strcmp(want, "killed")) {
        int sig = SIGKILL;
        const char *s = want[0] == 'k' ? "KILL" : want + 7;
        if (isdigit((unsigned char)*s)) sig = atoi(s);
        else if (!strcmp(s, "KILL")) sig = SIGKILL;
        else if (!strcmp(s, "TERM")) sig = SIGTERM;
        else if (!strcmp(s, "SEGV")) sig = SIGSEGV;
        else if (!strcmp(s, "ABRT")) sig = SIGABRT;
        else return fail(c, "unknown signal name '%s'", s);
        if (WIFSIGNALED(st) && WTERMSIG(st) == sig) return 0;
    } else {
        return fail(c, "wait expectation must be exit=N, signal=NAME, killed or any");
    }
    return fail(c, "process %s ended with %s, expected %s", a->pos[0]->s, d, want);
}

static int c_kill(ctx_t *c, args_t *a)
{
    var_t *v;
    int sig = SIGKILL;
    if (a->npos < 1) return fail(c, "kill $p [TERM|KILL|N]");
    v = var_find(c, a->pos[0]->s);
    if (!v || v->type != VT_PROC) return fail(c, "%s is not a process", a->pos[0]->s);
    if (a->npos >= 2) {
        const char *s = a->pos[1]->s;
        if (!strcmp(s, "TERM")) sig = SIGTERM;
        else if (!strcmp(s, "KILL")) sig = SIGKILL;
        else sig = atoi(s);
    }
    if (v->p == (void *)1) return fail(c, "process %s has already ended", a->pos[0]->s);
    if (kill((pid_t)v->n, sig) != 0) return fail(c, "kill(%llu, %d): %s", v->n, sig, strerror(errno));
    note(c, "signal %d to pid %llu", sig, v->n);
    return 0;
}

/* ================================================================== */
/* Dispatch                                                           */
/* ================================================================== */

static const struct {
    const char *name;
    cmd_fn fn;
    const char *keys; /* allowed name= keys; NULL: not checked */
    int quiet;        /* don't log the step (set/assert log via note) */
} cmds[] = {
    { "init", c_init, "version null", 0 },
    { "terminate", c_terminate, "", 0 },
    { "claim", c_claim, "name null", 0 },
    { "strerror", c_strerror, "contains", 0 },
    { "open_server", c_open_server, "name user secret null", 0 },
    { "close_server", c_close_server, "", 0 },
    { "get_server_prop", c_get_server_prop, "null", 0 },
    { "get_server_prop_byname", c_get_server_prop_byname, "name user secret null", 0 },
    { "open_lsu_list", c_open_lsu_list, "null", 0 },
    { "list_lsu", c_list_lsu, "name null", 0 },
    { "close_lsu_list", c_close_lsu_list, "", 0 },
    { "lsus", c_lsus, "", 0 },
    { "get_lsu_prop", c_get_lsu_prop, "lsu null", 0 },
    { "get_lsu_prop_byname", c_get_lsu_prop, "lsu null", 0 },
    { "create_image", c_create_image, "lsu name date imgflags pending null", 0 },
    { "open_image", c_open_image, "lsu name date imgflags mode null", 0 },
    { "close_image", c_close_image, "flags", 0 },
    { "write_image", c_write_image, "len off seed null", 0 },
    { "write_data", c_write_data, "size bs off seed comp flush_every", 0 },
    { "flush", c_flush, "", 0 },
    { "read_image", c_read_image, "len off seed comp got null", 0 },
    { "verify_data", c_verify_data, "size bs off at seed comp", 0 },
    { "read_random", c_read_random, "size seed comp count maxlen rng", 0 },
    { "sha1_image", c_sha1_image, "seed comp bs", 0 },
    { "verify_image", c_verify_image, "lsu name date seed comp size bs random maxlen", 0 },
    { "delete_image", c_delete_image, "lsu name date imgflags async null", 0 },
    { "get_image_prop", c_get_image_prop, "null", 0 },
    { "get_image_prop_byname", c_get_image_prop_byname, "lsu name date imgflags null", 0 },
    { "open_image_list", c_open_image_list, "lsu null", 0 },
    { "list_image", c_list_image, "null", 0 },
    { "close_image_list", c_close_image_list, "", 0 },
    { "images", c_images, "lsu", 0 },
    { "verify_all", c_verify_all, "lsu count random bs", 0 },
    { "write_image_meta", c_write_meta, "off len text seed null", 0 },
    { "write_meta", c_write_meta, "off len text seed null", 0 },
    { "read_image_meta", c_read_meta, "off len text seed got null", 0 },
    { "read_meta", c_read_meta, "off len text seed got null", 0 },
    { "open_target_server", c_open_target_server, "name user secret null", 0 },
    { "copy_extent", c_copy_extent, "from_off to_off len flags got null", 0 },
    { "include_in_image", c_include_in_image, "from_off to_off len flags got null", 0 },
    { "copy_image", c_copy_image, "to_name to_date to_lsu to_imgflags from_name from_date from_lsu from_imgflags flags null", 0 },
    { "open_evchannel", c_open_evchannel, "null", 0 },
    { "close_evchannel", c_close_evchannel, "", 0 },
    { "get_event", c_get_event, "timeout type status lsu name date op_name op_id text bytes null", 0 },
    { "drain_events", c_drain_events, "timeout", 0 },
    { "count_events", c_count_events, "type status lsu name date op_name op_id text bytes count", 0 },
    { "delete_event", c_delete_event, "id", 0 },
    { "async_copy_image", c_async_copy_image, "to_name to_date to_lsu to_imgflags from_name from_date from_lsu from_imgflags flags op null", 0 },
    { "named_async_copy_image", c_named_async_copy_image, "to_name to_date to_lsu to_imgflags from_name from_date from_lsu from_imgflags flags op_name null", 0 },
    { "named_async_wait", c_named_async_wait, "op_name timeout status null", 0 },
    { "named_async_cancel", c_named_async_cancel, "op_name null", 0 },
    { "label_lsu", c_label_lsu, "lsu label null", 0 },
    { "set", c_set, NULL, 0 },
    { "assert", c_assert, NULL, 0 },
    { "print", c_print, NULL, 0 },
    { "pattern_sha1", c_pattern_sha1, "seed comp size", 0 },
    { "compose", c_compose, "", 0 },
    { "sleep", c_sleep, "", 0 },
    { "touch", c_touch, "", 0 },
    { "rm", c_rm, "", 0 },
    { "mkdir", c_mkdir, "", 0 },
    { "files", c_files, "", 0 },
    { "wait_file", c_wait_file, "timeout proc", 0 },
    { "hang", c_hang, "", 0 },
    { "raise", c_raise, "", 0 },
    { "timeout", c_noop, NULL, 1 },
    { "scenario", c_noop, NULL, 1 },
    { "call", c_call, NULL, 1 },
    { "thread", c_thread, NULL, 0 },
    { "join", c_join, "", 0 },
    { "spawn", c_spawn, NULL, 0 },
    { "fork", c_fork, NULL, 0 },
    { "wait", c_wait, "timeout", 0 },
    { "kill", c_kill, "", 0 },
    { "exec", c_exec, NULL, 0 },
    { "json_get", c_json_get, "", 0 },
};

static int exec_line(ctx_t *c, line_t *ln, toks_t *T)
{
    args_t a;
    size_t i;
    double t0;
    int r;
    const char *cmd = T->t[0].s;
    for (i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(cmds[i].name, cmd)) break;
    if (i == sizeof cmds / sizeof cmds[0]) return fail(c, "unknown command '%s'", cmd);
    if (split_args(c, T, &a)) return -1;
    if (check_keys(c, &a, cmds[i].keys)) return -1;
    c->note[0] = '\0';
    c->seed_set = 0;
    c->called = 0;
    t0 = now_s();
    r = cmds[i].fn(c, &a);
    if (r == 0 && !cmds[i].quiet) {
        const char *text = T->text;
        while (*text == ' ' || *text == '\t') text++;
        out(c, "L%-3d %s%s%s  [%s %.1f ms]", ln->no, text, c->note[0] ? "  => " : "", c->note,
            c->called ? code_name(c->rc) : "ok",
            (now_s() - t0) * 1000.0);
    }
    return r;
}

static int exec_block(ctx_t *c, int from, int to)
{
    int i;
    prog_t *p = c->prog;
    toks_t *T = xmalloc(sizeof *T);
    for (i = from; i < to; i++) {
        line_t *ln = &p->l[i];
        if (!ln->kw[0]) continue;
        c->line = ln->no;
        if (!strcmp(ln->kw, "section")) {
            i = match_end(p, i, "section", "endsection");
            continue;
        }
        if (!strcmp(ln->kw, "for")) {
            /* for $i FROM TO (inclusive) ... endfor */
            int end = match_end(p, i, "for", "endfor");
            val_t lo, hi;
            unsigned long long k;
            if (tokenize(c, ln->text, T)) {
                free(T);
                return -1;
            }
            if (T->n != 4 || T->t[1].s[0] != '$') {
                free(T);
                return fail(c, "for $var FROM TO");
            }
            if (eval_str(c, T->t[2].s, &lo) || eval_str(c, T->t[3].s, &hi)) {
                free(T);
                return -1;
            }
            {
                char var[64];
                snprintf(var, sizeof var, "%s", T->t[1].s);
                for (k = lo.n; k <= hi.n; k++) {
                    var_set_int(c, var, k);
                    if (exec_block(c, i + 1, end)) {
                        free(T);
                        return -1;
                    }
                }
            }
            i = end;
            continue;
        }
        if (!strcmp(ln->kw, "if")) {
            /* if LEFT OP RIGHT ... [else ...] endif */
            int end = match_end(p, i, "if", "endif"), els = find_else(p, i, end), ok;
            char desc[STRVAL * 2 + 512];
            if (tokenize(c, ln->text, T)) {
                free(T);
                return -1;
            }
            if (eval_cond(c, &T->t[1], T->n - 1, &ok, desc, sizeof desc)) {
                free(T);
                return -1;
            }
            out(c, "L%-3d %s  => %s: %s", ln->no, T->text + strspn(T->text, " \t"), ok ? "true" : "false", desc);
            if (ok ? exec_block(c, i + 1, els >= 0 ? els : end) : els >= 0 ? exec_block(c, els + 1, end) : 0) {
                free(T);
                return -1;
            }
            i = end;
            continue;
        }
        if (!strcmp(ln->kw, "endfor") || !strcmp(ln->kw, "endsection")) continue;
        if (tokenize(c, ln->text, T)) {
            free(T);
            return -1;
        }
        if (T->n == 0) continue;
        if (exec_line(c, ln, T)) {
            free(T);
            return -1;
        }
    }
    free(T);
    return 0;
}

/* ================================================================== */
/* main                                                               */
/* ================================================================== */

static void usage(void)
{
    fprintf(stderr,
            "usage: replay [--plugin PATH] [--cli PATH] [--server DIR] [--work DIR] [--seed N]\n"
            "              [--who LABEL] [--stats FILE] [--section NAME] FILE [name=value ...]\n"
            "       replay --run [--plugin PATH] [--cli PATH] [--root DIR] [--timeout S]\n"
            "              [--timeout-scale F] [--wrap \"CMD ARGS\"] FILE...\n");
    exit(2);
}

static void resolve_self(const char *argv0)
{
    char *r = NULL;
    if (strchr(argv0, '/')) r = realpath(argv0, NULL);
    if (r) {
        snprintf(g_self, sizeof g_self, "%s", r);
        free(r);
    } else {
        ssize_t n = readlink("/proc/self/exe", g_self, sizeof g_self - 1);
        if (n < 0) n = 0;
        g_self[n] = '\0';
    }
}

int main(int argc, char **argv)
{
    const char *section = NULL, *file = NULL, *server = NULL, *work = NULL, *cli = NULL;
    char err[4096], missing[4096];
    prog_t *prog;
    ctx_t *c;
    int i, r, from, to;

    setvbuf(stdout, NULL, _IOLBF, 0);
    g_t0 = now_s();
    resolve_self(argv[0]);
    if (argc > 1 && !strcmp(argv[1], "--run")) return runner_main(argc - 1, argv + 1, g_self);

    g_plugin = getenv("COMBSTORE_PLUGIN");
    if (!g_plugin) g_plugin = "../target/release/libcombstore.so";
    for (i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--plugin") && i + 1 < argc) g_plugin = argv[++i];
        else if (!strcmp(o, "--server") && i + 1 < argc) server = argv[++i];
        else if (!strcmp(o, "--work") && i + 1 < argc) work = argv[++i];
        else if (!strcmp(o, "--seed") && i + 1 < argc) g_seed = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(o, "--who") && i + 1 < argc) snprintf(g_label, sizeof g_label, "%s", argv[++i]);
        else if (!strcmp(o, "--stats") && i + 1 < argc) g_stats = argv[++i];
        else if (!strcmp(o, "--section") && i + 1 < argc) section = argv[++i];
        else if (!strcmp(o, "--t0") && i + 1 < argc) g_t0 = atof(argv[++i]);
        else if (!strcmp(o, "--cli") && i + 1 < argc) cli = argv[++i];
        else if (o[0] == '-') usage();
        else if (!file) file = o;
        else if (!strchr(o, '=')) usage();
        else break; /* name=value parameters follow */
    }
    if (!file) usage();
    {
        /* the plugin path must survive chdir-free exec of children */
        char *rp = realpath(g_plugin, NULL);
        if (rp) g_plugin = rp;
    }
    {
        /* the administrator's CLI for `exec combstore ...`; spawned
         * processes inherit it through the environment */
        char *rp;
        if (!cli) cli = getenv("COMBSTORE_BIN");
        if (!cli || !*cli) cli = "../target/release/combstore";
        rp = realpath(cli, NULL);
        snprintf(g_cli, sizeof g_cli, "%s", rp ? rp : cli);
        free(rp);
        setenv("COMBSTORE_BIN", g_cli, 1);
    }
    if (!server) {
        char tmpl[] = "/tmp/replay.XXXXXX";
        char *d = mkdtemp(tmpl);
        if (!d) {
            perror("mkdtemp");
            return 2;
        }
        snprintf(g_server_dir, sizeof g_server_dir, "%s/server", d);
        if (!work) {
            snprintf(g_work, sizeof g_work, "%s/work", d);
            mkdir(g_work, 0755);
        }
    } else {
        snprintf(g_server_dir, sizeof g_server_dir, "%s", server);
    }
    if (work) {
        snprintf(g_work, sizeof g_work, "%s", work);
        mkdir(g_work, 0755);
    } else if (server) {
        snprintf(g_work, sizeof g_work, "%s.work", server);
        mkdir(g_work, 0755);
    }
    snprintf(g_server_name, sizeof g_server_name, "%s%s", STS_COMBSTORE_PREFIX, g_server_dir);

    prog = prog_load(file, err, sizeof err);
    if (!prog) {
        fprintf(stdout, "FAIL %s\n", err);
        return 1;
    }
    c = ctx_new(prog, g_label);
    for (; i < argc; i++) {
        /* name=value parameters (spawned sections) */
        char *eq = strchr(argv[i], '=');
        char *end;
        unsigned long long n;
        if (!eq) usage();
        *eq = '\0';
        n = strtoull(eq + 1, &end, 10);
        if (eq[1] && !*end) var_set_int(c, argv[i], n);
        else var_set_str(c, argv[i], eq + 1);
    }

    if (api_load(&A, g_plugin, missing, sizeof missing, err, sizeof err) != 0) {
        out(c, "FAIL cannot load plugin: %s", err);
        return 1;
    }
    if (missing[0]) out(c, "warning: plugin lacks %s", missing);
    if (!section) out(c, "scenario %s  server %s  seed %llu  plugin %s", file, g_server_name, g_seed, g_plugin);
    else out(c, "section %s of %s (pid %ld)", section, file, (long)getpid());

    if (section) {
        if (find_section(prog, section, &from, &to)) {
            c->line = 0;
            fail(c, "no section '%s'", section);
            write_stats();
            return 1;
        }
    } else {
        from = 0;
        to = prog->n;
    }
    r = exec_block(c, from, to);
    if (r != 0) children_kill_all();
    write_stats();
    if (!section) out(c, "%s: %s (written %llu, read %llu bytes)", r == 0 ? "PASS" : "FAIL", file,
                      g_written, g_read);
    fflush(stdout);
    /* skip library destructors of a possibly half-dead plugin on failure */
    if (r != 0) _exit(1);
    /* what LeakSanitizer (make asan) would otherwise report */
    threads_free_joined();
    ctx_free(c);
    prog_free(prog);
    return 0;
}
