/**
 * The in-memory object store: what etcd plus the generic registry are to kube-apiserver. One global
 * resourceVersion counter (like etcd's revision), uid and creationTimestamp on create, generation on spec
 * change, optimistic concurrency on update, namespaced objects removed with their namespace, and a
 * bounded event history so watches can resume from a resourceVersion.
 *
 * Objects inside are never mutated; every write stores a fresh object, and everything handed out is a
 * copy, so callers (HTTP handlers, controllers, grading) cannot corrupt state by accident.
 */
import { randomUUID } from "node:crypto";
import { clone, objectKey, timestamp, type KObject } from "./objects.js";
import { groupVersion, mustResourceType, TypeRegistry, typeKey, type ResourceType } from "./resources.js";
import { matchFields, matchLabels, type FieldSelector, type LabelSelector } from "./selectors.js";
import { alreadyExists, badRequest, conflict, expired, invalid, notFound, type FieldError } from "./status.js";
import { prepareForCreate, type StrategyContext } from "./strategies.js";
import type { Logger } from "../../log.js";
import { installCrdController, isCrd, prepareCustomResource, validateCrd } from "./crd.js";
import { validateObject } from "./validation.js";

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED";

/** One change, as the store records it (the watch layer turns it into a wire event). */
export interface StoreEvent {
  type: WatchEventType;
  resource: ResourceType;
  object: KObject;
  /** The object before a MODIFIED, so selector-filtered watches can tell "stopped matching". */
  previous?: KObject;
  resourceVersion: number;
  /** On a DELETED: what the deleting client asked for its dependents (the garbage collector acts on it). */
  propagationPolicy?: PropagationPolicy;
}

/** DeleteOptions.propagationPolicy: what happens to the objects the deleted one owns. */
export type PropagationPolicy = "Orphan" | "Background" | "Foreground";

/** A type given by its entry or by any name kubectl would accept (`pods`, `po`, `deployments.apps`). */
export type TypeRef = ResourceType | string;

export interface ListOptions {
  /** Restrict to one namespace; undefined lists across namespaces (`-A`). */
  namespace?: string;
  labelSelector?: LabelSelector;
  fieldSelector?: FieldSelector;
  /** Page size; with `continue`, the chunking kubectl uses (`limit=500`). */
  limit?: number;
  continue?: string;
}

export interface ListResult {
  items: KObject[];
  resourceVersion: string;
  continue?: string;
  remainingItemCount?: number;
}

export interface WriteOptions {
  /** Keep the caller's status (and skip create defaults): for the seed and controllers, not for clients. */
  keepStatus?: boolean;
  /** Validate and return the result without storing it (`?dryRun=All`). */
  dryRun?: boolean;
}

export interface UpdateOptions extends WriteOptions {
  /** Update only `.status` (PUT .../status). */
  subresource?: "status";
}

export interface DeletePreconditions {
  uid?: string | null;
  resourceVersion?: string | null;
}

export interface StoreDeleteOptions {
  preconditions?: DeletePreconditions;
  dryRun?: boolean;
  /** Recorded on the DELETED event; unset means the default, Background. */
  propagationPolicy?: PropagationPolicy;
}

export interface WatchOptions {
  namespace?: string;
  labelSelector?: LabelSelector;
  fieldSelector?: FieldSelector;
  /**
   * Resume after this resourceVersion. Undefined or "0": first an ADDED for every current object, then
   * live changes (what the real server does for an unset or zero resourceVersion).
   */
  resourceVersion?: string;
}

export interface StoreOptions {
  /** Events kept for resuming watches; older resourceVersions get 410 Expired. */
  historyLimit?: number;
  /** The service CIDR ClusterIPs are allocated from (`plan.serviceCidr`). */
  serviceCidr?: string;
  now?: () => Date;
  /** Where the CRD controller reports problems; silent without. */
  log?: Logger;
}


function specOf(o: KObject): string {
  // everything but the server-owned envelope: a change here is a spec change for `generation`
  const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = o;
  return JSON.stringify(rest);
}

/**
 * Validation on every write: metadata for all, the CRD rules for CRDs, and for custom resources the
 * pruning, defaulting and schema validation of their version (which changes `obj` in place).
 */
function checkObject(t: ResourceType, obj: KObject): FieldError[] {
  const custom = prepareCustomResource(t, obj);
  return [...validateObject(t, obj), ...(isCrd(t) ? validateCrd(obj) : []), ...custom];
}

const GENERATE_CHARS = "bcdfghjklmnpqrstvwxz2456789";

