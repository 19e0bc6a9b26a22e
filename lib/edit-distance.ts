/**
 * Levenshtein distance (insertions, deletions, substitutions) between two strings: how a mistyped
 * command or config field is matched to the name meant (`closestCommand`, `closestName`).
 */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length] as number;
}

// A typo's closest name: compared without case and separators (auditLogPath, audit-log-path), at
// most two edits apart, so "audit_logpath" is named and an unrelated key is not guessed at.
function squash(name: string): string {
  return name.toLowerCase().replace(/[\s_-]/g, '');
}

/** The known name `name` is most likely a typo of, or null. */
export function closestName(name: string, known: Iterable<string>): string | null {
  let best: string | null = null;
  let bestDistance = 3;
  for (const candidate of known) {
    const d = editDistance(squash(name), squash(candidate));
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}
