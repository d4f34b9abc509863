import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The hub serves dist/ at "/" with an index.html fallback for client routes. In `vite dev`,
// /api is proxied to a hub (KENSA_HUB_URL, default the standard port) so cookies stay same-origin.
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/",
  plugins: [react()],
  // @kensa/contracts is shared with Node; its one Node import is never called in the console
  resolve: { alias: { "node:crypto": fileURLToPath(new URL("./src/node-crypto-stub.ts", import.meta.url)) } },
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 900 },
  server: {
    proxy: { "/api": { target: process.env.KENSA_HUB_URL ?? "http://127.0.0.1:8080", changeOrigin: false } },
  },
});
