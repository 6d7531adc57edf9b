# ---------------------------------------------------------------- Installing
#   make install [DESTDIR=...] [PREFIX=/usr/local] [DKMS=auto|no]
#   make install-module [DESTDIR=...] [KVERS=...]    without DKMS
#   make uninstall [DESTDIR=...] [PREFIX=...]
# install copies files only; it builds nothing (run make first).  Without
# DESTDIR and with DKMS=auto (the default), when dkms(8) is installed it then
# registers the source tree and runs `dkms install` for the running kernel:
# DKMS rebuilds the module for every kernel installed later.  install-module
# copies build/kmod/KVER/sock_vs.ko to /lib/modules/KVER/updates/ instead.
PREFIX ?= /usr/local
sbindir ?= $(PREFIX)/sbin
mandir ?= $(PREFIX)/share/man
docdir ?= $(PREFIX)/share/doc/sock_vs
# systemd reads /usr/local/lib/systemd/system as well as /usr/lib/systemd/system.
systemdunitdir ?= $(PREFIX)/lib/systemd/system
dkmssrcdir ?= /usr/src
moduledir ?= /lib/modules
DKMS ?= auto
# Kernels `make install` has DKMS build for; extra dkms(8) options (the tests
# point --dkmstree, --sourcetree and --installtree at a scratch directory).
DKMS_KVERS ?= $(shell uname -r)
DKMS_FLAGS ?=
SVS_VERSION := $(shell sed -n 's/^\#define[[:space:]]*SOCK_VS_VERSION[[:space:]]*"\([^"]*\)".*/\1/p' \
	kmod/include/uapi/linux/sock_vs.h)
DKMS_SRC := $(dkmssrcdir)/sock_vs-$(SVS_VERSION)
# What goes into the DKMS source tree: the module's sources, nothing built.
DKMS_FILES := $(sort $(filter-out %.mod.c,$(wildcard kmod/*.c kmod/*.h))) kmod/Kbuild kmod/Makefile kmod/dkms.conf
DKMS_UAPI := kmod/include/uapi/linux/sock_vs.h
SOCKVSADM := $(BUILD)/userspace/sockvsadm
INSTALL ?= install

install: install-files
	@if [ -z "$(DESTDIR)" ] && [ "$(DKMS)" != no ]; then \
		if command -v dkms >/dev/null; then \
			if dkms status $(DKMS_FLAGS) -m sock_vs -v $(SVS_VERSION) | grep -q .; then \
				echo "dkms remove $(DKMS_FLAGS) -m sock_vs -v $(SVS_VERSION) --all"; \
				dkms remove $(DKMS_FLAGS) -m sock_vs -v $(SVS_VERSION) --all || exit 1; fi; \
			echo "dkms add $(DKMS_FLAGS) -m sock_vs -v $(SVS_VERSION)"; \
			dkms add $(DKMS_FLAGS) -m sock_vs -v $(SVS_VERSION) || exit 1; \
			for k in $(DKMS_KVERS); do \
				if [ -d /lib/modules/$$k/build ]; then \
					echo "dkms install $(DKMS_FLAGS) -m sock_vs -v $(SVS_VERSION) -k $$k"; \
					dkms install $(DKMS_FLAGS) -m sock_vs -v $(SVS_VERSION) -k $$k || exit 1; \
				else echo "install: no headers for $$k: dkms builds sock_vs for the kernels installed with headers from now on"; fi; \
			done; \
		else \
			echo "install: dkms not found: the module is not installed (apt-get install dkms, or make install-module)"; \
		fi; \
		if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi; \
	fi

install-files:
	@[ -n "$(SVS_VERSION)" ] || { echo "no SOCK_VS_VERSION in $(DKMS_UAPI)" >&2; exit 1; }
	@[ -x $(SOCKVSADM) ] || { echo "$(SOCKVSADM) is not built: run make (or make userspace) first" >&2; exit 1; }
	rm -rf $(DESTDIR)$(DKMS_SRC)
	$(INSTALL) -d $(DESTDIR)$(sbindir) $(DESTDIR)$(mandir)/man8 $(DESTDIR)$(systemdunitdir) \
		$(DESTDIR)$(docdir) $(DESTDIR)$(DKMS_SRC)/include/uapi/linux
	$(INSTALL) -m 755 $(SOCKVSADM) $(DESTDIR)$(sbindir)/sockvsadm
	$(INSTALL) -m 644 doc/sockvsadm.8 $(DESTDIR)$(mandir)/man8/sockvsadm.8
	sed 's|@SBINDIR@|$(sbindir)|g' packaging/sock_vs.service.in > $(DESTDIR)$(systemdunitdir)/sock_vs.service.tmp
	chmod 644 $(DESTDIR)$(systemdunitdir)/sock_vs.service.tmp
	mv -f $(DESTDIR)$(systemdunitdir)/sock_vs.service.tmp $(DESTDIR)$(systemdunitdir)/sock_vs.service
	$(INSTALL) -m 644 packaging/sock_vs.rules.example $(DESTDIR)$(docdir)/sock_vs.rules.example
	$(INSTALL) -m 644 $(DKMS_FILES) $(DESTDIR)$(DKMS_SRC)/
	$(INSTALL) -m 644 $(DKMS_UAPI) $(DESTDIR)$(DKMS_SRC)/include/uapi/linux/

install-module:
	@[ -n "$(KVERS)" ] || { echo "no kernel to install for" >&2; exit 1; }
	@for k in $(KVERS); do \
		[ -f $(BUILD)/kmod/$$k/sock_vs.ko ] || { echo "$(BUILD)/kmod/$$k/sock_vs.ko is not built: run make first" >&2; exit 1; }; \
		echo "$(INSTALL) -D -m 644 $(BUILD)/kmod/$$k/sock_vs.ko $(DESTDIR)$(moduledir)/$$k/updates/sock_vs.ko"; \
		$(INSTALL) -D -m 644 $(BUILD)/kmod/$$k/sock_vs.ko $(DESTDIR)$(moduledir)/$$k/updates/sock_vs.ko || exit 1; \
		if [ -z "$(DESTDIR)" ]; then depmod -a $$k || exit 1; fi; \
	done

uninstall:
	@if [ -z "$(DESTDIR)" ] && [ "$(DKMS)" != no ] && command -v dkms >/dev/null && \
		dkms status $(DKMS_FLAGS) -m sock_vs -v $(SVS_VERSION) | grep -q .; then \
		echo "dkms remove $(DKMS_FLAGS) -m sock_vs -v $(SVS_VERSION) --all"; \
		dkms remove $(DKMS_FLAGS) -m sock_vs -v $(SVS_VERSION) --all || exit 1; \
	fi
	rm -f $(DESTDIR)$(sbindir)/sockvsadm $(DESTDIR)$(mandir)/man8/sockvsadm.8 \
		$(DESTDIR)$(systemdunitdir)/sock_vs.service $(DESTDIR)$(docdir)/sock_vs.rules.example
	rmdir $(DESTDIR)$(docdir) 2>/dev/null || true
	rm -rf $(DESTDIR)$(DKMS_SRC)
	@for f in $(DESTDIR)$(moduledir)/*/updates/sock_vs.ko; do \
		[ -e "$$f" ] || continue; \
		echo "rm -f $$f"; rm -f "$$f"; \
		k=$${f%/updates/sock_vs.ko}; k=$${k##*/}; \
		if [ -z "$(DESTDIR)" ]; then depmod -a $$k || exit 1; fi; \
	done
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi

.PHONY: install install-files install-module uninstall
