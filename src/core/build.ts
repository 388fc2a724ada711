/**
 * The identity of the bundled CLI (dist/cli), a digest of everything bundled into it, which
 * scripts/bundle.mjs writes in place of `__RNNP_BUILD__`. Undefined when rnnp runs from its modules
 * (tsx, dist/src): then nothing that depends on the code's exact version (the checked-IR cache) is
 * kept.
 */
declare const __RNNP_BUILD__: string | undefined;

export const BUILD_ID: string | undefined =
  typeof __RNNP_BUILD__ === "string" ? __RNNP_BUILD__ : undefined;
