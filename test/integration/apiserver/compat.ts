/**
 * The kubectl compatibility list: invocations a trainee would plausibly type against the flagship
 * cluster, in order (later ones see what earlier ones created), each with the output the real
 * kube-apiserver v1.24 would produce. kubectl.test.ts runs every entry with the real binary and reports
 * the pass ratio; entries marked `pending` name the issue-3 feature they wait for and are run too, so
 * the ratio counts them honestly. Manifests applied from files are in test/fixtures/apiserver.
 */
import path from "node:path";
import { projectRoot } from "../../../server/paths.js";

/** A manifest under test/fixtures/apiserver, by absolute path (kubectl runs with another cwd). */
const fixture = (name: string) => path.join(projectRoot, "test", "fixtures", "apiserver", name);
const WIDGET_BAD = '{"apiVersion":"example.faultline.dev/v1","kind":"Widget","metadata":{"name":"bad"},"spec":{"size":0}}';

/** What kubectl.test.ts puts in netshoot's log file (this harness has no sandbox, so no workload writes it). */
export const NETSHOOT_LOG = "listening on :8080\nGET / 200\n";

export interface CompatCase {
  /** The arguments after `kubectl`. */
  args: string[];
  /** Every pattern must match stdout + stderr. */
  expect: RegExp[];
  /** Patterns that must not match. */
  reject?: RegExp[];
  /** Expected exit code; default 0. */
  exit?: number;
  /** Which credential the kubeconfig carries; default the admin certificate. */
  as?: "admin" | "stranger";
  stdin?: string;
  /** Not expected to work yet: why. */
  pending?: string;
}

const readyNode = (name: string, role: string) => new RegExp(`^${name}\\s+Ready\\s+${role}\\s+\\S+\\s+v1\\.24\\.6$`, "m");

