/**
 * PyYAML-exact writing: the bytes `yaml.dump(..., Dumper=SafeDumper)` produces for the values MLflow stores, and
 * PyYAML's YAML 1.1 implicit resolvers. Plain TypeScript, no YAML library; reading PyYAML files is in yaml.ts.
 */

// MLflow writes its meta.yaml files with `yaml.dump(data, default_flow_style=False,
// allow_unicode=True, Dumper=SafeDumper)`; this reproduces that output byte for byte for the values MLflow stores
// (mappings with sorted keys, sequences, strings, integers, floats, booleans and null), including PyYAML's choice
// of plain / single-quoted / double-quoted style and its folding of long lines at 80 columns.

/** YAML text exactly as PyYAML's SafeDumper writes `value` (sorted keys, block style, unicode, width 80). */
export function toPyYaml(value: unknown): string {
  const e = new PyEmitter();
  e.node(value, 0, "root");
  if (!e.out.endsWith("\n")) e.lineBreak();
  return e.out;
}

const PY_BREAKS = "\n\x85\u2028\u2029";
const PY_WS = "\0 \t\r\n\x85\u2028\u2029";
const PY_BOOL = /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/;
/** PyYAML's float resolver pattern (YAML 1.1, a dot required). */
export const PY_FLOAT =
  /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;
const PY_INT =
  /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/;
const PY_NULL = /^(?:~|null|Null|NULL|)$/;
const PY_TIMESTAMP =
  /^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$/;
const PY_ESCAPES: Record<string, string> = {
  "\0": "0",
  "\x07": "a",
  "\x08": "b",
  "\x09": "t",
  "\x0A": "n",
  "\x0B": "v",
  "\x0C": "f",
  "\x0D": "r",
  "\x1B": "e",
  '"': '"',
  "\\": "\\",
  "\x85": "N",
  "\xA0": "_",
  "\u2028": "L",
  "\u2029": "P",
};

/** Would a plain scalar with this text resolve to something other than a string under YAML 1.1 (PyYAML)? */
export function pyResolvesImplicitly(s: string): boolean {
  // Python's `re.match(...$)` also matches before one trailing newline.
  const t = s.endsWith("\n") ? s.slice(0, -1) : s;
  return PY_BOOL.test(t) || PY_FLOAT.test(t) || PY_INT.test(t) || PY_NULL.test(s) || PY_TIMESTAMP.test(t) ||
    t === "<<" || t === "=";
}

function pyPrintable(ch: string): boolean {
  const c = ch.codePointAt(0)!;
  return ch === "\n" || (c >= 0x20 && c <= 0x7e) || c === 0x85 || (c >= 0xa0 && c <= 0xd7ff) ||
    (c >= 0xe000 && c <= 0xfffd && c !== 0xfeff) || (c >= 0x10000 && c < 0x10ffff);
}

function pyAnalyze(chars: string[]): { plain: boolean; single: boolean } {
  if (chars.length === 0) return { plain: false, single: true };
  const text = chars.join("");
  let blockInd = false, lineBreaks = false, special = false;
  let leadingSpace = false, leadingBreak = false, trailingSpace = false, trailingBreak = false;
  let breakSpace = false, spaceBreak = false;
  if (text.startsWith("---") || text.startsWith("...")) blockInd = true;
  let preceded = true;
  let followed = chars.length === 1 || PY_WS.includes(chars[1]);
  let prevSpace = false, prevBreak = false;
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i];
    if (i === 0) {
      if ("#,[]{}&*!|>'\"%@`".includes(ch)) blockInd = true;
      if ("?:".includes(ch) && followed) blockInd = true;
      if (ch === "-" && followed) blockInd = true;
    } else {
      if (ch === ":" && followed) blockInd = true;
      if (ch === "#" && preceded) blockInd = true;
    }
    if (PY_BREAKS.includes(ch)) lineBreaks = true;
    if (!pyPrintable(ch)) special = true;
    if (ch === " ") {
      if (i === 0) leadingSpace = true;
      if (i === chars.length - 1) trailingSpace = true;
      if (prevBreak) breakSpace = true;
      prevSpace = true;
      prevBreak = false;
    } else if (PY_BREAKS.includes(ch)) {
      if (i === 0) leadingBreak = true;
      if (i === chars.length - 1) trailingBreak = true;
      if (prevSpace) spaceBreak = true;
      prevSpace = false;
      prevBreak = true;
    } else {
      prevSpace = prevBreak = false;
    }
    preceded = PY_WS.includes(ch);
    followed = i + 2 >= chars.length || PY_WS.includes(chars[i + 2]);
  }
  let plain = true, single = true;
  if (leadingSpace || leadingBreak || trailingSpace || trailingBreak) plain = false;
  if (breakSpace) plain = single = false;
  if (spaceBreak || special) plain = single = false;
  if (lineBreaks || blockInd) plain = false;
  return { plain, single };
}

