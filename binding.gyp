# rnnp's native kernels (native/): built at install by native/install.js when a compiler is present.
# Bit-identical to the WebAssembly kernels only with IEEE arithmetic as written: no contraction into
# fused multiply-add, no fast-math, SSE arithmetic (never x87). One static library per instruction
# set, each compiled for that set only; the add-on picks the best the CPU has at run time.
{
  "variables": {
    "rnnp_flags": [
      "-O3",
      "-std=c++17",
      "-fPIC",
      "-ffp-contract=off",
      "-fno-fast-math",
      "-fno-finite-math-only",
      "-fno-unsafe-math-optimizations",
      "-fvisibility=hidden",
    ],
  },
  "targets": [
    {
      # SHA-256 from Node's own OpenSSL (native/digest.c): C, so loading it loads no C++ runtime.
      "target_name": "rnnp_digest",
      "sources": ["native/digest.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_c": ["-O2", "-fPIC", "-fvisibility=hidden"],
    },
    {
      # Gives back a read blob's mapped pages (native/pages.c): C too, loaded only by stages that
      # read a large blob.
      "target_name": "rnnp_pages",
      "sources": ["native/pages.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_c": ["-O2", "-fPIC", "-fvisibility=hidden"],
    },
    {
      "target_name": "rnn_scalar",
      "type": "static_library",
      "sources": ["native/rnn_scalar.cc"],
      "cflags_cc": ["<@(rnnp_flags)"],
      "conditions": [["target_arch=='x64'", {"cflags_cc": ["-mfpmath=sse"]}]],
    },
    {
      "target_name": "rnnp_kernels",
      "sources": ["native/addon.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["<@(rnnp_flags)", "-fexceptions"],
      "dependencies": ["rnn_scalar"],
      "conditions": [
        [
          "target_arch=='x64'",
          {
            "dependencies": ["rnn_avx2", "rnn_avx512"],
          },
        ],
      ],
    },
  ],
  "conditions": [
    [
      "target_arch=='x64'",
      {
        "targets": [
          {
            "target_name": "rnn_avx2",
            "type": "static_library",
            "sources": ["native/rnn_avx2.cc"],
            "cflags_cc": ["<@(rnnp_flags)", "-mfpmath=sse", "-mavx2"],
          },
          {
            "target_name": "rnn_avx512",
            "type": "static_library",
            "sources": ["native/rnn_avx512.cc"],
            "cflags_cc": ["<@(rnnp_flags)", "-mfpmath=sse", "-mavx512f", "-Wno-uninitialized", "-Wno-maybe-uninitialized"],
          },
        ],
      },
    ],
  ],
}
