# tests/lab/module.mk: test tools of the ground-truth lab (not part of
# VBS): nfqdelay holds packets in user space to make round trips.
TOOLS += nfqdelay
nfqdelay_SRCS = tests/lab/nfqdelay.c
nfqdelay_PKGS = libnetfilter_queue