class PyEmitter {
  out = "";
  column = 0;
  indent = 0;
  whitespace = true;
  indention = true;

  write(s: string, width = [...s].length): void {
    this.out += s;
    this.column += width;
  }
  lineBreak(): void {
    this.out += "\n";
    this.column = 0;
    this.whitespace = this.indention = true;
  }
  writeIndent(): void {
    if (!this.indention || this.column > this.indent || (this.column === this.indent && !this.whitespace)) {
      this.lineBreak();
    }
    if (this.column < this.indent) {
      this.whitespace = true;
      this.write(" ".repeat(this.indent - this.column));
    }
  }
  indicator(s: string, needWhitespace: boolean, whitespace = false, indention = false): void {
    this.write(this.whitespace || !needWhitespace ? s : " " + s);
    this.whitespace = whitespace;
    this.indention = this.indention && indention;
  }

  /** Emits a node whose block indentation (for mapping keys / sequence dashes) is `indent`. */
  node(value: unknown, indent: number, context: "root" | "mapValue" | "seqItem"): void {
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      if (entries.length === 0) return this.scalarRaw("{}", indent);
      const first = context === "seqItem";
      for (const [i, [k, v]] of entries.entries()) {
        this.indent = indent;
        if (!(first && i === 0)) this.writeIndent();
        this.scalar(k, indent + 2);
        this.indicator(":", false);
        this.node(v, indent + 2, "mapValue");
      }
      return;
    }
    if (Array.isArray(value)) {
      if (value.length === 0) return this.scalarRaw("[]", indent);
      // PyYAML does not indent a block sequence that is a mapping value.
      const seqIndent = context === "mapValue" ? indent - 2 : indent;
      for (const item of value) {
        this.indent = seqIndent;
        this.writeIndent();
        this.indicator("-", true, false, true);
        this.node(item, seqIndent + 2, "seqItem");
      }
      return;
    }
    this.scalar(value, indent);
  }

  scalarRaw(text: string, indent: number): void {
    this.indent = indent;
    if (!this.whitespace) this.write(" ");
    this.write(text);
    this.whitespace = this.indention = false;
  }

  scalar(value: unknown, indent: number): void {
    if (value === null) return this.scalarRaw("null", indent);
    if (typeof value === "boolean") return this.scalarRaw(value ? "true" : "false", indent);
    if (typeof value === "bigint") return this.scalarRaw(String(value), indent);
    if (typeof value === "number") {
      return this.scalarRaw(
        Number.isInteger(value) && !Object.is(value, -0) ? String(value) : pyFloatYaml(value),
        indent,
      );
    }
    const text = String(value);
    const chars = [...text];
    const a = pyAnalyze(chars);
    this.indent = indent;
    if (a.plain && !pyResolvesImplicitly(text)) this.plain(chars);
    else if (a.single) this.singleQuoted(chars);
    else this.doubleQuoted(chars);
  }

  plain(chars: string[]): void {
    if (!this.whitespace) this.write(" ");
    this.whitespace = this.indention = false;
    let spaces = false;
    let start = 0;
    for (let end = 0; end <= chars.length; end++) {
      const ch = end < chars.length ? chars[end] : null;
      if (spaces) {
        if (ch !== " ") {
          if (start + 1 === end && this.column > 80) {
            this.writeIndent();
            this.whitespace = this.indention = false;
          } else this.write(chars.slice(start, end).join(""), end - start);
          start = end;
        }
      } else if (ch === null || ch === " ") {
        this.write(chars.slice(start, end).join(""), end - start);
        start = end;
      }
      if (ch !== null) spaces = ch === " ";
    }
  }

  singleQuoted(chars: string[]): void {
    this.indicator("'", true);
    let spaces = false, breaks = false;
    let start = 0;
    for (let end = 0; end <= chars.length; end++) {
      const ch = end < chars.length ? chars[end] : null;
      if (spaces) {
        if (ch === null || ch !== " ") {
          if (start + 1 === end && this.column > 80 && start !== 0 && end !== chars.length) {
            this.writeIndent();
          } else this.write(chars.slice(start, end).join(""), end - start);
          start = end;
        }
      } else if (breaks) {
        if (ch === null || !PY_BREAKS.includes(ch)) {
          if (chars[start] === "\n") this.lineBreak();
          for (const br of chars.slice(start, end)) {
            if (br === "\n") this.lineBreak();
            else {
              this.out += br;
              this.column = 0;
              this.whitespace = this.indention = true;
            }
          }
          this.writeIndent();
          start = end;
        }
      } else if (ch === null || ch === " " || PY_BREAKS.includes(ch) || ch === "'") {
        if (start < end) {
          this.write(chars.slice(start, end).join(""), end - start);
          start = end;
        }
      }
      if (ch === "'") {
        this.write("''");
        start = end + 1;
      }
      if (ch !== null) {
        spaces = ch === " ";
        breaks = PY_BREAKS.includes(ch);
      }
    }
    this.indicator("'", false);
  }

  doubleQuoted(chars: string[]): void {
    this.indicator('"', true);
    let start = 0;
    for (let end = 0; end <= chars.length; end++) {
      const ch = end < chars.length ? chars[end] : null;
      const c = ch === null ? 0 : ch.codePointAt(0)!;
      const plainChar = ch !== null && !'"\\\x85\u2028\u2029\uFEFF'.includes(ch) &&
        ((c >= 0x20 && c <= 0x7e) || (c >= 0xa0 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd));
      if (!plainChar) {
        if (start < end) {
          this.write(chars.slice(start, end).join(""), end - start);
          start = end;
        }
        if (ch !== null) {
          const esc = PY_ESCAPES[ch];
          const hex = (n: number, w: number) => n.toString(16).toUpperCase().padStart(w, "0");
          this.write(
            esc !== undefined
              ? "\\" + esc
              : c <= 0xff
              ? "\\x" + hex(c, 2)
              : c <= 0xffff
              ? "\\u" + hex(c, 4)
              : "\\U" + hex(c, 8),
          );
          start = end + 1;
        }
      }
      if (
        end > 0 && end < chars.length - 1 && (ch === " " || start >= end) && this.column + (end - start) > 80
      ) {
        this.write(chars.slice(start, end).join("") + "\\", end - start + 1);
        if (start < end) start = end;
        this.writeIndent();
        this.whitespace = this.indention = false;
        if (chars[start] === " ") this.write("\\");
      }
    }
    this.indicator('"', false);
  }
}

