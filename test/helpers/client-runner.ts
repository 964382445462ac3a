/**
 * Drives h2ws's client inside Node, Deno or Bun: test/fixtures/client-runner.ts runs under the
 * runtime, and this side sends it commands (shared by the client and interop-client suites).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { type RuntimeName, scriptCommand } from './gateway-process.ts';

/** A WebSocket message as the runner passes it: text, or binary as base64. */
export type Message = { text: string } | { binary: string };

export interface RunnerError {
  name: string;
  code: unknown;
  status: unknown;
  message: string;
}

export type Answer<T> = { ok: true; result: T } | { ok: false; error: RunnerError };

/**
 * test/fixtures/client-runner.ts spawned under one runtime and driven over stdin/stdout, one
 * JSON line per command and per answer (the commands are listed in that file).
 */
export class Runner {
  runtime = '';
  readonly #proc: ChildProcess;
  readonly #waiters = new Map<number, (answer: Answer<unknown>) => void>();
  #nextId = 1;
  #stderr = '';

  private constructor(proc: ChildProcess) {
    this.#proc = proc;
  }

  static async start(runtime: RuntimeName): Promise<Runner> {
    const { cmd, args } = scriptCommand(runtime, 'test/fixtures/client-runner.ts');
    const proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    const runner = new Runner(proc);
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => (runner.#stderr += d));
    let buffer = '';
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the ${runtime} client runner did not start: ${runner.#stderr}`)), 30_000);
      proc.once('exit', (code) => reject(new Error(`the ${runtime} client runner exited with ${code}: ${runner.#stderr}`)));
      proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
        buffer += chunk;
        for (let nl = buffer.indexOf('\n'); nl !== -1; nl = buffer.indexOf('\n')) {
          const line = JSON.parse(buffer.slice(0, nl)) as { ready?: boolean; runtime?: string; id?: number } & Answer<unknown>;
          buffer = buffer.slice(nl + 1);
          if (line.ready) {
            runner.runtime = line.runtime!;
            clearTimeout(timer);
            resolve();
          } else {
            runner.#waiters.get(line.id!)?.(line);
            runner.#waiters.delete(line.id!);
          }
        }
      });
    });
    await ready;
    return runner;
  }

  /** Runs a command; the answer either way. */
  attempt<T>(op: string, args: object = {}, ms = 20_000): Promise<Answer<T>> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.runtime} runner: "${op}" got no answer in ${ms} ms; stderr: ${this.#stderr}`)), ms);
      this.#waiters.set(id, (answer) => {
        clearTimeout(timer);
        resolve(answer as Answer<T>);
      });
      this.#proc.stdin!.write(`${JSON.stringify({ id, op, ...args })}\n`);
    });
  }

  /** Runs a command; its result, or a thrown Error carrying the runner's error. */
  async call<T>(op: string, args: object = {}, ms?: number): Promise<T> {
    const answer = await this.attempt<T>(op, args, ms);
    if (!answer.ok) throw Object.assign(new Error(`${op}: ${answer.error.message}`), { runnerError: answer.error });
    return answer.result;
  }

  /** A command that must fail: the error it failed with. */
  async failure(op: string, args: object = {}, ms?: number): Promise<RunnerError> {
    const answer = await this.attempt(op, args, ms);
    if (answer.ok) throw new Error(`${op} succeeded, expected it to fail: ${JSON.stringify(answer.result)}`);
    return answer.error;
  }

  async stop(): Promise<void> {
    if (this.#proc.exitCode !== null) return;
    const exited = new Promise((resolve) => this.#proc.once('exit', resolve));
    this.#proc.stdin!.end();
    const timer = setTimeout(() => this.#proc.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

export interface Opened {
  handle: number;
  transport: 'h2' | 'h1';
  protocol: string;
  extensions: string;
}

export const text = (t: string): Message => ({ text: t });
export const binary = (b: Buffer): Message => ({ binary: b.toString('base64') });
