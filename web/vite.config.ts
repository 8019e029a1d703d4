/// <reference types="vitest/config" />
// Build: hashed assets under dist/assets (the server caches them as immutable), no
// inline scripts (the server sends `script-src 'self'`), no external URLs.
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    // Keep every asset a file: a data: URL for a script would break the CSP.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    chunkSizeWarningLimit: 1000,
  },
  server: {
    proxy: {
      '/api': 'http://127.0.0.1:8080',
      '/ws': { target: 'ws://127.0.0.1:8080', ws: true },
      '/health': 'http://127.0.0.1:8080',
    },
  },
  test: {
    environment: 'node',
    include: ['src/**/*.test.ts', 'src/**/*.test.tsx'],
    // `make test` runs these beside the Rust suites on two cores: the 5 s default timed
    // out a user-event test that takes 1 s on an idle machine.
    testTimeout: 30_000,
  },
});
