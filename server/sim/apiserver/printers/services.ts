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

/** listWithMoreString: at most three items, then " + N more..."; `empty` when there are none. */
function listWithMore(items: string[], empty: string): string {
  const max = 3;
  if (items.length > max) return `${items.slice(0, max).join(",")} + ${items.length - max} more...`;
  return items.length ? items.join(",") : empty;
}

/** formatEndpoints: every address per port (`ip:port`, or the bare ip for a subset without ports), at most three shown. */
function endpoints(o: unknown): string {
  const subsets = arr(get(o, "subsets"));
  if (subsets.length === 0) return "<none>";
  const list: string[] = [];
  for (const ss of subsets) {
    const addrs = arr(get(ss, "addresses")).map((a) => text(get(a, "ip")));
    const ps = arr(get(ss, "ports"));
    if (ps.length === 0) list.push(...addrs);
    else for (const p of ps) for (const ip of addrs) list.push(`${ip.includes(":") ? `[${ip}]` : ip}:${num(get(p, "port"))}`);
  }
  return listWithMore(list, "");
}

export const endpointsPrinter: Printer = {
  columns: [NAME, col("Endpoints", "string", "Endpoints of the service"), AGE],
  cells: (o, now) => [o.metadata.name, endpoints(o), age(o.metadata.creationTimestamp, now)],
};

/** printEndpointSlice: ports as numbers (or names, or "*"), endpoints as their addresses. */
export const endpointSlicePrinter: Printer = {
  columns: [
    NAME,
    col("AddressType", "string", "addressType specifies the type of address carried by this EndpointSlice. All addresses in this slice must be the same type. This field is immutable after creation. The following address types are currently supported: * IPv4: Represents an IPv4 Address. * IPv6: Represents an IPv6 Address. * FQDN: Represents a Fully Qualified Domain Name."),
    col("Ports", "string", "ports specifies the list of network ports exposed by each endpoint in this slice. Each port must have a unique name. When ports is empty, it indicates that there are no defined ports. When a port is defined with a nil port value, it indicates \"all ports\". Each slice may include a maximum of 100 ports."),
    col("Endpoints", "string", "endpoints is a list of unique endpoints in this slice. Each slice may include a maximum of 1000 endpoints."),
    AGE,
  ],
  cells: (o, now) => [
    o.metadata.name,
    text(get(o, "addressType")),
    listWithMore(arr(get(o, "ports")).map((p) => (get(p, "port") !== undefined && get(p, "port") !== null ? String(num(get(p, "port"))) : text(get(p, "name")) || "*")), "<unset>"),
    listWithMore(arr(get(o, "endpoints")).flatMap((e) => arr(get(e, "addresses")).map(text)), "<unset>"),
    age(o.metadata.creationTimestamp, now),
  ],
};
