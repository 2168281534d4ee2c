import v8 from "node:v8";

/**
 * Starts a sandbox program (the supervisor, the API server) with its command-line arguments, however
 * Node.js was started:
 *
 * - as a script, `node dist/sandbox/supervisor.cjs <args>`: main runs now, with argv[2..];
 * - while `npm run build` makes its startup snapshot, `node --build-snapshot dist/sandbox/supervisor.cjs`
 *   (scripts/bundle-sandbox.mjs): the module graph is evaluated and saved, main is only registered;
 * - from that snapshot, `node --snapshot-blob dist/sandbox/supervisor.blob <args>`: Node restores the
 *   evaluated modules instead of compiling and running them again, then calls main with argv[1..]
 *   (there is no script path in argv).
 *
 * So nothing a program does at module level may depend on the run: no handles (streams, listeners,
 * timers), no time, environment or randomness captured in a constant; all of that belongs in main.
 */
export function runSandboxProgram(main: (args: string[]) => void): void {
  const snapshot = v8.startupSnapshot;
  if (snapshot?.isBuildingSnapshot()) snapshot.setDeserializeMainFunction(() => main(process.argv.slice(1)));
  else main(process.argv.slice(2));
}
