/**
 * The three Reflect metadata functions @peculiar/x509's dependency tsyringe calls at import
 * (`getMetadata`, `getOwnMetadata`, `defineMetadata`, for class-level keys), so the hub needs no
 * polyfill package. Import this module before @peculiar/x509.
 */
type MetadataReflect = typeof Reflect & {
  getMetadata?: (key: unknown, target: object) => unknown;
  getOwnMetadata?: (key: unknown, target: object) => unknown;
  defineMetadata?: (key: unknown, value: unknown, target: object) => void;
};

const R = Reflect as MetadataReflect;
if (typeof R.getMetadata !== "function") {
  const store = new WeakMap<object, Map<unknown, unknown>>();
  const own = (key: unknown, target: object) => store.get(target)?.get(key);
  R.getOwnMetadata = own;
  R.getMetadata = (key, target) => {
    for (let t: object | null = target; t; t = Object.getPrototypeOf(t)) {
      const v = own(key, t);
      if (v !== undefined) return v;
    }
    return undefined;
  };
  R.defineMetadata = (key, value, target) => {
    const m = store.get(target) ?? new Map<unknown, unknown>();
    m.set(key, value);
    store.set(target, m);
  };
}

export {};
