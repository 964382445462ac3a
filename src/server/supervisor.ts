import type { ConfigSnapshot } from '../config/snapshot.ts';
import type { Logger } from '../log/logger.ts';
import { labelProcessMetrics, monotonicOnly, mergeExpositions, total } from '../metrics/aggregate.ts';
import { Registry } from '../metrics/registry.ts';
import { startWorker, type WorkerMechanism, type WorkerProcess } from '../runtime/workers.ts';
import type { StatusSnapshot } from './admin.ts';
import { mergeStatus, type WorkerSnapshot } from './status-merge.ts';
import { type Collectable, type FromWorker, isMessage, type ToWorker, type WorkerInit } from './worker-protocol.ts';

/** A worker that has not answered a collection within this long is left out of it. */
const COLLECT_TIMEOUT_MS = 2_000;
/** A reload a worker has not confirmed within this long is reported as failed for it. */
const RELOAD_TIMEOUT_MS = 15_000;
/** A worker that dies within this long of being ready counts as crashing in a loop. */
const STABLE_MS = 10_000;
/** A worker that is not listening this long after it was started has hung. */
const START_TIMEOUT_MS = 60_000;
const RESTART_DELAY_MS = 100;
const MAX_RESTART_DELAY_MS = 10_000;

export interface SupervisorOptions {
  readonly count: number;
  readonly mechanism: WorkerMechanism;
  readonly snapshot: ConfigSnapshot;
  /** The configured port and admin port (0 for any free one). */
  readonly port: number;
  readonly adminPort: number | undefined;
  readonly selfSigned?: { readonly cert: string; readonly key: string };
  readonly demoUrl?: string;
  readonly logger: Logger;
}

interface Slot {
  readonly id: number;
  proc: WorkerProcess | undefined;
  ready: boolean;
  readyAt: number;
  /** Crashes in a row, each soon after start: the restart delay doubles with each. */
  crashes: number;
  restartTimer: ReturnType<typeof setTimeout> | undefined;
  /** The last metrics it reported: its counters live on in the totals once it ends. */
  metrics: string | undefined;
  bytes: { toBackend: number; toClient: number };
  onReady: ((ready: Extract<FromWorker, { t: 'ready' }>) => void) | undefined;
  onExit: ((code: number | null) => void) | undefined;
}

/**
 * Runs `count` worker processes on one listening address (runtime/workers.ts decides how),
 * restarts any that dies without touching the others, and speaks for all of them: the whole
 * gateway's metrics and status, reload, drain.
 */
export class Supervisor {
  readonly #options: SupervisorOptions;
  readonly #slots: Slot[];
  #snapshot: ConfigSnapshot;
  #port: number;
  #adminPort: number | undefined;
  #url = '';
  #adminUrl = '';
  #stopping = false;
  #seq = 0;
  readonly #pending = new Map<string, (message: FromWorker) => void>();
  readonly #metrics = new Registry();
  readonly #restarts = this.#metrics.counter({ name: 'h2ws_worker_restarts_total', help: 'Worker processes that ended unexpectedly and were started again.' });
  readonly #workersGauge = this.#metrics.gauge({ name: 'h2ws_workers', help: 'Worker processes that answered this scrape.' });
  readonly #workerTunnels = this.#metrics.gauge({ name: 'h2ws_worker_tunnels_open', help: 'WebSocket tunnels open now, per worker process.', labelNames: ['worker'] });
  readonly #workerSessions = this.#metrics.gauge({ name: 'h2ws_worker_sessions_open', help: 'Client connections open now, per worker process.', labelNames: ['worker'] });
  /** Counters of workers that have ended. */
  #retired = '';
  readonly #retiredBytes = { toBackend: 0, toClient: 0 };

