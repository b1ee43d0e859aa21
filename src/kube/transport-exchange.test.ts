import assert from 'node:assert/strict';
import { connect, createServer, type ClientHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { readText } from './transport-exchange.ts';

/** Waits (polling, with a deadline) until `check` holds. */
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + 5_000;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

test('an HTTP/2 answer whose stream closed before its body was read is read whole, not taken as cut off', async (t) => {
  // The race a large fan-out hits: the server's HEADERS, DATA and END_STREAM arrive together, the
  // HTTP/2 stream is closed (stream.closed) while its data still waits in the buffer, and only
  // then does the transport start reading the body.
  const body = JSON.stringify({ metadata: { name: 'mirror', resourceVersion: '42' } });
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      response.writeHead(201, { 'content-type': 'application/json' });
      response.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const session = connect(`http://127.0.0.1:${String((server.address() as AddressInfo).port)}`);
  t.after(() => {
    session.destroy();
    server.close();
  });
  for (let i = 0; i < 3; i += 1) {
    const stream: ClientHttp2Stream = session.request({ ':method': 'POST', ':path': '/' });
    stream.end('{}');
    await new Promise((resolve) => stream.once('response', resolve));
    await until(() => stream.closed, 'the HTTP/2 stream is closed');
    assert.equal(stream.readableEnded, false, 'nothing has read the body yet');
    assert.equal(await readText(stream), body);
  }
});

test('a body cut off before its end is an error, also when it was cut before reading began', async () => {
  const cut = new PassThrough();
  const reading = readText(cut);
  cut.write('{"metadata":');
  cut.destroy();
  await assert.rejects(reading, /cut off/);

  const gone = new PassThrough();
  gone.destroy(new Error('stream reset'));
  await assert.rejects(readText(gone), /stream reset/);
});

test('a body in several chunks is joined, multi-byte characters across a chunk border included', async () => {
  const source = new PassThrough();
  const reading = readText(source);
  const text = Buffer.from('{"note":"größer"}', 'utf8');
  source.write(text.subarray(0, 12)); // splits the two bytes of 'ö'
  source.end(text.subarray(12));
  assert.equal(await reading, '{"note":"größer"}');
});
