# mailtun — top-level build.
#
# Every source directory follows one rule, so adding a file needs no Makefile edit:
#   <dir>/*.c and <dir>/<part>/*.c minus main.c  -> $(B)/<dir>/lib<dir>.a
#   every folder of a module is on the include path: files include each other by bare name
#   <dir>/main.c            -> the directory's program (see PROGRAMS)
#   tests/unit/test_*.c     -> one cmocka binary each, linked with every archive
#   tests/fuzz/fuzz_*.c     -> one libFuzzer binary each (make fuzz)
# Variants: SANITIZE=1 (ASan+UBSan) builds into build-san/, fuzzing into build-fuzz/,
# NOFSYNC=1 (the spool's fsyncs compiled out: the power-cut lab's negative control, never
# installed) into build-nofsync/.

PREFIX    ?= /usr/local
SBINDIR   ?= $(PREFIX)/sbin
MANDIR    ?= $(PREFIX)/share/man
SYSCONFDIR?= /etc
UNITDIR   ?= /lib/systemd/system
DESTDIR   ?=

CC        ?= cc
PKGS      := libnl-3.0 libnl-route-3.0 libevent libevent_openssl inih openssl libpcap
# pppd's plugin directory is versioned; install into the one of the installed pppd.
PPPD_VERSION := $(shell sed -n 's/^\#define VERSION[[:space:]]*"\(.*\)"/\1/p' /usr/include/pppd/patchlevel.h 2>/dev/null)
PPPD_PLUGINDIR ?= /usr/lib/pppd/$(PPPD_VERSION)

WARN      := -Wall -Wextra -Wshadow -Wpointer-arith -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wno-unused-parameter
CFLAGS    ?= -O2 -g
override CFLAGS += -std=gnu11 $(WARN) -fPIC -D_GNU_SOURCE -DSRCDIR=\"$(CURDIR)\"
override CFLAGS += $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS    := -Wl,--as-needed $(shell pkg-config --libs $(PKGS) 2>/dev/null)

ifeq ($(SANITIZE),1)
B         ?= build-san
override CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
override LDFLAGS += -fsanitize=address,undefined
else ifeq ($(FUZZ),1)
B         ?= build-fuzz
CC        := clang
override CFLAGS += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -DFUZZING
override LDFLAGS += -fsanitize=address,undefined
else ifeq ($(NOFSYNC),1)
B         ?= build-nofsync
override CFLAGS += -DMAILTUN_TEST_NO_FSYNC
else
B         ?= build
endif

MODULES   := lib tunneld mailrelay ctl
PROGRAMS  := $(B)/tunneld/mailtund $(B)/mailrelay/mailrelayd $(B)/ctl/mailtunctl
PLUGIN    := $(B)/pppd-plugin/mailtun.so

# Archives in link order: users before what they use.
ARCHIVES  := $(B)/ctl/libctl.a $(B)/mailrelay/libmailrelay.a $(B)/tunneld/libtunneld.a $(B)/lib/liblib.a

