// `npm run load -- --overload --pin` splits the machine's CPUs between serve and the sender (the
// posters and the apiserver stand-in): these are the lists it hands to taskset.
import { describe, expect, it } from 'vitest';
import { pinnedCpus } from '../../load/overload.js';

describe('pinnedCpus', () => {
  it.each([
    [2, '0', '1'],
    [3, '0', '1-2'],
    [4, '0-1', '2-3'],
    [16, '0-7', '8-15'],
  ])('on %i CPUs gives serve %s and the sender %s', (cpus, server, sender) => {
    expect(pinnedCpus(cpus)).toEqual({ server, sender });
  });

  it('refuses a single CPU, where there is nothing to split', () => {
    expect(() => pinnedCpus(1)).toThrow('--pin needs at least 2 CPUs; this machine has 1');
  });
});
