/**
 * The benchmark's smoke profile, run so that it cannot rot: it must complete against the real
 * control plane, and the properties it measures that are not about time must hold — every mirror
 * correct, no write while idle, across a restart or over resyncs, one write per mirror per update
 * and no mirror read. Times are never asserted here (they belong to `npm run bench`).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

const ROOT = join(import.meta.dirname, '..');

interface SmokeResult {
  readonly fanout: {
    readonly namespaces: number;
    readonly rounds: readonly { readonly nsync: { readonly dataCheck: { readonly wrong: number } } }[];
    readonly apiCost: { readonly update: Readonly<Record<string, number>> };
  };
  readonly idle: {
    readonly dataCheck: { readonly checked: number; readonly wrong: number };
    readonly idle: { readonly writes: number; readonly statusWrites: number };
    readonly restart: { readonly window: { readonly writes: number; readonly statusWrites: number } };
    readonly resync: {
      readonly window: { readonly writes: number; readonly gets: number; readonly statusWrites: number };
    };
  };
}

test('the smoke benchmark runs, and its timeless properties hold', { timeout: 600_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'nsync-bench-smoke-'));
  try {
    await promisify(execFile)(process.execPath, [join(ROOT, 'bench', 'run.ts'), '--smoke', `--out=${out}`], {
      cwd: ROOT,
      maxBuffer: 16 * 1024 * 1024,
    });
    const file = readdirSync(out).find((name) => name.endsWith('.json'));
    assert.ok(file !== undefined, 'a JSON report was written');
    assert.ok(
      readdirSync(out).some((name) => name.endsWith('.svg')),
      'a chart was written',
    );
    const result = JSON.parse(readFileSync(join(out, file), 'utf8')) as SmokeResult;
    for (const round of result.fanout.rounds) assert.equal(round.nsync.dataCheck.wrong, 0);
    assert.equal(result.fanout.apiCost.update['PUT secrets'], 1, 'one write per mirror per update');
    const reads = (result.fanout.apiCost.update['GET secrets'] ?? 0) * result.fanout.namespaces;
    assert.ok(reads <= 1, `only the source is read, never a mirror (${String(reads)} reads per update)`);
    assert.ok(result.idle.dataCheck.checked > 0);
    assert.equal(result.idle.dataCheck.wrong, 0);
    assert.equal(result.idle.idle.writes, 0, 'no write while idle');
    assert.equal(result.idle.restart.window.writes, 0, 'no write across a restart');
    assert.equal(result.idle.resync.window.writes, 0, 'no write over forced resyncs');
    assert.equal(result.idle.idle.statusWrites, 0, 'no ClusterMirror status write while idle');
    assert.equal(result.idle.restart.window.statusWrites, 0, 'no status write across a restart');
    assert.equal(result.idle.resync.window.statusWrites, 0, 'no status write over forced resyncs');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
