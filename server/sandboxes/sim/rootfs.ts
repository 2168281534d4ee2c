import { existsSync, lstatSync } from "node:fs";

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
  "services", "shells", "skel", "ssl", "terminfo", "timezone", "vim", "wgetrc", "xattr.conf",
];

/** Top-level host directories that are symlinks into /usr on merged-/usr systems, or real dirs elsewhere. */
const USR_LINKS = ["bin", "sbin", "lib", "lib32", "lib64", "libx32"];

export interface TargetRoot {
  hostname: string;
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
  args.push("--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/run", "--dir", "/var/tmp", "--dir", "/etc");
  for (const e of ETC_WHITELIST) if (existsSync(`/etc/${e}`)) args.push("--ro-bind", `/etc/${e}`, `/etc/${e}`);
  for (const [src, dst] of t.roFiles) args.push("--ro-bind", src, dst);
  for (const [src, dst] of t.rwBinds) args.push("--bind", src, dst);
  args.push(
    "--unshare-pid", "--as-pid-1", "--unshare-uts", "--unshare-ipc", "--hostname", t.hostname,
    // The agent dies with the supervisor even if the pid namespace teardown were to lag.
    "--die-with-parent", "--info-fd", String(infoFd), "--chdir", "/root",
  );
  return args;
}
