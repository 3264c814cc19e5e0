import { Event as WireEvent } from "@ballast/gen/events";
import { eventFromWire, eventToWire } from "@ballast/common/wire/events";
import type { EventCodec } from "../store/store.js";

/** Keeps events.proto bytes in the log, so the stored payload is exactly what the wire carries. */
export const wireEventCodec: EventCodec = {
  encode: (event) => WireEvent.encode(eventToWire(event)).finish(),
  decode: (bytes) => {
    const wire = WireEvent.decode(bytes);
    if (!wire.payload) throw new Error(`stored event seq ${wire.seq} has no payload`);
    return eventFromWire(wire);
  },
};
