/**
 * The `faultline` command line. Each sub-command is a small function; errors a user can fix print as
 * "faultline: <what is wrong>\n  fix: <how>" with exit code 1, usage mistakes with exit code 2.
 */
import { spawn } from "node:child_process";
import { loadConfig, loadServeConfig, parseGlobalFlags, parseServeFlags, type Config } from "./config.js";
import { FaultlineError, formatError } from "./errors.js";
import { createLogger } from "./log.js";
import { labArgs, listLabs, validateLabs } from "./labs/cli.js";
import { SimDriver, type Phase } from "./sandboxes/sim/driver.js";
import { formatVars } from "./sim/kubespray/evaluate.js";
import { faultSpecSchema } from "./sim/faults/schema.js";
import { parse as parseYaml } from "yaml";

const USAGE = `usage: faultline [--data-dir DIR] <command>

  serve [--host H] [--port N] [--public-url URL] [--database-url URL] [--labs-dir DIR]
        [--max-sandboxes N] [--max-sandboxes-per-user N] [--idle-timeout 30m] [--trust-proxy]
                                            the lab server (docs/server.md)

  sandbox up <lab> [--name N] [--json]      provision a sim sandbox cluster for a lab (id or folder)
  sandbox ls                                list sandboxes
  sandbox exec <name> <target> -- <argv...> run a command in node/<n> or pod/<ns>/<n>
  sandbox shell <name> <target>             interactive shell in a target
  sandbox vars <name>                       effective kubespray variables and where each came from
  sandbox plan <name>                       addresses, blocks and routes (JSON)
  sandbox kubeconfig <name>                 admin kubeconfig for kubectl on this host (127.0.0.1)
  sandbox faults <name>                     faults in force
  sandbox fault <name> apply '<yaml>'       inject a fault, e.g. '{kind: mtu, node: worker-1, mtu: 1400}'
  sandbox fault <name> revert <index>       revert fault #index (see \`sandbox faults\`)
  sandbox reprovision <name>                rebuild from the workspace's (edited) inventory
  sandbox down <name>                       destroy a sandbox
  gc                                        remove sandboxes whose supervisor died
  lab ls                                    bundled labs: id, level, duration, title; invalid ones marked
  lab test <ids...> | --all [--json]        provision, check the start state, run each solution, check all objectives pass
  lab validate [paths...]                   check labs (folders, ids, or folders of labs; default: labs/)
`;

class UsageError extends FaultlineError {}

function usage(msg: string): never {
  throw new UsageError(msg, "run `faultline help` for the commands");
}

function takeFlag(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith("--")) usage(`${flag} needs a value`);
  args.splice(i, 2);
  return v;
}

function takeBool(args: string[], flag: string): boolean {
  const i = args.indexOf(flag);
  if (i < 0) return false;
  args.splice(i, 1);
  return true;
}

