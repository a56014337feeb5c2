import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expandGlob } from '../../../../local/host/function-loader';
import { compileRoute } from '../../../../local/http/http-routes';
import { loadLocalSettings, resolveSettingReferences } from '../../../../local/host/settings';

describe('route templates', () => {
  const route = compileRoute('devices/{deviceId}/methods/{methodName}');

  it('extracts decoded parameters and matches literals case-insensitively', () => {
    expect(route.match(['Devices', 'dev%201', 'methods', 'Set'])).toEqual({
      deviceId: 'dev 1',
      methodName: 'Set',
    });
    expect(route.match(['devices', 'dev1', 'methods'])).toBeUndefined();
    expect(route.match(['devices', 'dev1', 'methods', 'a', 'b'])).toBeUndefined();
  });

  it('supports optional, constrained and catch-all parameters', () => {
    expect(compileRoute('items/{id:int}').match(['items', 'x'])).toBeUndefined();
    expect(compileRoute('items/{id:int}').match(['items', '42'])).toEqual({ id: '42' });
    expect(compileRoute('items/{id?}').match(['items'])).toEqual({});
    expect(compileRoute('files/{*path}').match(['files', 'a', 'b.txt'])).toEqual({ path: 'a/b.txt' });
  });
});

describe('local settings', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'settings-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads local.settings.json Values, falls back to the example, and lets the environment win', () => {
    writeFileSync(
      join(dir, 'local.settings.json.example'),
      JSON.stringify({ Values: { A: 'example', B: 'b' } }),
    );
    expect(loadLocalSettings(dir, {}).values).toMatchObject({ A: 'example', B: 'b' });
    writeFileSync(join(dir, 'local.settings.json'), JSON.stringify({ Values: { A: 'file' } }));
    expect(loadLocalSettings(dir, { B: 'env' }).values).toMatchObject({ A: 'file', B: 'env' });
    expect(loadLocalSettings(dir, {}).values.B).toBeUndefined();
  });

  it('refuses settings files with non-string values', () => {
    writeFileSync(join(dir, 'local.settings.json'), JSON.stringify({ Values: { A: 1 } }));
    expect(() => loadLocalSettings(dir, {})).toThrow(/Values.A must be a string/);
  });

  it('resolves %NAME% references and names a missing one', () => {
    expect(resolveSettingReferences('%HUB%/x', { HUB: 'h' }, 'f')).toBe('h/x');
    expect(() => resolveSettingReferences('%NOPE%', {}, 'Function f')).toThrow(/no app setting NOPE/);
  });

  it('expands package.json main globs the way the host does', () => {
    mkdirSync(join(dir, 'dist/src/functions'), { recursive: true });
    for (const file of [
      'dist/src/index.js',
      'dist/src/functions/a.js',
      'dist/src/functions/b.js',
      'dist/src/functions/b.js.map',
    ]) {
      writeFileSync(join(dir, file), '');
    }
    expect(expandGlob(dir, 'dist/src/functions/*.js').map((f) => f.slice(dir.length + 1))).toEqual([
      'dist/src/functions/a.js',
      'dist/src/functions/b.js',
    ]);
    expect(expandGlob(dir, 'dist/src/{index.js,functions/*.js}')).toHaveLength(3);
  });
});
