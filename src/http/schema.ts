import { Type } from '@sinclair/typebox';

/** A string enum as JSON Schema (`enum`, which ajv checks and OpenAPI shows) typed as the union of its values. */
export const literalUnion = <T extends readonly string[]>(values: T) =>
  Type.Unsafe<T[number]>({ type: 'string', enum: [...values] });
