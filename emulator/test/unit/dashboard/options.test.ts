import { emulatorUsage, parseEmulatorArgs, resolveEmulatorOptions } from '../../../config/options';
import { UsageError } from '../../../../devkit/cli';

function optionsOf(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const command = parseEmulatorArgs(argv, env);
  if (command.kind !== 'run') throw new Error(command.kind);
  return resolveEmulatorOptions(command.options);
}

describe('dashboard options', () => {
  test('the dashboard is on, on port 8090, unless told otherwise', () => {
    expect(optionsOf([])).toMatchObject({ dashboard: true, dashboardPort: 8090 });
  });

  test('--no-dashboard turns it off; --dashboard-port and its variable move it', () => {
    expect(optionsOf(['--no-dashboard'])).toMatchObject({ dashboard: false });
    expect(optionsOf(['--dashboard-port', '0'])).toMatchObject({ dashboardPort: 0 });
    expect(optionsOf([], { IOTHUB_EMULATOR_DASHBOARD_PORT: '9000' })).toMatchObject({ dashboardPort: 9000 });
    expect(optionsOf(['--dashboard-port', '9001'], { IOTHUB_EMULATOR_DASHBOARD_PORT: '9000' })).toMatchObject(
      {
        dashboardPort: 9001,
      },
    );
  });

  test('refuses a port that is not one, naming the flag', () => {
    expect(() => optionsOf(['--dashboard-port', '70000'])).toThrow(UsageError);
    expect(() => optionsOf(['--dashboard-port', '70000'])).toThrow(/--dashboard-port/);
    expect(() => resolveEmulatorOptions({ dashboardPort: -1 })).toThrow(/dashboardPort/);
  });

  test('--help lists both', () => {
    const usage = emulatorUsage();
    expect(usage).toMatch(
      /--dashboard-port <port>\s+port of the dashboard.*\(default 8090\) \[IOTHUB_EMULATOR_DASHBOARD_PORT\]/,
    );
    expect(usage).toMatch(/--no-dashboard\s+do not serve the dashboard/);
  });
});
