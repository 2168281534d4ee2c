/**
 * Printer lookup by type key (`pods`, `deployments.apps`). A type missing here gets the generic
 * Name/Created At table, as built-ins without a printer (and CRD objects themselves) do; custom
 * resources get their CRD's additionalPrinterColumns (custom.ts).
 */
import { typeKey, type ResourceType } from "../resources.js";
import { leasePrinter, networkPolicyPrinter, webhookConfigurationPrinter } from "./cluster.js";
import { configMapPrinter, namespacePrinter, secretPrinter, serviceAccountPrinter } from "./config.js";
import { customPrinter } from "./custom.js";
import { defaultPrinter } from "./default.js";
import { eventPrinter } from "./events.js";
import { nodePrinter } from "./nodes.js";
import type { Printer } from "./printer.js";
import { podPrinter } from "./pods.js";
import { endpointSlicePrinter, endpointsPrinter, servicePrinter } from "./services.js";
import { daemonSetPrinter, deploymentPrinter, replicaSetPrinter } from "./workloads.js";

const PRINTERS: Record<string, Printer> = {
  pods: podPrinter,
  nodes: nodePrinter,
  services: servicePrinter,
  endpoints: endpointsPrinter,
  namespaces: namespacePrinter,
  configmaps: configMapPrinter,
  secrets: secretPrinter,
  serviceaccounts: serviceAccountPrinter,
  events: eventPrinter,
  "deployments.apps": deploymentPrinter,
  "replicasets.apps": replicaSetPrinter,
  "daemonsets.apps": daemonSetPrinter,
  "networkpolicies.networking.k8s.io": networkPolicyPrinter,
  "leases.coordination.k8s.io": leasePrinter,
  "endpointslices.discovery.k8s.io": endpointSlicePrinter,
  "validatingwebhookconfigurations.admissionregistration.k8s.io": webhookConfigurationPrinter,
  "mutatingwebhookconfigurations.admissionregistration.k8s.io": webhookConfigurationPrinter,
};

/** Printers of custom types, built once per column set (a CRD update brings a new set). */
const customPrinters = new WeakMap<object, Printer>();

export function printerFor(t: ResourceType): Printer {
  if (t.custom) {
    let p = customPrinters.get(t.custom.columns);
    if (!p) {
      p = customPrinter(t.custom.columns);
      customPrinters.set(t.custom.columns, p);
    }
    return p;
  }
  return PRINTERS[typeKey(t)] ?? defaultPrinter;
}

export type { ColumnDefinition, Printer } from "./printer.js";
