import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';

test('starting nsync loads no undici: node:http is never taken through its ES-module facade', () => {
  // A fresh process imports what `nsync run` imports and lists the internal modules Node loaded.
  const loaded = execFileSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `await import(${JSON.stringify(new URL('../cli/run.ts', import.meta.url).href)});
       await import(${JSON.stringify(new URL('../app/health.ts', import.meta.url).href)});
       process.stdout.write(JSON.stringify(process.moduleLoadList));`,
    ],
    { encoding: 'utf8' },
  );
  const modules = JSON.parse(loaded) as string[];
  assert.ok(modules.includes('NativeModule http'), 'the http module itself is loaded');
  assert.deepEqual(
    modules.filter((name) => /undici|webstreams/.test(name)),
    [],
    'import http from src/runtime/http-module.ts, not from node:http',
  );
});
