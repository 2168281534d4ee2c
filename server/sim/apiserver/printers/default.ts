import { AGE, NAME, age, col, type Printer } from "./printer.js";

/** Types with no printer of their own: the generic TableConvertor's Name and Created At. */
export const defaultPrinter: Printer = {
  columns: [NAME, col("Created At", "date", "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata")],
  cells: (o) => [o.metadata.name, o.metadata.creationTimestamp ?? null],
};

/** Custom resources without additionalPrinterColumns: NAME and AGE, as the CRD table convertor prints them. */
export const nameAgePrinter: Printer = {
  columns: [NAME, AGE],
  cells: (o, now) => [o.metadata.name, age(o.metadata.creationTimestamp, now)],
};
