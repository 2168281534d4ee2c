/**
 * What the dataplane programs into the kernel, as data: the supervisor executes these batched
 * (`ip -batch` per namespace, `iptables-restore --noflush` per namespace and table), and faults
 * return them to apply and to revert. `netns` is a namespace name inside the sandbox; "" is the
 * sandbox's root namespace (where the node network's bridge lives).
 */
export type NetOp =
  /** One `ip -batch` line, without the leading `ip`, e.g. `route add blackhole 10.233.64.0/24 proto bird`. */
  | { kind: "ip"; netns: string; line: string }
  /** One iptables rule spec as `iptables-restore` reads it, e.g. `-A FORWARD -s 10.0.0.1/32 -j DROP`. */
  | { kind: "iptables"; netns: string; table: "filter" | "nat" | "mangle" | "raw"; rule: string }
  /** A namespaced sysctl, e.g. key `net.ipv4.ip_forward`, value `1`. */
  | { kind: "sysctl"; netns: string; key: string; value: string };
