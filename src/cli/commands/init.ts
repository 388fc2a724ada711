import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join, relative } from "node:path";
import { parse as parseCsv } from "csv-parse/sync";
import { CONFIG_FILE } from "../../project/root.js";
import { EXIT, Exit } from "../context.js";
import { fromCwd, io, stdout } from "../io.js";

export interface InitOptions {
  data?: string;
  text?: string;
  label?: string;
  name?: string;
  force?: boolean;
}

/**
 * `rnnp init`: makes the current folder an rnnp project: rnnp.config.json (the project root, and
 * where the cache goes), a starter pipeline for a text-classification CSV of one's own (columns and
 * classes read from the file when --data is given), and cache/ in .gitignore. Existing files are
 * kept unless --force.
 */
export function initCommand(opts: InitOptions): number {
  const dir = io().cwd;
  const pipelinePath = join(dir, `${opts.name ?? "pipeline"}.rnnp`);
  const configPath = join(dir, CONFIG_FILE);
  for (const path of [pipelinePath, configPath])
    if (existsSync(path) && !opts.force)
      throw new Exit(EXIT.invalid, `${basename(path)} exists already (--force overwrites it)`);
  const data = opts.data ? describeCsv(opts.data, opts) : undefined;
  writeFileSync(
    configPath,
    `${JSON.stringify({ $schema: "./node_modules/rnnp/schema/rnnp.config.schema.json", cache: "cache" }, null, 2)}\n`,
  );
  writeFileSync(pipelinePath, starter(identifier(opts.name ?? basename(dir)), data, opts));
  const ignore = join(dir, ".gitignore");
  const ignored = existsSync(ignore) ? readFileSync(ignore, "utf8") : "";
  if (!/^\/?cache\/?$/m.test(ignored))
    appendFileSync(ignore, `${ignored && !ignored.endsWith("\n") ? "\n" : ""}/cache/\n`);
  const file = basename(pipelinePath);
  stdout().write(
    [
      `wrote ${CONFIG_FILE}, ${file} and /cache/ in .gitignore`,
      data
        ? `${file} classifies \`${data.text}\` into ${data.classes.length} classes of \`${data.label}\` (${data.rows} rows)`
        : `${file} expects data.csv with columns \`text\` and \`label\`: put your file there, or edit the load stage`,
      "next:",
      `  npx rnnp validate ${file}     # check it`,
      `  npx rnnp run ${file}          # run it (cached: only what changes runs again)`,
      `  npx rnnp show report ${file}  # the test metrics against the baselines`,
      "  npx rnnp help KIND           # every stage kind's parameters (npx rnnp kinds lists them)",
      "",
    ].join("\n"),
  );
  return EXIT.ok;
}

interface CsvShape {
  path: string;
  text: string;
  label: string;
  classes: string[];
  rows: number;
  maxLen: number;
}

/** The text and label columns of a CSV (given, or guessed), its classes and a length that fits most texts. */
function describeCsv(path: string, opts: InitOptions): CsvShape {
  let rows: Record<string, string>[];
  try {
    rows = parseCsv(readFileSync(fromCwd(path), "utf8"), {
      columns: true,
      skip_empty_lines: true,
      bom: true,
    }) as Record<string, string>[];
  } catch (e) {
    throw new Exit(
      EXIT.invalid,
      `--data ${path}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`,
    );
  }
  const columns = rows[0] ? Object.keys(rows[0]) : [];
  if (columns.length < 2 || rows.length < 10)
    throw new Exit(
      EXIT.invalid,
      `--data ${path}: expected a CSV with a header, a text column and a label column, and at least 10 rows`,
    );
  const numeric = (c: string) => rows.every((r) => r[c] === "" || Number.isFinite(Number(r[c])));
  const pick = (given: string | undefined, what: string, guess: () => string | undefined) => {
    const c = given ?? guess();
    if (c === undefined || !columns.includes(c))
      throw new Exit(
        EXIT.invalid,
        `--data ${path}: ${c === undefined ? `no ${what} column found` : `no column "${c}"`}; name it with --${what} (columns: ${columns.join(", ")})`,
      );
    return c;
  };
  const label = pick(
    opts.label,
    "label",
    () => columns.find((c) => /^(label|class|category|target|y)$/i.test(c)) ?? columns.at(-1),
  );
  const text = pick(
    opts.text,
    "text",
    () =>
      columns
        .filter((c) => c !== label && !numeric(c))
        .sort((a, b) => avgLength(rows, b) - avgLength(rows, a))[0],
  );
  const lengths = rows.map((r) => [...(r[text] ?? "")].length).sort((a, b) => a - b);
  return {
    path: relative(io().cwd, fromCwd(path)),
    text,
    label,
    classes: [...new Set(rows.map((r) => r[label] ?? ""))].sort(),
    rows: rows.length,
    maxLen: Math.max(4, lengths[Math.floor(lengths.length * 0.95)] ?? 40),
  };
}

/** A pipeline name from a folder's: letters, digits and underscores, not starting with a digit. */
function identifier(name: string): string {
  const id = name.replace(/[^A-Za-z0-9_]+/g, "_").replace(/^_+|_+$/g, "");
  return /^[A-Za-z]/.test(id) &&
    !/^(pipeline|stage|params|seed|backend|kernels|sweep|true|false)$/.test(id)
    ? id
    : "project";
}

const avgLength = (rows: Record<string, string>[], c: string) =>
  rows.reduce((a, r) => a + (r[c]?.length ?? 0), 0) / rows.length;

function starter(name: string, d: CsvShape | undefined, opts: InitOptions): string {
  const path = d?.path ?? "data.csv";
  const text = d?.text ?? opts.text ?? "text";
  const label = d?.label ?? opts.label ?? "label";
  const classes = d?.classes.length ?? 2;
  return `# A starter pipeline: a character-level LSTM that classifies the \`${text}\` column of ${path}
# by its \`${label}\` column. \`rnnp help KIND\` documents every stage kind; edit, then \`rnnp run\`.
pipeline ${name} {
  seed 42

  params {
    units = 32
    epochs = 10
  }

  stage raw = load.csv(path: ${JSON.stringify(path)}, text: ${JSON.stringify(text)}, label: ${JSON.stringify(label)})
  stage rows = clean(raw, dedupe: true, dropEmpty: true)
  stage parts = split(rows, train: 0.8, val: 0.1, test: 0.1, stratify: true)
  stage vocab = vocabulary(parts.train, level: "char")
  stage seqs = encode(parts, vocab, maxLen: ${d?.maxLen ?? 40})
  stage net = model(seqs.train) {
    embedding(dim: 16, mask: true)
    lstm(units: params.units)
    dense(units: ${classes}, activation: "softmax")
  }
  stage fit = train(net, seqs.train, validation: seqs.val, epochs: params.epochs, patience: 3)
  stage report = evaluate(fit, seqs.test)
}
`;
}
