// SPDX-License-Identifier: GPL-2.0
/*
 * sock_vs: transparent client-side load balancing of connect().
 *
 * Module init/exit, parameters and per-network-namespace state.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/moduleparam.h>
#include <net/genetlink.h>
#include <net/netns/generic.h>

#include "sock_vs.h"

unsigned int svs_net_id __read_mostly;
atomic_t svs_services_total = ATOMIC_INIT(0);

unsigned int svs_max_services __read_mostly = 131072;
module_param_named(max_services, svs_max_services, uint, 0644);
MODULE_PARM_DESC(max_services, "Maximum virtual services per network namespace (default 131072)");

unsigned int svs_max_dests __read_mostly = 1024;
module_param_named(max_dests, svs_max_dests, uint, 0644);
MODULE_PARM_DESC(max_dests, "Maximum real servers per virtual service (default 1024)");

/*
 * Namespaces owned by a user namespace other than the initial one: their
 * root needs no privilege on the host, so they get lower limits.
 */
unsigned int svs_userns_max_services __read_mostly = 1024;
module_param_named(userns_max_services, svs_userns_max_services, uint, 0644);
MODULE_PARM_DESC(userns_max_services, "Maximum virtual services per network namespace owned by a non-initial user namespace (default 1024; max_services applies too)");

unsigned int svs_userns_max_dests __read_mostly = 64;
module_param_named(userns_max_dests, svs_userns_max_dests, uint, 0644);
MODULE_PARM_DESC(userns_max_dests, "Maximum real servers per virtual service in a network namespace owned by a non-initial user namespace (default 64; max_dests applies too)");

static int __net_init svs_net_init(struct net *net)
{
	struct svs_net *sn = svs_net(net);
	int err;

	sn->userns = net->user_ns != &init_user_ns;
	err = svs_persist_net_init(sn);
	if (err)
		return err;
	err = svs_net_init_tables(sn);
	if (err)
		svs_persist_net_exit(sn);
	return err;
}

static void __net_exit svs_net_exit(struct net *net)
{
	struct svs_net *sn = svs_net(net);

	/* Transactions left staged (no socket of the namespace is left). */
	svs_txn_net_exit(sn);
	/* Unload: balanced sockets get their own operations back first. */
	svs_conn_net_exit(sn);
	/* Then their templates (which hold real servers) go. */
	svs_persist_net_exit(sn);
	svs_net_free_tables(sn);
}

static struct pernet_operations svs_net_ops = {
	.init = svs_net_init,
	.exit = svs_net_exit,
	.id = &svs_net_id,
	.size = sizeof(struct svs_net),
};

static int __init svs_init(void)
{
	int err;

	err = svs_caches_init();
	if (err)
		return err;
	err = svs_conn_init();
	if (err)
		goto err_caches;
	err = svs_persist_init();
	if (err)
		goto err_conn;
	err = register_pernet_subsys(&svs_net_ops);
	if (err)
		goto err_persist;
	err = svs_txn_init();
	if (err)
		goto err_pernet;
	err = svs_genl_init();
	if (err)
		goto err_txn;
	err = svs_ipvs_init();
	if (err)
		goto err_genl;
	err = svs_hook_init();
	if (err)
		goto err_ipvs;
	pr_info("version " SOCK_VS_VERSION " loaded (hook: " SVS_HOOK_NAME ")\n");
	return 0;

err_ipvs:
	svs_ipvs_exit();
err_genl:
	svs_genl_exit();
err_txn:
	svs_txn_exit();
err_pernet:
	unregister_pernet_subsys(&svs_net_ops);
err_persist:
	rcu_barrier();
	svs_persist_exit();
err_conn:
	svs_conn_exit();
	svs_conn_destroy_cache();
err_caches:
	svs_caches_destroy();
	return err;
}

static void __exit svs_exit(void)
{
	/*
	 * No new balanced connects, no new configuration; every namespace
	 * hands its balanced sockets back and frees its tables; then wait
	 * until nothing runs our socket operations.
	 */
	svs_hook_exit();
	svs_unconn_shutdown();
	svs_eject_shutdown();
	WRITE_ONCE(svs_unloading, true);
	svs_ipvs_exit();
	svs_genl_exit();
	svs_txn_exit();
	unregister_pernet_subsys(&svs_net_ops);
	svs_conn_exit();
	svs_persist_exit();
	svs_conn_destroy_cache();
	svs_caches_destroy();
	pr_info("unloaded\n");
}

module_init(svs_init);
module_exit(svs_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("sock_vs developers");
MODULE_DESCRIPTION("Client-side connect() load balancer (IPVS-style virtual services)");
MODULE_VERSION(SOCK_VS_VERSION);
MODULE_ALIAS_GENL_FAMILY(SOCK_VS_GENL_NAME);
