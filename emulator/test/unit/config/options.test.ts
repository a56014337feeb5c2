import {
  emulatorUsage,
  EMULATOR_OPTIONS,
  parseEmulatorArgs,
  resolveEmulatorOptions,
} from '../../../config/options';

describe('emulator flags and environment', () => {
  it('reads flags before environment variables before defaults', () => {
    const command = parseEmulatorArgs(['--mqtt-port', '0', '--device', 'a,b', '--device', 'c'], {
      IOTHUB_EMULATOR_HTTPS_PORT: '9443',
      IOTHUB_EMULATOR_MQTT_PORT: '1',
    });
    expect(command).toMatchObject({
      kind: 'run',
      options: { mqttPort: 0, httpsPort: 9443, devices: ['a', 'b', 'c'], hubName: 'local-iothub' },
    });
  });

  it('reads the Event Hub-compatible endpoint options', () => {
    const command = parseEmulatorArgs(
      [
        '--amqp-port',
        '0',
        '--partitions',
        '8',
        '--consumer-group',
        'functions,alerts',
        '--retention-hours',
        '2',
      ],
      { IOTHUB_EMULATOR_AMQPS_PORT: '5671', IOTHUB_EMULATOR_MAX_PARTITION_MB: '64' },
    );
    expect(command).toMatchObject({
      kind: 'run',
      options: {
        amqpPort: 0,
        amqpsPort: 5671,
        partitionCount: 8,
        consumerGroups: ['functions', 'alerts'],
        retentionHours: 2,
        maxPartitionMiB: 64,
      },
    });
    const defaults = parseEmulatorArgs([], {});
    expect(defaults).toMatchObject({
      options: {
        amqpPort: 5672,
        partitionCount: 4,
        consumerGroups: [],
        retentionHours: 24,
        maxPartitionMiB: 256,
      },
    });
    expect(defaults.kind === 'run' ? defaults.options.amqpsPort : 'not run').toBeUndefined();
  });

  it.each([
    [['--amqp-port', '-1'], /--amqp-port/],
    [['--partitions', '33'], /--partitions .* from 1 to 32/],
    [['--partitions', '0'], /--partitions/],
    [['--retention-hours', '169'], /--retention-hours .* from 1 to 168/],
    [['--consumer-group', 'bad group'], /--consumer-group/],
    [['--consumer-group', '-x'], /--consumer-group/],
    [['--max-partition-mb', '1.5'], /--max-partition-mb/],
    [['--mqtt-port', '70000'], /--mqtt-port/],
    [['--https-port', 'abc'], /--https-port/],
    [['--hub-name', '-bad-'], /--hub-name/],
    [['--device', 'bad id'], /--device/],
    [['--unknown'], /Unknown option/],
    [['--print-settings', 'yaml'], /--print-settings "yaml" is invalid: the only format is json/],
    [['--print-settings'], /--print-settings/],
  ])('refuses %j with a message naming the flag', (argv, message) => {
    expect(() => parseEmulatorArgs(argv, {})).toThrow(message);
  });
});

describe('commands besides running', () => {
  it.each([
    [['--version'], 'version'],
    [['-v'], 'version'],
    [['--help'], 'help'],
    [['--version', '--mqtt-port', '0'], 'version'],
  ])('%j asks for %s', (argv, kind) => {
    expect(parseEmulatorArgs(argv, {}).kind).toBe(kind);
  });

  it('runs with the banner unless --print-settings json asks for the settings as JSON', () => {
    expect(parseEmulatorArgs([], {})).toMatchObject({ kind: 'run', printSettings: 'banner' });
    expect(parseEmulatorArgs(['--print-settings', 'json', '--mqtt-port', '0'], {})).toMatchObject({
      kind: 'run',
      printSettings: 'json',
      options: { mqttPort: 0 },
    });
  });
});

describe('the options table', () => {
  it('prints every option in --help, with its variable and default', () => {
    const usage = emulatorUsage();
    for (const spec of EMULATOR_OPTIONS) {
      expect(usage).toContain(spec.flag);
      if (spec.env) expect(usage).toContain(spec.env);
    }
    expect(usage).toContain('--amqp-port <port>');
    expect(usage).toMatch(/--partitions <n> .*1\.\.32 \(default 4\)/);
  });

  it('checks options given in code by the same rules as flags, and fills in the defaults', () => {
    expect(resolveEmulatorOptions({})).toMatchObject({
      hubName: 'local-iothub',
      partitionCount: 4,
      fsync: true,
    });
    expect(() => resolveEmulatorOptions({ partitionCount: 33 })).toThrow(
      /partitionCount 33 is invalid: use a whole number from 1 to 32/,
    );
    expect(() => resolveEmulatorOptions({ hubName: 'x' })).toThrow(/hubName "x" is invalid/);
    expect(() => resolveEmulatorOptions({ devices: ['a b'] })).toThrow(/devices "a b" is invalid/);
  });
});
