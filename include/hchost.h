/*
 * hchost.h - platform definitions for the 5800 client API (Linux).
 * hc.h includes it; applications rely on the headers it pulls in.
 */
#ifndef HCHOST_H
#define HCHOST_H

/* hc_value_t holds a struct timespec, which strict ISO C builds (e.g.
 * -std=c99) hide unless a POSIX feature level is requested. Ask for one
 * when nothing else did; this takes effect only if no system header was
 * included before this one, so strict C builds should pass
 * -D_POSIX_C_SOURCE=200809L (or use -std=gnu99). */
#if !defined(_POSIX_C_SOURCE) && !defined(_XOPEN_SOURCE) && !defined(_GNU_SOURCE) && !defined(_DEFAULT_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <sys/utsname.h>
#include <netinet/in.h>
#include <inttypes.h>
#include <unistd.h>
#include <sys/time.h>

#define HONEYCOMB_EXTERN
#define LL_MODIFIER "ll"
#define LL_FORMAT "%lld"
#define LLX_FORMAT "%llx"

#endif /* HCHOST_H */
