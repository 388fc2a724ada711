import type { SingleBar } from "cli-progress";
import type { StageIR } from "../lang/ir.js";

/**
 * A progress bar for long stages, drawn on stderr only when it is a terminal (never into logs or
 * pipes). cli-progress is loaded on the first progress report, so short runs never pay for it.
 */
export class Progress {
  private bar?: SingleBar;
  private loading?: Promise<void>;
  private ctor?: typeof SingleBar;

  constructor(private readonly enabled = process.stderr.isTTY === true) {}

  update(stage: StageIR, done: number, total: number, unit = "items"): void {
    if (!this.enabled) return;
    if (!this.ctor) {
      this.loading ??= import("cli-progress").then((m) => {
        this.ctor = m.default.SingleBar;
      });
      return;
    }
    if (!this.bar) {
      this.bar = new this.ctor({ format: `  ${stage.name} [{bar}] {value}/{total} ${unit} {percentage}% eta {eta_formatted}`, hideCursor: true, clearOnComplete: true, stream: process.stderr });
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
