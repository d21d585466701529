import { SwitchboardError } from '../core/errors.js';
import type { FormParams } from '../core/webhook.js';

// Total readers for untrusted carrier payloads: they return undefined rather than throw on a wrong type, so each
// adapter decides which absences are fatal (invalid_payload) and which are optional.

export type Json = Record<string, unknown>;

export function asObject(value: unknown): Json | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}

export function asString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** A form parameter's value; the first one if the parameter was repeated. */
export function formValue(params: FormParams, name: string): string | undefined {
  const value = params[name];
  return Array.isArray(value) ? value[0] : value;
}

export function requireField<T>(value: T | undefined, field: string, provider: string): T {
  if (value === undefined || value === '') {
    throw new SwitchboardError('invalid_payload', `The ${provider} webhook has no ${field}.`);
  }
  return value;
}

/** A non-negative integer from a carrier's numeric field (which may arrive as a string), else null. */
export function asCount(value: unknown): number | null {
  const n =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^\d+$/.test(value)
        ? Number(value)
        : NaN;
  return Number.isSafeInteger(n) && n >= 0 ? n : null;
}