export const COMPAT: CompatCase[] = [
  { args: ["version"], expect: [/^Server Version: v1\.24\.6$/m] },
  { args: ["cluster-info"], expect: [/Kubernetes control plane is running at https:\/\/127\.0\.0\.1:\d+/] },
  {
    args: ["get", "nodes"],
    expect: [/^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION$/m, readyNode("cp-1", "control-plane"), ...[1, 2, 3, 4, 5, 6].map((i) => readyNode(`worker-${i}`, "<none>"))],
  },
  {
    args: ["get", "nodes", "-o", "wide"],
    expect: [/^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION\s+INTERNAL-IP\s+EXTERNAL-IP\s+OS-IMAGE\s+KERNEL-VERSION\s+CONTAINER-RUNTIME$/m, /^worker-3\s+Ready\s+<none>\s+\S+\s+v1\.24\.6\s+192\.168\.10\.13\s+<none>\s+.+\s+containerd:\/\/1\.6\.8$/m],
  },
  { args: ["get", "no", "worker-3", "-o", "jsonpath={.spec.podCIDR}"], expect: [/^10\.233\.64\.0\/25$/] },
  {
    args: ["get", "pods", "-A", "-o", "wide"],
    expect: [
      /^NAMESPACE\s+NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s+NOMINATED NODE\s+READINESS GATES$/m,
      /^metallb-system\s+controller-7d9cf7f8b-x2kqv\s+1\/1\s+Running\s+0\s+\S+\s+10\.233\.64\.1\s+worker-3\s+<none>\s+<none>$/m,
      /^kube-system\s+coredns-645b46f4b6-7pl9x\s+1\/1\s+Running\s+0\s+\S+\s+10\.233\.64\.129\s+worker-1\s+/m,
    ],
  },
  { args: ["get", "svc", "-n", "metallb-system"], expect: [/^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE$/m, /^metallb-webhook-service\s+ClusterIP\s+10\.233\.0\.10\s+<none>\s+443\/TCP\s+\S+$/m] },
  { args: ["get", "svc", "kubernetes"], expect: [/^kubernetes\s+ClusterIP\s+10\.233\.0\.1\s+<none>\s+443\/TCP\s+\S+$/m] },
  { args: ["get", "ep", "-n", "kube-system", "coredns"], expect: [/^coredns\s+10\.233\.64\.129:53,10\.233\.65\.1:53,10\.233\.64\.129:53 \+ 1 more\.\.\.\s+\S+$/m] },
  {
    args: ["api-resources"],
    expect: [
      /^NAME\s+SHORTNAMES\s+APIVERSION\s+NAMESPACED\s+KIND$/m,
      /^pods\s+po\s+v1\s+true\s+Pod$/m,
      /^services\s+svc\s+v1\s+true\s+Service$/m,
      /^nodes\s+no\s+v1\s+false\s+Node$/m,
      /^deployments\s+deploy\s+apps\/v1\s+true\s+Deployment$/m,
      /^networkpolicies\s+netpol\s+networking\.k8s\.io\/v1\s+true\s+NetworkPolicy$/m,
      /^validatingwebhookconfigurations\s+admissionregistration\.k8s\.io\/v1\s+false\s+ValidatingWebhookConfiguration$/m,
      /^customresourcedefinitions\s+crd,crds\s+apiextensions\.k8s\.io\/v1\s+false\s+CustomResourceDefinition$/m,
      /^leases\s+coordination\.k8s\.io\/v1\s+true\s+Lease$/m,
      /^endpointslices\s+discovery\.k8s\.io\/v1\s+true\s+EndpointSlice$/m,
    ],
  },
  { args: ["get", "ns"], expect: [/^default\s+Active\s+\S+$/m, /^metallb-system\s+Active\s+\S+$/m, /^kube-node-lease\s+Active\s+\S+$/m] },
  { args: ["get", "deploy", "-n", "kube-system"], expect: [/^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE$/m, /^coredns\s+2\/2\s+2\s+2\s+\S+$/m] },
  { args: ["get", "all", "-n", "metallb-system"], expect: [/^pod\/controller-7d9cf7f8b-x2kqv\s+1\/1\s+Running/m, /^service\/metallb-webhook-service\s+ClusterIP/m, /^deployment\.apps\/controller\s+1\/1/m, /^replicaset\.apps\/controller-7d9cf7f8b\s+1\s+1\s+1/m] },
  { args: ["get", "pods", "-n", "kube-system", "--field-selector", "spec.nodeName=worker-1", "-o", "name"], expect: [/^pod\/coredns-645b46f4b6-7pl9x$/m], reject: [/worker-2|m2xsv/] },
  { args: ["get", "pods", "-A", "-l", "app=metallb", "--show-labels"], expect: [/^metallb-system\s+controller-7d9cf7f8b-x2kqv\s+.*app=metallb,component=controller,pod-template-hash=7d9cf7f8b$/m] },
  { args: ["get", "pods", "--field-selector", "foo=bar"], exit: 1, expect: [/^Error from server \(BadRequest\): Unable to find "\/v1, Resource=pods" that match label selector "", field selector "foo=bar": field label not supported: foo$/m] },
  { args: ["get", "pod", "nope"], exit: 1, expect: [/^Error from server \(NotFound\): pods "nope" not found$/m] },
  { args: ["get", "deploy", "nope", "-n", "kube-system"], exit: 1, expect: [/^Error from server \(NotFound\): deployments\.apps "nope" not found$/m] },
  { args: ["describe", "pod", "-n", "metallb-system", "controller-7d9cf7f8b-x2kqv"], expect: [/^Node:\s+worker-3\/192\.168\.10\.13$/m, /^Controlled By:\s+ReplicaSet\/controller-7d9cf7f8b$/m, /^\s+Image:\s+quay\.io\/metallb\/controller:v0\.13\.7$/m] },
  {
    args: ["get", "pods", "-n", "kube-system"],
    expect: [
      /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/m,
      /^calico-node-[bcdfghjklmnpqrstvwxz2456789]{5}\s+1\/1\s+Running\s+0\s+\S+$/m,
      /^kube-proxy-[bcdfghjklmnpqrstvwxz2456789]{5}\s+1\/1\s+Running\s+0\s+\S+$/m,
      /^nodelocaldns-[bcdfghjklmnpqrstvwxz2456789]{5}\s+1\/1\s+Running\s+0\s+\S+$/m,
      /^kube-apiserver-cp-1\s+1\/1\s+Running\s+0\s+\S+$/m,
      /^kube-controller-manager-cp-1\s+1\/1\s+Running/m,
      /^kube-scheduler-cp-1\s+1\/1\s+Running/m,
    ],
    reject: [/^etcd-/m],
  },
  {
    args: ["get", "pods", "-n", "kube-system", "-o", "wide", "--field-selector", "spec.nodeName=cp-1"],
    expect: [/^kube-apiserver-cp-1\s+1\/1\s+Running\s+0\s+\S+\s+192\.168\.10\.10\s+cp-1\s+<none>\s+<none>$/m, /^kube-proxy-\w{5}\s+1\/1\s+Running\s+0\s+\S+\s+192\.168\.10\.10\s+cp-1\s+/m],
  },
  {
    args: ["get", "ds", "-n", "kube-system"],
    expect: [
      /^NAME\s+DESIRED\s+CURRENT\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+NODE SELECTOR\s+AGE$/m,
      /^calico-node\s+7\s+7\s+7\s+7\s+7\s+kubernetes\.io\/os=linux\s+\S+$/m,
      /^kube-proxy\s+7\s+7\s+7\s+7\s+7\s+kubernetes\.io\/os=linux\s+\S+$/m,
      /^nodelocaldns\s+7\s+7\s+7\s+7\s+7\s+kubernetes\.io\/os=linux\s+\S+$/m,
    ],
  },
  {
    args: ["describe", "pod", "-n", "default", "netshoot"],
    expect: [
      /^Events:$/m,
      /^\s+Type\s+Reason\s+Age\s+From\s+Message$/m,
      /^\s+Normal\s+Scheduled\s+\S+\s+default-scheduler\s+Successfully assigned default\/netshoot to worker-6$/m,
      /^\s+Normal\s+Pulled\s+\S+\s+kubelet\s+Container image "nicolaka\/netshoot:v0\.8" already present on machine$/m,
      /^\s+Normal\s+Created\s+\S+\s+kubelet\s+Created container netshoot$/m,
      /^\s+Normal\s+Started\s+\S+\s+kubelet\s+Started container netshoot$/m,
    ],
  },
  {
    args: ["get", "events", "-n", "default"],
    expect: [
      /^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE$/m,
      /^\S+\s+Normal\s+Scheduled\s+pod\/netshoot\s+Successfully assigned default\/netshoot to worker-6$/m,
      /^\S+\s+Normal\s+NodeReady\s+node\/worker-6\s+Node worker-6 status is now: NodeReady$/m,
    ],
  },
  { args: ["describe", "node", "worker-6"], expect: [/^Events:$/m, /^\s+Normal\s+Starting\s+\S+\s+kubelet\s+Starting kubelet\.$/m, /^\s+Normal\s+NodeReady\s+\S+\s+kubelet\s+Node worker-6 status is now: NodeReady$/m] },
  { args: ["describe", "node", "worker-3"], expect: [/^PodCIDR:\s+10\.233\.64\.0\/25$/m, /metallb-system\s+controller-7d9cf7f8b-x2kqv/] },
  { args: ["create", "namespace", "x"], expect: [/^namespace\/x created$/m] },
  { args: ["create", "namespace", "x"], exit: 1, expect: [/^Error from server \(AlreadyExists\): namespaces "x" already exists$/m] },
  { args: ["create", "namespace", "Bad_Name"], exit: 1, expect: [/^The Namespace "Bad_Name" is invalid: metadata\.name: Invalid value: "Bad_Name": a lowercase RFC 1123 label must consist of/m] },
  { args: ["create", "configmap", "c", "--from-literal=a=b"], expect: [/^configmap\/c created$/m] },
  { args: ["get", "cm", "c", "-o", "jsonpath={.data.a}"], expect: [/^b$/] },
  { args: ["get", "cm", "c", "-o", "yaml"], expect: [/^kind: ConfigMap$/m, /^ {2}a: b$/m, /^ {2}resourceVersion: "\d+"$/m, /^ {2}uid: [0-9a-f-]{36}$/m] },
  { args: ["get", "cm", "-o", "name"], expect: [/^configmap\/c$/m, /^configmap\/kube-root-ca\.crt$/m] },
  { args: ["get", "cm", "c", "-o", "json"], expect: [/"kind": "ConfigMap"/, /"a": "b"/] },
  { args: ["label", "cm", "c", "team=blue"], expect: [/^configmap\/c labeled$/m] },
  { args: ["get", "cm", "-l", "team=blue", "--show-labels"], expect: [/^c\s+1\s+\S+\s+team=blue$/m], reject: [/kube-root-ca/] },
  { args: ["annotate", "cm", "c", "owner=me"], expect: [/^configmap\/c annotated$/m] },
  { args: ["patch", "cm", "c", "--type", "merge", "-p", '{"data":{"a":"z"}}'], expect: [/^configmap\/c patched$/m] },
  { args: ["get", "cm", "c", "-o", "jsonpath={.data.a} {.metadata.annotations.owner}"], expect: [/^z me$/] },
  { args: ["delete", "cm", "c"], expect: [/^configmap "c" deleted$/m] },
  { args: ["get", "cm", "c"], exit: 1, expect: [/^Error from server \(NotFound\): configmaps "c" not found$/m] },
  { args: ["create", "deployment", "web", "--image=nginx:1.25", "--replicas=2", "-n", "x"], expect: [/^deployment\.apps\/web created$/m] },
  { args: ["get", "deploy", "web", "-n", "x", "-o", "jsonpath={.spec.template.spec.containers[0].image} {.spec.replicas} {.metadata.generation}"], expect: [/^nginx:1\.25 2 1$/] },
  { args: ["set", "image", "deploy/web", "nginx=nginx:1.26", "-n", "x"], expect: [/^deployment\.apps\/web image updated$/m] },
  { args: ["get", "deploy", "web", "-n", "x", "-o", "jsonpath={.metadata.generation}"], expect: [/^2$/] },
  { args: ["rollout", "history", "deployment/web", "-n", "x"], expect: [/^deployment\.apps\/web $/m, /^REVISION\s+CHANGE-CAUSE$/m, /^1\s+<none>$/m, /^2\s+<none>$/m] },
  {
    // no kubelet runs these pods in this harness: the rollout waits, as one on a cluster whose pods never start
    args: ["rollout", "status", "deployment/web", "-n", "x", "--timeout=1s"],
    exit: 1,
    expect: [/^Waiting for deployment "web" rollout to finish: 1 out of 2 new replicas have been updated\.\.\.$/m, /^error: timed out waiting for the condition$/m],
  },
  { args: ["get", "rs", "-n", "x"], expect: [/^NAME\s+DESIRED\s+CURRENT\s+READY\s+AGE$/m, /^web-[bcdfghjklmnpqrstvwxz2456789]{6,10}\s+2\s+2\s+0\s+\S+$/m, /^web-[bcdfghjklmnpqrstvwxz2456789]{6,10}\s+1\s+1\s+0\s+\S+$/m] },
  {
    args: ["describe", "deployment", "web", "-n", "x"],
    expect: [
      /^Replicas:\s+2 desired \| 1 updated \| 3 total \| 0 available \| 3 unavailable$/m,
      /^\s+Progressing\s+True\s+ReplicaSetUpdated$/m,
      /^OldReplicaSets:\s+web-\w+ \(2\/2 replicas created\)$/m,
      /^NewReplicaSet:\s+web-\w+ \(1\/1 replicas created\)$/m,
      /^\s+Normal\s+ScalingReplicaSet\s+\S+\s+deployment-controller\s+Scaled up replica set web-\w+ to 2$/m,
      /^\s+Normal\s+ScalingReplicaSet\s+\S+\s+deployment-controller\s+Scaled up replica set web-\w+ to 1$/m,
    ],
  },
  { args: ["rollout", "undo", "deployment/web", "-n", "x"], expect: [/^deployment\.apps\/web rolled back$/m] },
  // the first ReplicaSet is the new one again, under the next revision
  { args: ["rollout", "history", "deployment/web", "-n", "x"], expect: [/^2\s+<none>$/m, /^3\s+<none>$/m], reject: [/^1\s+<none>$/m] },
  { args: ["get", "deploy", "web", "-n", "x", "-o", "jsonpath={.spec.template.spec.containers[0].image} {.metadata.annotations.deployment\\.kubernetes\\.io/revision}"], expect: [/^nginx:1\.25 3$/] },
  { args: ["get", "pods", "-n", "x", "-l", "app=web", "-o", "wide"], expect: [/^web-\w+-[bcdfghjklmnpqrstvwxz2456789]{5}\s+0\/1\s+Pending\s+0\s+\S+\s+<none>\s+worker-\d\s+<none>\s+<none>$/m], reject: [/\scp-1\s/] },
  { args: ["create", "secret", "generic", "creds", "--from-literal=password=s3cr3t", "-n", "x"], expect: [/^secret\/creds created$/m] },
  { args: ["get", "secret", "creds", "-n", "x", "-o", "jsonpath={.data.password}"], expect: [/^czNjcjN0$/] },
  { args: ["expose", "deployment", "web", "--port=80", "--target-port=8080", "-n", "x"], expect: [/^service\/web exposed$/m] },
  { args: ["get", "svc", "web", "-n", "x", "-o", "wide"], expect: [/^web\s+ClusterIP\s+10\.233\.\d+\.\d+\s+<none>\s+80\/TCP\s+\S+\s+app=web$/m] },
  { args: ["get", "endpoints", "web", "-n", "x"], expect: [/^web\s+<none>\s+\S+$/m] },
  { args: ["get", "endpointslices", "-n", "x"], expect: [/^NAME\s+ADDRESSTYPE\s+PORTS\s+ENDPOINTS\s+AGE$/m, /^web-[bcdfghjklmnpqrstvwxz2456789]{5}\s+IPv4\s+<unset>\s+<unset>\s+\S+$/m] },
  { args: ["run", "tmp", "--image=busybox:1.36", "-n", "x", "--", "sleep", "3600"], expect: [/^pod\/tmp created$/m] },
  { args: ["get", "pods", "-n", "x"], expect: [/^tmp\s+0\/1\s+Pending\s+0\s+\S+$/m] },
  // bound by the scheduler; hostIP comes with the kubelet's first status, which this harness has none of
  { args: ["describe", "pod", "tmp", "-n", "x"], expect: [/^Node:\s+worker-\d\/$/m, /^\s+PodScheduled\s+True\s*$/m, /^\s+Normal\s+Scheduled\s+\S+\s+default-scheduler\s+Successfully assigned x\/tmp to worker-\d$/m] },
  { args: ["delete", "pod", "tmp", "-n", "x"], expect: [/^pod "tmp" deleted$/m] },
  { args: ["cordon", "worker-1"], expect: [/^node\/worker-1 cordoned$/m] },
  { args: ["get", "node", "worker-1"], expect: [/^worker-1\s+Ready,SchedulingDisabled\s+<none>/m] },
  { args: ["uncordon", "worker-1"], expect: [/^node\/worker-1 uncordoned$/m] },
  { args: ["delete", "namespace", "x"], expect: [/^namespace "x" deleted$/m] },
  { args: ["get", "ns", "x"], exit: 1, expect: [/^Error from server \(NotFound\): namespaces "x" not found$/m] },
  {
    args: ["get", "events", "-A"],
    expect: [/^NAMESPACE\s+LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE$/m, /^metallb-system\s+\S+\s+Normal\s+Started\s+pod\/controller-7d9cf7f8b-x2kqv\s+Started container controller$/m],
  },
  { args: ["get", "pods"], as: "stranger", exit: 1, expect: [/^error: You must be logged in to the server \(Unauthorized\)$/m] },
  { args: ["apply", "-f", "-"], stdin: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  k: v\n", expect: [/^configmap\/applied created$/m] },
  { args: ["apply", "-f", "-"], stdin: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  k: v\n", expect: [/^configmap\/applied unchanged$/m] },
  { args: ["apply", "-f", fixture("deployment-web.yaml")], expect: [/^deployment\.apps\/web-applied created$/m] },
  { args: ["apply", "-f", fixture("deployment-web.yaml")], expect: [/^deployment\.apps\/web-applied unchanged$/m], reject: [/warning/i] },
  { args: ["diff", "-f", fixture("deployment-web.yaml")], expect: [/^$/] },
  { args: ["diff", "-f", fixture("deployment-web-v2.yaml")], exit: 1, expect: [/^-\s+image: nginx:1\.25$/m, /^\+\s+image: nginx:1\.26$/m] },
  { args: ["apply", "-f", fixture("deployment-web-v2.yaml")], expect: [/^deployment\.apps\/web-applied configured$/m], reject: [/warning/i] },
  {
    args: ["get", "deploy", "web-applied", "-o", "jsonpath={.spec.strategy} {.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].ports[*].containerPort} {.spec.template.spec.containers[0].env[*].name}={.spec.template.spec.containers[0].env[*].value}"],
    expect: [/^\{"type":"Recreate"\} nginx:1\.26 80 443 TIER MODE=web green$/],
  },
  { args: ["apply", "-f", fixture("deployment-web-v2.yaml")], expect: [/^deployment\.apps\/web-applied unchanged$/m] },
  { args: ["apply", "--server-side", "-f", fixture("deployment-web-v2.yaml")], expect: [/^deployment\.apps\/web-applied serverside-applied$/m], pending: "server-side apply is not modelled: the server answers 415 as one without it, kubectl says \"Server-side apply not available on the server\"" },
  { args: ["apply", "-f", fixture("ipaddresspool.yaml")], expect: [/^ipaddresspool\.metallb\.io\/lab-pool created$/m] },
  { args: ["apply", "-f", fixture("ipaddresspool.yaml")], expect: [/^ipaddresspool\.metallb\.io\/lab-pool unchanged$/m] },
  { args: ["get", "ipaddresspools", "-n", "metallb-system"], expect: [/^NAME\s+AUTO ASSIGN\s+AVOID BUGGY IPS\s+ADDRESSES$/m, /^lab-pool\s+true\s+false\s+\["192\.168\.10\.240\/28"\]$/m] },
  { args: ["get", "ipaddresspool", "lab-pool", "-n", "metallb-system", "-o", "yaml"], expect: [/^apiVersion: metallb\.io\/v1beta1$/m, /^ {2}autoAssign: true$/m, /^ {2}avoidBuggyIPs: false$/m] },
  { args: ["get", "l2advertisements", "-A"], expect: [/^No resources found$/m] },
  { args: ["api-resources", "--api-group=metallb.io"], expect: [/^ipaddresspools\s+metallb\.io\/v1beta1\s+true\s+IPAddressPool$/m, /^bgppeers\s+metallb\.io\/v1beta2\s+true\s+BGPPeer$/m] },
  { args: ["get", "ipamblocks"], expect: [/^NAME\s+AGE$/m, /^10-233-64-0-25\s+\S+$/m, /^10-233-67-0-25\s+\S+$/m] },
  { args: ["get", "blockaffinities", "-o", "wide"], expect: [/^NAME\s+AGE$/m, /^worker-3-10-233-64-0-25\s+\S+$/m, /^cp-1-10-233-67-0-25\s+\S+$/m] },
  { args: ["get", "ippools", "-o", "yaml"], expect: [/^ {4}name: default-pool$/m, /^ {4}cidr: 10\.233\.64\.0\/22$/m, /^ {4}blockSize: 25$/m, /^ {4}ipipMode: Always$/m] },
  { args: ["get", "ipamblock", "10-233-64-0-25", "-o", "jsonpath={.spec.affinity} {.spec.attributes[1].handle_id} {.spec.attributes[1].secondary.pod} {.spec.unallocated[0]}"], expect: [/^host:worker-3 k8s-pod-network\.metallb-system\.controller-7d9cf7f8b-x2kqv controller-7d9cf7f8b-x2kqv 3$/] },
  { args: ["get", "blockaffinity", "worker-3-10-233-64-0-25", "-o", "jsonpath={.spec.state} {.spec.node} {.spec.cidr}"], expect: [/^confirmed worker-3 10\.233\.64\.0\/25$/] },
  { args: ["scale", "deploy", "coredns", "-n", "kube-system", "--replicas=3"], expect: [/^deployment\.apps\/coredns scaled$/m] },
  { args: ["get", "deploy", "coredns", "-n", "kube-system", "-o", "jsonpath={.spec.replicas} {.metadata.generation}"], expect: [/^3 2$/] },
  { args: ["get", "rs", "coredns-645b46f4b6", "-n", "kube-system"], expect: [/^coredns-645b46f4b6\s+3\s+3\s+2\s+\S+$/m] },
  { args: ["get", "deploy", "coredns", "-n", "kube-system"], expect: [/^coredns\s+2\/3\s+3\s+2\s+\S+$/m] },
  {
    args: ["describe", "rs", "coredns-645b46f4b6", "-n", "kube-system"],
    expect: [/^Replicas:\s+3 current \/ 3 desired$/m, /^Pods Status:\s+2 Running \/ 1 Waiting \/ 0 Succeeded \/ 0 Failed$/m, /^\s+Normal\s+SuccessfulCreate\s+\S+\s+replicaset-controller\s+Created pod: coredns-645b46f4b6-[bcdfghjklmnpqrstvwxz2456789]{5}$/m],
  },
  { args: ["get", "events", "-n", "kube-system", "--field-selector", "reason=ScalingReplicaSet"], expect: [/^\S+\s+Normal\s+ScalingReplicaSet\s+deployment\/coredns\s+Scaled up replica set coredns-645b46f4b6 to 3$/m] },
  { args: ["get", "endpointslices", "-n", "kube-system"], expect: [/^coredns-[bcdfghjklmnpqrstvwxz2456789]{5}\s+IPv4\s+53,53\s+10\.233\.64\.129,10\.233\.65\.1\s+\S+$/m] },
  { args: ["scale", "deploy", "coredns", "-n", "kube-system", "--replicas=2"], expect: [/^deployment\.apps\/coredns scaled$/m] },
  { args: ["get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns", "-o", "name"], expect: [/^pod\/coredns-645b46f4b6-7pl9x$/m, /^pod\/coredns-645b46f4b6-m2xsv$/m], reject: [/^pod\/coredns-645b46f4b6-(?!7pl9x|m2xsv)/m] },
  { args: ["explain", "pods"], expect: [/^KIND:\s+Pod$/m, /^VERSION:\s+v1$/m, /^\s+spec\s+<PodSpec>$/m] },
  { args: ["explain", "pods.spec.containers"], expect: [/^FIELD: containers <\[\]Container>$/m, /^\s+name\s+<string> -required-$/m, /^\s+ports\s+<\[\]ContainerPort>$/m] },
  { args: ["explain", "deployments.spec.strategy"], expect: [/^GROUP:\s+apps$/m, /^FIELD: strategy <DeploymentStrategy>$/m, /^\s+rollingUpdate\s+<RollingUpdateDeployment>$/m] },
  { args: ["explain", "ipaddresspools.spec"], expect: [/^GROUP:\s+metallb\.io$/m, /^\s+addresses\s+<\[\]string> -required-$/m] },
  { args: ["create", "-f", fixture("crd-widget.yaml")], expect: [/^customresourcedefinition\.apiextensions\.k8s\.io\/widgets\.example\.faultline\.dev created$/m] },
  { args: ["get", "crd", "widgets.example.faultline.dev", "-o", "jsonpath={.status.conditions[?(@.type==\"Established\")].status} {.status.acceptedNames.kind}"], expect: [/^True Widget$/] },
  { args: ["api-resources", "--api-group=example.faultline.dev"], expect: [/^widgets\s+wg\s+example\.faultline\.dev\/v1\s+true\s+Widget$/m] },
  { args: ["apply", "-f", fixture("widget.yaml")], expect: [/^widget\.example\.faultline\.dev\/w1 created$/m] },
  { args: ["apply", "-f", fixture("widget.yaml")], expect: [/^widget\.example\.faultline\.dev\/w1 unchanged$/m] },
  { args: ["get", "wg"], expect: [/^NAME\s+SIZE\s+COLOR\s+AGE$/m, /^w1\s+3\s+red\s+\S+$/m] },
  { args: ["patch", "widget", "w1", "--type", "merge", "-p", '{"spec":{"size":5}}'], expect: [/^widget\.example\.faultline\.dev\/w1 patched$/m] },
  { args: ["get", "widgets.example.faultline.dev", "w1", "-o", "jsonpath={.spec.size} {.metadata.generation}"], expect: [/^5 2$/] },
  { args: ["create", "-f", "-"], stdin: WIDGET_BAD, exit: 1, expect: [/^The Widget "bad" is invalid: spec\.size: Invalid value: 0: spec\.size in body should be greater than or equal to 1$/m] },
  { args: ["delete", "widget", "w1"], expect: [/^widget\.example\.faultline\.dev "w1" deleted$/m] },
  { args: ["apply", "-f", fixture("widget.yaml")], expect: [/^widget\.example\.faultline\.dev\/w1 created$/m] },
  { args: ["delete", "-f", fixture("crd-widget.yaml")], expect: [/^customresourcedefinition\.apiextensions\.k8s\.io "widgets\.example\.faultline\.dev" deleted$/m] },
  { args: ["api-resources", "--api-group=example.faultline.dev"], expect: [/^NAME\s+SHORTNAMES/m], reject: [/widgets/] },
  { args: ["logs", "-n", "default", "netshoot"], expect: [/^listening on :8080$/m] },
  { args: ["logs", "-n", "default", "netshoot", "--tail=1"], expect: [/^GET \/ 200\n$/], reject: [/listening/] },
  { args: ["logs", "-n", "default", "netshoot", "-c", "x"], expect: [/^error: container x is not valid for pod netshoot$/m], exit: 1 },
];
