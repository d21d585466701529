/**
 * SQLite result codes that say the database cannot take writes now (disk full, I/O error, locked by another
 * process, read-only, damaged), as opposed to one write being wrong. Extended codes start with these
 * (SQLITE_IOERR_FSYNC, SQLITE_BUSY_SNAPSHOT, ...).
 */
const STORAGE_FAILURE =
  /^SQLITE_(FULL|IOERR|BUSY|LOCKED|READONLY|CORRUPT|CANTOPEN|NOTADB|NOMEM|PROTOCOL|PERM)/;

export function isStorageFailure(error: { code?: string }): boolean {
  return error.code !== undefined && STORAGE_FAILURE.test(error.code);
}

/** While writes fail, readiness probes at most this often, to notice the recovery. */
const RECOVERY_PROBE_EVERY_MS = 1_000;
/**
 * While they work, a probe only when nothing has committed (writes nor probe) for this long: an idle gateway
 * notices a lock taken or a disk filled meanwhile within this time, at the cost of one small commit.
 */
const IDLE_PROBE_EVERY_MS = 5_000;

/**
 * What the store knows of its writes, for readiness: whether writes failed for the storage's reasons, and when
 * something last committed.
 *
 * A failure holds until a probe succeeds; a small write that happens to commit does not clear it. On a full disk,
 * a status update that fits in an existing page commits while every new message is refused: readiness must not
 * flip back and forth with the mix of writes. The probe checks room for several new pages directly, more than
 * one message needs (see sqlite-engine.ts probeWrite).
 */
export class WriteHealth {
  readonly #now: () => number;
  #failure: Error | null = null;
  #lastCommitAt: number;
  #lastProbeAt = Number.NEGATIVE_INFINITY;

  /** @param now a monotonic clock */
  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
    // Opening the database migrated it: a commit.
    this.#lastCommitAt = now();
  }

  /** Why writes fail now; null while they work. */
  get failure(): Error | null {
    return this.#failure;
  }

  /** A write committed: writes worked a moment ago (no probe needed yet), unless they are known to fail. */
  committed(): void {
    this.#lastCommitAt = this.#now();
  }

  /** The probe succeeded: writes work. */
  proved(): void {
    this.#failure = null;
    this.#lastCommitAt = this.#now();
  }

  failed(error: Error): void {
    this.#failure = error;
  }

  /**
   * Whether readiness should probe now: writes failed (has the storage recovered?), at most once a second; or
   * nothing has committed for IDLE_PROBE_EVERY_MS (has it stopped working meanwhile: a lock taken, a disk
   * filled?). However often readiness is asked.
   */
  probeDue(): boolean {
    const now = this.#now();
    if (this.#failure !== null) return now - this.#lastProbeAt >= RECOVERY_PROBE_EVERY_MS;
    return now - this.#lastProbeAt >= IDLE_PROBE_EVERY_MS && now - this.#lastCommitAt >= IDLE_PROBE_EVERY_MS;
  }

  probing(): void {
    this.#lastProbeAt = this.#now();
  }
}
