/**
 * The images a sim sandbox can "pull": a sandbox has no registry and no container runtime, so the kubelet
 * decides from the image reference what a container does. Known images either serve something (a
 * built-in workload on a port) or just stay up as a process to exec into; an image that is not in the
 * catalogue fails to pull, with containerd's words, the way a typo in an image name does on a real node.
 */

/** An image reference split like containerd does (`nginx` is docker.io/library/nginx:latest). */
export interface ImageRef {
  /** The fully qualified reference, as kubelet events print it: `docker.io/library/nginx:latest`. */
  full: string;
  /** Registry host + repository, without tag or digest: `docker.io/library/nginx`. */
  repository: string;
  tag: string;
}

export function parseImage(image: string): ImageRef {
  let rest = image.trim();
  let digest = "";
  const at = rest.indexOf("@");
  if (at >= 0) [rest, digest] = [rest.slice(0, at), rest.slice(at)];
  let tag = "";
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) [rest, tag] = [rest.slice(0, colon), rest.slice(colon + 1)];
  const first = rest.split("/")[0]!;
  const hasRegistry = rest.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost");
  let repository = hasRegistry ? rest : `docker.io/${rest}`;
  if (!hasRegistry && !rest.includes("/")) repository = `docker.io/library/${rest}`;
  if (!tag && !digest) tag = "latest";
  return { full: `${repository}${tag ? ":" + tag : ""}${digest}`, repository, tag };
}

/** What a container of a known image does in the sim. */
export type ImageBehaviour =
  /** A built-in workload serving on `port` (the container's first declared port wins). */
  | { kind: "serve"; workload: "http-echo" | "metallb-webhook" | "coredns"; port: number }
  /** Its default command runs forever (pause, servers we do not emulate): Running, exec-able. */
  | { kind: "idle" }
  /**
   * Its default command is a shell or a one-shot tool that exits at once without a TTY (busybox, alpine,
   * netshoot...): with no `command`/`args` (and no stdin+tty) the container completes and, under
   * restartPolicy Always, goes to CrashLoopBackOff, as on a real node. With a command it stays up.
   */
  | { kind: "shell" };

const SERVE_HTTP = (port: number): ImageBehaviour => ({ kind: "serve", workload: "http-echo", port });

/** Repository -> behaviour. Registries' mirrors (k8s.gcr.io, registry.k8s.io) are both listed. */
const CATALOGUE: Record<string, ImageBehaviour> = {
  "docker.io/library/nginx": SERVE_HTTP(80),
  "docker.io/library/httpd": SERVE_HTTP(80),
  "docker.io/nginxdemos/hello": SERVE_HTTP(80),
  "docker.io/traefik/whoami": SERVE_HTTP(80),
  "docker.io/hashicorp/http-echo": SERVE_HTTP(5678),
  "docker.io/paulbouwer/hello-kubernetes": SERVE_HTTP(8080),
  "gcr.io/google-samples/hello-app": SERVE_HTTP(8080),
  "us-docker.pkg.dev/google-samples/containers/gke/hello-app": SERVE_HTTP(8080),
  "k8s.gcr.io/echoserver": SERVE_HTTP(8080),
  "registry.k8s.io/echoserver": SERVE_HTTP(8080),
  "docker.io/wbitt/network-multitool": SERVE_HTTP(80),
  "docker.io/praqma/network-multitool": SERVE_HTTP(80),
  "quay.io/metallb/controller": { kind: "serve", workload: "metallb-webhook", port: 9443 },
  "registry.k8s.io/coredns/coredns": { kind: "serve", workload: "coredns", port: 53 },
  "k8s.gcr.io/coredns/coredns": { kind: "serve", workload: "coredns", port: 53 },
  "docker.io/coredns/coredns": { kind: "serve", workload: "coredns", port: 53 },
  "quay.io/metallb/speaker": { kind: "idle" },
  // What kubespray installs: a DaemonSet or static pod recreated at runtime must not fail to pull.
  "registry.k8s.io/kube-apiserver": { kind: "idle" },
  "registry.k8s.io/kube-controller-manager": { kind: "idle" },
  "registry.k8s.io/kube-scheduler": { kind: "idle" },
  "registry.k8s.io/kube-proxy": { kind: "idle" },
  "registry.k8s.io/etcd": { kind: "idle" },
  "quay.io/coreos/etcd": { kind: "idle" },
  "registry.k8s.io/dns/k8s-dns-node-cache": { kind: "idle" },
  "registry.k8s.io/cpa/cluster-proportional-autoscaler-amd64": { kind: "idle" },
  "quay.io/calico/node": { kind: "idle" },
  "quay.io/calico/cni": { kind: "idle" },
  "quay.io/calico/kube-controllers": { kind: "idle" },
  "quay.io/calico/pod2daemon-flexvol": { kind: "idle" },
  "ghcr.io/fluxcd/helm-controller": { kind: "idle" },
  "ghcr.io/fluxcd/kustomize-controller": { kind: "idle" },
  "ghcr.io/fluxcd/notification-controller": { kind: "idle" },
  "ghcr.io/fluxcd/source-controller": { kind: "idle" },
  "registry.k8s.io/pause": { kind: "idle" },
  "k8s.gcr.io/pause": { kind: "idle" },
  "docker.io/library/redis": { kind: "idle" },
  "docker.io/library/busybox": { kind: "shell" },
  "docker.io/library/alpine": { kind: "shell" },
  "docker.io/library/ubuntu": { kind: "shell" },
  "docker.io/library/debian": { kind: "shell" },
  "docker.io/nicolaka/netshoot": { kind: "shell" },
  "docker.io/curlimages/curl": { kind: "shell" },
  "registry.k8s.io/e2e-test-images/agnhost": { kind: "shell" },
};

/** The behaviour of `image`, or null when no registry has it (the kubelet reports ErrImagePull). */
export function imageBehaviour(image: string): ImageBehaviour | null {
  return CATALOGUE[parseImage(image).repository] ?? null;
}

/**
 * containerd's error for an image no registry has, as kubelet's `Failed` event quotes it (containerd
 * 1.6+): Docker Hub answers an unknown repository with "pull access denied"; other registries are not
 * reachable from a sandbox at all, so their names do not resolve.
 */
export function pullFailure(image: string): string {
  const { full, repository } = parseImage(image);
  const head = `failed to pull and unpack image "${full}": failed to resolve reference "${full}"`;
  if (repository.startsWith("docker.io/")) {
    return `rpc error: code = Unknown desc = ${head}: pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed`;
  }
  const host = repository.split("/")[0]!;
  const rest = repository.slice(host.length + 1);
  return `rpc error: code = Unknown desc = ${head}: failed to do request: Head "https://${host}/v2/${rest}/manifests/${parseImage(image).tag || "latest"}": dial tcp: lookup ${host}: no such host`;
}
