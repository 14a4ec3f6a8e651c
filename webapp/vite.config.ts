/// <reference types="vitest/config" />
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The development server proxies /api to a running backend (the API's own root, no /api),
// so the app and the API share one origin and the sign-in cookie works as in production.
const backend = process.env.LWM_DEV_BACKEND ?? 'http://localhost:8080';

export default defineConfig({
  // Every URL relative: the app is served at <prefix>/app/ and the prefix is unknown.
  base: './',
  // REACT_APP_* as in the original manager's README (REACT_APP_EXTENSION_ENDPOINT, ...).
  envPrefix: ['VITE_', 'REACT_APP_'],
  plugins: [react()],
  resolve: { alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) } },
  server: {
    port: 3000,
    proxy: {
      '/api': { target: backend, changeOrigin: true, rewrite: (path) => path.replace(/^\/api/, '') },
    },
  },
  // React, MUI and the query library are most of the one bundle (~200 kB gzipped); one file
  // is fine for an app opened once per session and cached for a year.
  build: { outDir: 'dist', sourcemap: false, chunkSizeWarningLimit: 800 },
  test: {
    environment: 'jsdom',
    globals: true,
    setupFiles: ['./src/test/setup.ts'],
    css: false,
    testTimeout: 15000,
    // One module graph for all test files (React, MUI loaded once): 90 s -> 25 s. Each test gets
    // its own query client, router and msw handlers, and setup.ts resets the rest.
    isolate: false,
  },
});
