/**
 * A one-line progress bar on stderr (stdout stays clean for results). On a terminal it redraws in place; otherwise
 * (CI logs, a pipe) it prints a line at each 10% step instead of thousands of redraws.
 *
 * Written here rather than taken from a library: it is a dozen lines, and the libraries' terminal handling is
 * more than a redraw of one line needs.
 */
export class Progress {
  readonly #stream: NodeJS.WriteStream;
  readonly #tty: boolean;
  #lastStep = -1;
  #lastLine = '';

  constructor(
    readonly label: string,
    readonly total: number,
    stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.#stream = stream;
    this.#tty = stream.isTTY === true;
  }

  update(done: number, detail: string): void {
    const ratio = this.total === 0 ? 1 : Math.min(1, done / this.total);
    const width = 30;
    const filled = Math.round(ratio * width);
    const line =
      `${this.label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${this.total}` +
      (detail ? `  ${detail}` : '');
    if (this.#tty) {
      if (line !== this.#lastLine) this.#stream.write(`\r${line}\x1b[K`);
    } else {
      const step = Math.floor(ratio * 10);
      if (step !== this.#lastStep) this.#stream.write(`${line}\n`);
      this.#lastStep = step;
    }
    this.#lastLine = line;
  }

  /** Something the operator should see even off a terminal (waiting for a rate limit, say). */
  note(done: number, detail: string): void {
    if (this.#tty) this.update(done, detail);
    else this.#stream.write(`${this.label} ${done}/${this.total}  ${detail}\n`);
  }

  /** Leaves the last line on screen. */
  done(): void {
    if (this.#tty && this.#lastLine !== '') this.#stream.write('\n');
  }
}
