/*
 * The variadic entry points of the 5800 client API, which stable Rust
 * cannot define: each reads its arguments and calls a non-variadic Rust
 * function (src/ffi/hc/mod.rs) exported under an internal name.
 */
#include <stdarg.h>
#include <stdio.h>

#include "hc.h"

extern hcerr_t combstore_hc_set_low_speed_time(long seconds);

HONEYCOMB_EXTERN hcerr_t hc_set_global_parameter(hc_option opt, ...) {
    va_list ap;
    hcerr_t res = HCERR_OK;
    va_start(ap, opt);
    switch ((int)opt) {
    case HCOPT_LOW_SPEED_TIME:
        res = combstore_hc_set_low_speed_time(va_arg(ap, long));
        break;
    case HCOPT_DEBUG_FLAGS:
        hc_set_debug_flags(va_arg(ap, hc_long_t));
        break;
    case HCOPT_DEBUG_FUNCTION:
        hc_set_debug_function(va_arg(ap, hc_debug_function_t));
        break;
    default:
        res = HCERR_ILLEGAL_ARGUMENT;
        break;
    }
    va_end(ap);
    return res;
}

HONEYCOMB_EXTERN void hc_printf(const char *fmt, ...) {
    va_list ap;
    if (fmt == NULL)
        return;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}
