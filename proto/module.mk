# proto/module.mk: libvbsproto.a, the library every VBS process links.

PROTO_SRCS = proto/msg.c proto/mpack.c proto/record.c proto/merge.c \
	proto/wire.c proto/outq.c proto/log.c proto/util.c proto/config.c \
	proto/privdrop.c proto/sandbox_$(OS_SRC).c proto/batch.c
PROTO_PKGS = msgpack inih sqlite3
ifeq ($(UNAME),Linux)
PROTO_PKGS += libseccomp libcap-ng
endif
PROTO_GEN = $(O)/gen/batch_sql.h
PROTO_OBJS = $(patsubst %.c,$(O)/%.o,$(PROTO_SRCS))

# The batch schema is kept as SQL (the contract) and compiled in.
$(O)/gen/batch_sql.h: proto/batch.sql
	@mkdir -p $(dir $@)
	@{ echo '/* generated from proto/batch.sql: do not edit */'; \
	   echo 'static const char batch_sql[] ='; \
	   sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $<; \
	   echo ';'; } > $@

$(O)/proto/batch.o: $(O)/gen/batch_sql.h

$(O)/libvbsproto.a: $(PROTO_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

MANPAGES += proto/vbs.conf.5
