/* FNV-1a 64 of bytes [offset, offset + size) of a file, printed in hex: the
 * .pqw data checksum, for bench/gpu_model.py on machines without a
 * compiler (a Python loop over half a gigabyte would take minutes). */
#include <stdint.h>
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
  uint64_t hash = 14695981039346656037ull;
  while (size > 0) {
    size_t want = size < (long long)sizeof buffer ? (size_t)size : sizeof buffer;
    size_t got = fread(buffer, 1, want, f);
    if (got != want) {
      fprintf(stderr, "%s: short read\n", argv[1]);
      return 1;
    }
    for (size_t i = 0; i < got; ++i)
      hash = (hash ^ buffer[i]) * 1099511628211ull;
    size -= got;
  }
  printf("%016llx\n", (unsigned long long)hash);
  return 0;
}
