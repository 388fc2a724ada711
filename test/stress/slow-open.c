// LD_PRELOAD for test/stress/cache-faults.test.ts: holds a process SLOW_OPEN_MS right after LMDB
// reads the second meta page of a data.mdb (mdb_env_read_header: a pread of less than a page at
// offset 4096), widening the window between that read and mdb_env_open2 setting lock.mdb's
// transaction counter from it (see lockCache in src/cache/store.ts). With SLOW_OPEN_READY and
// SLOW_OPEN_GO (paths) instead, it creates the first there and waits until the second exists (10 s at
// most): test/cache/concurrency.test.ts commits in that window, exactly, on a loaded machine too.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>
#include <time.h>
#include <sys/types.h>
#include <fcntl.h>
static void pause_if(int fd, off_t off, size_t n) {
  if (off != 4096 || n >= 4096) return;
  char link[64], path[512]; snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t len = readlink(link, path, sizeof path - 1); if (len <= 0) return; path[len] = 0;
  if (len < 8 || strcmp(path + len - 8, "data.mdb")) return;
  const char *ready = getenv("SLOW_OPEN_READY"), *go = getenv("SLOW_OPEN_GO");
  if (ready && go) {
    int f = open(ready, O_WRONLY | O_CREAT, 0644); if (f >= 0) close(f);
    struct timespec tick = { 0, 1000000L };
    for (int i = 0; i < 10000 && access(go, F_OK) != 0; i++) nanosleep(&tick, 0);
    return;
  }
  const char *ms = getenv("SLOW_OPEN_MS"); if (!ms) return;
  struct timespec ts = { atoi(ms) / 1000, (atoi(ms) % 1000) * 1000000L }; nanosleep(&ts, 0);
}
ssize_t pread64(int fd, void *buf, size_t n, off_t off) {
  static ssize_t (*real)(int, void *, size_t, off_t) = 0; if (!real) real = dlsym(RTLD_NEXT, "pread64");
  ssize_t r = real(fd, buf, n, off); pause_if(fd, off, n); return r;
}
ssize_t pread(int fd, void *buf, size_t n, off_t off) {
  static ssize_t (*real)(int, void *, size_t, off_t) = 0; if (!real) real = dlsym(RTLD_NEXT, "pread");
  ssize_t r = real(fd, buf, n, off); pause_if(fd, off, n); return r;
}
