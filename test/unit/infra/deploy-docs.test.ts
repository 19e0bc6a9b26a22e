// docs/deploy.md's Deploy section against the templates: a resource, parameter, function variable
// or grant added to a template and not to the page (or left on the page after it is gone) fails
// here. templates.test.ts holds the two templates to each other, so the SAM template stands for
// both where one is enough.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCfnYaml, PARAM_NAMES } from '../../helpers/infra-cfn.js';

const ROOT = join(import.meta.dirname, '../../..');
type Obj = Record<string, unknown>;

const page = readFileSync(join(ROOT, 'docs/deploy.md'), 'utf8');
const sam = loadCfnYaml(join(ROOT, 'infra/template.yaml')) as {
  Parameters: Record<string, { Default?: string }>;
  Resources: Record<string, { Type: string; Properties: Obj }>;
};
const sls = loadCfnYaml(join(ROOT, 'serverless.yml')) as {
  params: { default: Record<string, unknown> };
  functions: Record<string, { environment?: Obj }>;
};

/** The body rows of the table whose header line starts with `header`, as trimmed cells. */
function table(header: string): string[][] {
  const lines = page.split('\n');
  const start = lines.findIndex((l) => l.startsWith(header));
  if (start < 0) throw new Error(`no table ${header} in docs/deploy.md`);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(
      line
        .slice(1, -1)
        .split('|')
        .map((c) => c.trim()),
    );
  }
  return rows;
}

/** The `code` spans of a piece of Markdown. */
const codes = (text: string | undefined): string[] => [...(text ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1] as string);

/** A template value as the page writes it: empty, or the literal in backticks. */
const written = (value: string) => (value === '' ? 'empty' : `\`${value}\``);

/** The SAM functions' logical ids by the names the page (and serverless.yml) gives them. */
const FUNCTIONS: Record<string, string> = { forwarder: 'Forwarder', ingest: 'Ingest' };

/** The variables the SAM template sets on a function (by the page's name for it). */
function samVars(name: string): Obj {
  const id = FUNCTIONS[name] ?? name;
  return (sam.Resources[id]?.Properties.Environment as { Variables?: Obj } | undefined)?.Variables ?? {};
}

