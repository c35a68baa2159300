# tests/module.mk: unit tests (cmocka) and fuzz targets of proto/.
# Each stage's module.mk adds its own the same way.

UNIT_TESTS += msg_test record_test
msg_test_SRCS = tests/unit/msg_test.c
record_test_SRCS = tests/unit/record_test.c

FUZZERS += fuzz_msg fuzz_record
fuzz_msg_SRCS = tests/fuzz/fuzz_msg.c
fuzz_record_SRCS = tests/fuzz/fuzz_record.c

UNIT_TESTS += config_test
config_test_SRCS = tests/unit/config_test.c

# The stages' own sandboxes, entered as each stage enters it.
ifeq ($(OS_SRC),linux)
UNIT_TESTS += sandbox_test
sandbox_test_SRCS = tests/unit/sandbox_test.c capd/sandbox.c \
	sockd/sandbox_linux.c shipd/sandbox.c flowd/sandbox.c \
	ingestd/sandbox.c
sandbox_test_PKGS = libmariadb sqlite3
endif
