/* tests/fuzz/fuzz_pipeline.c - the pipeline file parser and validator on
 * any bytes (written to a temporary file, as the program reads one):
 * every mistake becomes a diagnostic, nothing crashes or leaks. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "diag.h"
#include "pipeline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char path[] = "/tmp/sluice-fuzz-XXXXXX";
  int fd = mkstemp(path);
  struct pipeline_file pf;
  struct diags d = {.file = path};
  FILE *devnull;

  if (fd < 0)
    return 0;
  if (write(fd, data, size) != (ssize_t)size) {
    close(fd);
    unlink(path);
    return 0;
  }
  close(fd);
  pipeline_file_load(path, &pf, &d);
  if ((devnull = fopen("/dev/null", "w")) != NULL) {
    diag_print(&d, devnull);
    fclose(devnull);
  }
  diag_free(&d);
  pipeline_file_free(&pf);
  unlink(path);
  return 0;
}
