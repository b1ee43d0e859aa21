/**
 * Node's `http` module, taken without its ES-module facade. `import … from 'node:http'` builds a
 * namespace of every export, and reading them all runs the lazy getters Node 24 has on `http`
 * (WebSocket and its events, from the bundled undici): ~110 internal modules load — undici,
 * worker_threads, readline, web streams — and ~13 MiB of RSS stay, none of it used by nsync
 * (docs/adr/0025). `process.getBuiltinModule` hands over the CommonJS module object itself, whose
 * getters nobody touches. Import `http` from here, never from 'node:http' (types are fine).
 */
export const http = process.getBuiltinModule('node:http');
