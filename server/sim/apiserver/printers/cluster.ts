import { formatLabelSelector } from "../selectors.js";
import { AGE, NAME, age, arr, col, get, text, type Printer } from "./printer.js";

export const networkPolicyPrinter: Printer = {
  columns: [NAME, col("Pod-Selector", "string", "Selects the pods to which this NetworkPolicy object applies. The array of ingress rules is applied to any pods selected by this field. Multiple network policies can select the same set of pods. In this case, the ingress rules for each are combined additively. This field is NOT optional and follows standard label selector semantics. An empty podSelector matches all pods in this namespace."), AGE],
  cells: (o, now) => [o.metadata.name, formatLabelSelector(get(o, "spec", "podSelector")), age(o.metadata.creationTimestamp, now)],
};

export const leasePrinter: Printer = {
  columns: [NAME, col("Holder", "string", "The holder of the lease"), AGE],
  cells: (o, now) => [o.metadata.name, text(get(o, "spec", "holderIdentity")), age(o.metadata.creationTimestamp, now)],
};

export const webhookConfigurationPrinter: Printer = {
  columns: [NAME, col("Webhooks", "integer", "Webhooks is a list of webhooks and the affected resources and operations."), AGE],
  cells: (o, now) => [o.metadata.name, arr(o.webhooks).length, age(o.metadata.creationTimestamp, now)],
};
