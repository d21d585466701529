import { createHash } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import nacl from 'tweetnacl';
import { handleControl, type ControlTarget } from './control-api.js';
import { ControlToken } from './control-token.js';
import { validateFaultsPatch } from './faults.js';
import { pathOf, writeAnswer, writeJson } from './http-io.js';
import { injectInbound } from './inbound.js';
import { PendingWork } from './pending-work.js';
import { ProviderEndpoint } from './provider-endpoint.js';
import { MessageRecords } from './records.js';
import { StatusCallbacks, type MessageFate } from './status-callbacks.js';
import { TelnyxDialect } from './telnyx-api.js';
import { TelnyxSigner } from './telnyx-webhooks.js';
import { TwilioDialect } from './twilio-api.js';
import type {
  CallbackStats,
  InboundInput,
  ProviderFaults,
  SimProvider,
  SimulatedMessage,
  SimulatorOptions,
  SimulatorStats,
} from './types.js';
import { WebhookSender } from './webhook-sender.js';

export type {
  CallbackOptions,
  CallbackStats,
  InboundInput,
  ProviderFaults,
  ScriptedFault,
  SimProvider,
  SimulatedMessage,
  SimulatorOptions,
  SimulatorStats,
} from './types.js';
export { SANDBOX_TWILIO_FROM } from './twilio-api.js';

/** Fixed sandbox credentials, shaped like real ones ('AC' + 32 hex, 32 hex), so tests and the gateway agree. */
export const SANDBOX_TWILIO: { accountSid: string; authToken: string } = {
  accountSid: 'AC6f3c2b8e4d1a7f9c0b5e2d8a4f1c7e3b',
  authToken: '9d4e2a7c1f8b3e6d0a5c9f2b7e4d1a8c',
};

/** The number the sandbox messaging profile sends from when a request names only the profile. */
export const SANDBOX_TELNYX_FROM = '+13125550001';

const sandboxSeed = new Uint8Array(
  createHash('sha256').update('switchboard simulator: Telnyx signing seed').digest(),
);

/** Fixed sandbox Telnyx account: API key (Telnyx's KEY..._... shape), signing seed and its public key, a profile. */
export const SANDBOX_TELNYX: {
  apiKey: string;
  signingSeed: Uint8Array;
  publicKey: string;
  messagingProfileId: string;
} = {
  apiKey: 'KEY0190A1B2C3D4E5F60718293A4B5C6D7E_SwitchboardSimulatorKey1',
  signingSeed: sandboxSeed,
  publicKey: Buffer.from(nacl.sign.keyPair.fromSeed(sandboxSeed).publicKey).toString('base64'),
  messagingProfileId: '4001767e-ce0f-4cae-9d5f-0d5e636e7809',
};

const DEFAULT_WAIT_MS = 5_000;
// Longer than any client's idle keep-alive (Node's agents keep 5 s; the SDKs' own less): the client, not the
// simulator, closes idle connections, so a request is never sent on a socket the server is closing.
const KEEP_ALIVE_TIMEOUT_MS = 65_000;

/**
 * A local stand-in for Twilio's Messages API and Telnyx's /v2/messages, reached by the official SDKs through their
 * base-URL settings. One node:http server answers both carriers, the status callbacks they would send, and a
 * control API (see control-api.ts).
 */
export class ProviderSimulator implements ControlTarget {
  readonly #server: http.Server;
  readonly #endpoints: Record<SimProvider, ProviderEndpoint>;
  readonly #records: MessageRecords;
  readonly #pending = new PendingWork();
  readonly #sender: WebhookSender;
  readonly #callbacks: StatusCallbacks;
  readonly #signer: TelnyxSigner;
  readonly #twilio: { accountSid: string; authToken: string };
  readonly #telnyxApiKey: string;
  readonly #telnyxProfileId: string | null;
  readonly #callbackTimeoutMs: number | undefined;
  readonly #now: () => number;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #held = new Set<ServerResponse>();
  readonly #controlToken: ControlToken;
  #defaultWebhookUrl: string | null;
  #url = '';
  #closing: Promise<void> | null = null;

