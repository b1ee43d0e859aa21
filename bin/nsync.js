#!/usr/bin/env node
// Runs the compiled CLI when present (npm package, container image), else the TypeScript source
// (a checkout, on Node 24, which strips types itself).
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/cli/main.js', import.meta.url);
const { main } = await import(
  existsSync(compiled) ? compiled.href : new URL('../src/cli/main.ts', import.meta.url).href
);
process.exitCode = await main(process.argv.slice(2), process.env);
