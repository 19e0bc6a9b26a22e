/** file_tail mode and the connector: byte cursor, rotation, polls, test-connection and health. */

export type { ConnectorDeps, FetchAlertsResult } from './connector.js';
export { KubernetesAuditConnector } from './connector.js';
export type { ConnectorCapability, ConnectorConfig, ConnectorConfigDefaults, ConnectorMode, WebhookRoute } from './connector-config.js';
export {
  CONNECTOR_CAPABILITIES,
  CONNECTOR_MODES,
  ConnectorConfigError,
  CURSOR_SUFFIX,
  DEFAULT_AUDIT_LOG_PATH,
  DEFAULT_POLL_INTERVAL_SECONDS,
  defaultCursorPath,
  describeConnectorConfig,
  parseConnectorConfig,
  WEBHOOK_ROUTES,
} from './connector-config.js';
export type { CursorReadResult, PreparedCursor, TailCursor } from './cursor.js';
export { prepareCursor, readCursor, writeCursor } from './cursor.js';
export type { TailShipFn, TailShipResult } from './deliver.js';
export { describeOpenError, HEAD_FINGERPRINT_BYTES } from './file.js';
export type { ConnectorHealth, PollSummary } from './health.js';
export { HealthTracker, summarisePoll } from './health.js';
export type { CursorReset, PollResult } from './poll.js';
export type { BackupFile } from './rotation.js';
export { backupNamePattern, listBackups } from './rotation.js';
export type { TailShipSettings } from './ship.js';
export { tailShipper } from './ship.js';
export type { TailerOptions } from './tailer.js';
export { FileTailer } from './tailer.js';
export type { ConnectionCheck, ConnectionReport, TestConnectionDeps } from './test-connection.js';
export { DEFAULT_TEST_TIMEOUT_MS, EMPTY_EVENT_LIST, inboxUrlFor, testConnection } from './test-connection.js';
