import { trainingSuite } from "./training.js";

trainingSuite("cpu");
