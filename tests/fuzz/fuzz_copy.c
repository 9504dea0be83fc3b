/* tests/fuzz/fuzz_copy.c - the result of a COPY INTO (a Snowflake SQL API
 * result set) on any bytes, through sfs_copy_result: snowflake-stage
 * decides from it whether every staged file was loaded and how many rows.
 * Nothing may crash, overflow or read out of bounds; the rows counted are
 * never negative. */
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "sfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct sluice_error err = {0};
  int64_t loaded = 0;
  json_t *j = json_loadb((const char *)data, size, 0, NULL);

  if (j == NULL)
    return 0;
  if (sfs_copy_result(j, "\"DB\".\"S\".\"T__SLUICE_STG_1\"", "DB.S.STAGE",
                      "run-1", &loaded, &err) == 0 &&
      loaded < 0)
    abort();
  json_decref(j);
  return 0;
}
