// The emulator as a user gets it: `npm pack` of the workspace package, installed from the tarball into a fresh
// project outside the repository (offline: npm's cache holds what `npm ci` downloaded), then used only through what
// that project has: the bin, its health endpoint, the programmatic API, the Jest global setup and the node --test
// example, with the unmodified SDKs. Nothing here imports the emulator from this repository.
import { spawn, spawnSync, type ChildProcess, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { inNetworkNamespace, namespaceUnavailable } from '../helpers/network-namespace';

const REPO = join(__dirname, '..', '..');
const PACKAGE_DIR = join(REPO, 'emulator');
const EXAMPLES = join(PACKAGE_DIR, 'examples');
const emulatorPackage = JSON.parse(readFileSync(join(PACKAGE_DIR, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  dependencies: Record<string, string>;
};
/** The SDKs a user adds beside the emulator, at the versions this repository installed (so npm's cache has them). */
const USER_PACKAGES = ['azure-iot-device', 'azure-iot-device-mqtt', 'azure-iothub', '@azure/event-hubs'];
const installedVersion = (name: string) =>
  (JSON.parse(readFileSync(join(REPO, 'node_modules', name, 'package.json'), 'utf8')) as { version: string })
    .version;

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env) {
  const result = spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout: 240_000 });
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} failed (${result.status}):\n${result.stdout}\n${result.stderr}`,
    );
  }
  return result.stdout;
}

/** Settings a started emulator prints with --print-settings json (the fields this test reads). */
interface PrintedSettings {
  name: string;
  version: string;
  pid: number;
  hubName: string;
  httpsPort: number;
  caPath: string;
  dataDir: string;
  healthUrl: string;
  serviceConnectionString: string;
  deviceConnectionStrings: Record<string, string>;
}

/** Starts the installed bin and resolves with the JSON line it prints once every port listens. */
function startBin(
  project: string,
  args: string[],
): Promise<{ child: ChildProcessWithoutNullStreams; settings: PrintedSettings }> {
  const child = spawn(join(project, 'node_modules', '.bin', 'iothub-emulator'), args, {
    cwd: project,
  });
  child.stdin.end();
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.once('line', (line) => {
      try {
        resolve({ child, settings: JSON.parse(line) as PrintedSettings });
      } catch (error) {
        reject(new Error(`the first line on stdout is not JSON: ${line}\n${stderr}`, { cause: error }));
      }
    });
    child.once('exit', (code) => {
      reject(new Error(`the emulator exited (${String(code)}) before it was ready:\n${stderr}`));
    });
  });
}

function stopBin(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    child.once('exit', (code) => {
      resolve(code);
    });
    child.kill('SIGTERM');
  });
}

function getJson(url: string, ca: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    request(url, { ca }, (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => {
        text += chunk.toString();
      });
      response.on('end', () => {
        resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) as unknown });
      });
    })
      .on('error', reject)
      .end();
  });
}

interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  link?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  [field: string]: unknown;
}

/**
 * The user project's package-lock.json: the tarball, and for every other package the entry this repository's
 * lockfile has (same version, same integrity, so `npm ci --offline` finds it in npm's cache), for the closure of
 * the emulator's and the SDKs' dependencies, resolved as Node resolves a require. An install by name would need
 * the registry's package documents, which npm does not cache on `npm ci`: without network it must be a lockfile.
 */
function userLockfile(dependencies: Record<string, string>, tarballName: string, integrity: string) {
  const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>;
  };
  const found = (path: string) => lock.packages[path];
  const resolve = (from: string, name: string): string | undefined => {
    for (let dir = from; ; dir = dir.slice(0, Math.max(0, dir.lastIndexOf('/node_modules/')))) {
      const candidate = `${dir === '' ? '' : `${dir}/`}node_modules/${name}`;
      if (found(candidate) && !found(candidate)?.link) return candidate;
      if (dir === '') return undefined;
    }
  };
  const packages: Record<string, LockEntry> = {};
  const visit = (from: string, name: string, optional: boolean): void => {
    const path = resolve(from, name);
    if (!path) {
      if (optional) return;
      throw new Error(`this repository's lockfile has no ${name} (needed by ${from || 'the project'})`);
    }
    if (packages[path]) return;
    // Flags about this repository's own tree (dev, peer) mean nothing in the user's.
    const entry: LockEntry = { ...(found(path) as LockEntry) };
    delete entry.dev;
    delete entry.devOptional;
    delete entry.peer;
    packages[path] = entry;
    for (const dep of Object.keys(entry.dependencies ?? {})) visit(path, dep, false);
    for (const dep of Object.keys(entry.optionalDependencies ?? {})) visit(path, dep, true);
    for (const dep of Object.keys(entry.peerDependencies ?? {})) {
      visit(path, dep, entry.peerDependenciesMeta?.[dep]?.optional === true);
    }
  };
  for (const dep of Object.keys(emulatorPackage.dependencies)) visit('', dep, false);
  for (const name of USER_PACKAGES) visit('', name, false);
  const workspace = found('emulator') as LockEntry;
  packages['node_modules/iothub-emulator'] = {
    version: emulatorPackage.version,
    resolved: `file:../${tarballName}`,
    integrity,
    license: workspace.license,
    dependencies: workspace.dependencies,
    bin: workspace.bin,
    engines: workspace.engines,
  };
  return {
    name: 'user-project',
    version: '1.0.0',
    lockfileVersion: 3,
    requires: true,
    packages: { '': { name: 'user-project', version: '1.0.0', dependencies }, ...packages },
  };
}

