import { defineConfig } from "vite";

// The deployment record (addresses + ABIs) and the node's URL are fetched at runtime from the
// server (deployment.json, config.json), so one build serves any deploy of the contracts.
export default defineConfig({
  base: "./",
  build: { outDir: "dist", target: "es2022", sourcemap: false, reportCompressedSize: true },
});