/** The 5-character suffix `generateName` gets, from the same alphabet as apimachinery's rand.String. */
function randomSuffix(n = 5): string {
  let s = "";
  for (let i = 0; i < n; i++) s += GENERATE_CHARS[Math.floor(Math.random() * GENERATE_CHARS.length)];
  return s;
}

/**
 * @example
 * const store = new Store({ serviceCidr: "10.233.0.0/18" });
 * store.create("namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: "x" } });
 * store.get("ns", undefined, "x").metadata.resourceVersion // "1"
 */
export class Store {
  /** The types this store (and its API server) serves: built-ins plus registered CRDs. */
  readonly types = new TypeRegistry();
  private rv = 0;
  private readonly objects = new Map<string, Map<string, KObject>>();
  private readonly history: StoreEvent[] = [];
  /** The highest resourceVersion dropped from history: watches must start at or after it. */
  private compactedRv = 0;
  private readonly listeners = new Set<(e: StoreEvent) => void>();
  private readonly historyLimit: number;
  private readonly now: () => Date;
  private readonly strategyContext: StrategyContext;

  constructor(opts: StoreOptions = {}) {
    this.historyLimit = opts.historyLimit ?? 1000;
    this.now = opts.now ?? (() => new Date());
    this.strategyContext = { allocateClusterIP: () => (opts.serviceCidr ? this.freeClusterIP(opts.serviceCidr) : undefined) };
    // CRDs are part of what the store is: creating one serves its type, deleting one removes its objects
    installCrdController(this, opts.log, this.now);
  }

  /** The current global resourceVersion (what a list returns in metadata.resourceVersion). */
  resourceVersion(): string {
    return String(this.rv);
  }

  private bucket(t: ResourceType): Map<string, KObject> {
    // keyed by plural.group, so every served version of a CRD shares one bucket, as they share etcd keys
    const key = typeKey(t);
    let b = this.objects.get(key);
    if (!b) {
      b = new Map();
      this.objects.set(key, b);
    }
    return b;
  }

  private resolve(t: TypeRef): ResourceType {
    if (typeof t !== "string") return t;
    const found = this.types.resolve(t);
    return found ?? mustResourceType(t);
  }

  /**
   * A copy of a stored object as `t` presents it. Versions of a CRD convert with strategy None: only
   * apiVersion changes, as the real apiserver does when a client reads v1beta1 of a v1beta2 object.
   */
  private out(t: ResourceType, o: KObject): KObject {
    const c = clone(o);
    if (t.custom) c.apiVersion = groupVersion(t);
    return c;
  }

  /**
   * Removes every object of `<plural>.<group>` (each with a DELETED event), as deleting a CRD does to its
   * custom resources. Returns how many were removed.
   */
  dropAll(t: ResourceType): number {
    const b = this.bucket(t);
    const entries = [...b.entries()];
    for (const [k, o] of entries) this.remove(t, k, o);
    return entries.length;
  }
  /** The object, or undefined. `namespace` is ignored for cluster-scoped types. */
  tryGet(type: TypeRef, namespace: string | undefined, name: string): KObject | undefined {
    const t = this.resolve(type);
    const o = this.bucket(t).get(objectKey(t.namespaced ? namespace : undefined, name));
    return o ? this.out(t, o) : undefined;
  }

  /** The object, or 404 NotFound with the real message. */
  get(type: TypeRef, namespace: string | undefined, name: string): KObject {
    const t = this.resolve(type);
    const o = this.tryGet(t, namespace, name);
    if (!o) throw notFound(t, name);
    return o;
  }

  /** Matching objects ordered by namespace then name (etcd key order), with `limit`/`continue` paging. */
  list(type: TypeRef, opts: ListOptions = {}): ListResult {
    const t = this.resolve(type);
    let keys = [...this.bucket(t).keys()].sort();
    let start = 0;
    if (opts.continue) {
      const after = decodeContinue(opts.continue);
      start = keys.findIndex((k) => k > after);
      if (start < 0) start = keys.length;
    }
    keys = keys.slice(start);
    const items: KObject[] = [];
    let i = 0;
    for (; i < keys.length; i++) {
      const o = this.bucket(t).get(keys[i]!)!;
      if (!this.matches(t, o, opts)) continue;
      if (opts.limit && opts.limit > 0 && items.length >= opts.limit) break;
      items.push(this.out(t, o));
    }
    const result: ListResult = { items, resourceVersion: this.resourceVersion() };
    if (i < keys.length) {
      const rest = keys.slice(i).filter((k) => this.matches(t, this.bucket(t).get(k)!, opts)).length;
      if (rest > 0) {
        result.continue = encodeContinue(keys[i - 1] ?? "", this.rv);
        result.remainingItemCount = rest;
      }
    }
    return result;
  }