async function sandbox(cfg: Config, args: string[]): Promise<number> {
  const driver = new SimDriver(cfg.dataDir, createLogger({ component: "cli" }, { json: cfg.logJson }));
  const [sub, ...rest] = args;
  switch (sub) {
    case "up": {
      const name = takeFlag(rest, "--name");
      const json = takeBool(rest, "--json");
      const [lab, ...extra] = rest;
      if (!lab || extra.length) usage("sandbox up takes one lab id or folder");
      const { meta, plan } = await driver.up({
        lab,
        ...(name ? { name } : {}),
        ...(json ? {} : { onPhase: printPhase }),
      });
      if (json) {
        const out = {
          name: meta.name,
          lab: meta.lab,
          nodes: plan.nodes.map((n) => ({ name: n.name, role: n.role, address: n.address, tunnelAddress: n.tunnelAddress, tunnelBorrowed: n.tunnelBorrowed, blocks: n.blocks })),
          pods: plan.pods.map((p) => ({ namespace: p.namespace, name: p.name, node: p.node, address: p.address, borrowed: p.borrowed })),
          services: plan.services.map((s) => ({ namespace: s.namespace, name: s.name, clusterIP: s.clusterIP, endpoints: s.endpoints })),
          blockSize: plan.blockSize,
          podsSubnet: plan.podsSubnet,
        };
        process.stdout.write(JSON.stringify(out, null, 2) + "\n");
      } else {
        process.stdout.write(`sandbox "${meta.name}" is up: \`faultline sandbox shell ${meta.name} node/${plan.nodes[0]!.name}\`\n`);
      }
      return 0;
    }
    case "ls": {
      const list = driver.list();
      if (!list.length) return process.stdout.write("no sandboxes\n"), 0;
      process.stdout.write(["NAME\tLAB\tSTATE\tCREATED", ...list.map((s) => `${s.name}\t${s.lab}\t${s.state}\t${s.createdAt}`)].join("\n") + "\n");
      return 0;
    }
    case "exec": {
      const dd = rest.indexOf("--");
      const [name, target, ...extra] = dd < 0 ? rest : rest.slice(0, dd);
      const argv = dd < 0 ? [] : rest.slice(dd + 1);
      if (!name || !target || extra.length || !argv.length) usage("sandbox exec <name> <target> -- <argv...>");
      return runAttached(driver.enterArgv(name, target, argv));
    }
    case "shell": {
      const [name, target, ...extra] = rest;
      if (!name || !target || extra.length) usage("sandbox shell <name> <target>");
      return runAttached(driver.enterArgv(name, target, process.stdin.isTTY ? ["script", "-q", "-f", "-e", "-c", "/bin/bash -l", "/dev/null"] : undefined, process.env.TERM));
    }
    case "vars": {
      const [name] = rest;
      if (!name) usage("sandbox vars <name>");
      driver.meta(name);
      process.stdout.write(formatVars(driver.vars(name)) + "\n");
      return 0;
    }
    case "kubeconfig": {
      const [name] = rest;
      if (!name) usage("sandbox kubeconfig <name>");
      process.stdout.write(driver.kubeconfig(name));
      return 0;
    }
    case "plan": {
      const [name] = rest;
      if (!name) usage("sandbox plan <name>");
      driver.meta(name);
      process.stdout.write(JSON.stringify(driver.plan(name), null, 2) + "\n");
      return 0;
    }
    case "faults": {
      const [name] = rest;
      if (!name) usage("sandbox faults <name>");
      const res = await driver.control(name, { op: "faults" });
      const faults = res.faults as Array<{ index: number; description: string }>;
      process.stdout.write(faults.length ? faults.map((f) => `#${f.index}  ${f.description}`).join("\n") + "\n" : "no faults in force\n");
      return 0;
    }
    case "fault": {
      const [name, action, arg] = rest;
      if (!name || !action || arg === undefined) usage("sandbox fault <name> apply '<yaml>' | revert <index>");
      if (action === "apply") {
        const parsed = faultSpecSchema.safeParse(parseYaml(arg));
        if (!parsed.success) throw new FaultlineError(`not a fault: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(top)"}: ${i.message}`).join("; ")}`, "see docs/faults.md for the kinds and their fields");
        await driver.control(name, { op: "fault-apply", fault: parsed.data });
      } else if (action === "revert") {
        if (!/^\d+$/.test(arg)) usage("the fault index is a number from `sandbox faults`");
        await driver.control(name, { op: "fault-revert", index: Number(arg) });
      } else usage(`unknown fault action "${action}"`);
      return 0;
    }
    case "reprovision": {
      const [name] = rest;
      if (!name) usage("sandbox reprovision <name>");
      const res = await driver.control(name, { op: "rebuild" }, (l) => process.stderr.write(l + "\n"));
      process.stdout.write(`sandbox "${name}" rebuilt in ${String(res.ms)} ms\n`);
      return 0;
    }
    case "down": {
      const [name] = rest;
      if (!name) usage("sandbox down <name>");
      await driver.down(name);
      process.stdout.write(`sandbox "${name}" removed\n`);
      return 0;
    }
    default:
      usage(sub ? `unknown sandbox command "${sub}"` : "sandbox needs a command");
  }
}

async function lab(cfg: Config, args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const write = (text: string) => void process.stdout.write(text);
  switch (sub) {
    case "test": {
      const json = rest.includes("--json");
      const ids = rest.filter((a) => a !== "--json" && a !== "--all");
      if (!rest.includes("--all") && ids.length === 0) usage("lab test needs lab ids or --all");
      const driver = new SimDriver(cfg.dataDir, createLogger({ component: "lab-test" }, { json: cfg.logJson }));
      // Loaded here, not at the top: with the Kubernetes client it is ~1 s of module loading that every
      // other command (`sandbox shell`, `--help`) would pay. The same for the web server below.
      const { formatLabTestReport, testLab } = await import("./labs/lab-test.js");
      const reports = [];
      for (const dir of await labArgs(ids)) {
        const r = await testLab(dir, { driver, log: createLogger({ component: "lab-test" }), say: (l) => process.stderr.write(`lab test: ${l}\n`) });
        reports.push(r);
        if (!json) write(formatLabTestReport(r) + "\n");
      }
      if (json) write(JSON.stringify(reports, null, 2) + "\n");
      const failed = reports.filter((r) => !r.ok).length;
      if (!json) write(`${reports.length} lab(s) tested: ${reports.length - failed} passed, ${failed} failed\n`);
      return failed ? 1 : 0;
    }
    case "ls":
      if (rest.length) usage("lab ls takes no arguments");
      return listLabs(write);
    case "validate":
      return validateLabs(rest, write);
    default:
      usage(sub ? `unknown lab command "${sub}"` : "lab needs a command: ls, validate, test");
  }
}

/** Provisioning progress on stderr: `[  447 ms] agents: ...`. */
function printPhase(p: Phase): void {
  process.stderr.write(`[${String(p.ms).padStart(5)} ms] ${p.phase}${p.detail ? ": " + p.detail : ""}\n`);
}

/** Runs argv with the terminal attached and returns its exit code (signals as 128+n, like a shell). */
function runAttached(argv: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: "inherit", env: {} });
    child.on("error", reject);
    child.on("close", (code, sig) => resolve(code ?? (sig ? 128 + 15 : 1)));
  });
}

async function main(argv: string[]): Promise<number> {
  const { given, rest } = parseGlobalFlags(argv);
  const cfg = loadConfig(given);
  const [cmd, ...args] = rest;
  switch (cmd) {
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(USAGE);
      return cmd === undefined ? 2 : 0;
    case "sandbox":
      return sandbox(cfg, args);
    case "gc": {
      const removed = await new SimDriver(cfg.dataDir, createLogger()).gc();
      process.stdout.write(removed.length ? `removed ${removed.join(", ")}\n` : "nothing to clean up\n");
      return 0;
    }
    case "serve": {
      const serveConfig = loadServeConfig(cfg, parseServeFlags(args));
      // The database password stays out of the environment every later child process inherits.
      delete process.env.DATABASE_URL;
      const { startServer } = await import("./web/serve.js");
      const server = await startServer(serveConfig);
      process.stdout.write(`faultline: serving on ${server.url}${serveConfig.publicUrl !== server.url ? ` (public URL ${serveConfig.publicUrl})` : ""}; Ctrl-C stops\n`);
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      // Sandboxes keep running: the next start adopts those whose attempts are still open.
      await server.close();
      return 0;
    }
    case "lab":
      return lab(cfg, args);
    default:
      usage(`unknown command "${cmd}"`);
  }
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    process.stderr.write(`faultline: ${formatError(e)}\n`);
    process.exitCode = e instanceof UsageError ? 2 : 1;
  },
);
