/**
 * Tables for custom resources, as apiextensions-apiserver's tableconvertor builds them: a Name column,
 * then the version's additionalPrinterColumns (or, when it declares none, Age). Cells follow
 * `cellForJSONValue`: a string column prints the JSONPath result as text (lists as JSON), integer,
 * number and boolean columns pass values of their type through, date columns become ages ("5d"), and a
 * missing value or one of the wrong type is a null cell, which kubectl prints as <none>.
 */
import { evaluateJsonPath, jsonPathText, parseJsonPath } from "../jsonpath.js";
import type { KObject } from "../objects.js";
import type { PrinterColumn } from "../resources.js";
import { age, col, NAME, type ColumnDefinition, type Printer } from "./printer.js";

const CREATION_DESC =
  "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/** What a CRD version without additionalPrinterColumns prints (serveDefaultColumnsIfEmpty). */
const DEFAULT_COLUMNS: PrinterColumn[] = [{ name: "Age", type: "date", description: CREATION_DESC, jsonPath: ".metadata.creationTimestamp" }];

function cell(c: PrinterColumn, v: unknown, now: Date): unknown {
  if (v === undefined || v === null) return null;
  switch (c.type) {
    case "string":
      return jsonPathText(v);
    case "integer":
      return typeof v === "number" && Number.isInteger(v) ? v : null;
    case "number":
      return typeof v === "number" ? v : null;
    case "boolean":
      return typeof v === "boolean" ? v : null;
    case "date":
      if (typeof v !== "string") return null;
      return Number.isNaN(Date.parse(v)) ? "<invalid>" : age(v, now);
  }
}

/** The printer for a custom resource version with these additionalPrinterColumns. */
export function customPrinter(declared: PrinterColumn[]): Printer {
  const columns = declared.length ? declared : DEFAULT_COLUMNS;
  const paths = columns.map((c) => parseJsonPath(c.jsonPath));
  const defs: ColumnDefinition[] = [NAME, ...columns.map((c) => col(c.name, c.type, c.description ?? "", c.priority ?? 0, c.format ?? ""))];
  return {
    columns: defs,
    cells: (o: KObject, now: Date) => [o.metadata.name, ...columns.map((c, i) => (paths[i] ? cell(c, evaluateJsonPath(o, paths[i]!), now) : null))],
  };
}
