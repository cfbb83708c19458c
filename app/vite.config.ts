import { defineConfig } from "vite";

// The deployment record (addresses) and the node's URL are fetched at runtime from the server
// (deployment.json, config.json), so one build serves any deploy of the contracts; the ABIs are
// generated from the contracts at build time (src/generated/contracts.ts, `make generate`).
export default defineConfig({
  base: "./",
  build: { outDir: "dist", target: "es2022", sourcemap: false, reportCompressedSize: true },
});
