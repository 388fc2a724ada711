// rnnp_pages: gives back the pages of a cache blob once it has been read.
//
// Why: a stage reads its inputs in place, from LMDB's memory map (no copy), and decodes them into
// values of their own. The mapped pages it touched then stay resident, counted in the process's
// memory, for as long as the stage runs, although nothing reads them again: a stage reading a
// 60 MB table and writing one held 60 MB more than it needs. Here they are dropped from the
// process's page tables (madvise MADV_DONTNEED); the kernel keeps them in its page cache, so a
// later read of the same blob faults them back in, with the same bytes.
//
// Only ever for a shared mapping of a file (what LMDB maps): there MADV_DONTNEED cannot lose a
// byte, as every page is the file's own. On private or anonymous memory it would discard data
// (zero-filled on the next touch), so any other view is left alone: the mapping that holds the
// view is looked up in /proc/self/maps, and must be shared and backed by a file.
#if defined(__linux__)
#define _GNU_SOURCE  // getline
#endif
#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__linux__)
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

// Whether [lo, hi) lies within one mapping of /proc/self/maps that is shared and maps a file.
static int in_shared_file_mapping(uintptr_t lo, uintptr_t hi) {
  FILE* maps = fopen("/proc/self/maps", "r");
  if (maps == NULL) return 0;
  char* line = NULL;
  size_t capacity = 0;
  int found = 0;
  while (getline(&line, &capacity, maps) > 0) {
    unsigned long start, end, offset, inode;
    char perms[5];
    // start-end perms offset device inode [path]
    if (sscanf(line, "%lx-%lx %4s %lx %*s %lu", &start, &end, perms, &offset, &inode) != 5)
      continue;
    if (start <= lo && lo < end) {
      found = hi <= end && perms[3] == 's' && inode != 0;
      break;
    }
  }
  free(line);
  fclose(maps);
  return found;
}

static size_t release_pages(void* data, size_t length) {
  if (length == 0) return 0;
  const uintptr_t lo = (uintptr_t)data, hi = lo + length;
  if (!in_shared_file_mapping(lo, hi)) return 0;
  const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
  // Whole pages inside the view only: the pages at its ends may hold other values' bytes.
  const uintptr_t from = (lo + page - 1) & ~(page - 1), to = hi & ~(page - 1);
  if (to <= from) return 0;
  return madvise((void*)from, to - from, MADV_DONTNEED) == 0 ? (size_t)(to - from) : 0;
}
#else
static size_t release_pages(void* data, size_t length) {
  (void)data;
  (void)length;
  return 0;
}
#endif

// release(view: Uint8Array): number, the bytes given back (0 when the view is not in a shared
// mapping of a file, or too small to hold a whole page).
static napi_value release(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  bool view = false;
  if (argc < 1 || napi_is_typedarray(env, argv[0], &view) != napi_ok || !view) {
    napi_throw_type_error(env, NULL, "release: a Uint8Array expected");
    return NULL;
  }
  napi_typedarray_type element;
  size_t count, offset;
  void* data;
  napi_value buffer;
  if (napi_get_typedarray_info(env, argv[0], &element, &count, &data, &buffer, &offset) != napi_ok)
    return NULL;
  if (element != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "release: a Uint8Array expected");
    return NULL;
  }
  napi_value out;
  if (napi_create_double(env, (double)release_pages(data, count), &out) != napi_ok) return NULL;
  return out;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "release", NAPI_AUTO_LENGTH, release, NULL, &fn) != napi_ok)
    return NULL;
  if (napi_set_named_property(env, exports, "release", fn) != napi_ok) return NULL;
  return exports;
}