/** Inside the namespace: the installed bin on Azure's ports, its settings read, then the round trip with its CA. */
const ROUND_TRIP_SHELL = `set -e
cd "$PROJECT"
node_modules/.bin/iothub-emulator --standard-ports --no-dashboard --data-dir "$DATA" --device dm-1 \\
  --print-settings json > settings.json 2> emulator.log &
EMULATOR=$!
for i in $(seq 1 100); do [ -s settings.json ] && break; sleep 0.1; done
CA=$(node -p "require('./settings.json').caPath")
NODE_EXTRA_CA_CERTS="$CA" node round-trip.js settings.json || { cat emulator.log >&2; kill $EMULATOR; exit 1; }
kill $EMULATOR
wait $EMULATOR || true
`;

/** A user's script: a device on azure-iot-device answers, azure-iothub calls, both from their connection strings. */
const ROUND_TRIP_SCRIPT = `
const { readFileSync } = require('node:fs');
const { Client: DeviceClient } = require('azure-iot-device');
const { Mqtt } = require('azure-iot-device-mqtt');
const { Client: ServiceClient } = require('azure-iothub');
const settings = JSON.parse(readFileSync(process.argv[2], 'utf8'));
(async () => {
  const device = DeviceClient.fromConnectionString(settings.deviceConnectionStrings['dm-1'], Mqtt);
  await device.open();
  device.onDeviceMethod('SetTelemetryInterval', (request, response) => {
    void response.send(200, { echo: request.payload });
  });
  const serviceString = settings.sdkServiceConnectionStrings[0].connectionString;
  const service = ServiceClient.fromConnectionString(serviceString);
  const { result } = await service.invokeDeviceMethod('dm-1', {
    methodName: 'SetTelemetryInterval',
    payload: { interval: 5 },
    responseTimeoutInSeconds: 10,
  });
  console.log('ROUND-TRIP ' + JSON.stringify({
    serviceHostName: /HostName=([^;]+)/.exec(serviceString)[1],
    status: result.status,
    payload: result.payload,
  }));
  await device.close();
  process.exit(0);
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
`;

