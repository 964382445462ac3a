import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export type RuntimeName = 'node' | 'deno' | 'bun';
export const RUNTIMES: readonly RuntimeName[] = ['node', 'deno', 'bun'];

const ROOT = path.resolve(import.meta.dirname, '../..');
export const BIN = path.join(ROOT, 'bin/h2ws.js');

/** The command that runs `bin/h2ws.js` under a runtime. Fails loudly when the runtime is missing. */
export function runtimeCommand(runtime: RuntimeName): { cmd: string; args: string[] } {
  if (!existsSync(path.join(ROOT, 'dist/src/cli/main.js'))) {
    throw new Error('dist/ is missing: run `npm run build` (npm test does this first)');
  }
  if (runtime === 'node') return { cmd: process.execPath, args: [BIN] };
  const bin = path.join(ROOT, 'node_modules/.bin', runtime);
  if (!existsSync(bin)) throw new Error(`${runtime} is not installed at ${bin}: run \`npm ci\` (it is a devDependency)`);
  return runtime === 'deno' ? { cmd: bin, args: ['run', '-A', BIN] } : { cmd: bin, args: [BIN] };
}

export interface GatewayProcess {
  readonly runtime: RuntimeName;
  readonly url: string;
  readonly port: number;
  readonly proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Sends a signal and resolves with the exit code once the process has exited. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  readonly exited: Promise<number | null>;
}

/** Writes a JSON config to a temp file and returns its path. */
export function writeConfig(config: unknown): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'h2ws-test-'));
  const file = path.join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(config));
  return file;
}

/** Starts the gateway under a runtime and waits for its ready line. */
export async function startGateway(runtime: RuntimeName, args: string[], config?: unknown): Promise<GatewayProcess> {
  const { cmd, args: base } = runtimeCommand(runtime);
  const full = [...base, ...(config === undefined ? [] : ['--config', writeConfig(config)]), ...args];
  return spawnUntilReady(runtime, cmd, full, {}, 'gateway');
}

/**
 * The command that runs a TypeScript script of this repo (an example, a test fixture) under a
 * runtime: Deno and Bun run the .ts source; Node runs what `tsc -p tsconfig.examples.json`
 * built into dist/ (npm test builds it first).
 */
export function scriptCommand(runtime: RuntimeName, script: string): { cmd: string; args: string[] } {
  if (runtime === 'node') {
    const built = path.join(ROOT, 'dist', script.replace(/\.ts$/, '.js'));
    if (!existsSync(built)) throw new Error(`${built} is missing: run \`npm run build:examples\` (npm test does this first)`);
    return { cmd: process.execPath, args: [built] };
  }
  const bin = path.join(ROOT, 'node_modules/.bin', runtime);
  if (!existsSync(bin)) throw new Error(`${runtime} is not installed at ${bin}: run \`npm ci\` (it is a devDependency)`);
  const source = path.join(ROOT, script);
  return runtime === 'deno' ? { cmd: bin, args: ['run', '-A', source] } : { cmd: bin, args: [source] };
}

/**
 * Starts a script of this repo (e.g. "examples/echo-server.ts") under a runtime with extra
 * environment variables, and waits for a ready line with a URL ("... listening on URL").
 */
export function startScript(runtime: RuntimeName, script: string, env: Record<string, string> = {}): Promise<GatewayProcess> {
  const { cmd, args } = scriptCommand(runtime, script);
  return spawnUntilReady(runtime, cmd, args, env, script);
}

async function spawnUntilReady(runtime: RuntimeName, cmd: string, args: string[], env: Record<string, string>, label: string): Promise<GatewayProcess> {
  const proc = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', ...env } });
  let out = '';
  let err = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${runtime} ${label} did not print its ready line in 30 s.\nstdout: ${out}\nstderr: ${err}`)), 30_000);
    const check = () => {
      const m = /listening on (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    proc.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${runtime} ${label} exited with ${code} before it was ready.\nstdout: ${out}\nstderr: ${err}`));
    });
  });
  const port = Number(new URL(url).port);
  return {
    runtime,
    url,
    port,
    proc,
    stdout: () => out,
    stderr: () => err,
    exited,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Runs the CLI to completion (for --help, bad flags). */
export function runCli(runtime: RuntimeName, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { cmd, args: base } = runtimeCommand(runtime);
  const proc = spawn(cmd, [...base, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  let stdout = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
  return new Promise((resolve) =>
    proc.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}
