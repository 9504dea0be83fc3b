/* core/state.c - atomic file replacement, mkdir -p and pipeline locks. */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sluice/error.h"

#define STATE_DIR_MODE 0700
#define STATE_FILE_MODE 0600

static int state_io_error(struct sluice_error *err, const char *path,
                          const char *op, int errnum)
{
  return sluice_error_set(err, SLUICE_EIO, 0, "%s: %s: %s", path, op,
                          strerror(errnum));
}

static int state_enomem(struct sluice_error *err, const char *path)
{
  return sluice_error_set(err, SLUICE_ENOMEM, 0, "%s: out of memory", path);
}

static bool state_is_dir(const char *path)
{
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* mkdir that is content with an existing directory, including one it may
 * not create itself (EACCES, EROFS on a path that is already there). */
static int state_mkdir_one(const char *path)
{
  if (mkdir(path, STATE_DIR_MODE) == 0)
    return 0;
  int e = errno;
  if (state_is_dir(path))
    return 0;
  return e == EEXIST ? ENOTDIR : e;
}

int state_dir_ensure(const char *dir, struct sluice_error *err)
{
  if (dir == NULL || dir[0] == '\0')
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "state directory: the path is empty");
  char *buf = strdup(dir);
  if (buf == NULL)
    return state_enomem(err, dir);

  int rc = 0;
  /* Each '/' after a component ends a parent to create first. */
  for (char *p = buf + 1; rc == 0; p++) {
    if (*p != '/' && *p != '\0')
      continue;
    if (p[-1] != '/') { /* skip "//" and a trailing '/' */
      char saved = *p;
      *p = '\0';
      int e = state_mkdir_one(buf);
      if (e != 0)
        rc = state_io_error(err, buf, "mkdir", e);
      *p = saved;
    }
    if (*p == '\0')
      break;
  }
  free(buf);
  return rc;
}

/* Writes all of data, resuming after short writes and signals.  Returns 0
 * or an errno value. */
static int state_write_all(int fd, const void *data, size_t len)
{
  const char *p = data;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return errno;
    if (n == 0) /* cannot happen for a regular file; do not loop forever */
      return EIO;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* fsync the directory holding a renamed file, so that the rename itself
 * survives a power cut.  Returns 0 or an errno value. */
static int state_fsync_dir(const char *dir)
{
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return errno;
  int e = fsync(fd) == 0 ? 0 : errno;
  close(fd);
  /* Some file systems cannot fsync a directory and say so with EINVAL;
   * there is nothing more to be done there. */
  return e == EINVAL ? 0 : e;
}

/* "<dir>/.<base>.<pid>.<n>.tmp": in the same directory as path, so that
 * rename() is atomic; hidden, so it does not look like state; unique per
 * process and call, and O_EXCL guards against anything else. */
static char *state_temp_path(const char *path, char **dir_out)
{
  static atomic_ulong counter;
  const char *slash = strrchr(path, '/');
  const char *base = slash != NULL ? slash + 1 : path;
  size_t dir_len = slash != NULL ? (size_t)(slash - path) : 0;
  size_t size = strlen(path) + 64;
  char *tmp = malloc(size);
  char *dir = malloc(dir_len + 2);
  if (tmp == NULL || dir == NULL) {
    free(tmp);
    free(dir);
    return NULL;
  }
  unsigned long n = atomic_fetch_add(&counter, 1);
  snprintf(tmp, size, "%.*s%s.%s.%ld.%lu.tmp", (int)dir_len, path,
           slash != NULL ? "/" : "", base, (long)getpid(), n);
  if (slash == NULL)
    strcpy(dir, ".");
  else if (dir_len == 0)
    strcpy(dir, "/");
  else {
    memcpy(dir, path, dir_len);
    dir[dir_len] = '\0';
  }
  *dir_out = dir;
  return tmp;
}

/* Creates, fills and syncs the temporary file, removing it again if that
 * fails.  Returns 0, or an errno value with *op naming the failed step. */
static int state_write_temp(const char *tmp, const void *data, size_t len,
                            const char **op)
{
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, STATE_FILE_MODE);
  if (fd < 0) {
    *op = "create temporary file";
    return errno;
  }
  int e = 0;
  /* The umask may have taken bits away from STATE_FILE_MODE; be exact. */
  if (fchmod(fd, STATE_FILE_MODE) != 0) {
    *op = "chmod";
    e = errno;
  } else if ((e = state_write_all(fd, data, len)) != 0) {
    *op = "write";
  } else if (fsync(fd) != 0) {
    *op = "fsync";
    e = errno;
  }
  /* close() can report a delayed write error (NFS): it counts. */
  if (close(fd) != 0 && e == 0) {
    *op = "close";
    e = errno;
  }
  if (e != 0)
    unlink(tmp);
  return e;
}

