import { describe, expect, it } from 'vitest';
import { clusterFromLogGroup, isAuditStream } from '../../../lib/cloudwatch/index.js';

describe('clusterFromLogGroup', () => {
  it.each([
    ['/aws/eks/prod-eks-us-east-1/cluster', 'prod-eks-us-east-1'],
    ['/aws/eks/a_b/cluster', 'a_b'],
    ['/aws/eks/prod/cluster/extra', null],
    ['/aws/lambda/fn', null],
    ['', null],
  ])('reads %j as %j', (group, cluster) => {
    expect(clusterFromLogGroup(group)).toBe(cluster);
  });
});

describe('isAuditStream', () => {
  it('takes apiserver audit streams and leaves the other control-plane streams', () => {
    expect(isAuditStream('kube-apiserver-audit-4f0b7e3c9a1d2e5f')).toBe(true);
    expect(isAuditStream('kube-apiserver-4f0b7e3c9a1d2e5f')).toBe(false);
    expect(isAuditStream('authenticator-4f0b7e3c9a1d2e5f')).toBe(false);
    expect(isAuditStream('kube-scheduler-4f0b7e3c9a1d2e5f')).toBe(false);
  });

  it('uses a configured prefix', () => {
    expect(isAuditStream('audit/node-1', 'audit/')).toBe(true);
    expect(isAuditStream('kube-apiserver-audit-1', 'audit/')).toBe(false);
  });
});
