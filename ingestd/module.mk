# ingestd/module.mk: the server that loads batches into MySQL, its
# migrations (compiled in from ingestd/sql/*.sql), tests and fuzz target.

PROGRAMS += ingestd
ingestd_SRCS = ingestd/ingestd.c ingestd/validate.c ingestd/load.c \
	ingestd/spool.c ingestd/db.c \
	ingestd/receive.c ingestd/enroll.c ingestd/httpparse.c \
	ingestd/sandbox.c
ingestd_PKGS = libmariadb sqlite3 libmicrohttpd libcrypto libzstd
ingestd_LIBS = -lpthread
MANPAGES += ingestd/ingestd.8

UNIT_TESTS += spool_test
spool_test_SRCS = tests/unit/spool_test.c ingestd/spool.c ingestd/sandbox.c
spool_test_PKGS = libmariadb sqlite3

UNIT_TESTS += validate_test
validate_test_SRCS = tests/unit/validate_test.c ingestd/validate.c
validate_test_PKGS = libmariadb sqlite3

INGESTD_SQL := $(sort $(wildcard ingestd/sql/[0-9][0-9][0-9]_*.sql))

# Every migration, in order, as { version, name, text }: the SQL files
# are the source, the binary carries them so that `ingestd migrate`
# needs nothing installed beside it.
$(O)/gen/ingestd_sql.h: $(INGESTD_SQL) ingestd/module.mk
	@mkdir -p $(dir $@)
	@{ echo '/* generated from the files of ingestd/sql: do not edit */'; \
	   echo 'static const struct migration migrations[] = {'; \
	   for f in $(INGESTD_SQL); do \
	       b=$${f##*/}; b=$${b%.sql}; v=$$(expr "$${b%%_*}" + 0); \
	       echo "{ $$v, \"$$b\","; \
	       sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' \
	           -e 's/$$/\\n"/' $$f; \
	       echo '},'; \
	   done; \
	   echo '};'; } > $@

$(O)/ingestd/db.o: $(O)/gen/ingestd_sql.h

FUZZERS += fuzz_batch
fuzz_batch_SRCS = tests/fuzz/fuzz_batch.c ingestd/validate.c
fuzz_batch_PKGS = sqlite3 libmariadb
