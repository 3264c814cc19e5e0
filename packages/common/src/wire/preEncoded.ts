/**
 * Messages that carry bulk bytes (shuffle chunks), encoded by hand around their bytes so that only
 * grpc-js copies them into its frame. The generated encoders copy a bytes field into their writer,
 * again into one array and once more into a Buffer: three copies and allocations per 1 MiB chunk,
 * whose external memory drove most of a shuffle service's garbage collections. A method's
 * serializer passes a PreEncoded message through as it is and encodes any other as generated.
 * Protobuf decoders accept fields in any order, so a message may put its bytes field first.
 */
export class PreEncoded {
  constructor(readonly bytes: Buffer) {}
}

/** A serializer for grpc-js: PreEncoded messages as they are, others by `serialize`. */
export function passingPreEncoded<T>(serialize: (value: T) => Buffer): (value: T | PreEncoded) => Buffer {
  return (value) => (value instanceof PreEncoded ? value.bytes : serialize(value));
}

/** The tag byte of a field (numbers 1 to 15): varint or length-delimited. */
export const varintTag = (field: number): number => (field << 3) | 0;
export const bytesTag = (field: number): number => (field << 3) | 2;

/** Appends the base-128 varint of a non-negative safe integer to `out`. */
export function pushVarint(out: number[], value: number): void {
  let rest = value;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
}

/** Appends a varint field, left out at its default (0), as proto3 encoders do. */
export function pushVarintField(out: number[], field: number, value: number): void {
  if (value === 0) return;
  out.push(varintTag(field));
  pushVarint(out, value);
}

/** Appends a length-delimited field's tag and length (its bytes follow). */
export function pushBytesHeader(out: number[], field: number, length: number): void {
  out.push(bytesTag(field));
  pushVarint(out, length);
}
