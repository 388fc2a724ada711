/**
 * The flags every rnnp process starts Node with. bin/rnnp.js passes them (its line for sh), the
 * build makes the CLI's code cache under them (V8 refuses a code cache made under other flags: the
 * CLI would then compile from source, some 35 ms a command), and rnnp passes them to the Node
 * processes it starts itself (a `--jobs` worker, a Slurm job, the cache-verify worker). Run as
 * `node bin/rnnp.js`, rnnp works the same on V8's default heap: bin/rnnp.js then sets the flags
 * late, only so that V8 takes the code cache.
 *
 * --max-semi-space-size=4: V8's young generation grows to two semi-spaces of 4 MiB, not 16. A
 * data stage's tables live to its end, so their objects survive young collections one after
 * another, which grows the young generation to its largest, and its pages then stay resident.
 * At 10^6 rows that was 15-35 MiB of a data stage's peak memory (the sequential split's 202-215
 * MiB became 176-189; BENCHMARKS.md, "Data stages, round six"); training's speed did not move
 * beyond the machine's noise.
 */
export const NODE_FLAGS: readonly string[] = ["--max-semi-space-size=4"];

/**
 * bin/rnnp.js's second line: for sh (which runs the file, as its first line says), it starts Node
 * on the same file with NODE_FLAGS; for Node, a comment. (sh runs `//` and fails quietly first.)
 */
export function launcherLine(): string {
  return `// 2>/dev/null; exec node ${NODE_FLAGS.join(" ")} "$0" "$@"`;
}
