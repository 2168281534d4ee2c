import { spawnSync } from "node:child_process";
import { accessSync, constants, readFileSync, statSync } from "node:fs";
import { userInfo } from "node:os";
import path from "node:path";
import { FaultlineError } from "../../errors.js";

/** Binaries the sim driver runs, with the Debian package that provides each. */
const TOOLS: Record<string, string> = {
  unshare: "util-linux",
  nsenter: "util-linux",
  newuidmap: "uidmap",
  newgidmap: "uidmap",
  bwrap: "bubblewrap",
  tini: "tini",
  catatonit: "catatonit",
  ip: "iproute2",
  "iptables-restore": "iptables",
  sysctl: "procps",
  socat: "socat",
};

const SEARCH = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

export function which(bin: string): string | null {
  for (const dir of SEARCH) {
    const p = path.join(dir, bin);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return null;
}

export interface IdRange {
  start: number;
  count: number;
}

/** The subordinate id range of the user running the server, from /etc/subuid or /etc/subgid. */
export function subordinateRange(file: "/etc/subuid" | "/etc/subgid", files: { read?: (f: string) => string } = {}): IdRange | null {
  const me = userInfo();
  let text = "";
  try {
    text = (files.read ?? ((f) => readFileSync(f, "utf8")))(file);
  } catch {
    return null;
  }
  // A user may have several lines; the largest well-formed range is the one sandboxes can use.
  let best: IdRange | null = null;
  for (const line of text.split("\n")) {
    const [who, start, count] = line.trim().split(":");
    if (who !== me.username && who !== String(me.uid)) continue;
    if (!/^\d+$/.test(start ?? "") || !/^\d+$/.test(count ?? "")) continue;
    const range = { start: Number(start), count: Number(count) };
    if (!best || range.count > best.count) best = range;
  }
  return best;
}

/** Ids per sandbox: a full 16-bit range, so tools that switch users inside (tcpdump, apt) find them mapped. */
export const IDS_PER_SANDBOX = 65536;

/**
 * Everything the sim driver needs from the host, checked before anything is created so a failure leaves
 * nothing behind and says exactly how to fix it.
 */
export interface PreflightDeps {
  which?: (bin: string) => string | null;
  /** Runs `unshare --user` once; returns its status and stderr. */
  probeUserns?: () => { status: number | null; stderr: string };
  readIds?: (file: string) => string;
}

export function preflight(opts: { codeRoot: string } & PreflightDeps): { range: IdRange } {
  const find = opts.which ?? which;
  const missing = Object.entries(TOOLS).filter(([bin]) => !find(bin));
  if (missing.length) {
    const pkgs = [...new Set(missing.map(([, pkg]) => pkg))].sort();
    throw new FaultlineError(
      `the sim driver needs ${missing.map(([b]) => b).join(", ")}, which ${missing.length === 1 ? "is" : "are"} not installed`,
      `run \`npm run bootstrap\` as root, or: sudo apt-get install -y ${pkgs.join(" ")}`,
    );
  }
  // Not a Debian package: Debian 12 ships kubectl 1.20, which execs over SPDY; the API server speaks the
  // WebSocket exec protocol kubectl uses since 1.29 (and lab manifests are applied with it).
  if (!find("kubectl")) {
    throw new FaultlineError(
      "the sim driver needs kubectl (1.29 or newer) on the PATH, for trainees' shells and to apply lab manifests",
      "run `npm run bootstrap` as root (it adds the Kubernetes apt repository pkgs.k8s.io and installs kubectl), or install it: https://kubernetes.io/docs/tasks/tools/install-kubectl-linux/",
    );
  }
  const ids = opts.readIds ? { read: opts.readIds } : {};
  const uid = subordinateRange("/etc/subuid", ids);
  const gid = subordinateRange("/etc/subgid", ids);
  const user = userInfo().username;
  if (!uid || !gid || uid.count < IDS_PER_SANDBOX || gid.count < IDS_PER_SANDBOX) {
    throw new FaultlineError(
      `user ${user} has no subordinate id range of at least ${IDS_PER_SANDBOX} ids in /etc/subuid and /etc/subgid`,
      `run \`npm run bootstrap\` as root, or add a line '${user}:1073741824:16777216' to both files`,
    );
  }
  if (uid.start !== gid.start || uid.count !== gid.count) {
    throw new FaultlineError(`the subordinate uid and gid ranges of ${user} differ`, "make the lines in /etc/subuid and /etc/subgid the same");
  }
  const probe = (opts.probeUserns ?? probeUserns)();
  if (probe.status !== 0) {
    throw new FaultlineError(
      `this host cannot create user namespaces: ${probe.stderr.trim()}`,
      "enable them: sysctl -w kernel.unprivileged_userns_clone=1 (Debian) or user.max_user_namespaces=15000; in a container, run it with --privileged or a seccomp profile that allows unshare",
    );
  }
  // The supervisor runs the compiled code as an unprivileged id: every folder above it must be traversable
  // and the files readable by "others", or it would fail with a bare EACCES inside the sandbox.
  for (let dir = opts.codeRoot; ; dir = path.dirname(dir)) {
    const st = statSync(dir, { throwIfNoEntry: false });
    if (!st) continue;
    const mode = st.mode;
    if ((mode & 0o001) === 0) {
      throw new FaultlineError(
        `sandboxes run as unprivileged ids and cannot enter ${dir} (mode ${(mode & 0o777).toString(8)})`,
        `chmod o+x ${dir}, or install Faultline in a folder others can read (e.g. /opt/faultline)`,
      );
    }
    if (dir === path.dirname(dir)) break;
  }
  return { range: uid };
}

function probeUserns(): { status: number | null; stderr: string } {
  const r = spawnSync("unshare", ["--user", "--map-root-user", "true"], { encoding: "utf8", timeout: 5000 });
  return { status: r.status, stderr: r.stderr || r.error?.message || "" };
}
