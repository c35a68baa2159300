/*
 * btfsum.c: a build tool, never installed.  Prints the size and the
 * checksum (btfsum.h) of a BTF file, for the header that embeds the
 * minimal BTF of sockd's programs (sockd/module.mk).
 */

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include "btfsum.h"

int
main(int argc, char *argv[])
{
	uint64_t	sum, size;
	int		fd;

	if (argc != 2) {
		fprintf(stderr, "usage: btfsum FILE\n");
		return 2;
	}
	if ((fd = open(argv[1], O_RDONLY)) == -1 ||
	    btfsum_fd(fd, &sum, &size) == -1) {
		perror(argv[1]);
		return 1;
	}
	close(fd);
	printf("%" PRIu64 " 0x%016" PRIx64 "\n", size, sum);
	return 0;
}
