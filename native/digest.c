// rnnp_digest: SHA-256 as lowercase hex, from the OpenSSL inside the Node.js that loads it.
//
// Why an add-on for what node:crypto does: a fully cached run hashes about 100 small texts, and
// loading node:crypto (its 14 modules and Node's streams, parsed from source on first use) cost more
// than everything else the run does with them. This is one function, in C (no C++ runtime to load),
// calling the same OpenSSL function node:crypto ends in: the digests are the same by construction,
// and src/core/digest.ts checks known answers before it trusts the add-on, and falls back to
// node:crypto when the add-on is missing or wrong. Node exports OpenSSL's symbols for add-ons; a
// Node built without them fails to load this, and the fallback runs.
#include <node_api.h>
#include <stddef.h>
#include <stdlib.h>

// OpenSSL's one-shot SHA-256 (the same in 1.1 and 3.x), declared here rather than through
// <openssl/sha.h>: some distributions ship Node's headers without OpenSSL's, and the native kernels
// build with this file.
#define SHA256_DIGEST_LENGTH 32
unsigned char* SHA256(const unsigned char* data, size_t length, unsigned char* md);

static const char HEX[] = "0123456789abcdef";

// Texts up to this many UTF-8 bytes are encoded on the stack.
#define STACK_BYTES 8192

static napi_value fail(napi_env env, const char* message) {
  napi_throw_type_error(env, NULL, message);
  return NULL;
}

static napi_value hex_of(napi_env env, const unsigned char md[SHA256_DIGEST_LENGTH]) {
  char hex[2 * SHA256_DIGEST_LENGTH];
  for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
    hex[2 * i] = HEX[md[i] >> 4];
    hex[2 * i + 1] = HEX[md[i] & 15];
  }
  napi_value out;
  if (napi_create_string_latin1(env, hex, sizeof hex, &out) != napi_ok) return NULL;
  return out;
}

// sha256(data: string | ArrayBufferView): string. A string is hashed as UTF-8, lone surrogates as
// U+FFFD, as Buffer.from(text, "utf8") and node:crypto encode it.
static napi_value sha256_hex(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1)
    return fail(env, "sha256: one argument expected");
  napi_valuetype type;
  if (napi_typeof(env, argv[0], &type) != napi_ok) return NULL;
  unsigned char md[SHA256_DIGEST_LENGTH];
  if (type == napi_string) {
    size_t length;
    if (napi_get_value_string_utf8(env, argv[0], NULL, 0, &length) != napi_ok) return NULL;
    char stack[STACK_BYTES];
    char* text = length < sizeof stack ? stack : malloc(length + 1);
    if (text == NULL) return fail(env, "sha256: out of memory");
    size_t written;
    napi_status status = napi_get_value_string_utf8(env, argv[0], text, length + 1, &written);
    if (status == napi_ok) SHA256((const unsigned char*)text, written, md);
    if (text != stack) free(text);
    if (status != napi_ok) return NULL;
    return hex_of(env, md);
  }
  bool view;
  if (napi_is_typedarray(env, argv[0], &view) != napi_ok) return NULL;
  void* data;
  size_t length;
  if (view) {
    napi_typedarray_type element;
    size_t count;
    napi_value buffer;
    size_t offset;
    if (napi_get_typedarray_info(env, argv[0], &element, &count, &data, &buffer, &offset) != napi_ok)
      return NULL;
    // Uint8Array and Buffer only: the callers hash bytes, never wider elements.
    if (element != napi_uint8_array) return fail(env, "sha256: a Uint8Array expected");
    length = count;
  } else {
    return fail(env, "sha256: a string or a Uint8Array expected");
  }
  SHA256((const unsigned char*)data, length, md);
  return hex_of(env, md);
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "sha256", NAPI_AUTO_LENGTH, sha256_hex, NULL, &fn) != napi_ok)
    return NULL;
  if (napi_set_named_property(env, exports, "sha256", fn) != napi_ok) return NULL;
  return exports;
}
