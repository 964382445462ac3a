/**
 * The command line and config file (the design's "Contract: the command line"): every flag,
 * the merge (flags win), the defaults, and errors that name the field.
 */
import { describe, expect, test } from 'vitest';
import { type CliArgs, parseArgs } from '../../src/config/argv.ts';
import { parseConfigFile, resolveOptions } from '../../src/config/resolve.ts';
import { parseListenAddress } from '../../src/config/listen-address.ts';
import { DEFAULT_LIMITS, DEFAULT_TIMEOUTS } from '../../src/config/options.ts';
import type { ConfigFile } from '../../src/config/schema.ts';
import { ErrorCode, H2wsError } from '../../src/errors.ts';

/** The H2wsError a call throws, as plain values. */
function configError(fn: () => unknown): { code: string; field: string | undefined; message: string } {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof H2wsError)) throw err;
    return { code: err.code, field: err.field, message: err.message };
  }
  throw new Error('expected an H2wsError');
}

/** readText that returns "<field>:<path>" so tests see which file was read for which field. */
const fakeRead = (path: string, field: string): string => `${field}:${path}`;

function resolve(file: ConfigFile, argv: string[]) {
  return resolveOptions(file, parseArgs(argv), fakeRead);
}

const NO_ARGS: CliArgs = { help: false, version: false, selfSigned: false, noMetrics: false, routes: [] };

describe('parseArgs', () => {
  test('no arguments', () => {
    expect(parseArgs([])).toEqual(NO_ARGS);
  });

  test('every flag, "--flag value" form', () => {
    expect(parseArgs([
      '--listen', '0.0.0.0:443', '--tls-cert', 'c.pem', '--tls-key', 'k.pem', '--backend', 'ws://b:1',
      '--route', '/chat=ws://c:2', '--route', '/api=ws://a:3/v1', '--config', 'h2ws.json', '--self-signed', '--help', '--version',
      '--admin-listen', '127.0.0.1:9100', '--no-metrics', '--log-level', 'warn', '--log-format', 'pretty',
    ])).toEqual({
      help: true,
      version: true,
      selfSigned: true,
      noMetrics: true,
      adminListen: '127.0.0.1:9100',
      logLevel: 'warn',
      logFormat: 'pretty',
      listen: '0.0.0.0:443',
      tlsCert: 'c.pem',
      tlsKey: 'k.pem',
      backend: 'ws://b:1',
      routes: [['/chat', 'ws://c:2'], ['/api', 'ws://a:3/v1']],
      config: 'h2ws.json',
    });
  });

  test('every value flag, "--flag=value" form', () => {
    expect(parseArgs([
      '--listen=[::1]:8443', '--tls-cert=c.pem', '--tls-key=k.pem', '--backend=ws://b:1', '--route=/chat=ws://c:2/?', '--config=x.json',
    ])).toEqual({
      ...NO_ARGS,
      listen: '[::1]:8443',
      tlsCert: 'c.pem',
      tlsKey: 'k.pem',
      backend: 'ws://b:1',
      routes: [['/chat', 'ws://c:2/?']],
      config: 'x.json',
    });
  });

  test('short -h and -v', () => {
    expect(parseArgs(['-h'])).toEqual({ ...NO_ARGS, help: true });
    expect(parseArgs(['-v'])).toEqual({ ...NO_ARGS, version: true });
  });

  test('--route splits at the first "=", so the URL may contain "="', () => {
    expect(parseArgs(['--route', '/a=ws://h:1/x=y']).routes).toEqual([['/a', 'ws://h:1/x=y']]);
  });

  test('a later value flag replaces an earlier one', () => {
    expect(parseArgs(['--listen', ':1', '--listen', ':2']).listen).toBe(':2');
  });

  test('an unknown flag -> H2WS_ERR_CONFIG naming it', () => {
    expect(configError(() => parseArgs(['--bogus']))).toEqual({
      code: 'H2WS_ERR_CONFIG',
      field: '--bogus',
      message: 'unknown flag --bogus; run h2ws --help for the list',
    });
  });

  test('an unknown flag in --flag=value form is named without its value', () => {
    expect(configError(() => parseArgs(['--bogus=1'])).field).toBe('--bogus');
  });

  test('a stray positional argument -> H2WS_ERR_CONFIG', () => {
    const e = configError(() => parseArgs(['serve']));
    expect(e.code).toBe('H2WS_ERR_CONFIG');
    expect(e.field).toBe('serve');
    expect(e.message).toContain('"serve"');
  });

  test.each(['--listen', '--tls-cert', '--tls-key', '--backend', '--route', '--config'])('%s without a value', (flag) => {
    expect(configError(() => parseArgs([flag]))).toEqual({ code: 'H2WS_ERR_CONFIG', field: flag, message: `${flag} needs a value` });
  });

  test('a value flag followed by another flag is missing its value', () => {
    expect(configError(() => parseArgs(['--backend', '--self-signed'])).field).toBe('--backend');
  });

  test.each(['--self-signed', '--help', '--version'])('%s=value is refused', (flag) => {
    expect(configError(() => parseArgs([`${flag}=yes`]))).toEqual({ code: 'H2WS_ERR_CONFIG', field: flag, message: `${flag} takes no value` });
  });

  test('a single-dash long flag is named as written, not by its first letter', () => {
    expect(configError(() => parseArgs(['-listen', ':1']))).toEqual({ code: 'H2WS_ERR_CONFIG', field: '-listen', message: 'unknown flag -listen; run h2ws --help for the list' });
  });

  test('"--" is refused: h2ws takes no positional arguments', () => {
    expect(configError(() => parseArgs(['--', '--listen'])).field).toBe('--');
  });

  test('short switches may be grouped', () => {
    expect(parseArgs(['-hv'])).toEqual({ ...NO_ARGS, help: true, version: true });
  });

  test.each(['chat', '=ws://h:1', '/chat='])('--route %j is not PREFIX=URL', (value) => {
    const e = configError(() => parseArgs(['--route', value]));
    expect(e.field).toBe('--route');
    expect(e.message).toContain('PATH_PREFIX=WS_URL');
  });
});

