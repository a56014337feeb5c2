/** Where the emulator writes its one-line logs; tests pass a silent or capturing one. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
}

export const consoleLogger: Logger = {
  info: (message) => {
    console.log(`[emulator] ${message}`);
  },
  warn: (message) => {
    console.warn(`[emulator] ${message}`);
  },
};
