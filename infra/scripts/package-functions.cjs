#!/usr/bin/env node
// Builds the function app's deployment package in dist/functions-package/, the directory that azd zips
// (azure.yaml: `dist: dist/functions-package`, run from the service's prepackage hook). It holds only what the
// Functions host runs:
//   dist/src/**/*.js    the compiled functions (package.json "main" points there)
//   host.json
//   package.json        name, version, main, engines, dependencies (no scripts, no devDependencies)
//   package-lock.json   the project's lockfile pruned to those dependencies
//   node_modules/       the production dependency tree, copied from the installed node_modules
//   .funcignore         the project's, so that azd filters this directory with the same rules
//
// Why not the project directory: azd zips a Node service's directory as it is, honouring .funcignore; with
// node_modules included that ships every devDependency (emulator, test tools), and excluding it makes the app
// depend on a remote build (https://learn.microsoft.com/azure/developer/azure-developer-cli/function-app-deployments).
// The package has no build script, so even an azd that always builds remotely on Flex Consumption (before
// Azure/azure-dev#7223) only installs the production dependencies listed in it.
//
// Usage: node infra/scripts/package-functions.cjs [--out <dir>] [--compiled <dir>] [--skip-build]
//   --compiled  directory holding the tsc output (default <repo>/dist); --skip-build uses it as it is,
//               otherwise `npm run build` refreshes it first.
/* global __dirname */
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const DEFAULT_OUT = path.join(ROOT, 'dist', 'functions-package');
const KEPT_PACKAGE_FIELDS = [
  'name',
  'version',
  'description',
  'license',
  'private',
  'main',
  'engines',
  'dependencies',
];

class PackageError extends Error {}

/**
 * Paths (relative to root, e.g. node_modules/@azure/functions) of the installed packages that the production
 * dependencies need, resolved from package-lock.json as Node resolves a require (the requiring package's own
 * node_modules first, then each parent's): the closure of package.json "dependencies" through each package's
 * dependencies and required peers. Not `npm ls --omit=dev`: npm counts workspace packages (the emulator, a
 * development dependency) and their dependencies as production. The root's optionalDependencies are local tools
 * (Azure Functions Core Tools), never deployed.
 */
function productionPackagePaths(root = ROOT) {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8'));
  const packages = lock.packages || {};
  const resolve = (from, name) => {
    for (let dir = from; ; dir = dir.slice(0, Math.max(0, dir.lastIndexOf('/node_modules/')))) {
      const candidate = `${dir === '' ? '' : `${dir}/`}node_modules/${name}`;
      if (packages[candidate]) return candidate;
      if (dir === '') return undefined;
    }
  };
  const paths = new Set();
  const visit = (from, name, optional) => {
    const found = resolve(from, name);
    if (!found) {
      if (optional) return;
      throw new PackageError(`package-lock.json has no package ${name} needed by ${from || 'the project'}`);
    }
    if (paths.has(found)) return;
    const entry = packages[found];
    if (entry.link) throw new PackageError(`production dependency ${name} is a link (${entry.resolved})`);
    if (!fs.existsSync(path.join(root, found, 'package.json'))) {
      throw new PackageError(`${found} is not installed: run \`npm ci\` and try again.`);
    }
    paths.add(found);
    for (const dep of Object.keys(entry.dependencies || {})) visit(found, dep, false);
    for (const dep of Object.keys(entry.optionalDependencies || {})) visit(found, dep, true);
    const peerMeta = entry.peerDependenciesMeta || {};
    for (const dep of Object.keys(entry.peerDependencies || {})) {
      if (!(peerMeta[dep] && peerMeta[dep].optional)) visit(found, dep, false);
    }
  };
  for (const name of Object.keys(pkg.dependencies || {})) visit('', name, false);
  return [...paths].sort();
}

function trimPackageJson(pkg) {
  const out = {};
  for (const field of KEPT_PACKAGE_FIELDS) if (pkg[field] !== undefined) out[field] = pkg[field];
  return out;
}

