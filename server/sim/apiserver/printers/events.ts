import { NAME, age, col, get, num, text, type Printer } from "./printer.js";

function source(o: unknown): string {
  const component = text(get(o, "source", "component")) || text(get(o, "reportingComponent"));
  const host = text(get(o, "source", "host")) || text(get(o, "reportingInstance"));
  if (!component) return "<none>";
  return host ? `${component}, ${host}` : component;
}

/** printEvent: times from lastTimestamp/firstTimestamp, falling back to eventTime and series. */
export const eventPrinter: Printer = {
  columns: [
    col("Last Seen", "string", "The last time the event was seen"),
    col("Type", "string", "The type of the event"),
    col("Reason", "string", "The reason for the event"),
    col("Object", "string", "The object associated with the event"),
    col("Subobject", "string", "The subobject associated with the event", 1),
    col("Source", "string", "The source of the event", 1),
    col("Message", "string", "A human-readable description of the event"),
    col("First Seen", "string", "The first time the event was seen", 1),
    col("Count", "string", "The number of times the event has occurred", 1),
    { ...NAME, priority: 1 },
  ],
  cells(o, now) {
    let first = age(get(o, "firstTimestamp"), now);
    if (!text(get(o, "firstTimestamp"))) first = age(get(o, "eventTime"), now);
    let last = text(get(o, "lastTimestamp")) ? age(get(o, "lastTimestamp"), now) : first;
    let count = num(get(o, "count"));
    if (get(o, "series")) {
      last = age(get(o, "series", "lastObservedTime"), now);
      count = num(get(o, "series", "count"));
    } else if (count === 0) count = 1;
    const kind = text(get(o, "involvedObject", "kind")).toLowerCase();
    const name = text(get(o, "involvedObject", "name"));
    return [
      last,
      text(get(o, "type")),
      text(get(o, "reason")),
      name ? `${kind}/${name}` : kind,
      text(get(o, "involvedObject", "fieldPath")),
      source(o),
      text(get(o, "message")).trim(),
      first,
      count,
      o.metadata.name,
    ];
  },
};
