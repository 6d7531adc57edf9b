// SPDX-License-Identifier: GPL-2.0
/* A do-nothing module named sock_vs, used only to test the VM harness itself. */
#include <linux/module.h>

static int __init svs_dummy_init(void)
{
	pr_info("sock_vs (harness dummy) loaded\n");
	return 0;
}

static void __exit svs_dummy_exit(void)
{
	pr_info("sock_vs (harness dummy) unloaded\n");
}

module_init(svs_dummy_init);
module_exit(svs_dummy_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("sock_vs VM harness dummy");
