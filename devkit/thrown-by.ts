/** Runs `action` and returns the error it throws, which must be an `ErrorClass`; fails the test otherwise. */
export function thrownBy<E extends Error>(ErrorClass: new (...args: never[]) => E, action: () => unknown): E {
  try {
    action();
  } catch (error) {
    if (error instanceof ErrorClass) return error;
    throw error;
  }
  throw new Error(`expected a ${ErrorClass.name}`);
}
