// Placeholder until the ingest issue lands: answers 503 like a stock install with the webhook off.
export const handler = async (): Promise<{ statusCode: number; body: string }> => ({
  statusCode: 503,
  body: JSON.stringify({ error: 'ingest is not built yet' }),
});
