/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The few kernel facilities the scheduler code uses, so that the same
 * sched*.c files build into the module and into the host unit tests
 * (compiled with -DSVS_HOST).
 */
#ifndef _SOCK_VS_SCHED_COMPAT_H
#define _SOCK_VS_SCHED_COMPAT_H

#ifndef SVS_HOST

#include <linux/types.h>
#include <linux/errno.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/math64.h>
#include <linux/gcd.h>

#include <linux/atomic.h>

typedef atomic_t svs_atomic_t;
#define svs_atomic_read(v)	atomic_read(v)
#define svs_atomic_set(v, i)	atomic_set(v, i)

/* sched.c: one allocation site for every scheduler table (fail_function). */
void *svs_zalloc(size_t size);
#define svs_free(ptr)		kvfree(ptr)

static inline u32 svs_mod64(u64 a, u32 b)
{
	u32 rem;

	div_u64_rem(a, b, &rem);
	return rem;
}

static inline u64 svs_mod64_64(u64 a, u64 b)
{
	u64 rem;

	div64_u64_rem(a, b, &rem);
	return rem;
}

static inline u64 svs_div64(u64 a, u32 b)
{
	return div_u64(a, b);
}

#else /* SVS_HOST */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))

/* Host tests are single-threaded: plain ints stand in for atomics. */
struct svs_host_atomic {
	int counter;
};

#define svs_atomic_t		struct svs_host_atomic
#define svs_atomic_read(v)	((v)->counter)
#define svs_atomic_set(v, i)	((v)->counter = (i))

#define svs_zalloc(size)	calloc(1, size)
#define svs_free(ptr)		free(ptr)

static inline u32 svs_mod64(u64 a, u32 b)
{
	return (u32)(a % b);
}

static inline u64 svs_mod64_64(u64 a, u64 b)
{
	return a % b;
}

static inline u64 svs_div64(u64 a, u32 b)
{
	return a / b;
}

static inline unsigned long gcd(unsigned long a, unsigned long b)
{
	while (b) {
		unsigned long t = a % b;

		a = b;
		b = t;
	}
	return a;
}

#endif /* SVS_HOST */

#endif /* _SOCK_VS_SCHED_COMPAT_H */
