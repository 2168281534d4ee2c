/**
 * `faultline serve`: the store, the sim driver, the labs and the SandboxManager (with live grading: the
 * labs' objectives checked through the sim driver) wired into the HTTP app and listening. Used by
 * main.ts and by the integration tests (port 0, a temp data directory).
 *
 * @example
 * const server = await startServer({ ...config, port: 0 }, { print: () => {} });
 * await fetch(server.url + "/healthz");
 * await server.close();
 */
import { simCheckContext } from "../checks/sim-context.js";
import { FaultlineError } from "../errors.js";
import { createLogger, type Logger } from "../log.js";
import { loadAllLabs } from "../labs/registry.js";
import { shown } from "../labs/files.js";
import { SimDriver } from "../sandboxes/sim/driver.js";
import type { ServeConfig } from "../config.js";
import { describe, openStore, type Store } from "../store/index.js";
import { createApp, listen } from "./app.js";
import type { LoginLimits } from "./context.js";
import { LabCatalog } from "./labs.js";
import { attachRealtime, type Realtime, type RealtimeOptions } from "./realtime.js";
import { SandboxManager } from "./sandbox-manager.js";
import { setupLinkIfNeeded, setupMessage, type SetupLink } from "./setup.js";

export interface StartOptions {
  /** Console output for people (the setup link, the address). Default: stdout. */
  print?: (text: string) => void;
  log?: Logger;
  /** Default: a SimDriver in the data directory. */
  driver?: SimDriver;
  /** Terminal tuning and limits (tests, the benchmark). */
  realtime?: RealtimeOptions;
  loginLimits?: LoginLimits;
  /** For tests: how often idle sandboxes are looked for. */
  reapIntervalMs?: number;
}

export interface RunningServer {
  url: string;
  store: Store;
  manager: SandboxManager;
  labs: LabCatalog;
  /** socket.io: terminals and live attempt events. */
  realtime: Realtime;
  /** The first admin's one-time link, when there was no admin at start. */
  setup: SetupLink | null;
  /** Stops listening, the reaper and the store; sandboxes keep running and are adopted at the next start. */
  close(): Promise<void>;
}

export async function startServer(config: ServeConfig, opts: StartOptions = {}): Promise<RunningServer> {
  const print = opts.print ?? ((t: string) => void process.stdout.write(t));
  const log = opts.log ?? createLogger({ component: "serve" }, { json: config.logJson });
  const registry = await loadAllLabs({ labsRoot: config.labsDir });
  for (const bad of registry.invalid) {
    log.warn("lab.invalid", { lab: shown(bad.dir), problems: bad.errors.length, first: `${bad.errors[0]?.location}: ${bad.errors[0]?.message}` });
  }
  if (!registry.labs.length) log.warn("lab.none", { labsDir: config.labsDir });
  const labs = new LabCatalog(registry);

  const store = await openStore({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
  const cleanups: Array<() => Promise<void> | void> = [() => store.close()];
  try {
    const driver = opts.driver ?? new SimDriver(config.dataDir, log.child({ component: "sim" }));
    const manager = new SandboxManager(
      store,
      driver,
      (id) => labs.lab(id)?.dir,
      log.child({ component: "sandboxes" }),
      {
        maxSandboxes: config.maxSandboxes,
        maxSandboxesPerUser: config.maxSandboxesPerUser,
        idleTimeoutMs: config.idleTimeoutMs,
        ...(opts.reapIntervalMs ? { reapIntervalMs: opts.reapIntervalMs } : {}),
      },
      { lab: (id) => labs.lab(id), context: (sandbox, o) => simCheckContext(driver, sandbox, o) },
    );
    await manager.init();
    cleanups.unshift(() => manager.close());
    const web = createApp({ publicUrl: config.publicUrl, trustProxy: config.trustProxy, dataDir: config.dataDir }, { store, manager, labs, log, ...(opts.loginLimits ? { loginLimits: opts.loginLimits } : {}) });
    cleanups.unshift(() => web.dispose());
    const server = await listen(web.app, config.host, config.port).catch((e: unknown) => {
      const code = (e as { code?: string }).code;
      throw new FaultlineError(
        `cannot listen on ${config.host}:${config.port}: ${(e as Error).message}`,
        code === "EADDRINUSE" ? "another program uses that port: pick another with --port" : "check --host and --port",
      );
    });
    cleanups.unshift(() => server.close());
    const realtime = attachRealtime(
      server.server,
      { store, manager, driver, dataDir: config.dataDir, log: log.child({ component: "realtime" }), publicUrl: () => web.ctx.config.publicUrl },
      opts.realtime,
    );
    cleanups.unshift(() => realtime.close());
    // With port 0 the public URL is only known now (tests); a configured one is kept as is.
    const publicUrl = config.port === 0 ? server.url : config.publicUrl;
    web.ctx.config.publicUrl = publicUrl;
    const setup = await setupLinkIfNeeded(store, publicUrl);
    if (setup) print(setupMessage(setup, publicUrl));
    log.info("serve.listening", { url: server.url, publicUrl, database: describe(config), labs: registry.labs.length });
    return {
      url: server.url,
      store,
      manager,
      labs,
      realtime,
      setup,
      close: async () => {
        for (const c of cleanups) await c();
      },
    };
  } catch (e) {
    for (const c of cleanups) await Promise.resolve(c()).catch(() => {});
    throw e;
  }
}
