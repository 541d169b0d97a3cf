import type { AbstractAgent } from "@ag-ui/client";
import { ThreadlineError } from "./errors.js";

/** An agent, or a factory for one per run. Agents are cloned per run: they hold run state. */
export type AgentSource = AbstractAgent | (() => AbstractAgent);

/** What a client may learn of an agent (CopilotKit's `/info`). */
export interface AgentDescription {
  name: string;
  className: string;
  description: string;
}

/** The server's agents by id: who may run, and a fresh instance for each run. */
export class AgentDirectory {
  constructor(private readonly sources: Readonly<Record<string, AgentSource>>) {}

  ids(): string[] {
    return Object.keys(this.sources);
  }

  has(agentId: string): boolean {
    return Object.hasOwn(this.sources, agentId);
  }

  /** The configured agent (not a per-run instance), undefined for a factory or an unknown id. */
  configured(agentId: string): AbstractAgent | undefined {
    const source = this.has(agentId) ? this.sources[agentId] : undefined;
    return typeof source === "function" ? undefined : source;
  }

  /** A fresh instance for one run; AGENT_NOT_FOUND for an unknown id. */
  instance(agentId: string): AbstractAgent {
    const source = this.has(agentId) ? this.sources[agentId] : undefined;
    if (!source) throw new ThreadlineError("AGENT_NOT_FOUND", `unknown agent '${agentId}'`);
    return typeof source === "function" ? source() : source.clone();
  }

  describe(agentId: string): AgentDescription {
    const agent = this.configured(agentId);
    return {
      name: agentId,
      className: agent?.constructor.name ?? "Agent",
      description: agent?.description ?? "",
    };
  }
}
