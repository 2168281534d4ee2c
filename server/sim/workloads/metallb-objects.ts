/**
 * The ValidatingWebhookConfiguration MetalLB's manifest installs, for seeding into the sandbox API
 * server: `metallb-webhook-configuration` as config/manifests/metallb-native.yaml has it (v0.14: six
 * webhooks behind `metallb-webhook-service`; v0.13: seven, with the legacy AddressPool one, behind
 * `webhook-service`), with caBundle set to the sandbox CA that signed the webhook's certificate.
 *
 * Fields the manifest leaves out are left out here too (timeoutSeconds, matchPolicy, namespaceSelector,
 * objectSelector, rules[].scope, service.port): kube-apiserver defaults them on create (10, Equivalent,
 * {}, {}, "*", 443), and `kubectl get -o yaml` on a real cluster shows the defaulted values.
 */
import { METALLB_NAMESPACE } from "./metallb-config.js";

/** Options of {@link metallbWebhookObjects}. */
export interface MetallbWebhookObjectsOptions {
  /** Which manifest to reproduce; default v0.14 (the flagship lab's service name). */
  release?: "v0.13" | "v0.14";
  /** Overrides the webhook Service's name (default: the release's). */
  serviceName?: string;
  /** MetalLB's namespace; default metallb-system. */
  namespace?: string;
}

interface HookSpec {
  name: string;
  path: string;
  version: "v1beta1" | "v1beta2";
  resource: string;
  operations: string[];
}

const CU = ["CREATE", "UPDATE"];

/** v0.13.7's list, in the manifest's order. */
const V013: HookSpec[] = [
  { name: "bgppeersvalidationwebhook.metallb.io", path: "/validate-metallb-io-v1beta2-bgppeer", version: "v1beta2", resource: "bgppeers", operations: CU },
  { name: "addresspoolvalidationwebhook.metallb.io", path: "/validate-metallb-io-v1beta1-addresspool", version: "v1beta1", resource: "addresspools", operations: CU },
  { name: "bfdprofilevalidationwebhook.metallb.io", path: "/validate-metallb-io-v1beta1-bfdprofile", version: "v1beta1", resource: "bfdprofiles", operations: ["CREATE", "DELETE"] },
  { name: "bgpadvertisementvalidationwebhook.metallb.io", path: "/validate-metallb-io-v1beta1-bgpadvertisement", version: "v1beta1", resource: "bgpadvertisements", operations: CU },
  { name: "communityvalidationwebhook.metallb.io", path: "/validate-metallb-io-v1beta1-community", version: "v1beta1", resource: "communities", operations: CU },
  { name: "ipaddresspoolvalidationwebhook.metallb.io", path: "/validate-metallb-io-v1beta1-ipaddresspool", version: "v1beta1", resource: "ipaddresspools", operations: CU },
  { name: "l2advertisementvalidationwebhook.metallb.io", path: "/validate-metallb-io-v1beta1-l2advertisement", version: "v1beta1", resource: "l2advertisements", operations: CU },
];

/** v0.14 dropped the legacy AddressPool webhook (the CRD was removed). */
const V014 = V013.filter((h) => h.resource !== "addresspools");

/**
 * The objects to seed: one ValidatingWebhookConfiguration, keys in the manifest's (alphabetical)
 * order, caBundle the base64 of `caCertPem`.
 *
 * @example store.create("validatingwebhookconfigurations.admissionregistration.k8s.io", metallbWebhookObjects(pki.ca.cert)[0])
 */
export function metallbWebhookObjects(caCertPem: string, opts: MetallbWebhookObjectsOptions = {}): object[] {
  const release = opts.release ?? "v0.14";
  const serviceName = opts.serviceName ?? (release === "v0.13" ? "webhook-service" : "metallb-webhook-service");
  const namespace = opts.namespace ?? METALLB_NAMESPACE;
  const caBundle = Buffer.from(caCertPem, "utf8").toString("base64");
  const hooks = (release === "v0.13" ? V013 : V014).map((h) => ({
    admissionReviewVersions: ["v1"],
    clientConfig: { caBundle, service: { name: serviceName, namespace, path: h.path } },
    failurePolicy: "Fail",
    name: h.name,
    rules: [{ apiGroups: ["metallb.io"], apiVersions: [h.version], operations: [...h.operations], resources: [h.resource] }],
    sideEffects: "None",
  }));
  return [
    {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingWebhookConfiguration",
      metadata: { name: "metallb-webhook-configuration" },
      webhooks: hooks,
    },
  ];
}