/** Python's `repr(float)` as PyYAML writes it (`.nan`, `.inf`, `1.0e+16` style exponents). */
function pyFloatYaml(v: number): string {
  if (Number.isNaN(v)) return ".nan";
  if (v === Infinity) return ".inf";
  if (v === -Infinity) return "-.inf";
  const r = pyFloatRepr(v);
  // PyYAML's represent_float adds ".0" to exponent forms without a dot ("1e+16" -> "1.0e+16").
  return r.includes(".") || !r.includes("e") ? r : r.replace("e", ".0e");
}

/** Python's `repr(float)` / `str(float)`: shortest round-trip digits, fixed for 1e-4 <= |v| < 1e16. */
export function pyFloatRepr(v: number): string {
  if (Number.isNaN(v)) return "nan";
  if (v === Infinity) return "inf";
  if (v === -Infinity) return "-inf";
  if (v === 0) return Object.is(v, -0) ? "-0.0" : "0.0";
  const [mant, expStr] = v.toExponential().split("e");
  const exp = Number(expStr);
  const neg = mant.startsWith("-");
  const digits = mant.replace("-", "").replace(".", "");
  const sign = neg ? "-" : "";
  if (exp >= -4 && exp < 16) {
    if (exp < 0) return sign + "0." + "0".repeat(-exp - 1) + digits;
    const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, "0");
    const frac = digits.slice(exp + 1);
    return sign + intPart + "." + (frac || "0");
  }
  const m = digits.length > 1 ? digits[0] + "." + digits.slice(1) : digits;
  return `${sign}${m}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
}
