import { trainingSuite } from "./training.js";

trainingSuite("wasm", "fused");
