import { promisify } from 'node:util';
import { BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from './errors.js';

type Inflate = (body: Buffer, opts: { maxOutputLength: number }) => Promise<Buffer>;

// node:zlib is loaded by the first compressed body, not in a Lambda's init (most senders,
// the apiserver's webhook among them, send identity).
let inflaters: Promise<{ gunzip: Inflate; inflate: Inflate }> | undefined;
const loadInflaters = () => {
  inflaters ??= import('node:zlib').then((z) => ({ gunzip: promisify(z.gunzip) as Inflate, inflate: promisify(z.inflate) as Inflate }));
  return inflaters;
};

/**
 * Undoes `Content-Encoding` (identity, gzip, deflate) with a hard cap on the output: zlib's
 * `maxOutputLength` stops inflating at the cap, so a gzip bomb costs no more memory than the cap.
 * Throws 413 over the cap, 400 for a truncated or corrupt stream, 415 for another coding.
 */
export async function decodeContent(body: Buffer, contentEncoding: string | undefined, maxBytes: number): Promise<Buffer> {
  const codings = (contentEncoding ?? '')
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
  if (codings.length === 0) return body;
  if (codings.length > 1)
    throw new UnsupportedMediaTypeError(
      `Content-Encoding ${JSON.stringify(contentEncoding)} is not supported; send identity, gzip or deflate`,
    );
  const coding = codings[0];
  const gzip = coding === 'gzip' || coding === 'x-gzip';
  if (!gzip && coding !== 'deflate')
    throw new UnsupportedMediaTypeError(`Content-Encoding ${JSON.stringify(coding)} is not supported; send identity, gzip or deflate`);
  const { gunzip, inflate } = await loadInflaters();
  try {
    return await (gzip ? gunzip : inflate)(body, { maxOutputLength: maxBytes });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new PayloadTooLargeError(
        `request body inflates to more than ${maxBytes} bytes (K8S_AUDIT_MAX_BODY_BYTES); lower the apiserver's --audit-webhook-batch-max-size or raise K8S_AUDIT_MAX_BODY_BYTES`,
      );
    }
    throw new BadRequestError(`request body is not valid ${coding} data (${(err as Error).message})`, { cause: err });
  }
}

/** Whether a Content-Type names JSON (`application/json`, `application/*+json`); a missing one is accepted. */
export function isJsonContentType(contentType: string | undefined): boolean {
  if (contentType === undefined || contentType.trim() === '') return true;
  const media = (contentType.split(';')[0] ?? '').trim().toLowerCase();
  return media === 'application/json' || (media.startsWith('application/') && media.endsWith('+json'));
}
