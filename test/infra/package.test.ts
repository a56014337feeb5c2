// The function app's deployment package, built the way `azd deploy` builds it for this service (azure.yaml:
// `host: function`, `language: ts`, `dist: dist/functions-package`, `remoteBuild: false`):
//   1. `npm run build` (tsc): here the same compiler options, for src/ only, into a temporary directory;
//   2. the service's prepackage hook: infra/scripts/package-functions.cjs;
//   3. the zip of the `dist` directory, honouring the .funcignore found in it with gitignore rules and leaving out
//      .funcignore, local.settings.json and .azure (azd's createDeployableZip, Azure/azure-dev
//      cli/azd/pkg/project/project_utils.go). git check-ignore stands in for azd's gitignore matcher.
// Then checks what would be uploaded. Hermetic: everything happens in a temporary directory, nothing is
// downloaded (the production tree is copied from the installed node_modules).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defined, repoRoot } from './arm';

interface PackageScript {
  DEFAULT_OUT: string;
  buildPackage(opts: { out: string; compiled: string; skipBuild: boolean }): {
    out: string;
    packagePaths: string[];
    bytes: number;
    files: number;
  };
}
const script = createRequire(__filename)(
  join(repoRoot, 'infra', 'scripts', 'package-functions.cjs'),
) as PackageScript;

interface Lockfile {
  packages: Record<
    string,
    {
      dev?: boolean;
      devOptional?: boolean;
      optional?: boolean;
      link?: boolean;
      dependencies?: Record<string, string>;
    }
  >;
}
interface PackageJson {
  main?: string;
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

const readJson = (...parts: string[]): unknown => JSON.parse(readFileSync(join(...parts), 'utf8'));
const readPackageJson = (...parts: string[]): PackageJson =>
  readJson(...parts, 'package.json') as PackageJson;

// The runtime dependencies of src/ (package.json "dependencies", as the functions import them).
const DIRECT_DEPENDENCIES = [
  '@azure/functions',
  '@azure/identity',
  'azure-iothub',
  'azure-iot-amqp-base',
  'azure-iot-common',
  'azure-iot-http-base',
];
/** Every deployed function, one file each (src/functions). */
const FUNCTION_FILES = [
  'invokeDeviceMethod.js',
  'deviceTelemetry.js',
  'sendCloudToDeviceMessage.js',
  'getDeviceTwin.js',
  'updateDeviceTwin.js',
];
// Upper bound on the uncompressed package. The production tree is about 42 MB of files today; the full
// node_modules with the devDependencies is several hundred MB, so a leak of dev tooling shows up here.
const MAX_PACKAGE_BYTES = 80 * 1024 * 1024;

/** Every path under dir (files and directories), relative, with forward slashes; skips .git. */
function walk(dir: string): { files: string[]; dirs: string[] } {
  const files: string[] = [];
  const dirs: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const parent = entry.parentPath;
    const rel = join(parent, entry.name)
      .slice(dir.length + 1)
      .split('\\')
      .join('/');
    if (rel === '.git' || rel.startsWith('.git/')) continue;
    if (entry.isDirectory()) dirs.push(rel);
    else files.push(rel);
  }
  return { files, dirs };
}

/** The files azd would put in the zip of dir: gitignore rules of dir/.funcignore, plus azd's fixed exclusions. */
function azdZipContents(dir: string): string[] {
  const { files, dirs } = walk(dir);
  const git = (args: string[], input?: string) =>
    spawnSync('git', args, {
      cwd: dir,
      input,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', HOME: dir, GIT_CONFIG_NOSYSTEM: '1' },
    });
  expect(git(['init', '-q']).status).toBe(0);
  const res = git(
    ['-c', `core.excludesFile=${join(dir, '.funcignore')}`, 'check-ignore', '--no-index', '--stdin'],
    [...dirs, ...files].join('\n'),
  );
  expect([0, 1]).toContain(res.status); // 1: nothing ignored
  const ignored = new Set(res.stdout.split('\n').filter(Boolean));
  const excluded = (rel: string): boolean => {
    const parts = rel.split('/');
    for (let i = 1; i <= parts.length; i++) if (ignored.has(parts.slice(0, i).join('/'))) return true;
    const name = parts[parts.length - 1];
    return name === '.funcignore' || name === 'local.settings.json' || parts.includes('.azure');
  };
  return files.filter((f) => !excluded(f)).sort();
}