  private constructor(options: SupervisorOptions) {
    this.#options = options;
    this.#snapshot = options.snapshot;
    this.#port = options.port;
    this.#adminPort = options.adminPort;
    this.#slots = Array.from({ length: options.count }, (_, i) => ({
      id: i + 1, proc: undefined, ready: false, readyAt: 0, crashes: 0, restartTimer: undefined,
      metrics: undefined, bytes: { toBackend: 0, toClient: 0 }, onReady: undefined, onExit: undefined,
    }));
    this.#restarts.seed({});
  }

  /**
   * Starts every worker and resolves once all are ready. The first one starts alone: with
   * SO_REUSEPORT and port 0 the others bind the port it got. Rejects if a worker ends before
   * it is ready (it has said why on stderr), after stopping the others.
   */
  static async start(options: SupervisorOptions): Promise<Supervisor> {
    const supervisor = new Supervisor(options);
    const [first, ...rest] = supervisor.#slots;
    try {
      await supervisor.#startUntilReady(first!);
      await Promise.all(rest.map((slot) => supervisor.#startUntilReady(slot)));
    } catch (err) {
      await supervisor.drain();
      throw err;
    }
    return supervisor;
  }

  get url(): string {
    return this.#url;
  }

  get adminUrl(): string {
    return this.#adminUrl;
  }

  /** The worker processes' ids, by worker number (undefined while one is being replaced). */
  get pids(): ReadonlyArray<number | undefined> {
    return this.#slots.map((s) => s.proc?.pid);
  }

  #startUntilReady(slot: Slot): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        slot.onReady = undefined;
        slot.proc?.kill('SIGKILL');
        reject(new Error(`worker ${slot.id} was not ready within ${START_TIMEOUT_MS / 1000} s`));
      }, START_TIMEOUT_MS);
      slot.onReady = () => {
        clearTimeout(timer);
        resolve();
      };
      slot.onExit = (code) => {
        clearTimeout(timer);
        reject(new Error(`worker ${slot.id} exited with ${code} before it was ready`));
      };
      this.#spawn(slot);
    });
  }

  #spawn(slot: Slot): void {
    slot.restartTimer = undefined;
    const proc = startWorker(this.#options.mechanism, slot.id);
    slot.proc = proc;
    slot.ready = false;
    proc.onMessage((message) => {
      if (isMessage<FromWorker>(message)) this.#onMessage(slot, proc, message);
    });
    proc.onExit((code, signal) => this.#onExit(slot, proc, code, signal));
  }

  #init(slot: Slot): WorkerInit {
    const options = this.#options;
    return {
      t: 'init',
      worker: slot.id,
      workers: options.count,
      reusePort: options.mechanism === 'reuse-port',
      snapshot: this.#snapshot,
      port: this.#port,
      ...(this.#adminPort !== undefined && { adminPort: this.#adminPort }),
      ...(options.selfSigned !== undefined && { selfSigned: options.selfSigned }),
      ...(options.demoUrl !== undefined && { demoUrl: options.demoUrl }),
    };
  }

  #onMessage(slot: Slot, proc: WorkerProcess, message: FromWorker): void {
    if (slot.proc !== proc) return;
    switch (message.t) {
      case 'hello':
        if (!this.#stopping) proc.send(this.#init(slot));
        return;
      case 'ready': {
        slot.ready = true;
        slot.readyAt = Date.now();
        // With SO_REUSEPORT, workers started from now on bind the port the first one got.
        if (this.#options.mechanism === 'reuse-port') {
          this.#port = message.port;
          if (message.adminPort !== undefined) this.#adminPort = message.adminPort;
        }
        this.#url = message.url;
        this.#adminUrl = message.adminUrl;
        const onReady = slot.onReady;
        slot.onReady = undefined;
        slot.onExit = undefined;
        if (onReady !== undefined) onReady(message);
        else this.#options.logger.info('worker_started', { worker: slot.id, pid: proc.pid });
        return;
      }
      case 'ask':
        void this.#collect(message.what).then((result) => proc.send({ t: 'collected', id: message.id, ...result } satisfies ToWorker));
        return;
      case 'snapshot':
      case 'reloaded': {
        const key = message.t === 'snapshot' ? `${message.id}:${slot.id}` : `reload:${slot.id}`;
        const resolve = this.#pending.get(key);
        this.#pending.delete(key);
        resolve?.(message);
        return;
      }
    }
  }

  #onExit(slot: Slot, proc: WorkerProcess, code: number | null, signal: string | null): void {
    if (slot.proc !== proc) return;
    slot.proc = undefined;
    slot.ready = false;
    // Its counters stay in the totals (Prometheus would read a drop as a reset).
    if (slot.metrics !== undefined) this.#retired = mergeExpositions([this.#retired, monotonicOnly(slot.metrics)]);
    slot.metrics = undefined;
    this.#retiredBytes.toBackend += slot.bytes.toBackend;
    this.#retiredBytes.toClient += slot.bytes.toClient;
    slot.bytes = { toBackend: 0, toClient: 0 };
    for (const [key, resolve] of this.#pending) {
      if (key.endsWith(`:${slot.id}`)) {
        this.#pending.delete(key);
        resolve({ t: 'reloaded', ok: false, message: 'the worker exited' });
      }
    }
    const onExit = slot.onExit;
    slot.onExit = undefined;
    if (onExit !== undefined) {
      slot.onReady = undefined;
      onExit(code);
      return;
    }
    if (this.#stopping) return;
    // Crashing in a loop (a bad host, a full disk): back off rather than spin.
    slot.crashes = Date.now() - slot.readyAt < STABLE_MS ? slot.crashes + 1 : 0;
    const delay = Math.min(MAX_RESTART_DELAY_MS, RESTART_DELAY_MS * 2 ** slot.crashes);
    this.#restarts.inc({});
    this.#options.logger.warn('worker_exited', {
      worker: slot.id, pid: proc.pid, code, signal,
      message: `worker ${slot.id} ended unexpectedly; its tunnels were lost, the other workers' are untouched; starting a new one in ${delay} ms`,
    });
    slot.restartTimer = setTimeout(() => this.#spawn(slot), delay);
  }

  /** Sends a request to every ready worker and waits for each answer, or its timeout. */
  async #ask(message: (id: number) => ToWorker, key: (slot: Slot, id: number) => string, timeoutMs: number): Promise<Array<{ slot: Slot; reply: FromWorker | undefined }>> {
    const id = ++this.#seq;
    const live = this.#slots.filter((s) => s.ready && s.proc !== undefined);
    return Promise.all(live.map((slot) => new Promise<{ slot: Slot; reply: FromWorker | undefined }>((resolve) => {
      const k = key(slot, id);
      const timer = setTimeout(() => {
        this.#pending.delete(k);
        resolve({ slot, reply: undefined });
      }, timeoutMs);
      this.#pending.set(k, (reply) => {
        clearTimeout(timer);
        resolve({ slot, reply });
      });
      slot.proc!.send(message(id));
    })));
  }

  /** The whole gateway's metrics or status, from every worker that answers in time. */
  async #collect(what: Collectable): Promise<{ metrics?: string; status?: StatusSnapshot }> {
    const replies = await this.#ask((id) => ({ t: 'collect', id, what }), (slot, id) => `${id}:${slot.id}`, COLLECT_TIMEOUT_MS);
    const answered = replies.flatMap(({ slot, reply }) => (reply?.t === 'snapshot' ? [{ slot, reply }] : []));
    if (what === 'metrics') {
      const texts: string[] = [];
      this.#workersGauge.set({}, answered.length);
      for (const { slot, reply } of answered) {
        if (reply.metrics === undefined) continue;
        slot.metrics = labelProcessMetrics(reply.metrics, String(slot.id));
        texts.push(slot.metrics);
        this.#workerTunnels.set({ worker: String(slot.id) }, total(reply.metrics, 'h2ws_tunnels_open'));
        this.#workerSessions.set({ worker: String(slot.id) }, total(reply.metrics, 'h2ws_sessions_open'));
      }
      return { metrics: mergeExpositions([...texts, this.#retired, this.#metrics.render()]) };
    }
    const parts: WorkerSnapshot[] = [];
    for (const { slot, reply } of answered) {
      if (reply.status === undefined) continue;
      slot.bytes = { ...reply.status.bytes };
      parts.push({ worker: slot.id, pid: slot.proc?.pid, status: reply.status });
    }
    return { status: mergeStatus(parts, this.#retiredBytes) };
  }

  /**
   * Every worker applies `snapshot` (already checked by the caller) to its new handshakes; a
   * worker started later gets it too. Resolves with the workers that could not.
   */
  async reload(snapshot: ConfigSnapshot): Promise<{ reloaded: number; failed: string[]; restartNeeded: readonly string[] }> {
    this.#snapshot = snapshot;
    const replies = await this.#ask(() => ({ t: 'reload', snapshot }), (slot) => `reload:${slot.id}`, RELOAD_TIMEOUT_MS);
    const failed: string[] = [];
    let restartNeeded: readonly string[] = [];
    for (const { slot, reply } of replies) {
      if (reply?.t === 'reloaded' && reply.ok) restartNeeded = reply.restartNeeded ?? restartNeeded;
      else failed.push(`worker ${slot.id}: ${reply?.t === 'reloaded' ? reply.message : 'no answer'}`);
    }
    return { reloaded: replies.length - failed.length, failed, restartNeeded };
  }

  /**
   * Drains every worker as one process drains (GOAWAY, open tunnels finish until the drain
   * deadline) and resolves with 0 once all have exited cleanly, 1 otherwise.
   */
  drain(): Promise<number> {
    this.#stopping = true;
    const exits = this.#slots.map((slot) => {
      clearTimeout(slot.restartTimer);
      const proc = slot.proc;
      if (proc === undefined) return Promise.resolve(0);
      return new Promise<number>((resolve) => {
        proc.onExit((code) => resolve(code === 0 ? 0 : 1));
        proc.send({ t: 'drain' } satisfies ToWorker);
      });
    });
    return Promise.all(exits).then((codes) => Math.max(0, ...codes));
  }

  /** Ends every worker at once, without draining (a second SIGTERM). */
  kill(): void {
    this.#stopping = true;
    for (const slot of this.#slots) {
      clearTimeout(slot.restartTimer);
      slot.proc?.kill('SIGKILL');
    }
  }
}
