// Placeholder until the forwarder issue lands.
export const handler = async (): Promise<void> => {
  throw new Error('forwarder is not built yet');
};
