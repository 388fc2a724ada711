import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import type { Table } from "../../src/artifacts/table.js";
import { keyOfManifest, type StageRecord } from "../../src/cache/record.js";
import { PoisonedBlob, RemoteCache } from "../../src/cache/remote.js";
import type { Digest, StageKey } from "../../src/core/digest.js";
import { checkOutputBytes, encodeArtifact } from "../../src/run/artifacts.js";

/** What the remote cache serves is checked as a bundle is: records against their keys, blobs against their records. */
const table: Table = {
  type: "table",
  columns: [{ name: "x", dtype: "number", values: new Float64Array([1, 2, 3]) }],
  roles: {},
};
const { bytes, ref } = encodeArtifact(table);
const manifest = {
  format: 1,
  kind: "load.csv",
  version: 1,
  params: { path: "d.csv" },
  inputs: {},
  files: {},
};
const key = keyOfManifest(manifest);
const record: StageRecord<unknown> = {
  key,
  kind: "load.csv",
  outputs: { out: ref },
  manifest,
  inputsFrom: {},
  provenance: {
    pipeline: "p",
    file: "p.rnnp",
    stage: "raw",
    createdAt: "2026-01-01T00:00:00.000Z",
    durationMs: 5,
    rnnpVersion: "test",
  },
};

/** A server whose answers the test sets per path. */
const served = new Map<string, Buffer>();
let server: Server;
let url: string;

function remote(warnings: string[]): RemoteCache {
  return new RemoteCache({ url, mode: "read", retries: 0, warn: (m) => warnings.push(m) });
}

describe("the remote cache checks what it is served", () => {
  before(async () => {
    server = createServer((req, res) => {
      const body = served.get(req.url!.slice(1));
      res.writeHead(body ? 200 : 404).end(body);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const serve = (rec: unknown, blob: Uint8Array = bytes) => {
    served.clear();
    served.set(
      `records/${key}.json`,
      Buffer.from(typeof rec === "string" ? rec : JSON.stringify(rec)),
    );
    served.set(`blobs/${ref.digest}`, Buffer.from(blob));
  };
  const fetch = (w: string[]) =>
    remote(w).fetchStage(key as StageKey, () => false, { output: checkOutputBytes });

  it("a sound record and its blob are used", async () => {
    serve(record);
    const w: string[] = [];
    const got = await fetch(w);
    assert.deepEqual(got?.record, record);
    assert.deepEqual(got?.blobs.get(ref.digest as Digest), bytes);
    assert.deepEqual(w, []);
  });

  it("a record whose manifest was changed on the server is ignored (its key no longer matches)", async () => {
    serve({ ...record, manifest: { ...manifest, params: { path: "other.csv" } } });
    const w: string[] = [];
    assert.equal(await fetch(w), undefined);
    assert.match(
      w.join("\n"),
      /ignoring remote record [0-9a-f]{12}: .*its manifest hashes to [0-9a-f]{12}/,
    );
  });

  it("records that are malformed, nested absurdly deep, or carry unknown fields are ignored", async () => {
    for (const [bad, why] of [
      [{ ...record, provenance: { ...record.provenance, createdAt: "soon" } }, /createdAt/],
      [`{"key":${"[".repeat(10_000)}${"]".repeat(10_000)}}`, /nested deeper/],
      [{ ...record, extra: 1 }, /unknown field "extra"/],
      ["{not json", /JSON/],
    ] as const) {
      serve(bad);
      const w: string[] = [];
      assert.equal(await fetch(w), undefined);
      assert.match(w.join("\n"), why);
    }
  });

  it("a blob longer or shorter than its record says is poisoned", async () => {
    for (const blob of [Buffer.concat([bytes, Buffer.from("more")]), bytes.subarray(0, 10)]) {
      serve(record, Buffer.from(blob));
      await assert.rejects(
        fetch([]),
        (e) => e instanceof PoisonedBlob && /its record says/.test(e.message),
      );
    }
  });

  it("a blob that is not the artifact its record describes is not used", async () => {
    serve({
      ...record,
      outputs: { out: { ...ref, summary: "table, 9 rows x 1 columns: x:number" } },
    });
    const w: string[] = [];
    assert.equal(await fetch(w), undefined);
    assert.match(w.join("\n"), /output "out" is described as .*; its record says/);
  });
});
