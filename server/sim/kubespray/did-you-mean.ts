/**
 * Edit distance with adjacent transpositions (optimal string alignment), so "kube_netwrok" is one
 * edit from "kube_network": swapped letters are the most common typo in hand-written variable names.
 */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** Same words in another order: `kube_node_network_prefix` for `kube_network_node_prefix`. */
function sameWords(a: string, b: string): boolean {
  const words = (s: string) => s.split("_").filter(Boolean).sort().join("_");
  return a !== b && words(a) === words(b);
}

/**
 * The candidate closest to `name`, or undefined when none is close enough to be a plausible typo.
 * The threshold grows with the name (about one edit per six characters, at least two) because long
 * kubespray names differ from each other by whole words, short ones by a letter or two.
 *
 * @example suggest("kube_network_pod_prefix", ["kube_network_node_prefix", "kube_pods_subnet"]) === "kube_network_node_prefix"
 */
export function suggest(name: string, candidates: Iterable<string>): string | undefined {
  const limit = Math.max(2, Math.floor(name.length / 6));
  let best: { candidate: string; score: number } | undefined;
  for (const candidate of candidates) {
    if (candidate === name) continue;
    // A reordering of the same words counts as a single edit: it is clearly the same variable.
    const score = sameWords(name, candidate) ? 1 : editDistance(name, candidate);
    if (score <= limit && (!best || score < best.score)) best = { candidate, score };
  }
  return best?.candidate;
}