describe('parseListenAddress', () => {
  test.each([
    ['127.0.0.1:8443', { host: '127.0.0.1', port: 8443 }],
    ['[::1]:8443', { host: '::1', port: 8443 }],
    [':9000', { host: 'default', port: 9000 }],
    ['localhost:0', { host: 'localhost', port: 0 }],
  ])('%s', (text, expected) => {
    expect(parseListenAddress(text, 'default')).toEqual(expected);
  });

  test.each(['8080', 'localhost', '::1:8080', 'h:123456', 'h:port'])('%s -> Error', (text) => {
    expect(parseListenAddress(text, 'default')).toBeInstanceOf(Error);
  });

  test('port 65536 is out of range', () => {
    const r = parseListenAddress('h:65536', 'default');
    expect(r instanceof Error && r.message).toBe('port 65536 is out of range 0-65535');
  });
});

describe('resolveOptions: defaults', () => {
  test('nothing given: 127.0.0.1:8080 cleartext, embedded, default limits and timeouts', () => {
    expect(resolve({}, [])).toEqual({
      options: {
        host: '127.0.0.1', port: 8080, tls: undefined, routes: [], limits: DEFAULT_LIMITS, timeouts: DEFAULT_TIMEOUTS,
        admin: { listen: undefined, metrics: true, status: true }, log: { level: 'info', format: undefined },
      },
      embedded: true,
    });
  });

  test('admin endpoints: --admin-listen and admin.listen move them; --no-metrics and admin.metrics turn /metrics off', () => {
    expect(resolve({}, ['--admin-listen', '127.0.0.1:9100']).options.admin).toEqual({ listen: { host: '127.0.0.1', port: 9100 }, metrics: true, status: true });
    expect(resolve({ admin: { listen: ':9101', status: false } }, []).options.admin).toEqual({ listen: { host: '127.0.0.1', port: 9101 }, metrics: true, status: false });
    expect(resolve({ admin: { listen: ':9101' } }, ['--admin-listen', ':9102']).options.admin.listen).toEqual({ host: '127.0.0.1', port: 9102 });
    expect(resolve({}, ['--no-metrics']).options.admin.metrics).toBe(false);
    expect(resolve({ admin: { metrics: false } }, []).options.admin.metrics).toBe(false);
  });

  test('a bad admin address names its flag or field; the main listener\'s own address is refused', () => {
    expect(() => resolve({}, ['--admin-listen', 'nope'])).toThrow(expect.objectContaining({ code: ErrorCode.CONFIG, field: '--admin-listen' }));
    expect(() => resolve({ admin: { listen: 'x:99999' } }, [])).toThrow(expect.objectContaining({ field: 'admin.listen' }));
    expect(() => resolve({}, ['--listen', '127.0.0.1:9000', '--admin-listen', '127.0.0.1:9000'])).toThrow(/main listener/);
    expect(() => parseConfigFile({ admin: { port: 1 } })).toThrow(/admin\.port/);
  });

  test('log level and format: flags win over the file; bad values name the flag or field', () => {
    expect(resolve({ log: { level: 'debug', format: 'json' } }, []).options.log).toEqual({ level: 'debug', format: 'json' });
    expect(resolve({ log: { level: 'debug' } }, ['--log-level', 'silent', '--log-format', 'pretty']).options.log).toEqual({ level: 'silent', format: 'pretty' });
    expect(() => resolve({}, ['--log-level', 'loud'])).toThrow(expect.objectContaining({ field: '--log-level' }));
    expect(() => resolve({}, ['--log-format', 'xml'])).toThrow(expect.objectContaining({ field: '--log-format' }));
    expect(() => parseConfigFile({ log: { level: 'loud' } })).toThrow(/log\.level/);
  });

  test('DEFAULT_LIMITS and DEFAULT_TIMEOUTS are frozen, complete, and themselves a valid config', () => {
    expect(Object.keys(DEFAULT_LIMITS).sort()).toEqual(['maxBufferedBytesPerTunnel', 'maxHeaderListSize', 'maxStreamsPerConnection', 'maxTunnels']);
    expect(Object.keys(DEFAULT_TIMEOUTS).sort()).toEqual(['backendConnectMs', 'backendUpgradeMs', 'closeGraceMs', 'drainMs', 'handshakeMs', 'idleMs', 'pingIntervalMs', 'upstreamResponseMs']);
    expect(Object.isFrozen(DEFAULT_LIMITS) && Object.isFrozen(DEFAULT_TIMEOUTS)).toBe(true);
    expect(parseConfigFile({ limits: { ...DEFAULT_LIMITS }, timeouts: { ...DEFAULT_TIMEOUTS } }))
      .toEqual({ limits: { ...DEFAULT_LIMITS }, timeouts: { ...DEFAULT_TIMEOUTS } });
  });

  test('--self-signed: TLS on 127.0.0.1:8443', () => {
    const { options } = resolve({}, ['--self-signed']);
    expect([options.host, options.port, options.tls]).toEqual(['127.0.0.1', 8443, { selfSigned: true }]);
  });

  test('--tls-cert and --tls-key: TLS on :8443, both files read for their flag', () => {
    const { options } = resolve({}, ['--tls-cert', 'c.pem', '--tls-key', 'k.pem']);
    expect(options.port).toBe(8443);
    expect(options.tls).toEqual({ cert: '--tls-cert:c.pem', key: '--tls-key:k.pem' });
  });

  test('the result is frozen, deep enough that routes, limits and timeouts cannot change', () => {
    const { options } = resolve({ backend: 'ws://b:1' }, []);
    expect(Object.isFrozen(options)).toBe(true);
    expect(Object.isFrozen(options.routes)).toBe(true);
    expect(Object.isFrozen(options.limits)).toBe(true);
    expect(Object.isFrozen(options.timeouts)).toBe(true);
  });

  test('a backend or route means not embedded', () => {
    expect(resolve({}, ['--backend', 'ws://b:1']).embedded).toBe(false);
    expect(resolve({}, ['--route', '/chat=ws://c:2']).embedded).toBe(false);
    expect(resolve({ routes: { '/chat': 'ws://c:2' } }, []).embedded).toBe(false);
  });
});

