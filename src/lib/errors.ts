/** A required app setting is missing or malformed. The message names the setting and says what it should hold. */
export class SettingsError extends Error {
  override readonly name = 'SettingsError';
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(message);
  }
}

/** A request value the function refuses; answered with 400 `{error: {code, message}}`. */
export class ValidationError extends Error {
  override readonly name = 'ValidationError';
  constructor(
    readonly code: string,
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}
