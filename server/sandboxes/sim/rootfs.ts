import { existsSync, lstatSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Runner } from "../../sim/dataplane/execute.js";

/**
 * The filesystem a trainee's shell sees in a node or pod, assembled by bubblewrap from read-only binds:
 * system binaries from the host's /usr, an /etc of whitelisted host files plus the node's own files,
 * a writable home (and, on nodes, the workspace), fresh /tmp, /run, /proc and /dev. Nothing of the
 * server's data directory, the project checkout or other sandboxes is bound in.
 */

/** Host /etc entries a shell needs for its tools to work (libc, terminfo, vim, iproute2...). Nothing else. */
const ETC_WHITELIST = [
  "alternatives", "bash.bashrc", "bash_completion", "bash_completion.d", "ca-certificates", "ca-certificates.conf",
  "debian_version", "environment", "ethertypes", "gai.conf", "group", "host.conf", "inputrc", "iproute2",
  "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "login.defs", "magic", "magic.mime", "mime.types",
  "nanorc", "networks", "nsswitch.conf", "os-release", "passwd", "profile", "profile.d", "protocols", "rpc",
  // Not all of /etc/ssl: /etc/ssl/private holds host keys (and is unreadable for the sandbox anyway).
  "services", "shells", "skel", "ssl/certs", "ssl/openssl.cnf", "terminfo", "timezone", "vim", "wgetrc", "xattr.conf",
];

/** Top-level host directories that are symlinks into /usr on merged-/usr systems, or real dirs elsewhere. */
const USR_LINKS = ["bin", "sbin", "lib", "lib32", "lib64", "libx32"];

export interface TargetRoot {
  hostname: string;
  /** The sandbox's /etc (see prepareEtc); per-target files are bound over it. */
  etcBase: string;
  /** Host paths (in the supervisor's view) -> path inside, read-only. */
  roFiles: Array<[string, string]>;
  /** Host paths -> path inside, writable. */
  rwBinds: Array<[string, string]>;
}

export function bwrapArgs(t: TargetRoot, infoFd: number): string[] {
  const args: string[] = ["--ro-bind", "/usr", "/usr"];
  for (const d of USR_LINKS) {
    const p = `/${d}`;
    if (!existsSync(p)) continue;
    if (lstatSync(p).isSymbolicLink()) args.push("--symlink", `usr/${d}`, p);
    else args.push("--ro-bind", p, p);
  }
  // One bind for /etc (a per-sandbox copy of the whitelist): bubblewrap's cost grows with every mount,
  // and 20 agents x 40 file binds was most of a sandbox's start-up time.
  args.push("--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/run", "--dir", "/var/tmp", "--ro-bind", t.etcBase, "/etc");
  for (const [src, dst] of t.roFiles) args.push("--ro-bind", src, dst);
  for (const [src, dst] of t.rwBinds) args.push("--bind", src, dst);
  args.push(
    "--unshare-pid", "--as-pid-1", "--unshare-uts", "--unshare-ipc", "--hostname", t.hostname,
    // The agent dies with the supervisor even if the pid namespace teardown were to lag.
    "--die-with-parent", "--info-fd", String(infoFd), "--chdir", "/root",
  );
  return args;
}

/** Files and folders every target binds over the shared /etc: they must exist in it as mount points. */
const ETC_MOUNT_POINTS = { files: ["hostname", "hosts", "resolv.conf", "cni/net.d/10-calico.conflist"], dirs: ["kubernetes"] };

/**
 * Builds the sandboxes' shared /etc once per data directory: a copy of the whitelisted host entries
 * (symlinks kept, so /etc/alternatives still points into /usr), plus empty mount points for the
 * per-target files. Built in a temporary folder and renamed into place, so a half-built copy is never
 * used; every sandbox binds it read-only. Copying is slow on some filesystems (~1 s here), hence once.
 */
export async function ensureEtcBase(dataDir: string, run: Runner): Promise<string> {
  const dir = path.join(dataDir, "etc-base");
  if (existsSync(path.join(dir, ".complete"))) return dir;
  const tmp = `${dir}.${process.pid}.${Date.now()}`;
  mkdirSync(tmp, { recursive: true, mode: 0o755 });
  const sources = ETC_WHITELIST.filter((e) => existsSync(`/etc/${e}`));
  // --parents keeps ssl/certs at ssl/certs; run from /etc so the copies are relative to it.
  await run(["sh", "-c", 'cd /etc && exec cp -a --parents -t "$0" -- "$@"', tmp, ...sources]);
  for (const d of ETC_MOUNT_POINTS.dirs) mkdirSync(path.join(tmp, d), { recursive: true });
  for (const f of ETC_MOUNT_POINTS.files) {
    mkdirSync(path.dirname(path.join(tmp, f)), { recursive: true });
    writeFileSync(path.join(tmp, f), "");
  }
  writeFileSync(path.join(tmp, ".complete"), new Date().toISOString() + "\n");
  try {
    renameSync(tmp, dir);
  } catch {
    // Another process finished first: use theirs.
    rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}
