// Bundles the agent into dist/kensa-agent.mjs: its own code and the workspace packages it uses
// (@kensa/*, TypeScript) become one plain ES module; npm dependencies stay external (native
// addons such as sharp, onnxruntime-node and better-sqlite3 cannot be bundled). A device then
// runs plain JavaScript: no TypeScript compiler in memory (about 35 MB less resident memory).
// Plain JavaScript on purpose: bootstrap runs it before anything else is built.
import { build } from "esbuild";

const here = import.meta.dirname;
await build({
  entryPoints: [`${here}/src/main.ts`],
  outfile: `${here}/dist/kensa-agent.mjs`,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: "linked",
  logLevel: "warning",
  // bare imports are external unless they are one of our workspace packages
  plugins: [
    {
      name: "externals",
      setup(b) {
        b.onResolve({ filter: /^[^./]/ }, (args) =>
          args.path.startsWith("@kensa/") ? undefined : { path: args.path, external: true },
        );
      },
    },
  ],
  // ESM output: give bundled CommonJS-style code a require()
  banner: {
    js: "import { createRequire as __kensaRequire } from 'node:module'; const require = __kensaRequire(import.meta.url);",
  },
});
