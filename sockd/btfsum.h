/*
 * btfsum.h: the checksum that tells sockd whether the running kernel's
 * BTF is the one sockd was built against.  Shared by sockd (at start,
 * before it loads its BPF programs) and by the build's btfsum tool,
 * so that both compute the same value.  FNV-1a, 64 bits, over the
 * bytes of /sys/kernel/btf/vmlinux; with the size beside it, an
 * accidental match between two kernels' BTF is not a practical risk,
 * and a deliberate one needs control of the kernel.
 */

#ifndef SOCKD_BTFSUM_H
#define SOCKD_BTFSUM_H

#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#define BTFSUM_INIT	0xcbf29ce484222325ULL

static inline uint64_t
btfsum_update(uint64_t h, const unsigned char *p, size_t n)
{
	while (n-- > 0) {
		h ^= *p++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Size and checksum of what fd reads to its end; -1 on a read error. */
static inline int
btfsum_fd(int fd, uint64_t *sum, uint64_t *size)
{
	unsigned char	buf[16384];
	ssize_t		n;

	*sum = BTFSUM_INIT;
	*size = 0;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0)
			return -1;
		*sum = btfsum_update(*sum, buf, (size_t)n);
		*size += (uint64_t)n;
	}
	return 0;
}

#endif