  private constructor(options: SimulatorOptions) {
    this.#now = options.now ?? Date.now;
    this.#controlToken = new ControlToken(options.controlToken);
    const twilio = options.twilio ?? SANDBOX_TWILIO;
    this.#twilio = { accountSid: twilio.accountSid, authToken: twilio.authToken };
    const telnyx = options.telnyx ?? {
      apiKey: SANDBOX_TELNYX.apiKey,
      signingSeed: SANDBOX_TELNYX.signingSeed,
      messagingProfileFrom: { [SANDBOX_TELNYX.messagingProfileId]: SANDBOX_TELNYX_FROM },
    };
    const profileFrom = telnyx.messagingProfileFrom ?? {};
    this.#telnyxApiKey = telnyx.apiKey;
    this.#telnyxProfileId = Object.keys(profileFrom)[0] ?? null;
    this.#signer = new TelnyxSigner(telnyx.signingSeed);
    this.#defaultWebhookUrl = options.defaultWebhookUrl ?? null;
    this.#records = new MessageRecords(options.maxRecords ?? 200_000);

    const cb = options.callbacks ?? {};
    this.#callbackTimeoutMs = cb.timeoutMs;
    this.#sender = new WebhookSender({
      concurrency: cb.concurrency ?? 32,
      maxAttempts: cb.maxAttempts ?? 3,
      retryDelayMs: cb.retryDelayMs ?? 100,
      maxQueued: cb.maxQueued ?? 100_000,
      pending: this.#pending,
    });
    this.#callbacks = new StatusCallbacks({
      options: {
        enabled: cb.enabled ?? true,
        sentDelayMs: cb.sentDelayMs ?? 20,
        deliveredDelayMs: cb.deliveredDelayMs ?? 50,
        timeoutMs: cb.timeoutMs,
      },
      sender: this.#sender,
      pending: this.#pending,
      twilio: this.#twilio,
      telnyx: this.#signer,
      now: this.#now,
      receiptUtcOffsetMinutes: () => this.#endpoints.twilio.faults.receiptUtcOffsetMinutes,
    });

    const deps = {
      now: this.#now,
      seed: options.seed ?? 1,
      timers: this.#timers,
      hold: (res: ServerResponse) => {
        this.#held.add(res);
        res.on('close', () => this.#held.delete(res));
      },
      onAccepted: (message: SimulatedMessage, fate: MessageFate) => {
        this.#records.add(message);
        this.#callbacks.schedule(message, fate);
      },
    };
    this.#endpoints = {
      twilio: new ProviderEndpoint(new TwilioDialect(twilio), deps),
      telnyx: new ProviderEndpoint(
        new TelnyxDialect({
          apiKey: telnyx.apiKey,
          messagingProfileFrom: profileFrom,
          defaultWebhookUrl: () => this.#defaultWebhookUrl,
        }),
        deps,
      ),
    };

    this.#server = http.createServer((req, res) => this.#handle(req, res));
    this.#server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    this.#server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1_000;
  }

  static async start(options: SimulatorOptions = {}): Promise<ProviderSimulator> {
    const sim = new ProviderSimulator(options);
    await sim.#listen(options.host ?? '127.0.0.1', options.port ?? 0);
    return sim;
  }

  /** http://host:port */
  get url(): string {
    return this.#url;
  }

  /**
   * The control API's token, made at random for this start (or SimulatorOptions.controlToken): send it as
   * `Authorization: Bearer <token>` to /_sim/*. Whoever starts the simulator decides who else learns it.
   */
  get controlToken(): string {
    return this.#controlToken.value;
  }

  /** Replaces https://api.twilio.com (same as url). */
  get twilioApiBaseUrl(): string {
    return this.#url;
  }

  /** The telnyx SDK's baseURL (url + '/v2'). */
  get telnyxApiBaseUrl(): string {
    return `${this.#url}/v2`;
  }

  /** base64 of the Ed25519 public key: what the gateway's TELNYX_PUBLIC_KEY must be. */
  get telnyxPublicKey(): string {
    return this.#signer.publicKey;
  }

  get twilioCredentials(): { accountSid: string; authToken: string } {
    return { ...this.#twilio };
  }

  get telnyxApiKey(): string {
    return this.#telnyxApiKey;
  }

  /** The messaging profile whose number is used when a request names only the profile (null if none). */
  get telnyxMessagingProfileId(): string | null {
    return this.#telnyxProfileId;
  }

  get defaultWebhookUrl(): string | null {
    return this.#defaultWebhookUrl;
  }

  /** The gateway's port may be known only after it listens. */
  setDefaultWebhookUrl(url: string | null): void {
    this.#defaultWebhookUrl = url;
  }

  /**
   * Merges into the current faults; throws a TypeError on a malformed value. Setting mps starts the senders' queues
   * afresh (messages already queued keep their times); setting apiRequestsPerSecond refills its bucket.
   */
  setFaults(provider: SimProvider, faults: Partial<ProviderFaults>): void {
    this.#endpoints[provider].setFaults(validateFaultsPatch(faults));
  }

  resetFaults(provider?: SimProvider): void {
    for (const p of provider === undefined ? (['twilio', 'telnyx'] as const) : [provider]) {
      this.#endpoints[p].resetFaults();
    }
  }

  /** The current faults (a copy). */
  faults(provider: SimProvider): ProviderFaults {
    const f = this.#endpoints[provider].faults;
    return {
      ...f,
      script: f.script.map((s) => ({ ...s })),
      recipientErrors: { ...f.recipientErrors },
      deliveryFailures: { ...f.deliveryFailures },
    };
  }

  /** Accepted sends, in acceptance order. */
  messages(provider?: SimProvider): SimulatedMessage[] {
    return this.#records.list(provider);
  }

  stats(provider: SimProvider): SimulatorStats {
    return { ...this.#endpoints[provider].stats };
  }

  /** Outcomes of the webhooks the simulator posted (status callbacks and inbound). */
  callbackStats(): CallbackStats {
    return { ...this.#sender.stats };
  }

  /** Clears messages and stats (send and callback). */
  resetRecords(): void {
    this.#records.clear();
    this.#endpoints.twilio.resetStats();
    this.#endpoints.telnyx.resetStats();
    Object.assign(this.#sender.stats, { delivered: 0, failedAttempts: 0, abandoned: 0, dropped: 0 });
  }

  /** Resolves with all messages once `count` have been accepted (both carriers together); rejects on timeout. */
  waitForMessages(count: number, timeoutMs = DEFAULT_WAIT_MS): Promise<SimulatedMessage[]> {
    return this.#records.waitFor(count, timeoutMs);
  }

  /**
   * Posts a realistic inbound message webhook (Twilio form with SmsStatus received / Telnyx message.received),
   * signed exactly as the carrier signs, to webhookUrl (default: defaultWebhookUrl). Returns the receiver's HTTP
   * status; rejects when it cannot be reached.
   */
  injectInbound(input: InboundInput): Promise<{ status: number; providerMessageId: string }> {
    return injectInbound(input, {
      sender: this.#sender,
      twilio: this.#twilio,
      telnyx: this.#signer,
      telnyxMessagingProfileId: this.#telnyxProfileId,
      defaultWebhookUrl: this.#defaultWebhookUrl,
      now: this.#now,
      timeoutMs: this.#callbackTimeoutMs,
    });
  }

  /** Resolves when every scheduled status callback has been posted (or given up on). */
  callbacksIdle(): Promise<void> {
    return this.#pending.idle();
  }

  /** What a gateway needs to point at the simulator; never the auth token, API key or control token. */
  config(): Record<string, unknown> {
    return {
      url: this.url,
      twilioApiBaseUrl: this.twilioApiBaseUrl,
      telnyxApiBaseUrl: this.telnyxApiBaseUrl,
      twilioAccountSid: this.#twilio.accountSid,
      telnyxPublicKey: this.telnyxPublicKey,
      telnyxMessagingProfileId: this.#telnyxProfileId,
      defaultWebhookUrl: this.#defaultWebhookUrl,
    };
  }

  /** Stops timers and callbacks, destroys held sockets and every connection, and closes the server. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#callbacks.close();
    this.#sender.close();
    this.#pending.clear();
    this.#records.close();
    for (const res of this.#held) res.destroy();
    this.#held.clear();
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  #listen(host: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        const address = this.#server.address() as AddressInfo;
        const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
        this.#url = `http://${hostPart}:${address.port}`;
        resolve();
      });
    });
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const path = pathOf(req.url);
    const method = req.method ?? 'GET';
    if (path.startsWith('/_sim/')) {
      handleControl(this, this.#controlToken, req, res, path).catch((err: unknown) =>
        internalError(res, err),
      );
      return;
    }
    for (const endpoint of [this.#endpoints.twilio, this.#endpoints.telnyx]) {
      const route = endpoint.dialect.route(method, path);
      if (route === 'send') {
        endpoint.handleSend(req, res, path).catch((err: unknown) => internalError(res, err));
        return;
      }
      if (route === 'method-not-allowed') {
        writeAnswer(
          res,
          endpoint.dialect.error(405, endpoint.dialect.provider === 'twilio' ? '20004' : undefined),
        );
        return;
      }
    }
    // Unknown paths get the carrier's own 404 where the prefix says which carrier was meant.
    if (path.startsWith('/2010-04-01/'))
      writeAnswer(res, this.#endpoints.twilio.dialect.error(404, '20404', { path }));
    else if (path.startsWith('/v2/')) writeAnswer(res, this.#endpoints.telnyx.dialect.error(404));
    else writeJson(res, 404, { error: `the simulator has no route ${method} ${path}` });
    // The body of an unrouted request is not wanted, but must be read for the connection to be reused.
    req.resume();
  }
}

function internalError(res: ServerResponse, err: unknown): void {
  if (res.headersSent || res.destroyed) return;
  writeJson(res, 500, { error: err instanceof Error ? err.message : String(err) });
}