  private matches(t: ResourceType, o: KObject, opts: { namespace?: string; labelSelector?: LabelSelector; fieldSelector?: FieldSelector }): boolean {
    if (t.namespaced && opts.namespace !== undefined && o.metadata.namespace !== opts.namespace) return false;
    if (opts.labelSelector && !matchLabels(opts.labelSelector, o.metadata.labels)) return false;
    if (opts.fieldSelector && !matchFields(opts.fieldSelector, t, o)) return false;
    return true;
  }

  /**
   * Creates `input` (copied): name from generateName, uid, creationTimestamp, resourceVersion, generation,
   * the type's create strategy unless `keepStatus`. 404 if its namespace does not exist, 409 AlreadyExists,
   * 422 Invalid for a bad name.
   */
  create(type: TypeRef, input: KObject, opts: WriteOptions = {}): KObject {
    const t = this.resolve(type);
    const obj = clone(input);
    obj.apiVersion = groupVersion(t);
    obj.kind = t.kind;
    const meta = (obj.metadata = { ...(obj.metadata ?? {}) });
    if (!t.namespaced) delete meta.namespace;
    if (!meta.name && meta.generateName) {
      // retry on the (unlikely) collision as the real registry does, rather than fail the create
      for (let i = 0; i < 8 && (!meta.name || this.bucket(t).has(objectKey(meta.namespace, meta.name))); i++) meta.name = meta.generateName + randomSuffix();
    }
    const errs = checkObject(t, obj);
    if (errs.length) throw invalid(t, meta.name ?? "", errs);
    const name = meta.name!;
    if (t.namespaced && !this.bucket(mustResourceType("namespaces")).has(meta.namespace!)) {
      throw notFound(mustResourceType("namespaces"), meta.namespace!);
    }
    const key = objectKey(t.namespaced ? meta.namespace : undefined, name);
    if (this.bucket(t).has(key)) throw alreadyExists(t, name);
    if (!opts.keepStatus) prepareForCreate(t, obj, this.strategyContext);
    for (const k of ["deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"]) delete meta[k];
    meta.uid = randomUUID();
    meta.creationTimestamp = typeof input.metadata?.creationTimestamp === "string" && opts.keepStatus ? input.metadata.creationTimestamp : timestamp(this.now());
    if (t.generation) meta.generation = 1;
    else delete meta.generation;
    if (meta.labels === null) delete meta.labels;
    if (meta.annotations === null) delete meta.annotations;
    if (opts.dryRun) {
      meta.resourceVersion = "";
      return clone(obj);
    }
    meta.resourceVersion = String(++this.rv);
    this.bucket(t).set(key, obj);
    this.emit({ type: "ADDED", resource: t, object: obj, resourceVersion: this.rv });
    return this.out(t, obj);
  }

