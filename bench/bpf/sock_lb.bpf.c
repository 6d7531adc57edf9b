// SPDX-License-Identifier: GPL-2.0
/*
 * sock_lb: a minimal Cilium-style socket load balancer, the anchor sock_vs
 * is measured against in bench/ (what a user would pick instead).
 *
 * cgroup sock_addr programs, attached at the root cgroup with bpftool by
 * bench/guest/bench.py while the "bpf" method runs:
 *
 *   connect4/connect6      destination = a service of "services"? pick a
 *                          backend (random, as Cilium does for TCP), rewrite
 *                          the address, remember the translation in the
 *                          socket's own storage (freed with the socket)
 *   getpeername4/6         reverse translation: the service's address
 *   recvmsg4/6             the same for a datagram's source (connected UDP)
 *
 * Maps (pinned under /sys/fs/bpf/svs-lb/ by bpftool loadall):
 *   services   {addr[4], port, proto} -> {first backend index, count}
 *   backends   index -> {addr[4], port}
 *   rev        socket storage: {service addr, port; backend addr, port}
 * IPv4 addresses are in addr[0] (addr[1..3] zero); ports in network order.
 */
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>

struct svc_key {
	__u32 addr[4];
	__u16 port;
	__u8 proto;
	__u8 pad;
};

struct svc_val {
	__u32 first;
	__u32 count;
};

struct backend {
	__u32 addr[4];
	__u16 port;
	__u16 pad;
};

struct rev {
	struct backend vip;
	struct backend real;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__type(key, struct svc_key);
	__type(value, struct svc_val);
} services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct backend);
} backends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct rev);
} rev SEC(".maps");

static __always_inline int xlate(struct bpf_sock_addr *ctx, int v6)
{
	struct svc_key key = {};
	struct svc_val *svc;
	struct backend *be;
	struct rev *r;
	__u32 idx;

	if (v6) {
		key.addr[0] = ctx->user_ip6[0];
		key.addr[1] = ctx->user_ip6[1];
		key.addr[2] = ctx->user_ip6[2];
		key.addr[3] = ctx->user_ip6[3];
	} else {
		key.addr[0] = ctx->user_ip4;
	}
	key.port = (__u16)ctx->user_port;
	key.proto = (__u8)ctx->protocol;
	svc = bpf_map_lookup_elem(&services, &key);
	if (!svc || !svc->count)
		return 1;
	idx = svc->first + bpf_get_prandom_u32() % svc->count;
	be = bpf_map_lookup_elem(&backends, &idx);
	if (!be)
		return 1;
	if (v6) {
		ctx->user_ip6[0] = be->addr[0];
		ctx->user_ip6[1] = be->addr[1];
		ctx->user_ip6[2] = be->addr[2];
		ctx->user_ip6[3] = be->addr[3];
	} else {
		ctx->user_ip4 = be->addr[0];
	}
	ctx->user_port = be->port;
	if (!ctx->sk)
		return 1;
	r = bpf_sk_storage_get(&rev, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (r) {
		__builtin_memcpy(r->vip.addr, key.addr, sizeof(key.addr));
		r->vip.port = key.port;
		r->real = *be;
	}
	return 1;
}

static __always_inline int unxlate(struct bpf_sock_addr *ctx, int v6)
{
	struct rev *r;

	if (!ctx->sk)
		return 1;
	r = bpf_sk_storage_get(&rev, ctx->sk, 0, 0);
	if (!r || (__u16)ctx->user_port != r->real.port)
		return 1;
	if (v6) {
		if (ctx->user_ip6[0] != r->real.addr[0] || ctx->user_ip6[1] != r->real.addr[1] ||
		    ctx->user_ip6[2] != r->real.addr[2] || ctx->user_ip6[3] != r->real.addr[3])
			return 1;
		ctx->user_ip6[0] = r->vip.addr[0];
		ctx->user_ip6[1] = r->vip.addr[1];
		ctx->user_ip6[2] = r->vip.addr[2];
		ctx->user_ip6[3] = r->vip.addr[3];
	} else {
		if (ctx->user_ip4 != r->real.addr[0])
			return 1;
		ctx->user_ip4 = r->vip.addr[0];
	}
	ctx->user_port = r->vip.port;
	return 1;
}

SEC("cgroup/connect4")
int sock4_connect(struct bpf_sock_addr *ctx) { return xlate(ctx, 0); }

SEC("cgroup/connect6")
int sock6_connect(struct bpf_sock_addr *ctx) { return xlate(ctx, 1); }

SEC("cgroup/getpeername4")
int sock4_getpeername(struct bpf_sock_addr *ctx) { return unxlate(ctx, 0); }

SEC("cgroup/getpeername6")
int sock6_getpeername(struct bpf_sock_addr *ctx) { return unxlate(ctx, 1); }

SEC("cgroup/recvmsg4")
int sock4_recvmsg(struct bpf_sock_addr *ctx) { return unxlate(ctx, 0); }

SEC("cgroup/recvmsg6")
int sock6_recvmsg(struct bpf_sock_addr *ctx) { return unxlate(ctx, 1); }

char _license[] SEC("license") = "GPL";
