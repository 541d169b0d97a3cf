/**
 * Finds the line of a key path (`["schedules", 0, "cron"]`) in a config file's source, so a
 * config error can say where to look. A light scan of the exported object literal (strings,
 * comments and brackets are skipped properly), not a parser: keys that come from variables,
 * spreads or computed names are not found, and the caller then names the nearest enclosing key
 * it found, or only the file.
 */
export function lineOfPath(source: string, path: readonly (string | number)[]): number | undefined {
  const start = exportStart(source);
  if (start === undefined) return undefined;
  const scan = new Scanner(source, start);
  return scan.find(path);
}

/** Where the exported value starts: `export default ...` or `export const config = ...`. */
function exportStart(source: string): number | undefined {
  const m = /export\s+default\s+|export\s+(?:const|let|var)\s+config\s*(?::[^=]+)?=\s*/.exec(
    stripComments(source),
  );
  return m ? m.index + m[0].length : undefined;
}

/** Comments replaced by spaces (offsets and line numbers unchanged). */
function stripComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, (c) => c.replace(/[^\n]/g, " "));
}

class Scanner {
  private pos: number;
  constructor(
    private readonly src: string,
    start: number,
  ) {
    this.pos = start;
  }

  private line(at: number): number {
    let n = 1;
    for (let i = 0; i < at; i++) if (this.src.charCodeAt(i) === 10) n++;
    return n;
  }

  /** The line of the deepest element of `path` found (undefined if not even the first). */
  find(path: readonly (string | number)[]): number | undefined {
    let found: number | undefined;
    for (const key of path) {
      this.enterValue();
      const ch = this.src[this.pos];
      const at =
        typeof key === "number" && ch === "["
          ? this.element(key)
          : ch === "{" && typeof key === "string"
            ? this.property(key)
            : undefined;
      if (at === undefined) return found;
      found = this.line(at);
    }
    return found;
  }

  /** Steps into `defineConfig(...)`-style wrappers and `(...)` to the value they hold. */
  private enterValue(): void {
    for (;;) {
      this.skipSpace();
      const rest = this.src.slice(this.pos);
      const call = /^[A-Za-z_$][\w$.]*\s*(?:<[^>]*>)?\s*\(/.exec(rest);
      if (call) {
        this.pos += call[0].length;
        continue;
      }
      if (rest.startsWith("(")) {
        this.pos++;
        continue;
      }
      return;
    }
  }

  /** Inside `{`: moves to the value of `key` and returns the key's offset. */
  private property(key: string): number | undefined {
    this.pos++; // {
    for (;;) {
      this.skipSpace();
      const ch = this.src[this.pos];
      if (ch === undefined || ch === "}") return undefined;
      if (ch === ",") {
        this.pos++;
        continue;
      }
      const keyAt = this.pos;
      const name = this.readKey();
      this.skipSpace();
      if (name !== undefined && this.src[this.pos] === ":") {
        this.pos++;
        if (name === key) return keyAt;
        this.skipExpression();
      } else if (name === key) {
        return keyAt; // shorthand `key,` or a method `key() {}`
      } else {
        this.skipExpression();
      }
    }
  }

  /** Inside `[`: moves to element `index` (0-based) and returns its offset. */
  private element(index: number): number | undefined {
    this.pos++; // [
    for (let i = 0; ; i++) {
      this.skipSpace();
      const ch = this.src[this.pos];
      if (ch === undefined || ch === "]") return undefined;
      if (i === index) return this.pos;
      this.skipExpression();
      if (this.src[this.pos] === ",") this.pos++;
    }
  }

  private readKey(): string | undefined {
    const ch = this.src[this.pos];
    if (ch === '"' || ch === "'") {
      const from = this.pos;
      this.skipString();
      try {
        return JSON.parse(`"${this.src.slice(from + 1, this.pos - 1).replace(/"/g, '\\"')}"`);
      } catch {
        return undefined;
      }
    }
    const m = /^[A-Za-z_$][\w$]*/.exec(this.src.slice(this.pos));
    if (!m) return undefined;
    this.pos += m[0].length;
    return m[0];
  }

  /** Skips one expression: up to the next `,` or closing bracket at this depth. */
  private skipExpression(): void {
    let depth = 0;
    while (this.pos < this.src.length) {
      const ch = this.src[this.pos] as string;
      if (ch === '"' || ch === "'" || ch === "`") {
        this.skipString();
        continue;
      }
      if (ch === "/" && (this.src[this.pos + 1] === "/" || this.src[this.pos + 1] === "*")) {
        this.skipSpace();
        continue;
      }
      if (ch === "{" || ch === "[" || ch === "(") depth++;
      else if (ch === "}" || ch === "]" || ch === ")") {
        if (depth === 0) return;
        depth--;
      } else if (ch === "," && depth === 0) return;
      this.pos++;
    }
  }

  private skipString(): void {
    const quote = this.src[this.pos];
    this.pos++;
    while (this.pos < this.src.length) {
      const ch = this.src[this.pos];
      if (ch === "\\") this.pos += 2;
      else if (ch === quote) {
        this.pos++;
        return;
      } else if (quote === "`" && ch === "$" && this.src[this.pos + 1] === "{") {
        this.pos += 2;
        this.skipExpression();
        this.pos++; // }
      } else this.pos++;
    }
  }

  private skipSpace(): void {
    for (;;) {
      const rest = this.src.slice(this.pos, this.pos + 2);
      if (/^\s/.test(rest)) this.pos++;
      else if (rest === "//") {
        const end = this.src.indexOf("\n", this.pos);
        this.pos = end < 0 ? this.src.length : end + 1;
      } else if (rest === "/*") {
        const end = this.src.indexOf("*/", this.pos + 2);
        this.pos = end < 0 ? this.src.length : end + 2;
      } else return;
    }
  }
}
