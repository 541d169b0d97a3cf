import type { BaseEvent } from "@ag-ui/core";
import { describe, expect, it } from "vitest";
import { DEMO_INTERRUPT } from "../../src/demo/demo-agent.js";
import { Conversation } from "../../src/inspector/conversation.js";
import { answerFormOf, payloadOf } from "../../src/inspector/interrupt-form.js";

const E = (e: Record<string, unknown>) => e as unknown as BaseEvent;

describe("interrupt answer form from responseSchema", () => {
  it("an object of simple properties becomes fields, in order, with their constraints", () => {
    const form = answerFormOf({
      type: "object",
      properties: {
        approved: { type: "boolean", title: "Approve?" },
        note: { type: "string", maxLength: 200, description: "why" },
        amount: { type: "number", minimum: 0 },
        count: { type: "integer", maximum: 5, default: 2 },
        tier: { enum: ["gold", "silver", 3] },
      },
      required: ["approved", "tier"],
    });
    expect(form).toEqual({
      kind: "fields",
      object: true,
      fields: [
        { name: "approved", label: "Approve?", kind: "boolean", required: true },
        {
          name: "note",
          label: "note",
          kind: "string",
          required: false,
          description: "why",
          maxLength: 200,
        },
        { name: "amount", label: "amount", kind: "number", required: false, minimum: 0 },
        { name: "count", label: "count", kind: "integer", required: false, maximum: 5, default: 2 },
        {
          name: "tier",
          label: "tier",
          kind: "enum",
          required: true,
          options: ["gold", "silver", 3],
        },
      ],
    });
  });

  it("a schema of one simple value is one field whose value is the payload", () => {
    const form = answerFormOf({ type: "integer", minimum: 1 });
    expect(form).toMatchObject({ kind: "fields", object: false, fields: [{ kind: "integer" }] });
    expect(payloadOf(form, { "": "3" })).toEqual({ ok: true, payload: 3 });
  });

  it("anything else falls back to a JSON text area", () => {
    const json = (schema: unknown) => answerFormOf(schema).kind;
    expect(json(undefined)).toBe("json");
    expect(json({ type: "array", items: { type: "string" } })).toBe("json");
    expect(json({ type: "object", properties: { nested: { type: "object" } } })).toBe("json");
    expect(json({ type: "object", properties: { a: { type: "string" } }, required: ["b"] })).toBe(
      "json",
    );
    expect(json({ type: "object" })).toBe("json");
    expect(json({ oneOf: [{ type: "string" }, { type: "number" }] })).toBe("json");
    expect(json({ enum: [{ a: 1 }] })).toBe("json");
    expect(answerFormOf({ type: "object", additionalProperties: true })).toEqual({
      kind: "json",
      example: "{}",
    });
  });

  it("reads the filled form into a payload, converting numbers and enum choices", () => {
    const form = answerFormOf({
      type: "object",
      properties: {
        approved: { type: "boolean" },
        note: { type: "string" },
        amount: { type: "number" },
        tier: { enum: ["gold", 3] },
      },
      required: ["approved"],
    });
    expect(payloadOf(form, { approved: true, note: "", amount: "2.5", tier: "1" })).toEqual({
      ok: true,
      payload: { approved: true, amount: 2.5, tier: 3 },
    });
    expect(payloadOf(form, { approved: false, note: "ok", amount: "", tier: "" })).toEqual({
      ok: true,
      payload: { approved: false, note: "ok" },
    });
  });

  it("reports what a person left out or mistyped (the server still checks the schema)", () => {
    const form = answerFormOf({
      type: "object",
      properties: { who: { type: "string" }, n: { type: "integer" }, tier: { enum: ["a"] } },
      required: ["who", "tier"],
    });
    expect(payloadOf(form, { who: "", n: "1.5", tier: "7" })).toEqual({
      ok: false,
      errors: [
        { field: "who", message: "required" },
        { field: "n", message: "must be a whole number" },
        { field: "tier", message: "pick one of the options" },
      ],
    });
    const json = answerFormOf(undefined);
    expect(payloadOf(json, { "": "" })).toEqual({ ok: true, payload: undefined });
    expect(payloadOf(json, { "": ' {"a": [1]} ' })).toEqual({ ok: true, payload: { a: [1] } });
    const bad = payloadOf(json, { "": "{nope" });
    expect(bad.ok).toBe(false);
  });

  it("the demo agent's approval is one required checkbox", () => {
    expect(answerFormOf(DEMO_INTERRUPT.responseSchema)).toEqual({
      kind: "fields",
      object: true,
      fields: [{ name: "approved", label: "approved", kind: "boolean", required: true }],
    });
  });
});

describe("the inspector's fold of pending interrupts", () => {
  const interrupt = { id: "approve-r1", reason: "confirmation", message: "Go on?" };
  it("a compact snapshot's run end shows them; a resume run's RUN_STARTED answers them", () => {
    const c = new Conversation();
    c.apply(E({ type: "RUN_STARTED", threadId: "t", runId: "threadline-snapshot" }), {
      seq: 4,
      kind: "snapshot",
    });
    c.apply(
      E({
        type: "RUN_FINISHED",
        threadId: "t",
        runId: "threadline-snapshot",
        outcome: { type: "interrupt", interrupts: [interrupt] },
      }),
      { seq: 4, kind: "snapshot" },
    );
    expect(c.interrupts).toEqual([interrupt]);
    expect(c.takeChanges().interrupts).toBe(true);
    expect(c.takeChanges().interrupts).toBe(false);

    c.apply(
      E({
        type: "RUN_STARTED",
        threadId: "t",
        runId: "r2",
        input: { resume: [{ interruptId: "approve-r1", status: "resolved", payload: {} }] },
      }),
      { seq: 5, kind: "event" },
    );
    expect(c.interrupts).toEqual([]);
    expect(c.takeChanges().interrupts).toBe(true);
    c.apply(E({ type: "RUN_FINISHED", threadId: "t", runId: "r2" }), { seq: 9, kind: "event" });
    expect(c.takeChanges().interrupts).toBe(false);
  });
});
