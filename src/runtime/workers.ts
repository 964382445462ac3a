/**
 * Several processes serving one listening address: how each runtime does it, decided here.
 *
 * - `reuse-port`: every worker binds the address itself with SO_REUSEPORT and the kernel
 *   spreads new connections between them; the supervisor is never in the connection path.
 *   Linux only (elsewhere the option binds but does not balance). Measured with `node:net`
 *   `listen({ reusePort: true })`: Deno 2.9 and Bun 1.4 honour it; Node honours it from
 *   22.12, while Node 20 ignores it (the second bind fails with EADDRINUSE).
 * - `cluster`: `node:cluster`; the primary accepts and hands each connection to a worker in
 *   turn. What Node before 22.12 needs.
 *
 * Workers talk to the supervisor over the IPC channel `child_process.fork` and `cluster.fork`
 * open, with `process.send` and `process.on('message')` on the worker's side (the same on all
 * three runtimes).
 */
import cluster from 'node:cluster';
import { fork } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';

export type WorkerMechanism = 'reuse-port' | 'cluster';

/** The environment variable that marks a worker process; its value is the worker's number. */
export const WORKER_ENV = 'H2WS_WORKER';

/** A worker process as the supervisor sees it. */
export interface WorkerProcess {
  readonly pid: number | undefined;
  send(message: unknown): void;
  onMessage(listener: (message: unknown) => void): void;
  /** Once, when the process has exited. */
  onExit(listener: (code: number | null, signal: string | null) => void): void;
  kill(signal: NodeJS.Signals): void;
}

/** The CPUs this process may use: what `--workers auto` starts. */
export function cpuCount(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/**
 * SO_REUSEPORT where it balances (Linux) and the runtime honours it, found by binding two
 * listeners to one loopback port; the cluster module otherwise.
 */
export async function workerMechanism(): Promise<WorkerMechanism> {
  if (process.platform !== 'linux') return 'cluster';
  return (await reusePortWorks()) ? 'reuse-port' : 'cluster';
}

async function reusePortWorks(): Promise<boolean> {
  const first = await bind(0);
  if (first === undefined) return false;
  const second = await bind((first.address() as net.AddressInfo).port);
  await Promise.all([close(first), second !== undefined ? close(second) : undefined]);
  return second !== undefined;
}

function bind(port: number): Promise<net.Server | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(undefined));
    server.listen({ port, host: '127.0.0.1', reusePort: true }, () => resolve(server));
  });
}

function close(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * Is some other socket listening on this address? With SO_REUSEPORT a second h2ws (or anything
 * else of the same user) would silently share the port instead of failing, so the supervisor
 * binds it once without the option first.
 */
export async function addressInUse(host: string, port: number): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err));
    server.listen({ port, host }, () => server.close(() => resolve(undefined)));
  });
}

/** Starts this same program again as worker `id`, with the same runtime and arguments. */
export function startWorker(mechanism: WorkerMechanism, id: number): WorkerProcess {
  const env = { ...process.env, [WORKER_ENV]: String(id) };
  if (mechanism === 'cluster') {
    const worker = cluster.fork(env);
    return {
      pid: worker.process.pid,
      send: (message) => void worker.send(message as never),
      onMessage: (listener) => void worker.on('message', listener),
      onExit: (listener) => void worker.once('exit', (code: number | null, signal: string | null) => listener(code, signal)),
      kill: (signal) => void worker.process.kill(signal),
    };
  }
  const child = fork(process.argv[1]!, process.argv.slice(2), { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: process.execArgv });
  return {
    pid: child.pid,
    send: (message) => {
      if (child.connected) child.send(message as never);
    },
    onMessage: (listener) => void child.on('message', listener),
    onExit: (listener) => void child.once('exit', (code, signal) => listener(code, signal)),
    kill: (signal) => void child.kill(signal),
  };
}

/** This process's worker number when the supervisor started it, else undefined. */
export function workerId(): number | undefined {
  const id = Number(process.env[WORKER_ENV]);
  return Number.isInteger(id) && id > 0 && typeof process.send === 'function' ? id : undefined;
}

/** The worker's end of the IPC channel. */
export const toSupervisor = {
  send(message: unknown): void {
    if (process.connected) process.send?.(message as never);
  },
  onMessage(listener: (message: unknown) => void): void {
    process.on('message', listener);
  },
  /** The supervisor went away (it exited, or was killed). */
  onDisconnect(listener: () => void): void {
    process.once('disconnect', listener);
  },
};
