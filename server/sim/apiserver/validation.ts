/**
 * Object validation with the texts of k8s.io/apimachinery/pkg/util/validation. Only what every object
 * has (name, namespace, labels) is checked for now; kind-specific validation grows here.
 */
import type { KObject } from "./objects.js";
import type { NameRule, ResourceType } from "./resources.js";
import type { FieldError } from "./status.js";

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

const LABEL_MSG =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS1035_MSG =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

/** The problems with `name` under `rule`, worded like the apimachinery validators (empty when valid). */
export function nameProblems(name: string, rule: NameRule): string[] {
  const out: string[] = [];
  switch (rule) {
    case "dns1123Label":
      if (name.length > 63) out.push("must be no more than 63 characters");
      if (!DNS1123_LABEL.test(name)) out.push(LABEL_MSG);
      break;
    case "dns1035Label":
      if (name.length > 63) out.push("must be no more than 63 characters");
      if (!DNS1035_LABEL.test(name)) out.push(DNS1035_MSG);
      break;
    case "dns1123Subdomain":
      if (name.length > 253) out.push("must be no more than 253 characters");
      if (!DNS1123_SUBDOMAIN.test(name)) out.push(SUBDOMAIN_MSG);
      break;
    case "pathSegment":
      if (name === "." || name === "..") out.push(`may not be '${name}'`);
      if (name.includes("/")) out.push(`may not contain '/'`);
      if (name.includes("%")) out.push(`may not contain '%'`);
      break;
  }
  return out;
}

/** Validation run on create and update; an empty result means valid. */
export function validateObject(t: ResourceType, obj: KObject): FieldError[] {
  const errs: FieldError[] = [];
  const name = obj.metadata.name ?? "";
  if (name === "") {
    errs.push({ field: "metadata.name", type: "FieldValueRequired", detail: "name or generateName is required" });
  } else {
    for (const p of nameProblems(name, t.nameRule)) errs.push({ field: "metadata.name", type: "FieldValueInvalid", value: name, detail: p });
  }
  if (t.namespaced) {
    const ns = obj.metadata.namespace ?? "";
    if (ns === "") errs.push({ field: "metadata.namespace", type: "FieldValueRequired", detail: "" });
    else for (const p of nameProblems(ns, "dns1123Label")) errs.push({ field: "metadata.namespace", type: "FieldValueInvalid", value: ns, detail: p });
  }
  for (const [k, v] of Object.entries(obj.metadata.labels ?? {})) {
    if (v.length > 63 || !/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(v)) {
      errs.push({
        field: "metadata.labels",
        type: "FieldValueInvalid",
        value: v,
        detail:
          "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
      });
    }
    if (!/^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(k)) {
      errs.push({
        field: "metadata.labels",
        type: "FieldValueInvalid",
        value: k,
        detail:
          "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
      });
    }
  }
  return errs;
}
