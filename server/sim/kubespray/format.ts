import type { EffectiveVar, InventoryEvaluation, VarSource } from "./evaluate.js";

/** Long values (lists, mappings) are cut so the table stays readable in a terminal. */
const MAX_VALUE = 48;

function valueText(value: unknown): string {
  const s = typeof value === "string" ? value : JSON.stringify(value) ?? "null";
  return s.length > MAX_VALUE ? `${s.slice(0, MAX_VALUE - 1)}…` : s;
}

function sourceText(source: VarSource, derivedFrom?: string): string {
  if (source.kind === "default") return derivedFrom ? `default (= ${derivedFrom})` : `kubespray ${source.version} default`;
  const at = `${source.file}:${source.line}`;
  return derivedFrom ? `${at} (= ${derivedFrom})` : at;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

/**
 * The table `faultline sandbox vars` prints: each variable's effective value and where it came from
 * ("file:line", "kubespray v2.19 default", or "default (= kube_network_node_prefix)" for a default that
 * follows another variable), then the variables kubespray never reads, with a did-you-mean.
 *
 * @example
 * kubespray v2.19, Calico v3.22.3
 *
 * NAME                      VALUE           SOURCE
 * kube_pods_subnet          10.233.64.0/22  inventory/group_vars/k8s_cluster/k8s-cluster.yml:4
 * kube_network_node_prefix  24              kubespray v2.19 default
 * calico_pool_blocksize     24              default (= kube_network_node_prefix)
 */
export function formatVars(ev: InventoryEvaluation): string {
  const rows = Object.values(ev.vars).map((v: EffectiveVar) => [v.name, valueText(v.value), sourceText(v.source, v.derivedFrom)]);
  const out = [`kubespray ${ev.kubesprayVersion}, Calico ${ev.calicoVersion}`, "", table(["NAME", "VALUE", "SOURCE"], rows), ""];
  if (ev.ignored.length === 0) {
    out.push("set but not read by kubespray: none");
  } else {
    out.push("set but not read by kubespray (Ansible ignores these without a warning):");
    out.push(table(["NAME", "VALUE", "SOURCE", "DID YOU MEAN"], ev.ignored.map((i) => [i.name, valueText(i.value), `${i.file}:${i.line}`, i.didYouMean ?? "-"])));
  }
  return out.join("\n") + "\n";
}
