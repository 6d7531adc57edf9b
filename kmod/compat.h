/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel-version differences, in one place.  Tested on Debian's 6.1 LTS
 * and 6.12 LTS kernels.
 */
#ifndef _SOCK_VS_COMPAT_H
#define _SOCK_VS_COMPAT_H

#include <linux/version.h>
#include <net/genetlink.h>

/* The request's parsed attributes, in a dump callback. */
static inline struct nlattr **svs_dump_attrs(struct netlink_callback *cb)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
	return genl_dumpit_info(cb)->info.attrs;
#else
	return genl_dumpit_info(cb)->attrs;
#endif
}

#endif /* _SOCK_VS_COMPAT_H */
