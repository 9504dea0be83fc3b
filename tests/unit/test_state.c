/* tests/unit/test_state.c - atomic writes, reads, mkdir -p and locks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sluice/error.h"
#include "state.h"

struct fixture {
  char dir[64];
};

/* Removes a directory tree the tests built (no symlinks, small). */
static void remove_tree(const char *path)
{
  DIR *d = opendir(path);
  if (d != NULL) {
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
        continue;
      char child[4096];
      snprintf(child, sizeof child, "%s/%s", path, e->d_name);
      remove_tree(child);
    }
    closedir(d);
    rmdir(path);
  } else {
    unlink(path);
  }
}

static int setup(void **state)
{
  struct fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  snprintf(f->dir, sizeof f->dir, "/tmp/sluice-test-state-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  struct fixture *f = *state;
  remove_tree(f->dir);
  free(f);
  return 0;
}

static void path_in(const struct fixture *f, const char *name, char *out,
                    size_t size)
{
  int n = snprintf(out, size, "%s/%s", f->dir, name);
  assert_true(n > 0 && (size_t)n < size);
}

static size_t count_entries(const char *dir)
{
  DIR *d = opendir(dir);
  assert_non_null(d);
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
      n++;
  closedir(d);
  return n;
}

static mode_t mode_of(const char *path)
{
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  return st.st_mode & 07777;
}

static void assert_file_is(const char *path, const char *want)
{
  char *data = NULL;
  size_t len = 0;
  struct sluice_error err = {0};
  if (state_read_file(path, &data, &len, &err) != 0)
    fail_msg("%s", err.message);
  assert_int_equal(len, strlen(want));
  assert_string_equal(data, want);
  free(data);
}

/* ---- state_write_atomic / state_read_file ------------------------------ */

static void test_write_creates_0600_with_content(void **state)
{
  struct fixture *f = *state;
  char path[128];
  path_in(f, "p.json", path, sizeof path);
  /* Even a umask that would leave the owner nothing must not matter. */
  mode_t old = umask(0777);
  struct sluice_error err = {0};
  int rc = state_write_atomic(path, "{\"a\":1}", 7, &err);
  umask(old);
  if (rc != 0)
    fail_msg("%s", err.message);
  assert_int_equal(mode_of(path), 0600);
  assert_file_is(path, "{\"a\":1}");
  assert_int_equal(count_entries(f->dir), 1); /* no temporary file left */
}

static void test_write_overwrites(void **state)
{
  struct fixture *f = *state;
  char path[128];
  path_in(f, "p.json", path, sizeof path);
  assert_int_equal(state_write_atomic(path, "first, and longer", 17, NULL), 0);
  assert_int_equal(state_write_atomic(path, "second", 6, NULL), 0);
  assert_file_is(path, "second");
  assert_int_equal(state_write_atomic(path, "", 0, NULL), 0);
  assert_file_is(path, "");
  assert_int_equal(count_entries(f->dir), 1);
}

static void test_write_large(void **state)
{
  struct fixture *f = *state;
  char path[128];
  path_in(f, "big", path, sizeof path);
  size_t len = 3 * 1024 * 1024 + 17;
  char *data = malloc(len + 1);
  assert_non_null(data);
  for (size_t i = 0; i < len; i++)
    data[i] = (char)('a' + i % 26);
  data[len] = '\0';
  assert_int_equal(state_write_atomic(path, data, len, NULL), 0);
  assert_file_is(path, data);
  free(data);
}

static void test_write_into_missing_dir_fails(void **state)
{
  struct fixture *f = *state;
  char path[128];
  path_in(f, "no-such-dir/p.json", path, sizeof path);
  struct sluice_error err = {0};
  assert_int_equal(state_write_atomic(path, "x", 1, &err), SLUICE_EIO);
  assert_int_equal(err.code, SLUICE_EIO);
  char want[256];
  snprintf(want, sizeof want,
           "%s: create temporary file: No such file or directory", path);
  assert_string_equal(err.message, want);
  assert_int_equal(count_entries(f->dir), 0);
}

static void test_write_failing_rename_leaves_no_temp(void **state)
{
  struct fixture *f = *state;
  char path[128];
  path_in(f, "occupied", path, sizeof path);
  /* A non-empty directory cannot be renamed over: fails after the write. */
  assert_int_equal(mkdir(path, 0700), 0);
  char inner[160];
  snprintf(inner, sizeof inner, "%s/x", path);
  assert_int_equal(state_write_atomic(inner, "x", 1, NULL), 0);

  struct sluice_error err = {0};
  assert_int_equal(state_write_atomic(path, "data", 4, &err), SLUICE_EIO);
  char prefix[160];
  snprintf(prefix, sizeof prefix, "%s: rename: ", path);
  assert_memory_equal(err.message, prefix, strlen(prefix));
  assert_int_equal(count_entries(f->dir), 1);
}

static void test_write_relative_path(void **state)
{
  struct fixture *f = *state;
  char cwd[4096];
  assert_non_null(getcwd(cwd, sizeof cwd));
  assert_int_equal(chdir(f->dir), 0);
  int rc = state_write_atomic("plain.json", "1", 1, NULL);
  assert_int_equal(chdir(cwd), 0);
  assert_int_equal(rc, 0);
  char path[128];
  path_in(f, "plain.json", path, sizeof path);
  assert_file_is(path, "1");
  assert_int_equal(count_entries(f->dir), 1);
}

static void test_read_missing_is_notfound(void **state)
{
  struct fixture *f = *state;
  char path[128];
  path_in(f, "absent.json", path, sizeof path);
  char *data = NULL;
  size_t len = 99;
  struct sluice_error err = {0};
  assert_int_equal(state_read_file(path, &data, &len, &err), SLUICE_ENOTFOUND);
  assert_int_equal(err.code, SLUICE_ENOTFOUND);
  assert_null(data);
  char want[256];
  snprintf(want, sizeof want, "%s: No such file or directory", path);
  assert_string_equal(err.message, want);
}

static void test_read_directory_is_eio(void **state)
{
  struct fixture *f = *state;
  char *data = NULL;
  size_t len;
  struct sluice_error err = {0};
  assert_int_equal(state_read_file(f->dir, &data, &len, &err), SLUICE_EIO);
  assert_non_null(strstr(err.message, f->dir));
  assert_null(data);
}

/* ---- state_dir_ensure -------------------------------------------------- */

static void test_dir_ensure_creates_parents(void **state)
{
  struct fixture *f = *state;
  char path[128], mid[128];
  path_in(f, "a/b//c/", path, sizeof path);
  path_in(f, "a/b", mid, sizeof mid);
  mode_t old = umask(022);
  struct sluice_error err = {0};
  int rc = state_dir_ensure(path, &err);
  umask(old);
  if (rc != 0)
    fail_msg("%s", err.message);
  assert_int_equal(mode_of(path), 0700);
  assert_int_equal(mode_of(mid), 0700);
  /* Idempotent. */
  assert_int_equal(state_dir_ensure(path, NULL), 0);
  assert_int_equal(state_dir_ensure(f->dir, NULL), 0);
  assert_int_equal(state_dir_ensure("/", NULL), 0);
}

static void test_dir_ensure_rejects_a_file(void **state)
{
  struct fixture *f = *state;
  char file[128], below[128];
  path_in(f, "file", file, sizeof file);
  path_in(f, "file/sub", below, sizeof below);
  assert_int_equal(state_write_atomic(file, "x", 1, NULL), 0);

  struct sluice_error err = {0};
  assert_int_equal(state_dir_ensure(file, &err), SLUICE_EIO);
  char want[256];
  snprintf(want, sizeof want, "%s: mkdir: Not a directory", file);
  assert_string_equal(err.message, want);

  /* The message names the component in the way, not the whole path. */
  assert_int_equal(state_dir_ensure(below, &err), SLUICE_EIO);
  assert_string_equal(err.message, want);

  assert_int_equal(state_dir_ensure("", &err), SLUICE_EINVAL);
}

/* ---- state_lock -------------------------------------------------------- */

static void test_lock_contention_same_process(void **state)
{
  struct fixture *f = *state;
  int fd1 = -1, fd2 = -1;
  struct sluice_error err = {0};
  assert_int_equal(state_lock(f->dir, "orders", &fd1, &err), 0);
  assert_true(fd1 >= 0);

  assert_int_equal(state_lock(f->dir, "orders", &fd2, &err), SLUICE_EAGAIN);
  assert_int_equal(fd2, -1);
  assert_int_equal(err.retryable, 1);
  char want[256];
  snprintf(want, sizeof want,
           "pipeline orders is already running (lock %s/orders.lock held by "
           "another process)",
           f->dir);
  assert_string_equal(err.message, want);

  /* Another pipeline is independent. */
  assert_int_equal(state_lock(f->dir, "invoices", &fd2, NULL), 0);
  state_unlock(fd2);

  state_unlock(fd1);
  assert_int_equal(state_lock(f->dir, "orders", &fd1, NULL), 0);
  state_unlock(fd1);
  state_unlock(-1);

  char path[128];
  path_in(f, "orders.lock", path, sizeof path);
  assert_int_equal(mode_of(path), 0600);
}

static void test_lock_contention_other_process(void **state)
{
  struct fixture *f = *state;
  int fd = -1;
  assert_int_equal(state_lock(f->dir, "orders", &fd, NULL), 0);

  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int child_fd = -1;
    int rc = state_lock(f->dir, "orders", &child_fd, NULL);
    _exit(rc == SLUICE_EAGAIN ? 0 : 1);
  }
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  /* Once released, another process gets it. */
  state_unlock(fd);
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int child_fd = -1;
    int rc = state_lock(f->dir, "orders", &child_fd, NULL);
    _exit(rc == 0 ? 0 : 1);
  }
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_lock_missing_dir(void **state)
{
  struct fixture *f = *state;
  char dir[128];
  path_in(f, "nope", dir, sizeof dir);
  int fd = -1;
  struct sluice_error err = {0};
  assert_int_equal(state_lock(dir, "orders", &fd, &err), SLUICE_EIO);
  char want[256];
  snprintf(want, sizeof want, "%s/orders.lock: open: No such file or directory",
           dir);
  assert_string_equal(err.message, want);
  assert_int_equal(fd, -1);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
  const struct CMUnitTest tests[] = {
      T(test_write_creates_0600_with_content),
      T(test_write_overwrites),
      T(test_write_large),
      T(test_write_into_missing_dir_fails),
      T(test_write_failing_rename_leaves_no_temp),
      T(test_write_relative_path),
      T(test_read_missing_is_notfound),
      T(test_read_directory_is_eio),
      T(test_dir_ensure_creates_parents),
      T(test_dir_ensure_rejects_a_file),
      T(test_lock_contention_same_process),
      T(test_lock_contention_other_process),
      T(test_lock_missing_dir),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