describe('resolveOptions: flags override the file', () => {
  test('--listen over listen', () => {
    const { options } = resolve({ listen: '0.0.0.0:1000' }, ['--listen', '[::1]:2000']);
    expect([options.host, options.port]).toEqual(['::1', 2000]);
  });

  test('the file listen applies when no flag is given, ":PORT" keeps the default host', () => {
    const { options } = resolve({ listen: ':1000' }, []);
    expect([options.host, options.port]).toEqual(['127.0.0.1', 1000]);
  });

  test('--backend over backend', () => {
    const { options } = resolve({ backend: 'ws://file:1' }, ['--backend', 'ws://flag:2']);
    expect(options.routes.map((r) => [r.prefix, r.backend.url])).toEqual([['/', 'ws://flag:2']]);
  });

  test('--route over routes with the same prefix; other prefixes are merged', () => {
    const { options } = resolve({ routes: { '/chat': 'ws://file:1', '/api': 'ws://file:2' } }, ['--route', '/chat=ws://flag:3', '--route', '/new=ws://flag:4']);
    const byPrefix = Object.fromEntries(options.routes.map((r) => [r.prefix, r.backend.url]));
    expect(byPrefix).toEqual({ '/chat': 'ws://flag:3', '/api': 'ws://file:2', '/new': 'ws://flag:4' });
  });

  test('--tls-cert/--tls-key over the file tls', () => {
    const { options } = resolve({ tls: { cert: 'file-c.pem', key: 'file-k.pem' } }, ['--tls-cert', 'c.pem', '--tls-key', 'k.pem']);
    expect(options.tls).toEqual({ cert: '--tls-cert:c.pem', key: '--tls-key:k.pem' });
  });

  test('--tls-cert/--tls-key over the file selfSigned', () => {
    const { options } = resolve({ selfSigned: true }, ['--tls-cert', 'c.pem', '--tls-key', 'k.pem']);
    expect(options.tls).toEqual({ cert: '--tls-cert:c.pem', key: '--tls-key:k.pem' });
  });

  // "TLS: flags replace the file's choice" (resolve.ts) and the brief's "flags override file":
  // --self-signed on the command line should win over a cert/key pair from the file.
  test('--self-signed over the file tls', () => {
    const { options } = resolve({ tls: { cert: 'file-c.pem', key: 'file-k.pem' } }, ['--self-signed']);
    expect(options.tls).toEqual({ selfSigned: true });
  });

  test('the file tls applies when no TLS flag is given', () => {
    const { options } = resolve({ tls: { cert: 'c.pem', key: 'k.pem' } }, []);
    expect(options.tls).toEqual({ cert: '--tls-cert:c.pem', key: '--tls-key:k.pem' });
    expect(options.port).toBe(8443);
  });

  test('file limits and timeouts are merged over the defaults', () => {
    const { options } = resolve({ limits: { maxTunnels: 5 }, timeouts: { idleMs: 60_000 } }, []);
    expect(options.limits).toEqual({ ...DEFAULT_LIMITS, maxTunnels: 5 });
    expect(options.timeouts).toEqual({ ...DEFAULT_TIMEOUTS, idleMs: 60_000 });
  });
});

