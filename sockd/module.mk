# sockd/module.mk: the socket daemon.  The backend files are picked by
# OS: sockd_<os>.c reads the socket tables, owner_<os>.c finds owners.
#
# The eBPF backend (Linux) is built when clang and libbpf are there:
# ebpf.bpf.c is compiled by clang -target bpf (CO-RE, no vmlinux.h) and
# embedded in sockd as a C array, with the programs' minimal BTF for this
# machine's kernel when bpftool is there (genbtf.sh).  Without clang and
# libbpf, ebpf_none.c: sockd builds all the same and says "ebpf: not
# built" when asked for it.

PROGRAMS += sockd
sockd_SRCS = sockd/sockd.c sockd/table.c sockd/emit.c sockd/query.c \
	sockd/hash.c sockd/sockd_$(OS_SRC).c sockd/owner_$(OS_SRC).c \
	sockd/sandbox_$(OS_SRC).c
sockd_PKGS =
MANPAGES += sockd/sockd.8

BPF_CLANG ?= clang
ifeq ($(OS_SRC),linux)
SOCKD_EBPF := $(shell command -v $(BPF_CLANG) >/dev/null 2>&1 && \
	pkg-config --exists libbpf 2>/dev/null && \
	[ -f /usr/include/bpf/bpf_helpers.h ] && echo yes)
endif

ifeq ($(SOCKD_EBPF),yes)
sockd_SRCS += sockd/ebpf_linux.c
sockd_PKGS += libbpf
# <asm/types.h> lives in the multiarch directory (Debian).
BPF_ASMINC := $(patsubst %/asm/types.h,%,$(firstword \
	$(wildcard /usr/include/*/asm/types.h)))
BPF_ARCH := $(subst x86_64,x86,$(subst aarch64,arm64,$(shell uname -m)))
BPF_CFLAGS = -g -O2 -target bpf -D__TARGET_ARCH_$(BPF_ARCH) -Wall \
	-Werror $(addprefix -I,$(BPF_ASMINC)) -Isockd

$(O)/gen/sockd/ebpf.bpf.o: sockd/ebpf.bpf.c sockd/ebpf_event.h
	@mkdir -p $(dir $@)
	$(BPF_CLANG) $(BPF_CFLAGS) -c -o $@ sockd/ebpf.bpf.c

# The object as a C array, for bpf_object__open_mem().
$(O)/gen/sockd_bpf.h: $(O)/gen/sockd/ebpf.bpf.o
	@mkdir -p $(dir $@)
	{ echo '/* generated from sockd/ebpf.bpf.c: do not edit */'; \
	  echo 'static const unsigned char sockd_bpf_obj[] = {'; \
	  od -An -v -tx1 $< | sed 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	  echo '};'; } >$@.tmp && mv $@.tmp $@

# The programs' minimal BTF for this machine's kernel (genbtf.sh says
# why).  Remade after each boot: sysfs gives the kernel's BTF the boot's
# time.  bpftool lives in sbin, which a user's PATH may lack.
KERNEL_BTF := /sys/kernel/btf/vmlinux
BPFTOOL ?= $(firstword $(wildcard /usr/sbin/bpftool /usr/local/sbin/bpftool) \
	$(shell command -v bpftool 2>/dev/null))

$(O)/gen/sockd/btfsum: sockd/btfsum.c sockd/btfsum.h
	@mkdir -p $(dir $@)
	$(CC) -O2 -o $@ sockd/btfsum.c

$(O)/gen/sockd_btf.h: $(O)/gen/sockd/ebpf.bpf.o $(O)/gen/sockd/btfsum \
	    sockd/genbtf.sh sockd/ebpf.bpf.c $(wildcard $(KERNEL_BTF))
	@mkdir -p $(dir $@)
	sh sockd/genbtf.sh "$(BPFTOOL)" $(KERNEL_BTF) $< sockd/ebpf.bpf.c \
	    $(O)/gen/sockd/btfsum $@

$(O)/sockd/ebpf_linux.o: $(O)/gen/sockd_bpf.h $(O)/gen/sockd_btf.h
else
sockd_SRCS += sockd/ebpf_none.c
endif

UNIT_TESTS += sockd_test
sockd_test_SRCS = tests/unit/sockd_test.c sockd/hash.c sockd/query.c
UNIT_TESTS += sockd_table_test
sockd_table_test_SRCS = tests/unit/sockd_table_test.c sockd/table.c \
    sockd/hash.c