describe('the iothub-emulator package, installed from its tarball into a fresh project', () => {
  let work: string;
  let project: string;
  let tarball: string;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'iothub-emulator-package-'));
    project = join(work, 'project');
    mkdirSync(project);
    // The build of `npm test` is packed as it is (--ignore-scripts: no prepack rebuild under running tests).
    const packed = JSON.parse(
      run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], PACKAGE_DIR),
    ) as { filename: string; integrity: string; size: number; unpackedSize: number; entryCount: number }[];
    const [info] = packed;
    if (!info) throw new Error('npm pack printed nothing');
    tarball = join(work, info.filename);
    console.log(
      `iothub-emulator tarball: ${info.size} bytes packed, ${info.unpackedSize} unpacked, ${info.entryCount} files; ` +
        `${Object.keys(emulatorPackage.dependencies).length} direct production dependencies`,
    );
    const dependencies: Record<string, string> = { 'iothub-emulator': `file:../${info.filename}` };
    for (const name of USER_PACKAGES) dependencies[name] = installedVersion(name);
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'user-project', version: '1.0.0', private: true, dependencies }),
    );
    writeFileSync(
      join(project, 'package-lock.json'),
      JSON.stringify(userLockfile(dependencies, info.filename, info.integrity)),
    );
    run('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], project);
  }, 300_000);

  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
  });

  it('installs with its runtime dependencies only, and nothing of this repository', () => {
    const installed = JSON.parse(
      readFileSync(join(project, 'node_modules', 'iothub-emulator', 'package.json'), 'utf8'),
    ) as { version: string; devDependencies?: Record<string, string> };
    expect(installed.version).toBe(emulatorPackage.version);
    const tree = JSON.parse(run('npm', ['ls', '--all', '--json', '--omit=dev'], project)) as {
      dependencies: Record<string, { dependencies?: Record<string, unknown> }>;
    };
    const emulatorDeps = Object.keys(tree.dependencies['iothub-emulator']?.dependencies ?? {}).sort();
    expect(emulatorDeps).toEqual(Object.keys(emulatorPackage.dependencies).sort());
    // No source, tests or source maps in the tarball: what runs, its types, the dashboard's bundle, the examples,
    // README, licence.
    const listed = spawnSync('tar', ['-tzf', tarball], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter(Boolean);
    expect(listed.filter((file) => /\.ts$/.test(file) && !file.endsWith('.d.ts'))).toEqual([]);
    // The package's own tests stay in the repository; its examples (which are tests a user copies) ship.
    const tests = listed.filter((file) => /\/test\/|\.test\./.test(file));
    expect(tests.filter((file) => !file.startsWith('package/examples/'))).toEqual([]);
    expect(tests).toEqual(
      expect.arrayContaining([
        'package/examples/jest/twin.test.js',
        'package/examples/node-test/telemetry.test.mjs',
      ]),
    );
    expect(listed).toEqual(expect.arrayContaining(['package/README.md', 'package/LICENSE']));
    expect(statSync(join(project, 'node_modules', '.bin', 'iothub-emulator')).isFile()).toBe(true);
  });

  it('answers --version and --help from its bin', () => {
    const bin = join(project, 'node_modules', '.bin', 'iothub-emulator');
    expect(run(bin, ['--version'], project).trim()).toBe(emulatorPackage.version);
    expect(run(bin, ['--help'], project)).toMatch(/--print-settings json/);
  });

  it('starts from its bin, prints its settings as JSON, answers its health check and stops cleanly', async () => {
    const dataDir = join(work, 'bin-data');
    const { child, settings } = await startBin(project, [
      '--print-settings',
      'json',
      '--mqtt-port',
      '0',
      '--https-port',
      '0',
      '--amqp-port',
      '0',
      '--iothub-amqps-port',
      '0',
      '--no-dashboard',
      '--data-dir',
      dataDir,
      '--device',
      'sensor-1',
    ]);
    try {
      expect(settings).toMatchObject({
        name: 'iothub-emulator',
        version: emulatorPackage.version,
        pid: child.pid,
      });
      expect(Object.keys(settings.deviceConnectionStrings)).toEqual(['sensor-1']);
      const ca = readFileSync(settings.caPath, 'utf8');
      const health = await getJson(settings.healthUrl, ca);
      expect(health).toEqual({
        status: 200,
        body: {
          status: 'Healthy',
          name: 'iothub-emulator',
          version: emulatorPackage.version,
          hubName: settings.hubName,
        },
      });
      // The same settings are in the data directory while it runs, readable by its owner only (they hold keys).
      const file = join(dataDir, 'settings.json');
      expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(settings);
      expect(statSync(file).mode & 0o077).toBe(0);
    } finally {
      expect(await stopBin(child)).toBe(0);
    }
    expect(() => statSync(join(dataDir, 'settings.json'))).toThrow(/ENOENT/);
  }, 120_000);

  // The unmodified service SDK's REST client dials port 443 of HostName (azure-iot-http-base passes no port), so the
  // direct-method round trip runs the installed bin with --standard-ports, as root in a network namespace.
  (namespaceUnavailable() ? it.skip : it)(
    'answers a direct method from the unmodified azure-iothub to the unmodified azure-iot-device (installed bin, --standard-ports, network namespace)',
    async () => {
      writeFileSync(join(project, 'round-trip.js'), ROUND_TRIP_SCRIPT);
      writeFileSync(join(project, 'round-trip.sh'), ROUND_TRIP_SHELL);
      const run = await inNetworkNamespace('exec sh "$1"', [join(project, 'round-trip.sh')], {
        ...process.env,
        PROJECT: project,
        DATA: join(work, 'round-trip-data'),
      });
      const line = run.stdout.split('\n').find((text) => text.startsWith('ROUND-TRIP '));
      if (!line)
        throw new Error(`no result (exit ${String(run.code)}):\n${run.stdout}\n${run.stderr.slice(-3000)}`);
      expect(JSON.parse(line.slice('ROUND-TRIP '.length))).toEqual({
        serviceHostName: 'localhost',
        status: 200,
        payload: { echo: { interval: 5 } },
      });
    },
    120_000,
  );

  it('serves a plain node --test suite through the programmatic API (the package example)', () => {
    copyFileSync(join(EXAMPLES, 'node-test', 'telemetry.test.mjs'), join(project, 'telemetry.test.mjs'));
    const output = run(process.execPath, ['--test', 'telemetry.test.mjs'], project);
    expect(output).toMatch(/# pass 1/);
    expect(output).toMatch(/# fail 0/);
  }, 180_000);

  it('serves a Jest run through its global setup and teardown (the package example)', () => {
    const jestProject = join(work, 'project');
    copyFileSync(join(EXAMPLES, 'jest', 'jest.config.js'), join(jestProject, 'jest.config.js'));
    copyFileSync(join(EXAMPLES, 'jest', 'twin.test.js'), join(jestProject, 'twin.test.js'));
    // Jest itself is this repository's (installing it offline in the project would take a minute): it runs with the
    // project as its root, so the setup, the SDKs and the emulator all resolve from the project's node_modules.
    const jest = join(REPO, 'node_modules', 'jest', 'bin', 'jest.js');
    const env: NodeJS.ProcessEnv = { ...process.env, IOTHUB_EMULATOR_DEVICES: 'thermostat-1' };
    delete env.NODE_EXTRA_CA_CERTS;
    const result = spawnSync(
      process.execPath,
      [
        jest,
        '--rootDir',
        jestProject,
        '--config',
        join(jestProject, 'jest.config.js'),
        '--ci',
        'twin.test.js',
      ],
      { cwd: jestProject, env, encoding: 'utf8', timeout: 180_000 },
    );
    expect(`${result.stdout}\n${result.stderr}`).toMatch(/Tests:\s+1 passed, 1 total/);
    expect(result.status).toBe(0);
  }, 200_000);
});