srcs_of   = $(filter-out $(1)/main.c,$(wildcard $(1)/*.c $(1)/*/*.c))
# Each module's folders (the module and its parts), nginx-style: one -I per folder.
INCDIRS   := $(sort $(MODULES) $(patsubst %/,%,$(dir $(wildcard $(addsuffix /*/*.h,$(MODULES))))))
override CFLAGS += $(addprefix -I,$(INCDIRS))
objs_of   = $(patsubst %.c,$(B)/%.o,$(call srcs_of,$(1)))

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/tests/unit/%,$(UNIT_SRCS))
HOST_SRCS := $(wildcard tests/host/*.c)
HOST_BINS := $(patsubst tests/host/%.c,$(B)/tests/host/%,$(HOST_SRCS))
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(B)/tests/fuzz/%,$(FUZZ_SRCS))

.PHONY: all deps fresh-check check unit host lab demo fuzz mutate install install-provider uninstall clean deb deb-check bench-tunnel bench-relay bench-recovery
.DEFAULT_GOAL := all

ifeq ($(FUZZ),1)
all: $(FUZZ_BINS)
else ifeq ($(SANITIZE),1)
# The plugin lives inside pppd, which is not built with ASan: no sanitizer variant of it.
all: $(PROGRAMS) $(UNIT_BINS) $(HOST_BINS)
else
all: $(PROGRAMS) $(PLUGIN) $(UNIT_BINS) $(HOST_BINS)
endif

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

define archive_rule
$(B)/$(1)/lib$(1).a: $(call objs_of,$(1))
	@mkdir -p $$(dir $$@)
	rm -f $$@ && ar rcs $$@ $$^ $(if $(call objs_of,$(1)),,&& ar rcs $$@)
endef
$(foreach m,$(MODULES),$(eval $(call archive_rule,$(m))))

$(B)/tunneld/mailtund: $(B)/tunneld/main.o $(ARCHIVES)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/mailrelay/mailrelayd: $(B)/mailrelay/main.o $(ARCHIVES)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/ctl/mailtunctl: $(B)/ctl/main.o $(ARCHIVES)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The plugin links only the shared codec, never the daemons' code.
PLUGIN_OBJS := $(patsubst %.c,$(B)/%.o,$(wildcard pppd-plugin/*.c)) $(B)/lib/ipc.o $(B)/lib/ipc_io.o $(B)/lib/ipc_call.o
$(B)/pppd-plugin/%.o: override CFLAGS += -I/usr/include/pppd -DPPPD_VERSION='"$(PPPD_VERSION)"'
$(PLUGIN): $(PLUGIN_OBJS)
	$(CC) $(LDFLAGS) -shared -o $@ $^

$(B)/tests/unit/%: tests/unit/%.c $(ARCHIVES)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(ARCHIVES) $(LDLIBS) -lcmocka

# Small programs host integration scripts drive (need root/namespaces, so not unit tests).
$(B)/tests/host/%: tests/host/%.c $(ARCHIVES)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(ARCHIVES) $(LDLIBS)

$(B)/tests/fuzz/%: tests/fuzz/%.c $(ARCHIVES)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fsanitize=fuzzer $(LDFLAGS) -o $@ $< $(ARCHIVES) $(LDLIBS)

-include $(shell find $(B) -name '*.d' 2>/dev/null)

# --- set-up -------------------------------------------------------------------------------
# Idempotent: installs only what is missing, says one line when nothing is (README, "Dependencies").
deps:
	@tests/deps.sh

# On a fresh machine a goal that builds must install the dependencies before make reads
# pkg-config's flags and pppd's version above, and before any compiler runs (also with -j).
# GNU make remakes an included makefile before anything else and then starts over, so the
# stamp below makes `make demo`/`make check` run tests/deps.sh first and re-read this file.
# Not for goals that build nothing, and not for a dry run (-n).
NODEPS_GOALS := clean deps uninstall fresh-check
ifneq ($(filter-out $(NODEPS_GOALS),$(or $(MAKECMDGOALS),all)),)
ifeq ($(findstring n,$(firstword -$(MAKEFLAGS))),)
ifneq ($(shell tests/deps.sh --missing >/dev/null 2>&1 && echo yes),yes)
ifneq ($(MAKE_RESTARTS),)
$(error tests/deps.sh ran but packages are still $(shell tests/deps.sh --missing))
endif
include $(B)/.deps-installed.mk
$(B)/.deps-installed.mk: FORCE
	@tests/deps.sh
	@mkdir -p $(@D) && echo '# make ran tests/deps.sh here (see "set-up" in the Makefile)' >$@
endif
endif
endif
.PHONY: FORCE
FORCE:

# --- tests ----------------------------------------------------------------------------------
# TIERS selects what `make check` runs: unit host lab (all by default).
TIERS ?= unit host lab
check: all
	@B=$(B) TIERS="$(TIERS)" SCENARIO="$(SCENARIO)" NOFSYNC="$(NOFSYNC)" tests/run.sh

unit: all
	@B=$(B) TIERS=unit tests/run.sh
host: all
	@B=$(B) TIERS=host tests/run.sh
# PACKAGES=1: build the .debs first; the guest installs them and the scenarios run what they
# installed, started by the units' command lines (tests/lab/mailtun_lib.sh).
lab: all $(if $(filter 1,$(PACKAGES)),deb)
	@B=$(B) TIERS=lab SCENARIO="$(SCENARIO)" NOFSYNC="$(NOFSYNC)" $(if $(filter 1,$(PACKAGES)),LAB_PACKAGES=$(abspath $(DEB_DIR))) tests/run.sh

# Each tests/mutations/*.patch re-introduces a fault; its named test must catch it (tests/mutate.sh).
# MUTATIONS="a b" picks patches; MUTATE_TIERS="unit host" runs CI's fast set.
mutate:
	@MUTATIONS="$(MUTATIONS)" MUTATE_TIERS="$(MUTATE_TIERS)" tests/mutate.sh

demo: all
	@B=$(B) tests/lab/demo.sh

# The two commands above on a fresh Debian 12 root (root, network to the apt mirror, ~20 min).
fresh-check:
	@B=$(B) tests/fresh/check.sh

FUZZ_SECONDS ?= 30
fuzz:
	@$(MAKE) --no-print-directory FUZZ=1 all
	@B=build-fuzz FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh

bench-tunnel: all
	@B=$(B) bench/tunnel.sh
	@B=$(B) bench/tunnel_l2tp.sh
	@B=$(B) bench/tunnel_l2tp_ipsec.sh
bench-relay: all
	@B=$(B) bench/relay.sh
bench-recovery: all
	@B=$(B) bench/recovery.sh

# --- install --------------------------------------------------------------------------------
MAILTUN_USER ?= mailtun
SPOOLDIR  ?= /var/spool/mailtun

install: all
	@[ "$(NOFSYNC)" != 1 ] || { echo "make install: NOFSYNC=1 is a test build without fsync; refusing to install it"; exit 1; }
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(PPPD_PLUGINDIR) $(DESTDIR)$(SYSCONFDIR)/mailtun \
	    $(DESTDIR)$(UNITDIR) $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(PROGRAMS) $(DESTDIR)$(SBINDIR)/
	install -m 0644 $(PLUGIN) $(DESTDIR)$(PPPD_PLUGINDIR)/mailtun.so
	@for f in conf/mailtun.conf conf/pppd-options; do \
	  t=$(DESTDIR)$(SYSCONFDIR)/mailtun/$$(basename $$f); \
	  if [ -e "$$t" ]; then echo "keeping existing $$t"; else install -m 0640 $$f $$t; fi; \
	done
	@for u in conf/systemd/*.service; do \
	  sed 's|@SBINDIR@|$(SBINDIR)|g' $$u > $(DESTDIR)$(UNITDIR)/$$(basename $$u); \
	  chmod 0644 $(DESTDIR)$(UNITDIR)/$$(basename $$u); \
	done
	install -m 0644 man/*.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 man/*.8 $(DESTDIR)$(MANDIR)/man8/
	install -d $(DESTDIR)$(SYSCONFDIR)/logrotate.d
	@t=$(DESTDIR)$(SYSCONFDIR)/logrotate.d/mailtun; \
	  if [ -e "$$t" ]; then echo "keeping existing $$t"; else install -m 0644 conf/logrotate/mailtun $$t; fi
	@# the system user and the spool only on the real system, not into a staging DESTDIR
	@if [ -z "$(DESTDIR)" ]; then \
	  getent passwd $(MAILTUN_USER) >/dev/null || \
	    adduser --system --group --no-create-home --home $(SPOOLDIR) $(MAILTUN_USER); \
	  install -d -o $(MAILTUN_USER) -g $(MAILTUN_USER) -m 0750 $(SPOOLDIR); \
	else \
	  install -d -m 0750 $(DESTDIR)$(SPOOLDIR); \
	fi

# The provider's kit (conf/provider/): every file as an example for the provider's admin, and
# the session-replacement hook where pppd runs it (Debian's /etc/ppp/ip-pre-up runs ip-pre-up.d/).
PROVIDER_EXAMPLESDIR ?= $(PREFIX)/share/doc/mailtun/provider
PPP_HOOKDIR ?= $(SYSCONFDIR)/ppp
install-provider:
	install -d $(DESTDIR)$(PROVIDER_EXAMPLESDIR) $(DESTDIR)$(PPP_HOOKDIR)/ip-pre-up.d
	cp -R conf/provider/. $(DESTDIR)$(PROVIDER_EXAMPLESDIR)/
	install -m 0755 conf/provider/ip-pre-up.d/pptpd-replace-session $(DESTDIR)$(PPP_HOOKDIR)/ip-pre-up.d/

# Configuration, spool and the user are the admin's: uninstall leaves them alone.
uninstall:
	rm -f $(addprefix $(DESTDIR)$(SBINDIR)/,mailtund mailrelayd mailtunctl)
	rm -f $(DESTDIR)$(PPPD_PLUGINDIR)/mailtun.so
	rm -f $(DESTDIR)$(UNITDIR)/mailtund.service $(DESTDIR)$(UNITDIR)/mailrelayd.service
	rm -f $(DESTDIR)$(MANDIR)/man5/mailtun.conf.5 $(addprefix $(DESTDIR)$(MANDIR)/man8/,mailtund.8 mailrelayd.8 mailtunctl.8)

# --- Debian packages ------------------------------------------------------------------------
# make deb: dpkg-buildpackage in a copy of the tree, .debs and lintian.txt in $(DEB_DIR)/.
# make deb-check: those .debs in a fresh Debian 12 root: install, upgrade, remove, purge.
DEB_DIR ?= build-deb
deb:
	@debian/make-deb.sh $(DEB_DIR)
deb-check: deb
	@tests/deb/check.sh $(DEB_DIR)

clean:
	rm -rf build build-san build-fuzz build-nofsync build-deb
