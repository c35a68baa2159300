# capd/module.mk: the capture daemon, its unit test, fuzzer and man page.

PROGRAMS += capd
capd_SRCS = capd/capd.c capd/capture.c capd/decode.c capd/filter.c \
	capd/emit.c capd/sandbox.c
capd_PKGS = libpcap

UNIT_TESTS += decode_test
decode_test_SRCS = tests/unit/decode_test.c capd/decode.c

FUZZERS += fuzz_decode
fuzz_decode_SRCS = tests/fuzz/fuzz_decode.c capd/decode.c
fuzz_decode_PKGS = libpcap

MANPAGES += capd/capd.8
