/**
 * Counts, from the API server's own watch, the writes one field manager makes to one object: the
 * tenant tests assert on what reached the API server, never on what nsync says it did. nsync
 * resets managedFields to its own entry with every write (docs/adr/0004), so an event whose
 * managedFields name nsync alone is a write by nsync.
 */
import { readFileSync } from 'node:fs';
import type { ClientRequest } from 'node:http';
import { request } from 'node:https';
import type { Cluster } from '../../tools/controlplane/harness.ts';

/** A running count of writes to one object. */
export interface WriteCounter {
  /** Writes seen so far whose managedFields name only `manager`. */
  readonly count: () => number;
  /** Every resourceVersion seen, for messages. */
  readonly versions: () => readonly string[];
  stop(): void;
}

interface WatchEvent {
  readonly type: string;
  readonly object: {
    readonly metadata: {
      readonly resourceVersion: string;
      readonly managedFields?: readonly { readonly manager?: string }[];
    };
  };
}

/** Watches `plural` `namespace/name` from `resourceVersion` on and counts writes by `manager` alone. */
export function countWritesBy(
  cluster: Cluster,
  target: { plural: 'secrets' | 'configmaps'; namespace: string; name: string; resourceVersion: string },
  manager: string,
): WriteCounter {
  let count = 0;
  const versions: string[] = [];
  let stopped = false;
  let current: ClientRequest | undefined;
  let from = target.resourceVersion;
  const open = (): void => {
    if (stopped) return;
    const url = new URL(
      `/api/v1/namespaces/${target.namespace}/${target.plural}?watch=1&timeoutSeconds=300&allowWatchBookmarks=false` +
        `&fieldSelector=${encodeURIComponent(`metadata.name=${target.name}`)}&resourceVersion=${from}`,
      cluster.server,
    );
    let buffered = '';
    current = request(
      url,
      { ca: readFileSync(cluster.caFile), headers: { Authorization: `Bearer ${cluster.admin.token}` } },
      (res) => {
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffered += chunk;
          let newline = buffered.indexOf('\n');
          while (newline >= 0) {
            const line = buffered.slice(0, newline);
            buffered = buffered.slice(newline + 1);
            newline = buffered.indexOf('\n');
            if (line.trim() === '') continue;
            const event = JSON.parse(line) as WatchEvent;
            if (event.type !== 'ADDED' && event.type !== 'MODIFIED') continue;
            const { metadata } = event.object;
            from = metadata.resourceVersion;
            versions.push(metadata.resourceVersion);
            const managers = (metadata.managedFields ?? []).map((entry) => entry.manager);
            if (managers.length > 0 && managers.every((name) => name === manager)) count += 1;
          }
        });
        // The server ends watches now and then: reopen from the last version seen.
        res.on('end', open);
      },
    );
    current.on('error', () => {
      if (!stopped) setTimeout(open, 100);
    });
    current.end();
  };
  open();
  return {
    count: () => count,
    versions: () => versions,
    stop() {
      stopped = true;
      current?.destroy();
    },
  };
}
