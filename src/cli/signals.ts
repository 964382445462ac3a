import type { Logger } from '../log/logger.ts';

export interface SignalHandlers {
  readonly logger: Logger;
  /** The first SIGTERM or SIGINT: drain, then resolve the exit code. */
  stop(signal: string): void;
  /** A second one: exit now without draining. */
  exitNow(signal: string): void;
  /** SIGHUP: read the config again (nghttpx and HAProxy do the same). */
  reload(): void;
}

/**
 * SIGTERM and SIGINT drain (a second one exits at once), SIGHUP reloads. Without a SIGHUP
 * handler the runtimes would end the process on it, dropping every tunnel.
 */
export function handleSignals(handlers: SignalHandlers): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      handlers.logger.warn('exiting', { signal, message: `${signal} again; exiting now without draining` });
      handlers.exitNow(signal);
      return;
    }
    stopping = true;
    handlers.logger.info('signal', { signal });
    handlers.stop(signal);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    if (stopping) return;
    handlers.logger.info('signal', { signal: 'SIGHUP' });
    handlers.reload();
  });
}
