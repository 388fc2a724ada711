import type { SingleBar } from "cli-progress";
import type { StageIR } from "../lang/ir.js";
import { stderr } from "./io.js";

/**
 * A progress bar for long stages, drawn on stderr only when it is a terminal (never into logs or
 * pipes). Stages may report progress from synchronous loops, so drawing must be synchronous too:
 * cli-progress is loaded before the run starts, and only for a terminal.
 */
export class Progress {
  private bar: SingleBar | undefined;

  private constructor(private readonly Bar?: typeof SingleBar) {}

  static async create(enabled: boolean): Promise<Progress> {
    return new Progress(enabled ? (await import("cli-progress")).default.SingleBar : undefined);
  }

  update(stage: StageIR, done: number, total: number, unit = "items"): void {
    if (!this.Bar) return;
    if (!this.bar) {
      this.bar = new this.Bar({
        format: `  ${stage.name} [{bar}] {value}/{total} ${unit} {percentage}% eta {eta_formatted}`,
        hideCursor: true,
        clearOnComplete: true,
        stream: stderr().stream as NodeJS.WritableStream,
        fps: 10,
      });
      this.bar.start(total, done);
    } else {
      this.bar.setTotal(total);
      this.bar.update(done);
    }
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}
