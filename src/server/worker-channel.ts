import { toSupervisor } from '../runtime/workers.ts';
import type { StatusSnapshot } from './admin.ts';
import type { ReloadResult } from './binding.ts';
import type { ConfigSnapshot } from '../config/snapshot.ts';
import { type Collectable, type FromWorker, isMessage, type ToWorker, type WorkerInit } from './worker-protocol.ts';

/** How long a worker waits for the whole gateway's numbers before serving its own. */
const ASK_TIMEOUT_MS = 3_000;

export interface WorkerRequests {
  reload(snapshot: ConfigSnapshot): Promise<ReloadResult>;
  collect(what: Collectable): Promise<{ metrics?: string; status?: StatusSnapshot }>;
  /** The supervisor asked for a drain, or went away. */
  drain(): void;
}

/**
 * A worker's side of the supervisor's IPC channel: the `init` it starts from, requests it
 * answers (reload, collect, drain), and questions it asks (the whole gateway's metrics).
 */
export class WorkerChannel {
  readonly init: Promise<WorkerInit>;
  /** Ends the wait for `init` when there will be none. */
  readonly #noInit: (reason: Error) => void;
  #requests: WorkerRequests | undefined;
  #drainRequested = false;
  #seq = 0;
  readonly #asked = new Map<number, (answer: { metrics?: string; status?: StatusSnapshot } | undefined) => void>();

  constructor() {
    let resolveInit!: (init: WorkerInit) => void;
    let rejectInit!: (err: Error) => void;
    this.init = new Promise((resolve, reject) => {
      resolveInit = resolve;
      rejectInit = reject;
    });
    this.#noInit = rejectInit;
    toSupervisor.onMessage((message) => {
      if (!isMessage<ToWorker>(message)) return;
      switch (message.t) {
        case 'init':
          resolveInit(message);
          return;
        case 'drain':
          this.#drain();
          return;
        case 'reload':
          void this.#requests?.reload(message.snapshot).then((result) =>
            this.#send(result.ok ? { t: 'reloaded', ok: true, restartNeeded: result.restartNeeded } : { t: 'reloaded', ok: false, message: result.error.message }));
          return;
        case 'collect':
          void this.#requests?.collect(message.what).then((numbers) => this.#send({ t: 'snapshot', id: message.id, ...numbers }));
          return;
        case 'collected': {
          const resolve = this.#asked.get(message.id);
          this.#asked.delete(message.id);
          resolve?.({ ...(message.metrics !== undefined && { metrics: message.metrics }), ...(message.status !== undefined && { status: message.status }) });
          return;
        }
      }
    });
    // The supervisor is gone (killed, or crashed): nobody will restart or drain this one, so it drains itself.
    toSupervisor.onDisconnect(() => {
      this.#noInit(new Error('the supervisor went away before it sent the config'));
      this.#drain();
    });
    this.#send({ t: 'hello' });
  }

  /** Starts answering the supervisor's requests (once the gateway runs). */
  serve(requests: WorkerRequests): void {
    this.#requests = requests;
    if (this.#drainRequested) requests.drain();
  }

  ready(ready: Omit<Extract<FromWorker, { t: 'ready' }>, 't'>): void {
    this.#send({ t: 'ready', ...ready });
  }

  /** The whole gateway's metrics or status; undefined when the supervisor does not answer in time. */
  ask(what: Collectable): Promise<{ metrics?: string; status?: StatusSnapshot } | undefined> {
    const id = ++this.#seq;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#asked.delete(id);
        resolve(undefined);
      }, ASK_TIMEOUT_MS);
      this.#asked.set(id, (answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      this.#send({ t: 'ask', id, what });
    });
  }

  #drain(): void {
    if (this.#drainRequested) return;
    this.#drainRequested = true;
    // Asked to stop before it started (a sibling failed to start): there is nothing to drain.
    this.#noInit(new Error('stopped before it started'));
    this.#requests?.drain();
  }

  /** True once a drain was asked for, even before the gateway ran. */
  get drainRequested(): boolean {
    return this.#drainRequested;
  }

  #send(message: FromWorker): void {
    toSupervisor.send(message);
  }
}