int state_write_atomic(const char *path, const void *data, size_t len,
                       struct sluice_error *err)
{
  char *dir;
  char *tmp = state_temp_path(path, &dir);
  if (tmp == NULL)
    return state_enomem(err, path);

  const char *op = NULL;
  int e = state_write_temp(tmp, data, len, &op);
  if (e == 0 && rename(tmp, path) != 0) {
    op = "rename";
    e = errno;
    unlink(tmp);
  }
  int rc = 0;
  if (e != 0)
    rc = state_io_error(err, path, op, e);
  else if ((e = state_fsync_dir(dir)) != 0)
    rc = state_io_error(err, path, "fsync directory", e);
  free(tmp);
  free(dir);
  return rc;
}

/* Reads fd to the end into a buffer sized from the file, one byte over so
 * that the read which sees EOF needs no second allocation; it grows if the
 * file does.  Returns 0 or an errno value. */
static int state_read_all(int fd, char **data, size_t *len)
{
  struct stat st;
  size_t cap = fstat(fd, &st) == 0 && st.st_size > 0 ? (size_t)st.st_size : 0;
  size_t used = 0;

  cap += 1;
  char *buf = malloc(cap + 1);
  if (buf == NULL)
    return ENOMEM;
  for (;;) {
    if (used == cap) {
      char *p = realloc(buf, cap * 2 + 1);
      if (p == NULL) {
        free(buf);
        return ENOMEM;
      }
      buf = p;
      cap *= 2;
    }
    ssize_t n = read(fd, buf + used, cap - used);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int e = errno;
      free(buf);
      return e;
    }
    if (n == 0)
      break;
    used += (size_t)n;
  }
  buf[used] = '\0';
  *data = buf;
  *len = used;
  return 0;
}

int state_read_file(const char *path, char **data, size_t *len,
                    struct sluice_error *err)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT)
    return sluice_error_set(err, SLUICE_ENOTFOUND, 0, "%s: %s", path,
                            strerror(ENOENT));
  if (fd < 0)
    return state_io_error(err, path, "open", errno);
  int e = state_read_all(fd, data, len);
  close(fd);
  if (e == ENOMEM)
    return state_enomem(err, path);
  if (e != 0)
    return state_io_error(err, path, "read", e);
  return 0;
}

/* Opens path and takes the lock; path names the lock in messages. */
static int state_lock_path(const char *path, const char *name, int *fd_out,
                           struct sluice_error *err)
{
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, STATE_FILE_MODE);
  if (fd < 0)
    return state_io_error(err, path, "open", errno);
  int r;
  while ((r = flock(fd, LOCK_EX | LOCK_NB)) != 0 && errno == EINTR)
    ;
  if (r == 0) {
    *fd_out = fd;
    return 0;
  }
  int e = errno;
  close(fd);
  if (e == EWOULDBLOCK)
    return sluice_error_set(err, SLUICE_EAGAIN, 1,
                            "pipeline %s is already running (lock %s held "
                            "by another process)",
                            name, path);
  return state_io_error(err, path, "flock", e);
}

int state_lock(const char *dir, const char *name, int *fd_out,
               struct sluice_error *err)
{
  size_t size = strlen(dir) + strlen(name) + sizeof "/.lock";
  char *path = malloc(size);
  if (path == NULL)
    return state_enomem(err, dir);
  snprintf(path, size, "%s/%s.lock", dir, name);
  int rc = state_lock_path(path, name, fd_out, err);
  free(path);
  return rc;
}

/* The lock file is left in place: unlinking it would let a process that
 * opened it just before take a lock on a file no one else can see. */
void state_unlock(int fd)
{
  if (fd < 0)
    return;
  /* Unlock explicitly rather than by close(): a child forked meanwhile
   * shares the open file description and would keep the lock alive. */
  flock(fd, LOCK_UN);
  close(fd);
}