  /**
   * Replaces an object. A non-empty metadata.resourceVersion must equal the stored one (409 Conflict);
   * an empty one is an unconditional update, which every built-in type allows. On a missing object:
   * create for types that allow create-on-update, else 404.
   */
  update(type: TypeRef, input: KObject, opts: UpdateOptions = {}): KObject {
    const t = this.resolve(type);
    const name = input.metadata?.name ?? "";
    const ns = t.namespaced ? input.metadata?.namespace : undefined;
    const key = objectKey(ns, name);
    const old = this.bucket(t).get(key);
    if (!old) {
      if (t.createOnUpdate && !opts.subresource) {
        const fresh = clone(input);
        delete fresh.metadata.resourceVersion;
        return this.create(t, fresh, opts);
      }
      throw notFound(t, name);
    }
    const sentRv = input.metadata?.resourceVersion;
    if (sentRv && sentRv !== old.metadata.resourceVersion) throw conflict(t, name);
    if (input.metadata?.uid && input.metadata.uid !== old.metadata.uid) {
      throw conflict(t, name, `Precondition failed: UID in precondition: ${old.metadata.uid}, UID in object meta: ${input.metadata.uid}`);
    }

    let obj: KObject;
    if (opts.subresource === "status") {
      // only .status changes through /status; the rest is the stored object
      obj = { ...clone(old), status: clone(input.status) };
      if (obj.status === undefined) delete obj.status;
    } else {
      obj = clone(input);
      obj.metadata = { ...obj.metadata };
      // types with a status subresource ignore status on the main resource, as their strategies do
      if (t.subresources.includes("status") && !opts.keepStatus) {
        if (old.status === undefined) delete obj.status;
        else obj.status = clone(old.status);
      }
    }
    obj.apiVersion = groupVersion(t);
    obj.kind = t.kind;
    const meta = obj.metadata;
    // server-owned metadata survives whatever the client sent
    meta.name = old.metadata.name;
    if (t.namespaced) meta.namespace = old.metadata.namespace;
    else delete meta.namespace;
    meta.uid = old.metadata.uid;
    meta.creationTimestamp = old.metadata.creationTimestamp;
    if (old.metadata.deletionTimestamp) meta.deletionTimestamp = old.metadata.deletionTimestamp;
    else delete meta.deletionTimestamp;
    if (meta.labels === null) delete meta.labels;
    if (meta.annotations === null) delete meta.annotations;
    if (t.generation) meta.generation = (old.metadata.generation ?? 1) + (specOf(obj) !== specOf(old) ? 1 : 0);
    else delete meta.generation;
    if (t.kind === "Namespace" && opts.subresource !== "status") {
      meta.labels = { ...(meta.labels ?? {}), "kubernetes.io/metadata.name": meta.name! };
    }
    const errs = checkObject(t, obj);
    if (errs.length) throw invalid(t, name, errs);

    meta.resourceVersion = old.metadata.resourceVersion;
    // a no-op update is not a write: same resourceVersion, no event (as the real registry does)
    if (JSON.stringify(obj) === JSON.stringify(old)) return this.out(t, old);
    if (opts.dryRun) return clone(obj);
    if (meta.deletionTimestamp && !meta.finalizers?.length) {
      // the last finalizer is gone from an object being deleted: now it is deleted
      this.remove(t, key, { ...obj, metadata: { ...meta, resourceVersion: old.metadata.resourceVersion } });
      return this.out(t, obj);
    }
    meta.resourceVersion = String(++this.rv);
    this.bucket(t).set(key, obj);
    this.emit({ type: "MODIFIED", resource: t, object: obj, previous: old, resourceVersion: this.rv });
    return this.out(t, obj);
  }

  /**
   * Deletes an object and returns it as it was. A namespace takes every namespaced object in it along.
   * Preconditions that do not hold give 409 Conflict with the real "Precondition failed" texts.
   */
  delete(type: TypeRef, namespace: string | undefined, name: string, opts: StoreDeleteOptions = {}): KObject {
    const t = this.resolve(type);
    const key = objectKey(t.namespaced ? namespace : undefined, name);
    const old = this.bucket(t).get(key);
    if (!old) throw notFound(t, name);
    const pre = opts.preconditions;
    if (pre?.uid && pre.uid !== old.metadata.uid) {
      throw conflict(t, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${old.metadata.uid}`);
    }
    if (pre?.resourceVersion && pre.resourceVersion !== old.metadata.resourceVersion) {
      throw conflict(t, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${old.metadata.resourceVersion}`);
    }
    if (opts.dryRun) return this.out(t, old);
    // Finalizers (basic): the object stays, marked for deletion, until the last finalizer is removed by
    // an update; `kubectl delete` then waits for it, as it does on a real cluster.
    if (old.metadata.finalizers?.length) {
      if (old.metadata.deletionTimestamp) return this.out(t, old);
      const marked: KObject = clone(old);
      marked.metadata.deletionTimestamp = timestamp(this.now());
      marked.metadata.deletionGracePeriodSeconds = 0;
      marked.metadata.resourceVersion = String(++this.rv);
      this.bucket(t).set(key, marked);
      this.emit({ type: "MODIFIED", resource: t, object: marked, previous: old, resourceVersion: this.rv });
      return this.out(t, marked);
    }
    if (t.kind === "Namespace") {
      const seen = new Set<string>();
      for (const other of this.types.all()) {
        // versions of one CRD share a bucket: empty it once
        if (!other.namespaced || seen.has(typeKey(other))) continue;
        seen.add(typeKey(other));
        for (const [k, o] of [...this.bucket(other).entries()]) {
          if (o.metadata.namespace === name) this.remove(other, k, o);
        }
      }
    }
    this.remove(t, key, old, opts.propagationPolicy);
    return this.out(t, old);
  }

