/** Where a message would leave its sender's queue, and the commitment that takes its place there. */
export interface QueuePlace {
  /** When the carrier hands the message on (milliseconds since the epoch). */
  departsAt: number;
  /** departsAt minus now: 0 when the message goes at once. */
  waitMs: number;
  /** Takes the place; a message refused or failed in the queue never calls it, so it costs no sending time. */
  take(): void;
}

interface SenderState {
  /** Segments the sender may still send at `at` without waiting (negative: a debt). */
  tokens: number;
  /** The departure time of the last message taken; never earlier than the state's last update. */
  at: number;
}

// From this many senders on, the ones whose queue has drained (indistinguishable from a new sender) are forgotten;
// the next sweep waits until the map has doubled, so sweeping costs O(1) per sender however many stay busy.
const PRUNE_FROM = 1_000;

/**
 * The carriers' throughput limit as the carriers apply it: each sender (a number, a Messaging Service's pool) sends
 * at most `rate` segments per second and queues what comes faster, first in, first out. The sender may send one
 * second's worth at once (a burst), so a client pacing at the rate is never queued by jitter; beyond the burst, a
 * message leaves the queue when the segments before it have gone. A message costing more than a second's worth
 * leaves once the burst is full, and the ones after it wait out the debt.
 *
 * This is a token bucket whose take waits instead of failing: the state is the bucket at the departure of the last
 * message taken, which may lie in the future.
 */
export class SenderQueues {
  readonly rate: number;
  readonly #senders = new Map<string, SenderState>();
  #pruneAt = PRUNE_FROM;

  /** @param rate segments per second (> 0) */
  constructor(rate: number) {
    this.rate = rate;
  }

  /**
   * Where a message of `cost` segments from `sender` would leave the queue if it joined it at `now` (the caller's
   * clock, so that a message sent at once departs exactly when it was accepted).
   */
  place(sender: string, cost: number, now: number): QueuePlace {
    const state = this.#senders.get(sender);
    // It cannot leave before the message ahead of it, nor before it arrives.
    const from = state === undefined ? now : Math.max(now, state.at);
    const tokens =
      state === undefined
        ? this.rate
        : Math.min(this.rate, state.tokens + ((from - state.at) * this.rate) / 1000);
    const need = Math.min(cost, this.rate);
    const departsAt = tokens >= need ? from : from + ((need - tokens) * 1000) / this.rate;
    const left = Math.max(tokens, need) - cost;
    return {
      departsAt,
      waitMs: departsAt - now,
      take: () => {
        if (this.#senders.size >= this.#pruneAt && !this.#senders.has(sender)) this.#prune(now);
        this.#senders.set(sender, { tokens: left, at: departsAt });
      },
    };
  }

  #prune(now: number): void {
    for (const [sender, state] of this.#senders) {
      // Full again by now: the same as never having sent.
      if (state.at + ((this.rate - state.tokens) * 1000) / this.rate <= now) this.#senders.delete(sender);
    }
    this.#pruneAt = Math.max(PRUNE_FROM, this.#senders.size * 2);
  }
}
