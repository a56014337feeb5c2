import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The emulator package's name and version, from its package.json (found upwards from here: source or build). */
export interface PackageInfo {
  readonly name: string;
  readonly version: string;
}

function readPackageInfo(): PackageInfo {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const path = join(dir, 'package.json');
    if (existsSync(path)) {
      const pkg = JSON.parse(readFileSync(path, 'utf8')) as Partial<PackageInfo>;
      if (pkg.name === 'iothub-emulator' && typeof pkg.version === 'string') {
        return { name: pkg.name, version: pkg.version };
      }
    }
    if (dirname(dir) === dir)
      throw new Error(`the iothub-emulator package.json was not found above ${__dirname}`);
  }
}

export const PACKAGE_INFO: PackageInfo = readPackageInfo();
