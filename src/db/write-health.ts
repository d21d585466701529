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

/** Idle this long (nothing committed), readiness proves writes with a probe; and probes no more often. */
const PROBE_EVERY_MS = 1_000;

/**
 * What the store knows of its writes, for readiness: whether writes failed for the storage's reasons, and when
 * something last committed.
 *
 * A failure holds until a probe write succeeds; a small write that happens to commit does not clear it. On a full
 * disk, a status update that fits in an existing page commits while every new message is refused: readiness
 * must not flip back and forth with the mix of writes. The probe needs several new pages (see
 * sqlite-engine.ts), more than one message does.
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

  /** The probe committed: writes work. */
  proved(): void {
    this.#failure = null;
    this.#lastCommitAt = this.#now();
  }

  failed(error: Error): void {
    this.#failure = error;
  }

  /**
   * Whether readiness should prove writes with a probe now: they failed (has the storage recovered?), or nothing
   * has committed for a while (has it stopped working meanwhile: a lock taken, a disk filled?). At most one probe
   * a second, however often readiness is asked.
   */
  probeDue(): boolean {
    const now = this.#now();
    if (now - this.#lastProbeAt < PROBE_EVERY_MS) return false;
    return this.#failure !== null || now - this.#lastCommitAt >= PROBE_EVERY_MS;
  }

  probing(): void {
    this.#lastProbeAt = this.#now();
  }
}
