/**
 * The deploy recipe (deploy/, docs/deploy.md) checked against the code, statically: every
 * command line in it parses as h2ws flags, the probes and the health check ask for paths the
 * admin endpoints serve on the port they listen on, and every grace period outlasts the drain.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { type CliArgs, parseArgs } from '../../src/config/argv.ts';
import { DEFAULT_TIMEOUTS } from '../../src/config/options.ts';
import { parseConfigFile, resolveOptions } from '../../src/config/resolve.ts';
import { checkWorkerLimits, workerCount } from '../../src/config/workers.ts';
import { ADMIN_PATHS } from '../../src/server/admin.ts';
import { SHUTDOWN_GRACE_MS } from '../../src/server/gateway.ts';
import { parseYamlDocuments } from '../helpers/yaml.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

/** The options a command line gives (TLS files are not read: their paths stand in). */
function optionsFor(argv: readonly string[], config: object = {}) {
  return resolveOptions(parseConfigFile(config), parseArgs(argv), (p) => p).options;
}

/** What a drain can take at most: the deadline, then the close grace. */
const drainMs = (config: { timeouts?: { drainMs?: number } }) => (config.timeouts?.drainMs ?? DEFAULT_TIMEOUTS.drainMs) + SHUTDOWN_GRACE_MS;

// ---------------------------------------------------------------------------------------

type Any = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- manifests are free-form

function manifest(file: string): Any {
  const docs = parseYamlDocuments(read(`deploy/kubernetes/${file}`));
  expect(docs).toHaveLength(1);
  return docs[0] as Any;
}

describe('deploy/kubernetes', () => {
  const deployment = manifest('deployment.yaml');
  const service = manifest('service.yaml');
  const pdb = manifest('pdb.yaml');
  const configMap = manifest('configmap.yaml');
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0];
  const podLabels = deployment.spec.template.metadata.labels;
  const config = JSON.parse(configMap.data['h2ws.json']);
  const args: string[] = container.args;
  const options = optionsFor(args, config);
  const portNamed = (name: string | number) => (typeof name === 'number' ? name : container.ports.find((p: Any) => p.name === name)?.containerPort);

  test('the kinds and API versions', () => {
    expect([deployment, service, pdb, configMap].map((m) => `${m.apiVersion} ${m.kind}`)).toEqual(['apps/v1 Deployment', 'v1 Service', 'policy/v1 PodDisruptionBudget', 'v1 ConfigMap']);
  });

  test('the container args are h2ws flags, and the config they name is the ConfigMap, valid', () => {
    expect(() => parseArgs(args)).not.toThrow();
    const configPath = args[args.indexOf('--config') + 1]!;
    const mount = container.volumeMounts.find((m: Any) => configPath.startsWith(`${m.mountPath}/`));
    expect(pod.volumes.find((v: Any) => v.name === mount.name).configMap.name).toBe(configMap.metadata.name);
    expect(Object.keys(configMap.data)).toContain(path.basename(configPath));
    expect(() => parseConfigFile(config)).not.toThrow();
    // The TLS files come from the Secret's mount.
    const tlsMount = container.volumeMounts.find((m: Any) => config.tls.cert.startsWith(`${m.mountPath}/`));
    expect(pod.volumes.find((v: Any) => v.name === tlsMount.name).secret.secretName).toBeTruthy();
    expect(config.tls.key.startsWith(`${tlsMount.mountPath}/`)).toBe(true);
  });

  test('readiness on /readyz and liveness on /healthz, on the port the admin endpoints listen on', () => {
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    for (const probe of [container.readinessProbe, container.livenessProbe]) {
      expect(ADMIN_PATHS.has(probe.httpGet.path)).toBe(true);
      expect(portNamed(probe.httpGet.port)).toBe(options.admin.listen?.port);
    }
    expect(portNamed('wss')).toBe(options.port);
  });

  test('terminationGracePeriodSeconds outlasts the preStop wait plus timeouts.drainMs', () => {
    const [sleep, seconds] = container.lifecycle.preStop.exec.command as string[];
    expect(sleep).toBe('sleep');
    const preStopMs = Number(seconds) * 1000;
    expect(preStopMs).toBeGreaterThan(0);
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(preStopMs + drainMs(config));
  });

  test('workers match the CPU limit ("auto" would count the node\'s CPUs), within limits.maxTunnels', () => {
    expect(typeof config.workers).toBe('number');
    expect(config.workers).toBe(Number(container.resources.limits.cpu));
    expect(() => checkWorkerLimits(options, workerCount(config.workers, 1))).not.toThrow();
  });

  test('non-root, and the Service, PodDisruptionBudget and Deployment select the same pods', () => {
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    expect(deployment.spec.selector.matchLabels).toEqual(podLabels);
    expect(service.spec.selector).toEqual(podLabels);
    expect(pdb.spec.selector.matchLabels).toEqual(podLabels);
    expect(pdb.spec.maxUnavailable).toBeLessThan(deployment.spec.replicas);
  });

  test('the Service is plain L4 TCP to the container port, without session affinity', () => {
    expect(service.spec.sessionAffinity).toBe('None');
    for (const port of service.spec.ports) {
      expect(port.protocol).toBe('TCP');
      expect(portNamed(port.targetPort)).toBe(options.port);
    }
  });
});

