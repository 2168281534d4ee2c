/**
 * Built-in workloads for sim sandboxes: what the supervisor starts in a pod's network namespace,
 * chosen from the pod, and the objects the API server seeds for them.
 *
 * @example
 * const argv = workloadArgv(pod, box);            // null: the pod runs no workload
 * if (argv) spawn("nsenter", [`--net=/run/netns/${netns}`, "--", process.execPath, ...argv]);
 * for (const o of metallbWebhookObjects(pki.ca.cert)) store.create("validatingwebhookconfigurations.admissionregistration.k8s.io", o);
 */
export { workloadFor, workloadArgv, WORKLOAD_MAIN, WORKLOAD_NAMES } from "./select.js";
export type { PodIdentity, WorkloadChoice, WorkloadName } from "./select.js";
export { metallbWebhookObjects } from "./metallb-objects.js";
export type { MetallbWebhookObjectsOptions } from "./metallb-objects.js";
export { startMetallbWebhook, ensureWebhookCert, webhookDnsNames, handleWebhookRequest, apiPoolLister, WEBHOOK_PATHS, WEBHOOK_SERVICE_NAMES, METALLB_VERSION } from "./metallb-webhook.js";
export type { MetallbWebhookOptions, MetallbRelease, WebhookCert, WebhookContext, HttpReply, ClusterPools } from "./metallb-webhook.js";
export { startHttpEcho, echoText } from "./http-echo.js";
export type { HttpEchoOptions } from "./http-echo.js";
export { validatePools, validateL2Advertisement, parseAddresses, listWithUpdate, METALLB_NAMESPACE } from "./metallb-config.js";
export { startCoreDns, respondDns, corednsSockets, corednsRelays, corednsBanner, isCoreDnsPod, COREFILE, COREDNS_VERSION, COREDNS_PORTS, FORWARD_TIMEOUT_MS } from "./coredns.js";
export type { CoreDnsOptions, CoreDnsSockets, CoreDnsRelay, ResponderOptions, DnsResponse } from "./coredns.js";
export { apiClusterSource, staticClusterSource } from "./coredns-source.js";
export type { ClusterSource, ClusterView, ApiSourceOptions } from "./coredns-source.js";
export type { RunningWorkload } from "./types.js";
