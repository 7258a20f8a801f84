import { defineConfig } from 'vite'

// `npm run dev -w @quorate/explorer` proxies the API of a running coordinator
// (from `quorate devnet`) so the app is same-origin, as it is in production.
const api = process.env.QUORATE_API_URL ?? 'http://127.0.0.1:7700'

export default defineConfig({
  // Relative asset URLs: the coordinator may serve the app at `/` or under a prefix.
  base: './',
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    target: 'es2022',
    chunkSizeWarningLimit: 400,
  },
  server: {
    host: '127.0.0.1',
    proxy: { '/v1': { target: api, changeOrigin: true }, '/healthz': { target: api } },
  },
  preview: {
    host: '127.0.0.1',
    proxy: { '/v1': { target: api, changeOrigin: true }, '/healthz': { target: api } },
  },
})
