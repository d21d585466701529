import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** Benchmarks only ever talk to loopback. */
export const HOST = '127.0.0.1';

const STDERR_TAIL_BYTES = 16 * 1024;
// USER_HZ, the unit of /proc/<pid>/stat times: 100 on every mainstream Linux build (`getconf CLK_TCK`).
const CLOCK_TICKS_PER_SECOND = 100;

/** Every child still running, so that any exit path of the benchmark (error, signal, watchdog) can kill it. */
const live = new Set<ChildProcess>();

/** SIGKILLs every child this module started and that has not exited. Synchronous: usable in an 'exit' handler. */
export function killAllChildren(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
}

/** A port free right now on loopback. Picked by the parent because the gateway's PUBLIC_BASE_URL must name it. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, HOST, () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => (port > 0 ? resolve(port) : reject(new Error('could not pick a free port'))));
    });
  });
}

export interface StartOptions {
  /** For messages only. */
  name: string;
  /** Arguments to `node` (flags, then the script). */
  args: string[];
  /** The child's whole environment: nothing is inherited, so a stray variable cannot change what is measured. */
  env: Record<string, string>;
  cwd: string;
  port: number;
  startTimeoutMs: number;
}

export interface StopOutcome {
  /** Exited on its own after SIGTERM within the grace period (false: it had to be SIGKILLed). */
  graceful: boolean;
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class ServerProcess {
  readonly name: string;
  readonly port: number;
  readonly #child: ChildProcess;
  readonly #exited: Promise<StopOutcome>;
  #exit: StopOutcome | null = null;
  #stderr = '';

  private constructor(options: StartOptions) {
    this.name = options.name;
    this.port = options.port;
    // stdout is discarded (the gateway logs every request there at LOG_LEVEL=info; writing it still costs the
    // server its serialization, as in production); stderr is kept so that a failed start can be explained.
    this.#child = spawn(process.execPath, options.args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    live.add(this.#child);
    this.#child.stderr?.setEncoding('utf8');
    this.#child.stderr?.on('data', (chunk: string) => {
      this.#stderr = (this.#stderr + chunk).slice(-STDERR_TAIL_BYTES);
    });
    this.#exited = new Promise((resolve) => {
      this.#child.once('exit', (code, signal) => {
        live.delete(this.#child);
        this.#exit = { graceful: true, code, signal };
        resolve(this.#exit);
      });
      // A spawn failure (ENOENT...) emits 'error' and possibly no 'exit'.
      this.#child.once('error', (err) => {
        live.delete(this.#child);
        this.#stderr += `\nspawn error: ${err.message}`;
        this.#exit = { graceful: false, code: null, signal: null };
        resolve(this.#exit);
      });
    });
  }

  /** Spawns the server and resolves once it accepts TCP connections on its port; throws (and kills it) otherwise. */
  static async start(options: StartOptions): Promise<ServerProcess> {
    const server = new ServerProcess(options);
    const deadline = Date.now() + options.startTimeoutMs;
    while (Date.now() < deadline) {
      if (server.#exit !== null) {
        throw new Error(
          `${options.name} exited (code ${server.#exit.code}, signal ${server.#exit.signal}) before listening.\n` +
            server.stderrTail(),
        );
      }
      if (await canConnect(options.port)) return server;
      await sleep(50);
    }
    await server.stop(1_000);
    throw new Error(
      `${options.name} did not listen on ${HOST}:${options.port} within ${options.startTimeoutMs} ms.\n${server.stderrTail()}`,
    );
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  stderrTail(): string {
    return this.#stderr.trim() === '' ? '(no stderr output)' : `stderr:\n${this.#stderr.trimEnd()}`;
  }

  /**
   * Peak resident set size of the child so far (VmHWM, in bytes): the kernel's own high-water mark, so no spike
   * between samples is missed. Null where /proc is unavailable or the child is gone.
   */
  peakRssBytes(): number | null {
    if (this.#child.pid === undefined || this.#exit !== null) return null;
    try {
      const status = readFileSync(`/proc/${this.#child.pid}/status`, 'utf8');
      const match = /^VmHWM:\s+(\d+)\s+kB$/m.exec(status);
      return match?.[1] === undefined ? null : Number(match[1]) * 1024;
    } catch {
      return null;
    }
  }

  /**
   * CPU time the child has used so far (user + system, seconds), from /proc/<pid>/stat; null where unavailable.
   * Shows how the two cores were shared between the server and the load generator.
   */
  cpuSeconds(): number | null {
    if (this.#child.pid === undefined || this.#exit !== null) return null;
    try {
      const stat = readFileSync(`/proc/${this.#child.pid}/stat`, 'utf8');
      // Fields after the command name, which is in parentheses and may itself contain spaces.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime and stime are fields 14 and 15 of the whole line, 12th and 13th after the name and state.
      const ticks = Number(fields[11]) + Number(fields[12]);
      return Number.isFinite(ticks) ? ticks / CLOCK_TICKS_PER_SECOND : null;
    } catch {
      return null;
    }
  }

  /** SIGTERM (the gateway then closes gracefully: in-flight requests, background work, group commit, database); SIGKILL after `graceMs`. */
  async stop(graceMs = 15_000): Promise<StopOutcome> {
    if (this.#exit !== null) return this.#exit;
    this.#child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<null>((resolve) => {
      timer = setTimeout(resolve, graceMs, null);
    });
    const outcome = await Promise.race([this.#exited, timedOut]);
    clearTimeout(timer);
    if (outcome !== null) return outcome;
    this.#child.kill('SIGKILL');
    const killed = await this.#exited;
    return { ...killed, graceful: false };
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: HOST, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
