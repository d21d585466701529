import { replyProblem } from '../core/inbound.js';
import type { Reply } from '../core/provider.js';
import type { PostResult } from './post.js';

/** What an app's 2xx answer to `message.received` asks for. */
export type AnswerReading =
  | { kind: 'reply'; reply: Reply }
  /** An empty answer, or JSON without `reply`: no reply. */
  | { kind: 'none' }
  /** The answer tried to reply and cannot be sent; `reason` is logged (the message is kept either way). */
  | { kind: 'refused'; reason: string };

/**
 * Reads `{ "reply": { "body": "...", "mediaUrls": ["https://..."] } }` from an answer. A plain-text answer ("OK") is
 * no reply; an answer that says it is JSON and is not, or a reply that cannot be sent, is refused with a reason.
 */
export function readAnswer(answer: Pick<PostResult, 'body' | 'contentType' | 'bodyTooLarge'>): AnswerReading {
  if (answer.bodyTooLarge) return { kind: 'refused', reason: 'the answer is larger than 64 KiB' };
  const text = answer.body?.trim() ?? '';
  if (text === '') return { kind: 'none' };
  const saysJson = answer.contentType?.includes('json') ?? false;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return saysJson ? { kind: 'refused', reason: 'the answer is not valid JSON' } : { kind: 'none' };
  }
  if (typeof value !== 'object' || value === null || !('reply' in value)) return { kind: 'none' };
  const reply = (value as { reply: unknown }).reply;
  if (reply === null || reply === undefined) return { kind: 'none' };
  if (typeof reply !== 'object' || Array.isArray(reply)) {
    return { kind: 'refused', reason: '"reply" is not an object' };
  }
  const problem = replyProblem(reply as Reply);
  return problem === null ? { kind: 'reply', reply: reply as Reply } : { kind: 'refused', reason: problem };
}
