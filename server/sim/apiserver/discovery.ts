/**
 * Discovery documents, all derived from the resource registry: /version, /api, /api/v1, /apis,
 * /apis/<group>, /apis/<group>/<version>, and the aggregated form (apidiscovery.k8s.io/v2 and v2beta1,
 * k8s.io/api/apidiscovery/v2 types) that kubectl v1.30+ asks /api and /apis for first. Plain discovery
 * stays complete on its own, so older clients and clients that do not ask for aggregation work too.
 */
import { apiGroups, RESOURCE_TYPES, type ResourceType } from "./resources.js";

/** Build facts of the kube-apiserver releases the labs install, as its /version reports them. */
const BUILDS: Record<string, { gitCommit: string; buildDate: string; goVersion: string }> = {
  "v1.24.6": { gitCommit: "b39bf148cd654599a52e867485c02c4f9d28b312", buildDate: "2022-09-21T13:12:04Z", goVersion: "go1.18.6" },
};

/** The /version body (version.Info) for `gitVersion` such as "v1.24.6". */
export function versionInfo(gitVersion: string): Record<string, string> {
  const m = /^v(\d+)\.(\d+)/.exec(gitVersion);
  const build = BUILDS[gitVersion];
  return {
    major: m?.[1] ?? "1",
    minor: m?.[2] ?? "0",
    gitVersion,
    gitCommit: build?.gitCommit ?? "",
    gitTreeState: "clean",
    buildDate: build?.buildDate ?? "",
    goVersion: build?.goVersion ?? "",
    compiler: "gc",
    platform: "linux/amd64",
  };
}

const SUBRESOURCE_VERBS = ["get", "patch", "update"];

/** What a subresource answers with: the object itself for status, autoscaling/v1 Scale for scale. */
function subresourceKind(t: ResourceType, sub: "status" | "scale"): { group: string; version: string; kind: string } {
  return sub === "scale" ? { group: "autoscaling", version: "v1", kind: "Scale" } : { group: t.group, version: t.version, kind: t.kind };
}

function resourceEntries(t: ResourceType): Array<Record<string, unknown>> {
  const main: Record<string, unknown> = { name: t.plural, singularName: t.singular, namespaced: t.namespaced, kind: t.kind, verbs: t.verbs };
  if (t.shortNames.length) main.shortNames = t.shortNames;
  if (t.categories.length) main.categories = t.categories;
  const subs = t.subresources.map((s) => {
    const k = subresourceKind(t, s);
    return { name: `${t.plural}/${s}`, singularName: "", namespaced: t.namespaced, ...(k.group !== t.group ? { group: k.group, version: k.version } : {}), kind: k.kind, verbs: SUBRESOURCE_VERBS };
  });
  return [main, ...subs];
}

/** /api: the legacy group's versions. `serverAddress` is host:port as clients reach this server. */
export function apiVersions(serverAddress: string): Record<string, unknown> {
  return { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }] };
}

/**
 * /api/v1 or /apis/<group>/<version>; undefined when no such group version is served. `served` is the
 * server's registry (built-ins and CRDs); the default, the built-ins alone, is for tests.
 */
export function resourceList(group: string, version: string, served: readonly ResourceType[] = RESOURCE_TYPES): Record<string, unknown> | undefined {
  const types = served.filter((t) => t.group === group && t.version === version);
  if (types.length === 0) return undefined;
  const resources = types.flatMap(resourceEntries);
  // the core list is the one APIResourceList kube-apiserver sends without apiVersion
  return group === ""
    ? { kind: "APIResourceList", groupVersion: version, resources }
    : { kind: "APIResourceList", apiVersion: "v1", groupVersion: `${group}/${version}`, resources };
}

function groupEntry(g: { name: string; versions: string[] }): Record<string, unknown> {
  const versions = g.versions.map((v) => ({ groupVersion: `${g.name}/${v}`, version: v }));
  return { name: g.name, versions, preferredVersion: versions[0] };
}

/** /apis */
export function apiGroupList(served: readonly ResourceType[] = RESOURCE_TYPES): Record<string, unknown> {
  return { kind: "APIGroupList", apiVersion: "v1", groups: apiGroups(served).map(groupEntry) };
}

/** /apis/<group>; undefined for an unknown group. */
export function apiGroup(name: string, served: readonly ResourceType[] = RESOURCE_TYPES): Record<string, unknown> | undefined {
  const g = apiGroups(served).find((x) => x.name === name);
  return g ? { kind: "APIGroup", apiVersion: "v1", ...groupEntry(g) } : undefined;
}

function discoveryResource(t: ResourceType): Record<string, unknown> {
  const r: Record<string, unknown> = {
    resource: t.plural,
    responseKind: { group: t.group, version: t.version, kind: t.kind },
    scope: t.namespaced ? "Namespaced" : "Cluster",
    singularResource: t.singular,
    verbs: t.verbs,
  };
  if (t.shortNames.length) r.shortNames = t.shortNames;
  if (t.categories.length) r.categories = t.categories;
  if (t.subresources.length) {
    r.subresources = t.subresources.map((s) => ({ subresource: s, responseKind: subresourceKind(t, s), verbs: SUBRESOURCE_VERBS }));
  }
  return r;
}

/**
 * The aggregated discovery document: for /api (`legacy`) the core group, for /apis every named group.
 * `version` is the apidiscovery version the client asked for (the shapes are identical).
 */
export function aggregatedDiscovery(legacy: boolean, version: "v2" | "v2beta1", served: readonly ResourceType[] = RESOURCE_TYPES): Record<string, unknown> {
  const groups = legacy ? [{ name: "", versions: ["v1"] }] : apiGroups(served);
  const items = groups.map((g) => ({
    metadata: { ...(g.name ? { name: g.name } : {}), creationTimestamp: null },
    versions: g.versions.map((v) => ({
      version: v,
      resources: served.filter((t) => t.group === g.name && t.version === v).map(discoveryResource),
      freshness: "Current",
    })),
  }));
  return { kind: "APIGroupDiscoveryList", apiVersion: `apidiscovery.k8s.io/${version}`, metadata: {}, items };
}
