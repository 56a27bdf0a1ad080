/**
 * Cuts a batch into steps of at most `maxKeys` distinct keys, in log order: a burst of new sensors
 * (50,000 new ids in one fetch) is handed to the actors, and checkpointed, in bounded steps rather than
 * all at once. The key stands for the sensor (a record keyed otherwise is forwarded by the router, which
 * costs nothing in the actors).
 */
export function splitSteps<R extends { readonly key: Buffer | null }>(
  records: readonly R[],
  maxKeys: number,
): R[][] {
  const steps: R[][] = [];
  let step: R[] = [];
  const keys = new Set<string>();
  for (const r of records) {
    const key = r.key === null ? '' : r.key.toString('latin1');
    if (!keys.has(key) && keys.size >= maxKeys) {
      steps.push(step);
      step = [];
      keys.clear();
    }
    keys.add(key);
    step.push(r);
  }
  if (step.length > 0) steps.push(step);
  return steps;
}
