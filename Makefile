# Makefile: builds every VBS program, its tests and fuzz targets.
# Plain GNU make and pkg-config.  Each directory adds its programs in its
# own module.mk; objects and binaries go under build/<variant>/ so that
# `make sanitize` and `make fuzz` never mix with the normal build.
# The user's CFLAGS, CPPFLAGS and LDFLAGS are added to ours, never replaced.

PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
SBINDIR	?= $(PREFIX)/sbin
MANDIR	?= $(PREFIX)/share/man
# The configuration lives where every program looks by default.
SYSCONFDIR ?= /etc/vbs
SHAREDIR ?= $(PREFIX)/share/vbs
DESTDIR	?=

CC	?= cc
FUZZCC	?= clang
VARIANT	?= default
O	:= build/$(VARIANT)

# Warnings as the OpenBSD daemons use them, plus -std=c11 -Wextra.
WARN	= -std=c11 -Wall -Wextra -Wstrict-prototypes -Wmissing-prototypes \
	  -Wmissing-declarations -Wshadow -Wpointer-arith -Wcast-qual \
	  -Wsign-compare -Wformat=2
ifeq ($(CI),true)
WERROR	?= -Werror
endif
OPT	?= -O2 -g
SANFLAGS ?=

UNAME	:= $(shell uname -s)
PKGS_ALL := libpcap msgpack sqlite3 libmariadb openssl libmicrohttpd inih
ifeq ($(UNAME),Linux)
PKGS_ALL += libseccomp libcap-ng
OS_SRC	:= linux
else ifeq ($(UNAME),FreeBSD)
OS_SRC	:= freebsd
else ifeq ($(UNAME),OpenBSD)
OS_SRC	:= openbsd
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS_ALL) 2>/dev/null)
VBS_CFLAGS = $(WARN) $(WERROR) $(OPT) $(SANFLAGS) -D_GNU_SOURCE -Iproto -I$(O)/gen \
	     -MMD -MP $(PKG_CFLAGS)
ALL_CFLAGS = $(VBS_CFLAGS) $(CPPFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SANFLAGS) $(LDFLAGS)
pkglibs = $(shell pkg-config --libs $(1) 2>/dev/null)

PROGRAMS :=
TOOLS :=
TESTLIBS :=
UNIT_TESTS :=
FUZZERS :=
MANPAGES :=

include proto/module.mk
-include capd/module.mk
-include sockd/module.mk
-include flowd/module.mk
-include shipd/module.mk
-include ingestd/module.mk
-include init/module.mk
include tests/module.mk
include tests/lab/module.mk

BINS	:= $(addprefix $(O)/bin/,$(PROGRAMS))
TOOLBINS := $(addprefix $(O)/bin/,$(TOOLS))
TESTBINS := $(addprefix $(O)/tests/,$(UNIT_TESTS))
TESTLIBBINS := $(addprefix $(O)/lib/,$(TESTLIBS))

.PHONY: all check sanitize fuzz bench lab install uninstall clean deps run \
	tests manlint golden-regen
.DEFAULT_GOAL := all

all: $(BINS)

# Test tools are built beside the programs but never installed.
tests: $(BINS) $(TOOLBINS) $(TESTBINS) $(TESTLIBBINS)

# Shims that tests load with LD_PRELOAD: no sanitizer, no proto.
$(O)/lib/%.so: tests/tools/%.c
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(WERROR) $(OPT) -fPIC -shared $(CPPFLAGS) $(CFLAGS) \
	    $(LDFLAGS) -o $@ $< -ldl

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# One link rule per program: NAME_SRCS, NAME_PKGS from module.mk.
define program_rule
$(O)/bin/$(1): $$(patsubst %.c,$(O)/%.o,$$($(1)_SRCS)) $(O)/libvbsproto.a
	@mkdir -p $$(dir $$@)
	$$(CC) $$(ALL_LDFLAGS) -o $$@ $$(filter %.o,$$^) $(O)/libvbsproto.a \
	    $$(call pkglibs,$$($(1)_PKGS) $$(PROTO_PKGS)) $$($(1)_LIBS) -lm
endef
$(foreach p,$(PROGRAMS) $(TOOLS),$(eval $(call program_rule,$(p))))

define test_rule
$(O)/tests/$(1): $$(patsubst %.c,$(O)/%.o,$$($(1)_SRCS)) $(O)/libvbsproto.a
	@mkdir -p $$(dir $$@)
	$$(CC) $$(ALL_LDFLAGS) -o $$@ $$(filter %.o,$$^) $(O)/libvbsproto.a \
	    $$(call pkglibs,cmocka $$($(1)_PKGS) $$(PROTO_PKGS)) $$($(1)_LIBS) -lm
endef
$(foreach t,$(UNIT_TESTS),$(eval $(call test_rule,$(t))))

-include $(shell find build/$(VARIANT) -name '*.d' 2>/dev/null)

# Every dependency the build and the tests need, installed when missing.
DEB_PKGS = build-essential pkg-config libpcap-dev libsqlite3-dev \
	libmsgpack-dev libmariadb-dev libssl-dev libmicrohttpd-dev \
	libseccomp-dev libcap-ng-dev libinih-dev libcmocka-dev libzstd-dev \
	clang libclang-rt-14-dev libbpf-dev bpftool mandoc \
	mariadb-server mariadb-client tcpdump tshark iproute2 sqlite3 openssl \
	curl wget dnsutils ncat argus-client argus-server tcpreplay \
	dnsmasq-base libnetfilter-queue-dev iptables iputils-ping python3 \
	procps psmisc