/**
 * Production packages (install paths) as npm itself resolves them: the project's package.json without its
 * workspaces (the emulator package), devDependencies and optionalDependencies (local tools such as Azure Functions
 * Core Tools, never deployed), next to its package-lock.json, through `npm install --package-lock-only --offline`;
 * then every entry of the pruned lockfile marked neither dev nor optional. (The lockfile's own flags are no oracle:
 * npm marks a workspace's dependencies as production.)
 */
function productionClosureFromLockfile(): string[] {
  const scratch = mkdtempSync(join(tmpdir(), 'production-closure-'));
  try {
    const left = new Set(['workspaces', 'devDependencies', 'optionalDependencies', 'scripts']);
    const pkg = Object.fromEntries(
      Object.entries(readJson(repoRoot, 'package.json') as Record<string, unknown>).filter(
        ([field]) => !left.has(field),
      ),
    );
    writeFileSync(join(scratch, 'package.json'), JSON.stringify(pkg));
    writeFileSync(join(scratch, 'package-lock.json'), readFileSync(join(repoRoot, 'package-lock.json')));
    const npm = spawnSync(
      'npm',
      ['install', '--package-lock-only', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'],
      { cwd: scratch, encoding: 'utf8' },
    );
    if (npm.status !== 0) throw new Error(`npm install --package-lock-only failed: ${npm.stderr}`);
    const lock = readJson(scratch, 'package-lock.json') as Lockfile;
    return Object.entries(lock.packages)
      .filter(
        ([path, entry]) => path !== '' && !entry.dev && !entry.devOptional && !entry.optional && !entry.link,
      )
      .map(([path]) => path)
      .sort();
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** A glob like dist/src/functions/*.js as a RegExp (only `*` is used by package.json "main"). */
const globToRegExp = (glob: string): RegExp =>
  new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}$`);

describe('function app deployment package (what azd uploads)', () => {
  let dir: string;
  let pkgDir: string;
  let built: ReturnType<PackageScript['buildPackage']>;
  let zipped: string[];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'functions-package-'));
    const compiled = join(dir, 'compiled');
    const tsconfig = join(dir, 'tsconfig.json');
    writeFileSync(
      tsconfig,
      JSON.stringify({
        extends: join(repoRoot, 'tsconfig.build.json'),
        // typeRoots: relative to the config file by default, which lives in the temporary directory here.
        compilerOptions: {
          rootDir: repoRoot,
          outDir: compiled,
          typeRoots: [join(repoRoot, 'node_modules', '@types')],
        },
        include: [join(repoRoot, 'src')],
      }),
    );
    const tsc = spawnSync(
      process.execPath,
      [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', tsconfig],
      {
        encoding: 'utf8',
        timeout: 120_000,
      },
    );
    if (tsc.status !== 0) throw new Error(`tsc failed:\n${tsc.stdout}${tsc.stderr}`);

    pkgDir = join(dir, 'package');
    built = script.buildPackage({ out: pkgDir, compiled, skipBuild: true });
    zipped = azdZipContents(pkgDir);
  }, 180_000);

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('is built where azure.yaml points azd (dist: dist/functions-package)', () => {
    const yaml = readFileSync(join(repoRoot, 'azure.yaml'), 'utf8');
    expect(yaml).toMatch(/^ {4}dist: dist\/functions-package$/m);
    expect(script.DEFAULT_OUT).toBe(join(repoRoot, 'dist', 'functions-package'));
  });

  it('contains only the compiled functions, host.json, package.json, package-lock.json and node_modules', () => {
    const outside = zipped.filter(
      (f) =>
        !/^dist\/src\/.+\.js$/.test(f) &&
        !['host.json', 'package.json', 'package-lock.json'].includes(f) &&
        !f.startsWith('node_modules/'),
    );
    expect(outside).toEqual([]);
    expect(zipped).toEqual(expect.arrayContaining(['host.json', 'package.json', 'package-lock.json']));
    expect(zipped.filter((f) => f.endsWith('.map') || f.endsWith('.ts'))).toEqual(
      zipped.filter((f) => f.startsWith('node_modules/') && (f.endsWith('.map') || f.endsWith('.ts'))),
    );
    // Every file the build produced for src/ is kept by the .funcignore rules.
    expect(zipped.filter((f) => f.startsWith('dist/src/')).length).toBeGreaterThan(2);
  });

  it('has the functions that package.json "main" names (the host indexes them from there)', () => {
    const main = defined(readPackageJson(pkgDir).main, 'package.json main');
    const entries = zipped.filter((f) => globToRegExp(main).test(f));
    expect(entries).toEqual(
      expect.arrayContaining(FUNCTION_FILES.map((name) => `dist/src/functions/${name}`)),
    );
    expect(readPackageJson(pkgDir).main).toBe(readPackageJson(repoRoot).main);
  });

  it('ships exactly the production dependency tree of package-lock.json, and no devDependency', () => {
    const shipped = [
      ...new Set(
        zipped
          .filter((f) => f.endsWith('/package.json'))
          .map((f) => f.slice(0, -'/package.json'.length))
          .filter((p) => /(^|\/)node_modules\/(@[^/]+\/)?[^/@]+$/.test(p)),
      ),
    ].sort();
    expect(shipped).toEqual(productionClosureFromLockfile());
    const top = new Set(shipped.map((p) => /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(p)?.[1]));
    for (const name of DIRECT_DEPENDENCIES) expect(top).toContain(name);
    // A devDependency ships only when a shipped package itself needs it (ws: azure-iothub's AMQP stack needs it,
    // and the tests also use it directly), never for being a devDependency.
    const lock = readJson(repoRoot, 'package-lock.json') as Lockfile;
    const neededByShipped = new Set(
      shipped.flatMap((path) => Object.keys(lock.packages[path]?.dependencies ?? {})),
    );
    const devDependencies = Object.keys(readPackageJson(repoRoot).devDependencies ?? {});
    expect(devDependencies.length).toBeGreaterThan(0);
    for (const name of devDependencies) {
      const ships = top.has(name) && !neededByShipped.has(name);
      expect(`${name}: ${String(ships)}`).toBe(`${name}: false`);
    }
  });

  it('is consistent for npm: package.json, the pruned lockfile and node_modules agree (npm ls)', () => {
    const pkg = readPackageJson(pkgDir);
    expect(pkg.devDependencies).toBeUndefined();
    // No build script: even a remote build (Oryx) only installs the production dependencies.
    expect(pkg.scripts).toBeUndefined();
    expect(Object.keys(pkg.dependencies ?? {}).sort()).toEqual([...DIRECT_DEPENDENCIES].sort());
    const ls = spawnSync('npm', ['ls', '--all'], {
      cwd: pkgDir,
      encoding: 'utf8',
      shell: process.platform === 'win32',
      timeout: 60_000,
    });
    expect(`${ls.status}\n${ls.stderr}`).toBe('0\n');
  });

  it('loads the functions with nothing but its own node_modules', () => {
    const run = spawnSync(
      process.execPath,
      [
        '-e',
        `${FUNCTION_FILES.map((name) => `require('./dist/src/functions/${name}');`).join(' ')} console.log('LOADED')`,
      ],
      { cwd: pkgDir, encoding: 'utf8', env: { PATH: process.env.PATH ?? '' }, timeout: 60_000 },
    );
    expect(run.stderr).not.toMatch(/Cannot find module/);
    expect(run.stdout.trim()).toBe('LOADED');
    expect(run.status).toBe(0);
  });

  it('needs no native build: no .node binaries, so the local Node version does not matter', () => {
    expect(zipped.filter((f) => f.endsWith('.node'))).toEqual([]);
  });

  it(`stays under ${MAX_PACKAGE_BYTES / 1024 / 1024} MB uncompressed`, () => {
    const bytes = zipped.reduce((sum, f) => sum + statSync(join(pkgDir, f)).size, 0);
    expect(bytes).toBeLessThan(MAX_PACKAGE_BYTES);
    expect(built.bytes).toBeGreaterThanOrEqual(bytes);
  });
});
