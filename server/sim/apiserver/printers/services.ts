import { AGE, NAME, age, arr, col, formatLabels, get, num, text, type Printer } from "./printer.js";

function externalIP(o: unknown): string {
  const spec = get(o, "spec");
  const external = arr(get(spec, "externalIPs")).map(text);
  switch (text(get(spec, "type"))) {
    case "ClusterIP":
    case "NodePort":
      return external.length ? external.join(",") : "<none>";
    case "LoadBalancer": {
      const lb = arr(get(o, "status", "loadBalancer", "ingress")).map((i) => text(get(i, "ip")) || text(get(i, "hostname"))).filter(Boolean);
      const all = [...lb, ...external];
      return all.length ? all.join(",") : "<pending>";
    }
    case "ExternalName":
      return text(get(spec, "externalName"));
  }
  return "<unknown>";
}

/** makePortString: `443/TCP`, `80:30080/TCP` with a node port. */
function ports(o: unknown): string {
  const out = arr(get(o, "spec", "ports")).map((p) => {
    const np = num(get(p, "nodePort"));
    return np > 0 ? `${num(get(p, "port"))}:${np}/${text(get(p, "protocol"))}` : `${num(get(p, "port"))}/${text(get(p, "protocol"))}`;
  });
  return out.length ? out.join(",") : "<none>";
}

export const servicePrinter: Printer = {
  columns: [
    NAME,
    col("Type", "string", "The type of the service."),
    col("Cluster-IP", "string", "The cluster-internal IP of the service."),
    col("External-IP", "string", "The external IPs of the service."),
    col("Port(s)", "string", "The ports of the service."),
    AGE,
    col("Selector", "string", "Route service traffic to pods with label keys and values matching this selector. If empty or not present, the service is assumed to have an external process managing its endpoints, which Kubernetes will not modify. Only applies to types ClusterIP, NodePort, and LoadBalancer. Ignored if type is ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/", 1),
  ],
  cells: (o, now) => [
    o.metadata.name,
    text(get(o, "spec", "type")),
    text(get(o, "spec", "clusterIPs", 0)) || text(get(o, "spec", "clusterIP")) || "<none>",
    externalIP(o),
    ports(o),
    age(o.metadata.creationTimestamp, now),
    formatLabels(get(o, "spec", "selector")),
  ],
};

/** formatEndpoints: at most three `ip:port` then " + N more...". */
function endpoints(o: unknown): string {
  const subsets = arr(get(o, "subsets"));
  if (subsets.length === 0) return "<none>";
  const list: string[] = [];
  const max = 3;
  let more = false;
  let count = 0;
  for (const ss of subsets) {
    const addrs = arr(get(ss, "addresses"));
    const ps = arr(get(ss, "ports"));
    if (ps.length === 0) {
      for (const a of addrs) {
        if (list.length === max) more = true;
        if (!more) list.push(text(get(a, "ip")));
        count++;
      }
    } else {
      for (const p of ps) {
        for (const a of addrs) {
          if (list.length === max) more = true;
          const ip = text(get(a, "ip"));
          if (!more) list.push(`${ip.includes(":") ? `[${ip}]` : ip}:${num(get(p, "port"))}`);
          count++;
        }
      }
    }
  }
  const joined = list.join(",");
  return more ? `${joined} + ${count - max} more...` : joined;
}

export const endpointsPrinter: Printer = {
  columns: [NAME, col("Endpoints", "string", "Endpoints of the service"), AGE],
  cells: (o, now) => [o.metadata.name, endpoints(o), age(o.metadata.creationTimestamp, now)],
};
