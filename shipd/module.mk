# shipd/module.mk: the upload stage.  The outbox watch is picked by
# system: inotify on Linux, kqueue on the BSDs.

PROGRAMS += shipd
ifeq ($(OS_SRC),linux)
SHIPD_WATCH = shipd/watch_linux.c
else
SHIPD_WATCH = shipd/watch_kqueue.c
endif
shipd_SRCS = shipd/shipd.c shipd/outbox.c shipd/upload.c shipd/https.c \
	shipd/httpreply.c shipd/sandbox.c $(SHIPD_WATCH)
shipd_PKGS = libssl libcrypto libzstd
MANPAGES += shipd/shipd.8

# The receiver's parsers of client input (ingestd/httpparse.c).
FUZZERS += fuzz_http
fuzz_http_SRCS = tests/fuzz/fuzz_http.c ingestd/httpparse.c

# The client's parsers of a server's reply (shipd/httpreply.c).
FUZZERS += fuzz_reply
fuzz_reply_SRCS = tests/fuzz/fuzz_reply.c shipd/httpreply.c

UNIT_TESTS += httpreply_test
httpreply_test_SRCS = tests/unit/httpreply_test.c shipd/httpreply.c

# A test tool that drives the HTTPS client (tests/integration/https_client.sh).
TOOLS += https_client
https_client_SRCS = tests/tools/https_client.c shipd/https.c shipd/httpreply.c
https_client_PKGS = libssl libcrypto

# A shim that raises SIGTERM just before a wait (shipd_odd.sh).
TESTLIBS += raise_in_wait.so
