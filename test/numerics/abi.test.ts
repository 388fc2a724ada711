// The kernels' ABI is written once (src/numerics/fused/abi.ts); this spec fails when either
// implementation drifts from it: the AssemblyScript kernels' signatures and the argument tables in
// their doc comments (kernels/rnn.ts), and the native port's argument lists (native/abi.h).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  type Arg,
  bufferFloats,
  buffersOf,
  KERNEL_NAMES,
  KERNELS,
  kernelCall,
} from "../../src/numerics/fused/abi.js";
import { ROOT } from "../helpers.js";
import { argumentBlock } from "./abi-docs.js";

const source = readFileSync(join(ROOT, "kernels", "rnn.ts"), "utf8");
const header = readFileSync(join(ROOT, "native", "abi.h"), "utf8");

/** The exported functions of rnn.ts: their parameters (name and type) and the comment above them. */
function exportedFunctions(): Map<string, { params: [string, string][]; doc: string }> {
  const out = new Map<string, { params: [string, string][]; doc: string }>();
  const re = /(\/\*\*(?:(?!\*\/)[\s\S])*\*\/\n)?export function (\w+)\(([^)]*)\)/g;
  for (const m of source.matchAll(re)) {
    const params = [...m[3]!.matchAll(/(\w+)\s*:\s*(\w+)/g)].map(
      (p) => [p[1]!, p[2]!] as [string, string],
    );
    out.set(m[2]!, { params, doc: m[1] ?? "" });
  }
  return out;
}

const AS_TYPE: Record<Arg["type"], string> = { i32: "i32", bool: "bool", ptr: "usize" };
const C_KIND: Record<Arg["type"], string> = { i32: "I32", bool: "BOOL", ptr: "PTR" };

/** native/abi.h: the kernels in order, each with its argument list macro's entries. */
function nativeLists(): [string, [string, string][]][] {
  const list = /#define RNNP_KERNELS\(K\)((?:.*\\\n)*.*)/.exec(header)?.[1] ?? "";
  return [...list.matchAll(/K\((\w+), (\w+), \w+\)/g)].map((k) => {
    const body = new RegExp(`#define ${k[2]}\\(I32, PTR, BOOL\\)((?:.*\\\\\\n)*.*)`).exec(
      header,
    )?.[1];
    assert.ok(body, `native/abi.h defines ${k[2]}`);
    return [
      k[1]!,
      [...body.matchAll(/\b(I32|PTR|BOOL)\((\w+)\)/g)].map(
        (e) => [e[2]!, e[1]!] as [string, string],
      ),
    ];
  });
}

describe("the kernels' ABI (fused/abi.ts) and its implementations agree", () => {
  const fns = exportedFunctions();

  it("rnn.ts exports the ABI's kernels, and besides them only its memory and product helpers", () => {
    const others = [...fns.keys()].filter((n) => !Object.hasOwn(KERNELS, n));
    assert.deepEqual(others.sort(), ["gemm", "heapBase", "transpose"]);
    for (const name of KERNEL_NAMES) assert.ok(fns.has(name), `rnn.ts exports ${name}`);
  });

  for (const name of KERNEL_NAMES) {
    it(`${name}: rnn.ts's parameters are the descriptor's, in order and type`, () => {
      const expected = (KERNELS[name].args as readonly Arg[]).map((a) => [a.name, AS_TYPE[a.type]]);
      assert.deepEqual(fns.get(name)!.params, expected);
    });

    it(`${name}: the argument table above it in rnn.ts is rendered from the descriptor`, () => {
      const block = argumentBlock(name);
      assert.ok(
        fns.get(name)!.doc.includes(`${block}\n */`),
        `the doc comment above ${name} in kernels/rnn.ts should end with:\n${block}\n */`,
      );
    });
  }

  it("native/abi.h lists the same kernels, in the pools' order, with the same arguments", () => {
    const lists = nativeLists();
    assert.deepEqual(
      lists.map(([n]) => n),
      KERNEL_NAMES,
    );
    for (const [name, args] of lists)
      assert.deepEqual(
        args,
        (KERNELS[name as keyof typeof KERNELS].args as readonly Arg[]).map((a) => [
          a.name,
          C_KIND[a.type],
        ]),
        `${name} in native/abi.h`,
      );
  });

  it("the native port names the wasm kernels it reproduces: the ones built from rnn.ts", () => {
    const wasm = join(ROOT, "dist", "kernels", "rnn.wasm");
    assert.ok(existsSync(wasm), "the kernels are built (npm run build)");
    const digest = createHash("sha256").update(readFileSync(wasm)).digest("hex").slice(0, 16);
    const portOf = /#define RNNP_PORT_OF "(\w+)"/.exec(header)?.[1];
    assert.equal(
      portOf,
      digest,
      "kernels/rnn.ts compiles to other kernels than native/ ports: port the change to native/rnn.h, then set RNNP_PORT_OF in native/abi.h",
    );
  });

  it("every buffer's shape uses known axes, and buffers that share a name share a shape across kernels", () => {
    const shapes = new Map<string, string>();
    for (const name of KERNEL_NAMES)
      for (const b of buffersOf(name)) {
        const d = { B: 2, T: 3, F: 5, H: 7 };
        const all = { masked: true, dropout: true, sequences: true, flow: true };
        assert.ok(bufferFloats(b, d, KERNELS[name].gates, all) > 0, `${name}.${b.name}`);
        const key = `${KERNELS[name].gates}:${b.name}`;
        const shape = b.shape.join(",");
        assert.equal(shapes.get(key) ?? shape, shape, `${name}.${b.name}`);
        shapes.set(key, shape);
      }
  });

  it("kernelCall orders named arguments as the kernel takes them, and refuses missing or mistyped ones", () => {
    const named = Object.fromEntries(
      (KERNELS.simpleForward.args as readonly Arg[]).map((a, i) => [
        a.name,
        a.type === "bool" ? i % 2 === 0 : i * 16,
      ]),
    );
    const call = kernelCall("simpleForward", { ...named, extra: 1 });
    assert.deepEqual(
      call.args,
      (KERNELS.simpleForward.args as readonly Arg[]).map((a) => named[a.name]),
    );
    const { hs: _, ...missing } = named;
    assert.throws(
      () => kernelCall("simpleForward", missing),
      /simpleForward: no value for its argument hs/,
    );
    assert.throws(
      () => kernelCall("simpleForward", { ...named, rev: 1 }),
      /argument rev must be a boolean/,
    );
    assert.throws(
      () => kernelCall("simpleForward", { ...named, x: true }),
      /argument x must be a number/,
    );
  });
});
