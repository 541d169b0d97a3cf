/**
 * The answer form of an interrupt, read from its `responseSchema` (PROTOCOL.md §3.1): a simple
 * JSON Schema becomes fields — `string`, `number`, `integer`, `boolean`, an `enum`, or an
 * `object` of those — and anything else (or no schema) a JSON text area. The form only helps a
 * person type a well-formed answer: the server checks the payload against the full schema and
 * says what is wrong (`400 VALIDATION_FAILED`), so nothing here is a JSON Schema validator.
 * Pure functions, no DOM: `interrupts-panel.ts` draws the form.
 */

export type FieldKind = "string" | "number" | "integer" | "boolean" | "enum";

export interface FormField {
  /** The property name (`""` when the schema is one value, not an object). */
  name: string;
  label: string;
  kind: FieldKind;
  required: boolean;
  description?: string;
  /** An `enum`'s values, as the schema lists them. */
  options?: unknown[];
  /** `string` bounds, passed on to the input (the browser's own constraint checks). */
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  /** `number` / `integer` bounds. */
  minimum?: number;
  maximum?: number;
  default?: unknown;
}

export type AnswerForm =
  /** Fields: the payload is an object of them (`object: true`) or the one field's value. */
  | { kind: "fields"; object: boolean; fields: FormField[] }
  /** A JSON text area: any payload (none when left empty and the schema allows it). */
  | { kind: "json"; example: string };

type Schema = Record<string, unknown>;

const isObject = (v: unknown): v is Schema => !!v && typeof v === "object" && !Array.isArray(v);

/** A schema of one simple value as a field, or undefined when it is not that simple. */
function fieldOf(name: string, schema: unknown, required: boolean): FormField | undefined {
  if (!isObject(schema)) return undefined;
  const base = {
    name,
    label: typeof schema.title === "string" ? schema.title : name,
    required,
    ...(typeof schema.description === "string" ? { description: schema.description } : {}),
    ...(schema.default === undefined ? {} : { default: schema.default }),
  };
  if (Array.isArray(schema.enum) && schema.enum.length > 0) {
    const simple = schema.enum.every((v) => v === null || typeof v !== "object");
    return simple ? { ...base, kind: "enum", options: [...schema.enum] } : undefined;
  }
  const num = (key: string) =>
    typeof schema[key] === "number" ? (schema[key] as number) : undefined;
  const bounds = <K extends string>(keys: K[]) =>
    Object.fromEntries(keys.flatMap((k) => (num(k) === undefined ? [] : [[k, num(k)]]))) as Partial<
      Record<K, number>
    >;
  switch (schema.type) {
    case "string":
      return {
        ...base,
        kind: "string",
        ...bounds(["minLength", "maxLength"]),
        ...(typeof schema.pattern === "string" ? { pattern: schema.pattern } : {}),
      };
    case "number":
    case "integer":
      return { ...base, kind: schema.type, ...bounds(["minimum", "maximum"]) };
    case "boolean":
      return { ...base, kind: "boolean" };
    default:
      return undefined;
  }
}

/** The form for a `responseSchema`. */
export function answerFormOf(schema: unknown): AnswerForm {
  const json = { kind: "json" as const, example: exampleOf(schema) };
  if (!isObject(schema)) return json;
  const props = schema.properties;
  if (schema.type === "object" && isObject(props)) {
    const required = new Set(
      Array.isArray(schema.required) ? schema.required.filter((r) => typeof r === "string") : [],
    );
    const entries = Object.entries(props);
    const fields = entries.map(([name, prop]) => fieldOf(name, prop, required.has(name)));
    // Every property must be drawable, and a required one must be a property.
    if (entries.length === 0 || fields.some((f) => !f)) return json;
    if ([...required].some((r) => !Object.hasOwn(props, r))) return json;
    return { kind: "fields", object: true, fields: fields as FormField[] };
  }
  const one = fieldOf("", schema, true);
  return one
    ? { kind: "fields", object: false, fields: [{ ...one, label: one.label || "answer" }] }
    : json;
}

/** What a text area starts with: `{}` for an object schema, else empty. */
function exampleOf(schema: unknown): string {
  return isObject(schema) && schema.type === "object" ? "{}" : "";
}

/** What a person entered: text for text, number and enum inputs (the option's index), checked for boolean. */
export type FieldValue = string | boolean;

export type PayloadResult =
  | { ok: true; payload: unknown }
  | { ok: false; errors: { field: string; message: string }[] };

/**
 * The payload of a filled form. A convenience check only (a missing required field, a number
 * that is not one, JSON that does not parse): the server validates against the schema.
 */
export function payloadOf(form: AnswerForm, values: Record<string, FieldValue>): PayloadResult {
  if (form.kind === "json") {
    const text = String(values[""] ?? "").trim();
    if (text === "") return { ok: true, payload: undefined };
    try {
      return { ok: true, payload: JSON.parse(text) as unknown };
    } catch (error) {
      return {
        ok: false,
        errors: [{ field: "", message: `not JSON: ${(error as Error).message}` }],
      };
    }
  }
  const errors: { field: string; message: string }[] = [];
  const out: Record<string, unknown> = {};
  for (const f of form.fields) {
    const raw = values[f.name];
    const value = fieldValue(f, raw);
    if (value.error) errors.push({ field: f.name, message: value.error });
    else if (value.value !== undefined) out[f.name] = value.value;
    else if (f.required) errors.push({ field: f.name, message: "required" });
  }
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, payload: form.object ? out : out[form.fields[0]!.name] };
}

function fieldValue(
  f: FormField,
  raw: FieldValue | undefined,
): { value?: unknown; error?: string } {
  if (f.kind === "boolean") return { value: raw === true };
  const text = typeof raw === "string" ? raw : "";
  if (f.kind === "enum") {
    if (text === "") return {};
    const i = Number(text);
    return Number.isInteger(i) && f.options && i >= 0 && i < f.options.length
      ? { value: f.options[i] }
      : { error: "pick one of the options" };
  }
  // An empty box is no answer (a required one is reported missing below).
  if (f.kind === "string") return text === "" ? {} : { value: text };
  if (text.trim() === "") return {};
  const n = Number(text);
  if (!Number.isFinite(n)) return { error: "must be a number" };
  if (f.kind === "integer" && !Number.isInteger(n)) return { error: "must be a whole number" };
  return { value: n };
}
