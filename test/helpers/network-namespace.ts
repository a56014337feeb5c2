import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { buildSync } from 'esbuild';

const ROOT = join(__dirname, '..', '..');

/**
 * Why tests that need Azure's ports (443, 8883, 5671) cannot run here, or undefined when they can: they run as
 * root inside a network namespace of their own (`unshare -n`), where port 443 is theirs and `localhost` is the
 * emulator.
 */
export function namespaceUnavailable(): string | undefined {
  if (process.platform !== 'linux')
    return `network namespaces are a Linux feature (this is ${process.platform})`;
  const uid = process.getuid?.();
  if (uid !== 0) {
    return `port 443 needs root, and the SDKs run as root inside a network namespace of their own; this runs as uid ${String(uid)}`;
  }
  const probe = spawnSync('unshare', ['-n', '--', 'ip', 'link', 'set', 'lo', 'up'], { encoding: 'utf8' });
  if (probe.error) return `unshare or ip is missing (${probe.error.message})`;
  if (probe.status !== 0) return `unshare -n failed: ${probe.stderr.trim()}`;
  return undefined;
}

/** Runs `command` (a shell line with "$@" arguments) as root in a new network namespace whose loopback is up. */
export function inNetworkNamespace(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn('unshare', ['-n', '--', 'sh', '-c', `ip link set lo up && ${command}`, 'sh', ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Bundles a scenario under test/helpers with esbuild (its packages stay external: the built emulator and the SDKs
 * from node_modules), runs it with node in a network namespace, and returns the JSON it printed after `marker`
 * on a line of its own, with the end of its stderr for failure messages.
 */
export async function runScenarioInNamespace(
  scenario: string,
  marker: string,
  env: NodeJS.ProcessEnv,
): Promise<{ report: unknown; logs: string }> {
  const outfile = join(ROOT, 'dist', 'test', 'helpers', `${scenario}.js`);
  buildSync({
    entryPoints: [join(ROOT, 'test', 'helpers', `${scenario}.ts`)],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    packages: 'external',
    outfile,
    logLevel: 'warning',
  });
  const run = await inNetworkNamespace('exec node "$1"', [outfile], env);
  const logs = `exit ${String(run.code)}\n${run.stderr.slice(-4000)}`;
  const line = run.stdout.split('\n').find((text) => text.startsWith(`${marker} `));
  if (!line) throw new Error(`the scenario printed no report:\n${logs}\n${run.stdout.slice(-2000)}`);
  return { report: JSON.parse(line.slice(marker.length + 1)) as unknown, logs };
}
