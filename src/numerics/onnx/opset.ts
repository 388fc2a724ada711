/**
 * The opset the exported models import (ONNX 1.12, onnxruntime 1.12 and later, IR version 8). Its own
 * module so that the export kind's documentation names it without loading protobufjs.
 */
export const OPSET = 17;
export const IR_VERSION = 8;
