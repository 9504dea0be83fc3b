/* core/state.h - the state directory: durable files and per-pipeline locks.
 *
 * Checkpoints and run records must survive a crash or power cut at any
 * moment, so files are replaced atomically (write a temporary file, fsync,
 * rename, fsync the directory), and a pipeline is locked so that two
 * sluice processes never run it at once.  Everything is private to the
 * user sluice runs as: directories 0700, files 0600.
 */
#ifndef SLUICE_CORE_STATE_H
#define SLUICE_CORE_STATE_H

#include <stddef.h>

struct sluice_error;

/* Creates dir and any missing parents (mode 0700, less the umask), like
 * mkdir -p.  An existing directory is fine; an existing non-directory is
 * SLUICE_EIO. */
int state_dir_ensure(const char *dir, struct sluice_error *err);

/* Replaces the file at path with len bytes of data so that after a crash
 * it holds either the old or the new content, never a mix.  The file is
 * mode 0600 whatever the umask.  On failure returns SLUICE_EIO ("path:
 * write: No space left on device"), leaves no temporary file behind and
 * leaves the old content in place (unless only the final directory fsync
 * failed: then the new content is in place but may not be durable). */
int state_write_atomic(const char *path, const void *data, size_t len,
                       struct sluice_error *err);

/* Reads the whole file at path into *data (malloc'ed, NUL-terminated for
 * convenience; *len excludes the NUL).  SLUICE_ENOTFOUND when it does not
 * exist, SLUICE_EIO on other failures; either message names the path. */
int state_read_file(const char *path, char **data, size_t *len,
                    struct sluice_error *err);

/* Takes an exclusive lock on dir/<name>.lock (created 0600) without
 * waiting, and returns its descriptor in *fd_out.  SLUICE_EAGAIN when
 * another process holds it ("pipeline X is already running (lock
 * dir/X.lock held by another process)"); the lock is per open file, so a
 * second state_lock in the same process conflicts too.  name must be a
 * pipeline name ([A-Za-z0-9._-]+, checked by the caller). */
int state_lock(const char *dir, const char *name, int *fd_out,
               struct sluice_error *err);

/* Releases a lock from state_lock; fd < 0 is ignored. */
void state_unlock(int fd);

#endif /* SLUICE_CORE_STATE_H */
