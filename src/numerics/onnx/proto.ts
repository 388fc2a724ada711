import { readFileSync } from "node:fs";
import { join } from "node:path";
import protobuf from "protobufjs";
import { UserError } from "../../core/diagnostic.js";

/**
 * ONNX's file format is a protobuf `ModelProto`; protobufjs writes it from the official schema
 * (onnx.proto, beside this module), so no field number or wire type is written by hand here. What this module adds is a
 * small, typed description of a model (nodes, initialisers, inputs, outputs, metadata) and its
 * translation to the schema's messages.
 */

import { IR_VERSION, OPSET } from "./opset.js";

export { IR_VERSION, OPSET };

/** ONNX's element types (TensorProto.DataType) of the tensors rnnp writes. */
export const ELEM = { float32: 1, int32: 6, int64: 7 } as const;
export type ElemType = keyof typeof ELEM;

/** A float attribute whose value happens to be whole (`alpha: 1`): typed, as ONNX's schema wants. */
export interface Floats {
  floats: readonly number[];
}
export interface FloatValue {
  float: number;
}

/** An attribute's value: integers, strings, floats (non-whole numbers or marked), or lists of them. */
export type Attribute =
  | number
  | string
  | readonly number[]
  | readonly string[]
  | Floats
  | FloatValue;

export interface NodeSpec {
  op: string;
  name: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attributes: Readonly<Record<string, Attribute>>;
}

export interface TensorSpec {
  name: string;
  dims: readonly number[];
  values: Float32Array | Int32Array | BigInt64Array;
}

/** A graph input or output: its element type and shape, a string naming a dimension known only at run time. */
export interface ValueSpec {
  name: string;
  type: ElemType;
  shape: readonly (number | string)[];
  doc?: string;
}

export interface ModelDescription {
  name: string;
  doc: string;
  producerVersion: string;
  nodes: readonly NodeSpec[];
  initializers: readonly TensorSpec[];
  inputs: readonly ValueSpec[];
  outputs: readonly ValueSpec[];
  /** Key -> value strings (ModelProto.metadata_props), in the order given. */
  metadata: readonly (readonly [string, string])[];
}

/** ONNX's onnx.proto (vendored, Apache-2.0), shipped beside this module (in dist/ by the build). */
const SCHEMA_FILE = join(import.meta.dirname, "onnx.proto");

let modelType: protobuf.Type | undefined;

/** The schema's ModelProto, read and parsed once. */
function modelProto(): protobuf.Type {
  modelType ??= protobuf.parse(readSchema(), { keepCase: true }).root.lookupType("onnx.ModelProto");
  return modelType;
}

function readSchema(): string {
  try {
    return readFileSync(SCHEMA_FILE, "utf8");
  } catch (e) {
    throw new UserError(`ONNX's schema is missing from rnnp's installation (${SCHEMA_FILE})`, {
      hint: "reinstall rnnp; from a checkout, `npm run build` copies it into dist/",
      cause: e,
    });
  }
}

const ATTR = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;
const utf8 = (s: string) => new TextEncoder().encode(s);

function attribute(name: string, value: Attribute): Record<string, unknown> {
  if (typeof value === "string") return { name, type: ATTR.STRING, s: utf8(value) };
  if (typeof value === "number")
    return Number.isInteger(value)
      ? { name, type: ATTR.INT, i: value }
      : { name, type: ATTR.FLOAT, f: value };
  if ("float" in value) return { name, type: ATTR.FLOAT, f: value.float };
  if ("floats" in value) return { name, type: ATTR.FLOATS, floats: [...value.floats] };
  const list = value as readonly (number | string)[];
  if (list.every((v) => typeof v === "string"))
    return { name, type: ATTR.STRINGS, strings: list.map((v) => utf8(v as string)) };
  const numbers = list as readonly number[];
  return numbers.every(Number.isInteger)
    ? { name, type: ATTR.INTS, ints: [...numbers] }
    : { name, type: ATTR.FLOATS, floats: [...numbers] };
}

function tensor(t: TensorSpec): Record<string, unknown> {
  const type =
    t.values instanceof Float32Array
      ? ELEM.float32
      : t.values instanceof Int32Array
        ? ELEM.int32
        : ELEM.int64;
  // raw_data is little-endian, as typed arrays are on every platform Node runs on.
  const raw = new Uint8Array(t.values.buffer, t.values.byteOffset, t.values.byteLength);
  return { name: t.name, dims: [...t.dims], data_type: type, raw_data: raw.slice() };
}

function valueInfo(v: ValueSpec): Record<string, unknown> {
  return {
    name: v.name,
    ...(v.doc ? { doc_string: v.doc } : {}),
    type: {
      tensor_type: {
        elem_type: ELEM[v.type],
        shape: {
          dim: v.shape.map((d) => (typeof d === "number" ? { dim_value: d } : { dim_param: d })),
        },
      },
    },
  };
}

/** The model's bytes: a ModelProto. */
export function encodeModel(m: ModelDescription): Uint8Array {
  const type = modelProto();
  const message = {
    ir_version: IR_VERSION,
    opset_import: [{ domain: "", version: OPSET }],
    producer_name: "rnnp",
    producer_version: m.producerVersion,
    doc_string: m.doc,
    graph: {
      name: m.name,
      node: m.nodes.map((n) => ({
        name: n.name,
        op_type: n.op,
        input: [...n.inputs],
        output: [...n.outputs],
        attribute: Object.entries(n.attributes).map(([k, v]) => attribute(k, v)),
      })),
      initializer: m.initializers.map(tensor),
      input: m.inputs.map(valueInfo),
      output: m.outputs.map(valueInfo),
    },
    metadata_props: m.metadata.map(([key, value]) => ({ key, value })),
  };
  const problem = type.verify(message);
  if (problem) throw new Error(`rnnp built an invalid ONNX model: ${problem}`);
  return type.encode(type.fromObject(message)).finish();
}

/** Reads a model's bytes back (for tests and `rnnp show`): the schema's plain object form. */
export function decodeModel(bytes: Uint8Array): Record<string, unknown> {
  const type = modelProto();
  return type.toObject(type.decode(bytes), { longs: Number, bytes: Array, defaults: false });
}
