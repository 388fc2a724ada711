/**
 * The JSON Schema of rnnp.config.json: the one place its fields are declared. The config reader
 * (root.ts) checks files against it, and schema/rnnp.config.schema.json — what editors read through
 * `"$schema"` — is this object written out (a spec keeps the two equal).
 */
export interface JsonSchema {
  $schema?: string;
  $id?: string;
  title?: string;
  description?: string;
  type: "object" | "string" | "integer";
  properties?: Record<string, JsonSchema>;
  /** false: no other fields; a schema: every other field's value (a map). */
  additionalProperties?: boolean | JsonSchema;
  minimum?: number;
  pattern?: string;
  enum?: string[];
  minLength?: number;
  default?: string;
  examples?: unknown[];
}

export const CONFIG_SCHEMA: JsonSchema = {
  $schema: "http://json-schema.org/draft-07/schema#",
  $id: "https://github.com/rnnp/rnnp/blob/main/schema/rnnp.config.schema.json",
  title: "rnnp.config.json",
  description:
    "Project settings for rnnp. The folder holding this file is the project root: rnnp looks for it from the pipeline's folder (or the current one) upwards, and anchors the cache there.",
  type: "object",
  additionalProperties: false,
  properties: {
    $schema: {
      type: "string",
      description: "The schema of this file, for editors (schema/rnnp.config.schema.json).",
    },
    cache: {
      type: "string",
      minLength: 1,
      default: "cache",
      description:
        "The cache folder, relative to this file (or absolute). --cache and $RNNP_CACHE take precedence.",
      examples: [".rnnp/cache", "/var/cache/rnnp"],
    },
    remote: {
      type: "object",
      additionalProperties: false,
      description:
        "A shared HTTP cache that local misses are fetched from. --remote and $RNNP_REMOTE take precedence.",
      properties: {
        url: {
          type: "string",
          minLength: 1,
          description: "The remote cache's http:// or https:// URL.",
        },
        mode: {
          type: "string",
          enum: ["read", "readwrite"],
          default: "read",
          description:
            "read: only fetch; readwrite: also upload what runs here (or --remote-write, $RNNP_REMOTE_MODE).",
        },
      },
    },
    executor: {
      type: "string",
      enum: ["local", "bullmq", "slurm"],
      default: "local",
      description:
        "Where stages that must execute run: this machine, a BullMQ queue of `rnnp worker`s, or Slurm batch jobs. --executor and $RNNP_EXECUTOR take precedence.",
    },
    queue: {
      type: "object",
      additionalProperties: false,
      description: "The BullMQ executor's queue. --queue and $RNNP_QUEUE take precedence.",
      properties: {
        url: {
          type: "string",
          pattern: "^rediss?://",
          description: "Redis, as redis://HOST:PORT.",
          examples: ["redis://127.0.0.1:6379"],
        },
        name: {
          type: "string",
          minLength: 1,
          default: "rnnp",
          description:
            "The queue's name: give each runtime (backend, kernels) its own to route jobs in a mixed fleet.",
        },
      },
    },
    slurm: {
      type: "object",
      additionalProperties: false,
      description: "The Slurm executor's settings.",
      properties: {
        partition: {
          type: "string",
          minLength: 1,
          description: "The partition to submit to (--partition takes precedence).",
        },
        resources: {
          type: "object",
          description:
            'sbatch resources per stage kind ("train", "evaluate", ...), or "*" for every kind.',
          additionalProperties: {
            type: "object",
            additionalProperties: false,
            properties: {
              cpus: { type: "integer", minimum: 1, description: "--cpus-per-task." },
              mem: {
                type: "string",
                pattern: "^[0-9]+[KMGTkmgt]?$",
                description: "--mem: memory per node.",
                examples: ["8G"],
              },
              time: {
                type: "string",
                pattern: "^[0-9:-]+$",
                description: "--time: the time limit.",
                examples: ["2:00:00"],
              },
            },
          },
        },
      },
    },
  },
};
