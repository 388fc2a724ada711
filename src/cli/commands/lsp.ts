import { io } from "../io.js";
import { EXIT } from "../exit.js";

/**
 * `rnnp lsp`: the language server on stdin and stdout, until the editor says exit. Loaded only when
 * this command runs, so the rest of the command line never loads the protocol's modules.
 */
export async function lspCommand(opts: { cache?: string; stdio?: boolean }): Promise<number> {
  const { serve } = await import("../../lsp/server.js");
  const { stdin, stdout, env, cwd } = io();
  const { resolve } = await import("node:path");
  const given = opts.cache || env.RNNP_CACHE;
  const output = stdout.nodeStream?.() ?? (stdout as unknown as NodeJS.WritableStream);
  const orderly = await serve(stdin, output, {
    // --cache, else $RNNP_CACHE (both relative to the current directory), else each pipeline's project cache.
    ...(given ? { cache: resolve(cwd, given) } : {}),
  });
  // The protocol's rule: exit code 0 after a shutdown request, 1 when the client just went away.
  return orderly ? EXIT.ok : EXIT.failed;
}
