/**
 * Edit distance with adjacent transpositions (optimal string alignment), so "kube_netwrok" is one
 * edit from "kube_network": swapped letters are the most common typo in hand-written variable names.
 */
export function editDistance(a: string, b: string): number {
  return boundedDistance(a, b, Infinity);
}

// Three rows of the table (i-2, i-1, i) are all the recurrence reads, reused from call to call: every
// ignored name of an inventory is compared with every kubespray variable on the way to a ready sandbox.
let rows = [new Uint32Array(64), new Uint32Array(64), new Uint32Array(64)] as const;

/**
 * editDistance(a, b) when it is at most `limit`, else some number above `limit`: it stops once a whole
 * row of the table exceeds the limit (a row's minimum never decreases further down).
 */
function boundedDistance(a: string, b: string, limit: number): number {
  const cols = b.length + 1;
  if (rows[0].length < cols) rows = [new Uint32Array(cols), new Uint32Array(cols), new Uint32Array(cols)];
  let [before, prev, cur] = rows;
  for (let j = 0; j < cols; j++) prev[j] = j;
  let prevMin = 0; // row 0's
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    let rowMin = i;
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, before[j - 2]! + 1);
      cur[j] = best;
      if (best < rowMin) rowMin = best;
    }
    // A transposition reads two rows back, so the row before must be over the limit too.
    if (rowMin > limit && prevMin > limit) return limit + 1;
    prevMin = rowMin;
    [before, prev, cur] = [prev, cur, before];
  }
  return prev[b.length]!;
}

/** A name's words in sorted order. */
function sortWords(s: string): string {
  return s.split("_").filter(Boolean).sort().join("_");
}

/** sortWords of candidates, kept: they are mostly kubespray's fixed list of variables, met again for every name. */
const candidateWords = new Map<string, string>();
function words(s: string): string {
  let w = candidateWords.get(s);
  if (w === undefined) candidateWords.set(s, (w = sortWords(s)));
  return w;
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
  const nameWords = sortWords(name);
  let best: { candidate: string; score: number } | undefined;
  for (const candidate of candidates) {
    if (candidate === name) continue;
    // A reordering of the same words counts as a single edit: it is clearly the same variable. Names
    // whose lengths differ by more than the limit are further apart than it: no need to compute how far.
    const score =
      nameWords === words(candidate) ? 1 : Math.abs(name.length - candidate.length) > limit ? Infinity : boundedDistance(name, candidate, best ? best.score : limit);
    if (score <= limit && (!best || score < best.score)) best = { candidate, score };
  }
  return best?.candidate;
}
