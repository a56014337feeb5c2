// `npm start` (node dist/local/stack.js), the README's first command, end to end: the emulator, the functions on
// the local host and a simulated device come up, and a direct method through the HTTP function reaches the device
// and comes back. Run from a copy of the built tree (dist, package.json, host.json; node_modules linked) with every
// port free, so that it writes no local.settings.json into the repository and fights no other test for a port.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PROJECT_DIR = join(__dirname, '..', '..');

describe('npm start (the local stack)', () => {
  let tree: string;
  let stack: ChildProcessWithoutNullStreams;
  let output = '';

  beforeAll(async () => {
    tree = mkdtempSync(join(tmpdir(), 'local-stack-'));
    for (const entry of ['dist', 'package.json', 'host.json', 'local.settings.json.example']) {
      const from = join(PROJECT_DIR, entry);
      if (existsSync(from)) cpSync(from, join(tree, entry), { recursive: true });
    }
    symlinkSync(join(PROJECT_DIR, 'node_modules'), join(tree, 'node_modules'), 'dir');
    stack = spawn(
      process.execPath,
      [
        join(tree, 'dist', 'local', 'stack.js'),
        '--port=0',
        '--mqtt-port=0',
        '--https-port=0',
        '--amqp-port=0',
        '--iothub-amqps-port=0',
        '--no-dashboard',
      ],
      { cwd: tree },
    );
    stack.stdin.end();
    await new Promise<void>((resolve, reject) => {
      const onOutput = (chunk: Buffer) => {
        output += chunk.toString();
        if (/Try it:[\s\S]*curl -X POST http:\/\/localhost:\d+\/api\/devices\//.test(output)) resolve();
      };
      stack.stdout.on('data', onOutput);
      stack.stderr.on('data', onOutput);
      stack.once('exit', (code) => {
        reject(new Error(`npm start exited (${String(code)}) before it was ready:\n${output.slice(-3000)}`));
      });
    });
  }, 120_000);

  afterAll(async () => {
    if (stack.exitCode === null) {
      const exited = new Promise((resolve) => stack.once('exit', resolve));
      stack.kill('SIGINT');
      await exited;
    }
    rmSync(tree, { recursive: true, force: true });
  });

  it('prints where the function listens and answers a direct method through it from the simulated device', async () => {
    const url =
      /curl -X POST (http:\/\/localhost:\d+\/api\/devices\/[^/]+\/methods\/SetTelemetryInterval)/.exec(
        output,
      )?.[1];
    expect(url).toBeDefined();
    const response = await fetch(url ?? '', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ payload: 7 }),
    });
    expect(response.status).toBe(200);
    // As the README shows it: the device's answer, with the interval it now uses.
    expect(await response.json()).toEqual({ status: 200, payload: { interval: 7 } });
  });

  it('stops cleanly on Ctrl+C', async () => {
    const exited = new Promise<number | null>((resolve) => stack.once('exit', resolve));
    stack.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(output).toMatch(/Stopped\./);
  });
});
