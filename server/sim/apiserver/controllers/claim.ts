/**
 * ControllerRefManager (pkg/controller/controller_ref_manager.go): which of the candidate objects a
 * controller owns. An object whose controller reference names the owner stays owned while the
 * selector matches it and is released (the reference removed) when it stops matching; an orphan that
 * matches is adopted (a controller reference added); objects of another controller are left alone.
 */
import type { KObject, ObjectMeta } from "../objects.js";
import type { Store } from "../store.js";
import { controllerOf, controllerRef } from "./util.js";

/**
 * The candidates `owner` owns after adopting and releasing. `type` is the candidates' type for the
 * writes (`pods`, `replicasets.apps`); `matches` is the owner's selector; `adoptable` can refuse an
 * orphan (a pod being deleted is never adopted).
 */
export function claim(store: Store, type: string, owner: KObject, candidates: KObject[], matches: (o: KObject) => boolean, adoptable: (o: KObject) => boolean = (o) => !o.metadata.deletionTimestamp): KObject[] {
  const owned: KObject[] = [];
  const uid = owner.metadata.uid;
  for (const o of candidates) {
    const ref = controllerOf(o);
    if (ref) {
      if (ref.uid !== uid) continue;
      if (matches(o)) {
        owned.push(o);
        continue;
      }
      const refs = (o.metadata.ownerReferences ?? []).filter((r) => r.uid !== uid);
      const meta: ObjectMeta = { ...o.metadata, ownerReferences: refs };
      if (refs.length === 0) delete meta.ownerReferences;
      store.update(type, { ...o, metadata: meta });
      continue;
    }
    if (!matches(o) || !adoptable(o) || owner.metadata.deletionTimestamp) continue;
    const adopted = store.update(type, { ...o, metadata: { ...o.metadata, ownerReferences: [...(o.metadata.ownerReferences ?? []), controllerRef(owner)] } });
    owned.push(adopted);
  }
  return owned;
}
