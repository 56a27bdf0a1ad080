/** Counters of one engine, for status output, logs and tests. */
export interface EngineStats {
  records: number;
  batches: number;
  deadLetters: number;
  windowResults: number;
  alerts: number;
  late: number;
  duplicates: number;
  checkpoints: number;
  lastCheckpointMs: number;
  recoveries: number;
  resets: number;
  fenced: number;
  inFlight: number;
  inFlightMax: number;
  pauses: number;
  /** Paused sensors that resumed by themselves (their hold was full). */
  autoResumes: number;
  /** Idle sensor actors stopped, their state left in the store (dormant). */
  passivations: number;
}

export function newStats(): EngineStats {
  return {
    records: 0,
    batches: 0,
    deadLetters: 0,
    windowResults: 0,
    alerts: 0,
    late: 0,
    duplicates: 0,
    checkpoints: 0,
    lastCheckpointMs: 0,
    recoveries: 0,
    resets: 0,
    fenced: 0,
    inFlight: 0,
    inFlightMax: 0,
    autoResumes: 0,
    pauses: 0,
    passivations: 0,
  };
}