describe('resolveOptions: errors name the field', () => {
  test('--tls-cert without --tls-key', () => {
    expect(configError(() => resolve({}, ['--tls-cert', 'c.pem']))).toEqual({
      code: 'H2WS_ERR_CONFIG',
      field: '--tls-key',
      message: '--tls-cert and --tls-key go together; give both, or --self-signed',
    });
  });

  test('--tls-key without --tls-cert', () => {
    expect(configError(() => resolve({}, ['--tls-key', 'k.pem'])).field).toBe('--tls-cert');
  });

  test('--tls-cert alone does not borrow the key from the file', () => {
    expect(configError(() => resolve({ tls: { cert: 'fc', key: 'fk' } }, ['--tls-cert', 'c.pem'])).field).toBe('--tls-key');
  });

  test('--self-signed with --tls-cert/--tls-key', () => {
    expect(configError(() => resolve({}, ['--self-signed', '--tls-cert', 'c', '--tls-key', 'k'])).field).toBe('--self-signed');
  });

  test('a bad --listen', () => {
    expect(configError(() => resolve({}, ['--listen', 'localhost']))).toEqual({
      code: 'H2WS_ERR_CONFIG',
      field: '--listen',
      message: '--listen: "localhost" is not HOST:PORT (for example 127.0.0.1:8443 or [::1]:8443)',
    });
  });

  test('a bad file listen names "listen"', () => {
    expect(configError(() => resolve({ listen: 'h:99999' }, [])).field).toBe('listen');
  });

  test('a bad --backend URL', () => {
    const e = configError(() => resolve({}, ['--backend', 'http://b:1']));
    expect(e.field).toBe('--backend');
    expect(e.message).toBe('--backend: "http://b:1" must start with ws:// or wss://');
  });

  test('a bad --route URL', () => {
    expect(configError(() => resolve({}, ['--route', '/chat=not a url'])).field).toBe('--route');
  });

  test('a bad file backend names "backend"', () => {
    expect(configError(() => resolve({ backend: 'ws://b:1/?q' }, [])).field).toBe('backend');
  });

  test('a bad file route names "routes.<prefix>"', () => {
    const e = configError(() => resolve({ routes: { '/chat': 'tcp://c:2' } }, []));
    expect(e.field).toBe('routes./chat');
    expect(e.message).toContain('routes./chat');
  });

  test('a route prefix must start with "/"', () => {
    expect(configError(() => resolve({}, ['--route', 'chat=ws://c:2']))).toEqual({
      code: 'H2WS_ERR_CONFIG',
      field: '--route',
      message: '--route: route prefix "chat" must start with "/"',
    });
    expect(configError(() => resolve({ routes: { chat: 'ws://c:2' } }, [])).field).toBe('routes.chat');
  });

  test('readText is called once per TLS file, with the flag it came from', () => {
    const seen: string[] = [];
    resolveOptions({}, parseArgs(['--tls-cert', 'c', '--tls-key', 'k']), (path, field) => {
      seen.push(`${field}=${path}`);
      return 'pem';
    });
    expect(seen).toEqual(['--tls-cert=c', '--tls-key=k']);
  });
});

