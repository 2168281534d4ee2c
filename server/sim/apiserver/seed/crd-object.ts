/**
 * A compact way to write the CustomResourceDefinitions the seed installs (MetalLB's, Calico's), and
 * the schema fragments they share. The objects are what `kubectl get crd <name> -o yaml` shows on a
 * cluster with those projects installed, minus long descriptions.
 */
import type { KObject } from "../objects.js";
import type { PrinterColumn } from "../resources.js";

type Schema = Record<string, unknown>;

/** One served version of a CRD declaration. */
export interface CrdVersionDecl {
  name: string;
  /** Exactly one version is the storage version. */
  storage: boolean;
  /** The version's openAPIV3Schema for spec (and status); apiVersion/kind/metadata are added. */
  spec: Schema;
  status?: Schema;
  description: string;
  columns?: PrinterColumn[];
  /** Serve a status subresource (MetalLB's CRDs do; Calico's do not). */
  statusSubresource?: boolean;
  required?: string[];
}

/** A CRD declaration: names, scope and versions. */
export interface CrdDecl {
  group: string;
  kind: string;
  plural: string;
  scope: "Namespaced" | "Cluster";
  shortNames?: string[];
  versions: CrdVersionDecl[];
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
}

const API_VERSION = {
  description:
    "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources",
  type: "string",
};
const KIND = {
  description:
    "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
  type: "string",
};

/** A CustomResourceDefinition object for the store. */
export function crdObject(d: CrdDecl): KObject {
  const singular = d.kind.toLowerCase();
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${d.plural}.${d.group}`, ...(d.annotations ? { annotations: d.annotations } : {}), ...(d.labels ? { labels: d.labels } : {}) },
    spec: {
      conversion: { strategy: "None" },
      group: d.group,
      names: { kind: d.kind, listKind: `${d.kind}List`, plural: d.plural, singular, ...(d.shortNames ? { shortNames: d.shortNames } : {}) },
      scope: d.scope,
      versions: d.versions.map((v) => ({
        ...(v.columns?.length ? { additionalPrinterColumns: v.columns } : {}),
        name: v.name,
        schema: {
          openAPIV3Schema: {
            description: v.description,
            properties: { apiVersion: API_VERSION, kind: KIND, metadata: { type: "object" }, spec: v.spec, ...(v.status ? { status: v.status } : {}) },
            ...(v.required ? { required: v.required } : {}),
            type: "object",
          },
        },
        served: true,
        storage: v.storage,
        ...(v.statusSubresource ? { subresources: { status: {} } } : {}),
      })),
    },
  };
}

/** Schema helpers for CRD declarations: a string, boolean, integer, list or object property. */
export const str = (description?: string, extra: Schema = {}): Schema => ({ ...(description ? { description } : {}), type: "string", ...extra });
export const bool = (description?: string, extra: Schema = {}): Schema => ({ ...(description ? { description } : {}), type: "boolean", ...extra });
export const int = (description?: string, extra: Schema = {}): Schema => ({ ...(description ? { description } : {}), type: "integer", ...extra });
export const list = (items: Schema, description?: string, extra: Schema = {}): Schema => ({ ...(description ? { description } : {}), items, type: "array", ...extra });
export const obj = (properties: Record<string, Schema>, description?: string, extra: Schema = {}): Schema => ({ ...(description ? { description } : {}), properties, type: "object", ...extra });
/** An object whose fields are not declared here (kept as sent). */
export const open = (description?: string): Schema => ({ ...(description ? { description } : {}), type: "object", "x-kubernetes-preserve-unknown-fields": true });

/** metav1.LabelSelector as controller-gen writes it into CRDs. */
export function labelSelector(description: string): Schema {
  return obj(
    {
      matchExpressions: list(
        obj(
          {
            key: str("key is the label key that the selector applies to."),
            operator: str("operator represents a key's relationship to a set of values. Valid operators are In, NotIn, Exists and DoesNotExist."),
            values: list(str(), "values is an array of string values. If the operator is In or NotIn, the values array must be non-empty. If the operator is Exists or DoesNotExist, the values array must be empty. This array is replaced during a strategic merge patch."),
          },
          "A label selector requirement is a selector that contains values, a key, and an operator that relates the key and values.",
          { required: ["key", "operator"] },
        ),
        "matchExpressions is a list of label selector requirements. The requirements are ANDed.",
      ),
      matchLabels: { additionalProperties: { type: "string" }, description: 'matchLabels is a map of {key,value} pairs. A single {key,value} in the matchLabels map is equivalent to an element of matchExpressions, whose key field is "key", the operator is "In", and the values array contains only "value". The requirements are ANDed.', type: "object" },
    },
    description,
    { "x-kubernetes-map-type": "atomic" },
  );
}
