/** Waits until `check` holds (the server noticed something), polling every `stepMs`, at most `ms`. */
export async function until(check: () => boolean, ms = 5000, stepMs = 10): Promise<void> {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > ms) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
