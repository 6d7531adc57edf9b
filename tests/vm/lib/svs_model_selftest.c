// SPDX-License-Identifier: GPL-2.0
/*
 * Host-side oracle for tests/vm/lib/svs_model.py: the module's own mh
 * scheduler (kmod/sched_mh.c, built with -DSVS_HOST) answering one pick
 * per input line "n host port weight [host port weight ...] hash".
 *
 *   gcc -O2 -DSVS_HOST -Ikmod -o /tmp/svs_mh_oracle \
 *       tests/vm/lib/svs_model_selftest.c kmod/sched*.c
 *   python3 tests/vm/lib/svs_model.py --selftest /tmp/svs_mh_oracle
 */
#include <arpa/inet.h>
#include <stdio.h>

#include "svs_sched.h"

#define MAX_SERVERS 64

int main(void)
{
	u32 w[MAX_SERVERS];
	u64 id[MAX_SERVERS];
	int n;

	while (scanf("%d", &n) == 1 && n > 0 && n <= MAX_SERVERS) {
		struct svs_sched_build b = { .n = (u32)n, .weight = w, .id = id };
		struct svs_sched_in in = { .n = (u32)n, .weight = w, .id = id };
		unsigned long long h;
		void *priv;
		int i;

		for (i = 0; i < n; i++) {
			unsigned char a[16] = { 0 };
			unsigned int port, weight;
			char host[64];

			if (scanf("%63s %u %u", host, &port, &weight) != 3 ||
			    inet_pton(AF_INET, host, a) != 1)
				return 2;
			id[i] = svs_sched_dest_id(a, (u16)port);
			w[i] = weight;
		}
		if (scanf("%llu", &h) != 1 || svs_sched_mh.build(&b, &priv))
			return 2;
		in.priv = priv;
		in.hash = h;
		printf("%d\n", svs_sched_mh.pick(&in));
		svs_sched_mh.free(priv);
	}
	return 0;
}