FREEBSD_PKGS = pkgconf libpcap sqlite3 msgpack-c mariadb-connector-c curl \
	libmicrohttpd inih cmocka mariadb-server tcpdump wireshark-nox \
	nmap argus-clients-sp tcpreplay
OPENBSD_PKGS = sqlite3 msgpack mariadb-client curl libmicrohttpd inih \
	cmocka mariadb-server tshark nmap argus-clients tcpreplay

deps:
	@if command -v apt-get >/dev/null 2>&1; then \
	    missing=$$(for p in $(DEB_PKGS); do \
	        dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
	        grep -q 'install ok installed' || echo $$p; done); \
	    if [ -n "$$missing" ]; then \
	        echo "deps: installing" $$missing; \
	        [ "$$(id -u)" = 0 ] || { echo "deps: run as root to install" $$missing; exit 1; }; \
	        export DEBIAN_FRONTEND=noninteractive; \
	        apt-get update -q >/dev/null && \
	        apt-get install -y -q --no-install-recommends $$missing >/dev/null || exit 1; \
	        echo "deps: done"; \
	    fi; \
	else \
	    echo "deps: install these packages by hand:"; \
	    echo "  FreeBSD: pkg install $(FREEBSD_PKGS)"; \
	    echo "  OpenBSD: pkg_add $(OPENBSD_PKGS)"; \
	fi

check: deps
	@$(MAKE) --no-print-directory tests
	@$(MAKE) --no-print-directory manlint
	@O=$(O) sh tests/run.sh

sanitize: deps
	@$(MAKE) --no-print-directory VARIANT=sanitize \
	    SANFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	    OPT="-O1 -g" tests
	@O=build/sanitize VBS_SANITIZE=1 \
	    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    sh tests/run.sh

FUZZ_SECONDS ?= 60
FUZZ_O := build/fuzz
FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
	-Iproto -I$(O)/gen $(PKG_CFLAGS) -DVBS_FUZZ
# One fuzzer per decoder: NAME_SRCS, NAME_PKGS from module.mk.
define fuzz_rule
$(FUZZ_O)/$(1): $$($(1)_SRCS) $$(PROTO_SRCS) $$(PROTO_GEN)
	@mkdir -p $$(dir $$@)
	$$(FUZZCC) $$(FUZZ_CFLAGS) -o $$@ $$(filter %.c,$$^) \
	    $$(call pkglibs,$$($(1)_PKGS) $$(PROTO_PKGS)) $$($(1)_LIBS) -lm
endef
$(foreach f,$(FUZZERS),$(eval $(call fuzz_rule,$(f))))

fuzz: deps $(addprefix $(FUZZ_O)/,$(FUZZERS))
	@FUZZ_O=$(FUZZ_O) FUZZ_SECONDS=$(FUZZ_SECONDS) \
	    sh tests/fuzz/run.sh $(FUZZERS)

# The ground-truth lab's checks alone (they are part of `make check` too).
lab: deps tests
	@O=$(O) sh tests/run.sh tests/integration/lab_short.sh \
	    tests/integration/flowd_live_label.sh

bench: deps all
	@O=$(O) sh tests/bench/run.sh

manlint:
	@if command -v mandoc >/dev/null 2>&1; then \
	    for m in $(MANPAGES); do \
	        mandoc -Tlint -W warning $$m || { echo "manlint: $$m"; exit 1; }; \
	    done; \
	fi

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(SYSCONFDIR) $(DESTDIR)$(SHAREDIR)
	for p in $(PROGRAMS); do \
	    case $$p in vbsctl) d=$(BINDIR);; *) d=$(SBINDIR);; esac; \
	    install -m 755 $(O)/bin/$$p $(DESTDIR)$$d/$$p; done
	for m in $(MANPAGES); do \
	    s=$${m##*.}; install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done
	install -m 644 proto/batch.sql $(DESTDIR)$(SHAREDIR)/batch.sql
	install -m 644 proto/vbs.conf.example $(DESTDIR)$(SHAREDIR)/vbs.conf.example
	[ -f $(DESTDIR)$(SYSCONFDIR)/vbs.conf ] || \
	    install -m 644 proto/vbs.conf.example $(DESTDIR)$(SYSCONFDIR)/vbs.conf
	for f in init/vbsd.service init/rc/vbsd.freebsd init/rc/vbsd.openbsd; do \
	    sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	        $$f > $(DESTDIR)$(SHAREDIR)/$${f##*/}; done
	@# The system users the stages drop to; packagers make them their way.
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then \
	    for u in vbs-capd vbs-sockd vbs vbs-ingest; do \
	        id $$u >/dev/null 2>&1 && continue; \
	        if command -v useradd >/dev/null 2>&1; then \
	            useradd --system --no-create-home --home-dir /nonexistent \
	                --shell /usr/sbin/nologin $$u; \
	        elif command -v pw >/dev/null 2>&1; then \
	            pw useradd $$u -d /nonexistent -s /usr/sbin/nologin; \
	        else \
	            useradd -d /nonexistent -s /sbin/nologin $$u; \
	        fi && echo "install: created user $$u"; \
	    done; \
	fi

uninstall:
	for p in $(PROGRAMS); do \
	    rm -f $(DESTDIR)$(SBINDIR)/$$p $(DESTDIR)$(BINDIR)/$$p; done
	for m in $(MANPAGES); do \
	    s=$${m##*.}; rm -f $(DESTDIR)$(MANDIR)/man$$s/$${m##*/}; done
	rm -rf $(DESTDIR)$(SHAREDIR)

run: deps all
	@sh init/run.sh

clean:
	rm -rf build tests/out
