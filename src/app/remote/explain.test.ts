import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError } from '../../kube/errors.ts';
import { copiedAcrossClusters, failedOutcome } from './explain.ts';

const server = new URL('https://10.0.0.1:6443');

void describe('failedOutcome', () => {
  void it('calls refused credentials forbidden, with the server’s own message', () => {
    for (const status of [401, 403]) {
      const error = new ApiError(status, 'Forbidden', `GET /api/v1/namespaces: ${String(status)} Forbidden`);
      assert.deepEqual(failedOutcome(server, error), {
        status: 'forbidden',
        reason: `GET /api/v1/namespaces: ${String(status)} Forbidden`,
      });
    }
  });

  void it('calls every other failure unreachable, naming the server', () => {
    assert.deepEqual(failedOutcome(server, new Error('connect ECONNREFUSED 10.0.0.1:6443')), {
      status: 'unreachable',
      reason: 'cannot reach https://10.0.0.1:6443: connect ECONNREFUSED 10.0.0.1:6443',
    });
    assert.equal(
      failedOutcome(server, new ApiError(503, 'ServiceUnavailable', 'GET /api: 503')).status,
      'unreachable',
    );
  });
});

void describe('copiedAcrossClusters', () => {
  void it('is true for Secrets and ConfigMaps only', () => {
    assert.deepEqual(
      (['Secret', 'ConfigMap', 'Role', 'RoleBinding', 'ServiceAccount'] as const).filter(
        copiedAcrossClusters,
      ),
      ['Secret', 'ConfigMap'],
    );
  });
});