describe('docs/deploy.md', () => {
  it('names every resource of the stack in its resource table, and no other', () => {
    const rows = table('| resource |');
    const named = rows.flatMap((r) => codes(r[0]));
    const alarms = Object.entries(sam.Resources).filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm');
    for (const [id, r] of Object.entries(sam.Resources)) {
      if (r.Type !== 'AWS::CloudWatch::Alarm') expect(named, id).toContain(id);
    }
    // The alarms are one row here, each one its own row (or a shared one) in the alarm table.
    const WORDS = [
      'no',
      'one',
      'two',
      'three',
      'four',
      'five',
      'six',
      'seven',
      'eight',
      'nine',
      'ten',
      'eleven',
      'twelve',
      'thirteen',
      'fourteen',
      'fifteen',
      'sixteen',
      'seventeen',
      'eighteen',
    ];
    expect(rows.map((r) => r[0]).join(' ')).toContain(`the ${WORDS[alarms.length]} \`…Alarm\`s`);
    const alarmRows = table('| alarm |').flatMap((r) => codes(r[0]));
    expect(alarmRows.sort()).toEqual(alarms.map(([id]) => id).sort());
    const stale = named.filter((n) => /^[A-Z]/.test(n) && !n.includes('…') && !(n in sam.Resources));
    expect(stale).toEqual([]);
  });

  it('gives each function’s routes', () => {
    const rows = table('| resource |');
    for (const [name, id] of Object.entries(FUNCTIONS)) {
      const row = rows.find((r) => codes(r[0]).includes(id))?.[1] ?? '';
      const events = (sam.Resources[id]?.Properties.Events ?? {}) as Record<string, { Type: string; Properties: Obj }>;
      for (const e of Object.values(events).filter((e) => e.Type === 'HttpApi')) {
        expect(codes(row), name).toContain(`${e.Properties.Method} ${e.Properties.Path}`);
      }
    }
  });

  it('pairs every osls param with the SAM parameter that sets the same variables, with its default', () => {
    const rows = table('| osls param | SAM parameter |');
    const pairs = rows.map((r) => [codes(r[0])[0] ?? '', codes(r[1])[0] ?? ''] as const);
    expect(pairs.map(([p]) => p).sort()).toEqual(Object.keys(sls.params.default).sort());
    expect(pairs.map(([, p]) => p).sort()).toEqual(Object.keys(sam.Parameters).sort());
    // The pairs templates.test.ts holds the two templates to.
    expect([...pairs].sort()).toEqual([...Object.entries(PARAM_NAMES), ['ingestUrl', 'IngestOrigin']].sort());
    const setBySam = (param: string) =>
      Object.keys(FUNCTIONS)
        .flatMap((name) =>
          Object.entries(samVars(name))
            .filter(([, v]) => JSON.stringify(v).includes(`{"Ref":"${param}"}`) || JSON.stringify(v).includes(`\${${param}}`))
            .map(([k]) => `${name} ${k}`),
        )
        .sort();
    // A param whose default is computed (the ingest URL) is read with that default written out, as osls does.
    const slsValue = (v: unknown): string => {
      const whole = typeof v === 'string' ? /^\$\{param:(\w+)\}$/.exec(v)?.[1] : undefined;
      const fallback = whole === undefined ? undefined : sls.params.default[whole];
      return JSON.stringify(v) + (typeof fallback === 'object' ? JSON.stringify(fallback) : '');
    };
    const setBySls = (param: string) =>
      Object.keys(FUNCTIONS)
        .flatMap((name) =>
          Object.entries(sls.functions[name]?.environment ?? {})
            .filter(([, v]) => slsValue(v).includes(`\${param:${param}}`))
            .map(([k]) => `${name} ${k}`),
        )
        .sort();
    for (const [slsName, samName] of pairs) {
      expect(setBySls(slsName), `${slsName} / ${samName}`).toEqual(setBySam(samName));
      const fallback = sls.params.default[slsName];
      // A computed default (the stack's own ingest URL) is described in words.
      if (typeof fallback === 'string') {
        const row = rows.find((r) => codes(r[0])[0] === slsName);
        expect(row?.[2], slsName).toBe(written(fallback));
        expect(sam.Parameters[samName]?.Default, samName).toBe(fallback);
      }
    }
  });

  it('lists every variable the templates set on each function, with its literal value', () => {
    const rows = table('| function | variable |').flatMap((r) =>
      (r[0] === 'both' ? Object.keys(FUNCTIONS) : [r[0] ?? '']).map((fn) => ({ fn, name: codes(r[1])[0] ?? '', value: r[2] ?? '' })),
    );
    const documented = rows.map((r) => `${r.fn} ${r.name}`).sort();
    for (const name of Object.keys(FUNCTIONS)) {
      const vars = samVars(name);
      expect(Object.keys(sls.functions[name]?.environment ?? {}).sort()).toEqual(Object.keys(vars).sort());
      for (const [k, v] of Object.entries(vars)) {
        expect(documented, `${name} ${k}`).toContain(`${name} ${k}`);
        if (typeof v === 'string') expect(rows.find((r) => r.fn === name && r.name === k)?.value, k).toContain(written(v));
      }
    }
    expect(documented).toHaveLength(Object.keys(FUNCTIONS).flatMap((name) => Object.keys(samVars(name))).length);
  });

  it('names every grant of each role in its Permissions paragraph, with what it is on', () => {
    const start = page.indexOf('**Permissions.**');
    const paragraph = page.slice(start, page.indexOf('\n\n', start)).replace(/\s+/g, ' ');
    const parts: Record<string, string> = {
      ForwarderRole: paragraph.slice(0, paragraph.indexOf('Ingest:')),
      IngestRole: paragraph.slice(paragraph.indexOf('Ingest:')),
    };
    // What the paragraph calls each resource, or the parameter a conditional grant reads.
    const TARGETS: Record<string, string> = {
      ForwarderLogGroup: 'its own log group',
      IngestLogGroup: 'its own log group',
      ForwarderFailureQueue: 'the failure queue',
      SharedSecret: 'the shared secret',
      AuditEventsStream: 'the events stream',
      AuditAlertsQueue: 'the alerts queue',
      AuditRejectsQueue: 'the rejects queue',
      InboxTokensTable: 'the inbox table',
      RulesObject: '`RulesObject` names',
      TenantSecretsArn: '`TenantSecretsArn` names',
    };
    for (const [role, text] of Object.entries(parts)) {
      const policies = (sam.Resources[role]?.Properties.Policies ?? []) as { PolicyDocument: { Statement: Obj[] } }[];
      const statements = policies
        .flatMap((p) => p.PolicyDocument.Statement)
        .map((s) => (s['Fn::If'] === undefined ? s : ((s['Fn::If'] as unknown[])[1] as Obj)));
      for (const s of statements) {
        const actions = [s.Action]
          .flat()
          .map((a) => `\`${String(a)}\``)
          .join('/');
        const json = JSON.stringify(s.Resource);
        const target = Object.keys(TARGETS).find((t) => json.includes(`"${t}"`));
        if (target === undefined) throw new Error(`${role}: no words for the resource ${json}; add them to the page and here`);
        // Each mention of the actions up to the next action named: one must say what it is on.
        const clauses = text
          .split(actions)
          .slice(1)
          .map((after) => after.split(/`[a-z0-9]+:[A-Za-z]+`/)[0] ?? '');
        expect(
          clauses.some((c) => c.includes(TARGETS[target] as string)),
          `${role}: ${actions} on ${target}`,
        ).toBe(true);
      }
    }
  });
});
