/**
 * Uniform structs by field name: a TypeScript declaration of a WGSL `struct` (fields in order, WGSL types), its
 * offsets and size by WGSL's alignment rules, and a packer from named values to bytes. Launchers pack through it
 * instead of by position; src/kernels/structs_test.ts checks every declaration against the `struct` in the .wgsl
 * source. Not a WGSL parser for run time, and only the types uniform params use.
 */

/** The WGSL types a uniform field may have here. */
export type WgslType =
  | "u32"
  | "i32"
  | "f32"
  | "vec2<f32>"
  | "vec4<f32>"
  | "vec4<u32>"
  | `array<vec4<f32>, ${number}>`;

/** A struct's fields, in declaration order: name → WGSL type. */
export type StructFields = Record<string, WgslType>;

/** One field's place in the packed bytes. */
export interface FieldLayout {
  name: string;
  type: WgslType;
  offset: number;
  size: number;
}

/** A struct declared for packing: WGSL name, fields with offsets, size (SizeOf, a multiple of its alignment). */
export interface StructLayout<F extends StructFields = StructFields> {
  name: string;
  fields: FieldLayout[];
  size: number;
  /** Phantom: the declared fields, so packStruct can type its values. */
  readonly declared?: F;
}

/** The value a field takes: a number for a scalar, numbers (shorter is zero-filled) for a vector or array. */
export type FieldValue<T extends WgslType> = T extends "u32" | "i32" | "f32" ? number : ArrayLike<number>;

/** The values packStruct needs: every field except padding (names starting with `_`, always zero). */
export type StructValues<F extends StructFields> = {
  [K in keyof F as K extends `_${string}` ? never : K]: FieldValue<F[K]>;
};

const SCALARS = { u32: 4, i32: 4, f32: 4 } as const;

/** AlignOf and SizeOf of a type in the uniform address space. */
export function typeLayout(type: string): { align: number; size: number } {
  if (type in SCALARS) return { align: 4, size: 4 };
  const vec = /^vec([234])<(u32|i32|f32)>$/.exec(type);
  if (vec) {
    const n = Number(vec[1]);
    return { align: n === 2 ? 8 : 16, size: 4 * n };
  }
  const arr = /^array<(.+),\s*(\d+)>$/.exec(type);
  if (arr) {
    const el = typeLayout(arr[1].trim());
    const stride = Math.ceil(el.size / el.align) * el.align;
    if (stride % 16 !== 0) {
      throw new Error(
        `Cannot lay out ${type}: a uniform array's element stride ${stride} is not a multiple of 16`,
      );
    }
    return { align: Math.max(16, el.align), size: stride * Number(arr[2]) };
  }
  throw new Error(`Cannot lay out WGSL type ${type}: only scalars, vectors and arrays of vec4 are supported`);
}

/** Lays out `fields` (in order) by WGSL's rules: each at the next multiple of its alignment. */
export function defineStruct<const F extends StructFields>(name: string, fields: F): StructLayout<F> {
  const out: FieldLayout[] = [];
  let offset = 0;
  let align = 1;
  for (const [field, type] of Object.entries(fields)) {
    const t = typeLayout(type);
    offset = Math.ceil(offset / t.align) * t.align;
    out.push({ name: field, type, offset, size: t.size });
    offset += t.size;
    align = Math.max(align, t.align);
  }
  return { name, fields: out, size: Math.ceil(offset / align) * align };
}

/**
 * The bytes of `layout` holding `values` (padding zero): u32/i32 as Uint32Array/Int32Array store them, f32 rounded
 * as Float32Array does. Pass the result to `batch.uniform`.
 */
export function packStruct<F extends StructFields>(
  layout: StructLayout<F>,
  values: StructValues<F>,
): Uint8Array {
  const buf = new ArrayBuffer(layout.size);
  const given = values as Record<string, number | ArrayLike<number>>;
  for (const f of layout.fields) {
    const v = given[f.name];
    if (v === undefined) {
      if (f.name.startsWith("_")) continue;
      throw new Error(`Cannot pack ${layout.name}: field ${f.name} has no value`);
    }
    const count = f.size / 4;
    const scalar = f.type.endsWith("u32>") || f.type === "u32"
      ? new Uint32Array(buf, f.offset, count)
      : f.type === "i32"
      ? new Int32Array(buf, f.offset, count)
      : new Float32Array(buf, f.offset, count);
    if (typeof v === "number") scalar[0] = v;
    else if (v.length > count) {
      throw new Error(`Cannot pack ${layout.name}: field ${f.name} holds ${count} numbers, got ${v.length}`);
    } else scalar.set(v);
  }
  return new Uint8Array(buf);
}
