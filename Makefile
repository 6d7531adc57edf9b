# sock_vs: top-level build.
#   make            build the module for every installed kernel with headers,
#                   and the userspace tools (sockvsadm, libsockvs, unit tests)
#   make install    sockvsadm, its man page, the systemd unit, an example rules
#                   file and the module's DKMS source tree (then, without
#                   DESTDIR, `dkms install` when dkms is there); make uninstall
#                   removes them.  See packaging/install.mk, README "Installing".
#   make test       install dependencies, build, run host unit tests and the
#                   integration tests inside QEMU guests (6.1 and 6.12)
#   make demo       the main job end to end in a 6.1 guest
#   make fuzz       run the libFuzzer targets (tests/fuzz) FUZZ_SECONDS each
#                   (default 300); the grown corpus stays in build/fuzz/
#   make lint       checkpatch --strict and sparse on kmod/, clang-tidy on userspace/
#   make deps       install the Debian packages everything needs
#   make deb        Debian packages sock-vs-dkms, sockvsadm, sockvs-healthd
#                   (debian/, packaging/deb.sh) into build/deb/, lintian-clean;
#                   make test-image boots them in a Debian 12 image (systemd)
#   make kernels    build (or take from the cache) and install the kernel matrix:
#                   debug builds of Debian's 6.1, 6.12 and the newest unstable
#                   source (tests/kernels/build.sh), Debian's rt and cloud
#                   flavours (tests/kernels/debian.sh); runs nothing
#   make test-kernels  make kernels, then the whole guest suite on every kernel
#                   of the matrix (tests/vm/run-all.sh, SVS_KERNELS=--matrix)
#   make test-agent-long  sockvs-agent's guest case (83-agent) at full size:
#                   5 agents, 5,000 changes (make test runs 3 agents, 300)
#   make bench      the comparison: sock_vs against direct, BPF socket
#                   balancing, IPVS, iptables, nftables in guests of both
#                   kernels (bench/results/<kernel>.md; under 45 minutes);
#                   make bench-quick: one short repetition on one kernel into
#                   build/bench-quick/
#   make bench-feedback  passive health and p2c under a slow and a refusing
#                   server (bench/results/<kernel>-feedback.md)
#   make bench-agent  sockvs-agent at scale: 3 etcd members, 5 agents, 1,000
#                   services x 4 (bench/results/<kernel>-agent.md)
#   make bench-all  the three above, one after the other (about 3 hours)
SHELL := /bin/bash
TOP := $(CURDIR)
BUILD := $(TOP)/build

