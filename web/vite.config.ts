/// <reference types="vitest" />
import { fileURLToPath, URL } from "node:url";
import { defineConfig, type Plugin } from "vite";
import vue from "@vitejs/plugin-vue";

// Two apps, one build: the phone H5 at / and the committee console at /console/. Hashed assets
// under /assets/ (the gateway caches them for a year); nothing is loaded from another host.
// Vant's icon font is inlined (woff2), with a fallback on a CDN: the fallback is dropped, so
// that no page ever loads from another host (and the CSP's font-src 'self' holds).
const noRemoteFonts: Plugin = {
  name: "tongxin-no-remote-fonts",
  enforce: "pre",
  transform(code, id) {
    if (!id.endsWith(".css") || !code.includes("@font-face")) return null;
    return code.replace(/,\s*url\((?:https?:)?\/\/[^)]+\)\s*format\("[^"]+"\)/g, "");
  },
};

export default defineConfig({
  plugins: [vue(), noRemoteFonts],
  resolve: { alias: { "@": fileURLToPath(new URL("./src", import.meta.url)) } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    chunkSizeWarningLimit: 1500,
    rollupOptions: {
      input: {
        h5: fileURLToPath(new URL("./index.html", import.meta.url)),
        console: fileURLToPath(new URL("./console/index.html", import.meta.url)),
      },
    },
  },
  test: { environment: "happy-dom", include: ["tests/**/*.test.ts"] },
});
