import { z } from "zod";
import { faultKinds, unknownKindMessage } from "./index.js";

type SpecOf<K> = K extends { example: infer S } ? S : never;

/** One entry of a lab's `faults:` list: the union of every registered kind's spec. */
export type FaultSpec = SpecOf<(typeof faultKinds)[number]>;

type Discriminable = z.core.$ZodTypeDiscriminable;

/**
 * Validates one fault spec: picks the kind's schema by `kind`, and for an unknown kind says which
 * kinds exist (with a did-you-mean) at path `kind`.
 */
export const faultSpecSchema: z.ZodType<FaultSpec> = z.discriminatedUnion(
  "kind",
  // Every kind's schema is a strict object with a literal `kind` (support.ts specObject), which is what
  // a discriminated union needs; the interface only promises ZodType, hence the cast.
  faultKinds.map((k) => k.schema) as unknown as [Discriminable, ...Discriminable[]],
  {
    error: (raw) => {
      // The map is typed for invalid_union only, but the union also reports a non-object input here.
      const iss = raw as { code: string; input?: unknown };
      if (iss.code === "invalid_type") return "a fault is a mapping with a `kind`, e.g. {kind: blackhole-route, node: worker-3, cidr: 10.233.64.0/25}";
      if (iss.code !== "invalid_union") return undefined;
      const input = iss.input as Record<string, unknown> | undefined;
      const { message, hint } = unknownKindMessage(input?.["kind"]);
      return `${message}; ${hint}`;
    },
  },
) as unknown as z.ZodType<FaultSpec>;
