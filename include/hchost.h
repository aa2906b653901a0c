/*
 * hchost.h - platform definitions for the 5800 client API (Linux).
 * hc.h includes it; applications rely on the headers it pulls in.
 */
#ifndef HCHOST_H
#define HCHOST_H

/* No feature-test macro is needed: a TU may include these headers first
 * or after any system header, under -std=c89, c99, c11 or gnu* or as C++.
 * hc_value_t holds a struct timespec, which glibc's <time.h> hides in
 * strict ISO C modes before C11 (-std=c89/c99 without _POSIX_C_SOURCE);
 * then it is taken from glibc's own single-definition header, which
 * declares nothing else. The application's feature macros are its own:
 * these headers define none. */
#include <sys/utsname.h>
#include <netinet/in.h>
#include <inttypes.h>
#include <unistd.h>
#include <sys/time.h>
#include <time.h>
#if defined(__GLIBC__) && !defined(_STRUCT_TIMESPEC) && !defined(__timespec_defined)
#if __GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 26)
#include <bits/types/struct_timespec.h>
#else
#define __need_timespec
#include <time.h>
#endif
#endif

#define HONEYCOMB_EXTERN
#define LL_MODIFIER "ll"
#define LL_FORMAT "%lld"
#define LLX_FORMAT "%llx"

#endif /* HCHOST_H */
