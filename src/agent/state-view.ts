// The agent's /state (DESIGN §9), read off the node model: what an operator (and the tests) see of
// its frameworks, executor runs and tasks. A view only: it changes nothing.
import type { TaskState } from '../protocol/index.js';
import type { AgentStatus, NodeModel } from './node-model.js';

/** DESIGN §9: the agent's /state, plus how many damaged checkpoint items a non-strict recovery skipped. */
export interface AgentState {
  id: string | null;
  status: AgentStatus;
  recoveryErrors: number;
  frameworks: Array<{
    id: string;
    checkpoint: boolean;
    executors: Array<{
      id: string;
      containerId: string;
      pid: number | null;
      state: string;
      directory: string;
      tasks: Array<{ id: string; state: TaskState }>;
      /** The protocol agreed at its last SUBSCRIBE and the release it said it is (null: not subscribed since this agent started; release null: 0.1.0). */
      protocol: number | null;
      release: string | null;
    }>;
  }>;
}

export function agentState(model: NodeModel): AgentState {
  return {
    id: model.id ?? null,
    status: model.status,
    recoveryErrors: model.recoveryErrors,
    frameworks: [...model.frameworks()].map((framework) => ({
      id: framework.info.id,
      checkpoint: framework.info.checkpoint,
      executors: [...framework.executors.values()].map((run) => ({
        id: run.id,
        containerId: run.containerId,
        pid: run.pid ?? null,
        state: run.state,
        directory: run.sandbox,
        tasks: [...run.tasks.values()].map((entry) => ({ id: entry.info.taskId, state: entry.state })),
        protocol: run.protocol ?? null,
        release: run.release ?? (run.protocol === undefined ? null : '0.1.0'),
      })),
    })),
  };
}

/** What /state answers: 503 while recovering, else the state. */
export function stateResponse(model: NodeModel): { status: AgentStatus; body?: AgentState } {
  return model.status === 'RECOVERING' ? { status: model.status } : { status: model.status, body: agentState(model) };
}
