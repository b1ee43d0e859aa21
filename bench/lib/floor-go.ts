/**
 * The second floor: client-go over HTTP/2 (bench/floor-go), the client Kubernetes' own controllers
 * write with, as a long-lived process like nsync. Built from the Go module proxy into
 * ~/.cache/nsync/floor-go keyed by its pinned sources (bench/floor-go/build.sh); a machine without
 * Go runs the benchmark with the Node floor alone and says so.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** Where the build script is. */
const BUILD = join(import.meta.dirname, '..', 'floor-go', 'build.sh');

/** The floor binary's path, or why there is none. */
export function buildGoFloor(): { readonly path: string } | { readonly unavailable: string } {
  const built = spawnSync('bash', [BUILD], { encoding: 'utf8', timeout: 600_000 });
  if (built.status !== 0) {
    const reason = (built.stderr || built.error?.message || 'build failed').trim().split('\n').slice(-3);
    return { unavailable: `client-go floor not built: ${reason.join(' ')}` };
  }
  return { path: built.stdout.trim().split('\n').at(-1) ?? '' };
}

interface Answer {
  readonly ok: boolean;
  readonly error?: string;
  readonly ackedMs?: number;
  readonly versions?: readonly string[];
}

/** A running client-go floor: one clientset, fed its writes over stdin. */
export class GoFloor {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly answers: ((answer: Answer) => void)[] = [];
  private stderr = '';

  private constructor(child: ChildProcessWithoutNullStreams) {
    this.child = child;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-2000);
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      const waiter = this.answers.shift();
      waiter?.(JSON.parse(line) as Answer);
    });
    child.once('exit', (code) => {
      for (const waiter of this.answers.splice(0))
        waiter({ ok: false, error: `floor-go exited ${String(code)}: ${this.stderr}` });
    });
  }

  /** Starts the floor with the admin kubeconfig; `protobuf` sends protobuf instead of JSON. */
  static start(binary: string, kubeconfig: string, protobuf = false): GoFloor {
    return new GoFloor(
      spawn(binary, [`--kubeconfig=${kubeconfig}`, ...(protobuf ? ['--protobuf'] : [])], {
        stdio: ['pipe', 'pipe', 'pipe'],
      }),
    );
  }

  private async ask(command: object): Promise<Answer> {
    const answered = new Promise<Answer>((resolve) => this.answers.push(resolve));
    this.child.stdin.write(`${JSON.stringify(command)}\n`);
    const answer = await answered;
    if (!answer.ok) throw new Error(`floor-go: ${answer.error ?? 'failed'}`);
    return answer;
  }

  /** Hands over the objects (Secret JSON) of the next phase; decoded before anything is timed. */
  async prepare(verb: 'create' | 'update', bodies: readonly string[]): Promise<void> {
    // Raw JSON objects inside the command: the bodies are JSON texts already.
    const line = `{"op":"prepare","verb":"${verb}","bodies":[${bodies.join(',')}]}\n`;
    const answered = new Promise<Answer>((resolve) => this.answers.push(resolve));
    this.child.stdin.write(line);
    const answer = await answered;
    if (!answer.ok) throw new Error(`floor-go: ${answer.error ?? 'failed'}`);
  }

  /** Sends the prepared writes; resolves when the last is acknowledged, with resourceVersions. */
  async run(concurrency: number): Promise<readonly string[]> {
    const answer = await this.ask({ op: 'run', concurrency });
    return answer.versions ?? [];
  }

  close(): void {
    this.child.stdin.end(`{"op":"exit"}\n`);
    setTimeout(() => this.child.kill(), 2000).unref();
  }
}
