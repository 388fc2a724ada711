import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { UserError } from "../core/diagnostic.js";
import { ancestors } from "../core/find-up.js";
import { CONFIG_SCHEMA, type JsonSchema } from "./config-schema.js";

/**
 * Where a project begins, as DVC finds `.dvc/` and Turborepo its root `turbo.json`: the nearest folder
 * (at or above where rnnp starts looking) with an `rnnp.config.json`; else the nearest with a
 * `package.json` or `.git`; else the starting folder itself. The cache lives at the root, so one
 * project has one cache whichever folder a command runs from.
 */
export interface ProjectRoot {
  dir: string;
  /** What marked it: the config file, a package.json, a .git, or nothing (the starting folder). */
  marker: "rnnp.config.json" | "package.json" | ".git" | "none";
  config: ProjectConfig;
  /** The config file read, if any. */
  configPath?: string;
}

/** The settings of rnnp.config.json (see config-schema.ts for each field's meaning). */
export interface ProjectConfig {
  cache?: string;
  remote?: { url?: string; mode?: "read" | "readwrite" };
  executor?: "local" | "bullmq" | "slurm";
  queue?: { url?: string; name?: string };
  slurm?: {
    partition?: string;
    resources?: Record<string, { cpus?: number; mem?: string; time?: string }>;
  };
}

export const CONFIG_FILE = "rnnp.config.json";

export function findProjectRoot(start: string): ProjectRoot {
  const from = resolve(start);
  for (const dir of ancestors(from)) {
    const path = join(dir, CONFIG_FILE);
    if (existsSync(path))
      return { dir, marker: CONFIG_FILE, config: readProjectConfig(path), configPath: path };
  }
  for (const dir of ancestors(from)) {
    if (existsSync(join(dir, "package.json"))) return { dir, marker: "package.json", config: {} };
    if (existsSync(join(dir, ".git"))) return { dir, marker: ".git", config: {} };
  }
  return { dir: from, marker: "none", config: {} };
}

/** The project's cache folder: the config's `cache` (relative to the config file), else `<root>/cache`. */
export function projectCacheDir(root: ProjectRoot): string {
  return resolve(
    root.configPath ? dirname(root.configPath) : root.dir,
    root.config.cache ?? "cache",
  );
}

/** Reads and checks rnnp.config.json against its schema: a typo is an error, never ignored. */
export function readProjectConfig(path: string): ProjectConfig {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new UserError(`${path}: not valid JSON: ${(e as Error).message}`, {
      hint: 'rnnp.config.json holds one JSON object, e.g. { "cache": ".rnnp/cache" }',
    });
  }
  const problems = checkSchema(value, CONFIG_SCHEMA, "");
  if (problems.length)
    throw new UserError(`${path}: ${problems.join("; ")}`, {
      hint: `the fields and their meanings are in schema/rnnp.config.schema.json`,
    });
  return value as ProjectConfig;
}

/**
 * The subset of JSON Schema the config schema uses (object, string, enum, properties,
 * additionalProperties: false), checked here so the schema editors read is the one rnnp enforces.
 */
export function checkSchema(value: unknown, schema: JsonSchema, at: string): string[] {
  const where = at || "the file";
  if (schema.type === "object") {
    if (typeof value !== "object" || value === null || Array.isArray(value))
      return [`${where}: expected an object`];
    const props = schema.properties ?? {};
    const out: string[] = [];
    for (const [k, v] of Object.entries(value)) {
      const extra =
        typeof schema.additionalProperties === "object" ? schema.additionalProperties : undefined;
      const sub = Object.hasOwn(props, k) ? props[k] : extra;
      if (sub) out.push(...checkSchema(v, sub, at ? `${at}.${k}` : k));
      else if (schema.additionalProperties === false)
        out.push(
          `unknown field \`${at ? `${at}.${k}` : k}\` (expected ${Object.keys(props)
            .map((p) => `\`${p}\``)
            .join(", ")})`,
        );
    }
    return out;
  }
  if (schema.type === "integer") {
    if (!Number.isInteger(value)) return [`${where}: expected a whole number`];
    if (schema.minimum !== undefined && (value as number) < schema.minimum)
      return [`${where}: expected at least ${schema.minimum}`];
  }
  if (schema.type === "string") {
    if (typeof value !== "string") return [`${where}: expected a string`];
    if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value))
      return [
        `${where}: expected ${schema.examples?.length ? `a value such as ${JSON.stringify(schema.examples[0])}` : `to match ${schema.pattern}`}`,
      ];
    if (schema.enum && !schema.enum.includes(value))
      return [`${where}: expected ${schema.enum.map((e) => `"${e}"`).join(" or ")}`];
    if (schema.minLength !== undefined && value.length < schema.minLength)
      return [`${where}: expected a non-empty string`];
  }
  return [];
}
