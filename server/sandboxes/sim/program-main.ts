import { readFileSync } from "node:fs";
import v8 from "node:v8";
import { z } from "zod";
import { clusterSchema } from "../../labs/schema.js";
import { faultSpecSchema } from "../../sim/faults/schema.js";

/**
 * Starts a sandbox program (the supervisor, the API server) with its command-line arguments, however
 * Node.js was started:
 *
 * - as a script, `node dist/sandbox/supervisor.cjs <args>`: main runs now, with argv[2..];
 * - while `npm run build` makes its startup snapshot, `node --build-snapshot dist/sandbox/supervisor.cjs`
 *   (scripts/bundle-sandbox.mjs): the module graph is evaluated, the program is warmed up, main is
 *   only registered, and V8's heap is saved;
 * - from that snapshot, `node --snapshot-blob dist/sandbox/supervisor.blob <args>`: Node restores the
 *   evaluated modules instead of compiling and running them again, then calls main with argv[1..]
 *   (there is no script path in argv).
 *
 * So nothing a program does at module level may depend on the run: no handles (streams, listeners,
 * timers), no time, environment or randomness captured in a constant; all of that belongs in main.
 *
 * The warm-up: V8 keeps in the snapshot the bytecode of every function that ran while it was built, so
 * a program that runs its own start-up once on a sample sandbox (the flagship lab, WARMUP_ENV) compiles
 * nothing of it again in each sandbox: the first YAML parse, seeding and planning run 2 to 3 times
 * faster. The warm-up must leave nothing behind but compiled code: its files go to the sample's own
 * folder, it closes what it opens, and module-level caches it fills must be harmless to share.
 */
export function runSandboxProgram(main: (args: string[]) => void, warmUp?: (sample: WarmupSample) => Promise<void>): void {
  const snapshot = v8.startupSnapshot;
  if (!snapshot?.isBuildingSnapshot()) {
    main(process.argv.slice(2));
    return;
  }
  snapshot.setDeserializeMainFunction(() => main(process.argv.slice(1)));
  const file = process.env[WARMUP_ENV];
  if (!warmUp || !file) return;
  void warmUp(warmupSampleSchema.parse(JSON.parse(readFileSync(file, "utf8")))).catch((e: unknown) => {
    // A warm-up that fails is start-up code that fails on the flagship lab: the build must not pass.
    process.stderr.write(`warming up for the startup snapshot failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  });
}

/** The variable naming the sample's JSON file, set by scripts/bundle-sandbox.mjs while it builds snapshots. */
export const WARMUP_ENV = "FAULTLINE_SNAPSHOT_WARMUP";

/**
 * A sample sandbox to warm up on, prepared by scripts/bundle-sandbox.mjs from the flagship lab: its
 * cluster, a copy of its workspace with the inventory faults injected, and a folder for what the
 * warm-ups write (the supervisor's plan.json and vars.json are the API server's input).
 */
export const warmupSampleSchema = z.object({
  name: z.string(),
  kubespray: z.string(),
  cluster: clusterSchema,
  inventoryDir: z.string(),
  faults: z.array(faultSpecSchema),
  dir: z.string(),
});
export type WarmupSample = z.infer<typeof warmupSampleSchema>;
