import type { Command } from "commander";
import { didYouMean } from "../../lang/suggest.js";
import { EXIT, Exit, table } from "../context.js";
import { stdout } from "../io.js";
import { findTopic, topics, topicText } from "../reference.js";

/**
 * `rnnp help [TOPIC]`: a command's usage, or the reference of a stage kind, layer, optimizer or
 * schedule (generated from its declaration); without a topic, the overview.
 */
export function helpCommand(program: Command) {
  return (topic: string | undefined): number => {
    if (topic === undefined) {
      program.outputHelp();
      return EXIT.ok;
    }
    const command = program.commands.find((c) => c.name() === topic);
    if (command) {
      command.outputHelp();
      return EXIT.ok;
    }
    const t = findTopic(topic);
    if (t) {
      stdout().write(topicText(t, table));
      return EXIT.ok;
    }
    const hint = didYouMean(topic, [
      ...topics().map((x) => x.name),
      ...program.commands.map((c) => c.name()),
    ]);
    throw new Exit(
      EXIT.invalid,
      `no command, stage kind, layer, optimizer or schedule is called \`${topic}\`${hint ? ` (${hint})` : ""}; \`rnnp kinds\` lists them`,
    );
  };
}
