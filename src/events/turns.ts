/**
 * Conversations ready to send on one endpoint, grouped by a key and taken in turn, key by key: on the
 * status-callback endpoint the API key that sent the message (its lane key), so that one client's slow or silent
 * callback hosts, however many names they go by, cannot fill every request slot while other clients' callbacks wait.
 * An endpoint of the operator's has one key: first come, first served.
 */
export class Turns {
  /** Each key's conversations in the order they became ready; the map's own order is the turn order. */
  readonly #byKey = new Map<string, Set<string>>();
  readonly #keyOf = new Map<string, string>();

  get size(): number {
    return this.#keyOf.size;
  }

  add(conversation: string, key: string): void {
    if (this.#keyOf.has(conversation)) return;
    this.#keyOf.set(conversation, key);
    const queue = this.#byKey.get(key);
    if (queue) queue.add(conversation);
    else this.#byKey.set(key, new Set([conversation]));
  }

  delete(conversation: string): boolean {
    const key = this.#keyOf.get(conversation);
    if (key === undefined) return false;
    this.#keyOf.delete(conversation);
    const queue = this.#byKey.get(key);
    queue?.delete(conversation);
    if (queue?.size === 0) this.#byKey.delete(key);
    return true;
  }

  /** Takes the next conversation in turn whose key `admits` (has a slot free); that key goes to the back. */
  take(admits: (key: string) => boolean): string | undefined {
    for (const [key, queue] of this.#byKey) {
      if (!admits(key)) continue;
      const conversation = queue.values().next().value as string;
      queue.delete(conversation);
      this.#keyOf.delete(conversation);
      this.#byKey.delete(key);
      if (queue.size > 0) this.#byKey.set(key, queue);
      return conversation;
    }
    return undefined;
  }
}