describe('parseConfigFile', () => {
  test('an empty object is valid', () => {
    expect(parseConfigFile({})).toEqual({});
  });

  test('a full config is returned as given', () => {
    const full = {
      listen: '0.0.0.0:8443',
      tls: { cert: 'c.pem', key: 'k.pem' },
      backend: 'ws://b:1',
      routes: { '/chat': 'ws://c:2' },
      limits: { maxTunnels: 10, maxStreamsPerConnection: 100, maxHeaderListSize: 4096, maxBufferedBytesPerTunnel: 65_536 },
      timeouts: { handshakeMs: 1, backendConnectMs: 2, backendUpgradeMs: 3, idleMs: 0, drainMs: 0, closeGraceMs: 0, pingIntervalMs: 0 },
    };
    expect(parseConfigFile(full)).toEqual(full);
  });

  test('an unknown nested field is named: "limits.maxTunelz"', () => {
    expect(configError(() => parseConfigFile({ limits: { maxTunelz: 5 } }))).toEqual({
      code: 'H2WS_ERR_CONFIG',
      field: 'limits.maxTunelz',
      message: 'unknown field "limits.maxTunelz"',
    });
  });

  test('an unknown top-level field is named', () => {
    expect(configError(() => parseConfigFile({ backends: 'ws://b:1' })).field).toBe('backends');
  });

  test.each([
    ['listen', { listen: 8080 }],
    ['selfSigned', { selfSigned: 'yes' }],
    ['backend', { backend: ['ws://b:1'] }],
    ['routes./chat', { routes: { '/chat': 9000 } }],
    ['tls.key', { tls: { cert: 'c.pem' } }],
    ['tls.cert', { tls: { cert: '', key: 'k.pem' } }],
    ['limits.maxTunnels', { limits: { maxTunnels: 'many' } }],
    ['limits.maxTunnels', { limits: { maxTunnels: 1.5 } }],
    ['limits.maxTunnels', { limits: { maxTunnels: 0 } }],
    ['limits.maxHeaderListSize', { limits: { maxHeaderListSize: 100 } }],
    ['limits.maxBufferedBytesPerTunnel', { limits: { maxBufferedBytesPerTunnel: 1024 } }],
    ['timeouts.idleMs', { timeouts: { idleMs: -1 } }],
    ['timeouts.handshakeMs', { timeouts: { handshakeMs: 0 } }],
    ['timeouts.closeGraceMs', { timeouts: { closeGraceMs: -1 } }],
    ['timeouts.closeGraceMs', { timeouts: { closeGraceMs: 120_000 } }],
  ])('a wrong type or value names %s', (field, json) => {
    const e = configError(() => parseConfigFile(json));
    expect(e.code).toBe('H2WS_ERR_CONFIG');
    expect(e.field).toBe(field);
    expect(e.message.startsWith(`field "${field}": `)).toBe(true);
  });

  test('a JSON value that is not an object', () => {
    const e = configError(() => parseConfigFile([]));
    expect(e.code).toBe('H2WS_ERR_CONFIG');
    expect(e.message.startsWith('config: ')).toBe(true);
  });
});
