// SPDX-License-Identifier: GPL-2.0
/*
 * Exemptions: connects to a virtual address that a service leaves alone.
 *
 * A service may carry up to SOCK_VS_SKIP_MAX rules (the socket's owner
 * uid in a range, its cgroup v2 or an ancestor, its mark under a mask); a
 * connect that matches one is not balanced and goes to the virtual
 * address itself.  Service meshes' sidecars, health probes and the like
 * need to reach the address they name.
 *
 * The rules are an immutable object published in svc->skip (RCU): the
 * connect path reads them after the service lookup, so they cost nothing
 * for connects to other addresses.  A cgroup rule holds the cgroup's id
 * and level, resolved from its path when the rule is set; the check is
 * one comparison with the socket's cgroup's ancestor at that level (the
 * cgroup v2 pointer the socket carries since its creation), no lock.
 */
#include <linux/cgroup.h>
#include <linux/cred.h>
#include <linux/slab.h>
#include <linux/uidgid.h>
#include <net/netlink.h>
#include <net/sock.h>

#include "sock_vs.h"

/* Free @skip, which no reader has seen. */
void svs_skip_free(struct svs_skip *skip)
{
	u32 i;

	if (!skip)
		return;
	for (i = 0; i < skip->n; i++)
		kfree(skip->rule[i].path);
	kfree(skip);
}

static void svs_skip_free_rcu(struct rcu_head *head)
{
	svs_skip_free(container_of(head, struct svs_skip, rcu));
}

/* Drop @skip, which readers may still see. */
void svs_skip_put(struct svs_skip *skip)
{
	if (skip)
		call_rcu(&skip->rcu, svs_skip_free_rcu);
}

/* A uid of the requester's user namespace, or -EINVAL. */
static int svs_skip_uid(struct nlattr *attr, kuid_t *kuid,
			struct netlink_ext_ack *extack)
{
	*kuid = make_kuid(current_user_ns(), nla_get_u32(attr));
	if (uid_valid(*kuid))
		return 0;
	NL_SET_ERR_MSG_ATTR(extack, attr, "uid not mapped in the user namespace");
	return -EINVAL;
}

static int svs_skip_parse_rule(struct nlattr *nest, struct svs_skip_rule *r,
			       struct netlink_ext_ack *extack)
{
	struct nlattr *tb[SOCK_VS_SKIP_ATTR_MAX + 1];
	struct cgroup *cgrp;
	int kinds, err;

	err = nla_parse_nested(tb, SOCK_VS_SKIP_ATTR_MAX, nest,
			       svs_skip_rule_policy, extack);
	if (err)
		return err;
	kinds = !!tb[SOCK_VS_SKIP_ATTR_UID_MIN] + !!tb[SOCK_VS_SKIP_ATTR_CGROUP] +
		!!tb[SOCK_VS_SKIP_ATTR_MARK];
	if (kinds != 1 ||
	    (tb[SOCK_VS_SKIP_ATTR_UID_MAX] && !tb[SOCK_VS_SKIP_ATTR_UID_MIN]) ||
	    (tb[SOCK_VS_SKIP_ATTR_MARK_MASK] && !tb[SOCK_VS_SKIP_ATTR_MARK])) {
		NL_SET_ERR_MSG_ATTR(extack, nest,
				    "an exemption is one of: a uid range, a cgroup, a mark");
		return -EINVAL;
	}
	if (tb[SOCK_VS_SKIP_ATTR_UID_MIN]) {
		struct nlattr *hi = tb[SOCK_VS_SKIP_ATTR_UID_MAX] ?:
				    tb[SOCK_VS_SKIP_ATTR_UID_MIN];

		r->kind = SVS_SKIP_UID;
		if (nla_get_u32(hi) < nla_get_u32(tb[SOCK_VS_SKIP_ATTR_UID_MIN])) {
			NL_SET_ERR_MSG_ATTR(extack, hi, "uid range ends before it starts");
			return -EINVAL;
		}
		err = svs_skip_uid(tb[SOCK_VS_SKIP_ATTR_UID_MIN], &r->uid_min, extack) ?:
		      svs_skip_uid(hi, &r->uid_max, extack);
		if (err)
			return err;
		/* Contiguous in the namespace, contiguous in the kernel's uids. */
		if (__kuid_val(r->uid_max) - __kuid_val(r->uid_min) !=
		    nla_get_u32(hi) - nla_get_u32(tb[SOCK_VS_SKIP_ATTR_UID_MIN])) {
			NL_SET_ERR_MSG_ATTR(extack, hi,
					    "uid range spans separately mapped ranges of the user namespace");
			return -EINVAL;
		}
		return 0;
	}
	if (tb[SOCK_VS_SKIP_ATTR_MARK]) {
		r->kind = SVS_SKIP_MARK;
		r->mask = tb[SOCK_VS_SKIP_ATTR_MARK_MASK] ?
			  nla_get_u32(tb[SOCK_VS_SKIP_ATTR_MARK_MASK]) : ~0U;
		r->mark = nla_get_u32(tb[SOCK_VS_SKIP_ATTR_MARK]);
		if (r->mark & ~r->mask) {
			NL_SET_ERR_MSG_ATTR(extack, tb[SOCK_VS_SKIP_ATTR_MARK],
					    "mark has bits outside its mask");
			return -EINVAL;
		}
		return 0;
	}
	r->kind = SVS_SKIP_CGROUP;
	r->path = nla_strdup(tb[SOCK_VS_SKIP_ATTR_CGROUP], GFP_KERNEL_ACCOUNT);
	if (!r->path) {
		NL_SET_ERR_MSG(extack, "out of memory for the exemption");
		return -ENOMEM;
	}
	if (r->path[0] != '/') {
		NL_SET_ERR_MSG_ATTR(extack, tb[SOCK_VS_SKIP_ATTR_CGROUP],
				    "cgroup path must start with /");
		return -EINVAL;
	}
	cgrp = cgroup_get_from_path(r->path);
	if (IS_ERR(cgrp)) {
		NL_SET_ERR_MSG_ATTR(extack, tb[SOCK_VS_SKIP_ATTR_CGROUP],
				    "no such cgroup (v2)");
		return PTR_ERR(cgrp) == -ENOTDIR ? -ENOTDIR : -ENOENT;
	}
	r->cgroup_id = cgroup_id(cgrp);
	r->level = cgrp->level;
	cgroup_put(cgrp);
	return 0;
}