# Kernels to build for: every one with headers and an image in /boot.
KVERS ?= $(sort $(foreach d,$(wildcard /lib/modules/*/build),\
	$(if $(wildcard /boot/vmlinuz-$(notdir $(patsubst %/build,%,$(d)))),\
	$(notdir $(patsubst %/build,%,$(d))))))
# Kernels the tests and benchmarks run on by default: Debian's generic 6.1 and
# 6.12 (not the rt/cloud flavours nor the debug builds of the matrix).
TEST_KVERS = $(shell tests/kernels/list.sh --test)
KMOD_SRCS := $(wildcard kmod/*.c kmod/*.h kmod/include/uapi/linux/*.h) kmod/Kbuild

all: kmod testmod userspace

# make install, install-module, uninstall
include packaging/install.mk

deps:
	tests/install-deps.sh

# One build directory per kernel (kbuild builds in place).
kmod: $(foreach k,$(KVERS),$(BUILD)/kmod/$(k)/sock_vs.ko)
	@[ -n "$(KVERS)" ] || { echo "no kernel with headers in /lib/modules/*/build and an image in /boot (make deps)" >&2; exit 1; }
	@if [ -d /lib/modules/$$(uname -r)/build ]; then \
		$(MAKE) -C kmod KVER=$$(uname -r); fi

$(BUILD)/kmod/%/sock_vs.ko: $(KMOD_SRCS)
	@rm -rf $(BUILD)/kmod/$*.tmp && mkdir -p $(BUILD)/kmod/$*.tmp
	@cp -r kmod/*.c kmod/*.h kmod/Kbuild kmod/include $(BUILD)/kmod/$*.tmp/
	$(MAKE) -C /lib/modules/$*/build M=$(BUILD)/kmod/$*.tmp modules $(if $(C),C=$(C))
	@rm -rf $(BUILD)/kmod/$* && mv $(BUILD)/kmod/$*.tmp $(BUILD)/kmod/$*

# Test-only module (tests/testmod/): another subsystem for the guest cases.
testmod: $(foreach k,$(KVERS),$(BUILD)/testmod/$(k)/svs_chain.ko)

$(BUILD)/testmod/%/svs_chain.ko: tests/testmod/svs_chain.c tests/testmod/Kbuild
	@rm -rf $(BUILD)/testmod/$*.tmp && mkdir -p $(BUILD)/testmod/$*.tmp
	@cp tests/testmod/svs_chain.c tests/testmod/Kbuild $(BUILD)/testmod/$*.tmp/
	$(MAKE) -C /lib/modules/$*/build M=$(BUILD)/testmod/$*.tmp modules
	@rm -rf $(BUILD)/testmod/$* && mv $(BUILD)/testmod/$*.tmp $(BUILD)/testmod/$*

userspace:
	cmake -S userspace -B $(BUILD)/userspace -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD)/userspace -j2

userspace-asan:
	cmake -S userspace -B $(BUILD)/userspace-asan -DCMAKE_BUILD_TYPE=Debug -DSVS_SANITIZE=ON >/dev/null
	cmake --build $(BUILD)/userspace-asan -j2 --target unit_tests

# deps may install kernels: build in a fresh make so that KVERS sees them.
test: deps
	$(MAKE) all userspace-asan
	tests/run-all.sh

demo: deps
	$(MAKE) all
	$(MAKE) demo-run

# One vCPU under QEMU instruction counting (bench/qemu-icount): the ratio the
# demo prints counts guest instructions, whatever the host's load.
demo-run:
	PATH=$(TOP)/bench/qemu-icount:$$PATH SVS_BENCH_ICOUNT=0 SVS_VM_SMP=1 tests/vm/run-guest.sh $(firstword $(filter 6.1.%,$(TEST_KVERS)) $(TEST_KVERS)) tests/vm/demo.sh

FUZZ_SECONDS ?= 300
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh

lint: deps
	$(MAKE) userspace
	tests/lint.sh

# The kernel matrix (README "Kernel matrix").  DEBUG_KERNELS: the sources
# tests/kernels/build.sh knows.
DEBUG_KERNELS ?= 6.1 6.12 unstable
kernels:
	tests/kernels/build.sh $(DEBUG_KERNELS)
	tests/kernels/debian.sh

# Debian packages (debian/): built in a copy of the tree, build/deb/src/.
# DEB_SUFFIX=N: version SOCK_VS_VERSION+N (a newer build of the same code);
# DEB_REV=HEAD: package that commit, not the working tree.
deb:
	packaging/deb.sh $(if $(DEB_SUFFIX),-s $(DEB_SUFFIX)) $(if $(DEB_REV),-r $(DEB_REV))

# A Debian 12 image (mmdebstrap, cached in /var/cache/sock_vs/image) booted
# with systemd under QEMU: the packages installed, upgraded, purged.
test-image: deps
	tests/image/run.sh

# kernels may install kernels: build and run in a fresh make so that KVERS sees them.
test-kernels: deps kernels
	$(MAKE) all
	SVS_KERNELS=--matrix tests/vm/run-all.sh

# sockvs-agent against a 3-member etcd cluster, the long version of
# tests/vm/cases/83-agent.py (one VM per kernel, about 3x the short one).
test-agent-long: deps
	$(MAKE) all
	SVS_AGENT_LONG=1 SVS_CASES=83-agent SVS_CASE_TIMEOUT_SCALE=3 tests/vm/run-all.sh $(TEST_KVERS)

# Benchmarks (bench/README.md).
BENCH_KVERS ?= $(TEST_KVERS)
BENCH_QUICK_KVER ?= $(firstword $(filter 6.1.%,$(TEST_KVERS)) $(TEST_KVERS))
$(BUILD)/bench/connect_cost: bench/connect_cost.cc
	@mkdir -p $(@D)
	$(CXX) -std=c++20 -O2 -Wall -Wextra -Werror -pthread -o $@.tmp $< && mv $@.tmp $@

# The BPF socket balancer the benchmarks compare with (bench/bpf/).
$(BUILD)/bench/sock_lb.bpf.o: bench/bpf/sock_lb.bpf.c
	@mkdir -p $(@D)
	clang -O2 -g -Wall -Werror -target bpf -I/usr/include/$(shell gcc -print-multiarch) -c $< -o $@.tmp && mv $@.tmp $@

# The load generator of the passive-health / p2c benchmark (bench/guest/feedback.py).
$(BUILD)/bench/feedback_load: bench/feedback_load.cc
	@mkdir -p $(@D)
	$(CXX) -std=c++20 -O2 -Wall -Wextra -Werror -o $@.tmp $< && mv $@.tmp $@

bench-tools: $(BUILD)/bench/connect_cost $(BUILD)/bench/sock_lb.bpf.o $(BUILD)/bench/feedback_load

bench-quick-kver:
	@echo $(BENCH_QUICK_KVER)

# make bench is the comparison alone (issue 13: both kernels in under 45
# minutes); the feedback and agent benches take an hour or more per kernel.
bench: deps
	$(MAKE) all bench-tools
	bench/run-all.sh $(BENCH_KVERS)

bench-all: deps
	$(MAKE) all bench-tools
	st=0; bench/run-all.sh $(BENCH_KVERS) || st=1; bench/run-feedback.sh $(BENCH_KVERS) || st=1; \
		bench/run-agent-scale.sh $(BENCH_KVERS) || st=1; exit $$st

bench-feedback: deps
	$(MAKE) all bench-tools
	bench/run-feedback.sh $(BENCH_KVERS)

bench-agent: deps
	$(MAKE) all
	bench/run-agent-scale.sh $(BENCH_KVERS)

bench-quick: deps
	$(MAKE) all bench-tools
	bench/run-all.sh --quick $(BENCH_QUICK_KVER)

clean:
	rm -rf $(BUILD)
	-$(MAKE) -C kmod clean 2>/dev/null

.PHONY: all deps kmod testmod userspace userspace-asan test demo demo-run fuzz lint clean \
	bench bench-all bench-quick bench-feedback bench-agent bench-tools bench-quick-kver kernels test-kernels deb test-image \
	test-agent-long
