/* The .pqw data checksum of bytes [offset, offset + size) of a file, printed
 * in hex, for bench/gpu_model.py on machines without a compiler (a Python
 * loop over half a gigabyte would take minutes). */
#include "../include/pquant/Artifact/DataChecksum.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s FILE OFFSET SIZE\n", argv[0]);
    return 2;
  }
  FILE *f = fopen(argv[1], "rb");
  if (!f) {
    perror(argv[1]);
    return 1;
  }
  long long offset = atoll(argv[2]), size = atoll(argv[3]);
  if (fseeko(f, offset, SEEK_SET)) {
    perror("fseeko");
    return 1;
  }
  static unsigned char buffer[1 << 20];
  pq_data_checksum checksum;
  pq_data_checksum_init(&checksum);
  while (size > 0) {
    size_t want = size < (long long)sizeof buffer ? (size_t)size : sizeof buffer;
    size_t got = fread(buffer, 1, want, f);
    if (got != want) {
      fprintf(stderr, "%s: short read\n", argv[1]);
      return 1;
    }
    pq_data_checksum_add(&checksum, buffer, got);
    size -= got;
  }
  printf("%016llx\n", (unsigned long long)pq_data_checksum_finish(&checksum));
  return 0;
}