/*
 * The rules of a SOCK_VS_SVC_ATTR_SKIP nest: NULL for none (an empty
 * nest), or an object for svs_skip_publish(), or an ERR_PTR.
 */
struct svs_skip *svs_skip_parse(struct nlattr *attr, struct netlink_ext_ack *extack)
{
	struct svs_skip *skip;
	struct nlattr *nest;
	int rem, err;

	skip = kzalloc(sizeof(*skip), GFP_KERNEL_ACCOUNT);
	if (!skip) {
		NL_SET_ERR_MSG(extack, "out of memory for the exemptions");
		return ERR_PTR(-ENOMEM);
	}
	nla_for_each_nested(nest, attr, rem) {
		if (nla_type(nest) != SOCK_VS_SKIP_RULE)
			continue;	/* the policy rejected other types */
		if (skip->n == SOCK_VS_SKIP_MAX) {
			NL_SET_ERR_MSG_ATTR(extack, nest, "too many exemptions (at most 8)");
			err = -E2BIG;
			goto fail;
		}
		err = svs_skip_parse_rule(nest, &skip->rule[skip->n], extack);
		skip->n++;	/* its path (if any) is freed with the object */
		if (err)
			goto fail;
	}
	if (!skip->n) {
		kfree(skip);
		return NULL;
	}
	return skip;
fail:
	svs_skip_free(skip);
	return ERR_PTR(err);
}

/* Make @skip (or no rules) @svc's, freeing the old ones; under the lock. */
void svs_skip_publish(struct svs_service *svc, struct svs_skip *skip)
{
	svs_skip_put(rcu_replace_pointer(svc->skip, skip, true));
}

/* Whether @sk's connect is exempt from @skip's service; under RCU. */
bool svs_skip_match(const struct svs_skip *skip, struct sock *sk)
{
	const struct svs_skip_rule *r;
	struct cgroup *cgrp;

	for (r = skip->rule; r < skip->rule + skip->n; r++) {
		switch (r->kind) {
		case SVS_SKIP_UID:
			if (uid_gte(sk->sk_uid, r->uid_min) &&
			    uid_lte(sk->sk_uid, r->uid_max))
				return true;
			break;
		case SVS_SKIP_MARK:
			if ((READ_ONCE(sk->sk_mark) & r->mask) == r->mark)
				return true;
			break;
		case SVS_SKIP_CGROUP:
			cgrp = sock_cgroup_ptr(&sk->sk_cgrp_data);
			if (cgrp->level >= r->level &&
			    cgroup_id(cgroup_ancestor(cgrp, r->level)) == r->cgroup_id)
				return true;
			break;
		}
	}
	return false;
}

/* @svc's rules into a SOCK_VS_SVC_ATTR_SKIP nest (dumps; under the lock). */
int svs_skip_fill(struct sk_buff *skb, const struct svs_service *svc)
{
	const struct svs_skip *skip = rcu_dereference_protected(svc->skip, true);
	const struct svs_skip_rule *r;
	struct nlattr *nest, *rule;
	struct user_namespace *ns = current_user_ns();

	if (!skip)
		return 0;
	nest = nla_nest_start(skb, SOCK_VS_SVC_ATTR_SKIP);
	if (!nest)
		return -EMSGSIZE;
	for (r = skip->rule; r < skip->rule + skip->n; r++) {
		rule = nla_nest_start(skb, SOCK_VS_SKIP_RULE);
		if (!rule)
			goto cancel;
		switch (r->kind) {
		case SVS_SKIP_UID:
			if (nla_put_u32(skb, SOCK_VS_SKIP_ATTR_UID_MIN,
					from_kuid_munged(ns, r->uid_min)) ||
			    nla_put_u32(skb, SOCK_VS_SKIP_ATTR_UID_MAX,
					from_kuid_munged(ns, r->uid_max)))
				goto cancel;
			break;
		case SVS_SKIP_MARK:
			if (nla_put_u32(skb, SOCK_VS_SKIP_ATTR_MARK, r->mark) ||
			    nla_put_u32(skb, SOCK_VS_SKIP_ATTR_MARK_MASK, r->mask))
				goto cancel;
			break;
		case SVS_SKIP_CGROUP:
			if (nla_put_string(skb, SOCK_VS_SKIP_ATTR_CGROUP, r->path) ||
			    nla_put_u64_64bit(skb, SOCK_VS_SKIP_ATTR_CGROUP_ID,
					      r->cgroup_id, SOCK_VS_SKIP_ATTR_PAD))
				goto cancel;
			break;
		}
		nla_nest_end(skb, rule);
	}
	nla_nest_end(skb, nest);
	return 0;
cancel:
	nla_nest_cancel(skb, nest);
	return -EMSGSIZE;
}
