/**
 * The one mapping between a generated protobuf enum and a domain string
 * union. Wire members are PREFIX_SCREAMING_SNAKE (NODE_STATE_DECOMMISSIONING,
 * ACTION_KIND_SAVE_AS_TEXT_FILE); domain names are their camelCase tails
 * ("decommissioning", "saveAsTextFile"), so the pairs follow from the names.
 */
import { InvalidArgumentError } from "../errors.js";

export interface EnumMapping<D extends string, W extends number> {
  toWire(name: D): W;
  /** The domain name; an unspecified or unknown value is the sender's mistake (INVALID_ARGUMENT). */
  fromWire(value: W): D;
  /** The domain name, or undefined for an unspecified or unknown value (for readers that tolerate them). */
  nameOf(value: number): D | undefined;
}

/**
 * `enumMapping(NodeState, "NODE_STATE_", RESOURCE_STATES)`. Throws at load
 * when a domain name has no wire member, so a proto and its domain cannot
 * drift apart silently.
 */
export function enumMapping<D extends string, W extends number>(
  wireEnum: Record<string, string | W>,
  prefix: string,
  names: readonly D[],
): EnumMapping<D, W> {
  const what = prefix.replace(/_$/, "").toLowerCase().replaceAll("_", " ");
  const toWire = new Map<D, W>();
  const fromWire = new Map<number, D>();
  for (const name of names) {
    const member = prefix + name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
    const value = wireEnum[member];
    if (typeof value !== "number") throw new Error(`${what} "${name}" has no wire member ${member}`);
    toWire.set(name, value);
    fromWire.set(value, name);
  }
  return {
    toWire: (name) => toWire.get(name)!,
    fromWire: (value) => {
      const name = fromWire.get(value);
      if (name === undefined) throw new InvalidArgumentError(`unknown ${what}: ${value}`);
      return name;
    },
    nameOf: (value) => fromWire.get(value),
  };
}
