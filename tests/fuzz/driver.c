/* tests/fuzz/driver.c - the fuzz targets without libFuzzer: each argument
 * is a file (or a directory of files) handed to LLVMFuzzerTestOneInput
 * once, so that `make check` replays every corpus on every build, under
 * the sanitizers when they are on.  With --enable-fuzzers the same
 * targets link against libFuzzer instead (tests/fuzz/README). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
  FILE *f = fopen(path, "rb");
  uint8_t *buf;
  long n;

  if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
      fseek(f, 0, SEEK_SET) != 0) {
    fprintf(stderr, "%s: cannot read\n", path);
    if (f)
      fclose(f);
    return 1;
  }
  buf = malloc((size_t)n + 1);
  if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
    fprintf(stderr, "%s: cannot read\n", path);
    free(buf);
    fclose(f);
    return 1;
  }
  fclose(f);
  LLVMFuzzerTestOneInput(buf, (size_t)n);
  free(buf);
  return 0;
}

int main(int argc, char **argv)
{
  int bad = 0, runs = 0;

  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
      DIR *d = opendir(argv[i]);
      struct dirent *e;
      while (d && (e = readdir(d)) != NULL) {
        char path[4096];
        if (e->d_name[0] == '.')
          continue;
        snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
        bad |= run_file(path);
        runs++;
      }
      if (d)
        closedir(d);
    } else {
      bad |= run_file(argv[i]);
      runs++;
    }
  }
  printf("%d inputs replayed\n", runs);
  return bad || runs == 0;
}
