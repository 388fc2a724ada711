import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { analyse, siteAt } from "../../src/lsp/analysis.js";
import { complete } from "../../src/lsp/completion.js";
import { hover } from "../../src/lsp/hover.js";
import { ROOT } from "../helpers.js";

const PIPELINES = readdirSync(join(ROOT, "pipelines"))
  .filter((f) => f.endsWith(".rnnp"))
  .map((f) => readFileSync(join(ROOT, "pipelines", f), "utf8"));

/**
 * An editor asks about half-written files all the time: completion and hover must answer (possibly
 * nothing) for any text cut anywhere, with the cursor anywhere, and never throw.
 */
describe("the language server on half-written text", () => {
  it("completes and hovers anywhere in any prefix of the example pipelines", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...PIPELINES),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.string({ maxLength: 6 }),
        (text, cut, cursor, typed) => {
          const written = text.slice(0, Math.floor(cut * text.length)) + typed;
          const a = analyse(written, "/nonexistent/p.rnnp");
          const offset = Math.floor(cursor * written.length);
          const items = complete(a, offset);
          assert.ok(Array.isArray(items));
          for (const item of items) assert.equal(typeof item.label, "string");
          hover(a, offset, () => "/nonexistent/cache");
          siteAt(a, offset);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("finds a site at every name of a complete pipeline", () => {
    for (const text of PIPELINES) {
      const a = analyse(text, "/nonexistent/p.rnnp");
      const names = a.sites.length;
      assert.ok(names > 10, `${names} sites`);
      for (const site of a.sites) assert.equal(siteAt(a, site.span.start.offset + 1), site);
    }
  });
});
