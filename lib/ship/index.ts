/** The shared shipper: packs audit events into EventList bodies and POSTs them with retries. */

export {
  DEFAULT_BACKOFF_BASE_MS,
  DEFAULT_BACKOFF_CAP_MS,
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_MAX_EVENTS_PER_BATCH,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_SAFETY_MARGIN_MS,
  DEFAULT_SHIP_MAX_BODY_BYTES,
} from '../config/defaults.js';
export { ALLOW_INSECURE_HTTP_VAR, DEFAULT_SHIP_TLS, isLoopbackHost, plaintextUrlProblem, type ShipTls } from '../config/tls.js';
export type { EventText, JoinedLines } from './pack.js';
export { EVENT_LIST_PREFIX, EVENT_LIST_SUFFIX, eventBytes, eventListBytes, eventString, packEventLists, withoutJoins } from './pack.js';
export { readAuditId, shipEvents } from './ship.js';
export type { PackedBody, ShipFailure, ShipFailureKind, ShipOptions, ShipResult } from './types.js';