  private remove(t: ResourceType, key: string, old: KObject, propagationPolicy?: PropagationPolicy): void {
    this.bucket(t).delete(key);
    // a DELETED event carries the last state with the deletion's resourceVersion, as the watch cache sends it
    const gone: KObject = { ...old, metadata: { ...old.metadata, resourceVersion: String(++this.rv) } };
    this.emit({ type: "DELETED", resource: t, object: gone, previous: old, resourceVersion: this.rv, ...(propagationPolicy ? { propagationPolicy } : {}) });
  }

  private emit(e: StoreEvent): void {
    this.history.push(e);
    if (this.history.length > this.historyLimit) {
      const dropped = this.history.splice(0, this.history.length - this.historyLimit);
      this.compactedRv = dropped[dropped.length - 1]!.resourceVersion;
    }
    for (const l of [...this.listeners]) {
      try {
        l(e);
      } catch {
        // a broken listener must not break the write that triggered it
      }
    }
  }

  /** Every change to every type, synchronously after it is stored (for in-process controllers). */
  subscribe(listener: (e: StoreEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Watches one type. Delivers (synchronously, in order) the replay the resourceVersion asks for, then live
   * changes, each already filtered: an object that stops matching the selectors arrives as DELETED, one
   * that starts matching as ADDED, as the real watch cache does. 410 Expired if the history is gone.
   */
  watch(type: TypeRef, opts: WatchOptions, onEvent: (type: WatchEventType, object: KObject, resourceVersion: number) => void): () => void {
    const t = this.resolve(type);
    const sel = { namespace: opts.namespace, labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector };
    const key = typeKey(t);
    const deliver = (e: StoreEvent): void => {
      if (typeKey(e.resource) !== key) return;
      const now = this.matches(t, e.object, sel);
      if (e.type === "MODIFIED" && e.previous) {
        const before = this.matches(t, e.previous, sel);
        if (before && now) onEvent("MODIFIED", this.out(t, e.object), e.resourceVersion);
        else if (before && !now) onEvent("DELETED", this.out(t, e.object), e.resourceVersion);
        else if (!before && now) onEvent("ADDED", this.out(t, e.object), e.resourceVersion);
        return;
      }
      if (e.type === "DELETED") {
        if (this.matches(t, e.previous ?? e.object, sel)) onEvent("DELETED", this.out(t, e.object), e.resourceVersion);
        return;
      }
      if (now) onEvent(e.type, this.out(t, e.object), e.resourceVersion);
    };

    const rvText = opts.resourceVersion ?? "";
    if (rvText === "" || rvText === "0") {
      for (const o of this.list(t, sel).items) onEvent("ADDED", o, Number(o.metadata.resourceVersion));
    } else {
      if (!/^\d+$/.test(rvText)) throw badRequest(`resourceVersion: Invalid value: "${rvText}": strconv.ParseUint: parsing "${rvText}": invalid syntax`);
      const from = Number(rvText);
      if (from < this.compactedRv) throw expired(from, this.compactedRv + 1);
      for (const e of this.history) if (e.resourceVersion > from) deliver(e);
    }
    this.listeners.add(deliver);
    return () => this.listeners.delete(deliver);
  }

  /** The first free address of the service CIDR (skipping the network address and .1, kubernetes' own). */
  private freeClusterIP(cidr: string): string | undefined {
    const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr);
    if (!m) return undefined;
    const base = ((Number(m[1]) * 256 + Number(m[2])) * 256 + Number(m[3])) * 256 + Number(m[4]);
    const size = 2 ** (32 - Number(m[5]));
    const used = new Set<string>();
    for (const s of this.bucket(mustResourceType("services")).values()) {
      const ip = (s.spec as { clusterIP?: unknown } | undefined)?.clusterIP;
      if (typeof ip === "string") used.add(ip);
    }
    const fmt = (n: number) => [24, 16, 8, 0].map((sh) => Math.floor(n / 2 ** sh) % 256).join(".");
    // the real allocator picks at random from the upper part of the range; start past the low
    // addresses labs hand out statically (kubernetes .1, coredns .3) so they never collide
    for (let i = 10; i < size - 1; i++) {
      const ip = fmt(base + i);
      if (!used.has(ip)) return ip;
    }
    return undefined;
  }
}

function encodeContinue(lastKey: string, rv: number): string {
  return Buffer.from(JSON.stringify({ v: "meta.k8s.io/v1", rv, start: lastKey })).toString("base64url");
}

function decodeContinue(token: string): string {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    if (parsed && typeof parsed === "object" && typeof (parsed as { start?: unknown }).start === "string") return (parsed as { start: string }).start;
  } catch {
    // fall through to the error below
  }
  throw badRequest("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)");
}
