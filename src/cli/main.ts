import { readFileSync } from 'node:fs';
import { parseArgs } from '../config/argv.ts';
import { parseConfigFile, resolveOptions } from '../config/resolve.ts';
import type { ConfigFile } from '../config/schema.ts';
import { demoApp } from '../demo/app.ts';
import { startDemoBackend } from '../demo/backend.ts';
import { ErrorCode, H2wsError } from '../errors.ts';
import { parseBackendUrl } from '../routing/route-table.ts';
import { runtimeVersion } from '../runtime/detect.ts';
import { Gateway } from '../server/gateway.ts';
import { VERSION } from '../version.ts';
import { runClient } from './client.ts';
import { HELP } from './help.ts';

const EXIT_USAGE = 2;

function configError(field: string, message: string): H2wsError {
  return new H2wsError(ErrorCode.CONFIG, message, { field });
}

function readText(path: string, field: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw configError(field, `${field}: cannot read "${path}" (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

function loadConfigFile(path: string | undefined): ConfigFile {
  if (path === undefined) return {};
  const text = readText(path, '--config');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw configError('--config', `--config: "${path}" is not valid JSON (${(err as Error).message})`);
  }
  return parseConfigFile(json);
}

/**
 * The h2ws command. Resolves with the exit code: 0 after a graceful shutdown or --help,
 * 2 for a bad flag or config, 1 when the gateway cannot start.
 */
export async function main(argv: readonly string[]): Promise<number> {
  if (argv[0] === 'client') return runClient(argv.slice(1));
  let resolved: ReturnType<typeof resolveOptions>;
  try {
    const args = parseArgs(argv);
    if (args.help) {
      process.stdout.write(HELP);
      return 0;
    }
    if (args.version) {
      process.stdout.write(`h2ws ${VERSION} (${runtimeVersion()})\n`);
      return 0;
    }
    resolved = resolveOptions(loadConfigFile(args.config), args, readText);
  } catch (err) {
    if (err instanceof H2wsError && err.code === ErrorCode.CONFIG) {
      process.stderr.write(`h2ws: ${err.message}\n`);
      return EXIT_USAGE;
    }
    throw err;
  }

  let { options } = resolved;
  let demo: Awaited<ReturnType<typeof startDemoBackend>> | undefined;
  if (resolved.embedded) {
    demo = await startDemoBackend();
    options = Object.freeze({ ...options, routes: Object.freeze([{ prefix: '/ws', backend: parseBackendUrl(demo.url) }]) });
  }
  let gateway: Gateway;
  try {
    gateway = await Gateway.start(options, demo === undefined ? {} : { fetch: demoApp().fetch });
  } catch (err) {
    await demo?.close();
    if (err instanceof H2wsError && err.code === ErrorCode.CONFIG) {
      process.stderr.write(`h2ws: ${err.message}\n`);
      return EXIT_USAGE;
    }
    const e = err as NodeJS.ErrnoException;
    const hint = e.code === 'EADDRINUSE' ? 'the address is in use; pick another with --listen' : e.code === 'EACCES' ? 'permission denied; use a port above 1023' : e.message;
    process.stderr.write(`h2ws: cannot listen on ${options.host}:${options.port}: ${hint}\n`);
    return 1;
  }

  // Handlers go in before the ready line, so a supervisor that signals as soon as it reads
  // the line always gets a graceful drain.
  const stopped = new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        gateway.logger.warn('exiting', { signal, message: `${signal} again; exiting now without draining` });
        resolve(1);
        return;
      }
      stopping = true;
      gateway.logger.info('signal', { signal });
      void gateway.close().then(async () => {
        await demo?.close();
        resolve(0);
      });
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
  const transports = options.tls === undefined ? 'h2c prior knowledge + HTTP/1.1' : 'TLS: h2, http/1.1';
  process.stdout.write(`h2ws listening on ${gateway.url} (${transports})\n`);
  if (demo !== undefined) {
    const local = gateway.url.replace('127.0.0.1', 'localhost');
    process.stdout.write(`h2ws: embedded demo: open ${local} in a browser${options.tls !== undefined && 'selfSigned' in options.tls ? ' (self-signed certificate: accept the warning)' : ''}\n`);
  } else {
    for (const route of options.routes) process.stdout.write(`h2ws: route ${route.prefix} → ${route.backend.url}\n`);
    for (const route of options.httpRoutes ?? []) {
      const to = [route.static === undefined ? [] : [`files in ${route.static}`], route.upstream === undefined ? [] : [route.upstream.url]].flat().join(', then ');
      process.stdout.write(`h2ws: http ${route.prefix} → ${to}\n`);
    }
  }

  return stopped;
}
