/* Restarts the runtime's thread pool many times in a row, each time before
 * the workers just started have run: every restart must finish (the pool
 * once lost the stop request of workers that started late, and
 * pq_set_threads waited for them forever). Prints "ok N". */
#include "pquant/runtime.h"

#include <stdio.h>

int main(void) {
  int restarts = 0;
  for (int i = 0; i < 300; ++i) {
    if (pq_set_threads(2 + i % 3) != PQ_OK) {
      fprintf(stderr, "pq_set_threads: %s\n", pq_last_error());
      return 1;
    }
    ++restarts;
  }
  printf("ok %d\n", restarts);
  return 0;
}