// ---------------------------------------------------------------------------------------

describe('deploy/Dockerfile', () => {
  const text = read('deploy/Dockerfile').replace(/\\\n\s*/g, '');
  const lines = text.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('#'));
  const instructions = (name: string) => lines.filter((l) => l.startsWith(`${name} `)).map((l) => l.slice(name.length + 1).trim());
  const stages = text.split(/^FROM /m).slice(1);
  const final = stages.at(-1)!;
  const entrypoint = JSON.parse(instructions('ENTRYPOINT').at(-1)!) as string[];
  const cmd = JSON.parse(instructions('CMD').at(-1)!) as string[];
  const options = optionsFor(cmd);

  test('multi-stage, and the runtime stage runs as a user other than root', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const user = /^USER (\S+)/m.exec(final)?.[1];
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
  });

  test('the entry point is the h2ws command and the default arguments are h2ws flags', () => {
    expect(entrypoint).toEqual(['node', 'bin/h2ws.js']);
    expect(existsSync(path.join(ROOT, entrypoint[1]!))).toBe(true);
    expect(() => parseArgs(cmd)).not.toThrow();
    expect(instructions('EXPOSE').join(' ').split(/\s+/).map(Number)).toEqual([options.port, options.admin.listen?.port]);
  });

  test('HEALTHCHECK asks /healthz on the admin listener', () => {
    const healthcheck = instructions('HEALTHCHECK').join('\n');
    const url = /http:\/\/127\.0\.0\.1:(\d+)(\/\w+)/.exec(healthcheck);
    expect(url).not.toBeNull();
    expect(url![2]).toBe('/healthz');
    expect(ADMIN_PATHS.has(url![2]!)).toBe(true);
    expect(Number(url![1])).toBe(options.admin.listen?.port);
    // Cleartext: the admin listener never serves TLS.
    expect(healthcheck).not.toMatch(/https:/);
  });

  test('what the build copies from the checkout exists', () => {
    const sources = lines.filter((l) => l.startsWith('COPY ') && !l.includes('--from=')).flatMap((l) => l.slice(5).trim().split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) expect(existsSync(path.join(ROOT, source)), source).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------

/** An INI-style unit: section -> key -> every value given (ExecReload may repeat). */
function unit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[(\w+)\]$/.exec(line);
    if (section) {
      current = new Map();
      sections.set(section[1]!, current);
      continue;
    }
    const eq = line.indexOf('=');
    expect(current, `${line} before any section`).toBeDefined();
    const key = line.slice(0, eq);
    current!.set(key, [...(current!.get(key) ?? []), line.slice(eq + 1)]);
  }
  return sections;
}

describe('deploy/systemd/h2ws.service', () => {
  const service = unit(read('deploy/systemd/h2ws.service')).get('Service')!;
  const one = (key: string) => {
    const values = service.get(key) ?? [];
    expect(values, key).toHaveLength(1);
    return values[0]!;
  };
  /** The h2ws arguments of a command line that runs bin/h2ws.js. */
  const h2wsArgs = (command: string) => {
    const words = command.split(/\s+/);
    const bin = words.findIndex((w) => w.endsWith('/bin/h2ws.js'));
    expect(bin, command).toBeGreaterThan(0);
    return words.slice(bin + 1);
  };
  const start = h2wsArgs(one('ExecStart'));

  test('ExecStart is the h2ws command with h2ws flags, as a user other than root', () => {
    expect(() => parseArgs(start)).not.toThrow();
    expect(['root', '0']).not.toContain(one('User'));
  });

  test('ExecReload checks the same config with the same flags, then sends SIGHUP to the main process', () => {
    const reload = service.get('ExecReload')!;
    expect(reload).toHaveLength(2);
    const check = h2wsArgs(reload[0]!);
    expect(() => parseArgs(check)).not.toThrow();
    expect(parseArgs(check).checkConfig).toBe(parseArgs(start).config);
    // The flags that shape the config are the same (logging does not matter to a check).
    const shaping = ({ config: _c, checkConfig: _k, logFormat: _f, logLevel: _l, ...rest }: CliArgs) => rest;
    expect(shaping(parseArgs(check))).toEqual(shaping(parseArgs(start)));
    expect(reload[1]).toMatch(/^\/bin\/kill -HUP \$MAINPID$/);
  });

  test('stopping: SIGTERM to the supervisor alone, and a timeout that outlasts the drain', () => {
    expect(one('KillSignal')).toBe('SIGTERM');
    expect(one('KillMode')).toBe('mixed');
    expect(Number(one('TimeoutStopSec')) * 1000).toBeGreaterThan(drainMs({}));
    // Exit 2 is a bad config: restarting would loop.
    expect(one('RestartPreventExitStatus')).toBe('2');
  });
});
