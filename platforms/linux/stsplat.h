/*
 * stsplat.h - platform types for the combstore OpenStorage plugin (Linux).
 *
 * Selected by the build with -Iplatforms/linux. Every type used in the
 * plugin ABI has a fixed width so struct layouts are identical for every
 * compiler on this platform (see the layout test in ffi-tests/).
 */
#ifndef STSPLAT_H
#define STSPLAT_H

#include <stddef.h>
#include <stdint.h>

typedef int8_t sts_int8_t;
typedef uint8_t sts_uint8_t;
typedef int16_t sts_int16_t;
typedef uint16_t sts_uint16_t;
typedef int32_t sts_int32_t;
typedef uint32_t sts_uint32_t;
typedef int64_t sts_int64_t;
typedef uint64_t sts_uint64_t;

#define STS_PLATFORM_NAME "linux"

/* Symbols the plugin exports. */
#if defined(__GNUC__)
#define STS_EXPORT __attribute__((visibility("default")))
#else
#define STS_EXPORT
#endif

#endif /* STSPLAT_H */
