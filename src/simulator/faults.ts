import type { ProviderFaults, ScriptedFault } from './types.js';

/** A US carrier on UTC-5: far enough from UTC that reading RawDlrDoneDate as UTC is visibly wrong. */
export const DEFAULT_RECEIPT_UTC_OFFSET_MINUTES = -300;

export function defaultFaults(): ProviderFaults {
  return {
    mps: null,
    maxQueueSeconds: null,
    validitySeconds: null,
    apiRequestsPerSecond: null,
    receiptUtcOffsetMinutes: DEFAULT_RECEIPT_UTC_OFFSET_MINUTES,
    latencyMs: 0,
    errorRate: 0,
    timeoutRate: 0,
    down: false,
    authFailure: false,
    script: [],
    recipientErrors: {},
    deliveryFailures: {},
  };
}

/**
 * Merges a patch into the current faults. The script and the number tables are copied, so a caller mutating its
 * own object afterwards changes nothing here.
 */
export function mergeFaults(current: ProviderFaults, patch: Partial<ProviderFaults>): ProviderFaults {
  const next = { ...current, ...withoutUndefined(patch) };
  next.script = next.script.map((f) => ({ ...f }));
  next.recipientErrors = { ...next.recipientErrors };
  next.deliveryFailures = { ...next.deliveryFailures };
  return next;
}

function withoutUndefined(patch: Partial<ProviderFaults>): Partial<ProviderFaults> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(patch)) if (v !== undefined) out[k] = v;
  return out as Partial<ProviderFaults>;
}

/**
 * Checks a faults patch that arrived as JSON (the control API) or from a caller without type checks. Throws a
 * TypeError naming the first bad field, so a typo in a test's fault setup fails loudly instead of silently.
 */
export function validateFaultsPatch(input: unknown): Partial<ProviderFaults> {
  if (!isRecord(input)) throw new TypeError('faults must be a JSON object');
  const out: Partial<ProviderFaults> = {};
  for (const [key, value] of Object.entries(input)) {
    // Absent, as in an object spread of optional settings.
    if (value === undefined) continue;
    switch (key) {
      case 'mps':
      case 'apiRequestsPerSecond':
      case 'maxQueueSeconds':
      case 'validitySeconds':
        if (value !== null && !(typeof value === 'number' && value > 0 && Number.isFinite(value)))
          throw new TypeError(`${key} must be a positive number or null`);
        out[key] = value;
        break;
      case 'receiptUtcOffsetMinutes':
        // Real zones run from UTC-12 to UTC+14.
        if (typeof value !== 'number' || !Number.isInteger(value) || value < -720 || value > 840)
          throw new TypeError('receiptUtcOffsetMinutes must be a whole number of minutes from -720 to 840');
        out.receiptUtcOffsetMinutes = value;
        break;
      case 'latencyMs':
        out.latencyMs = nonNegative(key, value);
        break;
      case 'errorRate':
      case 'timeoutRate':
        if (typeof value !== 'number' || !(value >= 0 && value <= 1))
          throw new TypeError(`${key} must be a number from 0 to 1`);
        out[key] = value;
        break;
      case 'down':
      case 'authFailure':
        if (typeof value !== 'boolean') throw new TypeError(`${key} must be a boolean`);
        out[key] = value;
        break;
      case 'script':
        if (!Array.isArray(value)) throw new TypeError('script must be an array');
        out.script = value.map(validateScripted);
        break;
      case 'recipientErrors':
      case 'deliveryFailures':
        out[key] = stringTable(key, value);
        break;
      default:
        throw new TypeError(`unknown fault '${key}'`);
    }
  }
  return out;
}

function validateScripted(value: unknown, i: number): ScriptedFault {
  if (!isRecord(value)) throw new TypeError(`script[${i}] must be an object`);
  const { status, code, retryAfterSeconds } = value;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 400 || status > 599)
    throw new TypeError(`script[${i}].status must be an HTTP error status (400-599)`);
  const fault: ScriptedFault = { status };
  if (code !== undefined) {
    if (typeof code !== 'string' && typeof code !== 'number')
      throw new TypeError(`script[${i}].code must be a string`);
    fault.code = String(code);
  }
  if (retryAfterSeconds !== undefined)
    fault.retryAfterSeconds = nonNegative('retryAfterSeconds', retryAfterSeconds);
  return fault;
}

function stringTable(key: string, value: unknown): Record<string, string> {
  if (!isRecord(value)) throw new TypeError(`${key} must be an object of number -> error code`);
  const out: Record<string, string> = {};
  for (const [number, code] of Object.entries(value)) {
    if (typeof code !== 'string' && typeof code !== 'number')
      throw new TypeError(`${key}['${number}'] must be an error code`);
    out[number] = String(code);
  }
  return out;
}

function nonNegative(key: string, value: unknown): number {
  if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value))
    throw new TypeError(`${key} must be a non-negative number`);
  return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * mulberry32: a tiny seeded PRNG. errorRate and timeoutRate draw from it so a run with the same seed and the same
 * sequence of requests fails the same requests.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
