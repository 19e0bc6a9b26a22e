// The licence texts of the third-party packages bundled into each artefact, written beside it as
// THIRD-PARTY-NOTICES.txt. The bundles are minified with their comments dropped (legalComments
// 'none'), and a deployment package is a copy of these packages' code handed to the operator: MIT
// asks that the copyright and permission notice go with every copy, Apache-2.0 that the licence
// and any NOTICE file do. Packages are found from esbuild's metafile (the inputs each bundle read).
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The package directory an input path lies in (`node_modules/@scope/name`), or null for the project's own files. */
function packageDir(input) {
  const at = input.lastIndexOf('node_modules/');
  if (at === -1) return null;
  const parts = input.slice(at + 'node_modules/'.length).split('/');
  const name = parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  return `${input.slice(0, at)}node_modules/${name}`;
}

/** The package directories of every bundled input of esbuild results. */
export function bundledPackages(...results) {
  const dirs = new Set();
  for (const r of results) {
    for (const input of Object.keys(r.metafile?.inputs ?? {})) {
      const dir = packageDir(input);
      if (dir !== null) dirs.add(dir);
    }
  }
  return [...dirs];
}

const LEGAL_FILE = /^(licen[cs]e|notice|copying)(\.|-|$)/i;

/** Writes `file`: each package's name, version, declared licence and licence/notice files, in name order. */
export async function writeNotices(file, packageDirs) {
  const sections = [];
  for (const dir of packageDirs) {
    const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'));
    const names = (await readdir(dir)).filter((n) => LEGAL_FILE.test(n)).sort();
    const texts = await Promise.all(names.map((n) => readFile(join(dir, n), 'utf8')));
    const body =
      texts.length > 0
        ? texts.map((t) => t.trim()).join('\n\n')
        : `(no licence file in the package; package.json declares ${pkg.license ?? 'none'})`;
    sections.push({ name: pkg.name, text: `${pkg.name}@${pkg.version} (${pkg.license ?? 'licence not declared'})\n\n${body}` });
  }
  // One section per package name and version: a package nested twice is one entry.
  const unique = [...new Map(sections.map((s) => [s.text, s])).values()].sort((a, b) => a.name.localeCompare(b.name));
  const rule = `\n\n${'-'.repeat(78)}\n\n`;
  await writeFile(
    file,
    `Third-party software bundled in this artefact, with the licence and notice files each package ships.\n\n${unique.map((s) => s.text).join(rule)}\n`,
  );
}
