import { AGE, NAME, age, arr, col, get, text, type Printer } from "./printer.js";

function count(v: unknown): number {
  return v && typeof v === "object" ? Object.keys(v).length : 0;
}

export const namespacePrinter: Printer = {
  columns: [NAME, col("Status", "string", "The status of the namespace"), AGE],
  cells: (o, now) => [o.metadata.name, text(get(o, "status", "phase")), age(o.metadata.creationTimestamp, now)],
};

export const configMapPrinter: Printer = {
  columns: [NAME, col("Data", "string", "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process."), AGE],
  cells: (o, now) => [o.metadata.name, count(o.data) + count(o.binaryData), age(o.metadata.creationTimestamp, now)],
};

export const secretPrinter: Printer = {
  columns: [NAME, col("Type", "string", "The type of the secret"), col("Data", "string", "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4"), AGE],
  cells: (o, now) => [o.metadata.name, text(o.type), count(o.data), age(o.metadata.creationTimestamp, now)],
};

export const serviceAccountPrinter: Printer = {
  columns: [NAME, col("Secrets", "string", "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use. Pods are only limited to this list if this service account has a \"kubernetes.io/enforce-mountable-secrets\" annotation set to \"true\". This field should not be used to find auto-generated service account token secrets for use outside of pods. Instead, tokens can be requested directly using the TokenRequest API, or service account token secrets can be manually created. More info: https://kubernetes.io/docs/concepts/configuration/secret"), AGE],
  cells: (o, now) => [o.metadata.name, arr(o.secrets).length, age(o.metadata.creationTimestamp, now)],
};