/** The lockfile restricted to the production packages, consistent with the trimmed package.json. */
function pruneLockfile(lock, trimmedPkg, packagePaths) {
  if (!lock.packages || !lock.packages['']) {
    throw new PackageError(
      'package-lock.json has no "packages" section (lockfileVersion 2 or later is needed)',
    );
  }
  const rootEntry = {};
  for (const field of ['name', 'version', 'license', 'dependencies', 'engines']) {
    if (trimmedPkg[field] !== undefined) rootEntry[field] = trimmedPkg[field];
  }
  const packages = { '': rootEntry };
  for (const rel of packagePaths) {
    const entry = lock.packages[rel];
    if (!entry) throw new PackageError(`package-lock.json has no entry for ${rel}; run \`npm install\``);
    packages[rel] = entry;
  }
  return {
    name: lock.name,
    version: lock.version,
    lockfileVersion: lock.lockfileVersion,
    requires: true,
    packages,
  };
}

function copyCompiledFunctions(compiledDir, out) {
  const from = path.join(compiledDir, 'src');
  if (!fs.existsSync(path.join(from, 'functions'))) {
    throw new PackageError(`no compiled functions in ${from}; run \`npm run build\` first`);
  }
  let count = 0;
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const src = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(src);
      else if (entry.isFile() && entry.name.endsWith('.js')) {
        const dest = path.join(out, 'dist', 'src', path.relative(from, src));
        fs.mkdirSync(path.dirname(dest), { recursive: true });
        fs.copyFileSync(src, dest);
        count++;
      }
    }
  };
  walk(from);
  return count;
}

/** Copies each package directory without its nested node_modules (nested packages are listed on their own). */
function copyPackages(root, out, packagePaths) {
  for (const rel of packagePaths) {
    const src = path.join(root, rel);
    const nested = path.join(src, 'node_modules');
    fs.cpSync(src, path.join(out, rel), {
      recursive: true,
      dereference: true,
      filter: (file) => file !== nested,
    });
  }
}

function directorySize(dir) {
  let bytes = 0;
  let files = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) {
      bytes += fs.statSync(path.join(entry.parentPath ?? entry.path, entry.name)).size;
      files++;
    }
  }
  return { bytes, files };
}

/** Builds the package; returns its location and size. */
function buildPackage({
  root = ROOT,
  out = DEFAULT_OUT,
  compiled = path.join(root, 'dist'),
  skipBuild = false,
  log = () => {},
} = {}) {
  if (!skipBuild) {
    log('npm run build');
    const res = spawnSync('npm', ['run', 'build'], {
      cwd: root,
      stdio: 'inherit',
      shell: process.platform === 'win32',
    });
    if (res.status !== 0) throw new PackageError(`npm run build failed (${res.status})`);
  }
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8'));
  const packagePaths = productionPackagePaths(root);

  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true });
  const functionFiles = copyCompiledFunctions(compiled, out);
  fs.copyFileSync(path.join(root, 'host.json'), path.join(out, 'host.json'));
  const trimmed = trimPackageJson(pkg);
  fs.writeFileSync(path.join(out, 'package.json'), `${JSON.stringify(trimmed, null, 2)}\n`);
  fs.writeFileSync(
    path.join(out, 'package-lock.json'),
    `${JSON.stringify(pruneLockfile(lock, trimmed, packagePaths), null, 2)}\n`,
  );
  copyPackages(root, out, packagePaths);
  if (fs.existsSync(path.join(root, '.funcignore'))) {
    fs.copyFileSync(path.join(root, '.funcignore'), path.join(out, '.funcignore'));
  }
  const size = directorySize(out);
  log(
    `${out}: ${functionFiles} compiled files, ${packagePaths.length} production packages, ` +
      `${size.files} files, ${(size.bytes / 1024 / 1024).toFixed(1)} MB`,
  );
  return { out, packagePaths, ...size };
}

function parseArgs(argv) {
  const opts = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--skip-build') opts.skipBuild = true;
    else if (arg === '--out' || arg === '--compiled') {
      const value = argv[++i];
      if (!value) throw new PackageError(`${arg} needs a directory`);
      opts[arg.slice(2)] = path.resolve(value);
    } else
      throw new PackageError(
        `unknown argument ${arg}\nusage: package-functions.cjs [--out <dir>] [--compiled <dir>] [--skip-build]`,
      );
  }
  return opts;
}

module.exports = {
  DEFAULT_OUT,
  PackageError,
  buildPackage,
  productionPackagePaths,
  pruneLockfile,
  trimPackageJson,
};

if (require.main === module) {
  try {
    buildPackage({
      ...parseArgs(process.argv.slice(2)),
      log: (msg) => console.log(`package-functions: ${msg}`),
    });
  } catch (err) {
    console.error(
      `package-functions: ${err instanceof PackageError ? err.message : err && err.stack ? err.stack : err}`,
    );
    process.exitCode = 1;
  }
}
