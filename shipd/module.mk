# shipd/module.mk: the upload stage.  The outbox watch is picked by
# system: inotify on Linux, kqueue on the BSDs.

PROGRAMS += shipd
ifeq ($(OS_SRC),linux)
SHIPD_WATCH = shipd/watch_linux.c
else
SHIPD_WATCH = shipd/watch_kqueue.c
endif
shipd_SRCS = shipd/shipd.c shipd/outbox.c shipd/upload.c $(SHIPD_WATCH)
shipd_PKGS = libcurl libcrypto libzstd
MANPAGES += shipd/shipd.8

# The receiver's parsers of client input (ingestd/httpparse.c).
FUZZERS += fuzz_http
fuzz_http_SRCS = tests/fuzz/fuzz_http.c ingestd/httpparse.c
