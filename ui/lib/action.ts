/** The editors' one way to run a change: call the API, then reload; a failure goes to the page's error line. */

/** An `act(f)` that runs `f`, then `after` (a reload); a thrown error reaches `onError` as its message. */
export function actions(
  after: () => unknown,
  onError: (message: string) => void,
): (f: () => Promise<unknown>) => Promise<void> {
  return async (f) => {
    try {
      await f();
      await after();
    } catch (err) {
      onError((err as Error).message);
    }
  };
}
